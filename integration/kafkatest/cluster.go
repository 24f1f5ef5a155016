package kafkatest

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"golang.org/x/sync/errgroup"
)

// BackendEnv selects how clusters are started: "process" (default: local JVM processes) or "testcontainers" (a
// Docker engine and the testcontainers-go Kafka module, run by the program of integration/testcontainers, a module
// of its own).
const BackendEnv = "CLUSTERLINK_TEST_BACKEND"

// Cluster is a running Kafka cluster of one or more KRaft nodes.
type Cluster struct {
	Nodes []*Node
	SASL  bool

	opts      options
	dir       string
	closeOnce sync.Once
	closeFn   func() // set by non-process backends
}

// Start starts a cluster and waits until every node answers metadata requests. On error nothing is left running.
func Start(ctx context.Context, opts ...Opt) (*Cluster, error) {
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	if o.nodes < 1 {
		return nil, fmt.Errorf("kafkatest: a cluster needs at least one node, got %d", o.nodes)
	}
	if os.Getenv(BackendEnv) == "testcontainers" {
		return startContainers(ctx, o)
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ { // a free port can be taken between picking it and binding it
		c, err := startProcesses(ctx, o)
		if err == nil {
			return c, nil
		}
		lastErr = err
		if ctx.Err() != nil || !strings.Contains(err.Error(), "Address already in use") {
			break
		}
	}
	return nil, lastErr
}

// StartMany starts clusters (one per option list) in parallel. On error the ones that started are returned too, so
// the caller can close them.
func StartMany(ctx context.Context, specs ...[]Opt) ([]*Cluster, error) {
	clusters := make([]*Cluster, len(specs))
	errs := make([]error, len(specs))
	var g errgroup.Group
	for i, spec := range specs {
		g.Go(func() error {
			clusters[i], errs[i] = Start(ctx, spec...)
			return nil
		})
	}
	_ = g.Wait()
	return clusters, errors.Join(errs...)
}

func startProcesses(ctx context.Context, o options) (*Cluster, error) {
	cp, err := Classpath()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "kafkatest-")
	if err != nil {
		return nil, fmt.Errorf("kafkatest: create cluster directory: %w", err)
	}
	perNode := 2 + len(o.listeners)
	ports, err := freePorts(perNode * o.nodes)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	for i, p := range o.clientPorts {
		if i < o.nodes {
			ports[2*i] = p
		}
	}
	c := &Cluster{SASL: o.sasl, opts: o, dir: dir}
	var voters []string
	for i := 0; i < o.nodes; i++ {
		n := &Node{
			ID: i + 1, Port: ports[perNode*i], ControllerPort: ports[perNode*i+1],
			dir: filepath.Join(dir, fmt.Sprintf("node-%d", i+1)), classpath: cp, heap: o.heap, logf: o.logf,
		}
		for j, l := range o.listeners {
			if n.Listeners == nil {
				n.Listeners = map[string]int{}
			}
			n.Listeners[l.Name] = ports[perNode*i+2+j]
		}
		c.Nodes = append(c.Nodes, n)
		voters = append(voters, fmt.Sprintf("%d@127.0.0.1:%d", n.ID, n.ControllerPort))
	}
	clusterID := newClusterID()
	var g errgroup.Group
	for _, n := range c.Nodes {
		if err := os.MkdirAll(n.dataDir(), 0o755); err != nil {
			c.Close()
			return nil, fmt.Errorf("kafkatest: create node directory: %w", err)
		}
		files := map[string]string{
			"server.properties": serverProperties(&o, n, strings.Join(voters, ",")),
			"log4j2.properties": log4j2Properties,
		}
		for name, content := range files {
			if err := os.WriteFile(filepath.Join(n.dir, name), []byte(content), 0o644); err != nil {
				c.Close()
				return nil, fmt.Errorf("kafkatest: write %s: %w", name, err)
			}
		}
		g.Go(func() error { return n.format(clusterID) })
	}
	if err := g.Wait(); err != nil {
		c.Close()
		return nil, err
	}
	for _, n := range c.Nodes {
		if err := n.Start(); err != nil {
			c.Close()
			return nil, err
		}
	}
	if err := c.WaitReady(ctx); err != nil {
		logs := c.LogTail(40)
		c.Close()
		return nil, fmt.Errorf("%w\n%s", err, logs)
	}
	return c, nil
}

// newClusterID makes a Kafka cluster id: 16 random bytes, URL-safe base64 without padding. Like Kafka's own
// Uuid.randomUuid it never starts with '-', which command-line parsers (the storage tool's included) take for an
// option.
func newClusterID() string {
	b := make([]byte, 16)
	for {
		_, _ = rand.Read(b)
		if id := base64.RawURLEncoding.EncodeToString(b); id[0] != '-' {
			return id
		}
	}
}

func freePorts(n int) ([]int, error) {
	var ports []int
	var listeners []net.Listener
	defer func() {
		for _, l := range listeners {
			l.Close()
		}
	}()
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("kafkatest: find a free port: %w", err)
		}
		listeners = append(listeners, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// BootstrapServers lists the client listeners of all nodes.
func (c *Cluster) BootstrapServers() []string {
	var addrs []string
	for _, n := range c.Nodes {
		addrs = append(addrs, n.Addr())
	}
	return addrs
}

// ListenerAddrs lists the addresses of every node's extra listener name (see Listener).
func (c *Cluster) ListenerAddrs(name string) []string {
	var addrs []string
	for _, n := range c.Nodes {
		if p, ok := n.Listeners[name]; ok {
			addrs = append(addrs, fmt.Sprintf("127.0.0.1:%d", p))
		}
	}
	return addrs
}

// ClientOpts returns franz-go options that reach the cluster as the super user (on a SASL cluster) or
// unauthenticated.
func (c *Cluster) ClientOpts() []kgo.Opt {
	if c.SASL {
		return c.ClientOptsAs(SuperUser, SuperPassword)
	}
	return []kgo.Opt{kgo.SeedBrokers(c.BootstrapServers()...)}
}

// ClientOptsAs returns franz-go options that authenticate with SASL/PLAIN as user.
func (c *Cluster) ClientOptsAs(user, password string) []kgo.Opt {
	return []kgo.Opt{
		kgo.SeedBrokers(c.BootstrapServers()...),
		kgo.SASL(plain.Auth{User: user, Pass: password}.AsMechanism()),
	}
}

// Client returns a new franz-go client for the cluster (see ClientOpts) with extra options. The caller closes it.
func (c *Cluster) Client(extra ...kgo.Opt) (*kgo.Client, error) {
	return kgo.NewClient(append(c.ClientOpts(), extra...)...)
}

// WaitReady waits until every running node is registered as a broker and answers a metadata request, or ctx ends,
// or a node exits. It is used after Start and after a node restart.
func (c *Cluster) WaitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 120*time.Second)
	defer cancel()
	want := map[int32]bool{}
	for _, n := range c.Nodes {
		if n.Running() {
			want[int32(n.ID)] = true
		}
	}
	cl, err := kgo.NewClient(append(c.ClientOpts(), kgo.RetryTimeout(time.Second), kgo.DialTimeout(time.Second))...)
	if err != nil {
		return fmt.Errorf("kafkatest: client for readiness check: %w", err)
	}
	defer cl.Close()
	var lastErr error
	for {
		for _, n := range c.Nodes {
			if want[int32(n.ID)] {
				if err := n.exitedEarly(); err != nil {
					return err
				}
			}
		}
		// Ask every wanted node itself, so a restarted node is known to serve requests.
		ready := 0
		for id := range want {
			req := kmsg.NewPtrMetadataRequest()
			resp, err := req.RequestWith(ctx, cl.Broker(int(id)))
			switch {
			case err != nil:
				lastErr = fmt.Errorf("node %d: %w", id, err)
			case !registered(resp, want):
				lastErr = fmt.Errorf("node %d sees %d brokers, want %d", id, len(resp.Brokers), len(want))
			default:
				ready++
			}
		}
		if ready == len(want) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("kafkatest: cluster not ready: %w (last: %v)", ctx.Err(), lastErr)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func registered(resp *kmsg.MetadataResponse, want map[int32]bool) bool {
	seen := 0
	for _, b := range resp.Brokers {
		if want[b.NodeID] {
			seen++
		}
	}
	return seen == len(want) && resp.ControllerID >= 0
}

// LogTail returns the last lines of every node's log, for a failing test's output.
func (c *Cluster) LogTail(lines int) string {
	var b strings.Builder
	for _, n := range c.Nodes {
		data, err := os.ReadFile(n.LogPath())
		if err != nil {
			continue
		}
		all := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
		if len(all) > lines {
			all = all[len(all)-lines:]
		}
		fmt.Fprintf(&b, "---- node %d log (%s), last %d lines\n%s\n", n.ID, n.LogPath(), len(all), strings.Join(all, "\n"))
	}
	return b.String()
}

// Close kills every node and removes the cluster's files (kept when KAFKATEST_KEEP=1).
func (c *Cluster) Close() {
	c.closeOnce.Do(func() {
		if c.closeFn != nil {
			c.closeFn()
			return
		}
		var errs []error
		for _, n := range c.Nodes {
			errs = append(errs, n.Kill())
		}
		if os.Getenv("KAFKATEST_KEEP") != "1" {
			os.RemoveAll(c.dir)
		}
		_ = errors.Join(errs...)
	})
}
