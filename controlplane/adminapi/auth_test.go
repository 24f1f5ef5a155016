package adminapi

import (
	"net/http"
	"net/http/httptest"
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
