package kafkaapi

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// OffsetForLeaderEpoch (key 23). Asked as a consumer (replica id -1) for the partition's current leader epoch, the
// leader answers the end offset of that epoch: its log end offset, including records not replicated yet, which
// the high watermark leaves out.

// NewLeaderEpochEnd builds the request for one partition and leader epoch.
func NewLeaderEpochEnd(topic string, partition, leaderEpoch int32) *kmsg.OffsetForLeaderEpochRequest {
	req := kmsg.NewPtrOffsetForLeaderEpochRequest()
	req.ReplicaID = -1
	t := kmsg.NewOffsetForLeaderEpochRequestTopic()
	t.Topic = topic
	p := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
	p.Partition, p.CurrentLeaderEpoch, p.LeaderEpoch = partition, -1, leaderEpoch
	t.Partitions = append(t.Partitions, p)
	req.Topics = append(req.Topics, t)
	return req
}

// LeaderEpochEnd reads the end offset of the partition (-1 when the leader does not know the epoch).
func LeaderEpochEnd(resp *kmsg.OffsetForLeaderEpochResponse, topic string, partition int32) (int64, error) {
	for _, rt := range resp.Topics {
		for _, rp := range rt.Partitions {
			if rp.Partition != partition {
				continue
			}
			if err := kerr.ErrorForCode(rp.ErrorCode); err != nil {
				return 0, err
			}
			return rp.EndOffset, nil
		}
	}
	return 0, fmt.Errorf("no end offset for %s[%d] in the response", topic, partition)
}
