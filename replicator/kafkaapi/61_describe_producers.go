package kafkaapi

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// DescribeProducers (key 61): the producers a partition leader holds state for, with each one's open transaction
// (CurrentTxnStartOffset >= 0) and last sequence. Resolve uses it to find the replayed transactions still open on
// a mirror partition after a crash, and the link producer's last sequence; the partitions resolving at the same
// time are asked together (the client splits the request by partition leader).

// ActiveProducer is one producer of the partition.
type ActiveProducer = kmsg.DescribeProducersResponseTopicPartitionActiveProducer

// NewDescribeProducersOf builds the request for many partitions.
func NewDescribeProducersOf(parts []TopicPartition) *kmsg.DescribeProducersRequest {
	req := kmsg.NewPtrDescribeProducersRequest()
	index := map[string]int{}
	for _, tp := range parts {
		i, ok := index[tp.Topic]
		if !ok {
			t := kmsg.NewDescribeProducersRequestTopic()
			t.Topic = tp.Topic
			req.Topics = append(req.Topics, t)
			i = len(req.Topics) - 1
			index[tp.Topic] = i
		}
		req.Topics[i].Partitions = append(req.Topics[i].Partitions, tp.Partition)
	}
	return req
}

// PartitionProducers is one partition's answer: its producers by producer id, or its error.
type PartitionProducers struct {
	TopicPartition
	Producers map[int64]ActiveProducer
	Err       error
}

// ProducersOf reads the response of a request for many partitions.
func ProducersOf(resp *kmsg.DescribeProducersResponse) []PartitionProducers {
	var out []PartitionProducers
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			pp := PartitionProducers{TopicPartition: TopicPartition{Topic: t.Topic, Partition: p.Partition},
				Err: kerr.ErrorForCode(p.ErrorCode)}
			if pp.Err == nil {
				pp.Producers = make(map[int64]ActiveProducer, len(p.ActiveProducers))
				for _, ap := range p.ActiveProducers {
					pp.Producers[ap.ProducerID] = ap
				}
			}
			out = append(out, pp)
		}
	}
	return out
}
