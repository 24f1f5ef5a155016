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

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/clusterlink/clusterlink/config"
	"github.com/clusterlink/clusterlink/controlplane/adminapi"
	"github.com/clusterlink/clusterlink/controlplane/daemon"
	"github.com/clusterlink/clusterlink/controlplane/group"
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

// daemons reads the group of the link as a daemon sees it.
func (d *daemonChild) daemons(t *testing.T, linkName string) (adminapi.LinkDaemons, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	return d.client.LinkDaemons(ctx, linkName)
}

// waitGroup waits until the daemon sees a stable group of n members sharing all the partitions, each exactly once,
// every member with some, and returns it.
func (d *daemonChild) waitGroup(t *testing.T, linkName string, n, partitions int, within time.Duration) adminapi.LinkDaemons {
	t.Helper()
	deadline := time.Now().Add(within)
	var last adminapi.LinkDaemons
	var err error
	for time.Now().Before(deadline) {
		last, err = d.daemons(t, linkName)
		if err == nil && last.Stable && len(last.Members) == n && groupCovers(last, partitions) == "" {
			return last
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("daemon %s: no stable group of %d members sharing %d partitions within %s; last %+v (%s), err %v",
		d.name, n, partitions, within, last, groupCovers(last, partitions), err)
	return last
}

// groupCovers says what is wrong with a group's plan: a partition owned twice or by nobody, a member with none, or
// the loops on no member or several ("" when nothing).
func groupCovers(g adminapi.LinkDaemons, partitions int) string {
	owner := map[string]string{}
	loops := 0
	for _, m := range g.Members {
		if m.PartitionCount == 0 {
			return "member " + m.Name + " copies no partition"
		}
		if m.RunsLinkLoops {
			loops++
		}
		for _, mp := range m.Mirrors {
			for _, p := range mp.Partitions {
				k := fmt.Sprintf("%s[%d]", mp.MirrorTopicName, p)
				if o, dup := owner[k]; dup {
					return k + " owned by " + o + " and " + m.Name
				}
				owner[k] = m.Name
			}
		}
	}
	if len(owner) != partitions {
		return fmt.Sprintf("%d of %d partitions owned", len(owner), partitions)
	}
	if loops != 1 {
		return fmt.Sprintf("the link's loops run on %d members", loops)
	}
	return ""
}

// transactionalProducer commits and aborts (one in three) transactions over the topic's partitions until stop.
func transactionalProducer(t *testing.T, c *kafkatest.Cluster, topic string) (stop func() (committed, aborted int)) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var committed, aborted int
	go func() {
		p, err := kgo.NewClient(append(c.ClientOpts(), kgo.TransactionalID("ha-txn-"+topic), kgo.DefaultProduceTopic(topic),
			kgo.ProducerLinger(2*time.Millisecond))...)
		if err != nil {
			done <- err
			return
		}
		defer p.Close()
		for i := 0; ctx.Err() == nil; i++ {
			if err := p.BeginTransaction(); err != nil {
				done <- err
				return
			}
			for j := 0; j < 5+i%20; j++ {
				p.Produce(context.Background(), &kgo.Record{Key: []byte(fmt.Sprint("t", i, "-", j)), Value: []byte(fmt.Sprint("txn ", i, " record ", j))}, nil)
			}
			commit := kgo.TryCommit
			if i%3 == 2 {
				commit = kgo.TryAbort
			}
			if err := p.Flush(context.Background()); err != nil {
				done <- err
				return
			}
			if err := p.EndTransaction(context.Background(), commit); err != nil {
				done <- err
				return
			}
			if commit == kgo.TryCommit {
				committed++
			} else {
				aborted++
			}
			time.Sleep(20 * time.Millisecond)
		}
		done <- nil
	}()
	return func() (int, int) {
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("transactional source producer: %v", err)
		}
		return committed, aborted
	}
}

// ownedBy lists a member's partitions.
func ownedBy(g adminapi.LinkDaemons, name string) map[string][]int32 {
	out := map[string][]int32{}
	for _, m := range g.Members {
		if m.Name == name || m.MemberID == name {
			for _, mp := range m.Mirrors {
				out[mp.MirrorTopicName] = mp.Partitions
			}
		}
	}
	return out
}

// TestHA_ThreeDaemonsSurviveKillPauseAndRollingRestart is the proof on real brokers: three daemons share a
// link of 3 topics x 12 partitions while a non-idempotent and a transactional producer write the source; one is
// killed with SIGKILL, another stopped with SIGSTOP past its session timeout and continued after the takeover, then
// all are restarted one by one. At the end no partition is FAILED, every partition is owned by exactly one member,
// and the mirrors equal their source record by record (both isolation levels for the transactional topic) and
// batch by batch.
func TestHA_ThreeDaemonsSurviveKillPauseAndRollingRestart(t *testing.T) {
	src, dst := source(t), destination(t)
	c := haConfig{src: src, dst: dst, stateTopic: uniqueTopic(t, "_clusterlink-state"), linkName: "ha-three"}
	const partitionsPerTopic, topics = 12, 3
	for i := 0; i < topics; i++ {
		topic := uniqueTopic(t, fmt.Sprintf("ha-three-%d", i))
		createTopic(t, src, topic, partitionsPerTopic, nil)
		c.topics = append(c.topics, topic)
	}
	const all = partitionsPerTopic * topics
	txnTopic := c.topics[2]
	stopPlain := nonIdempotentProducer(t, src, c.topics)
	stopTxn := transactionalProducer(t, src, txnTopic)

	d1 := startDaemonChild(t, c, "d1")
	d2 := startDaemonChild(t, c, "d2")
	d3 := startDaemonChild(t, c, "d3")
	g := d3.waitGroup(t, c.linkName, 3, all, 90*time.Second)
	t.Logf("three daemons share the link in generation %d", g.Generation)

	// kill -9 one daemon; measure the takeover: from the kill to the first write of another owner to one of its
	// partitions.
	var killedName string
	for _, m := range g.Members {
		if m.MemberID != g.MemberID && strings.HasSuffix(m.Name, fmt.Sprintf("/%d", d1.cmd.Process.Pid)) {
			killedName = m.Name
		}
	}
	if killedName == "" {
		t.Fatalf("d1 (pid %d) not among the members %+v", d1.cmd.Process.Pid, g.Members)
	}
	lost := ownedBy(g, killedName)
	before := map[string]int64{}
	dstCl := newClient(t, dst)
	for topic, ps := range lost {
		b := endOffsetsOf(t, dstCl, topic)
		for _, p := range ps {
			before[fmt.Sprintf("%s/%d", topic, p)] = b[p]
		}
	}
	if err := d1.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killedAt := time.Now()
	<-d1.done
	// Writes the killed daemon had in flight may still land at first: a takeover is a write after a second.
	var takeover time.Duration
	for takeover == 0 {
		if time.Since(killedAt) > 2*time.Minute {
			t.Fatal("no other daemon wrote to the killed daemon's partitions within 2 minutes")
		}
		for topic, ps := range lost {
			b := endOffsetsOf(t, dstCl, topic)
			for _, p := range ps {
				k := fmt.Sprintf("%s/%d", topic, p)
				if time.Since(killedAt) > time.Second && b[p] > before[k] && takeover == 0 {
					takeover = time.Since(killedAt)
				}
				if time.Since(killedAt) <= time.Second {
					before[k] = b[p]
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("takeover after kill -9: %s (session timeout %s)", takeover.Round(100*time.Millisecond), group.DefaultSessionTimeout)
	d3.waitGroup(t, c.linkName, 2, all, 90*time.Second)

	// SIGSTOP another past its session timeout; the last one takes everything over; then SIGCONT.
	if err := d2.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	d3.waitGroup(t, c.linkName, 1, all, 90*time.Second)
	time.Sleep(3 * time.Second) // the survivor writes the paused daemon's partitions meanwhile
	if err := d2.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	d3.waitGroup(t, c.linkName, 2, all, 90*time.Second)

	// Rolling restart: a new daemon joins, then an old one stops, until all are new.
	live := []*daemonChild{d2, d3}
	var fresh []*daemonChild
	for i, old := range live {
		n := startDaemonChild(t, c, fmt.Sprintf("r%d", i+1))
		fresh = append(fresh, n)
		n.waitGroup(t, c.linkName, 3, all, 90*time.Second)
		old.stop(t)
		n.waitGroup(t, c.linkName, 2, all, 90*time.Second)
	}
	n := startDaemonChild(t, c, "r3")
	fresh = append(fresh, n)
	final := n.waitGroup(t, c.linkName, 3, all, 90*time.Second)

	committed, aborted := stopTxn()
	records := stopPlain()
	t.Logf("the source producers wrote %d records and %d committed, %d aborted transactions", records, committed, aborted)
	waitDestinationEnds(t, src, dst, c.topics, 2*time.Minute)
	for _, d := range fresh {
		if failed := d.failedPartitions(t, c.linkName, c.topics); len(failed) > 0 {
			t.Fatalf("partitions FAILED on daemon %s:\n%s", d.name, strings.Join(failed, "\n"))
		}
	}
	if bad := groupCovers(final, all); bad != "" {
		t.Fatalf("final group: %s", bad)
	}
	t.Logf("final group: generation %d, %d members", final.Generation, len(final.Members))
	for _, topic := range c.topics[:2] {
		requireMirrorEqual(t, src, dst, topic, topic)
	}
	srcLSO, dstLSO := lastStableOffsets(t, src, txnTopic), lastStableOffsets(t, dst, txnTopic)
	if fmt.Sprint(srcLSO) != fmt.Sprint(dstLSO) {
		t.Fatalf("%s last stable offsets: source %v, mirror %v", txnTopic, srcLSO, dstLSO)
	}
	requireVerified(t, src, dst, txnTopic, txnTopic, false)
	ends := sourceEnds(t, src, txnTopic)
	for p := int32(0); p < partitionsPerTopic; p++ {
		for _, level := range []kgo.IsolationLevel{kgo.ReadCommitted(), kgo.ReadUncommitted()} {
			compareRecords(t, p, readIsolated(t, src, txnTopic, p, ends[p], level), readIsolated(t, dst, txnTopic, p, ends[p], level))
		}
	}
}

// endOffsetsOf reads a topic's log end offsets by partition (a partition the answer lacks reads as -1).
func endOffsetsOf(t *testing.T, cl *kgo.Client, topic string) map[int32]int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatalf("list end offsets of %s: %v", topic, err)
	}
	out := map[int32]int64{}
	for p := int32(0); p < 100; p++ {
		out[p] = -1
	}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err == nil {
			out[o.Partition] = o.Offset
		}
	})
	return out
}

// TestHA_TwoUnfencedWritersOfOnePartitionNeverWriteTwice is the zombie at its worst: two replicators with no group
// at all copy the same mirror partitions at the same time (what a daemon paused past its session does against the
// member that took its partitions over, for as long as it takes to notice) while a non-idempotent producer writes
// the source. The link's own producer id and sequences on batches that had none make the destination broker
// de-duplicate every second copy: the mirror ends equal to its source record by record and batch by batch, and
// neither writer saw a batch land at another offset.
func TestHA_TwoUnfencedWritersOfOnePartitionNeverWriteTwice(t *testing.T) {
	src, dst := source(t), destination(t)
	topics := []string{uniqueTopic(t, "unfenced-a"), uniqueTopic(t, "unfenced-b")}
	for _, topic := range topics {
		createTopic(t, src, topic, 3, nil)
	}
	stop := nonIdempotentProducer(t, src, topics)
	a := startChild(t, src, dst, topics...)
	time.Sleep(2 * time.Second)
	b := startChild(t, src, dst, topics...)
	time.Sleep(15 * time.Second)
	n := stop()
	t.Logf("the source producer wrote %d records", n)
	waitDestinationEnds(t, src, dst, topics, 90*time.Second)
	for _, child := range []*exec.Cmd{a, b} {
		log, _ := os.ReadFile(child.Stdout.(*os.File).Name())
		if i := strings.Index(string(log), "mirror partition failed"); i >= 0 {
			end := min(len(log), i+600)
			t.Fatalf("a writer failed a partition: %s", log[i:end])
		}
	}
	for _, topic := range topics {
		requireMirrorEqual(t, src, dst, topic, topic)
	}
}
