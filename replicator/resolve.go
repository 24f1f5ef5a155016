package replicator

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap"

	"github.com/clusterlink/clusterlink/replicator/compare"
	"github.com/clusterlink/clusterlink/replicator/kafkaapi"
	"github.com/clusterlink/clusterlink/replicator/recordbatch"
)

// resolve reads a partition's position from the destination — the mirror's log end offset is the next source offset
// to copy — and where legitimate gaps in the source end, then hands the partition to its fetcher. It is the only
// way into phaseCopy: at start, after a failed or uncertain produce, after an out-of-range fetch, after a leader
// change.
func (r *Replicator) resolve(ctx context.Context, p *partition, gen uint64) {
	err := r.resolveOnce(ctx, p, gen)
	if err == nil || ctx.Err() != nil {
		return
	}
	var perr *partitionError
	r.mu.Lock()
	defer r.mu.Unlock()
	if p.gen != gen {
		return
	}
	if errors.As(err, &perr) {
		p.diverged = p.diverged || perr.diverged
		r.failLocked(p, perr.code, perr.msg)
		return
	}
	p.resolveFailures++
	p.errMsg = err.Error()
	if p.resolveFailingSince.IsZero() {
		p.resolveFailingSince = time.Now()
	}
	// A partition that keeps failing to find its position is not copying: after a while it says so with a code,
	// not only a message (it stays PENDING_MIRROR or keeps its last state, with its lag unknown).
	if time.Since(p.resolveFailingSince) >= r.opts.resolveErrorAfter {
		p.errCode = resolveErrorCode(err)
	}
	if p.resolveFailures == 1 || p.resolveFailures%20 == 0 {
		r.log.Warn("resolve mirror partition position", zap.String("mirror_topic", p.m.topic),
			zap.Int32("partition", p.id), zap.Int("attempt", p.resolveFailures), zap.Error(err))
	}
	backoff := min(r.opts.retryBackoff<<min(p.resolveFailures, 6), 5*time.Second)
	// Retry through the metadata loop after the backoff: leaders may have moved.
	time.AfterFunc(backoff, func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		if p.gen == gen && p.phase == phaseResolving {
			p.phase = phaseResolve
			r.pokeMetadata()
		}
	})
}

func (r *Replicator) resolveOnce(ctx context.Context, p *partition, gen uint64) error {
	ctx, cancel := context.WithTimeout(ctx, r.opts.requestTimeout)
	defer cancel()
	r.mu.Lock()
	topic, srcTopic, id := p.m.topic, p.m.sourceTopic, p.id
	dstEpoch, start := p.dstLeaderEpoch, p.m.start
	r.mu.Unlock()

	dstStart, dstHWM, err := r.offsetBounds(ctx, r.dst, topic, id)
	if err != nil {
		return fmt.Errorf("mirror %s[%d] offsets: %w", topic, id, err)
	}
	dstLEO := dstHWM
	if dstEpoch >= 0 {
		if dstLEO, err = r.logEndOffset(ctx, r.dst, topic, id, dstEpoch); err != nil {
			return fmt.Errorf("mirror %s[%d] log end offset: %w", topic, id, err)
		}
		if dstLEO < 0 { // the leader does not know the epoch: metadata is stale
			return fmt.Errorf("mirror %s[%d] leader epoch %d unknown to its leader", topic, id, dstEpoch)
		}
	}
	if dstLEO != dstHWM {
		// Records on the leader that are not replicated yet may still be truncated: wait until they settle, so the
		// position we copy from is the one the log keeps.
		return fmt.Errorf("mirror %s[%d] not settled: log end offset %d, high watermark %d", topic, id, dstLEO, dstHWM)
	}
	// The link's producer's sequence at exactly that log end (linkproducer.go).
	if err := r.readLinkSequence(ctx, p, gen, topic, id, dstEpoch, dstLEO); err != nil {
		return err
	}
	srcStart, srcHWM, err := r.offsetBounds(ctx, r.src, srcTopic, id)
	if err != nil {
		return fmt.Errorf("source %s[%d] offsets: %w", srcTopic, id, err)
	}

	fillBelow := srcStart
	if dstLEO == 0 && dstStart == 0 {
		switch start.Kind {
		case StartLatest:
			fillBelow = srcHWM
		case StartTimestamp:
			listed, err := r.srcAdm.ListOffsetsAfterMilli(ctx, start.Timestamp.UnixMilli(), srcTopic)
			if err != nil {
				return fmt.Errorf("source %s[%d] offset for %s: %w", srcTopic, id, start, err)
			}
			lo, ok := listed.Lookup(srcTopic, id)
			if !ok || lo.Err != nil {
				return fmt.Errorf("source %s[%d] offset for %s: %v", srcTopic, id, start, lo.Err)
			}
			fillBelow = srcHWM
			if lo.Offset >= 0 {
				fillBelow = max(srcStart, lo.Offset)
			}
		}
	}

	if dstLEO > srcHWM {
		r.mu.Lock()
		if p.firstTruncation.IsZero() {
			p.firstTruncation = time.Now()
		}
		since := time.Since(p.firstTruncation)
		r.mu.Unlock()
		if since >= r.opts.unexpectedTruncationAge {
			return &partitionError{code: CodeUnexpectedTruncation, msg: fmt.Sprintf(
				"mirror %s[%d] has log end offset %d but source %s[%d] ends at %d: the source lost records the mirror has",
				topic, id, dstLEO, srcTopic, id, srcHWM)}
		}
		return fmt.Errorf("mirror %s[%d] log end offset %d is ahead of the source high watermark %d (waiting %s before failing)",
			topic, id, dstLEO, srcHWM, r.opts.unexpectedTruncationAge)
	}

	// The mirror's log start follows the source's: after retention or DeleteRecords on the source, and after a
	// crash between writing fillers and deleting them.
	if dstStart < srcStart && dstLEO >= srcStart {
		if err := deleteRecords(ctx, r.dstAdm, topic, id, srcStart); err != nil {
			return err
		}
		dstStart = srcStart
	}

	r.mu.Lock()
	srcLeader, srcTopicID, checkTail, compacted := p.srcLeader, p.m.sourceTopicID, p.checkTail, p.m.compacted
	dstLeader, dstTopicID := p.dstLeader, p.m.mirrorTopicID
	r.mu.Unlock()
	// Before copying on after a start or a pause, the mirror's last offset must still be the source's: another
	// client may have written to the mirror while the link was not copying it. The batches holding it are compared
	// by their bytes first (one fetch on each side, through the replicator's own clients); only a batch the link
	// rewrote (a replayed transaction, a marker) is compared record by record.
	if checkTail && dstLEO > max(dstStart, srcStart) &&
		!r.sameBatchAt(ctx, srcTopic, srcTopicID, srcLeader, topic, dstTopicID, dstLeader, id, dstLEO-1) {
		c, err := compare.Range(ctx, r.src, r.dst, srcTopic, topic, id, dstLEO-1, dstLEO, compacted)
		if err != nil {
			return fmt.Errorf("mirror %s[%d] compare the last offset with the source: %w", topic, id, err)
		}
		if !c.Equal() {
			return &partitionError{code: CodeIllegalState, diverged: true, msg: fmt.Sprintf(
				"mirror %s[%d] differs from the source %s[%d] at its last offset %d (%s): something other than the link wrote to the mirror topic",
				topic, id, srcTopic, id, c.FirstDifference, c.Detail)}
		}
	}
	if err := r.reattachTransactions(ctx, p, topic, srcTopic, srcTopicID, srcLeader, srcStart, dstLEO); err != nil {
		return err
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	if p.gen != gen || p.phase != phaseResolving {
		return nil
	}
	p.nextOffset, p.fillBelow, p.mirrorLogStart = dstLEO, fillBelow, dstStart
	p.srcHWM, p.srcLogStart = srcHWM, srcStart
	p.firstTruncation = time.Time{}
	p.resolveFailures, p.resolveFailingSince = 0, time.Time{}
	p.errCode, p.errMsg = "", ""
	p.phase = phaseCopy
	p.everResolved, p.srcKnown, p.checkTail = true, true, false
	r.log.Debug("mirror partition positioned", zap.String("mirror_topic", topic), zap.Int32("partition", id),
		zap.Int64("mirror_log_end_offset", dstLEO), zap.Int64("fill_below", fillBelow),
		zap.Int64("source_log_start_offset", srcStart), zap.Int64("source_high_watermark", srcHWM))
	if dstLEO < fillBelow && srcHWM == fillBelow {
		// Nothing to fetch beyond the gap: fill it now so the mirror ends where the source does.
		if w := r.writerForLocked(p.dstLeader); w != nil {
			p.busy = true
			w.enqueue(p, p.gen, []writeItem{{fillTo: fillBelow}})
		}
	}
	if f := r.fetchers[p.srcLeader]; f != nil {
		f.wake()
	}
	return nil
}

func deleteRecords(ctx context.Context, adm *kadm.Client, topic string, partition int32, before int64) error {
	var offsets kadm.Offsets
	offsets.Add(kadm.Offset{Topic: topic, Partition: partition, At: before, LeaderEpoch: -1})
	resp, err := adm.DeleteRecords(ctx, offsets)
	if err == nil {
		if dr, ok := resp.Lookup(topic, partition); ok {
			err = dr.Err
		}
	}
	if err != nil {
		return fmt.Errorf("delete records of mirror %s[%d] before offset %d: %w", topic, partition, before, err)
	}
	return nil
}

// resolveErrorCode is the code a partition that keeps failing to resolve shows: the Kafka error's name when the
// cause is one (OFFSET_OUT_OF_RANGE, NOT_LEADER_OR_FOLLOWER, ...), else UNKNOWN_SERVER_ERROR.
func resolveErrorCode(err error) string {
	var kerrErr *kerr.Error
	if errors.As(err, &kerrErr) {
		return kerrErr.Message
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "REQUEST_TIMED_OUT"
	}
	return "UNKNOWN_SERVER_ERROR"
}

// sameBatchAt reports whether the batch holding offset is the same batch on both sides: same base and last offset,
// equal bytes but for the broker-owned header fields. false means "not shown equal by bytes", not "different".
func (r *Replicator) sameBatchAt(ctx context.Context, srcTopic string, srcID [16]byte, srcLeader int32,
	dstTopic string, dstID [16]byte, dstLeader int32, partition int32, offset int64) bool {
	if srcLeader < 0 || dstLeader < 0 || dstID == ([16]byte{}) {
		return false
	}
	s, err := fetchBatchAt(ctx, r.src, srcTopic, srcID, srcLeader, partition, offset)
	if err != nil {
		return false
	}
	d, err := fetchBatchAt(ctx, r.dst, dstTopic, dstID, dstLeader, partition, offset)
	return err == nil && s.Header.BaseOffset == d.Header.BaseOffset && s.Header.LastOffset() == d.Header.LastOffset() &&
		recordbatch.PayloadEqual(s.Bytes, d.Bytes)
}

// fetchBatchAt fetches the batch holding offset from a partition's leader. A partition error (OFFSET_OUT_OF_RANGE:
// the offset is below the log start) is returned as its kerr error.
func fetchBatchAt(ctx context.Context, cl *kgo.Client, topic string, topicID [16]byte, leader, partition int32, offset int64) (recordbatch.Batch, error) {
	kresp, err := cl.Broker(int(leader)).Request(ctx, kafkaapi.NewFetchOne(topic, topicID, partition, offset, 1<<20))
	if err != nil {
		return recordbatch.Batch{}, err
	}
	for _, t := range kresp.(*kmsg.FetchResponse).Topics {
		for _, fp := range t.Partitions {
			if err := kerr.ErrorForCode(fp.ErrorCode); err != nil {
				return recordbatch.Batch{}, err
			}
			batches, _, err := recordbatch.Split(fp.RecordBatches)
			if err != nil {
				return recordbatch.Batch{}, err
			}
			for _, b := range batches {
				if b.Header.BaseOffset <= offset && offset <= b.Header.LastOffset() {
					return b, nil
				}
			}
		}
	}
	return recordbatch.Batch{}, fmt.Errorf("no batch holds offset %d", offset)
}
