package adminapi

import (
	"os"
	"strings"
	"testing"
)

// requestFor is the query and body a test sends to an operation of docs/openapi.yaml or of Confluent's documents
// when the document gives no example: the smallest request the fake backend accepts.
func requestFor(method, path string) (query string, body any) {
	switch {
	case method == "POST" && strings.HasSuffix(path, "/links"):
		return "?link_name=new-link", `{"configs":[{"name":"bootstrap.servers","value":"src-2:9092"}]}`
	case method == "DELETE" && strings.HasSuffix(path, "/links/{link_name}"):
		return "?force=true", nil
	case method == "POST" && strings.HasSuffix(path, "/mirrors"):
		return "", `{"source_topic_name":"new-topic"}`
	case strings.HasSuffix(path, "/configs:alter"):
		return "", `{"data":[{"name":"consumer.offset.sync.ms","value":"10000"}]}`
	case method == "PUT" && strings.HasSuffix(path, "/configs/{config_name}"):
		return "", `{"value":"10000"}`
	case strings.Contains(path, "/mirrors:"):
		return "", `{"mirror_topic_names":["orders"]}`
	}
	return "", nil
}

// TestOpenAPIDocumentMatchesTheServer checks docs/openapi.yaml against the server: every documented path and method
// is served with its documented status and an answer its schema admits, and every path the package doc lists is
// documented.
func TestOpenAPIDocumentMatchesTheServer(t *testing.T) {
	doc := loadDoc(t, "../../docs/openapi.yaml")
	ops := doc.operations()
	if len(ops) < 20 {
		t.Fatalf("docs/openapi.yaml has %d operations", len(ops))
	}
	for _, op := range ops {
		t.Run(op.method+" "+op.path, func(t *testing.T) {
			_, h := newTestHandler()
			query, body := requestFor(op.method, op.path)
			a := call(t, h, op.method, concrete(op.path)+query, body)
			status, schema := doc.success(op)
			if a.status != status {
				t.Fatalf("status %d, documented %d: %s", a.status, status, a.raw)
			}
			if schema == nil && len(a.raw) > 0 {
				t.Errorf("documented with no content, answered %s", a.raw)
			}
			for _, bad := range doc.check(schema, a.body, "body") {
				t.Error(bad)
			}
		})
	}

	src, err := os.ReadFile("types.go")
	if err != nil {
		t.Fatal(err)
	}
	paths := map[string]map[string]bool{}
	for _, op := range ops {
		if paths[op.path] == nil {
			paths[op.path] = map[string]bool{}
		}
		paths[op.path][op.method] = true
	}
	for _, line := range strings.Split(string(src), "\n") {
		fields := strings.Fields(strings.TrimPrefix(line, "//"))
		if len(fields) < 2 || !strings.HasPrefix(fields[1], "/kafka/v3/") {
			continue
		}
		path, _, _ := strings.Cut(fields[1], "?")
		path = strings.NewReplacer("{link}", "{link_name}", "{mirror}", "{mirror_topic_name}", "{name}", "{config_name}").Replace(path)
		if !paths[path][fields[0]] {
			t.Errorf("the package doc lists %s %s, docs/openapi.yaml does not", fields[0], path)
		}
	}
}

// TestErrorsAreConfluentErrorBodies checks that every failure, also of unknown paths and methods, is answered with
// Confluent's error body and an integer error_code equal to the status.
func TestErrorsAreConfluentErrorBodies(t *testing.T) {
	doc := loadDoc(t, "../../docs/openapi.yaml")
	errSchema := map[string]any{"$ref": "#/components/schemas/Error"}
	_, h := newTestHandler()
	for _, tc := range []struct {
		method, path string
		body         any
		status       int
	}{
		{"GET", "/kafka/v3/nope", nil, 404},
		{"GET", "/kafka/v3/clusters/dst-cluster/links/my-link/nope", nil, 404},
		{"GET", "/kafka/v3/clusters/other-cluster/links", nil, 404},
		{"GET", "/kafka/v3/clusters/-/links/nope", nil, 404},
		{"PATCH", "/kafka/v3/clusters/-/links/my-link", nil, 405},
		{"DELETE", "/kafka/v3/clusters/-/links/my-link/mirrors", nil, 405},
		{"POST", "/kafka/v3/clusters", nil, 405},
		{"POST", "/kafka/v3/clusters/-/links?link_name=x", `{"configs":`, 400},
		{"GET", "/kafka/v3/clusters/-/links/my-link/mirrors?mirror_status=BOGUS", nil, 400},
		{"DELETE", "/kafka/v3/clusters/-/links/my-link?validate_only=maybe", nil, 400},
		{"POST", "/kafka/v3/clusters/-/links/my-link/mirrors:promote-local-and-start-remote-mirror", `{"mirror_topic_names":["orders"]}`, 400},
		{"GET", "/kafka/v3/clusters/-/links/my-link/configs/no.such.config", nil, 404},
	} {
		a := call(t, h, tc.method, tc.path, tc.body)
		if a.status != tc.status {
			t.Errorf("%s %s: status %d, want %d: %s", tc.method, tc.path, a.status, tc.status, a.raw)
			continue
		}
		if ct := a.header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s %s: Content-Type %q", tc.method, tc.path, ct)
		}
		for _, bad := range doc.check(errSchema, a.body, "body") {
			t.Errorf("%s %s: %s", tc.method, tc.path, bad)
		}
		if code := asMap(a.body)["error_code"]; code == nil || code.(interface{ String() string }).String() != itoa(tc.status) {
			t.Errorf("%s %s: error_code %v, want %d", tc.method, tc.path, code, tc.status)
		}
		if tc.status == 405 && a.header.Get("Allow") == "" {
			t.Errorf("%s %s: 405 without Allow", tc.method, tc.path)
		}
	}
}
