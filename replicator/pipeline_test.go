package replicator

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/clusterlink/clusterlink/replicator/recordbatch"
)

func TestPartitionPipe_ChainsOnlyConfirmedRunsOfOneProducer(t *testing.T) {
	part := func(expected, records int64, id int64, epoch int16, firstSeq int32, chainable bool) producePart {
		return producePart{expected: expected, records: records, chainable: chainable, firstSeq: firstSeq,
			run: producerRun{id: id, epoch: epoch, lastSeq: lastSequence(firstSeq, int32(records-1))}}
	}
	tests := []struct {
		name       string
		confirmed  producePart // sent alone and confirmed before
		first      producePart // sent with nothing in flight
		next       producePart // candidate to go behind first
		wantChains bool
	}{
		{"same producer, sequences follow", part(0, 10, 7, 0, 0, true), part(10, 5, 7, 0, 10, true), part(15, 5, 7, 0, 15, true), true},
		{"first batch of a producer: no state on the broker yet", part(0, 10, 8, 0, 0, true), part(10, 5, 7, 0, 10, true), part(15, 5, 7, 0, 15, true), false},
		{"another producer behind", part(0, 10, 7, 0, 0, true), part(10, 5, 7, 0, 10, true), part(15, 5, 9, 0, 15, true), false},
		{"new epoch", part(0, 10, 7, 0, 0, true), part(10, 5, 7, 0, 10, true), part(15, 5, 7, 1, 0, true), false},
		{"sequence gap", part(0, 10, 7, 0, 0, true), part(10, 5, 7, 0, 10, true), part(15, 5, 7, 0, 16, true), false},
		{"confirmed batch was not chainable (no producer)", part(0, 10, -1, -1, -1, false), part(10, 5, 7, 0, 10, true), part(15, 5, 7, 0, 15, true), false},
		{"sequence wraps", part(0, 10, 7, 0, 2147483637, true), part(10, 1, 7, 0, 2147483647, true), part(11, 5, 7, 0, 0, true), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var pipe partitionPipe
			pipe.sent(tt.confirmed)
			pipe.n-- // confirmed
			pipe.sent(tt.first)
			got := pipe.anchored && pipe.follows(tt.next.run, tt.next.firstSeq)
			if got != tt.wantChains {
				t.Fatalf("chains = %v, want %v (pipe %+v)", got, tt.wantChains, pipe)
			}
		})
	}
}

// TestReplicator_PipelinedProducesNeverLandBehindARefusal has the destination refuse one produce in the middle of
// a pipeline of one idempotent producer's batches: the batches in flight behind it must fail the broker's sequence
// check rather than land at the wrong offsets, and the mirror must end identical.
func TestReplicator_PipelinedProducesNeverLandBehindARefusal(t *testing.T) {
	srcCluster, dstCluster := fakeClusters(t, kfake.SeedTopics(1, "piped"))
	src := fakeClient(t, srcCluster, kgo.DefaultProduceTopic("piped"))
	const batches = 120
	for i := 0; i < batches; i++ { // one batch each, all of one idempotent producer
		if err := src.ProduceSync(context.Background(), &kgo.Record{Key: []byte(fmt.Sprint(i)), Value: []byte(fmt.Sprintf("v%d", i))}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}

	// The destination answers produces slowly, so several are in flight, and refuses the 30th and the 70th.
	var mu sync.Mutex
	produces, refused := 0, 0
	dstCluster.ControlKey(int16(kmsg.Produce), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		dstCluster.KeepControl()
		req := kreq.(*kmsg.ProduceRequest)
		mu.Lock()
		defer mu.Unlock()
		time.Sleep(2 * time.Millisecond)
		if len(req.Topics) == 0 || req.TransactionID != nil {
			return nil, nil, false
		}
		produces++
		if produces != 30 && produces != 70 {
			return nil, nil, false
		}
		refused++
		resp := req.ResponseKind().(*kmsg.ProduceResponse)
		for _, rt := range req.Topics {
			st := kmsg.NewProduceResponseTopic()
			st.Topic, st.TopicID = rt.Topic, rt.TopicID
			for _, rp := range rt.Partitions {
				sp := kmsg.NewProduceResponseTopicPartition()
				sp.Partition, sp.ErrorCode = rp.Partition, kerr.NotEnoughReplicas.Code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	dst := fakeClient(t, dstCluster)
	r := runReplicator(t, src, dst, FetchMaxBytes(64<<10))
	if err := r.AddMirror(context.Background(), MirrorSpec{MirrorTopic: "piped"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "catch-up", func() bool {
		st, _ := r.MirrorStatus("piped")
		if st.Status == StatusFailed {
			t.Fatalf("mirror failed: %+v", st.Partitions)
		}
		return len(st.Partitions) == 1 && st.Partitions[0].MirrorLogEndOffset == batches
	})
	requireSameRecords(t, src, dst, "piped", 0, batches)
	mu.Lock()
	defer mu.Unlock()
	if refused != 2 {
		t.Fatalf("the destination refused %d produces, want 2", refused)
	}
	st, _ := r.MirrorStatus("piped")
	if st.Partitions[0].Counters.BatchesPipelined == 0 {
		t.Fatalf("no batch was pipelined (%+v): the test proves nothing", st.Partitions[0].Counters)
	}
}

func TestWriter_PipelinesOnlyRecentBatches(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name   string
		maxAge time.Duration
		ts     time.Time
		want   bool
	}{
		{"just written", time.Hour, now, true},
		{"within the age", time.Hour, now.Add(-59 * time.Minute), true},
		{"older: the broker may expire its producer", time.Hour, now.Add(-2 * time.Hour), false},
		{"timestamps in the future", time.Hour, now.Add(time.Hour), true},
		{"pipelining off", 0, now, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := &writer{r: newReplicator(nil, nil, optionsOf(PipelineMaxAge(tt.maxAge)))}
			if got := w.recentEnough(recordbatch.Header{MaxTimestamp: tt.ts.UnixMilli()}); got != tt.want {
				t.Fatalf("recentEnough = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestWriter_PipelinedDrainPopsConfirmedBatches checks that the pipelined path drops the batches the mirror already
// has from the head of the queue, so a drain of many small batches costs linear, not quadratic, time.
func TestWriter_PipelinedDrainPopsConfirmedBatches(t *testing.T) {
	now := time.Now().UnixMilli()
	var items []writeItem
	for i := int64(0); i < 10; i++ {
		b := make([]byte, 70)
		items = append(items, writeItem{batch: recordbatch.Batch{Bytes: b, Header: recordbatch.Header{
			BaseOffset: i, ProducerID: 7, BaseSequence: int32(i), MaxTimestamp: now, Magic: 2, NumRecords: 1,
		}}})
	}
	p := &partition{m: &mirror{topic: "t"}, nextOffset: 6}
	q := &writeQueue{items: items}
	w := &writer{r: newReplicator(nil, nil, optionsOf())}
	pipe := &partitionPipe{n: 1, sentTo: 7, chainable: true, anchored: true, last: producerRun{id: 7, lastSeq: 6}}
	pp, ok := w.pipelinedPayloadLocked(p, q, pipe)
	if !ok || pp.expected != 7 {
		t.Fatalf("next pipelined batch: %v at %d, want the batch at 7", ok, pp.expected)
	}
	if len(q.items) != 4 || q.items[0].batch.Header.BaseOffset != 6 {
		t.Fatalf("queue holds %d items from offset %d, want 4 from 6 (the confirmed ones popped, the one in flight kept)",
			len(q.items), q.items[0].batch.Header.BaseOffset)
	}
}

func TestPipelineAgeFor_StaysWellBelowTheProducerExpiration(t *testing.T) {
	tests := []struct {
		maxAge, expiration, want time.Duration
	}{
		{time.Hour, 24 * time.Hour, time.Hour},   // Kafka's default expiration
		{time.Hour, time.Hour, 15 * time.Minute}, // a short expiration
		{time.Hour, 10 * time.Minute, 150 * time.Second},
		{0, 24 * time.Hour, 0}, // pipelining off stays off
	}
	for _, tt := range tests {
		if got := pipelineAgeFor(tt.maxAge, tt.expiration); got != tt.want {
			t.Errorf("pipelineAgeFor(%s, %s) = %s, want %s", tt.maxAge, tt.expiration, got, tt.want)
		}
	}
}
