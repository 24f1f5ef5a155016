package main

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/clusterlink/clusterlink/integration/kafkatest"
)

// holeFill measures how fast clusterlink fills a hole the log cleaner left in a compacted source topic: n records
// of one key, then one more of that key, compacted until only the last remains, so the mirror takes the n offsets
// with transaction markers before it copies the record after them. The time includes the replicator process's
// start and the mirror topic's creation.
func holeFill(ctx context.Context, src, dst *kafkatest.Cluster, n int64) (result, error) {
	topic := fmt.Sprintf("hole-%d", n)
	cl, err := src.Client(kgo.DefaultProduceTopic(topic), kgo.ProducerBatchCompression(kgo.Lz4Compression()),
		kgo.ProducerBatchMaxBytes(1<<20), kgo.ProducerLinger(5*time.Millisecond))
	if err != nil {
		return result{}, err
	}
	defer cl.Close()
	compact := map[string]*string{
		"cleanup.policy":            kadm.StringPtr("compact"),
		"segment.ms":                kadm.StringPtr("100"),
		"min.cleanable.dirty.ratio": kadm.StringPtr("0.01"),
		"min.compaction.lag.ms":     kadm.StringPtr("0"),
		"delete.retention.ms":       kadm.StringPtr("0"),
	}
	if resp, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 1, compact, topic); err != nil || resp.Err != nil {
		return result{}, fmt.Errorf("create %s: %v %v", topic, err, resp.Err)
	}
	produce := func(key string, count int64) error {
		for sent := int64(0); sent < count; {
			chunk := min(count-sent, 10000)
			recs := make([]*kgo.Record, chunk)
			for i := range recs {
				recs[i] = &kgo.Record{Key: []byte(key), Value: []byte("overwritten")}
			}
			if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
				return fmt.Errorf("produce to %s: %w", topic, err)
			}
			sent += chunk
		}
		return nil
	}
	// n records of one key; then, each in a segment of its own (segment.ms rolls on the next append), the record that
	// overwrites them all, and one of another key so that segment is no longer the active one.
	if err := produce("hole", n); err != nil {
		return result{}, err
	}
	time.Sleep(150 * time.Millisecond)
	if err := produce("hole", 1); err != nil {
		return result{}, err
	}
	deadline := time.Now().Add(3 * time.Minute)
	for {
		time.Sleep(150 * time.Millisecond)
		if err := produce("roll", 1); err != nil {
			return result{}, err
		}
		records, end, err := countRecords(ctx, src, topic)
		if err != nil {
			return result{}, err
		}
		if records < end/100 {
			fmt.Printf("   source compacted: %d records left of %d offsets\n", records, end)
			break
		}
		if time.Now().After(deadline) {
			return result{}, fmt.Errorf("the cleaner left %d records of %d offsets in %s", records, end, topic)
		}
		time.Sleep(time.Second)
	}
	ends, err := endOffsets(ctx, src, topic)
	if err != nil {
		return result{}, err
	}
	cmd := childCommand("catchup", src.BootstrapServers(), dst.BootstrapServers(), topic, 0)
	return runChildMeasured(cmd, fmt.Sprintf("clusterlink fills a compacted hole of %d offsets (offsets/s)", n), 0, ends[0])
}

// countRecords reads a one-partition topic to its end: how many records it holds, and its end offset.
func countRecords(ctx context.Context, c *kafkatest.Cluster, topic string) (records, end int64, err error) {
	ends, err := endOffsets(ctx, c, topic)
	if err != nil {
		return 0, 0, err
	}
	end = ends[0]
	cl, err := c.Client(kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}))
	if err != nil {
		return 0, 0, err
	}
	defer cl.Close()
	rctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for last := int64(-1); last < end-1; {
		fs := cl.PollFetches(rctx)
		if err := fs.Err0(); err != nil {
			return 0, 0, fmt.Errorf("read %s: %w", topic, err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			records++
			last = r.Offset
		})
	}
	return records, end, nil
}
