package console

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func get(t *testing.T, h http.Handler, method, path string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	mux := http.NewServeMux()
	mux.Handle(Prefix, h)
	mux.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	return rec
}

// TestHandler_ServesTheEmbeddedFilesUnderACSP: the page, its modules and its sheet come from the binary, each with
// the policy that allows only the console's own files and origin.
func TestHandler_ServesTheEmbeddedFilesUnderACSP(t *testing.T) {
	h := Handler()
	for path, want := range map[string]string{
		"/ui/":              "text/html",
		"/ui/console.css":   "text/css",
		"/ui/js/main.js":    "text/javascript",
		"/ui/js/mirrors.js": "text/javascript",
	} {
		rec := get(t, h, "GET", path)
		if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), want) {
			t.Errorf("GET %s: %d %q, want 200 %s", path, rec.Code, rec.Header().Get("Content-Type"), want)
		}
		csp := rec.Header().Get("Content-Security-Policy")
		if !strings.Contains(csp, "default-src 'self'") || strings.Contains(csp, "unsafe") {
			t.Errorf("GET %s: Content-Security-Policy %q", path, csp)
		}
		if rec.Header().Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: no nosniff", path)
		}
	}
	if rec := get(t, h, "GET", "/ui"); rec.Code/100 != 3 || rec.Header().Get("Location") != "/ui/" {
		t.Errorf("GET /ui: %d to %q, want a redirect to /ui/", rec.Code, rec.Header().Get("Location"))
	}
	if rec := get(t, h, "POST", "/ui/"); rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST /ui/: %d, want 405", rec.Code)
	}
	if rec := get(t, h, "GET", "/ui/js/"); rec.Code != http.StatusNotFound {
		t.Errorf("GET /ui/js/: %d, want 404 (no directory listing)", rec.Code)
	}
	if rec := get(t, h, "GET", "/ui/nothing.js"); rec.Code != http.StatusNotFound {
		t.Errorf("GET /ui/nothing.js: %d, want 404", rec.Code)
	}
}

// TestAssets_NeedNoUnsafeCSP: no inline script, no inline style, no on* attribute in the markup, and nothing builds
// markup from strings (innerHTML), so the policy can stay strict and nothing the daemon answers becomes markup.
func TestAssets_NeedNoUnsafeCSP(t *testing.T) {
	inlineScript := regexp.MustCompile(`<script(?:\s[^>]*)?>\s*[^<\s]`)
	inlineHandler := regexp.MustCompile(`(?i)<[^>]+\son[a-z]+\s*=`)
	err := fs.WalkDir(assets, "assets", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		f, err := assets.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		b, err := io.ReadAll(f)
		if err != nil {
			return err
		}
		s := string(b)
		switch {
		case strings.HasSuffix(path, ".html"):
			if inlineScript.MatchString(s) || strings.Contains(s, "<style") || strings.Contains(s, " style=") || inlineHandler.MatchString(s) {
				t.Errorf("%s: inline script, style or event handler", path)
			}
		case strings.HasSuffix(path, ".js"):
			for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", "setAttribute(\"style\"", "localStorage"} {
				if strings.Contains(s, bad) {
					t.Errorf("%s uses %s", path, bad)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
