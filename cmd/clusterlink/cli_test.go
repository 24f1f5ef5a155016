package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
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
	LinkName: "my-link", ClusterLinkID: "0f1e2d3c", LinkID: "0f1e2d3c", TopicNames: []string{"orders", "payments"}, LinkState: "ACTIVE",
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
	{Kind: "KafkaMirrorData", LinkName: "my-link", MirrorTopicName: "clicks", SourceTopicName: "clicks", NumPartitions: 1,
		MirrorStatus: "FAILED", StateTimeMs: 1795503071000, MirrorTopicError: "ILLEGAL_STATE",
		MirrorLags: []adminapi.MirrorLag{{Partition: 0, LastSourceFetchOffset: 3, CatchUpSeconds: -1, ErrorCode: "ILLEGAL_STATE",
			ErrorMessage: "clicks[0]: expected the batch at offset 3, the destination wrote it at 4"}},
		MirrorStateTransitionErrors: []adminapi.TaskError{{ErrorCode: "ILLEGAL_STATE",
			ErrorMessage: "clicks[0]: expected the batch at offset 3, the destination wrote it at 4"}}},
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
	f.validate = validateOnly
	f.lastOp = "delete " + name
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

func (f *fakeBackend) VerifyMirror(_ context.Context, link, mirror string, o adminapi.VerifyOptions) (adminapi.MirrorVerification, error) {
	f.lastOp = fmt.Sprintf("verify %s %s from=%d sample=%d partitions=%v", link, mirror, o.FromOffset, o.Sample, o.Partitions)
	return adminapi.MirrorVerification{LinkName: link, MirrorTopicName: mirror, SourceTopicName: mirror, Identical: true,
		Partitions: []adminapi.PartitionVerification{{Partition: 0, FromOffset: 0, ToOffset: 1000, OffsetsCompared: 1000,
			OffsetsByBatch: 990, BatchesIdentical: 40, FirstDifference: -1}}}, nil
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
	f.created = map[string]map[string]string{req.MirrorTopicName: {"source": req.SourceTopicName, "rf": fmt.Sprint(req.ReplicationFactor)}}
	var names []string
	for _, c := range req.Configs {
		f.created[req.MirrorTopicName][c.Name] = c.Value
		names = append(names, c.Name)
	}
	f.validate = validateOnly
	if len(names) > 0 { // as the daemon answers
		return adminapi.BadRequest("configs %s refused: a mirror topic takes its source topic's configs", strings.Join(names, ", "))
	}
	return nil
}

func (f *fakeBackend) AlterMirrors(_ context.Context, link, op string, topics []string, o adminapi.AlterOptions) ([]adminapi.AlterMirrorResult, error) {
	validateOnly := o.ValidateOnly
	f.lastOp, f.validate = op, validateOnly
	var out []adminapi.AlterMirrorResult
	for _, t := range topics {
		if t == "payments" {
			res := adminapi.AlterMirrorResult{MirrorTopicName: t, MirrorLags: []adminapi.MirrorLag{}}
			res.Fail(adminapi.BadRequest("mirror topic payments is already STOPPED"))
			out = append(out, res)
			continue
		}
		if slices.Contains(adminapi.FailbackOps, op) {
			res := adminapi.AlterMirrorResult{MirrorTopicName: t, MirrorLags: []adminapi.MirrorLag{},
				PartitionLevelTruncationData: []adminapi.PartitionTruncation{{PartitionID: 0, OffsetTruncatedTo: 1012}, {PartitionID: 1, OffsetTruncatedTo: 990}}}
			if op == adminapi.OpTruncateAndRestore {
				res.PartitionLevelTruncationData[1].MessagesTruncated = 17
				res.DivergedTopicName = t + ".diverged"
			}
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
		{"link-list-json", []string{"link", "list", "-o", "json"}},
		{"link-list-include-topics", []string{"link", "list", "--include-topics"}},
		{"link-describe", []string{"link", "describe", "my-link"}},
		{"link-describe-json", []string{"link", "describe", "my-link", "-o", "json"}},
		{"link-create", []string{"link", "create", "new-link", "--source-cluster", "src-cluster-id", "--source-bootstrap-server", "src-1:9092", "--no-validate"}},
		{"link-create-dry-run", []string{"link", "create", "new-link", "--source-bootstrap-server", "src-1:9092", "--dry-run"}},
		{"link-delete", []string{"link", "delete", "my-link", "--force"}},
		{"link-delete-dry-run", []string{"link", "delete", "my-link", "--force", "--dry-run"}},
		{"link-configuration-list", []string{"link", "configuration", "list", "my-link"}},
		{"link-configuration-list-yaml", []string{"link", "configuration", "list", "my-link", "-o", "yaml"}},
		{"link-configuration-update", []string{"link", "configuration", "update", "my-link", "--config", "consumer.offset.sync.ms=10000"}},
		{"link-task-list", []string{"link", "task", "list", "my-link"}},
		{"link-task-list-json", []string{"link", "task", "list", "my-link", "-o", "json"}},
		{"mirror-list", []string{"mirror", "list"}},
		{"mirror-list-stopped", []string{"mirror", "list", "--mirror-status", "stopped"}},
		{"mirror-list-json", []string{"mirror", "list", "-o", "json"}},
		{"mirror-list-yaml", []string{"mirror", "list", "-o", "yaml"}},
		{"mirror-describe", []string{"mirror", "describe", "orders", "--link", "my-link"}},
		{"mirror-describe-failed", []string{"mirror", "describe", "clicks", "--link", "my-link"}},
		{"mirror-describe-json", []string{"mirror", "describe", "orders", "--link", "my-link", "-o", "json"}},
		{"mirror-create", []string{"mirror", "create", "orders-2", "--link", "my-link", "--source-topic", "orders", "--replication-factor", "3"}},
		{"mirror-state-transition-error-list", []string{"mirror", "state-transition-error", "list", "clicks", "--link", "my-link"}},
		{"mirror-state-transition-error-list-json", []string{"mirror", "state-transition-error", "list", "clicks", "--link", "my-link", "-o", "json"}},
		{"mirror-promote", []string{"mirror", "promote", "orders", "--link", "my-link"}},
		{"mirror-promote-json", []string{"mirror", "promote", "orders", "--link", "my-link", "-o", "json"}},
		{"mirror-failover", []string{"mirror", "failover", "orders", "--link", "my-link", "--dry-run"}},
		{"mirror-pause", []string{"mirror", "pause", "orders", "--link", "my-link"}},
		{"mirror-resume", []string{"mirror", "resume", "orders", "--link", "my-link"}},
		{"mirror-restart", []string{"mirror", "restart", "clicks", "--link", "my-link"}},
		{"mirror-reverse-and-start", []string{"mirror", "reverse-and-start", "orders", "--link", "my-link"}},
		{"mirror-reverse-and-pause-dry-run", []string{"mirror", "reverse-and-pause", "orders", "--link", "my-link", "--dry-run"}},
		{"mirror-truncate-and-restore", []string{"mirror", "truncate-and-restore", "orders", "--link", "my-link"}},
		{"mirror-truncate-and-restore-json", []string{"mirror", "truncate-and-restore", "orders", "--link", "my-link", "-o", "json"}},
		{"acl-list", []string{"acl", "list", "--link", "my-link"}},
		{"mirror-verify", []string{"mirror", "verify", "orders", "--link", "my-link", "--sample", "1000", "--partitions", "0"}},
		{"acl-list-every-link", []string{"acl", "list"}},
		{"acl-list-json", []string{"acl", "list", "-o", "json"}},
		{"daemon-list", []string{"daemon", "list", "--link", "my-link"}},
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
		{"link", "task"}, {"link", "task", "list"},
		{"mirror"}, {"mirror", "list"}, {"mirror", "describe"}, {"mirror", "create"}, {"mirror", "promote"},
		{"mirror", "failover"}, {"mirror", "pause"}, {"mirror", "resume"}, {"mirror", "restart"}, {"mirror", "verify"},
		{"mirror", "reverse-and-start"}, {"mirror", "reverse-and-pause"}, {"mirror", "truncate-and-restore"},
		{"mirror", "state-transition-error"}, {"mirror", "state-transition-error", "list"}, {"acl"}, {"acl", "list"},
		{"daemon"}, {"daemon", "list"},
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
		{"unknown mirror status", []string{"mirror", "list", "--mirror-status", "BOGUS"}, `mirror_status "BOGUS" is not a mirror status`},
		{"bad output before any request", []string{"link", "list", "-o", "table"}, `--output "table"`},
		{"a --config that is neither", []string{"link", "create", "x", "--config", "/no/such/file"}, "nor a properties file that exists"},
		{"half of the api key", []string{"link", "create", "x", "--source-api-key", "k"}, "go together"},
		{"mirror configs refused by the daemon", []string{"mirror", "create", "t", "--link", "my-link", "--config", "retention.ms=1"}, "retention.ms refused"},
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

// TestMain runs the real main when asked, so that a test can see the binary's exit status.
func TestMain(m *testing.M) {
	if os.Getenv("CLUSTERLINK_TEST_RUN_MAIN") == "1" {
		os.Args = append([]string{"clusterlink"}, strings.Fields(os.Getenv("CLUSTERLINK_TEST_ARGS"))...)
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestCLI_UnknownCommandsAndFlagsFail: every unknown command or flag, at any depth, is an error that names what is
// near, and the binary exits non-zero (cobra alone prints a parent's help and exits 0).
func TestCLI_UnknownCommandsAndFlagsFail(t *testing.T) {
	for _, tc := range []struct {
		args string
		want []string
	}{
		{"lnk list", []string{`unknown command "lnk" for "clusterlink"`, "link"}},
		{"link lst", []string{`unknown command "lst" for "clusterlink link"`, "Did you mean this?", "list"}},
		{"link task lst my-link", []string{`unknown command "lst" for "clusterlink link task"`, "list"}},
		{"link configuraton list my-link", []string{`unknown command "configuraton"`, "configuration"}},
		{"mirror delete orders --link my-link", []string{`unknown command "delete" for "clusterlink mirror"`}},
		{"mirror promot orders --link my-link", []string{`unknown command "promot" for "clusterlink mirror"`, "promote"}},
		{"mirror state-transition-error lst t --link l", []string{`unknown command "lst"`, "list"}},
		{"acl lst", []string{`unknown command "lst" for "clusterlink acl"`, "list"}},
		{"mirror --link my-link", []string{`unknown flag --link for "clusterlink mirror", which needs a command first`}},
		{"mirror list --lnk my-link", []string{"unknown flag: --lnk", "--link"}},
		{"mirror list --mirror-stat active", []string{"unknown flag: --mirror-stat", "--mirror-status"}},
		{"link create x --source-bootstrap src:9092", []string{"unknown flag: --source-bootstrap", "--source-bootstrap-server"}},
		{"mirror list -x", []string{"unknown shorthand flag: 'x' in -x", "clusterlink mirror list --help"}},
		{"mirror list --adress x", []string{"unknown flag: --adress", "--address"}},
	} {
		t.Run(tc.args, func(t *testing.T) {
			_, err := run(t, &fakeBackend{}, strings.Fields(tc.args)...)
			if err == nil {
				t.Fatalf("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
	// The binary exits 1, also where cobra would print a parent's help and exit 0.
	for _, args := range []string{"link task lst my-link", "acl lst", "mirror --mirror-status BOGUS"} {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "CLUSTERLINK_TEST_RUN_MAIN=1", "CLUSTERLINK_TEST_ARGS="+args)
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 1 {
			t.Errorf("clusterlink %s: %v, want exit status 1:\n%s", args, err, out)
		}
	}
	// A parent alone, or with --help, prints its help and succeeds.
	for _, args := range [][]string{{"link"}, {"mirror", "--help"}, {"link", "task"}} {
		if out, err := run(t, &fakeBackend{}, args...); err != nil || !strings.Contains(out, "Available Commands:") {
			t.Errorf("%v: %v\n%s", args, err, out)
		}
	}
}

// TestCLI_ConfigFlagsAsTheConfluentCLITakesThem: --config key=value is never split on commas, --config FILE reads a
// properties file (every escape of java.util.Properties), and the API key flags become SASL/PLAIN configs.
func TestCLI_ConfigFlagsAsTheConfluentCLITakesThem(t *testing.T) {
	dir := t.TempDir()
	props := filepath.Join(dir, "link.properties")
	if err := os.WriteFile(props, []byte("consumer.offset.sync.enable=true\nacl.filters={\"aclFilters\":[]}\nsasl.mechanism\\=x=\\u0050LAIN\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	b := &fakeBackend{}
	filters := `auto.create.mirror.topics.filters={"topicFilters":[{"name":"*","patternType":"LITERAL","filterType":"INCLUDE"}]}`
	_, err := run(t, b, "link", "create", "l", "--source-bootstrap-server", "a:9092,b:9092", "--config", props, "--config", filters,
		"--source-api-key", "KEY", "--source-api-secret", "SECRET")
	if err != nil {
		t.Fatal(err)
	}
	got := b.created["l"]
	want := map[string]string{
		"bootstrap.servers": "a:9092,b:9092", "consumer.offset.sync.enable": "true", `acl.filters`: `{"aclFilters":[]}`,
		"sasl.mechanism=x": "PLAIN", "auto.create.mirror.topics.filters": strings.TrimPrefix(filters, "auto.create.mirror.topics.filters="),
		"security.protocol": "SASL_SSL",
		"sasl.jaas.config":  `org.apache.kafka.common.security.plain.PlainLoginModule required username="KEY" password="SECRET";`,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if _, err := run(t, b, "mirror", "create", "t", "--link", "my-link", "--replication-factor", "3"); err != nil || b.created["t"]["rf"] != "3" {
		t.Errorf("mirror create --replication-factor 3 sent %v, %v", b.created, err)
	}
	if _, err := run(t, b, "link", "delete", "my-link", "--force", "--dry-run"); err != nil || !b.validate || b.lastOp != "delete my-link" {
		t.Errorf("link delete --dry-run: validate %v, %v", b.validate, err)
	}
}

func (*fakeBackend) LinkDaemons(_ context.Context, link string) (adminapi.LinkDaemons, error) {
	return adminapi.LinkDaemons{Kind: "ClusterLinkDaemons", LinkName: link, GroupID: "clusterlink._clusterlink-state." + link,
		Generation: 4, LeaderID: "m-1", MemberID: "m-2", Stable: true, Rebalances: 3,
		Members: []adminapi.DaemonMember{
			{MemberID: "m-1", Name: "host-a/41", RunsLinkLoops: true, PartitionCount: 2,
				Mirrors: []adminapi.MirrorPartitions{{MirrorTopicName: "orders", Partitions: []int32{0, 1}}}},
			{MemberID: "m-2", Name: "host-b/42", PartitionCount: 2,
				Mirrors: []adminapi.MirrorPartitions{{MirrorTopicName: "clicks", Partitions: []int32{0}}, {MirrorTopicName: "orders", Partitions: []int32{2}}}},
		}}, nil
}
