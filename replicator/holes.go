package replicator

import (
	"context"
	"fmt"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// This file fills offsets that the source has but that hold nothing to copy (compacted away, or a transaction marker
// the writer does not replay) with transaction markers: a control batch takes exactly one offset, and no consumer,
// in either isolation level, ever returns one. The markers are ABORT markers of a producer id of the link's own,
// written with WriteTxnMarkers (the request a transaction coordinator uses), so that no transaction is needed per
// offset: many markers go in one request. A marker of a producer with no open transaction changes nothing for
// readers: the last stable offset does not wait for it and no aborted-transaction range is recorded.
//
// WriteTxnMarkers needs CLUSTER_ACTION on the destination cluster: the link's principal must be a super user of the
// destination (which the read-only mirror guard needs too).

// maxMarkersPerRequest bounds one WriteTxnMarkers request.
const maxMarkersPerRequest = 2000

// markerProducer is the producer id and epoch of the link's markers, from InitProducerId on the destination (an
// id no other producer has).
type markerProducer struct {
	mu    sync.Mutex
	id    int64
	epoch int16
	ok    bool
}

func (r *Replicator) markerProducerID(ctx context.Context) (int64, int16, error) {
	mp := &r.markers
	mp.mu.Lock()
	defer mp.mu.Unlock()
	if mp.ok {
		return mp.id, mp.epoch, nil
	}
	req := kmsg.NewPtrInitProducerIDRequest()
	req.TransactionTimeoutMillis = -1
	resp, err := req.RequestWith(ctx, r.dst)
	if err != nil {
		return 0, 0, fmt.Errorf("get a producer id for transaction markers: %w", err)
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return 0, 0, fmt.Errorf("get a producer id for transaction markers: %w", err)
	}
	mp.id, mp.epoch, mp.ok = resp.ProducerID, resp.ProducerEpoch, true
	return mp.id, mp.epoch, nil
}

// writeMarkers writes pp.records abort markers to each part's partition on this writer's broker, and reads the
// partition's log end offset afterwards to learn where they landed. It returns, per partition, the base offset the
// markers got (log end offset minus their count) or the error.
func (w *writer) writeMarkers(ctx context.Context, parts []producePart) (map[*partition]int64, map[*partition]error) {
	r := w.r
	bases, errs := map[*partition]int64{}, map[*partition]error{}
	failAll := func(err error) (map[*partition]int64, map[*partition]error) {
		for _, pp := range parts {
			errs[pp.p] = err
		}
		return bases, errs
	}
	pid, epoch, err := r.markerProducerID(ctx)
	if err != nil {
		return failAll(err)
	}
	req := kmsg.NewPtrWriteTxnMarkersRequest()
	for _, pp := range parts {
		for range pp.records {
			m := kmsg.NewWriteTxnMarkersRequestMarker()
			m.ProducerID, m.ProducerEpoch, m.Committed, m.CoordinatorEpoch = pid, epoch, false, 0
			t := kmsg.NewWriteTxnMarkersRequestMarkerTopic()
			t.Topic, t.Partitions = pp.topic, []int32{pp.p.id}
			m.Topics = []kmsg.WriteTxnMarkersRequestMarkerTopic{t}
			req.Markers = append(req.Markers, m)
		}
	}
	kresp, err := r.dst.Broker(int(w.broker)).Request(ctx, req)
	if err != nil {
		return failAll(requestFailed("write transaction markers", err))
	}
	resp := kresp.(*kmsg.WriteTxnMarkersResponse)
	index := map[tpKey]*partition{}
	for _, pp := range parts {
		index[tpKey{pp.topic, pp.p.id}] = pp.p
	}
	for _, m := range resp.Markers {
		for _, t := range m.Topics {
			for _, rp := range t.Partitions {
				p := index[tpKey{t.Topic, rp.Partition}]
				if p == nil || errs[p] != nil {
					continue
				}
				if err := kerr.ErrorForCode(rp.ErrorCode); err != nil {
					if err == kerr.ClusterAuthorizationFailed {
						err = fmt.Errorf("%w: filling offsets with transaction markers needs CLUSTER_ACTION on the destination cluster (make the link's principal a super user)", err)
					}
					errs[p] = err
				}
			}
		}
	}
	// Where did they land? The markers are the last thing written to the partition, so its log end offset less
	// their count is where the first one went.
	lreq := kmsg.NewPtrListOffsetsRequest()
	lreq.ReplicaID = -1
	topics := map[string]int{}
	for _, pp := range parts {
		if errs[pp.p] != nil {
			continue
		}
		i, ok := topics[pp.topic]
		if !ok {
			t := kmsg.NewListOffsetsRequestTopic()
			t.Topic = pp.topic
			lreq.Topics = append(lreq.Topics, t)
			i = len(lreq.Topics) - 1
			topics[pp.topic] = i
		}
		lp := kmsg.NewListOffsetsRequestTopicPartition()
		lp.Partition, lp.Timestamp, lp.CurrentLeaderEpoch = pp.p.id, -1, -1
		lreq.Topics[i].Partitions = append(lreq.Topics[i].Partitions, lp)
	}
	if len(lreq.Topics) == 0 {
		return bases, errs
	}
	kl, err := r.dst.Broker(int(w.broker)).Request(ctx, lreq)
	if err != nil {
		for _, pp := range parts {
			if errs[pp.p] == nil {
				errs[pp.p] = requestFailed("read the log end offset after writing transaction markers", err)
			}
		}
		return bases, errs
	}
	count := map[*partition]int64{}
	for _, pp := range parts {
		count[pp.p] = pp.records
	}
	for _, t := range kl.(*kmsg.ListOffsetsResponse).Topics {
		for _, lp := range t.Partitions {
			p := index[tpKey{t.Topic, lp.Partition}]
			if p == nil || errs[p] != nil {
				continue
			}
			if err := kerr.ErrorForCode(lp.ErrorCode); err != nil {
				errs[p] = fmt.Errorf("read the log end offset after writing transaction markers: %w", err)
				continue
			}
			bases[p] = lp.Offset - count[p]
		}
	}
	return bases, errs
}
