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
	return NewLeaderEpochEnds([]LeaderEpochPartition{{TopicPartition{topic, partition}, leaderEpoch}})
}

// LeaderEpochPartition is a partition and the leader epoch whose end is asked.
type LeaderEpochPartition struct {
	TopicPartition
	LeaderEpoch int32
}

// NewLeaderEpochEnds builds the request for many partitions, each with its leader epoch (the client splits it by
// partition leader).
func NewLeaderEpochEnds(parts []LeaderEpochPartition) *kmsg.OffsetForLeaderEpochRequest {
	req := kmsg.NewPtrOffsetForLeaderEpochRequest()
	req.ReplicaID = -1
	index := map[string]int{}
	for _, lp := range parts {
		i, ok := index[lp.Topic]
		if !ok {
			t := kmsg.NewOffsetForLeaderEpochRequestTopic()
			t.Topic = lp.Topic
			req.Topics = append(req.Topics, t)
			i = len(req.Topics) - 1
			index[lp.Topic] = i
		}
		p := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
		p.Partition, p.CurrentLeaderEpoch, p.LeaderEpoch = lp.Partition, -1, lp.LeaderEpoch
		req.Topics[i].Partitions = append(req.Topics[i].Partitions, p)
	}
	return req
}

// LeaderEpochEnds reads every partition's end offset of a response (-1 where the leader does not know the epoch),
// each with its error.
func LeaderEpochEnds(resp *kmsg.OffsetForLeaderEpochResponse) []ListedOffset {
	var out []ListedOffset
	for _, rt := range resp.Topics {
		for _, rp := range rt.Partitions {
			out = append(out, ListedOffset{TopicPartition{rt.Topic, rp.Partition}, rp.EndOffset, kerr.ErrorForCode(rp.ErrorCode)})
		}
	}
	return out
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
