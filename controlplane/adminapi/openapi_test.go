package adminapi

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.yaml.in/yaml/v3"
)

// okBackend answers every call with success and empty data.
type okBackend struct{}

func (okBackend) ClusterID() string                                                 { return "cid" }
func (okBackend) Links(context.Context) ([]Link, error)                             { return nil, nil }
func (okBackend) Link(context.Context, string) (Link, error)                        { return Link{}, nil }
func (okBackend) CreateLink(context.Context, string, map[string]string, bool) error { return nil }
func (okBackend) DeleteLink(context.Context, string, bool) error                    { return nil }
func (okBackend) LinkConfigs(context.Context, string) ([]Config, error)             { return nil, nil }
func (okBackend) AlterLinkConfigs(context.Context, string, map[string]string, []string, bool) error {
	return nil
}
func (okBackend) Mirrors(context.Context, string) ([]Mirror, error)                { return nil, nil }
func (okBackend) Mirror(context.Context, string, string) (Mirror, error)           { return Mirror{}, nil }
func (okBackend) CreateMirror(context.Context, string, string, string, bool) error { return nil }
func (okBackend) AlterMirrors(context.Context, string, string, []string, bool) ([]AlterMirrorResult, error) {
	return nil, nil
}
func (okBackend) LinkACLs(context.Context, string) ([]ACL, error) { return nil, nil }

// TestOpenAPIDocumentMatchesTheServer checks docs/openapi.yaml against the server: every documented path and method
// is routed (not 404/405), and every path the package doc lists is documented.
func TestOpenAPIDocumentMatchesTheServer(t *testing.T) {
	data, err := os.ReadFile("../../docs/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("docs/openapi.yaml: %v", err)
	}
	srv := httptest.NewServer(Handler(okBackend{}, zap.NewNop()))
	defer srv.Close()
	bodies := map[string]string{
		"/links":            `{"configs":[]}`,
		"/mirrors":          `{"source_topic_name":"t"}`,
		"/configs:alter":    `{"data":[]}`,
		"/mirrors:promote":  `{"mirror_topic_names":["t"]}`,
		"/mirrors:failover": `{"mirror_topic_names":["t"]}`,
		"/mirrors:pause":    `{"mirror_topic_names":["t"]}`,
		"/mirrors:resume":   `{"mirror_topic_names":["t"]}`,
		"/mirrors:restart":  `{"mirror_topic_names":["t"]}`,
	}
	for path, ops := range doc.Paths {
		for method := range ops {
			if method == "parameters" {
				continue
			}
			url := strings.NewReplacer("{cluster_id}", "-", "{link_name}", "l", "{mirror_topic_name}", "m").Replace(path)
			var body string
			for suffix, b := range bodies {
				if strings.HasSuffix(path, suffix) {
					body = b
				}
			}
			if strings.HasSuffix(path, "/links") {
				url += "?link_name=l"
			}
			req, _ := http.NewRequest(strings.ToUpper(method), srv.URL+url, strings.NewReader(body))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode/100 != 2 {
				t.Errorf("%s %s (documented): status %d", strings.ToUpper(method), path, resp.StatusCode)
			}
		}
	}
	src, err := os.ReadFile("types.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(src), "\n") {
		fields := strings.Fields(strings.TrimPrefix(line, "//"))
		if len(fields) < 2 || !strings.HasPrefix(fields[1], "/kafka/v3/") {
			continue
		}
		path, _, _ := strings.Cut(fields[1], "?")
		path = strings.NewReplacer("{link}", "{link_name}", "{mirror}", "{mirror_topic_name}").Replace(path)
		if strings.Contains(path, "/links/-/") {
			continue // the "-" link of the mirrors path is the {link_name} one
		}
		if _, ok := doc.Paths[path]; !ok {
			t.Errorf("the package doc lists %s %s, docs/openapi.yaml does not", fields[0], path)
		} else if _, ok := doc.Paths[path][strings.ToLower(fields[0])]; !ok {
			t.Errorf("docs/openapi.yaml lacks %s %s", fields[0], path)
		}
	}
}
