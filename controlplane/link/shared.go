package link

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/clusterlink/clusterlink/controlplane/group"
	"github.com/clusterlink/clusterlink/replicator"
)

// This file is the link's part in a group of daemons sharing it (controlplane/group): the units it offers (every
// mirror partition, and the run-once loops as one unit), what it does with an assignment (the replicator copies the
// owned partitions; the loops run only where the loops unit is), and the lease every write checks.

// loopsUnit is the unit of the link's run-once loops: auto-create, topic config sync, consumer offset sync, ACL
// sync and the read-only guard. They run together on one member (they decide from the same state).
var loopsUnit = group.LoopUnit("link")

// GroupOptions make the link's daemon a member of the group of the daemons sharing it.
type GroupOptions struct {
	// ID is the group id: the same for every daemon of one destination, state topic and link.
	ID string
	// MemberName is how this daemon is shown (host and process id).
	MemberName string
	// SessionTimeout and HeartbeatInterval: group.DefaultSessionTimeout and group.DefaultHeartbeatInterval when 0.
	SessionTimeout, HeartbeatInterval time.Duration
}

// GroupID is the group id of a link's daemons: one group per state topic and link.
func GroupID(stateTopic, link string) string { return "clusterlink." + stateTopic + "." + link }

// replicatorGroupOpts are the replicator's options in a group: only owned partitions, and no write without the lease.
func (l *Link) replicatorGroupOpts() []replicator.Opt {
	if l.member == nil {
		return nil
	}
	return []replicator.Opt{replicator.OwnedPartitionsOnly(), replicator.WriteGuard(l.member.Lease)}
}

// buildMember makes the link's group member with a destination client of its own (heartbeats must not wait behind
// produces).
func (l *Link) buildMember(o Options) error {
	if o.Group == nil {
		return nil
	}
	cl, err := kgo.NewClient(append(o.Destination.Opts(), kgo.ClientID("clusterlink-group-"+o.Name))...)
	if err != nil {
		return fmt.Errorf("group client: %w", err)
	}
	m, err := group.New(group.Options{Client: cl, Group: o.Group.ID, Name: o.Group.MemberName, Logger: l.log,
		SessionTimeout: o.Group.SessionTimeout, HeartbeatInterval: o.Group.HeartbeatInterval,
		Work: l.groupWork, Load: l.groupLoad, Apply: l.applyAssignment})
	if err != nil {
		cl.Close()
		return err
	}
	l.member, l.groupClient = m, cl
	return nil
}

// groupWork is every unit this daemon knows of: the partitions of the mirrors its replicator has, and the loops.
func (l *Link) groupWork() []group.Unit {
	units := []group.Unit{loopsUnit}
	for topic, n := range l.rep.Partitions() {
		for p := int32(0); p < n; p++ {
			units = append(units, group.PartitionUnit(topic, p))
		}
	}
	return units
}

func (l *Link) groupLoad() map[group.Unit]float64 {
	out := map[group.Unit]float64{}
	for topic, ps := range l.rep.CopyRates() {
		for p, rate := range ps {
			out[group.PartitionUnit(topic, p)] = rate
		}
	}
	return out
}

// applyAssignment makes this daemon run exactly the assigned units; what it loses is stopped with nothing in flight
// before it returns.
func (l *Link) applyAssignment(ctx context.Context, units []group.Unit) error {
	owned := map[string][]int32{}
	loops := false
	for _, u := range units {
		if topic, p, ok := u.Partition(); ok {
			owned[topic] = append(owned[topic], p)
		} else if u == loopsUnit {
			loops = true
		}
	}
	if !loops {
		l.setRunsLinkLoops(false)
	}
	l.rep.MarkFailed(l.storedFailuresGained(owned))
	if err := l.rep.SetOwned(ctx, owned); err != nil {
		return err
	}
	if loops {
		l.setRunsLinkLoops(true)
	}
	return nil
}

// storedFailuresGained are the stored failures of the partitions this assignment gives this daemon and it did not
// own before: they failed on another daemon and stay FAILED here. It remembers the assignment for the next call.
func (l *Link) storedFailuresGained(owned map[string][]int32) []replicator.PartitionFailure {
	l.mu.Lock()
	before := l.owned
	l.owned = owned
	l.mu.Unlock()
	var out []replicator.PartitionFailure
	for topic, ps := range owned {
		m, ok := l.storedMirror(topic)
		if !ok {
			continue
		}
		for _, f := range failuresOf(m) {
			if slices.Contains(ps, f.Partition) && !slices.Contains(before[topic], f.Partition) {
				out = append(out, f)
			}
		}
	}
	return out
}

// runsLinkLoops says whether the run-once loops run here: always for a link without a group, else while this daemon
// holds the loops unit, its lease and the link's state writer.
func (l *Link) runsLinkLoops() bool {
	if l.member == nil {
		return true
	}
	return l.leading.Load() && l.member.Lease() == nil && l.store.HoldsWriter(l.name)
}

// setRunsLinkLoops starts or stops the sync loops (offset sync, ACL sync) as the loops unit comes or goes; the
// mirror loop's and the guard's steps check runsLinkLoops each round. The loops unit brings the link's state writer
// with it: it is taken over before the loops start (groupLoop tries again while it is not), and released after
// they stopped.
func (l *Link) setRunsLinkLoops(on bool) {
	l.loopMu.Lock()
	defer l.loopMu.Unlock()
	if l.leading.Load() == on {
		return
	}
	l.leading.Store(on)
	if !on {
		l.stopSyncLoopsLocked()
		l.store.ReleaseWriter(l.name)
		l.log.Info("the link's loops run on another daemon now")
		return
	}
	l.startLeadingLocked()
}

// startLeadingLocked takes the state writer over and starts the sync loops, once this daemon holds the loops unit.
// loopMu is held.
func (l *Link) startLeadingLocked() {
	if l.runCtx == nil || l.runCtx.Err() != nil || !l.acquireStateWriter(l.runCtx) {
		return
	}
	if !l.config().ClusterLinkPaused {
		l.stopSyncLoopsLocked()
		l.startSyncLoopsLocked()
	}
	if l.member != nil {
		l.resumeStopsLocked()
	}
	l.log.Info("the link's loops run on this daemon")
}

// retryLeading takes the state writer over when this daemon holds the loops unit but not the writer yet (the
// first try failed, or a write of it was fenced while the group still gave it the unit).
func (l *Link) retryLeading() {
	if !l.leading.Load() || l.store.HoldsWriter(l.name) {
		return
	}
	l.loopMu.Lock()
	defer l.loopMu.Unlock()
	if l.leading.Load() && !l.store.HoldsWriter(l.name) {
		l.startLeadingLocked()
	}
}

// groupLoop runs the member, and asks for a rebalance whenever the work changes (a mirror added, stopped or grown).
func (l *Link) groupLoop(ctx context.Context) error {
	if l.member == nil {
		return nil
	}
	// While the link runs in its group, its records are written only by the holder of the state writer.
	l.store.RequireWriter(l.name, true)
	defer func() {
		l.store.RequireWriter(l.name, false)
		l.store.ReleaseWriter(l.name)
	}()
	done := make(chan error, 1)
	go func() {
		err := l.member.Run(ctx)
		if err != nil {
			// The daemon can never be a member: the link stays FAILED with why (it copies and syncs nothing).
			l.groupErr.Store(&err)
			l.log.Error("link refused: it cannot run", zap.Error(err))
		}
		done <- nil
	}()
	last := workKey(l.groupWork())
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-done:
			return nil
		case <-t.C:
		}
		if k := workKey(l.groupWork()); k != last {
			last = k
			l.member.Rejoin()
		}
		l.retryLeading()
		if l.runsLinkLoops() {
			l.applyReports(ctx)
		}
	}
}

func workKey(us []group.Unit) string {
	sort.Slice(us, func(i, j int) bool { return us[i] < us[j] })
	return fmt.Sprint(us)
}

// groupRefused is why the daemon can never join the link's group (nil while it can).
func (l *Link) groupRefused() error {
	if p := l.groupErr.Load(); p != nil {
		return *p
	}
	return nil
}

// Group returns the group of the daemons sharing the link as this daemon sees it; false when the link has none.
func (l *Link) Group() (group.View, bool) {
	if l.member == nil {
		return group.View{}, false
	}
	return l.member.View(), true
}

// closeGroup releases the group's client.
func (l *Link) closeGroup() {
	if l.groupClient != nil {
		l.groupClient.Close()
	}

}

// sharedPartitions are the partitions a daemon of a group reports: those it copies, and those nobody in the group
// copies yet (PENDING_MIRROR, lag unknown, which makes an ACTIVE mirror PENDING_MIRROR). The partitions another
// member copies are that member's to report: their positions here are stale, so lags, counters and failures shown
// by a daemon are always of what it runs (or of what nobody runs).
func (l *Link) sharedPartitions(v *Mirror, ps []replicator.PartitionStatus) []replicator.PartitionStatus {
	if l.member == nil {
		return ps
	}
	elsewhere := map[group.Unit]bool{}
	view := l.member.View()
	for _, m := range view.Members {
		if m.ID == view.MemberID {
			continue
		}
		for _, u := range m.Units {
			elsewhere[u] = true
		}
	}
	out := ps[:0:0]
	for _, p := range ps {
		switch {
		case !p.NotOwned:
			out = append(out, p)
		case !elsewhere[group.PartitionUnit(v.Topic, p.Partition)]:
			p.Status, p.Lag, p.TimeLag = replicator.StatusPendingMirror, -1, -1
			out = append(out, p)
			if v.Status == replicator.StatusActive {
				v.Status = replicator.StatusPendingMirror
			}
		}
	}
	return out
}
