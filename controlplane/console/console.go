package console

import (
	"embed"
	"io/fs"
	"net/http"
	"strings"
)

// Prefix is where the console is served on the admin listener.
const Prefix = "/ui/"

//go:embed assets
var assets embed.FS

// contentSecurityPolicy lets the console load only its own files and talk only to its own origin: no inline script
// or style, no framing, no form posted elsewhere. The charts are SVG built with the DOM, which the policy allows.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"

// Handler serves the console's files under Prefix (mounted as a subtree, http.ServeMux redirects the bare "/ui"
// there). It checks no credentials: the daemon puts its auth rule in front of everything it serves, the console
// included.
func Handler() http.Handler {
	sub, err := fs.Sub(assets, "assets")
	if err != nil {
		panic(err) // the embedded tree is part of the binary: a missing directory is a build mistake
	}
	files := http.StripPrefix(Prefix, http.FileServerFS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "the console's files are read with GET", http.StatusMethodNotAllowed)
			return
		}
		if strings.HasSuffix(r.URL.Path, "/") && r.URL.Path != Prefix {
			http.NotFound(w, r) // no directory listings: the console's files are its page's to name
			return
		}
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		// The files change with the binary; a browser asks again rather than run a console older than its daemon.
		h.Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	})
}
