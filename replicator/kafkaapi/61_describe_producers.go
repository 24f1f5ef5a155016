package kafkaapi

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// DescribeProducers (key 61): the producers a partition leader holds state for, with each one's open transaction
// (CurrentTxnStartOffset >= 0) and last sequence. Resolve uses it to find the replayed transactions still open on
// a mirror partition after a crash.

// ActiveProducer is one producer of the partition.
type ActiveProducer = kmsg.DescribeProducersResponseTopicPartitionActiveProducer

// NewDescribeProducers builds the request for one partition.
func NewDescribeProducers(topic string, partition int32) *kmsg.DescribeProducersRequest {
	req := kmsg.NewPtrDescribeProducersRequest()
	t := kmsg.NewDescribeProducersRequestTopic()
	t.Topic, t.Partitions = topic, []int32{partition}
	req.Topics = []kmsg.DescribeProducersRequestTopic{t}
	return req
}

// Producers reads the response: the partition's producers by producer id.
func Producers(resp *kmsg.DescribeProducersResponse) (map[int64]ActiveProducer, error) {
	out := map[int64]ActiveProducer{}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				return nil, err
			}
			for _, ap := range p.ActiveProducers {
				out[ap.ProducerID] = ap
			}
		}
	}
	return out, nil
}
