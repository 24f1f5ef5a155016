package config

import (
	"maps"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseLinkDefaults(t *testing.T) {
	l, err := ParseLink("my-link", map[string]string{"bootstrap.servers": "localhost:9092"})
	if err != nil {
		t.Fatal(err)
	}
	want := &Link{
		Name:                    "my-link",
		BootstrapServers:        []string{"localhost:9092"},
		Security:                Security{Protocol: Plaintext},
		ClusterLinkRetryTimeout: 300000 * time.Millisecond,
		TopicConfigSyncInterval: 5000 * time.Millisecond,
		MirrorStartOffsetSpec:   MirrorStartOffsetSpec{Kind: Earliest},
		// consumer.offset.sync.enable false, consumer.group.prefix.enable false, acl.sync.enable false,
		// auto.create.mirror.topics.enable false, cluster.link.paused false, cluster.link.prefix "", no filters.
		ConsumerOffsetSyncInterval: 30000 * time.Millisecond,
		ACLSyncInterval:            5000 * time.Millisecond,
		AvailabilityCheckInterval:  60000 * time.Millisecond,
		MirrorVerifyInterval:       time.Minute, MirrorVerifySampleOffsets: 1000,
		AvailabilityCheckConsecutiveFailureThreshold: 5,
		ReplicaFetchMaxBytes:                         5242880,
		ReplicaFetchResponseMaxBytes:                 10485760,
		ReplicaFetchMinBytes:                         1,
		ReplicaFetchWaitMax:                          500 * time.Millisecond,
		ReplicaFetchBackoff:                          1000 * time.Millisecond,
		RequestTimeout:                               30000 * time.Millisecond,
		RetryBackoff:                                 100 * time.Millisecond,
		ConnectionsMaxIdle:                           600000 * time.Millisecond,
		ClientDNSLookup:                              "use_all_dns_ips",
		MetadataMaxAge:                               5 * time.Minute,
		LinkMode:                                     "DESTINATION",
		ConnectionMode:                               "OUTBOUND",
		NumClusterLinkFetchers:                       1,
		Raw:                                          map[string]string{"bootstrap.servers": "localhost:9092"},
		set:                                          map[string]bool{"bootstrap.servers": true},
	}
	if !reflect.DeepEqual(l, want) {
		t.Errorf("ParseLink defaults:\n got %+v\nwant %+v", *l, *want)
	}
}

func TestLinkConfigs(t *testing.T) {
	dir := t.TempDir()
	jaas := writeFile(t, dir, "jaas", `org.apache.kafka.common.security.plain.PlainLoginModule required username="u" password="p";`)
	l, err := ParseFileLink("my-link", map[string]string{
		"bootstrap.servers":   "a:9092, b:9092",
		"acl.sync.ms":         "2000",
		"cluster.link.prefix": "eu.",
		"security.protocol":   "SASL_PLAINTEXT",
		"sasl.mechanism":      "PLAIN",
		"sasl.jaas.config":    "${file:" + jaas + "}",
	})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]ConfigEntry{}
	var names []string
	for _, e := range l.Configs() {
		got[e.Name] = e
		names = append(names, e.Name)
	}
	if !sortedStrings(names) {
		t.Errorf("Configs not sorted by name: %v", names)
	}
	if len(names) != len(knownLinkKeys()) {
		t.Errorf("Configs has %d entries, want one per key (%d)", len(names), len(knownLinkKeys()))
	}
	wants := []ConfigEntry{
		{Name: "acl.sync.ms", Value: "2000", Source: SourceDynamicLink},
		{Name: "acl.sync.enable", Value: "false", Source: SourceDefault},
		{Name: "bootstrap.servers", Value: "a:9092,b:9092", Source: SourceDynamicLink},
		{Name: "cluster.link.prefix", Value: "eu.", Source: SourceDynamicLink, ReadOnly: true},
		{Name: "sasl.jaas.config", Value: MaskedValue, Source: SourceDynamicLink, Sensitive: true},
		{Name: "ssl.key.location", Value: "", Source: SourceDefault, Sensitive: true},
		{Name: "mirror.start.offset.spec", Value: "earliest", Source: SourceDefault},
		{Name: "consumer.offset.sync.ms", Value: "30000", Source: SourceDefault},
		{Name: "ssl.endpoint.identification.algorithm", Value: "https", Source: SourceDefault},
		{Name: "security.protocol", Value: "SASL_PLAINTEXT", Source: SourceDynamicLink},
	}
	for _, w := range wants {
		if got[w.Name] != w {
			t.Errorf("Configs()[%s] = %+v, want %+v", w.Name, got[w.Name], w)
		}
	}
	for _, e := range l.Configs() {
		if strings.Contains(e.Value, `"p"`) {
			t.Errorf("%s shows the password", e.Name)
		}
	}
	if l.Security.Username != "u" || l.Security.Password != "p" {
		t.Errorf("credentials %q/%q", l.Security.Username, l.Security.Password)
	}
}

// TestParseLinkValidation checks every validation message; each case starts from a valid config.
func TestParseLinkValidation(t *testing.T) {
	valid := map[string]string{"bootstrap.servers": "localhost:9092"}
	const topics = `{"topicFilters":[{"name":"*","patternType":"LITERAL","filterType":"INCLUDE"}]}`
	tests := []struct {
		name string
		set  map[string]string
		drop string
		want []string // each a whole line of the error
	}{
		{name: "bootstrap required", drop: "bootstrap.servers",
			want: []string{"bootstrap.servers: required: a comma-separated list of host:port"}},
		{name: "bootstrap without port", set: map[string]string{"bootstrap.servers": "a:9092,b"},
			want: []string{`bootstrap.servers: "b" is not host:port`}},
		{name: "bootstrap bad port and empty entry", set: map[string]string{"bootstrap.servers": "a:0,,c:x"},
			want: []string{
				`bootstrap.servers: "a:0" is not host:port with a port in 1-65535`,
				`bootstrap.servers: entry 2 is empty`,
				`bootstrap.servers: "c:x" is not host:port with a port in 1-65535`}},
		{name: "acl.sync.ms minimum", set: map[string]string{"acl.sync.ms": "500"},
			want: []string{"acl.sync.ms: 500 is below the minimum 1000"}},
		{name: "ms minimums", set: map[string]string{"topic.config.sync.ms": "999", "consumer.offset.sync.ms": "0",
			"availability.check.ms": "10", "cluster.link.retry.timeout.ms": "-1", "request.timeout.ms": "100",
			"connections.max.idle.ms": "5", "replica.fetch.wait.max.ms": "0", "replica.fetch.backoff.ms": "0",
			"retry.backoff.ms": "0"},
			want: []string{
				"availability.check.ms: 10 is below the minimum 1000",
				"cluster.link.retry.timeout.ms: -1 is below the minimum 1000",
				"connections.max.idle.ms: 5 is below the minimum 1000",
				"consumer.offset.sync.ms: 0 is below the minimum 1000",
				"replica.fetch.backoff.ms: 0 is below the minimum 1",
				"replica.fetch.wait.max.ms: 0 is below the minimum 1",
				"request.timeout.ms: 100 is below the minimum 1000",
				"retry.backoff.ms: 0 is below the minimum 1",
				"topic.config.sync.ms: 999 is below the minimum 1000"}},
		{name: "ms not a number", set: map[string]string{"acl.sync.ms": "5s"},
			want: []string{`acl.sync.ms: "5s" is not a whole number`}},
		{name: "ms overflow", set: map[string]string{"acl.sync.ms": "99999999999999999999"},
			want: []string{"acl.sync.ms: 99999999999999999999 is above the maximum 9223372036854"}},
		{name: "booleans only true or false", set: map[string]string{"cluster.link.paused": "1", "acl.sync.enable": "yes"},
			want: []string{`acl.sync.enable: "yes" is not true or false`, `cluster.link.paused: "1" is not true or false`}},
		{name: "acl sync without filters", set: map[string]string{"acl.sync.enable": "true"},
			want: []string{"acl.sync.enable: true needs acl.filters with at least one filter"}},
		{name: "acl sync with an empty filter list", set: map[string]string{"acl.sync.enable": "true", "acl.filters": `{"aclFilters":[]}`},
			want: []string{"acl.sync.enable: true needs acl.filters with at least one filter"}},
		{name: "offset sync without group filters", set: map[string]string{"consumer.offset.sync.enable": "true"},
			want: []string{"consumer.offset.sync.enable: true needs consumer.offset.group.filters with at least one filter"}},
		{name: "auto create without topic filters", set: map[string]string{"auto.create.mirror.topics.enable": "TRUE"},
			want: []string{"auto.create.mirror.topics.enable: true needs auto.create.mirror.topics.filters with at least one filter"}},
		{name: "bad filter is reported once, not also as missing", set: map[string]string{"auto.create.mirror.topics.enable": "true",
			"auto.create.mirror.topics.filters": `{"topicFilters":[`},
			want: []string{`auto.create.mirror.topics.filters: invalid JSON: unexpected end of JSON input (JSON line 1, column 18, offset 17)`}},
		{name: "group prefix without link prefix", set: map[string]string{"consumer.group.prefix.enable": "true"},
			want: []string{"consumer.group.prefix.enable: true needs a cluster.link.prefix"}},
		{name: "bad prefix", set: map[string]string{"cluster.link.prefix": "eu/"},
			want: []string{`cluster.link.prefix: "eu/" may hold only the characters of a topic name: [a-zA-Z0-9._-]`}},
		{name: "fetch sizes positive", set: map[string]string{"replica.fetch.max.bytes": "0", "replica.fetch.min.bytes": "-1",
			"replica.fetch.response.max.bytes": "3000000000"},
			want: []string{
				"replica.fetch.max.bytes: 0 is below the minimum 1",
				"replica.fetch.min.bytes: -1 is below the minimum 1",
				"replica.fetch.response.max.bytes: 3000000000 is above the maximum 2147483647"}},
		{name: "response max below partition max", set: map[string]string{"replica.fetch.response.max.bytes": "1048576"},
			want: []string{"replica.fetch.response.max.bytes: 1048576 is below replica.fetch.max.bytes 5242880"}},
		{name: "fetch wait not below request timeout", set: map[string]string{"replica.fetch.wait.max.ms": "30000"},
			want: []string{"replica.fetch.wait.max.ms: 30000 is not below request.timeout.ms 30000: every fetch would time out"}},
		{name: "failure threshold", set: map[string]string{"availability.check.consecutive.failure.threshold": "0"},
			want: []string{"availability.check.consecutive.failure.threshold: 0 is below the minimum 1"}},
		{name: "start offset spec", set: map[string]string{"mirror.start.offset.spec": "yesterday"},
			want: []string{`mirror.start.offset.spec: "yesterday" is not earliest, latest or an ISO-8601 timestamp (2024-05-01T12:00:00Z)`}},
		{name: "dns lookup", set: map[string]string{"client.dns.lookup": "resolve_canonical_bootstrap_servers_only"},
			want: []string{`client.dns.lookup: "resolve_canonical_bootstrap_servers_only" is not supported: only use_all_dns_ips is`}},
		{name: "unknown key with suggestion", set: map[string]string{"acl.synch.ms": "5000", "consumer.offset.sync.enabled": "true"},
			want: []string{`acl.synch.ms: unknown link config; did you mean "acl.sync.ms"?`,
				`consumer.offset.sync.enabled: unknown link config; did you mean "consumer.offset.sync.enable"?`}},
		{name: "unknown key without suggestion", set: map[string]string{"fetch.everything": "true"},
			want: []string{"fetch.everything: unknown link config"}},
		{name: "unknown link mode", set: map[string]string{"link.mode": "BOTH"},
			want: []string{`link.mode: "BOTH" is not DESTINATION or BIDIRECTIONAL (SOURCE is not supported)`}},
		{name: "source link mode", set: map[string]string{"link.mode": "source"},
			want: []string{"link.mode: SOURCE is not supported: clusterlink runs beside the destination and connects out to the " +
				"source, so no link object lives on the source; use link.mode=DESTINATION (the default)"}},
		{name: "inbound connection", set: map[string]string{"connection.mode": "INBOUND"},
			want: []string{"connection.mode: INBOUND is not supported: clusterlink connects outbound to the source; source-initiated " +
				"links are not supported, use connection.mode=OUTBOUND"}},
		{name: "more fetchers", set: map[string]string{"num.cluster.link.fetchers": "4"},
			want: []string{"num.cluster.link.fetchers: 4 is not supported: clusterlink runs one fetcher per source broker, which " +
				"fetches every partition that broker leads in one pipelined session; use 1 (the default), and " +
				"replica.fetch.max.bytes and replica.fetch.response.max.bytes for throughput"}},
		{name: "bad topic config name", set: map[string]string{"topic.config.sync.include": "retention.ms, Bad Name"},
			want: []string{`topic.config.sync.include: "Bad Name" is not a topic config name`}},
		{name: "metadata age too small", set: map[string]string{"metadata.max.age.ms": "10"},
			want: []string{"metadata.max.age.ms: 10 is below the minimum 1000"}},
		{name: "source-initiated keys", set: map[string]string{"local.security.protocol": "SSL"},
			want: []string{"local.security.protocol: not supported: local.* configs are for source-initiated and bidirectional " +
				"links; clusterlink connects outbound to the source (connection.mode=OUTBOUND, link.mode=DESTINATION), and its " +
				"destination is set in the daemon's file (destination:)"}},
		{name: "truststore without TLS", set: map[string]string{"ssl.truststore.location": "/etc/kafka/truststore.jks"},
			want: []string{"ssl.truststore.location: set, but security.protocol=PLAINTEXT uses no TLS (use SSL or SASL_SSL)"}},
		{name: "every problem at once", set: map[string]string{"acl.sync.ms": "1", "retry.backoff.ms": "x", "nope": "1"},
			want: []string{"acl.sync.ms: 1 is below the minimum 1000", `retry.backoff.ms: "x" is not a whole number`,
				"nope: unknown link config"}},
		{name: "auto create with filters is valid", set: map[string]string{"auto.create.mirror.topics.enable": "true",
			"auto.create.mirror.topics.filters": topics}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			configs := maps.Clone(valid)
			maps.Copy(configs, tt.set)
			delete(configs, tt.drop)
			_, err := ParseLink("my-link", configs)
			checkLines(t, err, tt.want)
		})
	}
}

func TestParseLinkName(t *testing.T) {
	for name, ok := range map[string]bool{"my-link": true, "dr.eu_west-1": true, "": false, "a b": false, "a/b": false} {
		_, err := ParseLink(name, map[string]string{"bootstrap.servers": "a:1"})
		if (err == nil) != ok {
			t.Errorf("ParseLink(%q): %v", name, err)
		}
		if !ok && (err == nil || !strings.HasPrefix(err.Error(), "name: ")) {
			t.Errorf("ParseLink(%q): error %v does not name the key", name, err)
		}
	}
}

func TestClosestKey(t *testing.T) {
	known := knownLinkKeys()
	tests := map[string]string{
		"acl.sync.msx":             "acl.sync.ms",
		"bootstrap.server":         "bootstrap.servers",
		"bootstrap_servers":        "bootstrap.servers",
		"topic.config.sync.ms":     "topic.config.sync.ms",
		"security.protocl":         "security.protocol",
		"ssl.ca.locaton":           "ssl.ca.location",
		"completely.different.key": "",
		"acl.sync.msxxxx":          "", // 4 edits away
	}
	for key, want := range tests {
		if got := closest(key, known); got != want {
			t.Errorf("closest(%q) = %q, want %q", key, got, want)
		}
	}
}

func TestParseMirrorStartOffsetSpec(t *testing.T) {
	tests := []struct {
		in   string
		want MirrorStartOffsetSpec
		ts   int64
	}{
		{"earliest", MirrorStartOffsetSpec{Kind: Earliest}, -2},
		{"LATEST", MirrorStartOffsetSpec{Kind: Latest}, -1},
		{"2024-05-01T12:00:00Z", MirrorStartOffsetSpec{Timestamp, time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)}, 1714564800000},
		{"2024-05-01T14:00:00.000+02:00", MirrorStartOffsetSpec{Timestamp, time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)}, 1714564800000},
		{"2024-05-01T12:00:00", MirrorStartOffsetSpec{Timestamp, time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)}, 1714564800000},
		{"2024-05-01", MirrorStartOffsetSpec{Timestamp, time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)}, 1714521600000},
	}
	for _, tt := range tests {
		got, err := ParseMirrorStartOffsetSpec(tt.in)
		if err != nil {
			t.Errorf("%s: %v", tt.in, err)
			continue
		}
		if got.Kind != tt.want.Kind || !got.Time.Equal(tt.want.Time) || got.ListOffsetsTimestamp() != tt.ts {
			t.Errorf("%s: got %+v (%d), want %+v (%d)", tt.in, got, got.ListOffsetsTimestamp(), tt.want, tt.ts)
		}
	}
	if got := (MirrorStartOffsetSpec{Timestamp, time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)}).String(); got != "2024-05-01T12:00:00.000Z" {
		t.Errorf("String() = %s", got)
	}
}

// checkLines checks that err lists exactly the want lines, in any order (or is nil when want is empty).
func checkLines(t *testing.T, err error, want []string) {
	t.Helper()
	if len(want) == 0 {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("no error, want %q", want)
	}
	got := strings.Split(err.Error(), "\n")
	gotSet := map[string]bool{}
	for _, g := range got {
		gotSet[g] = true
	}
	for _, w := range want {
		if !gotSet[w] {
			t.Errorf("missing error line %q in:\n%s", w, err)
		}
	}
	if len(got) != len(want) {
		t.Errorf("got %d error lines, want %d:\n%s", len(got), len(want), err)
	}
}

func sortedStrings(s []string) bool {
	for i := 1; i < len(s); i++ {
		if s[i-1] > s[i] {
			return false
		}
	}
	return true
}

// confluentLinkConfigs are the configs Confluent documents for a cluster link (Confluent Platform's and Cloud's
// link properties, the common client configs and the client security configs they list), with a value each.
var confluentLinkConfigs = map[string]string{
	"acl.filters":     `{"aclFilters":[{"resourceFilter":{"resourceType":"any","patternType":"any"},"accessFilter":{"operation":"any","permissionType":"any"}}]}`,
	"acl.sync.enable": "false", "acl.sync.ms": "5000",
	"auto.create.mirror.topics.enable": "false", "auto.create.mirror.topics.filters": "",
	"availability.check.consecutive.failure.threshold": "5", "availability.check.ms": "60000",
	"bootstrap.servers": "a:9092", "client.dns.lookup": "use_all_dns_ips",
	"cluster.link.paused": "false", "cluster.link.prefix": "", "cluster.link.retry.timeout.ms": "300000",
	"connection.mode": "OUTBOUND", "connections.max.idle.ms": "600000",
	"consumer.group.prefix.enable": "false", "consumer.offset.group.filters": "", "consumer.offset.sync.enable": "false",
	"consumer.offset.sync.ms": "30000", "link.mode": "DESTINATION", "metadata.max.age.ms": "300000",
	"mirror.start.offset.spec": "earliest", "num.cluster.link.fetchers": "1",
	"replica.fetch.backoff.ms": "1000", "replica.fetch.max.bytes": "5242880", "replica.fetch.min.bytes": "1",
	"replica.fetch.response.max.bytes": "10485760", "replica.fetch.wait.max.ms": "500",
	"request.timeout.ms": "30000", "retry.backoff.ms": "100",
	"topic.config.sync.include": "retention.ms,cleanup.policy", "topic.config.sync.ms": "5000",
	"local.security.protocol": "SASL_SSL", "local.sasl.mechanism": "PLAIN", "local.sasl.jaas.config": "x",
	"local.listener.name": "EXTERNAL",
	"security.protocol":   "PLAINTEXT", "sasl.mechanism": "", "sasl.jaas.config": "",
	"sasl.client.callback.handler.class": "", "sasl.login.callback.handler.class": "", "sasl.login.class": "x",
	"sasl.kerberos.service.name": "", "sasl.kerberos.kinit.cmd": "/usr/bin/kinit",
	"sasl.kerberos.min.time.before.relogin": "60000", "sasl.kerberos.ticket.renew.jitter": "0.05",
	"sasl.kerberos.ticket.renew.window.factor": "0.8", "sasl.login.refresh.buffer.seconds": "300",
	"sasl.login.refresh.min.period.seconds": "60", "sasl.login.refresh.window.factor": "0.8",
	"sasl.login.refresh.window.jitter": "0.05", "sasl.login.connect.timeout.ms": "", "sasl.login.read.timeout.ms": "",
	"sasl.login.retry.backoff.ms": "100", "sasl.login.retry.backoff.max.ms": "10000",
	"sasl.oauthbearer.token.endpoint.url": "", "sasl.oauthbearer.scope.claim.name": "scope",
	"sasl.oauthbearer.sub.claim.name": "sub", "sasl.oauthbearer.jwks.endpoint.url": "x",
	"ssl.cipher.suites": "", "ssl.enabled.protocols": "", "ssl.endpoint.identification.algorithm": "https",
	"ssl.engine.factory.class": "x", "ssl.key.password": "", "ssl.keymanager.algorithm": "SunX509",
	"ssl.keystore.certificate.chain": "", "ssl.keystore.key": "", "ssl.keystore.location": "",
	"ssl.keystore.password": "", "ssl.keystore.type": "JKS", "ssl.protocol": "TLSv1.3", "ssl.provider": "x",
	"ssl.secure.random.implementation": "SHA1PRNG", "ssl.trustmanager.algorithm": "PKIX",
	"ssl.truststore.certificates": "", "ssl.truststore.location": "", "ssl.truststore.password": "",
	"ssl.truststore.type": "JKS", "reconnect.backoff.ms": "50", "reconnect.backoff.max.ms": "1000",
	"socket.connection.setup.timeout.ms": "10000", "socket.connection.setup.timeout.max.ms": "30000",
	"send.buffer.bytes": "131072", "receive.buffer.bytes": "65536", "client.id": "x",
	"config.providers": "file", "config.providers.file.class": "org.apache.kafka.common.config.provider.FileConfigProvider",
}

// TestEveryConfluentLinkConfigIsAcceptedOrRefusedWithAReason: no Confluent key is an "unknown link config"; each
// refused one says what clusterlink supports instead.
func TestEveryConfluentLinkConfigIsAcceptedOrRefusedWithAReason(t *testing.T) {
	for key, value := range confluentLinkConfigs {
		configs := map[string]string{"bootstrap.servers": "a:9092", key: value}
		_, err := ParseLink("l", configs)
		for _, fe := range FieldErrors(err) {
			msg := fe.Err.Error()
			if strings.Contains(msg, "unknown") {
				t.Errorf("%s=%s: %v", key, value, fe)
			}
			if fe.Key == key && !strings.Contains(msg, "use") && !strings.Contains(msg, "remove it") && !strings.Contains(msg, "set") &&
				!strings.Contains(msg, "take") {
				t.Errorf("%s=%s is refused without saying what to use: %v", key, value, fe)
			}
		}
	}
}
