package replicator

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// A produce whose answer the link never got can still land on the destination after the link read the mirror's
// end again (it was queued on the broker behind that read). The mirror then ends beyond what the link copied, with
// the link's own copy of the source's records there: that is not a divergence, and the audit must not fail the
// partition for it (it did, in a 250-topic bench run: "ends at offset N+4, but the link copied only up to N").
// A foreign write with other records is still one (TestReplicator_ForeignWriteFailsPartition,
// TestDivergence_ForeignWriteIntoAnIdleMirror).
func TestAudit_LateLandingOfTheLinksOwnProduceIsNotADivergence(t *testing.T) {
	srcCluster, dstCluster := fakeClusters(t)
	if err := srcCluster.CreateTopic("late", 1, nil); err != nil {
		t.Fatal(err)
	}
	src := fakeClient(t, srcCluster, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	dst := fakeClient(t, dstCluster)
	// The link's fetches wait 777 ms on the source: that is how the control below tells them from the audit's
	// reads (200 ms).
	const linkFetchWait = 777
	r := runReplicator(t, src, dst, FetchWaitMax(linkFetchWait*time.Millisecond))

	produce(t, src, "late", 0, 10)
	if err := r.AddMirror(context.Background(), MirrorSpec{MirrorTopic: "late"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "catch-up", func() bool {
		st, _ := r.MirrorStatus("late")
		return st.Status == StatusActive && st.Partitions[0].MirrorLogEndOffset == 10
	})

	// The next produce of the mirror is taken from the wire and its connection closed (the link sees a failed
	// request); from then on the link's fetches are held, so that it stays quiet at its re-read position.
	var (
		intercepted atomic.Bool
		held        = make(chan kmsg.Request, 1)
		release     = make(chan struct{})
		releaseOnce sync.Once
	)
	defer releaseOnce.Do(func() { close(release) })
	dstCluster.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		dstCluster.KeepControl()
		pr := req.(*kmsg.ProduceRequest)
		if len(pr.Topics) == 0 || intercepted.Load() {
			return nil, nil, false
		}
		intercepted.Store(true)
		held <- req
		return nil, errors.New("connection lost before the answer"), true
	})
	srcCluster.ControlKey(int16(kmsg.Fetch), func(req kmsg.Request) (kmsg.Response, error, bool) {
		srcCluster.KeepControl()
		if !intercepted.Load() || req.(*kmsg.FetchRequest).MaxWaitMillis != linkFetchWait {
			return nil, nil, false
		}
		select {
		case <-release:
			return nil, nil, false
		default:
		}
		// Held: a short wait (the time-lag probes share the connection), then an answer that makes the link open
		// a new fetch session and ask again.
		srcCluster.SleepControl(func() { time.Sleep(50 * time.Millisecond) })
		resp := req.ResponseKind().(*kmsg.FetchResponse)
		resp.ErrorCode = kerr.FetchSessionIDNotFound.Code
		return resp, nil, true
	})
	produce(t, src, "late", 0, 4)

	var req kmsg.Request
	select {
	case req = <-held:
	case <-time.After(10 * time.Second):
		t.Fatal("the link did not produce the new records")
	}
	// Let the link resync and read the mirror's end (10) again, then land its lost produce: the mirror ends at 14.
	time.Sleep(500 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := dst.Request(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if code := resp.(*kmsg.ProduceResponse).Topics[0].Partitions[0].ErrorCode; code != 0 {
		t.Fatalf("the late produce was refused: error code %d", code)
	}

	// The audit (every 100 ms) sees the mirror end beyond the copied offset while the partition is quiet.
	waitFor(t, "the audit to take the late write as the link's own", func() bool {
		st, _ := r.MirrorStatus("late")
		if p := st.Partitions[0]; p.Status == StatusFailed {
			t.Fatalf("the partition FAILED: %s %s", p.ErrorCode, p.ErrorMessage)
		}
		return st.Partitions[0].MirrorLogEndOffset == 14
	})
	releaseOnce.Do(func() { close(release) })

	produce(t, src, "late", 0, 10)
	waitFor(t, "catch-up after the late write", func() bool {
		st, _ := r.MirrorStatus("late")
		if p := st.Partitions[0]; p.Status == StatusFailed {
			t.Fatalf("the partition FAILED: %s %s", p.ErrorCode, p.ErrorMessage)
		}
		return st.Partitions[0].MirrorLogEndOffset == 24
	})
	requireIdentical(t, src, dst, "late", 0)
}
