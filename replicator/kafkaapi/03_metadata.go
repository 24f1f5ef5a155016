package kafkaapi

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Metadata (key 3). The data plane reads the leaders, leader epochs, partition counts and topic ids of the mirrors'
// topics on both clusters every refresh, for exactly those topics.

// TopicMetadata is one topic of a metadata response.
type TopicMetadata struct {
	ID         [16]byte
	Err        error
	Partitions map[int32]kmsg.MetadataResponseTopicPartition
}

// NewMetadata builds a metadata request for topics.
func NewMetadata(topics []string) *kmsg.MetadataRequest {
	req := kmsg.NewPtrMetadataRequest()
	for _, t := range topics {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(t)
		req.Topics = append(req.Topics, rt)
	}
	return req
}

// TopicsMetadata reads a metadata response by topic name.
func TopicsMetadata(resp *kmsg.MetadataResponse) map[string]TopicMetadata {
	out := map[string]TopicMetadata{}
	for _, t := range resp.Topics {
		if t.Topic == nil {
			continue
		}
		tm := TopicMetadata{ID: t.TopicID, Err: kerr.ErrorForCode(t.ErrorCode), Partitions: map[int32]kmsg.MetadataResponseTopicPartition{}}
		for _, p := range t.Partitions {
			tm.Partitions[p.Partition] = p
		}
		out[*t.Topic] = tm
	}
	return out
}
