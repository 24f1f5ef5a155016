package kafkaapi

import (
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Produce (key 0). The data plane sends raw record batches with acks=all, one batch per partition (Kafka takes no
// more), and checks the base offset the broker assigned. With a transactional id the batch is part of that
// producer's transaction (the partition added first, see AddPartitionsToTxn). Topic ids are set where known
// (Produce v13 addresses topics by id); the response names topics by name or id.

// ProducePartition is one partition's batch of a produce request.
type ProducePartition struct {
	Topic     string
	TopicID   [16]byte
	Partition int32
	Batch     []byte
}

// NewProduce builds a produce request of one batch per partition, acks=all, answered within timeout.
func NewProduce(parts []ProducePartition, timeout time.Duration, transactionalID *string) *kmsg.ProduceRequest {
	req := kmsg.NewPtrProduceRequest()
	req.Acks = -1
	req.TimeoutMillis = int32(timeout / time.Millisecond)
	req.TransactionID = transactionalID
	index := map[string]int{}
	for _, p := range parts {
		i, ok := index[p.Topic]
		if !ok {
			t := kmsg.NewProduceRequestTopic()
			t.Topic, t.TopicID = p.Topic, p.TopicID
			req.Topics = append(req.Topics, t)
			i = len(req.Topics) - 1
			index[p.Topic] = i
		}
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Partition, rp.Records = p.Partition, p.Batch
		req.Topics[i].Partitions = append(req.Topics[i].Partitions, rp)
	}
	return req
}

// ProduceResult is one partition's answer: the base offset the broker assigned, or its error (with the broker's
// message, if any).
type ProduceResult struct {
	Topic      string
	Partition  int32
	BaseOffset int64
	Err        error
}

// ProduceResults reads a produce response; topicNames names the topics a response gives by id only.
func ProduceResults(resp *kmsg.ProduceResponse, topicNames map[[16]byte]string) []ProduceResult {
	var out []ProduceResult
	for _, rt := range resp.Topics {
		topic := rt.Topic
		if topic == "" {
			topic = topicNames[rt.TopicID]
		}
		for _, rp := range rt.Partitions {
			res := ProduceResult{Topic: topic, Partition: rp.Partition, BaseOffset: rp.BaseOffset}
			if err := kerr.ErrorForCode(rp.ErrorCode); err != nil {
				if rp.ErrorMessage != nil {
					err = fmt.Errorf("%w: %s", err, *rp.ErrorMessage)
				}
				res.Err = err
			}
			out = append(out, res)
		}
	}
	return out
}
