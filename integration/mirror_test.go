package integration

import (
	"context"
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap/zaptest"

	"github.com/clusterlink/clusterlink/integration/kafkatest"
	"github.com/clusterlink/clusterlink/replicator"
)

// link is a running replicator between two clusters, stopped when the test ends.
type link struct {
	r    *replicator.Replicator
	stop func()
}

func startLink(t *testing.T, src, dst *kafkatest.Cluster, opts ...replicator.Opt) *link {
	t.Helper()
	r, err := replicator.New(newClient(t, src), newClient(t, dst), append([]replicator.Opt{
		replicator.Logger(zaptest.NewLogger(t)), replicator.MetadataRefresh(time.Second),
	}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	l := &link{r: r}
	l.stop = func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("replicator stopped with %v", err)
		}
	}
	t.Cleanup(func() {
		if l.stop != nil {
			l.stop()
		}
	})
	return l
}

func (l *link) addMirror(t *testing.T, spec replicator.MirrorSpec) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := l.r.AddMirror(ctx, spec); err != nil {
		t.Fatalf("add mirror %s: %v", spec.MirrorTopic, err)
	}
}

// waitCaughtUp waits until every partition of the mirror is ACTIVE with its log end at the source's current high
// watermark.
func waitCaughtUp(t *testing.T, l *link, src *kafkatest.Cluster, srcTopic, mirrorTopic string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cl := newClient(t, src)
	srcEnds := partitionBounds(t, ctx, cl, srcTopic)
	for {
		st, ok := l.r.MirrorStatus(mirrorTopic)
		if ok && len(st.Partitions) == len(srcEnds) {
			done := true
			for _, p := range st.Partitions {
				if p.Status == replicator.StatusFailed {
					t.Fatalf("mirror %s partition %d failed: %s %s", mirrorTopic, p.Partition, p.ErrorCode, p.ErrorMessage)
				}
				if p.MirrorLogEndOffset < srcEnds[p.Partition].end {
					done = false
				}
			}
			if done {
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("mirror %s did not catch up: %+v", mirrorTopic, st)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// deleteRecordsBefore moves the log start offset of topic's partitions with DeleteRecords.
func deleteRecordsBefore(t *testing.T, c *kafkatest.Cluster, topic string, before map[int32]int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var offsets kadm.Offsets
	for p, at := range before {
		offsets.Add(kadm.Offset{Topic: topic, Partition: p, At: at, LeaderEpoch: -1})
	}
	resp, err := kadm.NewClient(newClient(t, c)).DeleteRecords(ctx, offsets)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		t.Fatalf("delete records of %s: %v", topic, err)
	}
}

func createTopic(t *testing.T, c *kafkatest.Cluster, topic string, partitions int32, configs map[string]*string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	resp, err := kadm.NewClient(newClient(t, c)).CreateTopic(ctx, partitions, 1, configs, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
	// A new topic reaches every broker's metadata a little later: wait until each partition has a leader, so that
	// what the test does next (a mirror, a describe) does not race the propagation.
	adm := kadm.NewClient(newClient(t, c))
	for {
		md, err := adm.Metadata(ctx, topic)
		if err == nil {
			if td, ok := md.Topics[topic]; ok && td.Err == nil && int32(len(td.Partitions)) == partitions {
				ready := true
				for _, p := range td.Partitions {
					ready = ready && p.Leader >= 0 && p.Err == nil
				}
				if ready {
					return
				}
			}
		}
		if ctx.Err() != nil {
			t.Fatalf("topic %s has no leader for every partition after a minute: %v", topic, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// produceMix writes n records to every partition of topic in several produce calls, so the log holds many batches:
// null and non-null keys, headers, values of varied sizes, explicit timestamps.
func produceMix(t *testing.T, c *kafkatest.Cluster, topic string, n int, codec kgo.CompressionCodec, seed int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cl := newClient(t, c)
	p, err := kgo.NewClient(append(cl.Opts(), kgo.ProducerBatchCompression(codec), kgo.ProducerLinger(5*time.Millisecond),
		kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))...)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	rng := rand.New(rand.NewSource(seed))
	base := time.Now().Add(-48 * time.Hour).Truncate(time.Millisecond)
	for sent := 0; sent < n; {
		chunk := min(n-sent, 1+rng.Intn(300))
		var recs []*kgo.Record
		for i := 0; i < chunk; i++ {
			r := &kgo.Record{Topic: topic, Timestamp: base.Add(time.Duration(sent+i) * time.Millisecond)}
			if rng.Intn(4) > 0 {
				r.Key = []byte(fmt.Sprintf("key-%d", rng.Intn(1000)))
			}
			if rng.Intn(10) > 0 {
				r.Value = []byte(strings.Repeat(fmt.Sprintf("v%d-", sent+i), 1+rng.Intn(60)))
			}
			if rng.Intn(3) == 0 {
				r.Headers = []kgo.RecordHeader{{Key: "h1", Value: []byte("x")}, {Key: "trace", Value: []byte(fmt.Sprint(sent + i))}}
			}
			recs = append(recs, r)
		}
		if err := p.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatalf("produce to %s: %v", topic, err)
		}
		sent += chunk
	}
}

// TestMirror_CopiesEveryCodecByteForByte mirrors topics of 1 to 12 partitions written with every codec, with
// null and non-null keys, headers, and batches near max.message.bytes; every record and every batch must match at
// the same offset.
func TestMirror_CopiesEveryCodecByteForByte(t *testing.T) {
	src, dst := source(t), destination(t)
	codecs := []struct {
		name       string
		codec      kgo.CompressionCodec
		partitions int32
	}{
		{"none", kgo.NoCompression(), 1},
		{"gzip", kgo.GzipCompression(), 3},
		{"snappy", kgo.SnappyCompression(), 2},
		{"lz4", kgo.Lz4Compression(), 12},
		{"zstd", kgo.ZstdCompression(), 5},
	}
	l := startLink(t, src, dst)
	var topics []string
	for i, c := range codecs {
		topic := uniqueTopic(t, "codec-"+c.name)
		topics = append(topics, topic)
		createTopic(t, src, topic, c.partitions, nil)
		produceMix(t, src, topic, 3000, c.codec, int64(i))
		l.addMirror(t, replicator.MirrorSpec{MirrorTopic: topic})
	}
	// Data that arrives while mirroring is copied too.
	for i, c := range codecs {
		produceMix(t, src, topics[i], 500, c.codec, int64(100+i))
	}
	for _, topic := range topics {
		waitCaughtUp(t, l, src, topic, topic)
		requireMirrorEqual(t, src, dst, topic, topic)
	}
}

// TestMirror_BatchesNearMaxMessageBytes copies batches close to the source topic's max.message.bytes, compressed
// and not; the mirror topic gets the source's limit so they fit.
func TestMirror_BatchesNearMaxMessageBytes(t *testing.T) {
	src, dst := source(t), destination(t)
	topic := uniqueTopic(t, "large")
	createTopic(t, src, topic, 2, map[string]*string{"max.message.bytes": kadm.StringPtr("2097152")})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, codec := range []kgo.CompressionCodec{kgo.NoCompression(), kgo.ZstdCompression()} {
		p, err := kgo.NewClient(append(src.ClientOpts(), kgo.ProducerBatchCompression(codec), kgo.ProducerBatchMaxBytes(2097152-1024))...)
		if err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewSource(7))
		value := make([]byte, 2000000) // incompressible: the compressed batch is near the limit too
		rng.Read(value)
		for part := int32(0); part < 2; part++ {
			if err := p.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: part, Key: []byte("big"), Value: value}).FirstErr(); err != nil {
				t.Fatalf("produce a near-limit batch: %v", err)
			}
		}
		p.Close()
	}
	l := startLink(t, src, dst)
	l.addMirror(t, replicator.MirrorSpec{MirrorTopic: topic})
	waitCaughtUp(t, l, src, topic, topic)
	requireMirrorEqual(t, src, dst, topic, topic)
}

// TestMirror_StartsAtSourceLogStartAboveZero deletes the head of the source (DeleteRecords, mid-batch) before the
// link starts: the mirror's log start and every offset must match, and a consumer reading the mirror from the
// earliest offset gets exactly the source's records.
func TestMirror_StartsAtSourceLogStartAboveZero(t *testing.T) {
	src, dst := source(t), destination(t)
	topic := uniqueTopic(t, "logstart")
	createTopic(t, src, topic, 3, nil)
	produceMix(t, src, topic, 3000, kgo.Lz4Compression(), 3)
	// Partition 0 from an offset likely inside a batch, partition 1 entirely.
	deleteRecordsBefore(t, src, topic, map[int32]int64{0: 437, 1: 1000})
	l := startLink(t, src, dst)
	l.addMirror(t, replicator.MirrorSpec{MirrorTopic: topic})
	waitCaughtUp(t, l, src, topic, topic)
	requireMirrorEqual(t, src, dst, topic, topic)
	st, _ := l.r.MirrorStatus(topic)
	var filled int64
	for _, p := range st.Partitions {
		filled += p.Counters.FillerOffsets
	}
	if filled == 0 {
		t.Fatalf("expected filler offsets below the source log start, counters: %+v", st.Partitions)
	}
}

// TestMirror_StartsAtLatest starts a mirror at the source's high watermark: older records are never copied,
// and the mirror's offsets still equal the source's.
func TestMirror_StartsAtLatest(t *testing.T) {
	src, dst := source(t), destination(t)
	topic := uniqueTopic(t, "latest")
	createTopic(t, src, topic, 2, nil)
	produceMix(t, src, topic, 1000, kgo.SnappyCompression(), 4)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	before := partitionBounds(t, ctx, newClient(t, src), topic)
	l := startLink(t, src, dst)
	l.addMirror(t, replicator.MirrorSpec{MirrorTopic: topic, StartOffset: &replicator.StartOffset{Kind: replicator.StartLatest}})
	waitCaughtUp(t, l, src, topic, topic)
	produceMix(t, src, topic, 500, kgo.SnappyCompression(), 5)
	waitCaughtUp(t, l, src, topic, topic)
	after := partitionBounds(t, ctx, newClient(t, dst), topic)
	for p := range before {
		if after[p].start != before[p].end {
			t.Fatalf("partition %d: mirror log start %d, want the source high watermark at start %d", p, after[p].start, before[p].end)
		}
	}
	// The source still has the older records; compare from the mirror's log start.
	srcCl, dstCl := newClient(t, src), newClient(t, dst)
	for p := range after {
		b := bounds{after[p].start, after[p].end}
		compareRecords(t, int32(p), readRecords(t, ctx, srcCl, topic, int32(p), b), readRecords(t, ctx, dstCl, topic, int32(p), b))
	}
}

// TestMirror_ForeignProduceFailsOnlyThatPartition writes to a mirror partition from outside the link: that
// partition must stop FAILED with a message naming it and both offsets, while the other partitions go on.
func TestMirror_ForeignProduceFailsOnlyThatPartition(t *testing.T) {
	src, dst := source(t), destination(t)
	topic := uniqueTopic(t, "foreign")
	createTopic(t, src, topic, 3, nil)
	produceMix(t, src, topic, 300, kgo.NoCompression(), 6)
	l := startLink(t, src, dst)
	l.addMirror(t, replicator.MirrorSpec{MirrorTopic: topic})
	waitCaughtUp(t, l, src, topic, topic)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	intruder, err := kgo.NewClient(append(dst.ClientOpts(), kgo.RecordPartitioner(kgo.ManualPartitioner()))...)
	if err != nil {
		t.Fatal(err)
	}
	defer intruder.Close()
	if err := intruder.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: 1, Value: []byte("foreign")}).FirstErr(); err != nil {
		t.Fatalf("foreign produce: %v", err)
	}
	// New source data for every partition: partition 1's next batch meets the foreign record.
	produceMix(t, src, topic, 300, kgo.NoCompression(), 7)

	var failed replicator.PartitionStatus
	for failed.Status != replicator.StatusFailed {
		st, _ := l.r.MirrorStatus(topic)
		failed = st.Partitions[1]
		if ctx.Err() != nil {
			t.Fatalf("partition 1 did not fail after a foreign write: %+v", st)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if failed.ErrorCode != replicator.CodeIllegalState || !strings.Contains(failed.ErrorMessage, fmt.Sprintf("%s[1]", topic)) ||
		!strings.Contains(failed.ErrorMessage, "expected the batch at offset") {
		t.Fatalf("partition 1 failed with %s %q, want ILLEGAL_STATE naming the partition and offsets", failed.ErrorCode, failed.ErrorMessage)
	}
	// The other partitions are copied to the end and match.
	srcCl, dstCl := newClient(t, src), newClient(t, dst)
	srcB := partitionBounds(t, ctx, srcCl, topic)
	for _, p := range []int32{0, 2} {
		for {
			st, _ := l.r.MirrorStatus(topic)
			if st.Partitions[p].MirrorLogEndOffset >= srcB[p].end {
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("partition %d stalled: %+v", p, st.Partitions[p])
			}
			time.Sleep(100 * time.Millisecond)
		}
		compareRecords(t, p, readRecords(t, ctx, srcCl, topic, p, srcB[p]), readRecords(t, ctx, dstCl, topic, p, srcB[p]))
	}
}
