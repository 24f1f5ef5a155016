package integration

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/clusterlink/clusterlink/integration/kafkatest"
	"github.com/clusterlink/clusterlink/replicator"
)

// compactedRecords reads every record of a partition (read_committed: markers are never returned) by offset.
func compactedRecords(t *testing.T, c *kafkatest.Cluster, topic string, p int32) (map[int64]*kgo.Record, int64) {
	t.Helper()
	ctx := context.Background()
	cl := newClient(t, c)
	b := partitionBounds(t, ctx, cl, topic)[p]
	out := map[int64]*kgo.Record{}
	if b.end <= b.start {
		return out, b.end
	}
	rd, err := kgo.NewClient(append(cl.Opts(), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {p: kgo.NewOffset().At(b.start)}}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))...)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	// The last offsets may be markers, which are never returned: read until a fetch shows the high watermark and
	// returns nothing more.
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	idle := 0
	for idle < 3 {
		fctx, fcancel := context.WithTimeout(pctx, 500*time.Millisecond)
		fs := rd.PollFetches(fctx)
		fcancel()
		if pctx.Err() != nil {
			t.Fatalf("read %s[%d]: %v", topic, p, pctx.Err())
		}
		n := 0
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset < b.end {
				out[r.Offset] = r
				n++
			}
		})
		if n == 0 {
			idle++
		}
	}
	return out, b.end
}

// requireCompactedMirrorEqual checks a compacted mirror against its source: the same log end offset; every record
// both still have is identical at its offset; the latest value of every key is the same; and the mirror holds no
// record at an offset where the source never had one.
func requireCompactedMirrorEqual(t *testing.T, src, dst *kafkatest.Cluster, topic string, partitions int32) (records int) {
	t.Helper()
	for p := int32(0); p < partitions; p++ {
		s, send := compactedRecords(t, src, topic, p)
		d, dend := compactedRecords(t, dst, topic, p)
		if send != dend {
			t.Fatalf("partition %d: source ends at %d, mirror at %d", p, send, dend)
		}
		latest := func(m map[int64]*kgo.Record) map[string]string {
			out, at := map[string]string{}, map[string]int64{}
			for off, r := range m {
				if prev, ok := at[string(r.Key)]; !ok || off > prev {
					at[string(r.Key)], out[string(r.Key)] = off, string(r.Value)
				}
			}
			return out
		}
		for off, dr := range d {
			sr, ok := s[off]
			if !ok {
				continue // compacted away on the source since it was copied: the mirror's cleaner will follow
			}
			if !bytes.Equal(sr.Key, dr.Key) || !bytes.Equal(sr.Value, dr.Value) || !sr.Timestamp.Equal(dr.Timestamp) ||
				fmt.Sprint(sr.Headers) != fmt.Sprint(dr.Headers) {
				t.Fatalf("partition %d offset %d: source %q=%q at %v, mirror %q=%q at %v", p, off, sr.Key, sr.Value, sr.Timestamp,
					dr.Key, dr.Value, dr.Timestamp)
			}
		}
		ls, ld := latest(s), latest(d)
		if fmt.Sprint(ls) != fmt.Sprint(ld) {
			t.Fatalf("partition %d: the latest value per key differs:\nsource %v\nmirror %v", p, ls, ld)
		}
		records += len(d)
	}
	return records
}

// TestMirror_CompactedTopicWithHolesKeepsEveryOffset mirrors a topic whose log cleaner has removed overwritten
// records (batches with offset holes, and whole batches gone): runs of contiguous records are re-encoded, the holes
// are taken by transaction markers, every offset of the mirror matches the source's, and the cleaner keeps running on
// both sides while more overwrites arrive.
func TestMirror_CompactedTopicWithHolesKeepsEveryOffset(t *testing.T) {
	src := kafkatest.StartT(t, kafkatest.BrokerConfig("log.cleaner.backoff.ms", "100"))
	dst := destination(t)
	topic := uniqueTopic(t, "compacted")
	compact := map[string]*string{
		"cleanup.policy":            ptr("compact"),
		"segment.ms":                ptr("100"),
		"min.cleanable.dirty.ratio": ptr("0.01"),
		"min.compaction.lag.ms":     ptr("0"),
		"delete.retention.ms":       ptr("0"),
	}
	const partitions = 3
	createTopic(t, src, topic, partitions, compact)
	ctx := context.Background()
	prod, err := kgo.NewClient(append(src.ClientOpts(), kgo.DefaultProduceTopic(topic), kgo.ProducerBatchCompression(kgo.Lz4Compression()),
		kgo.ProducerLinger(time.Millisecond))...)
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	round := 0
	overwrite := func(rounds int) {
		t.Helper()
		for i := 0; i < rounds; i++ {
			var recs []*kgo.Record
			// The first round writes every key, the others only the first half: the first round's batches keep
			// their second half, with holes where the first half was.
			keys := 60
			if round > 0 {
				keys = 30
			}
			for k := 0; k < keys; k++ {
				recs = append(recs, &kgo.Record{Key: []byte(fmt.Sprint("key-", k)), Value: []byte(fmt.Sprintf("round %d value %d", round, k)),
					Headers: []kgo.RecordHeader{{Key: "round", Value: []byte(fmt.Sprint(round))}}})
			}
			if err := prod.ProduceSync(ctx, recs...).FirstErr(); err != nil {
				t.Fatal(err)
			}
			round++
			time.Sleep(120 * time.Millisecond) // roll the segment
		}
	}
	overwrite(15)
	// Wait until the cleaner made holes: fewer records than offsets.
	deadline := time.Now().Add(90 * time.Second)
	for {
		s, end := compactedRecords(t, src, topic, 0)
		if int64(len(s)) < end/2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the source was not compacted: %d records for %d offsets", len(s), end)
		}
		overwrite(1)
	}

	l := startLink(t, src, dst)
	l.addMirror(t, replicator.MirrorSpec{MirrorTopic: topic})
	overwrite(5) // more overwrites while mirroring, and the cleaner running
	waitCaughtUp(t, l, src, topic, topic)
	n := requireCompactedMirrorEqual(t, src, dst, topic, partitions)
	var pending int64
	for _, v := range requireVerified(t, src, dst, topic, topic, false) {
		pending += v.PendingCompaction
	}
	t.Logf("mirror verify: identical (%d offsets the source's cleaner removed and the mirror's not yet)", pending)
	st, _ := l.r.MirrorStatus(topic)
	var markers, reencoded int64
	for _, p := range st.Partitions {
		markers += p.Counters.MarkerOffsets
		reencoded += p.Counters.BatchesReencoded
	}
	if markers == 0 || reencoded == 0 {
		t.Errorf("%d offsets filled with markers, %d re-encoded runs: the source had no holes inside batches? (%+v)",
			markers, reencoded, st.Partitions[0].Counters)
	}
	t.Logf("%d records at identical offsets; %d offsets filled with markers; %d re-encoded runs", n, markers, reencoded)
}

func ptr(s string) *string { return &s }
