package integration

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/clusterlink/clusterlink/integration/kafkatest"
	"github.com/clusterlink/clusterlink/replicator/compare"
	"github.com/clusterlink/clusterlink/replicator/recordbatch"
)

// requireMirrorEqual is the check every mirroring test ends with. For each partition of srcTopic and dstTopic it
// requires: the same log start offset and high watermark; every record at the same offset with the same key,
// value, headers and timestamp (read by a consumer from the log start); and every batch with the same bytes
// except the header fields the broker owns (base offset, partition leader epoch, CRC).
func requireMirrorEqual(t *testing.T, src, dst *kafkatest.Cluster, srcTopic, dstTopic string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srcCl := newClient(t, src)
	dstCl := newClient(t, dst)
	srcBounds := partitionBounds(t, ctx, srcCl, srcTopic)
	dstBounds := partitionBounds(t, ctx, dstCl, dstTopic)
	if len(srcBounds) != len(dstBounds) {
		t.Fatalf("source %s has %d partitions, mirror %s has %d", srcTopic, len(srcBounds), dstTopic, len(dstBounds))
	}
	for p := int32(0); p < int32(len(srcBounds)); p++ {
		sb, db := srcBounds[p], dstBounds[p]
		if sb != db {
			t.Fatalf("partition %d: source [log start %d, high watermark %d], mirror [log start %d, high watermark %d]",
				p, sb.start, sb.end, db.start, db.end)
		}
		srcRecs := readRecords(t, ctx, srcCl, srcTopic, p, sb)
		dstRecs := readRecords(t, ctx, dstCl, dstTopic, p, db)
		compareRecords(t, p, srcRecs, dstRecs)
		srcBatches := readBatches(t, ctx, srcCl, srcTopic, p, sb)
		dstBatches := readBatches(t, ctx, dstCl, dstTopic, p, db)
		compareBatches(t, p, srcBatches, dstBatches)
	}
	requireVerified(t, src, dst, srcTopic, dstTopic, true)
}

// requireVerified runs `mirror verify` (compare.Topic) and requires it to find the mirror identical and
// caught up. With allBatches (the topics requireMirrorEqual checks: every batch equal but for the broker-owned
// fields) it must also have compared every offset and proven batches by their bytes.
func requireVerified(t *testing.T, src, dst *kafkatest.Cluster, srcTopic, dstTopic string, allBatches bool) []compare.Partition {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	vs, err := compare.Topic(ctx, newClient(t, src), newClient(t, dst), srcTopic, dstTopic, compare.Options{FromOffset: -1})
	if err != nil {
		t.Fatalf("verify %s: %v", dstTopic, err)
	}
	for _, v := range vs {
		if !v.Identical() || v.NotYetCopied != 0 {
			t.Fatalf("verify %s partition %d: %+v", dstTopic, v.Partition, v)
		}
		if allBatches && (v.Compared != v.To-v.From || v.BatchesIdentical == 0 && v.To > v.From+1000) {
			t.Fatalf("verify %s partition %d did not account for every offset by bytes: %+v", dstTopic, v.Partition, v)
		}
	}
	return vs
}

type bounds struct{ start, end int64 }

func newClient(t *testing.T, c *kafkatest.Cluster) *kgo.Client {
	t.Helper()
	cl, err := c.Client()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func partitionBounds(t *testing.T, ctx context.Context, cl *kgo.Client, topic string) []bounds {
	t.Helper()
	adm := kadm.NewClient(cl)
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err != nil {
		t.Fatalf("list start offsets of %s: %v", topic, err)
	}
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatalf("list end offsets of %s: %v", topic, err)
	}
	n := len(ends[topic])
	out := make([]bounds, n)
	for p := int32(0); p < int32(n); p++ {
		s, _ := starts.Lookup(topic, p)
		e, _ := ends.Lookup(topic, p)
		if s.Err != nil || e.Err != nil {
			t.Fatalf("offsets of %s[%d]: %v %v", topic, p, s.Err, e.Err)
		}
		out[p] = bounds{s.Offset, e.Offset}
	}
	return out
}

func readRecords(t *testing.T, ctx context.Context, cl *kgo.Client, topic string, p int32, b bounds) []*kgo.Record {
	t.Helper()
	if b.end <= b.start {
		return nil
	}
	c, err := kgo.NewClient(append(cl.Opts(),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {p: kgo.NewOffset().At(b.start)}}),
		kgo.FetchIsolationLevel(kgo.ReadUncommitted()))...)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var recs []*kgo.Record
	for len(recs) == 0 || recs[len(recs)-1].Offset < b.end-1 {
		fs := c.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatalf("read %s[%d] after %d records: %v", topic, p, len(recs), err)
		}
		recs = append(recs, fs.Records()...)
	}
	return recs
}

func compareRecords(t *testing.T, p int32, src, dst []*kgo.Record) {
	t.Helper()
	if len(src) != len(dst) {
		t.Fatalf("partition %d: source has %d records, mirror %d", p, len(src), len(dst))
	}
	for i := range src {
		s, d := src[i], dst[i]
		switch {
		case s.Offset != d.Offset:
			t.Fatalf("partition %d record %d: source offset %d, mirror offset %d", p, i, s.Offset, d.Offset)
		case !bytes.Equal(s.Key, d.Key) || (s.Key == nil) != (d.Key == nil):
			t.Fatalf("partition %d offset %d: key %q vs %q", p, s.Offset, s.Key, d.Key)
		case !bytes.Equal(s.Value, d.Value) || (s.Value == nil) != (d.Value == nil):
			t.Fatalf("partition %d offset %d: values differ (%d vs %d bytes)", p, s.Offset, len(s.Value), len(d.Value))
		case !s.Timestamp.Equal(d.Timestamp):
			t.Fatalf("partition %d offset %d: timestamp %v vs %v", p, s.Offset, s.Timestamp, d.Timestamp)
		case fmt.Sprint(s.Headers) != fmt.Sprint(d.Headers):
			t.Fatalf("partition %d offset %d: headers %v vs %v", p, s.Offset, s.Headers, d.Headers)
		}
	}
}

// readBatches fetches the raw batches of a partition from its log start to its high watermark.
func readBatches(t *testing.T, ctx context.Context, cl *kgo.Client, topic string, p int32, b bounds) []recordbatch.Batch {
	t.Helper()
	leader := partitionLeader(t, ctx, cl, topic, p)
	var out []recordbatch.Batch
	offset := b.start
	for offset < b.end {
		req := kmsg.NewPtrFetchRequest()
		req.ReplicaID = -1
		req.MaxWaitMillis = 100
		req.MaxBytes = 50 << 20
		req.SessionEpoch = -1
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic = topic
		rt.TopicID = topicID(t, ctx, cl, topic)
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition = p
		rp.FetchOffset = offset
		rp.PartitionMaxBytes = 50 << 20
		rp.CurrentLeaderEpoch = -1
		rp.LogStartOffset = -1
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		kresp, err := req.RequestWith(ctx, cl.Broker(int(leader)))
		if err != nil {
			t.Fatalf("fetch %s[%d] at %d: %v", topic, p, offset, err)
		}
		part := kresp.Topics[0].Partitions[0]
		if err := kerr.ErrorForCode(part.ErrorCode); err != nil {
			t.Fatalf("fetch %s[%d] at %d: %v", topic, p, offset, err)
		}
		batches, _, err := recordbatch.Split(part.RecordBatches)
		if err != nil {
			t.Fatalf("split batches of %s[%d] at %d: %v", topic, p, offset, err)
		}
		if len(batches) == 0 {
			t.Fatalf("fetch %s[%d] at %d returned no batch before the high watermark %d", topic, p, offset, b.end)
		}
		for _, rb := range batches {
			if rb.Header.NextOffset() <= offset {
				continue
			}
			out = append(out, rb)
			offset = rb.Header.NextOffset()
		}
	}
	return out
}

func compareBatches(t *testing.T, p int32, src, dst []recordbatch.Batch) {
	t.Helper()
	if len(src) != len(dst) {
		t.Fatalf("partition %d: source has %d batches, mirror %d", p, len(src), len(dst))
	}
	for i := range src {
		s, d := src[i], dst[i]
		if s.Header.BaseOffset != d.Header.BaseOffset {
			t.Fatalf("partition %d batch %d: source base offset %d, mirror %d", p, i, s.Header.BaseOffset, d.Header.BaseOffset)
		}
		if !recordbatch.PayloadEqual(s.Bytes, d.Bytes) {
			t.Fatalf("partition %d batch at offset %d: bytes differ beyond the broker-owned header fields", p, s.Header.BaseOffset)
		}
	}
}

func partitionLeader(t *testing.T, ctx context.Context, cl *kgo.Client, topic string, p int32) int32 {
	t.Helper()
	details, err := kadm.NewClient(cl).ListTopics(ctx, topic)
	if err != nil {
		t.Fatalf("metadata of %s: %v", topic, err)
	}
	pd, ok := details[topic].Partitions[p]
	if !ok {
		t.Fatalf("no partition %d in %s", p, topic)
	}
	return pd.Leader
}

func topicID(t *testing.T, ctx context.Context, cl *kgo.Client, topic string) [16]byte {
	t.Helper()
	details, err := kadm.NewClient(cl).ListTopics(ctx, topic)
	if err != nil {
		t.Fatalf("metadata of %s: %v", topic, err)
	}
	return details[topic].ID
}
