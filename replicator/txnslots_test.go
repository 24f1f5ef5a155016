package replicator

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap/zaptest"

	"github.com/clusterlink/clusterlink/replicator/kafkaapi"
)

// TestSlotLocked_TheSlotThatEndedLastIsNotTakenAtOnce: a source producer's next transaction goes to another slot
// than the one whose transaction just ended (its coordinator may still be completing it and would answer
// CONCURRENT_TRANSACTIONS), so one producer alternates between two slots; interleaved producers each keep their own.
func TestSlotLocked_TheSlotThatEndedLastIsNotTakenAtOnce(t *testing.T) {
	p := newPartition(&mirror{topic: "t"}, 3)
	begin := func(pid int64) *destTxn {
		s := p.slotLocked("cl", pid)
		s.open = true
		return s
	}
	end := func(s *destTxn) {
		s.open = false
		p.lastEndedSlot = s
	}
	var ids []string
	for range 4 {
		s := begin(7)
		ids = append(ids, s.id)
		end(s)
	}
	want := []string{"cl-t-3-0", "cl-t-3-1", "cl-t-3-0", "cl-t-3-1"}
	for i := range want {
		if ids[i] != want[i] {
			t.Fatalf("one producer's transactions took slots %v, want %v", ids, want)
		}
	}
	// Two producers interleaved: each open transaction keeps its slot; the one that just ended is skipped.
	a := begin(1) // slot 0 (slot 1 ended last)
	b := begin(2) // slot 2: 0 is open, 1 ended last
	if a.id != "cl-t-3-0" || b.id != "cl-t-3-2" {
		t.Fatalf("interleaved producers took %s and %s", a.id, b.id)
	}
	if again := p.slotLocked("cl", 1); again != a {
		t.Fatalf("an open transaction's next batch went to %s, not its slot %s", again.id, a.id)
	}
	end(a)
	if c := begin(1); c.id != "cl-t-3-1" {
		t.Fatalf("producer 1's next transaction took %s, want the free slot that did not end last (cl-t-3-1)", c.id)
	}
	if len(p.txnSlots) != 3 {
		t.Fatalf("%d slots for two producers, want 3", len(p.txnSlots))
	}
}

// TestAwaitMarker_TakesOnlyTheSlotsOwnMarkerAtItsOffset: the wait for a replayed transaction's marker ends with
// true only for the slot's own marker, of the right kind, at exactly the expected offset; a data batch there,
// another producer's marker, the other kind of marker, or nothing within the deadline give false (the caller then
// reads the log end offset, which says where the marker went).
func TestAwaitMarker_TakesOnlyTheSlotsOwnMarkerAtItsOffset(t *testing.T) {
	_, dstCluster := fakeClusters(t)
	if err := dstCluster.CreateTopic("m", 1, nil); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	txn := fakeClient(t, dstCluster, kgo.TransactionalID("writer"), kgo.DefaultProduceTopic("m"))
	if err := txn.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	rec := &kgo.Record{Value: []byte("v")}
	if err := txn.ProduceSync(ctx, rec).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := txn.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	cl := fakeClient(t, dstCluster)
	md, err := kadm.NewClient(cl).Metadata(ctx, "m")
	if err != nil {
		t.Fatal(err)
	}
	leader := md.Topics["m"].Partitions[0].Leader
	pid := rec.ProducerID
	w := &writer{broker: leader}
	p := newPartition(&mirror{topic: "m"}, 0)
	for _, tc := range []struct {
		name     string
		expected int64
		pid      int64
		commit   bool
		want     bool
	}{
		{"the slot's COMMIT at the offset", 1, pid, true, true},
		{"an ABORT was expected", 1, pid, false, false},
		{"another producer's marker", 1, pid + 1, true, false},
		{"a data batch at the offset", 0, pid, true, false},
		{"nothing there yet", 2, pid, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pp := producePart{p: p, topic: "m", topicID: md.Topics["m"].ID, expected: tc.expected, slot: &destTxn{pid: tc.pid}}
			if got := w.awaitMarker(ctx, cl, pp, tc.commit, time.Now().Add(300*time.Millisecond)); got != tc.want {
				t.Fatalf("awaitMarker = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestSlotTransactionIDs_OneListingForAllResolvingPartitions: the slot ids a reattach describes come from one
// ListTransactions shared by the partitions resolving at the same time (the start of a link of many partitions
// cost a DescribeTransactions per partition), and only ids of open transactions under the partition's prefix are
// kept: a completed transaction and other partitions' slots are left out.
func TestSlotTransactionIDs_OneListingForAllResolvingPartitions(t *testing.T) {
	srcCluster, dstCluster := fakeClusters(t)
	if err := dstCluster.CreateTopic("t", 3, nil); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	dst := fakeClient(t, dstCluster)
	open := func(id string, partition int32, commit *bool) {
		t.Helper()
		cl := fakeClient(t, dstCluster)
		resp, err := kafkaapi.NewInitProducerID(kmsg.StringPtr(id), time.Minute).RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		pid, epoch, err := kafkaapi.InitProducerIDResult(resp)
		if err != nil {
			t.Fatal(err)
		}
		aresp, err := kafkaapi.NewAddPartitionToTxn(id, pid, epoch, "t", partition).RequestWith(ctx, cl)
		if err != nil || kafkaapi.AddPartitionsToTxnErr(aresp) != nil {
			t.Fatalf("add t[%d] to %s: %v %v", partition, id, err, kafkaapi.AddPartitionsToTxnErr(aresp))
		}
		if commit != nil {
			eresp, err := kafkaapi.NewEndTxn(id, pid, epoch, *commit).RequestWith(ctx, cl)
			if err != nil || kafkaapi.EndTxnErr(eresp) != nil {
				t.Fatalf("end %s: %v %v", id, err, kafkaapi.EndTxnErr(eresp))
			}
		}
	}
	abort := false
	open("cl-t-1-0", 1, nil)    // open, partition 1's slot 0
	open("cl-t-1-3", 1, nil)    // open, slot 3
	open("cl-t-1-1", 1, &abort) // ended: not open
	open("cl-t-2-0", 2, nil)    // another partition's
	open("other-t-1-0", 1, nil) // another prefix
	var lists atomic.Int64
	dstCluster.ControlKey(int16(kmsg.ListTransactions), func(kmsg.Request) (kmsg.Response, error, bool) {
		dstCluster.KeepControl()
		if lists.Add(1) == 1 {
			// The first answer is slow, as a loaded broker's: the other asks queue behind it and share the next.
			dstCluster.SleepControl(func() { time.Sleep(200 * time.Millisecond) })
		}
		return nil, nil, false
	})
	r, err := New(fakeClient(t, srcCluster), dst, Logger(zaptest.NewLogger(t))) // not run: only its lister is used
	if err != nil {
		t.Fatal(err)
	}
	cl, err := r.txnClientFor()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	var wg sync.WaitGroup
	results := make([][]string, 50)
	for i := range results {
		wg.Go(func() {
			ids, err := r.slotTransactionIDs(ctx, cl, "cl", "t", 1, 0)
			if err != nil {
				t.Error(err)
			}
			slices.Sort(ids)
			results[i] = ids
		})
	}
	wg.Wait()
	for i, ids := range results {
		if !slices.Equal(ids, []string{"cl-t-1-0", "cl-t-1-3"}) {
			t.Fatalf("ask %d: slot ids %v, want the open cl-t-1-0 and cl-t-1-3", i, ids)
		}
	}
	// One per ask would be 50; shared, 2 when every ask is made while the first is answered. The bound leaves room
	// for a loaded machine that starts the asks slowly.
	if n := lists.Load(); n > 10 {
		t.Fatalf("%d ListTransactions for 50 partitions resolving at once, want a few", n)
	}
	t.Logf("%d ListTransactions for 50 asks", lists.Load())
}
