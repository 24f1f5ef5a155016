package replicator

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/clusterlink/clusterlink/replicator/compare"
)

// This file is the way out of FAILED: a failed partition is checked against its source (the mirror must still be
// a prefix of the source: its last records equal the source's at the same offsets, and it does not end beyond the
// source), and only then copies again from its log end offset. A failure that was transient (a destination that
// refused a batch until its config was fixed) recovers; a mirror that diverged stays FAILED and says where.

// tailCheckOffsets is how many offsets before a failed partition's log end are compared with the source before it
// restarts.
const tailCheckOffsets = 10_000

// MarkFailed makes partitions FAILED with failures stored before, by this daemon or another of the link's group,
// unless they are FAILED already: a partition that failed stays FAILED wherever it is copied next, until
// RestartMirror. The failures are not reported again (OnPartitionFailed). Unknown mirrors and partitions are skipped.
func (r *Replicator) MarkFailed(fs []PartitionFailure) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, f := range fs {
		m, ok := r.mirrors[f.MirrorTopic]
		if !ok || f.Partition < 0 || int(f.Partition) >= len(m.partitions) {
			continue
		}
		p := m.partitions[f.Partition]
		if p.phase == phaseFailed {
			continue
		}
		p.phase, p.errCode, p.errMsg, p.diverged = phaseFailed, f.Code, f.Message, f.Diverged
		p.gen++
		r.notBusyLocked(p)
		r.log.Warn("mirror partition FAILED as stored: it stays so until mirror restart", zap.String("mirror_topic", m.topic),
			zap.Int32("partition", p.id), zap.String("code", f.Code), zap.String("reason", f.Message))
	}
}

// CheckFailedPartitions compares the tail of every FAILED partition of a mirror with its source (up to
// tailCheckOffsets offsets before the mirror's log end). A partition whose mirror ends beyond the source's high
// watermark differs at the source's high watermark.
func (r *Replicator) CheckFailedPartitions(ctx context.Context, topic string) ([]compare.Comparison, error) {
	r.mu.Lock()
	m, ok := r.mirrors[topic]
	var failed []int32
	var srcTopic string
	var compacted bool
	if ok {
		srcTopic, compacted = m.sourceTopic, m.compacted
		for _, p := range m.partitions {
			if p.phase == phaseFailed {
				failed = append(failed, p.id)
			}
		}
	}
	r.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("mirror topic %s is not mirrored", topic)
	}
	var out []compare.Comparison
	for _, id := range failed {
		c, err := r.checkTail(ctx, srcTopic, topic, id, compacted)
		if err != nil {
			return out, err
		}
		out = append(out, c)
	}
	return out, nil
}

func (r *Replicator) checkTail(ctx context.Context, srcTopic, topic string, id int32, compacted bool) (compare.Comparison, error) {
	cctx, cancel := context.WithTimeout(ctx, r.opts.requestTimeout)
	dstStart, dstEnd, err := r.offsetBounds(cctx, r.dst, topic, id)
	if err != nil {
		cancel()
		return compare.Comparison{}, fmt.Errorf("mirror %s[%d] offsets: %w", topic, id, err)
	}
	srcStart, srcEnd, err := r.offsetBounds(cctx, r.src, srcTopic, id)
	cancel()
	if err != nil {
		return compare.Comparison{}, fmt.Errorf("source %s[%d] offsets: %w", srcTopic, id, err)
	}
	if dstEnd > srcEnd {
		return compare.Comparison{Partition: id, From: srcEnd, To: dstEnd, Compared: dstEnd - srcEnd, Differing: dstEnd - srcEnd,
			FirstDifference: srcEnd,
			Detail:          fmt.Sprintf("the mirror ends at offset %d, beyond the source's high watermark %d", dstEnd, srcEnd)}, nil
	}
	from := max(dstStart, srcStart, dstEnd-tailCheckOffsets)
	return compare.Range(ctx, r.src, r.dst, srcTopic, topic, id, from, dstEnd, compacted)
}

// RestartMirror sends every FAILED partition of a mirror (and the mirror itself, if it failed as a whole) back to
// resolve: each re-reads its position from the destination and copies again from its log end offset. Check the
// partitions with CheckFailedPartitions first: a diverged mirror must not be restarted.
func (r *Replicator) RestartMirror(topic string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	m, ok := r.mirrors[topic]
	if !ok {
		return fmt.Errorf("mirror topic %s is not mirrored", topic)
	}
	m.errCode, m.errMsg, m.sourceMissing = "", "", 0
	m.statusTime = time.Now()
	n := 0
	for _, p := range m.partitions {
		if p.phase != phaseFailed {
			continue
		}
		p.phase = phaseResolve
		if m.paused {
			p.phase = phaseParked
		}
		if p.unowned {
			p.phase = phaseUnowned
		}
		p.gen++
		p.errCode, p.errMsg, p.diverged, p.checkTail = "", "", false, true
		p.resolveFailures, p.resolveFailingSince = 0, time.Time{}
		p.firstTruncation = time.Time{}
		n++
	}
	r.log.Info("mirror restarted", zap.String("mirror_topic", topic), zap.Int("partitions", n))
	r.pokeMetadata()
	return nil
}
