package link

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/clusterlink/clusterlink/controlplane/state"
	"github.com/clusterlink/clusterlink/replicator"
	"github.com/clusterlink/clusterlink/replicator/compare"
)

// This file is a mirror's lifecycle after its creation: pause, resume, restart (out of FAILED), promote and
// failover (to STOPPED, a normal writable topic). Each step is stored before it takes effect, so that a restarted
// daemon finishes or keeps it.

// Pause stops copying a mirror topic; it stays read-only and keeps its position.
func (l *Link) Pause(ctx context.Context, topic string, validateOnly bool) (Mirror, error) {
	return l.setPaused(ctx, topic, true, validateOnly)
}

// Resume copies a paused mirror topic again. A FAILED mirror is not resumed: Restart recovers it.
func (l *Link) Resume(ctx context.Context, topic string, validateOnly bool) (Mirror, error) {
	return l.setPaused(ctx, topic, false, validateOnly)
}

func (l *Link) setPaused(ctx context.Context, topic string, pause, validateOnly bool) (Mirror, error) {
	if h := l.holder(topic); h != l {
		return h.setPaused(ctx, topic, pause, validateOnly)
	}
	l.opMu.Lock()
	defer l.opMu.Unlock()
	m, ok := l.storedMirror(topic)
	if !ok {
		return Mirror{}, notFound("mirror topic %s on link %s not found", topic, l.name)
	}
	view := l.mirrorView(m)
	from, to := replicator.StatusActive, replicator.StatusPaused
	if !pause {
		from, to = to, from
		if view.Status == replicator.StatusFailed {
			return view, conflict("mirror topic %s is FAILED (%s: %s): resume does not recover a failed mirror; fix the cause, then run `clusterlink mirror restart %s --link %s`, which checks the mirror against its source before copying again",
				topic, view.ErrorCode, view.ErrorMessage, topic, l.name)
		}
	}
	if m.Status == to {
		return view, nil
	}
	if m.Status != from {
		return view, conflict("mirror topic %s is %s, not %s", topic, m.Status, from)
	}
	if err := l.refuseBroken("pause or resume mirrors"); err != nil {
		return view, err
	}
	if validateOnly {
		return view, nil
	}
	err := l.updateMirror(ctx, topic, func(m *state.Mirror) bool {
		m.Status, m.StatusTimeMs = to, time.Now().UnixMilli()
		return true
	})
	if err != nil {
		return Mirror{}, err
	}
	l.mu.Lock()
	added := l.added[topic]
	l.mu.Unlock()
	if added {
		if pause {
			err = l.rep.PauseMirror(topic)
		} else {
			err = l.rep.ResumeMirror(topic)
		}
		if err != nil {
			return Mirror{}, err
		}
	}
	m, _ = l.storedMirror(topic)
	return l.mirrorView(m), nil
}

// Restart recovers a FAILED mirror: every failed partition is checked against its source first (the mirror's last
// records must equal the source's at the same offsets, and it must not end beyond the source); if all are still
// exact prefixes of their source, their failures are forgotten and they copy again from their log end offset. A
// mirror that diverged stays FAILED, and the error names the partition and the first differing offset.
func (l *Link) Restart(ctx context.Context, topic string, validateOnly bool) (Mirror, error) {
	if h := l.holder(topic); h != l {
		return h.Restart(ctx, topic, validateOnly)
	}
	l.opMu.Lock()
	defer l.opMu.Unlock()
	m, ok := l.storedMirror(topic)
	if !ok {
		return Mirror{}, notFound("mirror topic %s on link %s not found", topic, l.name)
	}
	view := l.mirrorView(m)
	if err := l.refuseBroken("restart mirrors"); err != nil {
		return view, err
	}
	if view.Status != replicator.StatusFailed {
		return view, conflict("mirror topic %s is %s, not FAILED: restart recovers failed mirrors only", topic, view.Status)
	}
	l.mu.Lock()
	added := l.added[topic]
	l.mu.Unlock()
	if !added {
		if err := l.addToReplicator(ctx, m); err != nil {
			return view, fmt.Errorf("restart %s: the mirror is not started: %w", topic, err)
		}
	}
	checks, err := l.rep.CheckFailedPartitions(ctx, topic)
	if err != nil {
		return view, fmt.Errorf("restart %s: compare the failed partitions with the source: %w", topic, err)
	}
	for _, c := range checks {
		if !c.Equal() {
			return view, conflict("mirror topic %s partition %d differs from its source at offset %d (%s; %d of %d offsets compared differ): it cannot be restarted; the mirror must be recreated from the source",
				topic, c.Partition, c.FirstDifference, c.Detail, c.Differing, c.Compared)
		}
	}
	if validateOnly {
		return view, nil
	}
	if l.holdsStateWriter() {
		err = l.updateMirror(ctx, topic, func(m *state.Mirror) bool {
			m.Failures = nil
			m.StatusTimeMs = time.Now().UnixMilli()
			return true
		})
	} else {
		// The partitions are this daemon's; another writes the link's state and forgets their failures from the
		// reports (statewriter.go).
		for _, c := range checks {
			if err = l.sendReport(ctx, topic, c.Partition, nil); err != nil {
				break
			}
		}
	}
	if err != nil {
		return view, err
	}
	if err := l.rep.RestartMirror(topic); err != nil {
		return view, err
	}
	var compared int64
	for _, c := range checks {
		compared += c.Compared
	}
	l.log.Info("mirror restarted after its failed partitions matched the source",
		zap.String("mirror_topic", topic), zap.Int("partitions", len(checks)), zap.Int64("offsets_compared", compared))
	m, _ = l.storedMirror(topic)
	return l.mirrorView(m), nil
}

// StopOptions are the options of Promote and Failover.
type StopOptions struct {
	// ValidateOnly checks that the operation may run and changes nothing.
	ValidateOnly bool
	// Force stops a mirror that diverged from its source too (the result says it diverged); without it such a
	// mirror is refused, as its topic does not hold the source's records.
	Force bool
}

// Promote ends mirroring of a topic and makes it a normal writable topic: it waits until the mirror has copied
// every record the source had at the call, runs a last consumer offset sync for it, stops copying with nothing in
// flight, aborts the link's transactions still open on it, gives it the source topic's configs and removes its
// read-only guard. Failover does the same without waiting for (or needing) the source.
func (l *Link) Promote(ctx context.Context, topic string, o StopOptions) (Mirror, error) {
	return l.stop(ctx, topic, opPromote, o)
}

// Failover stops mirroring at once and makes the topic writable, whatever its lag and whether the source answers.
func (l *Link) Failover(ctx context.Context, topic string, o StopOptions) (Mirror, error) {
	return l.stop(ctx, topic, opFailover, o)
}

const (
	opPromote  = "promote"
	opFailover = "failover"
)

func (l *Link) stop(ctx context.Context, topic, op string, o StopOptions) (Mirror, error) {
	if h := l.holder(topic); h != l {
		return h.stop(ctx, topic, op, o)
	}
	l.opMu.Lock()
	m, ok := l.storedMirror(topic)
	if !ok {
		l.opMu.Unlock()
		return Mirror{}, notFound("mirror topic %s on link %s not found", topic, l.name)
	}
	view := l.mirrorView(m)
	divergedAt, divergedWhy, diverged := divergence(m, view)
	var refuse error
	switch {
	case m.Failback != nil:
		refuse = conflict("mirror topic %s has a %s under way: run it again to finish it", topic, m.Failback.Op)
	case m.Status == replicator.StatusStopped:
		refuse = conflict("mirror topic %s is already STOPPED", topic)
	case m.Status == replicator.StatusPendingStopped:
		refuse = conflict("mirror topic %s is already PENDING_STOPPED (a %s is running)", topic, m.PendingOp)
	case diverged && !o.Force:
		refuse = conflict("mirror topic %s diverged from its source at partition %d (%s): a %s would hand out a topic that does not hold the source's records; recreate the mirror, or %s with force to take the topic as it is",
			topic, divergedAt, divergedWhy, op, op)
	case op == opPromote && l.broken != nil:
		refuse = l.refuseBroken("promote (it needs the source; fail over instead)")
	case op == opPromote && m.Status == replicator.StatusPaused:
		refuse = conflict("mirror topic %s is PAUSED: resume it before promote, or fail over", topic)
	case op == opPromote && l.config().ClusterLinkPaused:
		refuse = conflict("link %s is paused: promote needs the source; unpause the link or fail over", l.name)
	case op == opPromote && view.Status == replicator.StatusFailed:
		refuse = conflict("mirror topic %s is FAILED (%s: %s): promote cannot reach lag 0; fail over instead", topic, view.ErrorCode, view.ErrorMessage)
	case op == opPromote && view.Status == replicator.StatusSourceUnavailable:
		refuse = conflict("the source of mirror topic %s is unavailable: promote cannot reach lag 0; fail over instead", topic)
	}
	if refuse != nil || o.ValidateOnly {
		l.opMu.Unlock()
		return view, refuse
	}
	err := l.updateMirror(ctx, topic, func(r *state.Mirror) bool {
		r.Status, r.StatusTimeMs, r.PendingOp = replicator.StatusPendingStopped, time.Now().UnixMilli(), op
		m = *r
		return true
	})
	if err != nil {
		l.opMu.Unlock()
		return view, err
	}
	l.mu.Lock()
	l.promoting[topic] = true
	l.mu.Unlock()
	l.opMu.Unlock()

	err = l.finishStop(ctx, m)
	l.mu.Lock()
	delete(l.promoting, topic)
	l.mu.Unlock()
	if err != nil && op == opPromote {
		// Back to copying: the promote can be tried again.
		if perr := l.updateMirror(context.WithoutCancel(ctx), topic, func(r *state.Mirror) bool {
			r.Status, r.StatusTimeMs, r.PendingOp = replicator.StatusActive, time.Now().UnixMilli(), ""
			return true
		}); perr != nil {
			err = errors.Join(err, perr)
		}
		m, _ = l.storedMirror(topic)
		return l.mirrorView(m), err
	}
	if err != nil {
		return view, err
	}
	final, _ := l.storedMirror(topic)
	out := l.mirrorView(final)
	out.Partitions = view.Partitions
	if rs, ok := l.lastPartitions(topic); ok {
		out.Partitions = rs
	}
	return out, nil
}

// finishStop carries out a promote or failover recorded as PENDING_STOPPED, up to STOPPED.
func (l *Link) finishStop(ctx context.Context, m state.Mirror) error {
	log := l.log.With(zap.String("mirror_topic", m.Topic), zap.String("op", m.PendingOp))
	log.Info("mirror stopping")
	if m.PendingOp == opPromote {
		l.mu.Lock()
		added := l.added[m.Topic]
		l.mu.Unlock()
		if !added {
			if err := l.addToReplicator(ctx, m); err != nil {
				return fmt.Errorf("promote %s: the mirror is not copying: %w", m.Topic, err)
			}
		}
		if err := l.awaitSoleOwner(ctx, m.Topic, true); err != nil {
			return fmt.Errorf("promote %s: the other daemons of the link do not hand its partitions over: %w", m.Topic, err)
		}
		hwm, err := l.rep.WaitForSourceHighWatermark(ctx, m.Topic)
		if err != nil {
			return fmt.Errorf("promote %s: %w", m.Topic, err)
		}
		log.Info("mirror reached the source high watermark", zap.Any("high_watermarks", hwm))
	}
	if s := l.syncLoops().offsets; s != nil {
		sctx, cancel := context.WithTimeout(ctx, l.requestTimeout())
		err := s.SyncTopic(sctx, m.SourceTopic, m.Topic)
		cancel()
		if err != nil {
			if m.PendingOp == opPromote {
				return fmt.Errorf("promote %s: last consumer offset sync: %w", m.Topic, err)
			}
			log.Warn("failover without a last consumer offset sync", zap.Error(err))
		}
	}
	srcConfigs := m.SourceConfigs
	if err := l.awaitSoleOwner(ctx, m.Topic, false); err != nil {
		return fmt.Errorf("%s %s: the other daemons of the link still copy it: %w", m.PendingOp, m.Topic, err)
	}
	if l.rep != nil {
		l.snapshotPartitions(m.Topic)
		if ps, ok := l.lastPartitions(m.Topic); ok {
			m.Partitions = int32(len(ps))
		}
		if err := l.rep.StopMirror(ctx, m.Topic); err != nil {
			return err
		}
		if m.PendingOp == opPromote {
			cctx, cancel := context.WithTimeout(ctx, l.requestTimeout())
			if fresh, err := l.rep.SourceTopicConfigs(cctx, m.SourceTopic); err == nil {
				srcConfigs = fresh
			}
			cancel()
		}
	}
	cctx, cancel := context.WithTimeout(ctx, l.requestTimeout())
	defer cancel()
	// No transaction of the link may stay open on a writable topic: read_committed consumers would wait for the
	// transaction timeout, and the unfinished source transaction's records must not be committed.
	if _, err := replicator.AbortOpenTransactions(cctx, l.dst, m.Topic, TransactionalIDPrefix(l.name), log); err != nil {
		return fmt.Errorf("%s %s: abort the link's open transactions: %w", m.PendingOp, m.Topic, err)
	}
	if err := replicator.RestoreTopicConfigs(cctx, l.dstAdm, m.Topic, srcConfigs); err != nil {
		return fmt.Errorf("%s %s: restore the topic configs: %w", m.PendingOp, m.Topic, err)
	}
	if err := l.guard.unprotect(cctx, m.Topic); err != nil {
		return fmt.Errorf("%s %s: remove the read-only ACL: %w", m.PendingOp, m.Topic, err)
	}
	err := l.updateMirror(ctx, m.Topic, func(r *state.Mirror) bool {
		r.Status, r.StatusTimeMs, r.PendingOp = replicator.StatusStopped, time.Now().UnixMilli(), ""
		r.Partitions = max(r.Partitions, m.Partitions)
		return true
	})
	if err != nil {
		return err
	}
	l.mu.Lock()
	delete(l.added, m.Topic)
	l.mu.Unlock()
	log.Info("mirror stopped: the topic is writable")
	return nil
}

// resumeStop finishes a promote or failover that a previous run of the daemon left PENDING_STOPPED.
func (l *Link) resumeStop(ctx context.Context, m state.Mirror) {
	l.mu.Lock()
	l.promoting[m.Topic] = true
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		delete(l.promoting, m.Topic)
		l.mu.Unlock()
	}()
	for ctx.Err() == nil {
		err := l.finishStop(ctx, m)
		if err == nil {
			return
		}
		l.log.Warn("finishing an interrupted mirror stop", zap.String("mirror_topic", m.Topic), zap.Error(err))
		if sleep(ctx, time.Second) != nil || !l.holdsStateWriter() {
			return // in a group, the daemon that holds the state writer now finishes it
		}
	}
}

// snapshotPartitions keeps the partition positions of a mirror that is being stopped, for the answer of promote.
func (l *Link) snapshotPartitions(topic string) {
	if rs, ok := l.rep.MirrorStatus(topic); ok {
		l.mu.Lock()
		l.final[topic] = rs.Partitions
		l.mu.Unlock()
	}
}

func (l *Link) lastPartitions(topic string) ([]replicator.PartitionStatus, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ps, ok := l.final[topic]
	return ps, ok
}

// Verify compares a mirror topic with its source topic (see compare.Topic): it is read-only, and works
// on a copying, paused, failed or stopped mirror alike. It needs the source.
func (l *Link) Verify(ctx context.Context, topic string, o compare.Options) ([]compare.Partition, error) {
	if h := l.holder(topic); h != l {
		return h.Verify(ctx, topic, o)
	}
	m, ok := l.storedMirror(topic)
	if !ok {
		return nil, notFound("mirror topic %s on link %s not found", topic, l.name)
	}
	if err := l.refuseBroken("verify mirrors (it reads the source)"); err != nil {
		return nil, err
	}
	return compare.Topic(ctx, l.src, l.dst, m.SourceTopic, m.Topic, o)
}
