package replicator

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/clusterlink/clusterlink/replicator/compare"
)

// This file is the background verifier: every VerifyInterval it compares, for up to samplePartitionsPerRound
// copying partitions taken in turn, one window of VerifySampleOffsets offsets at a random place between the
// mirror's log start and its end with the source, record by record (compare.Range). The cost is bounded whatever
// the partition count (a few short reads per interval); over time every partition, and the whole of each, is
// sampled. A difference fails the partition with ILLEGAL_STATE as diverged: it is
// what the status audit cannot see (a foreign write that replaced a record at the same offset, a broker that
// corrupted one).

// sampleLoop runs the background verifier until ctx ends. It does nothing with VerifySampleOffsets 0.
func (r *Replicator) sampleLoop(ctx context.Context) error {
	if r.opts.verifySample <= 0 {
		return nil
	}
	t := time.NewTicker(r.opts.verifyInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		r.sampleOnce(ctx)
	}
}

// samplePartitionsPerRound bounds one round's reads: each window costs two consumer reads.
const samplePartitionsPerRound = 8

type sampleWindow struct {
	p                  *partition
	gen                uint64
	topic, sourceTopic string
	compacted          bool
	from, to           int64
}

func (r *Replicator) sampleOnce(ctx context.Context) {
	if !r.leaseHolds() {
		return // a daemon that may have lost its partitions judges none of them (ownership.go)
	}
	r.mu.Lock()
	var candidates []sampleWindow
	for _, topic := range slices.Sorted(maps.Keys(r.mirrors)) {
		m := r.mirrors[topic]
		for _, p := range m.partitions {
			lo := max(p.mirrorLogStart, p.srcLogStart, p.fillBelow)
			if p.phase != phaseCopy || !p.everResolved || p.nextOffset <= lo {
				continue
			}
			n := min(r.opts.verifySample, p.nextOffset-lo)
			from := lo + rand.Int64N(p.nextOffset-lo-n+1)
			candidates = append(candidates, sampleWindow{p: p, gen: p.gen, topic: m.topic, sourceTopic: m.sourceTopic,
				compacted: m.compacted, from: from, to: from + n})
		}
	}
	var windows []sampleWindow
	for i := 0; i < min(samplePartitionsPerRound, len(candidates)); i++ {
		windows = append(windows, candidates[(r.sampleNext+i)%len(candidates)])
	}
	if len(candidates) > 0 {
		r.sampleNext = (r.sampleNext + len(windows)) % len(candidates)
	}
	r.mu.Unlock()
	for _, w := range windows {
		if ctx.Err() != nil {
			return
		}
		wctx, cancel := context.WithTimeout(ctx, r.opts.requestTimeout)
		c, err := compare.Range(wctx, r.src, r.dst, w.sourceTopic, w.topic, w.p.id, w.from, w.to, w.compacted)
		if err == nil && !c.Equal() {
			// Retention or a followed log start may have removed the window's first offsets on one side meanwhile:
			// compare again from both sides' current log starts before calling it a divergence.
			c, err = r.recheckWindow(wctx, w)
		}
		cancel()
		if err != nil {
			r.log.Debug("background verification", zap.String("mirror_topic", w.topic), zap.Int32("partition", w.p.id), zap.Error(err))
			continue
		}
		r.mu.Lock()
		w.p.counters.VerifiedOffsets += c.Compared
		if !c.Equal() && w.p.gen == w.gen && w.p.phase == phaseCopy {
			w.p.counters.Divergences++
			r.divergedLocked(w.p, fmt.Sprintf(
				"background verification: mirror %s[%d] differs from the source %s[%d] at offset %d (%s; %d of %d offsets compared in [%d, %d) differ)",
				w.topic, w.p.id, w.sourceTopic, w.p.id, c.FirstDifference, c.Detail, c.Differing, c.Compared, w.from, w.to))
		}
		r.mu.Unlock()
	}
}

// recheckWindow compares a window again from both sides' current log starts (an empty comparison if nothing of it is
// left on both).
func (r *Replicator) recheckWindow(ctx context.Context, w sampleWindow) (compare.Comparison, error) {
	srcStart, _, err := r.offsetBounds(ctx, r.src, w.sourceTopic, w.p.id)
	if err != nil {
		return compare.Comparison{}, err
	}
	dstStart, _, err := r.offsetBounds(ctx, r.dst, w.topic, w.p.id)
	if err != nil {
		return compare.Comparison{}, err
	}
	from := max(w.from, srcStart, dstStart)
	if from >= w.to {
		return compare.Comparison{Partition: w.p.id, From: from, To: w.to, FirstDifference: -1}, nil
	}
	return compare.Range(ctx, r.src, r.dst, w.sourceTopic, w.topic, w.p.id, from, w.to, w.compacted)
}
