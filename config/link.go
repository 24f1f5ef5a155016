package config

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Link is one cluster link: its name, its source cluster and every link config of Confluent Cluster Linking, typed.
// ParseLink fills every field, with the defaults of linkKeys for the keys the user did not set.
type Link struct {
	Name string

	// The source cluster: bootstrap.servers and the security keys.
	BootstrapServers []string
	Security         Security

	ClusterLinkPrefix       string        // cluster.link.prefix, read-only once the link exists
	ClusterLinkPaused       bool          // cluster.link.paused
	ClusterLinkRetryTimeout time.Duration // cluster.link.retry.timeout.ms

	AutoCreateMirrorTopicsEnable  bool          // auto.create.mirror.topics.enable
	AutoCreateMirrorTopicsFilters TopicFilters  // auto.create.mirror.topics.filters
	TopicConfigSyncInterval       time.Duration // topic.config.sync.ms
	MirrorStartOffsetSpec         MirrorStartOffsetSpec

	// The background verifier (clusterlink's own keys): every MirrorVerifyInterval each copying partition compares
	// MirrorVerifySampleOffsets offsets at a random place with the source; 0 offsets turns it off.
	MirrorVerifyInterval      time.Duration // mirror.verify.ms
	MirrorVerifySampleOffsets int64         // mirror.verify.sample.offsets

	ConsumerOffsetSyncEnable   bool          // consumer.offset.sync.enable
	ConsumerOffsetSyncInterval time.Duration // consumer.offset.sync.ms
	ConsumerOffsetGroupFilters GroupFilters  // consumer.offset.group.filters
	ConsumerGroupPrefixEnable  bool          // consumer.group.prefix.enable

	ACLSyncEnable   bool          // acl.sync.enable
	ACLSyncInterval time.Duration // acl.sync.ms
	ACLFilters      ACLFilters    // acl.filters

	AvailabilityCheckInterval                    time.Duration // availability.check.ms
	AvailabilityCheckConsecutiveFailureThreshold int           // availability.check.consecutive.failure.threshold

	ReplicaFetchMaxBytes         int32         // replica.fetch.max.bytes (per partition)
	ReplicaFetchResponseMaxBytes int32         // replica.fetch.response.max.bytes
	ReplicaFetchMinBytes         int32         // replica.fetch.min.bytes
	ReplicaFetchWaitMax          time.Duration // replica.fetch.wait.max.ms
	ReplicaFetchBackoff          time.Duration // replica.fetch.backoff.ms

	RequestTimeout     time.Duration // request.timeout.ms
	RetryBackoff       time.Duration // retry.backoff.ms
	ConnectionsMaxIdle time.Duration // connections.max.idle.ms
	ClientDNSLookup    string        // client.dns.lookup: use_all_dns_ips
	MetadataMaxAge     time.Duration // metadata.max.age.ms: how often the source client re-reads metadata

	LinkMode               string   // link.mode: DESTINATION, or LinkModeBidirectional (the link may write to its source: failback)
	ConnectionMode         string   // connection.mode: OUTBOUND, the only mode clusterlink runs
	NumClusterLinkFetchers int      // num.cluster.link.fetchers: 1 (one fetcher per source broker)
	TopicConfigSyncInclude []string // topic.config.sync.include: topic configs named to be synced

	// Mirrors are the explicit mirror topics of the daemon file's links[].mirrors; ParseLink leaves it empty.
	Mirrors []Mirror

	// Raw are the configs as given, with the references of the daemon's file resolved: what the daemon merges API
	// changes onto.
	Raw map[string]string

	// set holds the keys the user wrote, for ConfigEntry.Source.
	set map[string]bool
}

// Mirror is an explicit mirror topic of a link in the daemon file.
type Mirror struct {
	Topic       string // the mirror topic on the destination
	SourceTopic string // the topic it copies on the source
}

// The sources of a ConfigEntry, as Confluent prints them.
const (
	SourceDynamicLink = "DYNAMIC_CLUSTER_LINK_CONFIG"
	SourceDefault     = "DEFAULT_CONFIG"
)

// LinkModeBidirectional is link.mode=BIDIRECTIONAL: the link may also write to its source cluster, with the
// source's credentials, to run failback (reverse-and-start, reverse-and-pause, truncate-and-restore).
const LinkModeBidirectional = "BIDIRECTIONAL"

// MaskedValue replaces the value of a sensitive config wherever it would be shown.
const MaskedValue = "[hidden]"

// ConfigEntry is one link config as `link describe` shows it.
type ConfigEntry struct {
	Name      string `json:"name" yaml:"name"`
	Value     string `json:"value" yaml:"value"` // MaskedValue for a sensitive config that is set
	Source    string `json:"source" yaml:"source"`
	ReadOnly  bool   `json:"readOnly" yaml:"readOnly"`
	Sensitive bool   `json:"sensitive" yaml:"sensitive"`
}

// configKey is one config key: its default, flags, and how it is parsed into and formatted from a T.
type configKey[T any] struct {
	name      string
	def       string
	readOnly  bool
	sensitive bool
	parse     func(t *T, v string) error // nil for keys parsed together elsewhere
	format    func(t *T) string
}

// Minimums and maximums of the numeric link configs. The *.ms minimums keep loops and clients from spinning.
//
//	key                                                default   minimum
//	acl.sync.ms                                           5000      1000
//	topic.config.sync.ms                                  5000      1000
//	consumer.offset.sync.ms                              30000      1000
//	availability.check.ms                                60000      1000
//	mirror.verify.ms                                     60000      1000
//	mirror.verify.sample.offsets                          1000         0 (0: no background verification)
//	cluster.link.retry.timeout.ms                       300000      1000
//	request.timeout.ms                                   30000      1000
//	connections.max.idle.ms                             600000      1000
//	replica.fetch.wait.max.ms                              500         1 (and below request.timeout.ms)
//	replica.fetch.backoff.ms                              1000         1
//	retry.backoff.ms                                       100         1
//	availability.check.consecutive.failure.threshold         5         1
//	replica.fetch.max.bytes                            5242880         1
//	replica.fetch.response.max.bytes                  10485760         1 (and at least replica.fetch.max.bytes)
//	replica.fetch.min.bytes                                  1         1
//
// Byte sizes are at most 2147483647 (an int32, as in the Fetch request).

// linkKeys is the one place where link config defaults live.
func linkKeys() []configKey[Link] {
	return []configKey[Link]{
		boolKey("acl.sync.enable", false, func(l *Link) *bool { return &l.ACLSyncEnable }),
		msKey("acl.sync.ms", 5000, 1000, func(l *Link) *time.Duration { return &l.ACLSyncInterval }),
		{name: "acl.filters", parse: func(l *Link, v string) (err error) {
			l.ACLFilters, err = ParseACLFilters(v)
			return err
		}, format: func(l *Link) string { return l.ACLFilters.String() }},
		boolKey("auto.create.mirror.topics.enable", false, func(l *Link) *bool { return &l.AutoCreateMirrorTopicsEnable }),
		{name: "auto.create.mirror.topics.filters", parse: func(l *Link, v string) (err error) {
			l.AutoCreateMirrorTopicsFilters, err = ParseTopicFilters(v)
			return err
		}, format: func(l *Link) string { return l.AutoCreateMirrorTopicsFilters.String() }},
		{name: "bootstrap.servers", parse: func(l *Link, v string) (err error) {
			l.BootstrapServers, err = parseBootstrapServers(v)
			return err
		}, format: func(l *Link) string { return strings.Join(l.BootstrapServers, ",") }},
		{name: "cluster.link.prefix", readOnly: true, parse: func(l *Link, v string) error {
			if v != "" && !nameChars(v) {
				return fmt.Errorf("%q may hold only the characters of a topic name: [a-zA-Z0-9._-]", v)
			}
			if len(v) > 200 {
				return fmt.Errorf("%d characters is too long: a mirror topic's name is the prefix and its source topic's, at most 249 characters", len(v))
			}
			l.ClusterLinkPrefix = v
			return nil
		}, format: func(l *Link) string { return l.ClusterLinkPrefix }},
		boolKey("cluster.link.paused", false, func(l *Link) *bool { return &l.ClusterLinkPaused }),
		msKey("cluster.link.retry.timeout.ms", 300000, 1000, func(l *Link) *time.Duration { return &l.ClusterLinkRetryTimeout }),
		boolKey("consumer.group.prefix.enable", false, func(l *Link) *bool { return &l.ConsumerGroupPrefixEnable }),
		{name: "consumer.offset.group.filters", parse: func(l *Link, v string) (err error) {
			l.ConsumerOffsetGroupFilters, err = ParseGroupFilters(v)
			return err
		}, format: func(l *Link) string { return l.ConsumerOffsetGroupFilters.String() }},
		boolKey("consumer.offset.sync.enable", false, func(l *Link) *bool { return &l.ConsumerOffsetSyncEnable }),
		msKey("consumer.offset.sync.ms", 30000, 1000, func(l *Link) *time.Duration { return &l.ConsumerOffsetSyncInterval }),
		msKey("topic.config.sync.ms", 5000, 1000, func(l *Link) *time.Duration { return &l.TopicConfigSyncInterval }),
		{name: "mirror.start.offset.spec", def: "earliest", parse: func(l *Link, v string) (err error) {
			l.MirrorStartOffsetSpec, err = ParseMirrorStartOffsetSpec(v)
			return err
		}, format: func(l *Link) string { return l.MirrorStartOffsetSpec.String() }},
		msKey("availability.check.ms", 60000, 1000, func(l *Link) *time.Duration { return &l.AvailabilityCheckInterval }),
		msKey("mirror.verify.ms", 60000, 1000, func(l *Link) *time.Duration { return &l.MirrorVerifyInterval }),
		{name: "mirror.verify.sample.offsets", def: "1000", parse: func(l *Link, v string) (err error) {
			l.MirrorVerifySampleOffsets, err = parseInt(v, 0, math.MaxInt32)
			return err
		}, format: func(l *Link) string { return strconv.FormatInt(l.MirrorVerifySampleOffsets, 10) }},
		{name: "availability.check.consecutive.failure.threshold", def: "5", parse: func(l *Link, v string) error {
			n, err := parseInt(v, 1, math.MaxInt32)
			l.AvailabilityCheckConsecutiveFailureThreshold = int(n)
			return err
		}, format: func(l *Link) string { return strconv.Itoa(l.AvailabilityCheckConsecutiveFailureThreshold) }},
		bytesKey("replica.fetch.max.bytes", 5242880, func(l *Link) *int32 { return &l.ReplicaFetchMaxBytes }),
		bytesKey("replica.fetch.response.max.bytes", 10485760, func(l *Link) *int32 { return &l.ReplicaFetchResponseMaxBytes }),
		bytesKey("replica.fetch.min.bytes", 1, func(l *Link) *int32 { return &l.ReplicaFetchMinBytes }),
		msKey("replica.fetch.wait.max.ms", 500, 1, func(l *Link) *time.Duration { return &l.ReplicaFetchWaitMax }),
		msKey("replica.fetch.backoff.ms", 1000, 1, func(l *Link) *time.Duration { return &l.ReplicaFetchBackoff }),
		msKey("request.timeout.ms", 30000, 1000, func(l *Link) *time.Duration { return &l.RequestTimeout }),
		msKey("retry.backoff.ms", 100, 1, func(l *Link) *time.Duration { return &l.RetryBackoff }),
		msKey("connections.max.idle.ms", 600000, 1000, func(l *Link) *time.Duration { return &l.ConnectionsMaxIdle }),
		{name: "client.dns.lookup", def: "use_all_dns_ips", parse: func(l *Link, v string) error {
			switch strings.TrimSpace(v) {
			case "use_all_dns_ips":
				l.ClientDNSLookup = "use_all_dns_ips"
				return nil
			case "resolve_canonical_bootstrap_servers_only":
				return fmt.Errorf("%q is not supported: only use_all_dns_ips is", v)
			}
			return fmt.Errorf("%q is not use_all_dns_ips", v)
		}, format: func(l *Link) string { return l.ClientDNSLookup }},
		msKey("metadata.max.age.ms", 300000, 1000, func(l *Link) *time.Duration { return &l.MetadataMaxAge }),
		{name: "link.mode", def: "DESTINATION", parse: func(l *Link, v string) error {
			switch strings.ToUpper(strings.TrimSpace(v)) {
			case "DESTINATION":
				l.LinkMode = "DESTINATION"
				return nil
			case "SOURCE":
				return errors.New("SOURCE is not supported: clusterlink runs beside the destination and connects out to the " +
					"source, so no link object lives on the source; use link.mode=DESTINATION (the default)")
			case "BIDIRECTIONAL":
				// The link may also write to its source: reverse-and-start, reverse-and-pause and
				// truncate-and-restore make a source topic a mirror of the destination's (docs/failback.md).
				l.LinkMode = LinkModeBidirectional
				return nil
			}
			return fmt.Errorf("%q is not DESTINATION or BIDIRECTIONAL (SOURCE is not supported)", v)
		}, format: func(l *Link) string { return l.LinkMode }},
		{name: "connection.mode", def: "OUTBOUND", parse: func(l *Link, v string) error {
			switch strings.ToUpper(strings.TrimSpace(v)) {
			case "OUTBOUND":
				l.ConnectionMode = "OUTBOUND"
				return nil
			case "INBOUND":
				return errors.New("INBOUND is not supported: clusterlink connects outbound to the source; source-initiated " +
					"links are not supported, use connection.mode=OUTBOUND")
			}
			return fmt.Errorf("%q is not OUTBOUND (the one mode clusterlink runs; INBOUND is not supported)", v)
		}, format: func(l *Link) string { return l.ConnectionMode }},
		{name: "num.cluster.link.fetchers", def: "1", parse: func(l *Link, v string) error {
			n, err := parseInt(v, 1, math.MaxInt32)
			if err != nil {
				return err
			}
			if n != 1 {
				return fmt.Errorf("%d is not supported: clusterlink runs one fetcher per source broker, which fetches every "+
					"partition that broker leads in one pipelined session; use 1 (the default), and replica.fetch.max.bytes "+
					"and replica.fetch.response.max.bytes for throughput", n)
			}
			l.NumClusterLinkFetchers = 1
			return nil
		}, format: func(l *Link) string { return strconv.Itoa(l.NumClusterLinkFetchers) }},
		{name: "topic.config.sync.include", parse: func(l *Link, v string) error {
			l.TopicConfigSyncInclude = nil
			var errs []error
			for _, c := range strings.Split(v, ",") {
				c = strings.TrimSpace(c)
				if c == "" {
					continue
				}
				if !topicConfigName(c) {
					errs = append(errs, fmt.Errorf("%q is not a topic config name", c))
					continue
				}
				l.TopicConfigSyncInclude = append(l.TopicConfigSyncInclude, c)
			}
			return errors.Join(errs...)
		}, format: func(l *Link) string { return strings.Join(l.TopicConfigSyncInclude, ",") }},
	}
}

// topicConfigName reports whether s looks like a Kafka topic config name (retention.ms, cleanup.policy).
func topicConfigName(s string) bool {
	for _, c := range []byte(s) {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return s != ""
}

func boolKey(name string, def bool, field func(*Link) *bool) configKey[Link] {
	return configKey[Link]{name: name, def: strconv.FormatBool(def),
		parse: func(l *Link, v string) (err error) {
			*field(l), err = parseBool(v)
			return err
		},
		format: func(l *Link) string { return strconv.FormatBool(*field(l)) }}
}

func msKey(name string, def, minimum int64, field func(*Link) *time.Duration) configKey[Link] {
	return configKey[Link]{name: name, def: strconv.FormatInt(def, 10),
		parse: func(l *Link, v string) error {
			ms, err := parseInt(v, minimum, math.MaxInt64/int64(time.Millisecond))
			*field(l) = time.Duration(ms) * time.Millisecond
			return err
		},
		format: func(l *Link) string { return strconv.FormatInt(field(l).Milliseconds(), 10) }}
}

func bytesKey(name string, def int32, field func(*Link) *int32) configKey[Link] {
	return configKey[Link]{name: name, def: strconv.FormatInt(int64(def), 10),
		parse: func(l *Link, v string) error {
			n, err := parseInt(v, 1, math.MaxInt32)
			*field(l) = int32(n)
			return err
		},
		format: func(l *Link) string { return strconv.FormatInt(int64(*field(l)), 10) }}
}

// parseBool accepts true and false, in any case, as Kafka does; nothing else (no 1, yes or on).
func parseBool(v string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, fmt.Errorf("%q is not true or false", v)
}

// parseInt parses a whole number in [minimum, maximum].
func parseInt(v string, minimum, maximum int64) (int64, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	switch {
	case err != nil && errors.Is(err, strconv.ErrRange), err == nil && n > maximum:
		return 0, fmt.Errorf("%s is above the maximum %d", v, maximum)
	case err != nil:
		return 0, fmt.Errorf("%q is not a whole number", v)
	case n < minimum:
		return 0, fmt.Errorf("%d is below the minimum %d", n, minimum)
	}
	return n, nil
}

// parseBootstrapServers parses a comma-separated host:port list.
func parseBootstrapServers(v string) ([]string, error) {
	if strings.TrimSpace(v) == "" {
		return nil, errors.New("required: a comma-separated list of host:port")
	}
	var out []string
	var errs []error
	for i, s := range strings.Split(v, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			errs = append(errs, fmt.Errorf("entry %d is empty", i+1))
			continue
		}
		host, port, err := net.SplitHostPort(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("%q is not host:port", s))
			continue
		}
		if p, err := strconv.Atoi(port); host == "" || err != nil || p < 1 || p > 65535 {
			errs = append(errs, fmt.Errorf("%q is not host:port with a port in 1-65535", s))
			continue
		}
		out = append(out, s)
	}
	return out, errors.Join(errs...)
}

// nameChars reports whether s is not empty and holds only [A-Za-z0-9._-]: the characters of a Kafka topic name, of
// cluster.link.prefix and of a link name.
func nameChars(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// MaxLinkNameLength bounds a link name: the names derived from it must stay within Kafka's and the client's
// limits (the source client id "clusterlink-<name>" at most 256 characters, the transactional ids of the link's
// destination producers, the keys of the state topic).
const MaxLinkNameLength = 200

// ValidateLinkName checks that a link name is 1 to MaxLinkNameLength of [A-Za-z0-9._-].
func ValidateLinkName(name string) error {
	if !nameChars(name) {
		return fmt.Errorf("%q is not a link name: use one or more of [A-Za-z0-9._-]", name)
	}
	if len(name) > MaxLinkNameLength {
		return fmt.Errorf("link name %s... is %d characters long: at most %d (the link's client id and transactional ids are made from it)",
			name[:32], len(name), MaxLinkNameLength)
	}
	return nil
}

// IsReadOnly reports whether a link config cannot change once the link exists (cluster.link.prefix).
func IsReadOnly(key string) bool {
	for _, k := range linkKeys() {
		if k.name == key {
			return k.readOnly
		}
	}
	for _, k := range securityKeys() {
		if k.name == key {
			return k.readOnly
		}
	}
	return false
}

// RawConfigs lists configs as they were given, sensitive values masked, for a link whose configs do not parse:
// `link describe` still shows what is set.
func RawConfigs(raw map[string]string) []ConfigEntry {
	var out []ConfigEntry
	for _, k := range sortedKeys(raw) {
		e := ConfigEntry{Name: k, Value: raw[k], Source: SourceDynamicLink, ReadOnly: IsReadOnly(k), Sensitive: IsSensitive(k)}
		if e.Sensitive && e.Value != "" {
			e.Value = MaskedValue
		}
		out = append(out, e)
	}
	return out
}

// unsupportedLinkKey says why a Confluent link config (or a Kafka client config Confluent takes on a link) is not
// supported and what to use instead, or "".
func unsupportedLinkKey(key string) string {
	switch key {
	case "reconnect.backoff.ms", "reconnect.backoff.max.ms", "retry.backoff.max.ms", "socket.connection.setup.timeout.ms",
		"socket.connection.setup.timeout.max.ms", "send.buffer.bytes", "receive.buffer.bytes", "default.api.timeout.ms":
		return "not supported: clusterlink's Kafka client keeps its own connection and retry timing; it takes " +
			"request.timeout.ms, retry.backoff.ms, connections.max.idle.ms and metadata.max.age.ms"
	case "client.id":
		return "not supported: the link's client id is clusterlink-<link name>, which its transactional ids and quotas follow; remove it"
	case "cluster.link.metadata.topic.replication.factor", "cluster.link.metadata.topic.partitions",
		"cluster.link.metadata.topic.min.insync.replicas", "cluster.link.metadata.topic.enable":
		return "not supported: clusterlink keeps its links in the daemon's state topic (state.topic in the daemon's file)"
	}
	switch {
	case strings.HasPrefix(key, "local."):
		return "not supported: local.* configs are for source-initiated and bidirectional links; clusterlink connects " +
			"outbound to the source (connection.mode=OUTBOUND, link.mode=DESTINATION), and its destination is set in the " +
			"daemon's file (destination:)"
	case strings.HasPrefix(key, "config.providers"):
		return "not needed: the daemon's own file resolves ${env:NAME}, ${file:/path}, ${file:/path:key} and " +
			"${directory:/dir:name} without declaring providers; remove it"
	}
	return unsupportedSecurityKey(key)
}

// knownLinkKeys is every key ParseLink accepts.
func knownLinkKeys() []string {
	var keys []string
	for _, k := range linkKeys() {
		keys = append(keys, k.name)
	}
	for _, k := range securityKeys() {
		keys = append(keys, k.name)
	}
	return keys
}

// ParseLink parses and validates a link's configs as the admin API gets them and the state topic keeps them
// (Confluent's names, values as strings, taken literally: a ${env:...} or ${file:...} reference is refused), applies
// the defaults to the keys not set and returns every problem, joined, as FieldErrors keyed by the config key
// ("name" for the link name).
func ParseLink(name string, configs map[string]string) (*Link, error) {
	return parseNamedLink(name, configs, false, false)
}

// ParseFileLink is ParseLink for configs of the daemon's own file: ${env:...} and ${file:...} references are
// resolved (Raw holds the resolved values). Never use it on input from the API or the state topic.
func ParseFileLink(name string, configs map[string]string) (*Link, error) {
	return parseNamedLink(name, configs, true, true)
}

// ParseDeclaredLink is ParseLink for a link the daemon's file declares, run again from its resolved Raw with the
// API's changes on top, when those changes leave its AuthenticationKeys alone: values are taken literally, but the
// authentication that uses the daemon host's own credentials (AWS_MSK_IAM, a Kerberos ticket cache, a file://
// OAUTHBEARER token) is allowed, as the file asked for it.
func ParseDeclaredLink(name string, configs map[string]string) (*Link, error) {
	return parseNamedLink(name, configs, false, true)
}

// AuthenticationKeys are the keys that choose how a link authenticates to its source: security.protocol and the
// sasl.* keys. A change to any of them over the API makes a declared link an API link for ParseDeclaredLink's rule.
func AuthenticationKeys() []string { return append([]string{keySecurityProtocol}, saslKeys()...) }

func parseNamedLink(name string, configs map[string]string, resolve, trusted bool) (*Link, error) {
	var probs problems
	if err := ValidateLinkName(name); err != nil {
		probs.addErr("name", err)
	}
	l, err := parseLink(name, configs, resolve, trusted)
	for _, fe := range FieldErrors(err) {
		probs = append(probs, fe)
	}
	if len(probs) > 0 {
		return nil, probs.join()
	}
	return l, nil
}

// parseLink is ParseLink without the name check. It returns the link even when there are problems. With resolve
// (the daemon's own file) ${env:...} and ${file:...} references are resolved and Raw holds the resolved values;
// without it (the admin API, the state topic) every value is taken as it is and a reference is refused: such input
// must never make the daemon read its own environment or files.
//
// trusted allows the authentication that uses the daemon host's own credentials (see parseSecurity).
func parseLink(name string, configs map[string]string, resolve, trusted bool) (*Link, error) {
	var probs problems
	var values map[string]string
	var failed map[string]bool
	if resolve {
		values, failed = resolveSecrets(configs, &probs)
	} else {
		values, failed = refuseReferences(configs, &probs)
	}
	l := &Link{Name: name, set: map[string]bool{}, Raw: maps.Clone(values)}

	known := knownLinkKeys()
	for _, k := range sortedKeys(configs) {
		switch {
		case slices.Contains(known, k):
			l.set[k] = true
		case unsupportedLinkKey(k) != "":
			probs.add(k, "%s", unsupportedLinkKey(k))
		default:
			probs.addErr(k, unknownKey("link config", k, known))
		}
	}

	bad := map[string]bool{}
	for _, k := range linkKeys() {
		v, ok := values[k.name]
		if !ok {
			v = k.def
		}
		if err := k.parse(l, v); err != nil && !failed[k.name] {
			bad[k.name] = true
			addAll(&probs, k.name, err)
		}
	}
	security := map[string]string{}
	for _, k := range securityKeys() {
		if v, ok := values[k.name]; ok {
			security[k.name] = v
		}
	}
	var secProbs problems
	l.Security = parseSecurity(security, &secProbs, trusted)
	for _, fe := range FieldErrors(secProbs.join()) {
		if !failed[fe.Key] { // the unresolved reference is the problem, not its absence
			probs = append(probs, fe)
		}
	}

	// Rules over several keys, checked when the keys involved are valid.
	ok := func(keys ...string) bool {
		for _, k := range keys {
			if bad[k] || failed[k] {
				return false
			}
		}
		return true
	}
	if l.ACLSyncEnable && len(l.ACLFilters.Filters) == 0 && ok("acl.filters") {
		probs.add("acl.sync.enable", "true needs acl.filters with at least one filter")
	}
	if l.ConsumerOffsetSyncEnable && len(l.ConsumerOffsetGroupFilters.Filters) == 0 && ok("consumer.offset.group.filters") {
		probs.add("consumer.offset.sync.enable", "true needs consumer.offset.group.filters with at least one filter")
	}
	if l.AutoCreateMirrorTopicsEnable && len(l.AutoCreateMirrorTopicsFilters.Filters) == 0 && ok("auto.create.mirror.topics.filters") {
		probs.add("auto.create.mirror.topics.enable", "true needs auto.create.mirror.topics.filters with at least one filter")
	}
	if l.ConsumerGroupPrefixEnable && l.ClusterLinkPrefix == "" && ok("cluster.link.prefix") {
		probs.add("consumer.group.prefix.enable", "true needs a cluster.link.prefix")
	}
	if l.ReplicaFetchResponseMaxBytes < l.ReplicaFetchMaxBytes && ok("replica.fetch.max.bytes", "replica.fetch.response.max.bytes") {
		probs.add("replica.fetch.response.max.bytes", "%d is below replica.fetch.max.bytes %d",
			l.ReplicaFetchResponseMaxBytes, l.ReplicaFetchMaxBytes)
	}
	if l.ReplicaFetchWaitMax >= l.RequestTimeout && ok("replica.fetch.wait.max.ms", "request.timeout.ms") {
		probs.add("replica.fetch.wait.max.ms", "%d is not below request.timeout.ms %d: every fetch would time out",
			l.ReplicaFetchWaitMax.Milliseconds(), l.RequestTimeout.Milliseconds())
	}
	return l, probs.join()
}

// addAll adds one FieldError under key for each error joined in err.
func addAll(probs *problems, key string, err error) {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			addAll(probs, key, e)
		}
		return
	}
	probs.addErr(key, err)
}

// Configs returns every link config with its effective value, sorted by name, as `link describe` shows them:
// sensitive values masked, Source DYNAMIC_CLUSTER_LINK_CONFIG for the keys the user set and DEFAULT_CONFIG for the
// others.
func (l *Link) Configs() []ConfigEntry {
	var out []ConfigEntry
	entry := func(name, value string, readOnly, sensitive bool) {
		e := ConfigEntry{Name: name, Value: value, Source: SourceDefault, ReadOnly: readOnly, Sensitive: sensitive}
		if l.set[name] {
			e.Source = SourceDynamicLink
		}
		if sensitive && value != "" {
			e.Value = MaskedValue
		}
		out = append(out, e)
	}
	for _, k := range linkKeys() {
		entry(k.name, k.format(l), k.readOnly, k.sensitive)
	}
	for _, k := range securityKeys() {
		entry(k.name, k.format(&l.Security), k.readOnly, k.sensitive)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// IsSensitive reports whether a config key holds a secret whose value must never be shown or logged:
// sasl.jaas.config, any key naming a password or a secret, ssl.key.location and the inline key ssl.keystore.key.
func IsSensitive(key string) bool {
	return key == keySASLJAASConfig || strings.Contains(key, "password") || strings.Contains(key, "secret") ||
		key == keySSLKeyLocation || key == keyKeyStoreKey
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
