package adminapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.yaml.in/yaml/v3"
)

// This file is what the OpenAPI tests share: an OpenAPI document read as plain maps, a validator of JSON answers
// against its schemas (types, required fields, nullable, enums, $ref and allOf: what a generated client relies on),
// and a helper that calls a server.

type apiDoc struct {
	name string
	root map[string]any
}

func loadDoc(t *testing.T, path string) apiDoc {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var root map[string]any
	if err := yaml.Unmarshal(data, &root); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return apiDoc{name: path, root: root}
}

func asMap(v any) map[string]any { m, _ := v.(map[string]any); return m }

// resolve follows $ref to the component it names.
func (d apiDoc) resolve(node map[string]any) map[string]any {
	for node != nil {
		ref, ok := node["$ref"].(string)
		if !ok {
			return node
		}
		cur := any(d.root)
		for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
			cur = asMap(cur)[part]
		}
		node = asMap(cur)
	}
	return nil
}

// operation is one path and method of a document.
type operation struct {
	path, method string
	op           map[string]any
}

func (d apiDoc) operations() []operation {
	var out []operation
	for path, item := range asMap(d.root["paths"]) {
		for method, op := range asMap(item) {
			if method == "parameters" {
				continue
			}
			out = append(out, operation{path: path, method: strings.ToUpper(method), op: asMap(op)})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].path+out[i].method < out[j].path+out[j].method })
	return out
}

// success is an operation's documented 2xx status and the schema of its JSON body (nil for no content).
func (d apiDoc) success(op operation) (int, map[string]any) {
	for code, r := range asMap(op.op["responses"]) {
		var status int
		if _, err := fmt.Sscanf(code, "%d", &status); err != nil || status/100 != 2 {
			continue
		}
		resp := d.resolve(asMap(r))
		schema := asMap(asMap(asMap(asMap(resp["content"])["application/json"]))["schema"])
		return status, schema
	}
	return 0, nil
}

// requestExamples are the operation's example request bodies, by name.
func (d apiDoc) requestExamples(op operation) map[string]any {
	rb := d.resolve(asMap(op.op["requestBody"]))
	media := asMap(asMap(rb["content"])["application/json"])
	out := map[string]any{}
	if ex, ok := media["example"]; ok {
		out["example"] = ex
	}
	for name, ex := range asMap(media["examples"]) {
		out[name] = asMap(ex)["value"]
	}
	return out
}

// check validates v (decoded with UseNumber) against schema and returns every mismatch, each naming its place.
func (d apiDoc) check(schema map[string]any, v any, at string) []string {
	schema = d.resolve(schema)
	if schema == nil {
		return nil
	}
	var bad []string
	for _, part := range asSlice(schema["allOf"]) {
		bad = append(bad, d.check(asMap(part), v, at)...)
	}
	if v == nil {
		if nullable, _ := schema["nullable"].(bool); !nullable && schema["type"] != nil {
			bad = append(bad, at+": null, want "+fmt.Sprint(schema["type"]))
		}
		return bad
	}
	switch schema["type"] {
	case "object":
		m, ok := v.(map[string]any)
		if !ok {
			return append(bad, fmt.Sprintf("%s: %T, want an object", at, v))
		}
		for _, r := range asSlice(schema["required"]) {
			if _, ok := m[r.(string)]; !ok {
				bad = append(bad, fmt.Sprintf("%s: required field %s missing", at, r))
			}
		}
		for name, p := range asMap(schema["properties"]) {
			if fv, ok := m[name]; ok {
				bad = append(bad, d.check(asMap(p), fv, at+"."+name)...)
			}
		}
	case "array":
		a, ok := v.([]any)
		if !ok {
			return append(bad, fmt.Sprintf("%s: %T, want an array", at, v))
		}
		for i, item := range a {
			bad = append(bad, d.check(asMap(schema["items"]), item, fmt.Sprintf("%s[%d]", at, i))...)
		}
	case "string":
		s, ok := v.(string)
		if !ok {
			return append(bad, fmt.Sprintf("%s: %T %v, want a string", at, v, v))
		}
		if enum := asSlice(schema["enum"]); enum != nil && !slices.Contains(enum, any(s)) {
			bad = append(bad, fmt.Sprintf("%s: %q is not one of %v", at, s, enum))
		}
	case "integer":
		n, ok := v.(json.Number)
		if _, err := n.Int64(); !ok || err != nil {
			bad = append(bad, fmt.Sprintf("%s: %T %v, want an integer", at, v, v))
		}
	case "number":
		if _, ok := v.(json.Number); !ok {
			bad = append(bad, fmt.Sprintf("%s: %T %v, want a number", at, v, v))
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			bad = append(bad, fmt.Sprintf("%s: %T %v, want a boolean", at, v, v))
		}
	}
	return bad
}

func asSlice(v any) []any { s, _ := v.([]any); return s }

// answer is one HTTP answer, its body decoded with UseNumber.
type answer struct {
	status int
	header http.Header
	raw    []byte
	body   any
}

func call(t *testing.T, h http.Handler, method, path string, body any) answer {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req := httptest.NewRequest(method, path, rd)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return decodeAnswer(t, rec)
}

func decodeAnswer(t *testing.T, rec *httptest.ResponseRecorder) answer {
	t.Helper()
	a := answer{status: rec.Code, header: rec.Header(), raw: rec.Body.Bytes()}
	if len(a.raw) > 0 {
		dec := json.NewDecoder(bytes.NewReader(a.raw))
		dec.UseNumber()
		if err := dec.Decode(&a.body); err != nil {
			t.Fatalf("the answer is not JSON (%v): %s", err, a.raw)
		}
	}
	return a
}

func newTestHandler() (*fakeBackend, http.Handler) {
	b := newFakeBackend()
	return b, Handler(b, zap.NewNop())
}

// concrete fills an OpenAPI path with the fake backend's names.
func concrete(path string) string {
	return strings.NewReplacer("{cluster_id}", "dst-cluster", "{link_name}", "my-link", "{mirror_topic_name}", "orders",
		"{config_name}", "consumer.offset.sync.ms").Replace(path)
}

func itoa(n int) string { return fmt.Sprint(n) }
