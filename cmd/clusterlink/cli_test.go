package main

import (
	"bytes"
	"context"
	"flag"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/clusterlink/clusterlink/controlplane/adminapi"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden with the current output")

// fakeBackend answers the admin API with canned data.
type fakeBackend struct {
	created  map[string]map[string]string
	altered  []string
	lastOp   string
	validate bool
}

func (f *fakeBackend) ClusterID() string { return "dst-cluster-id" }

var cannedLink = adminapi.Link{
	Kind: "KafkaLinkData", SourceClusterID: "src-cluster-id", DestinationClusterID: "dst-cluster-id",
	LinkName: "my-link", LinkID: "0f1e2d3c", TopicNames: []string{"orders", "payments"}, LinkState: "ACTIVE",
	LinkError: "NO_ERROR",
	Tasks: []adminapi.Task{
		{TaskName: "AclSync", State: "IN_ERROR", Errors: []adminapi.TaskError{{ErrorCode: "AUTHORIZATION_ERROR", ErrorMessage: "no DESCRIBE on the source cluster"}}},
		{TaskName: "AutoCreateMirror", State: "ACTIVE", Errors: []adminapi.TaskError{}},
	},
}

var cannedMirrors = []adminapi.Mirror{
	{Kind: "KafkaMirrorData", LinkName: "my-link", MirrorTopicName: "orders", SourceTopicName: "orders", NumPartitions: 2,
		MirrorStatus: "ACTIVE", StateTimeMs: 1795503068695, MirrorLags: []adminapi.MirrorLag{
			{Partition: 0, Lag: 12, LastSourceFetchOffset: 1000, SourceHighWatermark: 1012, MirrorLogEndOffset: 1000, CatchUpSeconds: 0.5},
			{Partition: 1, Lag: 0, LastSourceFetchOffset: 990, SourceHighWatermark: 990, MirrorLogEndOffset: 990, CatchUpSeconds: 0},
		}},
	{Kind: "KafkaMirrorData", LinkName: "my-link", MirrorTopicName: "payments", SourceTopicName: "payments", NumPartitions: 1,
		MirrorStatus: "STOPPED", StateTimeMs: 1795503070000, MirrorLags: []adminapi.MirrorLag{}},
}

func (f *fakeBackend) Links(context.Context) ([]adminapi.Link, error) {
	return []adminapi.Link{cannedLink}, nil
}

func (f *fakeBackend) Link(_ context.Context, name string) (adminapi.Link, error) {
	if name != "my-link" {
		return adminapi.Link{}, adminapi.NotFound("link %s not found", name)
	}
	return cannedLink, nil
}

func (f *fakeBackend) CreateLink(_ context.Context, name string, configs map[string]string, validateOnly bool) error {
	if configs["bootstrap.servers"] == "" {
		return adminapi.BadRequest("bootstrap.servers: required")
	}
	f.created = map[string]map[string]string{name: configs}
	f.validate = validateOnly
	return nil
}

func (f *fakeBackend) DeleteLink(_ context.Context, name string, force, validateOnly bool) error {
	if !force {
		return adminapi.BadRequest("link %s still has mirror topics that are not STOPPED (orders): promote or fail them over first, or delete with force", name)
	}
	return nil
}

func (f *fakeBackend) LinkConfigs(_ context.Context, name string) ([]adminapi.Config, error) {
	if name != "my-link" {
		return nil, adminapi.NotFound("link %s not found", name)
	}
	return []adminapi.Config{
		{Name: "sasl.jaas.config", Value: "[hidden]", Sensitive: true, Source: "DYNAMIC_CLUSTER_LINK_CONFIG", Synonyms: []string{}},
		{Name: "bootstrap.servers", Value: "src-1:9092", Source: "DYNAMIC_CLUSTER_LINK_CONFIG", Synonyms: []string{}},
		{Name: "cluster.link.prefix", Value: "", ReadOnly: true, Source: "DEFAULT_CONFIG", Synonyms: []string{}},
		{Name: "consumer.offset.sync.ms", Value: "30000", Source: "DEFAULT_CONFIG", Synonyms: []string{}},
	}, nil
}

func (f *fakeBackend) AlterLinkConfigs(_ context.Context, name string, set map[string]string, reset []string, validateOnly bool) error {
	for k, v := range set {
		f.altered = append(f.altered, k+"="+v)
	}
	for _, k := range reset {
		f.altered = append(f.altered, "reset "+k)
	}
	return nil
}

func (f *fakeBackend) Mirrors(_ context.Context, link string) ([]adminapi.Mirror, error) {
	if link != "" && link != "my-link" {
		return nil, adminapi.NotFound("link %s not found", link)
	}
	return cannedMirrors, nil
}

func (f *fakeBackend) Mirror(_ context.Context, link, mirror string) (adminapi.Mirror, error) {
	for _, m := range cannedMirrors {
		if m.MirrorTopicName == mirror {
			return m, nil
		}
	}
	return adminapi.Mirror{}, adminapi.NotFound("mirror topic %s on link %s: not found", mirror, link)
}

func (f *fakeBackend) CreateMirror(_ context.Context, link string, req adminapi.CreateMirrorRequest, validateOnly bool) error {
	f.created = map[string]map[string]string{req.MirrorTopicName: {"source": req.SourceTopicName}}
	return nil
}

func (f *fakeBackend) AlterMirrors(_ context.Context, link, op string, topics []string, validateOnly bool) ([]adminapi.AlterMirrorResult, error) {
	f.lastOp, f.validate = op, validateOnly
	var out []adminapi.AlterMirrorResult
	for _, t := range topics {
		if t == "payments" {
			res := adminapi.AlterMirrorResult{MirrorTopicName: t, MirrorLags: []adminapi.MirrorLag{}}
			res.Fail(adminapi.BadRequest("mirror topic payments is already STOPPED"))
			out = append(out, res)
			continue
		}
		out = append(out, adminapi.AlterMirrorResult{MirrorTopicName: t, MirrorLags: []adminapi.MirrorLag{
			{Partition: 0, Lag: 0, LastSourceFetchOffset: 1012}, {Partition: 1, Lag: 0, LastSourceFetchOffset: 990}}})
	}
	return out, nil
}

func (f *fakeBackend) LinkACLs(context.Context, string) ([]adminapi.ACL, error) {
	return []adminapi.ACL{
		{Principal: "User:alice", Host: "*", Permission: "ALLOW", Operation: "READ", ResourceType: "TOPIC", ResourceName: "orders", PatternType: "LITERAL", Reason: "SYNCED"},
		{Principal: "User:*", Host: "*", Permission: "DENY", Operation: "WRITE", ResourceType: "TOPIC", ResourceName: "orders", PatternType: "LITERAL", Reason: "MIRROR_READ_ONLY"},
	}, nil
}

// run executes the CLI against a daemon serving b and returns its output and error.
func run(t *testing.T, b adminapi.Backend, args ...string) (string, error) {
	t.Helper()
	srv := httptest.NewServer(adminapi.Handler(b, zap.NewNop()))
	defer srv.Close()
	root := newRootCommand()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(append(args, "--address", strings.TrimPrefix(srv.URL, "http://")))
	err := root.ExecuteContext(context.Background())
	return out.String(), err
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run `go test ./cmd/clusterlink -update` to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from %s:\n--- got\n%s\n--- want\n%s", name, path, got, want)
	}
}

func TestCLI_Golden(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"link-list", []string{"link", "list"}},
		{"link-describe", []string{"link", "describe", "my-link"}},
		{"link-configuration-list", []string{"link", "configuration", "list", "my-link"}},
		{"mirror-list", []string{"mirror", "list"}},
		{"mirror-list-stopped", []string{"mirror", "list", "--mirror-status", "stopped"}},
		{"mirror-list-json", []string{"mirror", "list", "-o", "json"}},
		{"mirror-list-yaml", []string{"mirror", "list", "-o", "yaml"}},
		{"mirror-describe", []string{"mirror", "describe", "orders", "--link", "my-link"}},
		{"mirror-promote", []string{"mirror", "promote", "orders", "--link", "my-link"}},
		{"acl-list", []string{"acl", "list", "--link", "my-link"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := run(t, &fakeBackend{}, tc.args...)
			if err != nil {
				t.Fatalf("%v: %v\n%s", tc.args, err, out)
			}
			golden(t, tc.name, out)
		})
	}
}

func TestCLI_HelpGolden(t *testing.T) {
	commands := [][]string{
		{}, {"run"}, {"demo"}, {"link"}, {"link", "list"}, {"link", "describe"}, {"link", "create"}, {"link", "delete"},
		{"link", "configuration"}, {"link", "configuration", "list"}, {"link", "configuration", "update"},
		{"mirror"}, {"mirror", "list"}, {"mirror", "describe"}, {"mirror", "create"}, {"mirror", "promote"},
		{"mirror", "failover"}, {"mirror", "pause"}, {"mirror", "resume"}, {"mirror", "restart"}, {"acl"}, {"acl", "list"},
	}
	for _, c := range commands {
		name := "help-" + strings.Join(append([]string{"clusterlink"}, c...), "-")
		t.Run(name, func(t *testing.T) {
			root := newRootCommand()
			var out bytes.Buffer
			root.SetOut(&out)
			root.SetArgs(append(c, "--help"))
			if err := root.Execute(); err != nil {
				t.Fatal(err)
			}
			// The --address default comes from the environment; keep the golden file independent of it.
			got := out.String()
			if env := os.Getenv("CLUSTERLINK_ADDRESS"); env != "" {
				got = strings.ReplaceAll(got, `"`+env+`"`, `"127.0.0.1:8090"`)
			}
			if len(c) > 0 && !strings.Contains(got, "Examples:") {
				t.Errorf("clusterlink %s --help has no example", strings.Join(c, " "))
			}
			golden(t, name, got)
		})
	}
}

func TestCLI_Errors(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown link", []string{"link", "describe", "nope"}, "link nope not found"},
		{"promote with a per-topic error", []string{"mirror", "promote", "orders", "payments", "--link", "my-link"}, "promote failed for payments"},
		{"delete without force", []string{"link", "delete", "my-link"}, "promote or fail them over first"},
		{"bad output", []string{"mirror", "list", "-o", "xml"}, `--output "xml"`},
		{"bad config flag", []string{"link", "create", "x", "--config", "novalue"}, `is not key=value`},
		{"server-side validation", []string{"link", "create", "x", "--config", "acl.sync.ms=5000"}, "bootstrap.servers: required"},
		{"missing --link", []string{"mirror", "promote", "orders"}, `required flag(s) "link" not set`},
		{"nothing to update", []string{"link", "configuration", "update", "my-link"}, "nothing to update"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := run(t, &fakeBackend{}, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%v: error %v, want one containing %q", tc.args, err, tc.want)
			}
		})
	}
	// An unreachable daemon says so, and how to fix it.
	root := newRootCommand()
	root.SetArgs([]string{"mirror", "list", "--address", "127.0.0.1:1"})
	root.SetOut(&bytes.Buffer{})
	err := root.Execute()
	if err == nil || !strings.Contains(err.Error(), "is `clusterlink run` up") {
		t.Errorf("unreachable daemon: %v", err)
	}
}

func TestCLI_SendsWhatTheUserAsked(t *testing.T) {
	b := &fakeBackend{}
	props := filepath.Join(t.TempDir(), "link.properties")
	if err := os.WriteFile(props, []byte("# a comment\nbootstrap.servers=src-1:9092,\\\n  src-2:9092\nacl.sync.ms: 6000\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, b, "link", "create", "new-link", "--config-file", props, "--config", "acl.sync.ms=7000", "--dry-run"); err != nil {
		t.Fatal(err)
	}
	got := b.created["new-link"]
	if got["bootstrap.servers"] != "src-1:9092,src-2:9092" || got["acl.sync.ms"] != "7000" || !b.validate {
		t.Errorf("create sent %v (validate only %v)", got, b.validate)
	}
	if _, err := run(t, b, "link", "configuration", "update", "my-link", "--config", "consumer.offset.sync.ms=10000", "--reset", "acl.sync.ms"); err != nil {
		t.Fatal(err)
	}
	if strings.Join(b.altered, ";") != "consumer.offset.sync.ms=10000;reset acl.sync.ms" {
		t.Errorf("update sent %v", b.altered)
	}
	if _, err := run(t, b, "mirror", "failover", "orders", "--link", "my-link", "--dry-run"); err != nil || b.lastOp != adminapi.OpFailover || !b.validate {
		t.Errorf("failover --dry-run: op %s validate %v err %v", b.lastOp, b.validate, err)
	}
	if _, err := run(t, b, "mirror", "create", "orders", "--link", "my-link", "--source-topic", "src-orders"); err != nil || b.created["orders"]["source"] != "src-orders" {
		t.Errorf("mirror create sent %v, %v", b.created, err)
	}
}
