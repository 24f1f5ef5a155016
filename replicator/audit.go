package replicator

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"go.uber.org/zap"

	"github.com/clusterlink/clusterlink/replicator/compare"
)

// This file is the status cycle's audit: every MetadataRefresh, even while the source is idle, each mirror
// partition's real bounds on the destination (log start offset and high watermark) are read and compared with what
// the link wrote, and its source's bounds are read too. What only another client could have done is a divergence
// and fails the partition with ILLEGAL_STATE, naming the offsets:
//   - the mirror ends beyond the offset the link copied up to with records other than the source's there (a foreign
//     write; the source's own records there are a write of the link whose answer was lost, see judgeExtraOffsets);
//   - the mirror's log start moved beyond the source's and the link's own (a foreign DeleteRecords), unless the
//     mirror's retention explains it.
// A deleted, recreated or grown mirror topic is seen by the metadata refresh (metadata.go). The audit also keeps
// the mirror's log start on the source's (after retention or DeleteRecords on the source, such as Kafka Streams'
// repartition purges), never beyond what was copied, and keeps the source high watermark current, so that lag is
// known while nothing is fetched.

// auditLoop runs the audit every MetadataRefresh until ctx ends.
func (r *Replicator) auditLoop(ctx context.Context) error {
	t := time.NewTicker(r.opts.metadataRefresh)
	defer t.Stop()
	failures := 0
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if err := r.audit(ctx); err != nil && ctx.Err() == nil {
			failures++
			if failures%60 == 1 {
				r.log.Warn("mirror audit failed", zap.Int("consecutive_failures", failures), zap.Error(err))
			}
		} else {
			failures = 0
		}
	}
}

// auditSnapshot is a partition as the audit saw it before reading the destination: the comparison holds only if
// nothing of the link was written in between.
type auditSnapshot struct {
	p          *partition
	gen        uint64
	nextOffset int64
	quiet      bool // copying, nothing handed to a writer
}

func (s auditSnapshot) stillQuietLocked() bool {
	p := s.p
	return s.quiet && p.gen == s.gen && p.phase == phaseCopy && !p.busy && p.nextOffset == s.nextOffset
}

// logStartMove is a DeleteRecords the audit makes on the mirror, outside the lock.
type logStartMove struct {
	p      *partition
	gen    uint64
	topic  string
	before int64
}

// deletionCheck is a mirror log start beyond the source's and the link's own: foreign, unless retention explains it.
type deletionCheck struct {
	p                   *partition
	gen                 uint64
	topic, sourceTopic  string
	logStart, srcStart  int64
	linkStart, copiedTo int64
}

func (r *Replicator) audit(ctx context.Context) error {
	r.mu.Lock()
	var srcTopics, dstTopics []string
	var snaps []auditSnapshot
	for _, m := range r.mirrors {
		if m.errCode != "" {
			continue
		}
		srcTopics = append(srcTopics, m.sourceTopic)
		dstTopics = append(dstTopics, m.topic)
		for _, p := range m.partitions {
			if p.unowned {
				continue // its owner audits it: here its log end moves under writes of another daemon
			}
			snaps = append(snaps, auditSnapshot{p: p, gen: p.gen, nextOffset: p.nextOffset,
				quiet: p.phase == phaseCopy && !p.busy})
		}
	}
	r.mu.Unlock()
	if len(snaps) == 0 {
		return nil
	}
	rctx, cancel := context.WithTimeout(ctx, r.opts.requestTimeout)
	defer cancel()
	// Destination first: a write of the link that lands after this read is seen as a change of nextOffset below.
	dstStarts, dstEnds, err := listBounds(rctx, r.dstAdm, dstTopics)
	if err != nil {
		return fmt.Errorf("destination offsets: %w", err)
	}
	srcStarts, srcEnds, err := listBounds(rctx, r.srcAdm, srcTopics)
	if err != nil {
		return fmt.Errorf("source offsets: %w", err)
	}

	var moves []logStartMove
	var checks []deletionCheck
	var extras []extraOffsets
	r.mu.Lock()
	if !r.leaseHolds() {
		r.mu.Unlock()
		return nil // a daemon that may have lost its partitions judges none of them (ownership.go)
	}
	for _, s := range snaps {
		p := s.p
		m := p.m
		if r.mirrors[m.topic] != m || m.errCode != "" || p.phase == phaseFailed {
			continue
		}
		if so, ok := srcStarts.Lookup(m.sourceTopic, p.id); ok && so.Err == nil {
			if se, ok := srcEnds.Lookup(m.sourceTopic, p.id); ok && se.Err == nil {
				p.srcLogStart, p.srcHWM, p.srcKnown = so.Offset, se.Offset, true
			}
		}
		do, dok := dstStarts.Lookup(m.topic, p.id)
		de, eok := dstEnds.Lookup(m.topic, p.id)
		if !dok || !eok || do.Err != nil || de.Err != nil || !p.everResolved {
			continue
		}
		dstStart, dstEnd := do.Offset, de.Offset
		if s.stillQuietLocked() {
			switch {
			case dstEnd > p.nextOffset:
				// Offsets the source does not have are foreign at once; offsets it has are compared with it below:
				// a produce of the link whose answer was lost can land after the link read the mirror's end again.
				if p.srcKnown && dstEnd > p.srcHWM {
					r.divergedLocked(p, beyondCopiedMessage(m.topic, p.id, dstEnd, p.nextOffset)+
						fmt.Sprintf(" (the source %s[%d] ends at offset %d)", m.sourceTopic, p.id, p.srcHWM))
				} else {
					extras = append(extras, extraOffsets{p: p, gen: p.gen, topic: m.topic, sourceTopic: m.sourceTopic,
						from: p.nextOffset, to: dstEnd, compacted: m.compacted})
				}
				continue
			case dstEnd < p.nextOffset:
				// The destination lost acknowledged records (an unclean leader election), or a leader moved and its
				// high watermark is not caught up yet: twice in a row, read the position again.
				p.auditShort++
				if p.auditShort >= 2 {
					p.auditShort = 0
					r.resyncLocked(p, p.gen, fmt.Sprintf("mirror high watermark %d behind the copied offset %d", dstEnd, p.nextOffset))
					continue
				}
			default:
				p.auditShort = 0
			}
		}
		linkStart := max(p.mirrorLogStart, p.fillBelow)
		if p.srcKnown && dstStart > max(linkStart, p.srcLogStart) {
			checks = append(checks, deletionCheck{p: p, gen: p.gen, topic: m.topic, sourceTopic: m.sourceTopic,
				logStart: dstStart, srcStart: p.srcLogStart, linkStart: linkStart, copiedTo: p.nextOffset})
			continue
		}
		p.mirrorLogStart = max(p.mirrorLogStart, dstStart)
		// Follow the source's log start, never beyond what the mirror holds and the link copied.
		if p.srcKnown && p.phase != phaseParked {
			if target := min(p.srcLogStart, dstEnd, p.nextOffset); target > dstStart {
				moves = append(moves, logStartMove{p: p, gen: p.gen, topic: m.topic, before: target})
			}
		}
	}
	r.mu.Unlock()

	for _, mv := range moves {
		if err := deleteRecords(rctx, r.dstAdm, mv.topic, mv.p.id, mv.before); err != nil {
			r.log.Warn("follow the source log start", zap.Error(err))
			continue
		}
		r.mu.Lock()
		mv.p.mirrorLogStart = max(mv.p.mirrorLogStart, mv.before)
		r.mu.Unlock()
		r.log.Debug("mirror log start follows the source", zap.String("mirror_topic", mv.topic),
			zap.Int32("partition", mv.p.id), zap.Int64("log_start_offset", mv.before))
	}
	for _, e := range extras {
		r.judgeExtraOffsets(rctx, e)
	}
	r.measureTimeLags(rctx)
	for _, c := range checks {
		why, err := r.retentionExplains(rctx, c)
		if err != nil {
			r.log.Warn("check a moved mirror log start", zap.String("mirror_topic", c.topic), zap.Int32("partition", c.p.id), zap.Error(err))
			continue
		}
		r.mu.Lock()
		switch {
		case c.p.gen != c.gen || c.p.phase == phaseFailed:
		case why != "":
			c.p.mirrorLogStart = max(c.p.mirrorLogStart, c.logStart)
			r.log.Info("mirror log start moved by the mirror's retention", zap.String("mirror_topic", c.topic),
				zap.Int32("partition", c.p.id), zap.Int64("log_start_offset", c.logStart), zap.String("why", why))
		default:
			r.divergedLocked(c.p, fmt.Sprintf(
				"mirror %s[%d] starts at offset %d, but the source %s[%d] still has offsets from %d and the link deleted only below %d: something other than the link deleted records of the mirror topic",
				c.topic, c.p.id, c.logStart, c.sourceTopic, c.p.id, c.srcStart, c.linkStart))
		}
		r.mu.Unlock()
	}
	return nil
}

// extraOffsets is a quiet mirror partition that ends beyond the offset the link copied up to, within what the
// source has.
type extraOffsets struct {
	p                  *partition
	gen                uint64
	topic, sourceTopic string
	from, to           int64 // the offsets beyond the copied one
	compacted          bool
}

// judgeExtraOffsets compares offsets a mirror holds beyond what the link copied with the source. The same records
// as the source's at the same offsets are the link's own: a produce whose answer was lost (a timeout, a closed
// connection) that the broker appended after the link had read the mirror's end again. The partition reads its
// position again and goes on from there. Anything else is a foreign write: the partition has diverged.
func (r *Replicator) judgeExtraOffsets(ctx context.Context, e extraOffsets) {
	c, err := compare.Range(ctx, r.src, r.dst, e.sourceTopic, e.topic, e.p.id, e.from, e.to, e.compacted)
	r.mu.Lock()
	defer r.mu.Unlock()
	p := e.p
	if p.gen != e.gen || p.phase != phaseCopy || p.nextOffset != e.from {
		return // it moved on meanwhile: the next audit judges it again
	}
	switch {
	case err != nil:
		r.log.Warn("compare the offsets a mirror holds beyond what the link copied", zap.String("mirror_topic", e.topic),
			zap.Int32("partition", p.id), zap.Int64("from", e.from), zap.Int64("to", e.to), zap.Error(err))
	case c.Equal():
		r.log.Info("the mirror holds a write of the link whose answer was lost: reading the position again",
			zap.String("mirror_topic", e.topic), zap.Int32("partition", p.id), zap.Int64("copied_up_to", e.from),
			zap.Int64("mirror_log_end_offset", e.to))
		r.resyncLocked(p, e.gen, fmt.Sprintf("the mirror holds the source's offsets %d-%d already", e.from, e.to-1))
	default:
		r.divergedLocked(p, beyondCopiedMessage(e.topic, p.id, e.to, e.from)+
			fmt.Sprintf(" (offset %d differs from the source: %s)", c.FirstDifference, c.Detail))
	}
}

func beyondCopiedMessage(topic string, id int32, end, copied int64) string {
	return fmt.Sprintf("mirror %s[%d] ends at offset %d, but the link copied only up to offset %d: something other than the link wrote %d offset(s) to the mirror topic",
		topic, id, end, copied, end-copied)
}

// retentionExplains says why the mirror's own retention may have moved its log start to c.logStart ("" if it
// cannot have): a size limit, or a time limit the record before the new log start is older than.
func (r *Replicator) retentionExplains(ctx context.Context, c deletionCheck) (string, error) {
	rc, err := topicConfigs(ctx, r.dstAdm, c.topic)
	if err != nil {
		return "", err
	}
	retentionMs, retentionBytes := int64(-1), int64(-1)
	for _, cfg := range rc.Configs {
		if cfg.Value == nil {
			continue
		}
		v, perr := strconv.ParseInt(*cfg.Value, 10, 64)
		if perr != nil {
			continue
		}
		switch cfg.Key {
		case "retention.ms":
			retentionMs = v
		case "retention.bytes":
			retentionBytes = v
		}
	}
	if retentionBytes >= 0 {
		return fmt.Sprintf("retention.bytes=%d", retentionBytes), nil
	}
	if retentionMs < 0 {
		return "", nil
	}
	recs, err := compare.ReadRange(ctx, r.src, c.sourceTopic, c.p.id, c.logStart-1, c.logStart)
	if err != nil {
		return "", err
	}
	rec, ok := recs[c.logStart-1]
	if !ok {
		return "", nil
	}
	if age := time.Since(rec.Timestamp); age > time.Duration(retentionMs)*time.Millisecond {
		return fmt.Sprintf("retention.ms=%d, the record at offset %d is %s old", retentionMs, c.logStart-1, age.Round(time.Second)), nil
	}
	return "", nil
}

// divergedLocked fails a partition whose mirror no longer equals its source. r.mu must be held.
func (r *Replicator) divergedLocked(p *partition, msg string) {
	p.diverged = true
	r.failLocked(p, CodeIllegalState, msg)
}

// listBounds reads the log start offsets and high watermarks of topics.
func listBounds(ctx context.Context, adm *kadm.Client, topics []string) (starts, ends kadm.ListedOffsets, err error) {
	if starts, err = adm.ListStartOffsets(ctx, topics...); err != nil {
		return nil, nil, err
	}
	if ends, err = adm.ListEndOffsets(ctx, topics...); err != nil {
		return nil, nil, err
	}
	return starts, ends, nil
}
