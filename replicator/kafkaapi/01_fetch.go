package kafkaapi

import (
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Fetch (key 1). The data plane fetches raw batches as a consumer (replica id -1), read_uncommitted so that
// transaction data, aborted data and markers are all seen, with KIP-227 incremental fetch sessions (the session
// itself is the fetcher's: it chooses which partitions a request carries).

// FetchParams are a fetch request's request-wide settings.
type FetchParams struct {
	SessionID, SessionEpoch int32
	MaxWait                 time.Duration
	MinBytes, MaxBytes      int32
}

// NewFetch builds a fetch request with no partitions yet (add them with AddFetchPartition).
func NewFetch(p FetchParams) *kmsg.FetchRequest {
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID, req.ReplicaState.ID, req.ReplicaState.Epoch = -1, -1, -1
	req.SessionID, req.SessionEpoch = p.SessionID, p.SessionEpoch
	req.MaxWaitMillis = int32(p.MaxWait / time.Millisecond)
	req.MinBytes, req.MaxBytes = p.MinBytes, p.MaxBytes
	req.IsolationLevel = 0 // read_uncommitted
	return req
}

// AddFetchPartition adds a partition to fetch from offset; topicIndex remembers each topic's place in the request.
func AddFetchPartition(req *kmsg.FetchRequest, topicIndex map[string]int, topic string, topicID [16]byte, partition int32, offset int64, maxBytes int32) {
	i, ok := topicIndex[topic]
	if !ok {
		t := kmsg.NewFetchRequestTopic()
		t.Topic, t.TopicID = topic, topicID
		req.Topics = append(req.Topics, t)
		i = len(req.Topics) - 1
		topicIndex[topic] = i
	}
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes = partition, offset, maxBytes
	rp.CurrentLeaderEpoch, rp.LastFetchedEpoch, rp.LogStartOffset = -1, -1, -1
	req.Topics[i].Partitions = append(req.Topics[i].Partitions, rp)
}

// ForgetFetchPartition adds a partition the session must forget; forgotIndex remembers each topic's place.
func ForgetFetchPartition(req *kmsg.FetchRequest, forgotIndex map[string]int, topic string, topicID [16]byte, partition int32) {
	i, ok := forgotIndex[topic]
	if !ok {
		t := kmsg.NewFetchRequestForgottenTopic()
		t.Topic, t.TopicID = topic, topicID
		req.ForgottenTopics = append(req.ForgottenTopics, t)
		i = len(req.ForgottenTopics) - 1
		forgotIndex[topic] = i
	}
	req.ForgottenTopics[i].Partitions = append(req.ForgottenTopics[i].Partitions, partition)
}

// NewFetchOne builds a one-off fetch (no session, no wait) of one partition from offset.
func NewFetchOne(topic string, topicID [16]byte, partition int32, offset int64, maxBytes int32) *kmsg.FetchRequest {
	req := NewFetch(FetchParams{MinBytes: 1, MaxBytes: maxBytes})
	AddFetchPartition(req, map[string]int{}, topic, topicID, partition, offset, maxBytes)
	return req
}
