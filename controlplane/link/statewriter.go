package link

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/clusterlink/clusterlink/controlplane/group"
	"github.com/clusterlink/clusterlink/controlplane/state"
	"github.com/clusterlink/clusterlink/replicator"
)

// This file is the link's side of its state's single writer (controlplane/state/writer.go): in a group the daemon
// that holds the loops unit writes the link's records, and takes the writer over before its loops run; the other
// daemons send their partitions' failures and restarts as reports, which the writer applies while their sender is a
// member of the group.

// acquireStateWriter takes the link's state writer over for this daemon, unless it holds it already. It refuses
// when this daemon cannot be the rightful holder: its lease lapsed, or the topic names a writer of a later
// generation (this daemon was expelled and does not know it yet: taking the writer back would fence the new one).
func (l *Link) acquireStateWriter(ctx context.Context) bool {
	if l.member == nil || l.store.HoldsWriter(l.name) {
		return true
	}
	if l.member.Lease() != nil {
		return false
	}
	v := l.member.View()
	if w, ok := l.store.LinkWriter(l.name); ok && w.MemberID != v.MemberID && w.Generation > v.Generation {
		return false
	}
	me := state.Writer{Member: selfName(v), MemberID: v.MemberID, Generation: v.Generation}
	cctx, cancel := context.WithTimeout(ctx, l.requestTimeout())
	defer cancel()
	start := time.Now()
	if err := l.store.AcquireWriter(cctx, l.name, me); err != nil {
		if ctx.Err() == nil {
			l.log.Warn("the link's state writer not taken over yet: its loops wait", zap.Error(err))
		}
		return false
	}
	l.log.Info("this daemon writes the link's state now", zap.Int32("generation", me.Generation),
		zap.Duration("took", time.Since(start)))
	return true
}

// holdsStateWriter says whether this daemon may write the link's records: always without a group.
func (l *Link) holdsStateWriter() bool { return l.member == nil || l.store.HoldsWriter(l.name) }

// reportFailures sends partition failures to the link's writer (this daemon is not it). Nothing is sent without
// the lease: a daemon that lost its partitions must not mark them FAILED for their new owner.
func (l *Link) reportFailures(ctx context.Context, topic string, fs map[int32]replicator.PartitionFailure) error {
	if err := l.member.Lease(); err != nil {
		return err
	}
	for _, p := range slices.Sorted(maps.Keys(fs)) {
		f := fs[p]
		err := l.sendReport(ctx, topic, p, &state.Failure{Partition: p, Code: f.Code, Message: f.Message,
			TimeMs: f.Time.UnixMilli(), Diverged: f.Diverged})
		if err != nil {
			return err
		}
	}
	return nil
}

// sendReport stores one report for the link's writer (failure nil: the partition copies again).
func (l *Link) sendReport(ctx context.Context, topic string, p int32, f *state.Failure) error {
	v := l.member.View()
	return l.store.PutReport(ctx, state.Report{Link: l.name, Topic: topic, Partition: p, MemberID: v.MemberID,
		Member: selfName(v), Generation: v.Generation, Failure: f, TimeMs: time.Now().UnixMilli()})
}

// selfName is this daemon's name in the group (host and process id), its member id if the view does not list it.
func selfName(v group.View) string {
	for _, m := range v.Members {
		if m.ID == v.MemberID {
			return m.Name
		}
	}
	return v.MemberID
}

// applyReports is the writer's part: every report of a daemon that is a member of the group now changes its
// mirror's record, and so does a divergence whoever reported it; any other report of a daemon that left the group
// (expelled, or gone) is dropped, as its partitions' new owners check them again. Each report is deleted with the change it makes, in one transaction.
func (l *Link) applyReports(ctx context.Context) {
	reports := l.store.Reports(l.name)
	if len(reports) == 0 {
		return
	}
	members := map[string]bool{}
	for _, m := range l.member.View().Members {
		members[m.ID] = true
	}
	byTopic := map[string][]state.Report{}
	for _, r := range reports {
		byTopic[r.Topic] = append(byTopic[r.Topic], r)
	}
	for _, topic := range slices.Sorted(maps.Keys(byTopic)) {
		rs := byTopic[topic]
		l.recMu.Lock()
		var b state.Batch
		m, ok := l.storedMirror(topic)
		copying := ok && m.Status != replicator.StatusStopped && m.Status != replicator.StatusPendingStopped
		for _, r := range rs {
			b.DeleteReport(r)
			if !copying {
				continue
			}
			if !members[r.MemberID] && (r.Failure == nil || !r.Failure.Diverged) {
				// A divergence is kept whoever found it (its new owner's tail check may not see a difference deep
				// in the log); a restart or an operational failure of a departed daemon is not.
				l.log.Info("a partition report of a daemon no longer in the group is dropped: the partition's new owner checks it again",
					zap.String("mirror_topic", topic), zap.Int32("partition", r.Partition), zap.String("member", r.Member))
				continue
			}
			m.Failures = slices.DeleteFunc(m.Failures, func(f state.Failure) bool { return f.Partition == r.Partition })
			if r.Failure != nil {
				m.Failures = append(m.Failures, *r.Failure)
			}
		}
		if copying {
			slices.SortFunc(m.Failures, func(a, b state.Failure) int { return int(a.Partition - b.Partition) })
			b.PutMirror(m)
		}
		err := l.store.Write(ctx, &b)
		l.recMu.Unlock()
		if err != nil && ctx.Err() == nil {
			l.log.Warn("partition reports not applied yet", zap.String("mirror_topic", topic), zap.Error(err))
			return
		}
	}
}

// statusLoop makes this daemon's replicator follow the status the link's writer stored for each mirror (in a
// group): a mirror paused or resumed through the writer pauses or resumes here too, as soon as the record is read.
func (l *Link) statusLoop(ctx context.Context) error {
	if l.member == nil {
		return nil
	}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		moved := l.store.Moved()
		l.followStatuses(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-moved:
		case <-t.C:
		}
	}
}

// followStatuses pauses or resumes the replicator's mirrors as their records say. opMu keeps it from acting on a
// record read before a pause or resume of this daemon changed it.
func (l *Link) followStatuses(ctx context.Context) {
	l.opMu.Lock()
	defer l.opMu.Unlock()
	for _, m := range l.store.Mirrors(l.name) {
		l.mu.Lock()
		added, promoting := l.added[m.Topic], l.promoting[m.Topic]
		l.mu.Unlock()
		if !added || promoting {
			continue
		}
		var err error
		switch m.Status {
		case replicator.StatusPaused:
			err = l.rep.PauseMirror(m.Topic)
		case replicator.StatusActive:
			err = l.rep.ResumeMirror(m.Topic)
		case replicator.StatusPendingStopped, replicator.StatusStopped:
			// The writer promotes or fails the mirror over: this daemon stops its partitions (nothing in flight
			// once StopMirror returns) and no longer offers them, so the next generation gives them all to the
			// writer, which finishes the stop alone (awaitSoleOwner).
			if l.holdsStateWriter() {
				continue
			}
			if err = l.rep.StopMirror(ctx, m.Topic); err == nil {
				l.mu.Lock()
				delete(l.added, m.Topic)
				l.mu.Unlock()
				l.log.Info("mirror stopped here: the link's state writer promotes or fails it over", zap.String("mirror_topic", m.Topic))
			}
		}
		if err != nil {
			l.log.Warn("mirror status not followed", zap.String("mirror_topic", m.Topic), zap.String("status", string(m.Status)), zap.Error(err))
		}
	}
}

// awaitSoleOwner waits, in a group, until no other daemon is given a partition of the mirror in a stable generation
// (they stopped theirs when they read its PENDING_STOPPED record), and with all it also waits until this daemon
// owns every partition (a promote waits for them to reach the source's high watermark here).
func (l *Link) awaitSoleOwner(ctx context.Context, topic string, all bool) error {
	if l.member == nil {
		return nil
	}
	for {
		v := l.member.View()
		elsewhere := ""
		for _, m := range v.Members {
			if m.ID == v.MemberID {
				continue
			}
			for _, u := range m.Units {
				if t, _, ok := u.Partition(); ok && t == topic {
					elsewhere = m.Name
				}
			}
		}
		owned := len(l.rep.OwnedPartitions()[topic])
		if v.Stable && elsewhere == "" && (!all || owned == int(l.rep.Partitions()[topic])) {
			return nil
		}
		select {
		case <-ctx.Done():
			if elsewhere != "" {
				return fmt.Errorf("daemon %s still copies partitions of %s: %w", elsewhere, topic, ctx.Err())
			}
			return fmt.Errorf("this daemon owns %d of the partitions of %s: %w", owned, topic, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// resumeStopsLocked finishes the promotes and failovers a previous writer left PENDING_STOPPED. loopMu is held.
func (l *Link) resumeStopsLocked() {
	for _, m := range l.store.Mirrors(l.name) {
		l.mu.Lock()
		promoting := l.promoting[m.Topic]
		l.mu.Unlock()
		if m.Status == replicator.StatusPendingStopped && !promoting {
			l.mu.Lock()
			l.promoting[m.Topic] = true // before the goroutine starts, so a second takeover does not start another
			l.mu.Unlock()
			go l.resumeStop(l.runCtx, m)
		}
	}
}
