package adminapi

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestRequireAuth_BearerOrBasicWithTheTokenAsPassword: Confluent scripts send HTTP Basic (API key and secret); the
// token is accepted as the Basic password with any username, and as a bearer token. Anything else is a 401 with
// Confluent's error body and a Basic challenge.
func TestRequireAuth_BearerOrBasicWithTheTokenAsPassword(t *testing.T) {
	_, api := newTestHandler()
	h := RequireAuth(AuthRule{Token: "s3cret", Public: func(p string) bool { return p == "/healthz" }}, api)
	for _, tc := range []struct {
		name string
		set  func(*http.Request)
		want int
	}{
		{"bearer", func(r *http.Request) { r.Header.Set("Authorization", "Bearer s3cret") }, 200},
		{"basic, any username", func(r *http.Request) { r.SetBasicAuth("ANY-API-KEY", "s3cret") }, 200},
		{"basic, empty username", func(r *http.Request) { r.SetBasicAuth("", "s3cret") }, 200},
		{"basic, the token as the username", func(r *http.Request) { r.SetBasicAuth("s3cret", "") }, 401},
		{"basic, wrong password", func(r *http.Request) { r.SetBasicAuth("key", "s3cre") }, 401},
		{"wrong bearer", func(r *http.Request) { r.Header.Set("Authorization", "Bearer s3cretx") }, 401},
		{"the token without a scheme", func(r *http.Request) { r.Header.Set("Authorization", "s3cret") }, 401},
		{"nothing", func(*http.Request) {}, 401},
	} {
		req := httptest.NewRequest("GET", "/kafka/v3/clusters", nil)
		tc.set(req)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, rec.Code, tc.want)
		}
		if tc.want == 401 && (rec.Header().Get("WWW-Authenticate") == "" || rec.Header().Get("Content-Type") != "application/json") {
			t.Errorf("%s: 401 without a challenge or a JSON body: %v", tc.name, rec.Header())
		}
	}
}

// TestRefuseCrossOrigin_BrowsersOfOtherSitesChangeNothing: a browser's POST from another site's page (which would
// carry HTTP Basic credentials the browser cached for the console) is a 403 with an Error body; the same from the
// console's own page, a read from anywhere, and a client that is not a browser (no Sec-Fetch-Site, no Origin) pass.
func TestRefuseCrossOrigin_BrowsersOfOtherSitesChangeNothing(t *testing.T) {
	_, api := newTestHandler()
	h := RefuseCrossOrigin(api)
	for _, tc := range []struct {
		name, method string
		headers      map[string]string
		refused      bool
	}{
		{"another site's page", "POST", map[string]string{"Sec-Fetch-Site": "cross-site"}, true},
		{"another origin of the same site", "POST", map[string]string{"Sec-Fetch-Site": "same-site"}, true},
		{"an old browser with another Origin", "POST", map[string]string{"Origin": "https://evil.example"}, true},
		{"the console's own page", "POST", map[string]string{"Sec-Fetch-Site": "same-origin"}, false},
		{"the CLI or curl", "POST", nil, false},
		{"a read from another site", "GET", map[string]string{"Sec-Fetch-Site": "cross-site"}, false},
	} {
		req := httptest.NewRequest(tc.method, "/kafka/v3/clusters/-/links?link_name=x&validate_only=true", strings.NewReader(`{"configs":[]}`))
		for k, v := range tc.headers {
			req.Header.Set(k, v)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if refused := rec.Code == http.StatusForbidden; refused != tc.refused {
			t.Errorf("%s: %d, refused=%v want %v", tc.name, rec.Code, refused, tc.refused)
		}
		if tc.refused && rec.Header().Get("Content-Type") != "application/json" {
			t.Errorf("%s: refused without an Error body", tc.name)
		}
	}
}
