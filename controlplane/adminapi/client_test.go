package adminapi

import (
	"context"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"

	"go.uber.org/zap"
)

// TestClient_EveryCallIsDocumented calls every Client method against the server and checks that each request it
// makes is an operation of docs/openapi.yaml, answered with its documented status: the CLI's client speaks the
// documented API, nothing beside it.
func TestClient_EveryCallIsDocumented(t *testing.T) {
	doc := loadDoc(t, "../../docs/openapi.yaml")
	type route struct {
		re     *regexp.Regexp
		op     operation
		status int
	}
	var routes []route
	for _, op := range doc.operations() {
		pattern := regexp.QuoteMeta(op.path)
		pattern = regexp.MustCompile(`\\\{[a-z_]+\\\}`).ReplaceAllString(pattern, `[^/]+`)
		status, _ := doc.success(op)
		routes = append(routes, route{regexp.MustCompile("^" + pattern + "$"), op, status})
	}
	var mu sync.Mutex
	seen := map[string]bool{}
	api := Handler(newFakeBackend(), zap.NewNop())
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		api.ServeHTTP(rec, r)
		documented := false
		for _, rt := range routes {
			if rt.re.MatchString(r.URL.Path) && rt.op.method == r.Method {
				documented = true
				if rec.Code/100 == 2 && rec.Code != rt.status {
					t.Errorf("%s %s: %d, documented %d", r.Method, r.URL.Path, rec.Code, rt.status)
				}
				mu.Lock()
				seen[rt.op.method+" "+rt.op.path] = true
				mu.Unlock()
			}
		}
		if !documented {
			t.Errorf("the client called %s %s, which docs/openapi.yaml does not document", r.Method, r.URL.Path)
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	}))
	defer srv.Close()
	c := NewClient(srv.URL, "")
	ctx := context.Background()
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Errorf("%s: %v", what, err)
		}
	}
	_, err := c.Cluster(ctx)
	must("Cluster", err)
	_, err = c.Links(ctx)
	must("Links", err)
	_, err = c.Link(ctx, "my-link")
	must("Link", err)
	must("CreateLink", c.CreateLink(ctx, "new-link", CreateLinkRequest{Configs: []ConfigValue{{Name: "bootstrap.servers", Value: "x:1"}}}, true))
	_, err = c.LinkConfigs(ctx, "my-link")
	must("LinkConfigs", err)
	_, err = c.LinkConfig(ctx, "my-link", "consumer.offset.sync.ms")
	must("LinkConfig", err)
	must("AlterLinkConfigs", c.AlterLinkConfigs(ctx, "my-link", AlterConfigsRequest{Data: []ConfigValue{{Name: "acl.sync.ms", Value: "6000"}}}, false))
	_, err = c.Mirrors(ctx, "")
	must("Mirrors", err)
	ms, err := c.MirrorsInStatus(ctx, "my-link", "stopped")
	must("MirrorsInStatus", err)
	if len(ms) != 1 || ms[0].MirrorTopicName != "payments" {
		t.Errorf("MirrorsInStatus(stopped): %+v", ms)
	}
	_, err = c.Mirror(ctx, "my-link", "orders")
	must("Mirror", err)
	_, err = c.VerifyMirror(ctx, "my-link", "orders", VerifyOptions{FromOffset: 10, Sample: 5, Partitions: []int32{0, 1}})
	must("Mirror", err)
	must("CreateMirror", c.CreateMirror(ctx, "my-link", CreateMirrorRequest{SourceTopicName: "new"}, false))
	for _, op := range append([]string{OpPause, OpResume, OpPromote, OpFailover, OpRestart}, FailbackOps...) {
		_, err := c.AlterMirrors(ctx, "my-link", op, []string{"orders"}, AlterOptions{ValidateOnly: true, IncludePartitionLevelTruncationData: true})
		must(op, err)
	}
	_, err = c.LinkACLs(ctx, "")
	must("LinkACLs", err)
	_, err = c.LinkDaemons(ctx, "my-link")
	must("LinkDaemons", err)
	must("DeleteLink", c.DeleteLink(ctx, "my-link", true, false))
	var missing []string
	for _, op := range doc.operations() {
		if !seen[op.method+" "+op.path] {
			missing = append(missing, op.method+" "+op.path)
		}
	}
	// The client has no use for these; the contract tests serve them.
	allowed := "GET /kafka/v3/clusters/{cluster_id} PUT /kafka/v3/clusters/{cluster_id}/links/{link_name}/configs/{config_name} " +
		"DELETE /kafka/v3/clusters/{cluster_id}/links/{link_name}/configs/{config_name} POST /kafka/v3/clusters/{cluster_id}/links/{link_name}/configs:alter"
	for _, m := range missing {
		if !strings.Contains(allowed, m+" ") && !strings.HasSuffix(allowed, m) {
			t.Errorf("the client never calls %s", m)
		}
	}
}

// TestDocsFollowConfluent checks docs/openapi.yaml against Confluent's documents: every Confluent operation clusterlink
// serves is documented at the same path and verb with the same success status.
func TestDocsFollowConfluent(t *testing.T) {
	ours := loadDoc(t, "../../docs/openapi.yaml")
	documented := map[string]int{}
	for _, op := range ours.operations() {
		documented[op.method+" "+op.path], _ = ours.success(op)
	}
	for _, doc := range confluentDocs(t) {
		for _, op := range doc.operations() {
			if unsupportedOp(op.path) {
				continue
			}
			want, _ := doc.success(op)
			got, ok := documented[op.method+" "+op.path]
			switch {
			case !ok:
				t.Errorf("docs/openapi.yaml lacks Confluent's %s %s", op.method, op.path)
			case got != want:
				t.Errorf("%s %s: docs/openapi.yaml says %d, Confluent %d", op.method, op.path, got, want)
			}
		}
	}
}
