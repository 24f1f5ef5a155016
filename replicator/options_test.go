package replicator

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap/zaptest"
)

// TestNew_ValidatesEveryOption builds replicators with options out of range: each is refused naming the option,
// and several bad ones are all named at once.
func TestNew_ValidatesEveryOption(t *testing.T) {
	cl, err := kgo.NewClient(kgo.SeedBrokers("127.0.0.1:1"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for _, tc := range []struct {
		name string
		opt  Opt
		want string
	}{
		{"no produce in flight copies nothing", MaxProduceInflight(0), "MaxProduceInflight(0)"},
		{"no produce connection", ProduceConnections(0), "ProduceConnections(0)"},
		{"no fetch bytes", FetchMaxBytes(0), "FetchMaxBytes(0)"},
		{"no fetch response bytes", FetchResponseMaxBytes(-1), "FetchResponseMaxBytes(-1)"},
		{"fetch min bytes", FetchMinBytes(0), "FetchMinBytes(0)"},
		{"request timeout", RequestTimeout(0), "RequestTimeout(0s)"},
		{"fetch wait", FetchWaitMax(-time.Second), "FetchWaitMax(-1s)"},
		{"metadata refresh", MetadataRefresh(0), "MetadataRefresh(0s)"},
		{"negative backoff", RetryBackoff(-time.Millisecond), "RetryBackoff(-1ms)"},
		{"negative pipeline age", PipelineMaxAge(-time.Hour), "PipelineMaxAge(-1h0m0s)"},
		{"replication factor 0", ReplicationFactor(0), "ReplicationFactor(0)"},
		{"replication factor -2", ReplicationFactor(-2), "ReplicationFactor(-2)"},
		{"start at no time", DefaultStartOffset(StartOffset{Kind: StartTimestamp}), "the timestamp is not set"},
		{"nil logger", Logger(nil), "Logger(nil)"},
		{"nil observer", WithObserver(nil), "WithObserver(nil)"},
		{"empty transactional id prefix", TransactionalIDPrefix(""), `TransactionalIDPrefix("")`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := New(cl, cl, tc.opt)
			if r != nil || err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New: %v, %v; want an error naming %s", r, err, tc.want)
			}
		})
	}
	_, err = New(cl, cl, MaxProduceInflight(0), FetchMaxBytes(0), RequestTimeout(0))
	for _, want := range []string{"MaxProduceInflight(0)", "FetchMaxBytes(0)", "RequestTimeout(0s)"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("several bad options: %v lacks %s", err, want)
		}
	}
	if _, err := New(nil, cl); err == nil {
		t.Error("a nil source client was accepted")
	}
	if r, err := New(cl, cl, MaxProduceInflight(1), PipelineMaxAge(0)); err != nil || r == nil {
		t.Errorf("good options: %v", err)
	}
}

// TestReplicator_RunsAgainAfterItStopped stops a replicator mid-copy and runs it again while data is produced: the
// second run copies on (new clients, positions re-read), a concurrent Run is refused, and the mirror ends equal to
// the source record by record.
func TestReplicator_RunsAgainAfterItStopped(t *testing.T) {
	srcCluster, dstCluster := fakeClusters(t)
	if err := srcCluster.CreateTopic("again", 2, nil); err != nil {
		t.Fatal(err)
	}
	src := fakeClient(t, srcCluster, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	dst := fakeClient(t, dstCluster, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	r, err := New(src, dst, Logger(zaptest.NewLogger(t)), MetadataRefresh(100*time.Millisecond), RetryBackoff(10*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	run := func() (context.CancelFunc, chan error) {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- r.Run(ctx) }()
		return cancel, done
	}
	for p := int32(0); p < 2; p++ {
		produce(t, src, "again", p, 100)
	}
	if err := r.AddMirror(context.Background(), MirrorSpec{MirrorTopic: "again"}); err != nil {
		t.Fatal(err)
	}
	copied := func(n int64) func() bool {
		return func() bool {
			st, _ := r.MirrorStatus("again")
			for _, p := range st.Partitions {
				if p.MirrorLogEndOffset != n {
					return false
				}
			}
			return len(st.Partitions) == 2
		}
	}
	for round := 1; round <= 3; round++ {
		cancel, done := run()
		if round == 1 {
			waitFor(t, "the run to start", func() bool { r.mu.Lock(); defer r.mu.Unlock(); return r.running })
			if err := r.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "already running") {
				t.Fatalf("a second Run while running: %v", err)
			}
		}
		waitFor(t, "round copied", copied(int64(100*round)))
		for p := int32(0); p < 2; p++ {
			produce(t, src, "again", p, 100) // while it stops and starts again
		}
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Fatalf("run %d: %v", round, err)
		}
	}
	cancel, done := run()
	defer func() { cancel(); <-done }()
	waitFor(t, "the last round copied", copied(400))
	for p := int32(0); p < 2; p++ {
		requireSameRecords(t, src, dst, "again", p, 400)
	}
}
