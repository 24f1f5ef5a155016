package replicator

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap/zaptest"
)

// In-process checks of the replicator against kfake. They are fast, not proof: the same behaviours are proven
// against real brokers in package integration.

type fakeLink struct {
	src, dst *kgo.Client
	r        *Replicator
}

func startFakeLink(t *testing.T, srcTopics map[string]int32) *fakeLink {
	t.Helper()
	srcCluster, dstCluster := fakeClusters(t)
	for topic, n := range srcTopics {
		if err := srcCluster.CreateTopic(topic, n, nil); err != nil {
			t.Fatal(err)
		}
	}
	src := fakeClient(t, srcCluster, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	dst := fakeClient(t, dstCluster, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	return &fakeLink{src: src, dst: dst, r: runReplicator(t, src, dst)}
}

// fakeClusters starts a one-broker source and destination, closed when the test ends.
func fakeClusters(t *testing.T, srcOpts ...kfake.Opt) (src, dst *kfake.Cluster) {
	t.Helper()
	src, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1)}, srcOpts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(src.Close)
	dst, err = kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(dst.Close)
	return src, dst
}

// fakeClient is a client of c, closed when the test ends.
func fakeClient(t *testing.T, c *kfake.Cluster, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// runReplicator runs a replicator from src to dst until the test ends, with fast metadata refreshes and retries.
func runReplicator(t *testing.T, src, dst *kgo.Client, opts ...Opt) *Replicator {
	t.Helper()
	r, err := New(src, dst, append([]Opt{Logger(zaptest.NewLogger(t)), MetadataRefresh(100 * time.Millisecond),
		RetryBackoff(10 * time.Millisecond)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return r
}

func produce(t *testing.T, cl *kgo.Client, topic string, partition int32, n int) {
	t.Helper()
	var recs []*kgo.Record
	for i := 0; i < n; i++ {
		recs = append(recs, &kgo.Record{Topic: topic, Partition: partition, Key: []byte(fmt.Sprint(i)), Value: []byte(fmt.Sprintf("v%d", i))})
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func readAll(t *testing.T, cl *kgo.Client, topic string, partition int32, want int) []*kgo.Record {
	t.Helper()
	c, err := kgo.NewClient(append(cl.Opts(), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {partition: kgo.NewOffset().AtStart()}}))...)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var out []*kgo.Record
	for len(out) < want {
		fs := c.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d records of %s[%d]", len(out), want, topic, partition)
		}
		out = append(out, fs.Records()...)
	}
	return out
}

// requireSameRecords reads the first n records of a partition on both clusters and requires them identical at the
// same offsets: key, value, headers, timestamp.
func requireSameRecords(t *testing.T, src, dst *kgo.Client, topic string, partition int32, n int) {
	t.Helper()
	s, d := readAll(t, src, topic, partition, n), readAll(t, dst, topic, partition, n)
	for i := range n {
		if s[i].Offset != d[i].Offset || string(s[i].Key) != string(d[i].Key) || string(s[i].Value) != string(d[i].Value) ||
			!s[i].Timestamp.Equal(d[i].Timestamp) || fmt.Sprint(s[i].Headers) != fmt.Sprint(d[i].Headers) {
			t.Fatalf("%s[%d] record %d differs: %+v vs %+v", topic, partition, i, s[i], d[i])
		}
	}
}

func TestReplicator_MirrorsAtSameOffsets(t *testing.T) {
	l := startFakeLink(t, map[string]int32{"orders": 3})
	for p := int32(0); p < 3; p++ {
		produce(t, l.src, "orders", p, 100*int(p+1))
	}
	if err := l.r.AddMirror(context.Background(), MirrorSpec{MirrorTopic: "orders"}); err != nil {
		t.Fatal(err)
	}
	produce(t, l.src, "orders", 0, 50)
	want := []int{150, 200, 300}
	waitFor(t, "catch-up", func() bool {
		st, _ := l.r.MirrorStatus("orders")
		for p, n := range want {
			if st.Partitions[p].MirrorLogEndOffset != int64(n) {
				return false
			}
		}
		return st.Status == StatusActive && st.MaxLag() == 0
	})
	for p, n := range want {
		requireSameRecords(t, l.src, l.dst, "orders", int32(p), n)
	}
	st, _ := l.r.MirrorStatus("orders")
	if c := st.Partitions[2].Counters; c.Records != 300 || c.BatchesRaw == 0 || c.FillerOffsets != 0 {
		t.Fatalf("partition 2 counters: %+v", c)
	}
}

func TestReplicator_FillsBelowSourceLogStart(t *testing.T) {
	l := startFakeLink(t, map[string]int32{"purged": 1})
	produce(t, l.src, "purged", 0, 100)
	produce(t, l.src, "purged", 0, 100)
	var offsets kadm.Offsets
	offsets.Add(kadm.Offset{Topic: "purged", Partition: 0, At: 150, LeaderEpoch: -1})
	if _, err := kadm.NewClient(l.src).DeleteRecords(context.Background(), offsets); err != nil {
		t.Fatal(err)
	}
	if err := l.r.AddMirror(context.Background(), MirrorSpec{MirrorTopic: "purged"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "catch-up", func() bool {
		st, _ := l.r.MirrorStatus("purged")
		return st.Partitions[0].MirrorLogEndOffset == 200
	})
	waitFor(t, "log start moved", func() bool {
		starts, err := kadm.NewClient(l.dst).ListStartOffsets(context.Background(), "purged")
		o, _ := starts.Lookup("purged", 0)
		return err == nil && o.Offset == 150
	})
	st, _ := l.r.MirrorStatus("purged")
	if c := st.Partitions[0].Counters; c.FillerOffsets != 100 {
		t.Fatalf("filled %d offsets, want 100 (the batch holding offset 150 starts at 100)", c.FillerOffsets)
	}
}

func TestReplicator_ForeignWriteFailsPartition(t *testing.T) {
	l := startFakeLink(t, map[string]int32{"guarded": 2})
	produce(t, l.src, "guarded", 0, 10)
	produce(t, l.src, "guarded", 1, 10)
	if err := l.r.AddMirror(context.Background(), MirrorSpec{MirrorTopic: "guarded"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "catch-up", func() bool {
		st, _ := l.r.MirrorStatus("guarded")
		return st.Status == StatusActive && st.MaxLag() == 0
	})
	produce(t, l.dst, "guarded", 1, 1)
	produce(t, l.src, "guarded", 1, 10)
	produce(t, l.src, "guarded", 0, 10)
	waitFor(t, "partition 1 FAILED and partition 0 copied", func() bool {
		st, _ := l.r.MirrorStatus("guarded")
		return st.Partitions[1].Status == StatusFailed && st.Partitions[0].MirrorLogEndOffset == 20
	})
	st, _ := l.r.MirrorStatus("guarded")
	want := "mirror guarded[1]: expected the batch at offset 10, the destination assigned offset 11: something other than this link wrote to the mirror topic"
	if st.Status != StatusFailed || st.Partitions[1].ErrorCode != CodeIllegalState || st.Partitions[1].ErrorMessage != want {
		t.Fatalf("got %s %s %q", st.Status, st.Partitions[1].ErrorCode, st.Partitions[1].ErrorMessage)
	}
}

func TestMirrorTopicConfigs(t *testing.T) {
	got := mirrorTopicConfigs(&sourceTopic{
		configs:         map[string]string{"cleanup.policy": "compact", "min.insync.replicas": "2", "compression.type": "zstd"},
		maxMessageBytes: 2 << 20,
	})
	want := map[string]string{
		"cleanup.policy": "compact", "compression.type": "producer", "message.timestamp.type": "CreateTime",
		"message.timestamp.before.max.ms": "9223372036854775807", "message.timestamp.after.max.ms": "9223372036854775807",
		"max.message.bytes": "2097152",
	}
	if len(got) != len(want) {
		t.Fatalf("got %d configs, want %d", len(got), len(want))
	}
	for k, v := range want {
		if got[k] == nil || *got[k] != v {
			t.Errorf("%s = %v, want %s", k, got[k], v)
		}
	}
}

// TestReplicator_StopMirrorEndsResolvesInFlight stops a mirror while one of its partitions is resolving against a
// source that does not answer: StopMirror must end that resolve (it could still move the mirror's log start) and
// return without waiting for the source.
func TestReplicator_StopMirrorEndsResolvesInFlight(t *testing.T) {
	srcCluster, dstCluster := fakeClusters(t, kfake.SeedTopics(1, "stopping"))
	src := fakeClient(t, srcCluster, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	r := runReplicator(t, src, fakeClient(t, dstCluster))
	produce(t, src, "stopping", 0, 10)
	if err := r.AddMirror(context.Background(), MirrorSpec{MirrorTopic: "stopping"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "catch-up", func() bool {
		st, _ := r.MirrorStatus("stopping")
		return st.Status == StatusActive && st.MaxLag() == 0 && len(st.Partitions) == 1 && st.Partitions[0].MirrorLogEndOffset == 10
	})
	requireSameRecords(t, src, r.dst, "stopping", 0, 10)

	// From now on the source holds every ListOffsets until the test ends.
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	var held atomic.Int32
	srcCluster.ControlKey(int16(kmsg.ListOffsets), func(kmsg.Request) (kmsg.Response, error, bool) {
		srcCluster.KeepControl()
		held.Add(1)
		srcCluster.SleepControl(func() { <-release })
		return nil, nil, false
	})
	if err := r.PauseMirror("stopping"); err != nil {
		t.Fatal(err)
	}
	if err := r.ResumeMirror("stopping"); err != nil { // the partition resolves again, and waits for the source
		t.Fatal(err)
	}
	waitFor(t, "a resolve waiting for the source", func() bool { return held.Load() > 0 })
	r.mu.Lock()
	p := r.mirrors["stopping"].partitions[0]
	r.mu.Unlock()

	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	start := time.Now()
	if err := r.StopMirror(sctx, "stopping"); err != nil {
		t.Fatalf("StopMirror: %v", err)
	}
	r.mu.Lock()
	resolving := p.resolving
	r.mu.Unlock()
	if resolving != 0 {
		t.Fatalf("StopMirror returned with %d resolve(s) of the partition still working", resolving)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("StopMirror took %s: it waited for the source instead of ending the resolve", took)
	}
}

// TestReplicator_PartitionThatCannotResolveIsNeverShownHealthy: the source answers ListOffsets for topic "stuck"
// with an error, so its partition never finds its position. It must show lag unknown (-1), not 0, and after
// ResolveErrorAfter an error code; the mirror's MaxLag is unknown too. The mirror of "fine" copies and shows lag 0.
func TestReplicator_PartitionThatCannotResolveIsNeverShownHealthy(t *testing.T) {
	srcCluster, dstCluster := fakeClusters(t)
	for _, topic := range []string{"stuck", "fine"} {
		if err := srcCluster.CreateTopic(topic, 1, nil); err != nil {
			t.Fatal(err)
		}
	}
	src := fakeClient(t, srcCluster, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	dst := fakeClient(t, dstCluster)
	produce(t, src, "stuck", 0, 50)
	produce(t, src, "fine", 0, 50)
	srcCluster.ControlKey(int16(kmsg.ListOffsets), func(req kmsg.Request) (kmsg.Response, error, bool) {
		srcCluster.KeepControl()
		lreq := req.(*kmsg.ListOffsetsRequest)
		stuck := false
		for _, rt := range lreq.Topics {
			stuck = stuck || rt.Topic == "stuck"
		}
		if !stuck {
			return nil, nil, false // kfake answers
		}
		resp := lreq.ResponseKind().(*kmsg.ListOffsetsResponse)
		for _, rt := range lreq.Topics {
			st := kmsg.NewListOffsetsResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				sp := kmsg.NewListOffsetsResponseTopicPartition()
				sp.Partition = rp.Partition
				sp.ErrorCode = kerr.KafkaStorageError.Code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	r := runReplicator(t, src, dst, ResolveErrorAfter(300*time.Millisecond))
	for _, topic := range []string{"stuck", "fine"} {
		if err := r.AddMirror(context.Background(), MirrorSpec{MirrorTopic: topic}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "fine copied, stuck with an error code", func() bool {
		fine, _ := r.MirrorStatus("fine")
		stuck, _ := r.MirrorStatus("stuck")
		return fine.Partitions[0].MirrorLogEndOffset == 50 && stuck.Partitions[0].ErrorCode != ""
	})
	stuck, _ := r.MirrorStatus("stuck")
	fine, _ := r.MirrorStatus("fine")
	p0 := stuck.Partitions[0]
	if p0.Lag != -1 || p0.Status != StatusPendingMirror || p0.ErrorCode != "KAFKA_STORAGE_ERROR" || p0.ErrorMessage == "" {
		t.Fatalf("stuck partition: lag %d, %s, code %q, message %q; want lag -1 (unknown), PENDING_MIRROR, KAFKA_STORAGE_ERROR",
			p0.Lag, p0.Status, p0.ErrorCode, p0.ErrorMessage)
	}
	if stuck.MaxLag() != -1 || stuck.Status != StatusPendingMirror {
		t.Fatalf("stuck mirror: max lag %d, %s; want -1 (unknown), PENDING_MIRROR", stuck.MaxLag(), stuck.Status)
	}
	if p := fine.Partitions[0]; p.Lag != 0 || p.Status != StatusActive || fine.MaxLag() != 0 {
		t.Fatalf("copying partition: lag %d, %s", p.Lag, p.Status)
	}
}
