package kafkatest

// Opt configures a cluster started by Start.
type Opt func(*options)

type options struct {
	nodes        int
	sasl         bool
	users        map[string]string
	brokerConfig map[string]string
	listeners    []ExtraListener
	heap         string
	logf         func(format string, args ...any)
	clientPorts  []int
}

func defaultOptions() options {
	return options{
		nodes:        1,
		users:        map[string]string{},
		brokerConfig: map[string]string{},
		heap:         "768m",
	}
}

// Nodes sets how many combined broker+controller nodes the cluster has. Default 1; use 3 for failover tests
// (three voters, so one may be lost).
func Nodes(n int) Opt { return func(o *options) { o.nodes = n } }

// SASL gives the cluster a SASL_PLAINTEXT listener with the PLAIN mechanism, the StandardAuthorizer and
// allow.everyone.if.no.acl.found=false. The super user is SuperUser with SuperPassword; more users come from Users.
// Default: a PLAINTEXT listener and no authorizer.
func SASL() Opt { return func(o *options) { o.sasl = true } }

// Users adds SASL/PLAIN users (name to password). Only meaningful with SASL.
func Users(users map[string]string) Opt {
	return func(o *options) {
		for u, p := range users {
			o.users[u] = p
		}
	}
}

// BrokerConfig sets a broker config on every node, overriding the harness defaults (for example
// log.cleaner.backoff.ms or transaction.state.log.replication.factor).
func BrokerConfig(key, value string) Opt { return func(o *options) { o.brokerConfig[key] = value } }

// ExtraListener is a client listener besides the harness's own (PLAINTEXT, or SASL_PLAINTEXT with SASL), which the
// harness keeps using for its readiness checks and ClientOpts.
type ExtraListener struct {
	Name     string            // upper case, as Kafka's listener names: SCRAM, MTLS
	Protocol string            // SSL, SASL_SSL or SASL_PLAINTEXT
	Configs  map[string]string // listener-scoped broker configs, without the listener.name.<name>. prefix
}

// Listener adds a client listener named name with protocol on a port of its own on every node; configs are its
// broker configs scoped to it (sasl.enabled.mechanisms, ssl.keystore.location, scram-sha-512.sasl.jaas.config,
// ssl.client.auth), written as listener.name.<name>.<key>. Cluster.ListenerAddrs lists its addresses. Process
// backend only.
func Listener(name, protocol string, configs map[string]string) Opt {
	return func(o *options) {
		o.listeners = append(o.listeners, ExtraListener{Name: name, Protocol: protocol, Configs: configs})
	}
}

// Heap sets the JVM heap of each node (-Xmx and -Xms). Default 768m.
func Heap(size string) Opt { return func(o *options) { o.heap = size } }

// ClientPorts fixes the client listener ports of the first nodes (make brokers serves the README's
// localhost:9092 and localhost:9093). Default: free ports picked at start.
func ClientPorts(ports ...int) Opt { return func(o *options) { o.clientPorts = ports } }

// Logf receives the harness's progress lines (node started, stopped). Default: none.
func Logf(f func(format string, args ...any)) Opt { return func(o *options) { o.logf = f } }

// The SASL super user every SASL cluster has. The controller listener (loopback only) is PLAINTEXT, so
// User:ANONYMOUS is a super user too: it is how the nodes talk to the controller quorum.
const (
	SuperUser     = "admin"
	SuperPassword = "admin-secret"
)
