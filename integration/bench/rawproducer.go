package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/clusterlink/clusterlink/integration/kafkatest"
	"github.com/clusterlink/clusterlink/replicator/recordbatch"
)

// Offsets of the v2 record batch header fields the raw producer rewrites (Kafka's DefaultRecordBatch).
const (
	rawOffCRC            = 17
	rawOffAttributes     = 21
	rawOffFirstTimestamp = 27
	rawOffMaxTimestamp   = 35
	rawOffProducerID     = 43
	rawOffProducerEpoch  = 51
	rawOffBaseSequence   = 53
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// rawProduce writes records to a one-broker topic at rateMBps the way an idempotent producer with linger.ms=5 does
// (one batch per partition every 5 ms, its own producer id, sequences following on, timestamps of now), but
// without compressing anything at run time: it compresses one batch per partition once, by producing it with
// franz-go to a scratch topic and fetching its bytes, and then sends those records again and again with a fresh
// header. The load generator then takes a few percent of a core instead of the share a compressing producer takes
// on a small machine; the load is also harder than a franz-go producer's: exactly one batch per partition every
// 5 ms, however busy the brokers are, where a real producer's batches grow when requests take longer.
func rawProduce(ctx context.Context, c *kafkatest.Cluster, topic string, partitions int32, records int64, recordSize int,
	codec kgo.CompressionCodec, seed int64, rateMBps float64, idempotent bool) (result, error) {
	const tick = 5 * time.Millisecond
	perBatch := max(1, int(rateMBps*1e6*tick.Seconds()/float64(int(partitions)*recordSize)))
	template, err := templateBatch(ctx, c, topic+"-template", perBatch, recordSize, codec, seed)
	if err != nil {
		return result{}, err
	}
	cl, err := c.Client()
	if err != nil {
		return result{}, err
	}
	defer cl.Close()
	pid, epoch := int64(-1), int16(-1) // without idempotence: no producer id, sequence -1
	if idempotent {
		init, err := kmsg.NewPtrInitProducerIDRequest().RequestWith(ctx, cl)
		if err == nil {
			err = kerr.ErrorForCode(init.ErrorCode)
		}
		if err != nil {
			return result{}, fmt.Errorf("init producer id: %w", err)
		}
		pid, epoch = init.ProducerID, init.ProducerEpoch
	}
	topics, err := kadm.NewClient(cl).ListTopics(ctx, topic)
	if err != nil {
		return result{}, fmt.Errorf("the id of %s: %w", topic, err)
	}
	broker := c.Nodes[0].ID
	seqs := make([]int32, partitions)
	start := time.Now()
	var sent int64
	for round := 0; sent < records; round++ {
		if d := time.Until(start.Add(time.Duration(round) * tick)); d > 0 {
			time.Sleep(d)
		}
		req := kmsg.NewPtrProduceRequest()
		req.Acks, req.TimeoutMillis = -1, 30000
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic, rt.TopicID = topic, topics[topic].ID
		now := time.Now().UnixMilli()
		for p := int32(0); p < partitions; p++ {
			b := append([]byte(nil), template...)
			span := int64(binary.BigEndian.Uint64(b[rawOffMaxTimestamp:]) - binary.BigEndian.Uint64(b[rawOffFirstTimestamp:]))
			binary.BigEndian.PutUint64(b[rawOffFirstTimestamp:], uint64(now))
			binary.BigEndian.PutUint64(b[rawOffMaxTimestamp:], uint64(now+span))
			binary.BigEndian.PutUint64(b[rawOffProducerID:], uint64(pid))
			binary.BigEndian.PutUint16(b[rawOffProducerEpoch:], uint16(epoch))
			seq := int32(-1)
			if idempotent {
				seq = seqs[p]
			}
			binary.BigEndian.PutUint32(b[rawOffBaseSequence:], uint32(seq))
			binary.BigEndian.PutUint32(b[rawOffCRC:], crc32.Checksum(b[rawOffAttributes:], castagnoli))
			seqs[p] += int32(perBatch)
			rp := kmsg.NewProduceRequestTopicPartition()
			rp.Partition, rp.Records = p, b
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
		kresp, err := cl.Broker(int(broker)).Request(ctx, req)
		if err != nil {
			return result{}, fmt.Errorf("produce: %w", err)
		}
		for _, t := range kresp.(*kmsg.ProduceResponse).Topics {
			for _, p := range t.Partitions {
				if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
					return result{}, fmt.Errorf("produce to %s[%d]: %w", topic, p.Partition, err)
				}
			}
		}
		sent += int64(perBatch) * int64(partitions)
	}
	secs := time.Since(start).Seconds()
	bytes := sent * int64(recordSize)
	return result{Bytes: bytes, Records: sent, Seconds: secs, MBps: float64(bytes) / 1e6 / secs, RecordsPerS: float64(sent) / secs}, nil
}

// templateBatch produces n records of recordSize in one batch to a new one-partition scratch topic and returns that
// batch's bytes as the broker stored them.
func templateBatch(ctx context.Context, c *kafkatest.Cluster, topic string, n, recordSize int, codec kgo.CompressionCodec, seed int64) ([]byte, error) {
	if err := createTopic(ctx, c, topic, 1); err != nil {
		return nil, err
	}
	cl, err := c.Client(kgo.ProducerBatchCompression(codec), kgo.ProducerBatchMaxBytes(16<<20), kgo.DefaultProduceTopic(topic),
		kgo.ProducerLinger(time.Second))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	vals := values(recordSize, seed)
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = &kgo.Record{Key: []byte(fmt.Sprint(i)), Value: vals[i%len(vals)]}
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return nil, fmt.Errorf("produce the template batch: %w", err)
	}
	topics, err := kadm.NewClient(cl).ListTopics(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("the template topic's id: %w", err)
	}
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID, req.MaxBytes, req.MaxWaitMillis = -1, 64<<20, 100
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic, rt.TopicID = topic, topics[topic].ID
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.PartitionMaxBytes, rp.CurrentLeaderEpoch, rp.LastFetchedEpoch, rp.LogStartOffset = 64<<20, -1, -1, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	kresp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, fmt.Errorf("fetch the template batch: %w", err)
	}
	for _, t := range kresp.Topics {
		for _, p := range t.Partitions {
			batches, _, err := recordbatch.Split(p.RecordBatches)
			if err != nil {
				return nil, err
			}
			if len(batches) != 1 || int(batches[0].Header.NumRecords) != n {
				return nil, fmt.Errorf("the template topic holds %d batches, want one of %d records", len(batches), n)
			}
			return batches[0].Bytes, nil
		}
	}
	return nil, fmt.Errorf("the template batch was not fetched")
}
