package replicator

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/clusterlink/clusterlink/replicator/kafkaapi"
	"github.com/clusterlink/clusterlink/replicator/recordbatch"
)

// This file measures each lagging partition's time lag, the figure disaster-recovery plans are made with (the
// recovery point): how old the oldest source record not yet on the mirror is. Every audit, one fetch per source
// broker reads the header of the batch holding each lagging partition's first missing offset (a few KiB per
// partition: the header is enough, a partial batch is fine); its first timestamp (its append time for
// LogAppendTime batches) is the age of that record, to within the batch's own spread.

// timeLagHeaderBytes is what is fetched per partition: more than a batch header.
const timeLagHeaderBytes = 4 << 10

type timeLagProbe struct {
	p      *partition
	gen    uint64
	topic  string
	id     [16]byte
	offset int64
}

// measureTimeLags reads the first missing record's timestamp of every lagging partition and clears it for the
// others. r.mu must not be held.
func (r *Replicator) measureTimeLags(ctx context.Context) {
	byLeader := map[int32][]timeLagProbe{}
	r.mu.Lock()
	for _, m := range r.mirrors {
		for _, p := range m.partitions {
			off := p.fetchOffset()
			if !p.everResolved || !p.srcKnown || p.phase == phaseFailed || p.unowned || off >= p.srcHWM || p.srcLeader < 0 {
				p.missingSince = time.Time{}
				continue
			}
			byLeader[p.srcLeader] = append(byLeader[p.srcLeader], timeLagProbe{p: p, gen: p.gen, topic: m.sourceTopic,
				id: m.sourceTopicID, offset: off})
		}
	}
	r.mu.Unlock()
	for leader, probes := range byLeader {
		req := kafkaapi.NewFetch(kafkaapi.FetchParams{MinBytes: 1, MaxBytes: int32(len(probes)) * timeLagHeaderBytes})
		index := map[string]int{}
		names := map[[16]byte]string{} // responses of fetch v13+ name topics by id
		for _, pr := range probes {
			names[pr.id] = pr.topic
			kafkaapi.AddFetchPartition(req, index, pr.topic, pr.id, pr.p.id, pr.offset, timeLagHeaderBytes)
		}
		kresp, err := r.src.Broker(int(leader)).Request(ctx, req)
		if err != nil {
			continue // the next audit tries again; the last figure stays
		}
		first := map[string]map[int32]int64{}
		for _, t := range kresp.(*kmsg.FetchResponse).Topics {
			for _, fp := range t.Partitions {
				if kerr.ErrorForCode(fp.ErrorCode) != nil || len(fp.RecordBatches) < recordbatch.HeaderSize {
					continue
				}
				h := recordbatch.ParseHeader(fp.RecordBatches)
				ts := h.FirstTimestamp
				if h.IsLogAppendTime() {
					ts = h.MaxTimestamp
				}
				name := t.Topic
				if name == "" {
					name = names[t.TopicID]
				}
				if first[name] == nil {
					first[name] = map[int32]int64{}
				}
				first[name][fp.Partition] = ts
			}
		}
		r.mu.Lock()
		for _, pr := range probes {
			if ts, ok := first[pr.topic][pr.p.id]; ok && pr.p.gen == pr.gen {
				pr.p.missingSince = time.UnixMilli(ts)
			}
		}
		r.mu.Unlock()
	}
}

// timeLagLocked is the partition's time lag: 0 when caught up, -1 while unknown. r.mu must be held.
func (p *partition) timeLagLocked(now time.Time) time.Duration {
	switch lag := p.lag(); {
	case lag < 0:
		return -1
	case lag == 0 || p.fetchOffset() >= p.srcHWM:
		return 0
	case p.missingSince.IsZero():
		return -1
	default:
		return max(0, now.Sub(p.missingSince))
	}
}
