package replicator

import (
	"testing"

	"github.com/clusterlink/clusterlink/replicator/kafkaapi"
)

func TestFetchSession_IncrementalRequests(t *testing.T) {
	s := newFetchSession()
	a := fetchPart{topic: "t", partition: 0, offset: 10}
	b := fetchPart{topic: "t", partition: 1, offset: 20}
	parts := map[tpKey]fetchPart{{"t", 0}: a, {"t", 1}: b}

	req := s.build(parts, kafkaapi.FetchParams{}, 1)
	if req.SessionID != 0 || req.SessionEpoch != 0 || len(req.Topics) != 1 || len(req.Topics[0].Partitions) != 2 {
		t.Fatalf("opening request: %+v", req)
	}
	s.accepted(77)

	// Nothing moved: an empty incremental request.
	req = s.build(parts, kafkaapi.FetchParams{}, 1)
	if req.SessionID != 77 || req.SessionEpoch != 1 || len(req.Topics) != 0 || len(req.ForgottenTopics) != 0 {
		t.Fatalf("unchanged incremental request: %+v", req)
	}
	s.accepted(77)

	// Partition 0 is being written (left out), partition 1 moved.
	b.offset = 25
	req = s.build(map[tpKey]fetchPart{{"t", 1}: b}, kafkaapi.FetchParams{}, 1)
	if req.SessionEpoch != 2 || len(req.Topics) != 1 || req.Topics[0].Partitions[0].FetchOffset != 25 ||
		len(req.ForgottenTopics) != 1 || req.ForgottenTopics[0].Partitions[0] != 0 {
		t.Fatalf("incremental request: %+v", req)
	}
	s.accepted(77)

	// After an error the session starts over with everything.
	s.reset()
	req = s.build(parts, kafkaapi.FetchParams{}, 1)
	if req.SessionID != 0 || req.SessionEpoch != 0 || len(req.Topics[0].Partitions) != 2 {
		t.Fatalf("request after reset: %+v", req)
	}
}
