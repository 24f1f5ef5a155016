package integration

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/clusterlink/clusterlink/replicator"
)

// TestMirror_LogAppendTimeSourceKeepsItsTimestamps: a LogAppendTime source topic, written with create times an hour
// old, so that append and create times differ. Every record of the mirror carries the source's timestamp (its
// append time), value by value; the batches are counted as rewritten; after promote the topic is LogAppendTime again.
func TestMirror_LogAppendTimeSourceKeepsItsTimestamps(t *testing.T) {
	src, dst := source(t), destination(t)
	topic := uniqueTopic(t, "lat")
	createTopic(t, src, topic, 2, map[string]*string{"message.timestamp.type": ptr("LogAppendTime")})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, codec := range []kgo.CompressionCodec{kgo.NoCompression(), kgo.ZstdCompression()} {
		cl, err := kgo.NewClient(append(src.ClientOpts(), kgo.DefaultProduceTopic(topic), kgo.ProducerBatchCompression(codec),
			kgo.ProducerLinger(5*time.Millisecond))...)
		if err != nil {
			t.Fatal(err)
		}
		old := time.Now().Add(-time.Hour)
		for i := 0; i < 500; i++ {
			cl.Produce(ctx, &kgo.Record{Key: []byte(fmt.Sprint(i)), Value: []byte("v"), Timestamp: old.Add(time.Duration(i) * time.Millisecond)}, nil)
		}
		if err := cl.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		cl.Close()
	}
	l := startLink(t, src, dst)
	l.addMirror(t, replicator.MirrorSpec{MirrorTopic: topic})
	waitCaughtUp(t, l, src, topic, topic)

	srcCl, dstCl := newClient(t, src), newClient(t, dst)
	for p, b := range partitionBounds(t, ctx, srcCl, topic) {
		s := readRecords(t, ctx, srcCl, topic, int32(p), b)
		d := readRecords(t, ctx, dstCl, topic, int32(p), b)
		compareRecords(t, int32(p), s, d) // timestamps compared value by value
		for _, r := range s {
			if r.Attrs.TimestampType() != 1 || time.Since(r.Timestamp) > 10*time.Minute {
				t.Fatalf("source offset %d: timestamp type %d at %v: not the broker's append time", r.Offset, r.Attrs.TimestampType(), r.Timestamp)
			}
		}
	}
	requireVerified(t, src, dst, topic, topic, false)
	st, _ := l.r.MirrorStatus(topic)
	var rewritten int64
	for _, p := range st.Partitions {
		rewritten += p.Counters.BatchesAppendTime
	}
	if rewritten == 0 {
		t.Fatal("no batch counted as rewritten for its append time")
	}
	t.Logf("%d LogAppendTime batches rewritten", rewritten)

	if err := l.r.StopMirror(ctx, topic); err != nil {
		t.Fatal(err)
	}
	srcConfigs, err := l.r.SourceTopicConfigs(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.r.RestoreTopicConfigs(ctx, topic, srcConfigs); err != nil {
		t.Fatal(err)
	}
	rcs, err := kadm.NewClient(dstCl).DescribeTopicConfigs(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	rc, _ := rcs.On(topic, nil)
	for _, c := range rc.Configs {
		if c.Key == "message.timestamp.type" && (c.Value == nil || *c.Value != "LogAppendTime") {
			t.Fatalf("promoted topic message.timestamp.type = %v, want LogAppendTime", c.MaybeValue())
		}
	}
}

// TestMirror_TimeLagIsTheAgeOfTheFirstMissingRecord: a paused (so lagging) mirror; records written after the pause
// are missing on the mirror, and the partition's time lag is the age of the first of them, within a second.
func TestMirror_TimeLagIsTheAgeOfTheFirstMissingRecord(t *testing.T) {
	src, dst := source(t), destination(t)
	topic := uniqueTopic(t, "timelag")
	createTopic(t, src, topic, 1, nil)
	produceMix(t, src, topic, 100, kgo.Lz4Compression(), 45)
	l := startLink(t, src, dst)
	l.addMirror(t, replicator.MirrorSpec{MirrorTopic: topic})
	waitCaughtUp(t, l, src, topic, topic)
	if st, _ := l.r.MirrorStatus(topic); st.Partitions[0].TimeLag != 0 {
		t.Fatalf("caught up, time lag %v", st.Partitions[0].TimeLag)
	}
	if err := l.r.PauseMirror(topic); err != nil {
		t.Fatal(err)
	}
	first := time.UnixMilli(time.Now().UnixMilli())
	cl, err := kgo.NewClient(append(src.ClientOpts(), kgo.DefaultProduceTopic(topic))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for i := 0; i < 20; i++ {
		ts := first.Add(time.Duration(i) * 100 * time.Millisecond)
		if err := cl.ProduceSync(context.Background(), &kgo.Record{Value: []byte("late"), Timestamp: ts}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	// The writer stopped; the figure keeps growing with the first missing record's age.
	for _, wait := range []time.Duration{3 * time.Second, 2 * time.Second} {
		time.Sleep(wait)
		st, _ := l.r.MirrorStatus(topic)
		p := st.Partitions[0]
		want := time.Since(first)
		if p.Lag != 20 || p.TimeLag < want-time.Second || p.TimeLag > want+time.Second {
			t.Fatalf("lag %d, time lag %v; the first missing record is %v old", p.Lag, p.TimeLag, want)
		}
		t.Logf("lag %d, time lag %v, first missing record %v old", p.Lag, p.TimeLag, want.Round(time.Millisecond))
	}
	if err := l.r.ResumeMirror(topic); err != nil {
		t.Fatal(err)
	}
	waitCaughtUp(t, l, src, topic, topic)
	requireMirrorEqual(t, src, dst, topic, topic)
}
