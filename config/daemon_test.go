package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestLoadExample(t *testing.T) {
	t.Setenv("CLUSTERLINK_TOKEN", "t0k3n")
	t.Setenv("DEST_JAAS", `org.apache.kafka.common.security.scram.ScramLoginModule required username="clusterlink" password="dest-pw";`)
	cfg, err := Load("testdata/example.yaml")
	if err != nil {
		t.Fatal(err)
	}

	wantDest := Cluster{
		BootstrapServers: []string{"dest-1:9093", "dest-2:9093"},
		Security: Security{Protocol: SASLPlaintext, SASLMechanism: MechanismScramSHA512, Username: "clusterlink",
			Password: "dest-pw"},
	}
	if !reflect.DeepEqual(cfg.Destination, wantDest) {
		t.Errorf("destination = %+v, want %+v", cfg.Destination, wantDest)
	}
	if !reflect.DeepEqual(cfg.Admin, Admin{Listen: "0.0.0.0:8090", Token: "t0k3n"}) {
		t.Errorf("admin = %+v", cfg.Admin)
	}
	if cfg.State.Topic != "_clusterlink-state" {
		t.Errorf("state = %+v", cfg.State)
	}
	if len(cfg.Links) != 2 {
		t.Fatalf("%d links", len(cfg.Links))
	}

	l := cfg.Links[0]
	if l.Name != "my-link" || !reflect.DeepEqual(l.BootstrapServers, []string{"localhost:9092"}) {
		t.Errorf("link 0 %s %v", l.Name, l.BootstrapServers)
	}
	if !l.AutoCreateMirrorTopicsEnable || !l.AutoCreateMirrorTopicsFilters.Match("orders") || l.AutoCreateMirrorTopicsFilters.Match("_schemas") {
		t.Errorf("auto create %v %v", l.AutoCreateMirrorTopicsEnable, l.AutoCreateMirrorTopicsFilters)
	}
	if !l.ConsumerOffsetSyncEnable || l.ConsumerOffsetSyncInterval != 10*time.Second || !l.ConsumerOffsetGroupFilters.Match("g") {
		t.Errorf("offset sync %v %v %v", l.ConsumerOffsetSyncEnable, l.ConsumerOffsetSyncInterval, l.ConsumerOffsetGroupFilters)
	}
	if !l.ACLSyncEnable || len(l.ACLFilters.Filters) != 1 || l.MirrorStartOffsetSpec.Kind != Latest {
		t.Errorf("acl %v %v start %v", l.ACLSyncEnable, l.ACLFilters, l.MirrorStartOffsetSpec)
	}
	wantMirrors := []Mirror{{Topic: "orders", SourceTopic: "orders"}, {Topic: "payments-copy", SourceTopic: "payments"}}
	if !reflect.DeepEqual(l.Mirrors, wantMirrors) {
		t.Errorf("mirrors %+v", l.Mirrors)
	}

	l = cfg.Links[1]
	wantSec := Security{Protocol: SASLSSL, SASLMechanism: MechanismPlain, Username: "eu-user", Password: "eu-secret",
		CALocation: "testdata/ca.pem", CertificateLocation: "testdata/client.pem", KeyLocation: "testdata/client-key.pem"}
	if l.Name != "dr.eu-west_1" || l.Security != wantSec || l.Source().Security != wantSec {
		t.Errorf("link 1 %s %+v", l.Name, l.Security)
	}
	if !reflect.DeepEqual(l.BootstrapServers, []string{"eu-1.example.com:9094", "eu-2.example.com:9094"}) {
		t.Errorf("bootstrap %v", l.BootstrapServers)
	}
	if l.ClusterLinkPrefix != "eu." || !l.ConsumerGroupPrefixEnable || l.ReplicaFetchMaxBytes != 1048576 ||
		!l.MirrorStartOffsetSpec.Time.Equal(time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)) {
		t.Errorf("link 1 %+v", l)
	}
	if !reflect.DeepEqual(l.Mirrors, []Mirror{{Topic: "eu.orders", SourceTopic: "orders"}}) {
		t.Errorf("mirrors %+v", l.Mirrors)
	}
	for _, c := range []Cluster{cfg.Destination, l.Source()} {
		if _, err := c.KgoOpts(); err != nil {
			t.Errorf("KgoOpts: %v", err)
		}
	}
}

func TestParseDefaults(t *testing.T) {
	cfg, err := Parse([]byte("destination:\n  bootstrap.servers: localhost:9093\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{
		Destination: Cluster{BootstrapServers: []string{"localhost:9093"}, Security: Security{Protocol: Plaintext}},
		Admin:       Admin{Listen: "127.0.0.1:8090"},
		State:       State{Topic: "_clusterlink-state"},
		Memory:      Memory{BudgetBytes: 256 << 20},
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("got %+v, want %+v", cfg, want)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{name: "metrics.partition.level is a boolean", yaml: "destination:\n  bootstrap.servers: d:9093\nmetrics:\n  partition.level: sometimes\n",
			want: []string{`line 4: metrics.partition.level: "sometimes" is not true or false`}},
		{name: "memory.budget.bytes is a whole number of bytes", yaml: "destination:\n  bootstrap.servers: d:9093\nmemory:\n  budget.bytes: 256MiB\n",
			want: []string{`line 4: memory.budget.bytes: "256MiB" is not a whole number of bytes (for example 268435456 for 256 MiB)`}},
		{name: "memory.budget.bytes has a minimum", yaml: "destination:\n  bootstrap.servers: d:9093\nmemory:\n  budget.bytes: 1048576\n",
			want: []string{`line 4: memory.budget.bytes: 1048576 is below the minimum 16777216 (16 MiB): the budget must hold a few fetches of Kafka's default message.max.bytes`}},
		{name: "empty file", yaml: "",
			want: []string{"destination.bootstrap.servers: required: the destination cluster's host:port list"}},
		{name: "unknown fields everywhere with lines", yaml: `
destination:
  bootstrap.servers: d:9093
  bootstrap.server: d:9093
admn:
  listen: x:1
state:
  topik: t
links:
  - name: l
    config:
      bootstrap.servers: s:9092
    mirrors:
      - topic: a
        source_topic: b
`,
			want: []string{
				`line 4: destination.bootstrap.server: unknown destination config; did you mean "bootstrap.servers"?`,
				`line 5: admn: unknown field; did you mean "admin"?`,
				`line 8: state.topik: unknown field; did you mean "topic"?`,
				`line 10: links[0].configs.bootstrap.servers: required: a comma-separated list of host:port`,
				`line 11: links[0].config: unknown field; did you mean "configs"?`,
				`line 15: links[0].mirrors[0].source_topic: unknown field; did you mean "source.topic"?`,
			}},
		{name: "link config errors are prefixed and have lines", yaml: `
destination:
  bootstrap.servers: d:9093
links:
  - name: a
    configs:
      bootstrap.servers: s:9092
  - name: b
    configs:
      bootstrap.servers: s:9092
      acl.sync.ms: 500
      acl.sync.enable: true
      replica.fetch.max.bytes: 0
`,
			want: []string{
				"line 11: links[1].configs.acl.sync.ms: 500 is below the minimum 1000",
				"line 12: links[1].configs.acl.sync.enable: true needs acl.filters with at least one filter",
				"line 13: links[1].configs.replica.fetch.max.bytes: 0 is below the minimum 1",
			}},
		{name: "filter JSON errors keep their JSON position", yaml: `
destination: {bootstrap.servers: "d:9093"}
links:
  - name: a
    configs:
      bootstrap.servers: s:9092
      auto.create.mirror.topics.enable: true
      auto.create.mirror.topics.filters: '{"topicFilters":[{"name":"*","patternType":"LITERL","filterType":"INCLUDE"}]}'
`,
			want: []string{`line 8: links[0].configs.auto.create.mirror.topics.filters: topicFilters[0].patternType: "LITERL" is not one of LITERAL, PREFIXED (JSON line 1, column 44, offset 43)`}},
		{name: "link names", yaml: `
destination: {bootstrap.servers: "d:9093"}
links:
  - name: a
    configs: {bootstrap.servers: "s:1"}
  - name: a
    configs: {bootstrap.servers: "s:1"}
  - name: "a b"
    configs: {bootstrap.servers: "s:1"}
  - configs: {bootstrap.servers: "s:1"}
`,
			want: []string{
				`line 6: links[1].name: link "a" is already defined by links[0]`,
				`line 8: links[2].name: "a b" is not a link name: use one or more of [A-Za-z0-9._-]`,
				`line 10: links[3].name: "" is not a link name: use one or more of [A-Za-z0-9._-]`,
			}},
		{name: "mirrors", yaml: `
destination: {bootstrap.servers: "d:9093"}
links:
  - name: a
    configs: {bootstrap.servers: "s:1", cluster.link.prefix: "eu."}
    mirrors:
      - topic: eu.orders
      - topic: eu.orders
      - topic: orders
      - topic: "bad topic"
      - source.topic: x
`,
			want: []string{
				`line 8: links[0].mirrors[1].topic: mirror topic "eu.orders" is already defined by links[0].mirrors[0]`,
				`line 9: links[0].mirrors[2].topic: "orders" must be cluster.link.prefix + source.topic = "eu.orders"`,
				`line 10: links[0].mirrors[3].topic: "bad topic" is not a topic name: use one or more of [a-zA-Z0-9._-]`,
				`line 11: links[0].mirrors[4].topic: required: the mirror topic's name on the destination`,
			}},
		{name: "admin and state", yaml: `
destination: {bootstrap.servers: "d:9093", security.protocol: SSL, ssl.truststore.location: /t.jks}
admin:
  listen: localhost
  token: ${env:CL_TEST_NO_SUCH_TOKEN}
state:
  topic: "state topic"
`,
			want: []string{
				"line 2: destination.ssl.truststore.location: cannot read the truststore: open /t.jks: no such file or directory",
				`line 4: admin.listen: "localhost" is not host:port`,
				"line 5: admin.token: environment variable CL_TEST_NO_SUCH_TOKEN is not set",
				`line 7: state.topic: "state topic" is not a topic name: use one or more of [a-zA-Z0-9._-]`,
			}},
		{name: "wrong YAML shapes", yaml: `
destination: [d:9093]
links:
  - name: a
    configs:
      bootstrap.servers: [s:1]
`,
			want: []string{
				"line 2: destination: expected a mapping of key: value, not a list",
				"line 6: links[0].configs.bootstrap.servers: expected a single value (string, number or boolean), not a list",
				"line 2: destination.bootstrap.servers: required: the destination cluster's host:port list",
				"line 6: links[0].configs.bootstrap.servers: required: a comma-separated list of host:port",
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.yaml))
			checkLines(t, err, tt.want)
		})
	}
}

func TestParseUnquotedValues(t *testing.T) {
	cfg, err := Parse([]byte(`
destination: {bootstrap.servers: "d:9093"}
links:
  - name: a
    configs:
      bootstrap.servers: s:1
      cluster.link.paused: true
      acl.sync.ms: 7000
      replica.fetch.max.bytes: 1048576
      cluster.link.prefix:
`))
	if err != nil {
		t.Fatal(err)
	}
	l := cfg.Links[0]
	if !l.ClusterLinkPaused || l.ACLSyncInterval != 7*time.Second || l.ReplicaFetchMaxBytes != 1048576 || l.ClusterLinkPrefix != "" {
		t.Errorf("got %+v", l)
	}
}

func TestLoadErrors(t *testing.T) {
	if _, err := Load(filepath.Join(t.TempDir(), "missing.yaml")); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	path := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(path, []byte("destination:\n  bootstrap.servers: d:9093\nlinks:\n  - name: a\n    configs: {acl.sync.ms: 5}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	checkLines(t, err, []string{
		path + ":5: links[0].configs.acl.sync.ms: 5 is below the minimum 1000",
		path + ":5: links[0].configs.bootstrap.servers: required: a comma-separated list of host:port",
	})
	fes := FieldErrors(err)
	if len(fes) != 2 || fes[0].File != path || fes[0].Line != 5 || fes[0].Key != "links[0].configs.acl.sync.ms" {
		t.Errorf("FieldErrors = %+v", fes)
	}
	if _, err := Parse([]byte("destination: [\n")); err == nil || !strings.HasPrefix(err.Error(), "invalid YAML: yaml: line") {
		t.Errorf("syntax error: %v", err)
	}
}

func TestParseMemoryBudget(t *testing.T) {
	cfg, err := Parse([]byte("destination:\n  bootstrap.servers: d:9093\nmemory:\n  budget.bytes: 67108864\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Memory.BudgetBytes != 64<<20 {
		t.Errorf("memory.budget.bytes: 67108864 parsed as %d", cfg.Memory.BudgetBytes)
	}
}

func TestParseMetricsPartitionLevelOff(t *testing.T) {
	cfg, err := Parse([]byte("destination:\n  bootstrap.servers: d:9093\nmetrics:\n  partition.level: false\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Metrics.PartitionLevelOff {
		t.Error("metrics.partition.level: false parsed as true")
	}
}
