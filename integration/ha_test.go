package integration

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/clusterlink/clusterlink/config"
	"github.com/clusterlink/clusterlink/controlplane/adminapi"
	"github.com/clusterlink/clusterlink/controlplane/daemon"
	"github.com/clusterlink/clusterlink/integration/kafkatest"
	"github.com/clusterlink/clusterlink/replicator"
)

// The HA tests run whole daemons (`clusterlink run`) as child processes, this test binary re-executed, so that one
// can be killed with SIGKILL or stopped with SIGSTOP as an operator's machine would be.
const childConfigEnv = "CLUSTERLINK_TEST_CHILD_CONFIG"

// runDaemonChild is the child process of a daemon: it runs the daemon of the config file until SIGTERM.
func runDaemonChild() int {
	cfg, err := config.Load(os.Getenv(childConfigEnv))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	log, _ := zap.NewDevelopment()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	d, err := daemon.New(ctx, cfg, daemon.Options{Logger: log,
		ReplicatorOpts: []replicator.Opt{replicator.MetadataRefresh(time.Second)}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer d.Close()
	if err := d.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// daemonChild is a daemon run as a child process.
type daemonChild struct {
	name   string
	cmd    *exec.Cmd
	client *adminapi.Client
	log    string
	done   chan struct{}
}

// haConfig is the one config every daemon of a test shares: the same destination, state topic and link, with the
// mirrors listed in the file. Only the admin listener differs (each daemon runs on a machine of its own).
type haConfig struct {
	src, dst   *kafkatest.Cluster
	stateTopic string
	linkName   string
	topics     []string
}

func (c haConfig) write(t *testing.T, listen string) string {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "destination:\n  bootstrap.servers: %s\n", strings.Join(c.dst.BootstrapServers(), ","))
	fmt.Fprintf(&b, "admin:\n  listen: %s\n", listen)
	fmt.Fprintf(&b, "state:\n  topic: %s\n", c.stateTopic)
	fmt.Fprintf(&b, "links:\n  - name: %s\n    configs:\n      bootstrap.servers: %s\n    mirrors:\n", c.linkName,
		strings.Join(c.src.BootstrapServers(), ","))
	for _, topic := range c.topics {
		fmt.Fprintf(&b, "      - topic: %s\n", topic)
	}
	path := filepath.Join(t.TempDir(), "clusterlink.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func freeListen(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

// startDaemonChild starts a daemon of the shared config and waits until its admin API answers.
func startDaemonChild(t *testing.T, c haConfig, name string) *daemonChild {
	t.Helper()
	listen := freeListen(t)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=daemon", childConfigEnv+"="+c.write(t, listen))
	logFile, err := os.CreateTemp(t.TempDir(), name+"-*.log")
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start daemon %s: %v", name, err)
	}
	d := &daemonChild{name: name, cmd: cmd, client: adminapi.NewClient(listen, ""), log: logFile.Name(), done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(d.done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGCONT)
		_ = cmd.Process.Kill()
		<-d.done
		if t.Failed() {
			b, _ := os.ReadFile(logFile.Name())
			if len(b) > 30000 {
				b = b[len(b)-30000:]
			}
			t.Logf("daemon %s log (%s):\n%s", name, logFile.Name(), b)
		}
	})
	deadline := time.Now().Add(time.Minute)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := d.client.Links(ctx)
		cancel()
		if err == nil {
			return d
		}
		select {
		case <-d.done:
			t.Fatalf("daemon %s exited at start: %v", name, err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("daemon %s: admin API not answering within a minute: %v", name, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stop ends the daemon with SIGTERM (a clean stop) and waits for it.
func (d *daemonChild) stop(t *testing.T) {
	t.Helper()
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(time.Minute):
		t.Fatalf("daemon %s did not stop within a minute of SIGTERM", d.name)
	}
}

// failedPartitions lists the partitions the daemon reports FAILED, with their code and message.
func (d *daemonChild) failedPartitions(t *testing.T, linkName string, topics []string) []string {
	t.Helper()
	var out []string
	for _, topic := range topics {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		m, err := d.client.Mirror(ctx, linkName, topic)
		cancel()
		if err != nil {
			t.Fatalf("daemon %s: describe mirror %s: %v", d.name, topic, err)
		}
		if m.MirrorStatus == "FAILED" && len(m.MirrorLags) == 0 {
			out = append(out, fmt.Sprintf("%s: %s %v", topic, m.MirrorTopicError, m.MirrorStateTransitionErrors))
		}
		for _, l := range m.MirrorLags {
			if l.ErrorCode != "" && l.ErrorCode != "NO_ERROR" {
				out = append(out, fmt.Sprintf("%s[%d]: %s %s", topic, l.Partition, l.ErrorCode, l.ErrorMessage))
			}
		}
	}
	return out
}

// nonIdempotentProducer writes the topics with idempotence off (batches without a producer id, the kind no broker
// check can de-duplicate) until stop is called, which returns how many records it wrote.
func nonIdempotentProducer(t *testing.T, c *kafkatest.Cluster, topics []string) (stop func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var n int
	go func() {
		p, err := kgo.NewClient(append(c.ClientOpts(), kgo.DisableIdempotentWrite(), kgo.ProducerLinger(5*time.Millisecond),
			kgo.RequiredAcks(kgo.AllISRAcks()))...)
		if err != nil {
			done <- err
			return
		}
		defer p.Close()
		for i := 0; ctx.Err() == nil; i++ {
			r := &kgo.Record{Topic: topics[i%len(topics)], Key: []byte(fmt.Sprint("k", i%101)), Value: []byte(fmt.Sprint("v-", i, strings.Repeat("x", i%200)))}
			p.Produce(context.Background(), r, func(_ *kgo.Record, err error) {
				if err != nil {
					select {
					case done <- err:
					default:
					}
				}
			})
			n++
			if i%50 == 0 {
				time.Sleep(10 * time.Millisecond)
			}
		}
		if err := p.Flush(context.Background()); err != nil {
			done <- err
		}
		done <- nil
	}()
	return func() int {
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("source producer: %v", err)
		}
		return n
	}
}

// waitDestinationEnds waits until every mirror partition's log end offset reached the source's.
func waitDestinationEnds(t *testing.T, src, dst *kafkatest.Cluster, topics []string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		behind := ""
		for _, topic := range topics {
			s := partitionBounds(t, context.Background(), newClient(t, src), topic)
			d := partitionBounds(t, context.Background(), newClient(t, dst), topic)
			for p := range s {
				if p >= len(d) || d[p].end != s[p].end {
					behind += fmt.Sprintf(" %s[%d] source %d mirror %v;", topic, p, s[p].end, d)
					break
				}
			}
		}
		if behind == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("mirrors not caught up within %s:%s", within, behind)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// TestHA_RollingUpdateOverlapEndsIdenticalWithNoFailedPartition is the rolling update of a Kubernetes Deployment
// (or a unit started twice): two daemons with the same config, destination and state topic run side by side for
// 15 s while a non-idempotent producer writes the source, then the first stops. The mirrors must end identical to
// their source, record by record and batch by batch, with no partition FAILED on the daemon that stays.
func TestHA_RollingUpdateOverlapEndsIdenticalWithNoFailedPartition(t *testing.T) {
	src, dst := source(t), destination(t)
	c := haConfig{src: src, dst: dst, stateTopic: uniqueTopic(t, "_clusterlink-state"), linkName: "ha-rolling"}
	for i := 0; i < 3; i++ {
		topic := uniqueTopic(t, fmt.Sprintf("ha-rolling-%d", i))
		createTopic(t, src, topic, 3, nil)
		c.topics = append(c.topics, topic)
	}
	stopProducer := nonIdempotentProducer(t, src, c.topics)
	first := startDaemonChild(t, c, "first")
	time.Sleep(5 * time.Second)
	second := startDaemonChild(t, c, "second")
	time.Sleep(15 * time.Second)
	first.stop(t)
	time.Sleep(5 * time.Second)
	n := stopProducer()
	t.Logf("the source producer wrote %d records", n)

	waitDestinationEnds(t, src, dst, c.topics, 90*time.Second)
	if failed := second.failedPartitions(t, c.linkName, c.topics); len(failed) > 0 {
		t.Fatalf("partitions FAILED on the daemon that stayed:\n%s", strings.Join(failed, "\n"))
	}
	for _, topic := range c.topics {
		requireMirrorEqual(t, src, dst, topic, topic)
	}
}
