package replicator

import (
	"context"
	"time"

	"go.uber.org/zap"
)

// phase is where a mirror partition is in its lifecycle. All fields of mirror and partition are guarded by
// Replicator.mu.
type phase int

const (
	// phaseResolve: the partition's position must be (re)read from the destination before copying.
	phaseResolve phase = iota
	// phaseResolving: a resolve is running.
	phaseResolving
	// phaseCopy: the fetcher fetches it and the writer writes it.
	phaseCopy
	// phaseFailed: stopped with an error until the mirror is recreated.
	phaseFailed
	// phaseParked: the mirror is paused; ResumeMirror sends it back to phaseResolve.
	phaseParked
	// phaseUnowned: another daemon of the link copies it (see ownership.go); SetOwned sends it back to phaseResolve.
	phaseUnowned
)

type mirror struct {
	topic, sourceTopic string
	start              StartOffset
	sourceTopicID      [16]byte
	mirrorTopicID      [16]byte
	partitions         []*partition
	topicHash          uint32 // of the mirror topic's name: spreads its partitions over produce connections
	// stopped ends when StopMirror is called: resolves of the mirror's partitions still working give up.
	stopped context.Context
	stop    context.CancelFunc

	paused             bool // PauseMirror: partitions are parked
	compacted          bool // the source's cleanup.policy includes compact (as last described)
	sourceMissing      int  // consecutive metadata refreshes that did not find the source topic
	mirrorMissing      int  // consecutive metadata refreshes that did not find the mirror topic on the destination
	mirrorMissingSince time.Time
	errCode            string
	errMsg             string
	statusTime         time.Time
	lastStatus         Status
}

type partition struct {
	m  *mirror
	id int32

	phase phase
	// gen changes whenever the partition leaves phaseCopy; work handed out under an older gen is dropped.
	gen uint64
	// busy: batches were handed to a writer and are not all written yet; the fetcher leaves it alone.
	busy bool
	// held is what the partition's batches handed to a writer count against the memory budget (released when they
	// are all written, or dropped).
	held int64
	// soloFetch: the partition's next batch did not fit its share of a fetch; it is fetched on its own (Kafka
	// returns at least one batch of the first partition of a fetch), reserving soloNeed bytes when known.
	soloFetch bool
	soloNeed  int64

	// nextOffset is the mirror's log end offset: the next source offset to copy.
	nextOffset int64
	// fillBelow: a gap in the source before this offset is legitimate (retention, DeleteRecords, a later start)
	// and is filled with filler records that are then deleted.
	fillBelow int64
	// mirrorLogStart is the mirror partition's log start offset as last known.
	mirrorLogStart int64

	srcLeader, dstLeader           int32
	srcLeaderEpoch, dstLeaderEpoch int32
	srcHWM, srcLogStart            int64
	// srcKnown: srcHWM and srcLogStart were read from the source (until then the lag is unknown).
	srcKnown        bool
	lastFetchOffset int64
	// auditShort counts consecutive audits that found the mirror's high watermark behind nextOffset.
	auditShort int
	// diverged: the partition failed because the mirror no longer equals its source (promote and failover refuse it).
	diverged bool
	// checkTail: the next resolve compares the mirror's last offset with the source's before copying on (the first
	// resolve, and after a pause: another client may have written meanwhile).
	checkTail bool
	// missingSince is the timestamp of the oldest source record not yet on the mirror, as last measured (zero:
	// unknown or caught up).
	missingSince time.Time
	// resolveFailingSince is when the resolves of the partition started failing in a row.
	resolveFailingSince time.Time

	errCode, errMsg string
	firstTruncation time.Time // when the mirror was first seen ahead of the source
	resolveFailures int
	// resolving counts resolve runs of the partition still working (any generation): StopMirror waits for them, as
	// a resolve may still move the mirror's log start.
	resolving    int
	counters     Counters
	everResolved bool
	// stripProducers are source producer ids whose batches are written without producer fields: the destination
	// refused their sequence (the source lost some of their batches).
	stripProducers map[int64]bool
	// txnSlots are the destination transactional producers replaying this partition's source transactions.
	txnSlots []*destTxn
	// lastEndedSlot is the slot whose transaction ended last: its coordinator may still be completing it, so the
	// next transaction takes another slot (see slotLocked).
	lastEndedSlot *destTxn

	// The copy rate, sampled when the status is read.
	rateAt     time.Time
	rateOffset int64
	rate       float64
	// unowned: another daemon sharing the link owns it (OwnedPartitionsOnly); its phase is phaseUnowned unless it
	// failed. The byte rate is sampled for the group's load-aware assignment.
	unowned bool
	// linkSeq is the next sequence of the link's own producer on the mirror partition (linkproducer.go), read at each
	// resolve; linkSeqKnown is false until then, or when the destination cannot tell it.
	linkSeq       int32
	linkSeqKnown  bool
	byteRateAt    time.Time
	byteRateBytes int64
	byteRate      float64
}

// copyRateLocked updates and returns the partition's copy rate in offsets per second.
func (p *partition) copyRateLocked(now time.Time) float64 {
	const window = 5 * time.Second
	switch {
	case p.rateAt.IsZero():
		p.rateAt, p.rateOffset = now, p.nextOffset
	case now.Sub(p.rateAt) >= window:
		p.rate = float64(p.nextOffset-p.rateOffset) / now.Sub(p.rateAt).Seconds()
		p.rateAt, p.rateOffset = now, p.nextOffset
	}
	return max(p.rate, 0)
}

func newPartition(m *mirror, id int32) *partition {
	return &partition{m: m, id: id, srcLeader: -1, dstLeader: -1, checkTail: true}
}

// newPartition returns a new partition of m (the caller adds it), parked when m is paused, unowned when another
// daemon copies it (owned is ownedAtStartLocked).
func (m *mirror) newPartition(id int32, owned bool) *partition {
	p := newPartition(m, id)
	if m.paused {
		p.phase = phaseParked
	}
	if !owned {
		p.phase, p.unowned = phaseUnowned, true
	}
	return p
}

// fetchOffset is where the next fetch of the source starts.
func (p *partition) fetchOffset() int64 { return max(p.nextOffset, p.fillBelow) }

// lag is how many offsets the mirror is behind the source, -1 while unknown (the source's high watermark was not
// read yet, or the partition's position is not known).
func (p *partition) lag() int64 {
	if !p.srcKnown || !p.everResolved {
		return -1
	}
	return max(0, p.srcHWM-p.nextOffset)
}

// failLocked stops the partition with an error code and message. r.mu must be held.
func (r *Replicator) failLocked(p *partition, code, msg string) {
	if p.phase == phaseFailed {
		return
	}
	p.phase = phaseFailed
	p.gen++
	r.notBusyLocked(p)
	p.errCode, p.errMsg = code, msg
	p.m.statusTime = time.Now()
	r.log.Error("mirror partition failed", zap.String("mirror_topic", p.m.topic), zap.Int32("partition", p.id),
		zap.String("code", code), zap.String("reason", msg))
	if r.opts.onFailure != nil {
		r.opts.onFailure(PartitionFailure{MirrorTopic: p.m.topic, Partition: p.id, Code: code, Message: msg,
			Time: p.m.statusTime, Diverged: p.diverged})
	}
}

// notBusyLocked ends the partition's hand-out to a writer: its batches no longer count against the memory budget
// (written, or dropped with their generation). r.mu must be held.
func (r *Replicator) notBusyLocked(p *partition) {
	p.busy = false
	r.opts.budget.release(p.held)
	p.held = 0
}

// resyncLocked sends the partition back to re-read its position from the destination: after a failed or uncertain
// produce, an out-of-range fetch, or a leader change. Work in flight under the old generation is dropped. r.mu
// must be held.
func (r *Replicator) resyncLocked(p *partition, gen uint64, why string) {
	if p.gen != gen || p.phase != phaseCopy {
		return
	}
	p.phase = phaseResolve
	p.gen++
	r.notBusyLocked(p)
	r.log.Debug("mirror partition resync", zap.String("mirror_topic", p.m.topic), zap.Int32("partition", p.id),
		zap.String("why", why))
	r.pokeMetadata()
}

func (m *mirror) statusLocked() MirrorStatus {
	st := MirrorStatus{MirrorTopic: m.topic, SourceTopic: m.sourceTopic, ErrorCode: m.errCode, ErrorMessage: m.errMsg}
	status := StatusActive
	if m.errCode != "" {
		status = StatusFailed
	}
	now := time.Now()
	for _, p := range m.partitions {
		ps := PartitionStatus{
			CopyRate:  p.copyRateLocked(now),
			Partition: p.id, SourceHighWatermark: p.srcHWM, SourceLogStartOffset: p.srcLogStart,
			LastSourceFetchOffset: p.lastFetchOffset, MirrorLogEndOffset: p.nextOffset, Lag: p.lag(),
			ErrorCode: p.errCode, ErrorMessage: p.errMsg, Counters: p.counters, Diverged: p.diverged,
			TimeLag: p.timeLagLocked(now),
		}
		switch {
		case p.phase == phaseFailed:
			ps.Status = StatusFailed
			status = StatusFailed
			if st.ErrorCode == "" {
				st.ErrorCode, st.ErrorMessage = p.errCode, p.errMsg
			}
		case p.phase == phaseParked:
			ps.Status = StatusPaused
		case p.unowned:
			ps.Status, ps.NotOwned = StatusActive, true // another daemon's: what it copies is its status to say
		case !p.everResolved:
			ps.Status = StatusPendingMirror
			if status == StatusActive {
				status = StatusPendingMirror
			}
		default:
			ps.Status = StatusActive
		}
		st.Partitions = append(st.Partitions, ps)
	}
	if m.paused && status != StatusFailed {
		status = StatusPaused
	}
	if status != m.lastStatus {
		m.lastStatus = status
		m.statusTime = time.Now()
	}
	st.Status, st.StatusTime = status, m.statusTime
	return st
}
