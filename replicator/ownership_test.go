package replicator

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

func destinationEnd(t *testing.T, cl *kgo.Client, topic string, p int32) int64 {
	t.Helper()
	ends, err := kadm.NewClient(cl).ListEndOffsets(context.Background(), topic)
	if err != nil {
		t.Fatal(err)
	}
	o, _ := ends.Lookup(topic, p)
	return o.Offset
}

// TestReplicator_TwoOwnersHandOverAPartition runs two replicators of one link on the same clusters, as two daemons
// sharing it: each copies only what it owns; a partition released by one (nothing in flight once SetOwned returns)
// and taken by the other continues from the mirror's log end, without a FAILED partition, a gap or a duplicate.
func TestReplicator_TwoOwnersHandOverAPartition(t *testing.T) {
	srcCluster, dstCluster := fakeClusters(t)
	if err := srcCluster.CreateTopic("orders", 3, nil); err != nil {
		t.Fatal(err)
	}
	src := fakeClient(t, srcCluster, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	dst := fakeClient(t, dstCluster)
	a := runReplicator(t, src, dst, OwnedPartitionsOnly())
	b := runReplicator(t, src, dst, OwnedPartitionsOnly())
	ctx := context.Background()
	for p := int32(0); p < 3; p++ {
		produce(t, src, "orders", p, 100)
	}
	if err := a.SetOwned(ctx, map[string][]int32{"orders": {0, 1}}); err != nil {
		t.Fatal(err)
	}
	for _, r := range []*Replicator{a, b} {
		if err := r.AddMirror(ctx, MirrorSpec{MirrorTopic: "orders"}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "a copies partitions 0 and 1", func() bool {
		return destinationEnd(t, dst, "orders", 0) == 100 && destinationEnd(t, dst, "orders", 1) == 100
	})
	time.Sleep(300 * time.Millisecond)
	if n := destinationEnd(t, dst, "orders", 2); n != 0 {
		t.Fatalf("partition 2, owned by nobody, has %d records on the mirror", n)
	}
	if err := b.SetOwned(ctx, map[string][]int32{"orders": {2}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "b copies partition 2", func() bool { return destinationEnd(t, dst, "orders", 2) == 100 })

	// Partition 1 moves from a to b while data flows.
	stop := make(chan struct{})
	produced := make(chan struct{})
	go func() {
		defer close(produced)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			produce(t, src, "orders", 1, 10)
		}
	}()
	time.Sleep(200 * time.Millisecond)
	if err := a.SetOwned(ctx, map[string][]int32{"orders": {0}}); err != nil {
		t.Fatal(err)
	}
	if err := b.SetOwned(ctx, map[string][]int32{"orders": {1, 2}}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	close(stop)
	<-produced
	srcEnd := destinationEnd(t, src, "orders", 1)
	waitFor(t, "b copies partition 1 to the end", func() bool { return destinationEnd(t, dst, "orders", 1) == srcEnd })
	for _, r := range []*Replicator{a, b} {
		st, _ := r.MirrorStatus("orders")
		for _, ps := range st.Partitions {
			if ps.Status == StatusFailed {
				t.Fatalf("partition %d FAILED: %s %s", ps.Partition, ps.ErrorCode, ps.ErrorMessage)
			}
		}
	}
	if got := a.OwnedPartitions()["orders"]; len(got) != 1 || got[0] != 0 {
		t.Errorf("a owns %v, want [0]", got)
	}
	requireSameRecords(t, src, dst, "orders", 1, int(srcEnd))
}

// TestReplicator_WriteGuardHoldsWritesBack: while the guard refuses, nothing is written; once it allows, copying
// continues from where it was.
func TestReplicator_WriteGuardHoldsWritesBack(t *testing.T) {
	var allowed atomic.Bool
	srcCluster, dstCluster := fakeClusters(t)
	if err := srcCluster.CreateTopic("held", 1, nil); err != nil {
		t.Fatal(err)
	}
	src := fakeClient(t, srcCluster, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	dst := fakeClient(t, dstCluster)
	r := runReplicator(t, src, dst, WriteGuard(func() error {
		if !allowed.Load() {
			return errors.New("not the owner")
		}
		return nil
	}))
	produce(t, src, "held", 0, 50)
	if err := r.AddMirror(context.Background(), MirrorSpec{MirrorTopic: "held"}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	if n := destinationEnd(t, dst, "held", 0); n != 0 {
		t.Fatalf("%d records written while the guard refused", n)
	}
	allowed.Store(true)
	waitFor(t, "copied after the guard allows", func() bool { return destinationEnd(t, dst, "held", 0) == 50 })
	requireSameRecords(t, src, dst, "held", 0, 50)
}

// TestReplicator_TwoUnfencedWritersAreDeduplicated: two replicators copy the same partition at once with no
// ownership at all (a zombie and the new owner), from a source written without idempotence. The batches go out under
// the link's own producer id and sequences, so the destination de-duplicates every second copy: the mirror equals
// the source and no partition fails.
func TestReplicator_TwoUnfencedWritersAreDeduplicated(t *testing.T) {
	srcCluster, dstCluster := fakeClusters(t)
	if err := srcCluster.CreateTopic("plain", 2, nil); err != nil {
		t.Fatal(err)
	}
	src := fakeClient(t, srcCluster, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.DisableIdempotentWrite(),
		kgo.ProducerLinger(0))
	dst := fakeClient(t, dstCluster)
	describeIdempotentProducers(t, dstCluster) // a resync reads the link's sequence back, as from a real broker
	ctx := context.Background()
	a := runReplicator(t, src, dst)
	b := runReplicator(t, src, dst)
	for _, r := range []*Replicator{a, b} {
		if err := r.AddMirror(ctx, MirrorSpec{MirrorTopic: "plain"}); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 40; i++ {
		produce(t, src, "plain", int32(i%2), 5)
	}
	for p := int32(0); p < 2; p++ {
		waitFor(t, "both partitions copied", func() bool { return destinationEnd(t, dst, "plain", p) == 100 })
		requireSameRecords(t, src, dst, "plain", p, 100)
	}
	time.Sleep(300 * time.Millisecond) // a late duplicate would land now
	var linkBatches int64
	for _, r := range []*Replicator{a, b} {
		st, _ := r.MirrorStatus("plain")
		for _, ps := range st.Partitions {
			// Without any fencing, a writer's audit may see the other's writes as foreign and say so (loud); what
			// must never happen is a batch of its own landing elsewhere than its offset.
			if ps.Status == StatusFailed && strings.Contains(ps.ErrorMessage, "the destination assigned offset") {
				t.Fatalf("partition %d: a batch landed at another offset: %s", ps.Partition, ps.ErrorMessage)
			}
			linkBatches += ps.Counters.BatchesLinkProducer
		}
	}
	for p := int32(0); p < 2; p++ {
		if n := destinationEnd(t, dst, "plain", p); n != 100 {
			t.Fatalf("partition %d holds %d offsets, the source 100: a copy landed twice", p, n)
		}
	}
	if linkBatches == 0 {
		t.Error("no batch was written under the link's producer")
	}
}

// TestReplicator_ReleasedPartitionGivesItsBudgetBack: a partition released while its fetched batches wait for the
// writer (here held back by a refusing guard) gives their bytes back to the memory budget, so that ownership moves
// can never spend the budget away and stall every other partition.
func TestReplicator_ReleasedPartitionGivesItsBudgetBack(t *testing.T) {
	srcCluster, dstCluster := fakeClusters(t)
	if err := srcCluster.CreateTopic("moving", 1, nil); err != nil {
		t.Fatal(err)
	}
	src := fakeClient(t, srcCluster, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	dst := fakeClient(t, dstCluster)
	budget := NewMemoryBudget(16 << 20)
	r := runReplicator(t, src, dst, OwnedPartitionsOnly(), WithMemoryBudget(budget),
		WriteGuard(func() error { return errors.New("not the owner") }))
	ctx := context.Background()
	produce(t, src, "moving", 0, 50)
	if err := r.AddMirror(ctx, MirrorSpec{MirrorTopic: "moving"}); err != nil {
		t.Fatal(err)
	}
	if err := r.SetOwned(ctx, map[string][]int32{"moving": {0}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the partition's batches are fetched and held", func() bool { return budget.Held() > 0 })
	if err := r.SetOwned(ctx, map[string][]int32{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the released partition's bytes are back in the budget", func() bool { return budget.Held() == 0 })
}

// TestReplicator_APartitionFailedElsewhereStaysFailedWhenTakenOver: a partition that failed on another daemon of
// the link (its failure stored) is FAILED here once this replicator owns it, with the stored reason, and copies
// nothing until RestartMirror; the other partition copies.
func TestReplicator_APartitionFailedElsewhereStaysFailedWhenTakenOver(t *testing.T) {
	srcCluster, dstCluster := fakeClusters(t)
	if err := srcCluster.CreateTopic("orders", 2, nil); err != nil {
		t.Fatal(err)
	}
	src := fakeClient(t, srcCluster, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	dst := fakeClient(t, dstCluster)
	r := runReplicator(t, src, dst, OwnedPartitionsOnly())
	ctx := context.Background()
	for p := int32(0); p < 2; p++ {
		produce(t, src, "orders", p, 50)
	}
	if err := r.AddMirror(ctx, MirrorSpec{MirrorTopic: "orders"}); err != nil {
		t.Fatal(err)
	}
	r.MarkFailed([]PartitionFailure{{MirrorTopic: "orders", Partition: 1, Code: "ILLEGAL_STATE", Message: "failed on daemon a", Diverged: true},
		{MirrorTopic: "unknown", Partition: 0}, {MirrorTopic: "orders", Partition: 7}})
	if err := r.SetOwned(ctx, map[string][]int32{"orders": {0, 1}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "partition 0 copies", func() bool { return destinationEnd(t, dst, "orders", 0) == 50 })
	time.Sleep(300 * time.Millisecond)
	if n := destinationEnd(t, dst, "orders", 1); n != 0 {
		t.Fatalf("partition 1, FAILED on another daemon, has %d records copied here", n)
	}
	st, _ := r.MirrorStatus("orders")
	if p := st.Partitions[1]; p.Status != StatusFailed || p.ErrorCode != "ILLEGAL_STATE" || !p.Diverged ||
		!strings.Contains(p.ErrorMessage, "daemon a") {
		t.Fatalf("partition 1 taken over: %+v, want FAILED as stored", p)
	}
	if err := r.RestartMirror("orders"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "partition 1 copies after the restart", func() bool { return destinationEnd(t, dst, "orders", 1) == 50 })
	for p := int32(0); p < 2; p++ {
		requireSameRecords(t, src, dst, "orders", p, 50)
	}
}
