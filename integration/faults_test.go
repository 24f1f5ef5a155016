package integration

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/clusterlink/clusterlink/integration/kafkatest"
	"github.com/clusterlink/clusterlink/replicator"
)

// The kill test runs the replicator in a child process (this test binary, re-executed) so that it can be ended
// with SIGKILL: no deferred code, no clean shutdown, produces cut off mid-flight.
const (
	childEnv       = "CLUSTERLINK_TEST_CHILD"
	childSourceEnv = "CLUSTERLINK_TEST_CHILD_SOURCE"
	childDestEnv   = "CLUSTERLINK_TEST_CHILD_DESTINATION"
	childTopicsEnv = "CLUSTERLINK_TEST_CHILD_TOPICS"
)

// runChild is the child process: it mirrors the named topics until killed.
func runChild() int {
	src, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(os.Getenv(childSourceEnv), ",")...))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	dst, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(os.Getenv(childDestEnv), ",")...))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	log, _ := zap.NewDevelopment()
	r, err := replicator.New(src, dst, replicator.Logger(log), replicator.MetadataRefresh(time.Second))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ctx := context.Background()
	for _, topic := range strings.Split(os.Getenv(childTopicsEnv), ",") {
		if err := r.AddMirror(ctx, replicator.MirrorSpec{MirrorTopic: topic}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
	}
	if err := r.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func startChild(t *testing.T, src, dst *kafkatest.Cluster, topics ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(),
		childEnv+"=replicate",
		childSourceEnv+"="+strings.Join(src.BootstrapServers(), ","),
		childDestEnv+"="+strings.Join(dst.BootstrapServers(), ","),
		childTopicsEnv+"="+strings.Join(topics, ","),
	)
	logFile, err := os.CreateTemp(t.TempDir(), "child-*.log")
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start the replicator child: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			b, _ := os.ReadFile(logFile.Name())
			if len(b) > 20000 {
				b = b[len(b)-20000:]
			}
			t.Logf("replicator child log (%s):\n%s", logFile.Name(), b)
		}
	})
	return cmd
}

// TestMirror_ResumesAfterKillWithoutGapOrDuplicate kills the replicator process with SIGKILL at random points
// while data flows, ten times; after each restart the mirror resumes from its own log end offset, and at the end
// source and mirror match record by record, batch by batch: no gap, no duplicate.
func TestMirror_ResumesAfterKillWithoutGapOrDuplicate(t *testing.T) {
	src, dst := source(t), destination(t)
	topics := []string{uniqueTopic(t, "kill-lz4"), uniqueTopic(t, "kill-none")}
	createTopic(t, src, topics[0], 6, nil)
	createTopic(t, src, topics[1], 2, nil)
	produceMix(t, src, topics[0], 2000, kgo.Lz4Compression(), 10)

	// A producer keeps writing while the replicator is killed and restarted.
	ctx, cancel := context.WithCancel(context.Background())
	produced := make(chan error, 1)
	go func() {
		p, err := kgo.NewClient(append(src.ClientOpts(), kgo.ProducerLinger(2*time.Millisecond))...)
		if err != nil {
			produced <- err
			return
		}
		defer p.Close()
		for i := 0; ctx.Err() == nil; i++ {
			topic := topics[i%2]
			r := &kgo.Record{Topic: topic, Key: []byte(fmt.Sprint(i % 97)), Value: []byte(strings.Repeat("x", i%500))}
			if err := p.ProduceSync(context.Background(), r).FirstErr(); err != nil {
				produced <- err
				return
			}
			if i%50 == 0 {
				time.Sleep(5 * time.Millisecond)
			}
		}
		produced <- nil
	}()

	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	for kill := 0; kill < 10; kill++ {
		child := startChild(t, src, dst, topics...)
		time.Sleep(time.Duration(300+rng.Intn(1500)) * time.Millisecond)
		if err := child.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatalf("kill the replicator: %v", err)
		}
		_ = child.Wait()
	}
	cancel()
	if err := <-produced; err != nil {
		t.Fatalf("background producer: %v", err)
	}

	l := startLink(t, src, dst)
	for _, topic := range topics {
		l.addMirror(t, replicator.MirrorSpec{MirrorTopic: topic})
	}
	for _, topic := range topics {
		waitCaughtUp(t, l, src, topic, topic)
		requireMirrorEqual(t, src, dst, topic, topic)
	}
}

// TestMirror_SurvivesBrokerRestarts restarts the destination leader and then the source broker while data flows;
// the link must carry on by itself, and the mirror must match at the end.
func TestMirror_SurvivesBrokerRestarts(t *testing.T) {
	src := kafkatest.StartT(t)
	dst := kafkatest.StartT(t)
	topic := uniqueTopic(t, "restart")
	createTopic(t, src, topic, 4, nil)
	produceMix(t, src, topic, 2000, kgo.ZstdCompression(), 20)
	l := startLink(t, src, dst, replicator.RetryBackoff(50*time.Millisecond), replicator.FetchBackoff(200*time.Millisecond))
	l.addMirror(t, replicator.MirrorSpec{MirrorTopic: topic})

	produceMix(t, src, topic, 1000, kgo.ZstdCompression(), 21)
	if err := dst.Nodes[0].Restart(); err != nil {
		t.Fatalf("restart destination: %v", err)
	}
	waitReady(t, dst)
	produceMix(t, src, topic, 1000, kgo.ZstdCompression(), 22)
	waitCaughtUp(t, l, src, topic, topic)

	if err := src.Nodes[0].Restart(); err != nil {
		t.Fatalf("restart source: %v", err)
	}
	waitReady(t, src)
	produceMix(t, src, topic, 1000, kgo.ZstdCompression(), 23)
	waitCaughtUp(t, l, src, topic, topic)
	requireMirrorEqual(t, src, dst, topic, topic)
}

func waitReady(t *testing.T, c *kafkatest.Cluster) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := c.WaitReady(ctx); err != nil {
		t.Fatalf("cluster not ready after restart: %v", err)
	}
}
