package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.yaml.in/yaml/v3"
)

// Config is the daemon's file:
//
//	destination:                      # the destination cluster: bootstrap.servers and the security keys
//	  bootstrap.servers: localhost:9093
//	admin:
//	  listen: 127.0.0.1:8090          # default
//	  token: ${env:CLUSTERLINK_TOKEN} # optional bearer token (set but empty is an error)
//	  tls.certificate.location: /etc/clusterlink/admin.crt   # optional: serve HTTPS (PEM), with
//	  tls.key.location: /etc/clusterlink/admin.key
//	  tls.client.ca.location: /etc/clusterlink/clients.pem   # optional: require client certificates (mTLS)
//	  metrics.public: false           # true: /metrics needs no token or client certificate
//	  allow.unauthenticated.remote: false  # true: listen beyond loopback with neither token nor mTLS
//	  allowed.file.dirs: [/etc/clusterlink/certs]  # where ssl.*.location given over the API may point
//	state:
//	  topic: _clusterlink-state       # default
//	  encryption.key: ${file:/etc/clusterlink/state.key}  # 32 bytes, base64 or hex: seals every state record
//	  encryption.old.keys: []         # keys of before a rotation, to read records sealed with them
//	metrics:
//	  partition.level: true           # default: per-partition series besides the link and topic aggregates
//	memory:
//	  budget.bytes: 268435456         # default 256 MiB: fetched and queued batches of every link, at most
//	links:
//	  - name: my-link
//	    configs: {bootstrap.servers: localhost:9092}   # Confluent's link configs, see Link
//	    mirrors:                      # optional explicit mirror topics
//	      - topic: orders             # the mirror topic on the destination
//	        source.topic: orders      # default: topic (without cluster.link.prefix)
type Config struct {
	Destination Cluster
	Admin       Admin
	State       State
	Metrics     Metrics
	Memory      Memory
	Links       []*Link
}

// Memory bounds what the daemon holds of the data it copies.
type Memory struct {
	// BudgetBytes (memory.budget.bytes) bounds the bytes of fetched record batches the daemon holds at once, across
	// every link and partition, from the fetch until they are written: fetches wait and shrink to stay within it.
	BudgetBytes int64
}

// The memory budget's default and least value: the least fits four fetches of Kafka's default message.max.bytes
// and the batches of earlier fetches being written.
const (
	DefaultMemoryBudgetBytes = 256 << 20
	MinMemoryBudgetBytes     = 16 << 20
)

// Metrics shapes what /metrics exports.
type Metrics struct {
	// PartitionLevelOff (metrics.partition.level: false) leaves out the per-partition series (lag, offsets, copy
	// counters: about 15 per mirror partition); the link and mirror (topic) aggregates are always exported. The
	// zero value, as the file's default, exports them.
	PartitionLevelOff bool
}

// Cluster is a cluster the daemon connects to: the destination, or a link's source (Link.Source).
type Cluster struct {
	BootstrapServers []string
	Security         Security
	// MetadataMaxAge is metadata.max.age.ms for a link's source; 0 keeps franz-go's default.
	MetadataMaxAge time.Duration
}

// KgoOpts returns the franz-go options to reach the cluster: kgo.SeedBrokers, Security.KgoOpts and
// kgo.MetadataMaxAge.
func (c Cluster) KgoOpts() ([]kgo.Opt, error) {
	opts, err := c.Security.KgoOpts()
	if err != nil {
		return nil, err
	}
	opts = append([]kgo.Opt{kgo.SeedBrokers(c.BootstrapServers...)}, opts...)
	if c.MetadataMaxAge > 0 {
		opts = append(opts, kgo.MetadataMaxAge(c.MetadataMaxAge))
	}
	return opts, nil
}

// Source returns the link's source cluster.
func (l *Link) Source() Cluster {
	return Cluster{BootstrapServers: l.BootstrapServers, Security: l.Security, MetadataMaxAge: l.MetadataMaxAge}
}

// Admin is the admin HTTP API's listener and the rule every request of it follows: with a token, each request
// carries it; with a client CA, each connection presents a certificate it signed; /healthz and /readyz are always
// open, /metrics too with MetricsPublic.
type Admin struct {
	Listen string // host:port, default 127.0.0.1:8090
	Token  string // bearer token the API requires, "" for none
	// TLSCertificate and TLSKey are PEM files: the listener serves HTTPS. TLSClientCA (PEM) makes it require and
	// verify client certificates.
	TLSCertificate, TLSKey, TLSClientCA string
	MetricsPublic                       bool
	// AllowUnauthenticatedRemote permits a listener beyond loopback with neither a token nor client certificates.
	AllowUnauthenticatedRemote bool
	// AllowedFileDirs are the directories whose files ssl.*.location configs given over the API may name; none
	// means such configs are refused over the API.
	AllowedFileDirs []string
}

// String hides the token.
func (a Admin) String() string {
	tok := ""
	if a.Token != "" {
		tok = MaskedValue
	}
	return fmt.Sprintf("{Listen:%s Token:%s}", a.Listen, tok)
}

// GoString hides the token from %#v too.
func (a Admin) GoString() string { return "config.Admin" + a.String() }

// State is where the daemon keeps links and mirror states on the destination cluster.
type State struct {
	Topic string // compacted topic, default _clusterlink-state
	// EncryptionKey (32 bytes) seals every state record: encrypted and authenticated. OldEncryptionKeys open records
	// sealed before a rotation. Without a key, records are in clear and unauthenticated.
	EncryptionKey     []byte
	OldEncryptionKeys [][]byte
}

// String hides the keys.
func (s State) String() string {
	return fmt.Sprintf("{Topic:%s EncryptionKey:%s OldEncryptionKeys:%d}", s.Topic, maskedIf(len(s.EncryptionKey) > 0), len(s.OldEncryptionKeys))
}

// GoString hides the keys from %#v too.
func (s State) GoString() string { return "config.State" + s.String() }

func maskedIf(set bool) string {
	if set {
		return MaskedValue
	}
	return ""
}

// The daemon file's defaults.
const (
	DefaultAdminListen = "127.0.0.1:8090"
	DefaultStateTopic  = "_clusterlink-state"
)

// The daemon file as written. Values are strings: yaml.v3 turns unquoted booleans and numbers into their text.
type (
	fileConfig struct {
		Destination map[string]string `yaml:"destination"`
		Admin       adminFile         `yaml:"admin"`
		State       stateFile         `yaml:"state"`
		Metrics     metricsFile       `yaml:"metrics"`
		Memory      memoryFile        `yaml:"memory"`
		Links       []linkFile        `yaml:"links"`
	}
	memoryFile struct {
		BudgetBytes string `yaml:"budget.bytes"`
	}
	metricsFile struct {
		PartitionLevel string `yaml:"partition.level"`
	}
	adminFile struct {
		Listen                     string   `yaml:"listen"`
		Token                      *string  `yaml:"token"`
		TLSCertificate             string   `yaml:"tls.certificate.location"`
		TLSKey                     string   `yaml:"tls.key.location"`
		TLSClientCA                string   `yaml:"tls.client.ca.location"`
		MetricsPublic              string   `yaml:"metrics.public"`
		AllowUnauthenticatedRemote string   `yaml:"allow.unauthenticated.remote"`
		AllowedFileDirs            []string `yaml:"allowed.file.dirs"`
	}
	stateFile struct {
		Topic         string   `yaml:"topic"`
		EncryptionKey string   `yaml:"encryption.key"`
		OldKeys       []string `yaml:"encryption.old.keys"`
	}
	linkFile struct {
		Name    string            `yaml:"name"`
		Configs map[string]string `yaml:"configs"`
		Mirrors []mirrorFile      `yaml:"mirrors"`
	}
	mirrorFile struct {
		Topic       string `yaml:"topic"`
		SourceTopic string `yaml:"source.topic"`
	}
)

// fileSections names each struct of the file for unknown field errors, with its fields.
func fileSections() map[string][]string {
	return map[string][]string{
		"fileConfig":  {"destination", "admin", "state", "metrics", "memory", "links"},
		"metricsFile": {"partition.level"},
		"memoryFile":  {"budget.bytes"},
		"adminFile": {"listen", "token", "tls.certificate.location", "tls.key.location", "tls.client.ca.location",
			"metrics.public", "allow.unauthenticated.remote", "allowed.file.dirs"},
		"stateFile":  {"topic", "encryption.key", "encryption.old.keys"},
		"linkFile":   {"name", "configs", "mirrors"},
		"mirrorFile": {"topic", "source.topic"},
	}
}

// Load reads and parses the daemon file at path. See Parse.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	cfg, err := Parse(data)
	if err != nil {
		var probs problems
		for _, fe := range FieldErrors(err) {
			fe.File = path
			probs = append(probs, fe)
		}
		return nil, probs.join()
	}
	return cfg, nil
}

// Parse parses and validates the daemon file, applies the defaults, resolves ${env:...} and ${file:...} references,
// and returns every problem, joined, as FieldErrors keyed by their path (destination.sasl.jaas.config,
// links[0].configs.acl.sync.ms, links[1].mirrors[0].topic) with the line they are on.
func Parse(data []byte) (*Config, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, yamlError(err)
	}
	idx := indexYAML(&root)

	var probs problems
	var file fileConfig
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&file); err != nil && !errors.Is(err, io.EOF) {
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			return nil, yamlError(err)
		}
		for _, msg := range te.Errors {
			probs = append(probs, idx.typeError(msg))
		}
	}

	cfg := &Config{}
	line := func(prefix string) func(string) int {
		return func(key string) int { return idx.lineOf(prefix + key) }
	}

	// destination
	if len(file.Destination) == 0 {
		probs = append(probs, &FieldError{Key: "destination.bootstrap.servers", Line: idx.lineOf("destination"),
			Err: errors.New("required: the destination cluster's host:port list")})
	} else {
		c, err := parseCluster(file.Destination, "destination config")
		probs = append(probs, prefixed(err, "destination.", line("destination."))...)
		cfg.Destination = c
	}

	// admin
	cfg.Admin = Admin{Listen: DefaultAdminListen}
	if v, err := resolveSecret(strings.TrimSpace(file.Admin.Listen)); err != nil {
		probs = append(probs, &FieldError{Key: "admin.listen", Line: idx.lineOf("admin.listen"), Err: err})
	} else if v != "" {
		if _, port, err := net.SplitHostPort(v); err != nil || !validPort(port, 0) {
			probs = append(probs, &FieldError{Key: "admin.listen", Line: idx.lineOf("admin.listen"),
				Err: fmt.Errorf("%q is not host:port", v)})
		}
		cfg.Admin.Listen = v
	}
	if file.Admin.Token != nil {
		if v, err := resolveSecret(*file.Admin.Token); err != nil {
			probs = append(probs, &FieldError{Key: "admin.token", Line: idx.lineOf("admin.token"), Err: err})
		} else if strings.TrimSpace(v) == "" {
			probs = append(probs, &FieldError{Key: "admin.token", Line: idx.lineOf("admin.token"),
				Err: errors.New("is empty (an environment variable set to nothing?): an empty token would let every request in; give a token, or remove the key")})
		} else {
			cfg.Admin.Token = v
		}
	}
	parseAdminSecurity(&cfg.Admin, file.Admin, idx, &probs)

	// state
	cfg.State = State{Topic: DefaultStateTopic}
	if v, err := resolveSecret(strings.TrimSpace(file.State.Topic)); err != nil {
		probs = append(probs, &FieldError{Key: "state.topic", Line: idx.lineOf("state.topic"), Err: err})
	} else if v != "" {
		if err := validateTopic(v); err != nil {
			probs = append(probs, &FieldError{Key: "state.topic", Line: idx.lineOf("state.topic"), Err: err})
		}
		cfg.State.Topic = v
	}

	parseStateKeys(&cfg.State, file.State, idx, &probs)

	// metrics
	if v := strings.TrimSpace(file.Metrics.PartitionLevel); v != "" {
		b, err := parseBool(v)
		if err != nil {
			probs = append(probs, &FieldError{Key: "metrics.partition.level", Line: idx.lineOf("metrics.partition.level"), Err: err})
		}
		cfg.Metrics.PartitionLevelOff = err == nil && !b
	}

	// memory
	cfg.Memory.BudgetBytes = DefaultMemoryBudgetBytes
	if v := strings.TrimSpace(file.Memory.BudgetBytes); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		switch {
		case err != nil:
			err = fmt.Errorf("%q is not a whole number of bytes (for example %d for 256 MiB)", v, DefaultMemoryBudgetBytes)
		case n < MinMemoryBudgetBytes:
			err = fmt.Errorf("%d is below the minimum %d (16 MiB): the budget must hold a few fetches of Kafka's default message.max.bytes", n, MinMemoryBudgetBytes)
		}
		if err != nil {
			probs = append(probs, &FieldError{Key: "memory.budget.bytes", Line: idx.lineOf("memory.budget.bytes"), Err: err})
		}
		cfg.Memory.BudgetBytes = n
	}

	// links
	names := map[string]int{}
	for i, lf := range file.Links {
		at := fmt.Sprintf("links[%d]", i)
		name := strings.TrimSpace(lf.Name)
		if err := ValidateLinkName(name); err != nil {
			probs = append(probs, &FieldError{Key: at + ".name", Line: idx.lineOf(at+".name", at), Err: err})
		} else if j, dup := names[name]; dup {
			probs = append(probs, &FieldError{Key: at + ".name", Line: idx.lineOf(at + ".name"),
				Err: fmt.Errorf("link %q is already defined by links[%d]", name, j)})
		} else {
			names[name] = i
		}
		configs := at + ".configs."
		l, err := parseLink(name, lf.Configs, true, true)
		for _, fe := range prefixed(err, configs, line(configs)) {
			if fe := fe.(*FieldError); fe.Line == 0 {
				fe.Line = idx.lineOf(at+".configs", at)
			}
			probs = append(probs, fe)
		}
		l.Mirrors = parseMirrors(lf.Mirrors, l.ClusterLinkPrefix, at, idx, &probs)
		cfg.Links = append(cfg.Links, l)
	}

	if len(probs) > 0 {
		// In file order; problems without a line last.
		sort.SliceStable(probs, func(i, j int) bool {
			li, lj := probs[i].(*FieldError).Line, probs[j].(*FieldError).Line
			return li != 0 && (lj == 0 || li < lj)
		})
		return nil, probs.join()
	}
	return cfg, nil
}

// parseMirrors validates a link's explicit mirror topics.
func parseMirrors(mfs []mirrorFile, prefix, at string, idx yamlIndex, probs *problems) []Mirror {
	var out []Mirror
	seen := map[string]int{}
	for j, mf := range mfs {
		mat := fmt.Sprintf("%s.mirrors[%d]", at, j)
		fail := func(key string, err error) {
			*probs = append(*probs, &FieldError{Key: mat + "." + key, Line: idx.lineOf(mat+"."+key, mat), Err: err})
		}
		m := Mirror{Topic: strings.TrimSpace(mf.Topic), SourceTopic: strings.TrimSpace(mf.SourceTopic)}
		if m.Topic == "" {
			fail("topic", errors.New("required: the mirror topic's name on the destination"))
			continue
		}
		if err := validateTopic(m.Topic); err != nil {
			fail("topic", err)
			continue
		}
		if m.SourceTopic == "" {
			m.SourceTopic = strings.TrimPrefix(m.Topic, prefix)
		}
		if err := validateTopic(m.SourceTopic); err != nil {
			fail("source.topic", err)
			continue
		}
		if prefix != "" && m.Topic != prefix+m.SourceTopic {
			fail("topic", fmt.Errorf("%q must be cluster.link.prefix + source.topic = %q", m.Topic, prefix+m.SourceTopic))
			continue
		}
		if k, dup := seen[m.Topic]; dup {
			fail("topic", fmt.Errorf("mirror topic %q is already defined by %s.mirrors[%d]", m.Topic, at, k))
			continue
		}
		seen[m.Topic] = j
		out = append(out, m)
	}
	return out
}

// ParseCluster parses a cluster's bootstrap.servers and security keys (values resolved as in ParseLink), returning
// every problem as FieldErrors keyed by the config key.
func ParseCluster(configs map[string]string) (Cluster, error) {
	return parseCluster(configs, "cluster config")
}

func parseCluster(configs map[string]string, what string) (Cluster, error) {
	var probs problems
	values, failed := resolveSecrets(configs, &probs)
	known := []string{"bootstrap.servers"}
	for _, k := range securityKeys() {
		known = append(known, k.name)
	}
	for _, k := range sortedKeys(configs) {
		switch {
		case slices.Contains(known, k):
		case unsupportedSecurityKey(k) != "":
			probs.add(k, "%s", unsupportedSecurityKey(k))
		default:
			probs.addErr(k, unknownKey(what, k, known))
		}
	}
	var c Cluster
	var err error
	if c.BootstrapServers, err = parseBootstrapServers(values["bootstrap.servers"]); err != nil && !failed["bootstrap.servers"] {
		addAll(&probs, "bootstrap.servers", err)
	}
	security := map[string]string{}
	for _, k := range known[1:] {
		if v, ok := values[k]; ok {
			security[k] = v
		}
	}
	var secProbs problems
	c.Security = parseSecurity(security, &secProbs, true)
	for _, fe := range FieldErrors(secProbs.join()) {
		if !failed[fe.Key] {
			probs = append(probs, fe)
		}
	}
	return c, probs.join()
}

// validPort reports whether port is a number in [minimum, 65535].
func validPort(port string, minimum int) bool {
	p, err := strconv.Atoi(port)
	return err == nil && p >= minimum && p <= 65535
}

// validateTopic checks a Kafka topic name: 1 to 249 of [a-zA-Z0-9._-], not "." or "..".
func validateTopic(t string) error {
	switch {
	case !nameChars(t):
		return fmt.Errorf("%q is not a topic name: use one or more of [a-zA-Z0-9._-]", t)
	case len(t) > 249:
		return fmt.Errorf("topic name %q is longer than 249 characters", t)
	case t == "." || t == "..":
		return fmt.Errorf("%q is not a topic name", t)
	}
	return nil
}

// yamlIndex maps each key's path in the file (links[0].configs.acl.sync.ms) to its line, and each line to the keys
// and values on it, to give every problem a path and a line.
type yamlIndex struct {
	lines       map[string]int      // path -> line of the key (or of the sequence item)
	keysOnLine  map[int][]yamlEntry // line -> keys that start on it
	valueOnLine map[int]string      // line -> path of a value that starts on it
}

type yamlEntry struct{ key, path string }

func indexYAML(root *yaml.Node) yamlIndex {
	idx := yamlIndex{lines: map[string]int{}, keysOnLine: map[int][]yamlEntry{}, valueOnLine: map[int]string{}}
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, path)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				p := k.Value
				if path != "" {
					p = path + "." + k.Value
				}
				idx.lines[p] = k.Line
				idx.keysOnLine[k.Line] = append(idx.keysOnLine[k.Line], yamlEntry{k.Value, p})
				// A value on its key's line is the most specific; a block value starts on a later line.
				if _, ok := idx.valueOnLine[v.Line]; !ok || v.Line == k.Line {
					idx.valueOnLine[v.Line] = p
				}
				walk(v, p)
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				p := fmt.Sprintf("%s[%d]", path, i)
				idx.lines[p] = c.Line
				walk(c, p)
			}
		}
	}
	walk(root, "")
	return idx
}

// lineOf returns the line of the first of paths that is in the file, or 0.
func (idx yamlIndex) lineOf(paths ...string) int {
	for _, p := range paths {
		if l, ok := idx.lines[p]; ok {
			return l
		}
	}
	return 0
}

// typeError turns one of yaml.v3's decoding messages into a FieldError with the path of the key at fault.
func (idx yamlIndex) typeError(msg string) error {
	m := regexp.MustCompile(`^line (\d+): (.*)$`).FindStringSubmatch(msg)
	if m == nil {
		return &FieldError{Err: errors.New(msg)}
	}
	line, _ := strconv.Atoi(m[1])
	text := m[2]
	if f := regexp.MustCompile(`^field (\S+) not found in type config\.(\w+)$`).FindStringSubmatch(text); f != nil {
		key := f[1]
		path := key
		for _, e := range idx.keysOnLine[line] {
			if e.key == key {
				path = e.path
			}
		}
		return &FieldError{Key: path, Line: line, Err: unknownKey("field", key, fileSections()[f[2]])}
	}
	if f := regexp.MustCompile(`^cannot unmarshal !!(\w+) (?:.* )?into (\S+)$`).FindStringSubmatch(text); f != nil {
		got := map[string]string{"seq": "a list", "map": "a mapping"}[f[1]]
		if got == "" {
			got = "a " + f[1]
		}
		want := "a single value (string, number or boolean)"
		switch {
		case strings.HasPrefix(f[2], "map["):
			want = "a mapping of key: value"
		case strings.HasPrefix(f[2], "[]"):
			want = "a list"
		case strings.HasPrefix(f[2], "config."):
			want = "a mapping"
		}
		return &FieldError{Key: secretSafePath(idx.valueOnLine[line]), Line: line, Err: fmt.Errorf("expected %s, not %s", want, got)}
	}
	return &FieldError{Key: secretSafePath(idx.valueOnLine[line]), Line: line, Err: errors.New(withoutQuotedText(text))}
}

// secretKeyPaths are the daemon file's keys that hold secrets, besides the link and cluster keys IsSensitive names.
var secretKeyPaths = []string{"admin.token", "state.encryption.key", "state.encryption.old.keys"}

// secretSafePath cuts a key path after the key that holds a secret: what stands below it (a mapping the YAML made
// of the value) is the secret's text.
func secretSafePath(path string) string {
	for _, p := range secretKeyPaths {
		if rest, ok := strings.CutPrefix(path, p); ok && rest != "" {
			if strings.HasPrefix(rest, "[") {
				if i := strings.Index(rest, "]"); i >= 0 {
					return p + rest[:i+1]
				}
			}
			return p
		}
	}
	segments := strings.Split(path, ".")
	for i := range segments {
		// A sensitive key's name spans segments (sasl.jaas.config): try every ending.
		for j := i + 1; j <= len(segments); j++ {
			if IsSensitive(strings.Join(segments[i:j], ".")) && j < len(segments) {
				return strings.Join(segments[:j], ".")
			}
		}
	}
	return path
}

// quotedText matches what yaml.v3 quotes of the file in its messages ('...', "...", `...`): it may be a secret.
var quotedText = regexp.MustCompile("'[^']*'|\"[^\"]*\"|`[^`]*`")

// withoutQuotedText drops the file's text from a YAML message, keeping what it says is wrong and where.
func withoutQuotedText(msg string) string { return quotedText.ReplaceAllString(msg, "…") }

// yamlError is a YAML syntax error without the file's text in it.
func yamlError(err error) error {
	return fmt.Errorf("invalid YAML: %s", withoutQuotedText(err.Error()))
}
