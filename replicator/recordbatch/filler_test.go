package recordbatch

import (
	"encoding/binary"
	"math"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// kafkaDefaultMaxMessageBytes is Kafka's default max.message.bytes (1 MiB + log overhead).
const kafkaDefaultMaxMessageBytes = 1048588

func TestBuildFillerBatch_IsValidAndMinimal(t *testing.T) {
	const ts = 1_700_000_000_123
	for _, n := range []int32{1, 2, 63, 64, 65, 1000, 8191, 8192, 8193, 100_000} {
		b := BuildFiller(n, ts)
		if len(b) != FillerSize(n) {
			t.Fatalf("n=%d: %d bytes, FillerSize says %d", n, len(b), FillerSize(n))
		}
		batches, partial, err := Split(b) // checks the length and the CRC-32C
		if err != nil || partial || len(batches) != 1 {
			t.Fatalf("n=%d: %d batches partial=%v err=%v", n, len(batches), partial, err)
		}
		want := Header{
			BaseOffset: 0, Length: int32(len(b) - logOverhead), PartitionLeaderEpoch: -1, Magic: 2,
			CRC: batches[0].Header.CRC, Attributes: 0, LastOffsetDelta: n - 1, FirstTimestamp: ts, MaxTimestamp: ts,
			ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1, NumRecords: n,
		}
		if h := batches[0].Header; h != want || h.IsIdempotent() || h.HasOffsetHoles() {
			t.Fatalf("n=%d: header\n %+v, want\n %+v", n, h, want)
		}

		var kb kmsg.RecordBatch
		if err := kb.ReadFrom(b); err != nil {
			t.Fatalf("n=%d: kmsg: %v", n, err)
		}
		recs := make([]kmsg.Record, 0, n)
		for rb := kb.Records; len(rb) > 0; {
			size, ln := binary.Varint(rb)
			var r kmsg.Record
			if err := r.ReadFrom(rb[:ln+int(size)]); err != nil {
				t.Fatalf("n=%d: record %d: %v", n, len(recs), err)
			}
			if want := 1 + 5 + varintLen(int64(len(recs))); ln+int(size) != want {
				t.Fatalf("n=%d: record %d is %d bytes, want the minimal %d", n, len(recs), ln+int(size), want)
			}
			recs = append(recs, r)
			rb = rb[ln+int(size):]
		}
		if len(recs) != int(n) {
			t.Fatalf("n=%d: %d records in the batch", n, len(recs))
		}
		for i, r := range recs {
			if r.OffsetDelta != int32(i) || r.TimestampDelta64 != 0 || r.Attributes != 0 || r.Key != nil ||
				r.Value != nil || len(r.Headers) != 0 {
				t.Fatalf("n=%d: record %d is %+v", n, i, r)
			}
		}
	}
}

func varintLen(v int64) int {
	var buf [binary.MaxVarintLen64]byte
	return binary.PutVarint(buf[:], v)
}

func TestBuildFillerBatch_PanicsOnNoRecords(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("BuildFiller(0) returned a batch Kafka refuses")
		}
	}()
	BuildFiller(0, 0)
}

func TestFillerBatchSize_MatchesEveryVarintBoundary(t *testing.T) {
	limit := int64(1<<21 + 10)
	if !testing.Short() {
		limit = 1<<27 + 10 // the last boundary below the int32 limit
	}
	size := int64(HeaderSize)
	for count := int64(1); count <= limit; count++ {
		size += int64(1 + 5 + varintLen(count-1))
		if count&(count-1) == 0 || count%(1<<16) == 0 || count == limit ||
			(count >= 60 && count <= 70) || (count >= 8185 && count <= 8200) {
			if got := FillerSize(int32(count)); int64(got) != size {
				t.Fatalf("FillerSize(%d) = %d, want %d", count, got, size)
			}
		}
	}
}

func TestMaxFillerRecords(t *testing.T) {
	for _, limit := range []int{0, 67, 68, 69, 75, 1000, 4096, 512 << 10, kafkaDefaultMaxMessageBytes, 8 << 20, 1 << 30, math.MaxInt} {
		n := MaxFillerRecords(limit)
		switch {
		case limit < FillerSize(1):
			if n != 1 {
				t.Errorf("MaxFillerRecords(%d) = %d, want 1 (the smallest filler)", limit, n)
			}
		case n == math.MaxInt32:
			if FillerSize(n) > limit {
				t.Errorf("MaxFillerRecords(%d) = %d: %d bytes", limit, n, FillerSize(n))
			}
		case FillerSize(n) > limit || FillerSize(n+1) <= limit:
			t.Errorf("MaxFillerRecords(%d) = %d: %d bytes, one more would be %d", limit, n, FillerSize(n), FillerSize(n+1))
		}
	}
}

func TestFillerBatchesFor_SizesAndCounts(t *testing.T) {
	for _, n := range []int64{0, 1, 1000, 5_000_000} {
		for _, limit := range []int{FillerSize(1), 4096, kafkaDefaultMaxMessageBytes} {
			per := int64(MaxFillerRecords(limit))
			var total, batches int64
			arrays := map[*byte]bool{}
			for at, b := range Fillers(n, limit, 42) {
				if at != total {
					t.Fatalf("n=%d limit=%d: batch %d yielded at %d, want %d", n, limit, batches, at, total)
				}
				if len(b) > limit {
					t.Fatalf("n=%d limit=%d: batch %d is %d bytes", n, limit, batches, len(b))
				}
				h := ParseHeader(b)
				if len(b) != FillerSize(h.NumRecords) || h.LastOffsetDelta != h.NumRecords-1 ||
					(int64(h.NumRecords) != per && at+int64(h.NumRecords) != n) {
					t.Fatalf("n=%d limit=%d: batch %d at %d: %+v", n, limit, batches, at, h)
				}
				if !arrays[&b[0]] { // each distinct batch once: the full ones share one array
					arrays[&b[0]] = true
					if _, _, err := Split(b); err != nil {
						t.Fatalf("n=%d limit=%d: batch at %d: %v", n, limit, at, err)
					}
				}
				total += int64(h.NumRecords)
				batches++
			}
			if total != n || batches != (n+per-1)/per || len(arrays) > 2 {
				t.Fatalf("n=%d limit=%d: %d offsets in %d batches (%d built), want %d in %d", n, limit, total, batches,
					len(arrays), n, (n+per-1)/per)
			}
			if n == 5_000_000 && limit == kafkaDefaultMaxMessageBytes {
				t.Logf("5M offsets at max.message.bytes=%d: %d batches of up to %d records", limit, batches, per)
			}
		}
	}
	yielded := 0
	for range Fillers(1000, 100, 0) {
		yielded++
		break
	}
	if yielded != 1 {
		t.Fatalf("the iterator went on after break")
	}
}

// produceRawBatch produces one batch as it is to t[0] with acks=-1 and returns the base offset the broker assigned.
func (rc *rawCluster) produceRawBatch(t *testing.T, batch []byte) int64 {
	t.Helper()
	req := kmsg.NewPtrProduceRequest()
	req.Acks = -1
	req.TimeoutMillis = 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic, rt.TopicID = "t", rc.topicID
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = batch
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(testContext(t), rc.cl)
	if err != nil {
		t.Fatal(err)
	}
	p := resp.Topics[0].Partitions[0]
	if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
		msg := ""
		if p.ErrorMessage != nil {
			msg = *p.ErrorMessage
		}
		t.Fatalf("produce: %v %s", err, msg)
	}
	return p.BaseOffset
}

func TestFillerBatch_ProducedRawIsReadByConsumerAtItsOffsets(t *testing.T) {
	const ts = 1_700_000_000_000
	rc := newRawCluster(t)
	rc.produceTestBatches(t, 1) // offsets 0-9 from a client

	if got := rc.produceRawBatch(t, BuildFiller(1000, ts)); got != 10 {
		t.Fatalf("filler of 1000 landed at %d, want 10", got)
	}
	const start, n = 1010, 3000
	for at, b := range Fillers(n, 4096, ts) {
		if got := rc.produceRawBatch(t, b); got != start+at {
			t.Fatalf("filler batch at %d of the fill landed at %d, want %d", at, got, start+at)
		}
	}

	// The mirror's log end offset moved, and the broker's copy is the filler as sent.
	raw := rc.fetchRecordBatches(t, 10)
	batches, _, err := Split(raw)
	if err != nil || len(batches) < 2 || batches[0].Header.BaseOffset != 10 ||
		!PayloadEqual(batches[0].Bytes, BuildFiller(1000, ts)) ||
		batches[len(batches)-1].Header.NextOffset() != start+n {
		t.Fatalf("fetched %d batches, %v", len(batches), err)
	}

	cons, err := kgo.NewClient(kgo.SeedBrokers(rc.cl.OptValue(kgo.SeedBrokers).([]string)...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{"t": {0: kgo.NewOffset().AtStart()}}))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	ctx := testContext(t)
	var recs []*kgo.Record
	for len(recs) < start+n {
		fs := cons.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d records of %d: %v", len(recs), start+n, err)
		}
		if errs := fs.Errors(); len(errs) > 0 {
			t.Fatalf("consume: %v", errs)
		}
		recs = append(recs, fs.Records()...)
	}
	if len(recs) != start+n {
		t.Fatalf("consumed %d records, want %d", len(recs), start+n)
	}
	for i, r := range recs {
		if r.Offset != int64(i) {
			t.Fatalf("record %d has offset %d", i, r.Offset)
		}
		if i >= 10 && (r.Key != nil || r.Value != nil || len(r.Headers) != 0 || r.Timestamp.UnixMilli() != ts) {
			t.Fatalf("filler at offset %d: %+v", i, r)
		}
	}
}
