package replicator

import (
	"context"
	"fmt"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/clusterlink/clusterlink/replicator/kafkaapi"
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
	resp, err := kafkaapi.NewInitProducerID(nil, 0).RequestWith(ctx, r.dst)
	if err != nil {
		return 0, 0, requestFailed("get a producer id for transaction markers", err)
	}
	id, epoch, err := kafkaapi.InitProducerIDResult(resp)
	if err != nil {
		return 0, 0, fmt.Errorf("get a producer id for transaction markers: %w", err)
	}
	mp.id, mp.epoch, mp.ok = id, epoch, true
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
	var markers []kafkaapi.MarkerPartition
	index := map[kafkaapi.TopicPartition]*partition{}
	count := map[*partition]int64{}
	for _, pp := range parts {
		markers = append(markers, kafkaapi.MarkerPartition{Topic: pp.topic, Partition: pp.p.id, Count: pp.records})
		index[kafkaapi.TopicPartition{Topic: pp.topic, Partition: pp.p.id}] = pp.p
		count[pp.p] = pp.records
	}
	kresp, err := r.dst.Broker(int(w.broker)).Request(ctx, kafkaapi.NewAbortMarkers(pid, epoch, markers))
	if err != nil {
		return failAll(requestFailed("write transaction markers", err))
	}
	for tp, err := range kafkaapi.MarkerErrors(kresp.(*kmsg.WriteTxnMarkersResponse)) {
		if p := index[tp]; p != nil {
			if err == kerr.ClusterAuthorizationFailed {
				err = fmt.Errorf("%w: filling offsets with transaction markers needs CLUSTER_ACTION on the destination cluster (make the link's principal a super user)", err)
			}
			errs[p] = err
		}
	}
	// Where did they land? The markers are the last thing written to the partition, so its log end offset less
	// their count is where the first one went.
	var written []kafkaapi.TopicPartition
	for tp, p := range index {
		if errs[p] == nil {
			written = append(written, tp)
		}
	}
	if len(written) == 0 {
		return bases, errs
	}
	kl, err := r.dst.Broker(int(w.broker)).Request(ctx, kafkaapi.NewListEndOffsets(written))
	if err != nil {
		for _, tp := range written {
			errs[index[tp]] = requestFailed("read the log end offset after writing transaction markers", err)
		}
		return bases, errs
	}
	for _, l := range kafkaapi.ListedOffsets(kl.(*kmsg.ListOffsetsResponse)) {
		p := index[l.TopicPartition]
		if p == nil || errs[p] != nil {
			continue
		}
		if l.Err != nil {
			errs[p] = fmt.Errorf("read the log end offset after writing transaction markers: %w", l.Err)
			continue
		}
		bases[p] = l.Offset - count[p]
	}
	return bases, errs
}
