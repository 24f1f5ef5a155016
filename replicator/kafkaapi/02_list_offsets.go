package kafkaapi

import (
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ListOffsets (key 2). The data plane asks a partition's leader directly for its end offset (timestamp -1) right
// after writing to it (a marker, the end of a transaction), and resolves ask for partitions' log start
// (timestamp -2) and high watermark, many partitions per request, as a consumer (replica id -1, read_uncommitted).

// TopicPartition names a partition.
type TopicPartition struct {
	Topic     string
	Partition int32
}

// Timestamps of ListOffsets that ask for a position rather than a time.
const (
	LatestOffset   int64 = -1 // the high watermark
	EarliestOffset int64 = -2 // the log start offset
)

// NewListEndOffsets builds a request for the end offsets of partitions.
func NewListEndOffsets(parts []TopicPartition) *kmsg.ListOffsetsRequest {
	return NewListOffsetsAt(parts, LatestOffset)
}

// NewListOffsetsAt builds a request for the offsets of partitions at timestamp (LatestOffset, EarliestOffset).
func NewListOffsetsAt(parts []TopicPartition, timestamp int64) *kmsg.ListOffsetsRequest {
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID = -1
	index := map[string]int{}
	for _, p := range parts {
		i, ok := index[p.Topic]
		if !ok {
			t := kmsg.NewListOffsetsRequestTopic()
			t.Topic = p.Topic
			req.Topics = append(req.Topics, t)
			i = len(req.Topics) - 1
			index[p.Topic] = i
		}
		lp := kmsg.NewListOffsetsRequestTopicPartition()
		lp.Partition, lp.Timestamp, lp.CurrentLeaderEpoch = p.Partition, timestamp, -1
		req.Topics[i].Partitions = append(req.Topics[i].Partitions, lp)
	}
	return req
}

// ListedOffset is one partition's answer.
type ListedOffset struct {
	TopicPartition
	Offset int64
	Err    error
}

// ListedOffsets reads a list offsets response.
func ListedOffsets(resp *kmsg.ListOffsetsResponse) []ListedOffset {
	var out []ListedOffset
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			out = append(out, ListedOffset{TopicPartition{t.Topic, p.Partition}, p.Offset, kerr.ErrorForCode(p.ErrorCode)})
		}
	}
	return out
}

// EndOffsetOf is the end offset of one partition in a response.
func EndOffsetOf(resp *kmsg.ListOffsetsResponse, topic string, partition int32) (int64, error) {
	for _, l := range ListedOffsets(resp) {
		if l.Topic == topic && l.Partition == partition {
			return l.Offset, l.Err
		}
	}
	return 0, errors.New("no answer for the partition")
}
