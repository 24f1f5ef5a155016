package replicator

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/clusterlink/clusterlink/replicator/compare"
)

func TestMemoryBudget_GrantsInOrderAndNeverBeyondItsLimit(t *testing.T) {
	ctx := context.Background()
	b := NewMemoryBudget(MinMemoryBudget)
	if n, err := b.acquire(ctx, MinMemoryBudget-10); err != nil || n != MinMemoryBudget-10 {
		t.Fatalf("acquire: %d, %v", n, err)
	}
	// A large waiter first, then a small one that would fit: the small one waits behind the large one.
	large, small := make(chan int64), make(chan int64)
	go func() { n, _ := b.acquire(ctx, 1000); large <- n }()
	waitFor(t, "the large waiter queued", func() bool { b.mu.Lock(); defer b.mu.Unlock(); return len(b.waiters) == 1 })
	go func() { n, _ := b.acquire(ctx, 50); small <- n }()
	waitFor(t, "the small waiter queued", func() bool { b.mu.Lock(); defer b.mu.Unlock(); return len(b.waiters) == 2 })
	b.release(1000)
	if n := <-large; n != 1000 {
		t.Fatalf("large waiter got %d", n)
	}
	select {
	case n := <-small:
		t.Fatalf("the small waiter got %d before there was room", n)
	case <-time.After(20 * time.Millisecond):
	}
	b.release(100)
	if n := <-small; n != 50 {
		t.Fatalf("small waiter got %d", n)
	}
	// A waiter that gives up takes nothing and lets the one behind it in.
	cctx, cancel := context.WithCancel(ctx)
	gaveUp := make(chan error)
	go func() { _, err := b.acquire(cctx, MinMemoryBudget); gaveUp <- err }()
	waitFor(t, "the whole-budget waiter queued", func() bool { b.mu.Lock(); defer b.mu.Unlock(); return len(b.waiters) == 1 })
	cancel()
	if err := <-gaveUp; err == nil {
		t.Fatal("a cancelled acquire returned no error")
	}
	if n, err := b.acquire(ctx, 50); err != nil || n != 50 {
		t.Fatalf("acquire after a cancelled waiter: %d, %v", n, err)
	}
	// More than the whole budget is asked as the whole budget, once everything else is back.
	b.release(b.Held())
	if n, _ := b.acquire(ctx, 10*MinMemoryBudget); n != MinMemoryBudget {
		t.Fatalf("an acquire beyond the limit took %d", n)
	}
	if b.Peak() > b.Limit() {
		t.Fatalf("peak %d beyond the limit %d", b.Peak(), b.Limit())
	}
	b.charge(10)
	if b.Peak() != b.Limit()+10 {
		t.Fatalf("a charge beyond the limit is not in the peak: %d", b.Peak())
	}
}

// backlog produces n uncompressed records of size bytes (random values, so nothing shrinks) to every partition of
// topic, in batches of at most batchBytes.
func backlog(t *testing.T, cl *kgo.Client, topic string, partitions int32, n, size int) {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	var recs []*kgo.Record
	for p := range partitions {
		for i := range n {
			v := make([]byte, size)
			for j := range v {
				v[j] = byte(rng.Uint32())
			}
			recs = append(recs, &kgo.Record{Topic: topic, Partition: p, Key: []byte(fmt.Sprint(i)), Value: v})
		}
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// requireIdentical requires partitions of the mirror topic equal to their source, batch by batch and record by
// record (kfake serves a whole-topic comparison of many partitions slowly: tests name a few).
func requireIdentical(t *testing.T, src, dst *kgo.Client, topic string, partitions ...int32) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	parts, err := compare.Topic(ctx, src, dst, topic, topic, compare.Options{FromOffset: -1, Partitions: partitions})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range parts {
		if !p.Identical() || p.NotYetCopied != 0 || p.Compared != p.SourceEnd {
			t.Fatalf("%s[%d]: %+v", topic, p.Partition, p)
		}
	}
}

// watchPeak samples held bytes against the budget while the test runs, to catch any moment the accounting missed.
func watchPeak(t *testing.T, b *MemoryBudget) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		for ctx.Err() == nil {
			if h := b.Held(); h > b.Limit() {
				t.Errorf("held %d bytes, beyond the budget of %d", h, b.Limit())
				return
			}
			time.Sleep(time.Millisecond)
		}
	})
	t.Cleanup(func() { cancel(); wg.Wait() })
}

// TestReplicator_HoldsFetchedBatchesWithinTheMemoryBudget: two replicators (two links of one daemon) share a budget
// far smaller than their backlog and than partitions x replica.fetch.max.bytes; what they hold in fetched and
// queued batches never exceeds it, and both mirrors end identical to their sources.
func TestReplicator_HoldsFetchedBatchesWithinTheMemoryBudget(t *testing.T) {
	const partitions, records, size = 100, 150, 1024 // 15 MiB per topic, 30 MiB in all, for a 4 MiB budget
	budget := NewMemoryBudget(MinMemoryBudget)
	watchPeak(t, budget)
	var links []*fakeLink
	for i := range 2 {
		srcCluster, dstCluster := fakeClusters(t)
		topic := fmt.Sprintf("backlog-%d", i)
		if err := srcCluster.CreateTopic(topic, partitions, nil); err != nil {
			t.Fatal(err)
		}
		src := fakeClient(t, srcCluster, kgo.RecordPartitioner(kgo.ManualPartitioner()),
			kgo.ProducerBatchCompression(kgo.NoCompression()), kgo.ProducerBatchMaxBytes(16<<10))
		dst := fakeClient(t, dstCluster)
		backlog(t, src, topic, partitions, records, size)
		r := runReplicator(t, src, dst, WithMemoryBudget(budget))
		if err := r.AddMirror(context.Background(), MirrorSpec{MirrorTopic: topic}); err != nil {
			t.Fatal(err)
		}
		links = append(links, &fakeLink{src: src, dst: dst, r: r})
	}
	deadline := time.Now().Add(60 * time.Second)
	for i, l := range links {
		topic := fmt.Sprintf("backlog-%d", i)
		for {
			st, _ := l.r.MirrorStatus(topic)
			if st.Status == StatusActive && st.MaxLag() == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s not caught up: max lag %d", topic, st.MaxLag())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	for i, l := range links {
		topic := fmt.Sprintf("backlog-%d", i)
		st, _ := l.r.MirrorStatus(topic)
		for _, p := range st.Partitions {
			if p.MirrorLogEndOffset != records || p.Counters.Records != records {
				t.Fatalf("%s[%d]: mirror log end offset %d, %d records copied, want %d", topic, p.Partition, p.MirrorLogEndOffset, p.Counters.Records, records)
			}
		}
		requireIdentical(t, l.src, l.dst, topic, 0, 37, 99)
	}
	if peak := budget.Peak(); peak > budget.Limit() || peak < budget.Limit()/4 {
		t.Fatalf("peak held %d bytes for a budget of %d (want at most the budget, and the budget used)", peak, budget.Limit())
	}
	t.Logf("peak held %d of %d bytes", budget.Peak(), budget.Limit())
}

// TestReplicator_BatchLargerThanItsShareProgresses: a partition whose next batch is larger than its share of a fetch
// (and than the least a partition fetches) among many partitions with a backlog is still copied: fetched alone.
func TestReplicator_BatchLargerThanItsShareProgresses(t *testing.T) {
	const partitions = 40
	budget := NewMemoryBudget(2 * MinMemoryBudget) // fetches reserve 2 MiB: each partition's share is 1 MiB
	watchPeak(t, budget)
	srcCluster, dstCluster := fakeClusters(t)
	if err := srcCluster.CreateTopic("big", partitions, map[string]string{"max.message.bytes": "1600000"}); err != nil {
		t.Fatal(err)
	}
	src := fakeClient(t, srcCluster, kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerBatchCompression(kgo.NoCompression()), kgo.ProducerBatchMaxBytes(1600000))
	dst := fakeClient(t, dstCluster)
	backlog(t, src, "big", partitions, 200, 1024)
	// Three batches of 1.5 MiB in the middle of partition 7's backlog, and more after them.
	var recs []*kgo.Record
	for i := range 3 {
		recs = append(recs, &kgo.Record{Topic: "big", Partition: 7, Key: fmt.Appendf(nil, "big-%d", i), Value: make([]byte, 1500<<10)})
	}
	if err := src.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	backlog(t, src, "big", partitions, 50, 1024)
	r := runReplicator(t, src, dst, WithMemoryBudget(budget))
	if err := r.AddMirror(context.Background(), MirrorSpec{MirrorTopic: "big"}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		st, _ := r.MirrorStatus("big")
		if st.Status == StatusActive && st.MaxLag() == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not caught up: %s, max lag %d, partition 7 at %d of %d", st.Status, st.MaxLag(),
				st.Partitions[7].MirrorLogEndOffset, st.Partitions[7].SourceHighWatermark)
		}
		time.Sleep(20 * time.Millisecond)
	}
	requireIdentical(t, src, dst, "big", 6, 7)
	if budget.Peak() > budget.Limit() {
		t.Fatalf("peak held %d bytes for a budget of %d", budget.Peak(), budget.Limit())
	}
}

func TestFetchAlone_OnlyABatchThatCannotFitItsShare(t *testing.T) {
	header := func(size int) []byte { // the first bytes of a batch of size bytes, as a broker cuts it short
		b := make([]byte, 20)
		b[8], b[9], b[10], b[11] = byte((size-12)>>24), byte((size-12)>>16), byte((size-12)>>8), byte(size-12)
		return b
	}
	const share = 1 << 20
	for _, tc := range []struct {
		name      string
		more      bool
		records   []byte
		partial   bool
		room      bool
		alone     bool
		needBytes int64
	}{
		{name: "caught up", more: false, room: true},
		{name: "cut short, larger than the share", more: true, records: header(3 << 20), partial: true, alone: true, needBytes: 3 << 20},
		{name: "cut short by the response's end, fits the share", more: true, records: header(64 << 10), partial: true},
		{name: "nothing though there was room", more: true, room: true, alone: true},
		{name: "crowded out by others", more: true},
		{name: "cut short by the response's end though there was room", more: true, records: header(64 << 10), partial: true, room: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			alone, need := fetchAlone(tc.more, tc.records, tc.partial, tc.room, share)
			if alone != tc.alone || need != tc.needBytes {
				t.Fatalf("fetchAlone = %v, %d; want %v, %d", alone, need, tc.alone, tc.needBytes)
			}
		})
	}
}
