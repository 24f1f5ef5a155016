package kafkaapi

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// WriteTxnMarkers (key 27), the request a transaction coordinator sends to partition leaders; it needs
// CLUSTER_ACTION. The data plane writes ABORT markers of a producer id of its own (coordinator epoch 0), one marker
// per offset to fill, many in one request: each takes exactly one offset and no consumer returns it.

// MarkerPartition is a partition and how many markers it gets.
type MarkerPartition struct {
	Topic     string
	Partition int32
	Count     int64
}

// NewAbortMarkers builds a request of Count abort markers of producerID for each partition.
func NewAbortMarkers(producerID int64, epoch int16, parts []MarkerPartition) *kmsg.WriteTxnMarkersRequest {
	req := kmsg.NewPtrWriteTxnMarkersRequest()
	for _, p := range parts {
		for range p.Count {
			m := kmsg.NewWriteTxnMarkersRequestMarker()
			m.ProducerID, m.ProducerEpoch, m.Committed, m.CoordinatorEpoch = producerID, epoch, false, 0
			t := kmsg.NewWriteTxnMarkersRequestMarkerTopic()
			t.Topic, t.Partitions = p.Topic, []int32{p.Partition}
			m.Topics = []kmsg.WriteTxnMarkersRequestMarkerTopic{t}
			req.Markers = append(req.Markers, m)
		}
	}
	return req
}

// MarkerErrors returns the first error of each partition of the response.
func MarkerErrors(resp *kmsg.WriteTxnMarkersResponse) map[TopicPartition]error {
	out := map[TopicPartition]error{}
	for _, m := range resp.Markers {
		for _, t := range m.Topics {
			for _, p := range t.Partitions {
				tp := TopicPartition{t.Topic, p.Partition}
				if err := kerr.ErrorForCode(p.ErrorCode); err != nil && out[tp] == nil {
					out[tp] = err
				}
			}
		}
	}
	return out
}
