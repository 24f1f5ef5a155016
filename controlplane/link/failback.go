package link

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/clusterlink/clusterlink/config"
	"github.com/clusterlink/clusterlink/controlplane/state"
	"github.com/clusterlink/clusterlink/replicator"
	"github.com/clusterlink/clusterlink/replicator/compare"
)

// This file is failback (Confluent's reverse-and-start, reverse-and-pause and truncate-and-restore) on a link with
// link.mode=BIDIRECTIONAL, see docs/failback.md. Such a link has a second runtime, its reverse (l.rev): a Link of
// its own whose source is the daemon's destination and whose destination is the link's source, stored under
// state.ReverseLink(name). A failback turns a STOPPED mirror of one side into a mirror of the other side, copying
// from the old source's log end where its log is a prefix of the new primary's (checked the way `mirror verify`
// compares), or after saving its divergent records and recreating it (truncate-and-restore). Each step is stored
// in the STOPPED mirror's record (state.Failback) before it runs, so a restarted daemon finishes it.

// Failback operations, as Confluent names them in the REST API.
const (
	OpReverseAndStart    = "reverse-and-start-mirror"
	OpReverseAndPause    = "reverse-and-pause-mirror"
	OpTruncateAndRestore = "truncate-and-restore"
)

// Steps of a failback, stored in state.Failback.Step.
const (
	stepSave     = "save"     // truncate-and-restore: saving the old source's divergent records
	stepRecreate = "recreate" // truncate-and-restore: deleting the old source's topic (by id)
	stepStart    = "start"    // the reversed mirror is stored and started; the STOPPED record is then removed
)

// Mirror statuses of a STOPPED mirror with a truncate-and-restore under way (Confluent's).
const (
	StatusPendingSetupForRestore replicator.Status = "PENDING_SETUP_FOR_RESTORE"
	StatusPendingRestore         replicator.Status = "PENDING_RESTORE"
)

// prefixCheckOffsets is how many offsets before the old source's log end reverse-and-start compares with the new
// primary, batch by batch (records where rewritten), as `mirror verify --sample` does.
const prefixCheckOffsets = 2000

// FailbackOptions are the options of the failback operations.
type FailbackOptions struct {
	// ValidateOnly (--dry-run) checks and reports what the operation would do, and changes nothing.
	ValidateOnly bool
}

// FailbackResult is what a failback found, and did or (ValidateOnly) would do.
type FailbackResult struct {
	Mirror Mirror
	// DivergedTopic is the topic the divergent records are saved to ("" when no partition diverged).
	DivergedTopic string
	Partitions    []PartitionFailback
}

// PartitionFailback is one partition of a failback.
type PartitionFailback struct {
	Partition int32
	// OldEnd and PrimaryEnd are the old source's and the new primary's high watermarks when checked.
	OldEnd, PrimaryEnd int64
	// Diverged: the old source's log is not a prefix of the new primary's.
	Diverged bool
	// TruncatedTo is where the old source's log stops matching (OldEnd when it is a prefix): the first offset
	// restored from the new primary; Divergent are the old source's committed records from there, saved.
	TruncatedTo, Divergent int64
	// Compared are the offsets the prefix check compared.
	Compared int64
}

// newReverse builds the runtime of the link's reversed mirrors: source the daemon's destination, destination the
// link's source (with the link's credentials, which link.mode=BIDIRECTIONAL says may write there).
func (l *Link) newReverse(o Options) *Link {
	r := New(Options{
		Name: state.ReverseLink(o.Name), ID: o.ID, Config: reverseConfig(o.Config), Destination: l.src, Store: o.Store,
		Logger: o.Logger, ReplicatorOpts: o.ReplicatorOpts, SourceClient: o.Destination, Group: reverseGroup(o.Group),
	})
	r.reversed = true
	return r
}

// reverseGroup is the group of the daemons running a link's reverse: a group of its own (the reverse's name), on
// the reverse's destination (the link's source), so that the daemons sharing a BIDIRECTIONAL link share and fence its
// reversed mirrors as they do its mirrors.
func reverseGroup(g *GroupOptions) *GroupOptions {
	if g == nil {
		return nil
	}
	r := *g
	r.ID = state.ReverseLink(g.ID) // = GroupID(state topic, state.ReverseLink(link))
	return &r
}

// reverseConfig is the config of a link's reverse: the link's, without what only the forward direction does.
func reverseConfig(c *config.Link) *config.Link {
	cfg := *c
	cfg.LinkMode = "DESTINATION"
	cfg.AutoCreateMirrorTopicsEnable = false
	cfg.ClusterLinkPrefix = "" // a reversed mirror keeps the names of the pair it reverses
	cfg.ConsumerGroupPrefixEnable = false
	// The reverse's ACL sync copies the destination's ACLs back to the source (never the guards: aclsync.IsGuard).
	// Topic names of ACLs are copied as they are: with a prefix they would be the destination's, not the source's.
	cfg.ACLSyncEnable = c.ACLSyncEnable && c.ClusterLinkPrefix == ""
	return &cfg
}

// holder is the link holding topic's mirror record: l, or the runtime of its reversed mirrors when only that has
// it, or when l's is STOPPED and the reverse's is not.
func (l *Link) holder(topic string) *Link {
	if l.rev == nil {
		return l
	}
	own, ok := l.storedMirror(topic)
	r, rok := l.rev.storedMirror(topic)
	switch {
	case !rok:
		return l
	case !ok:
		return l.rev
	case own.Status == replicator.StatusStopped && own.Failback == nil && r.Status != replicator.StatusStopped:
		return l.rev
	}
	return l
}

// failbackSides returns the side holding topic's record (x) and the other side (y), which will hold the reversed
// mirror. A record with a failback under way is preferred, then a STOPPED one.
func (l *Link) failbackSides(topic string) (x, y *Link, m state.Mirror, ok bool) {
	own, ownOK := l.storedMirror(topic)
	r, revOK := l.rev.storedMirror(topic)
	switch {
	case ownOK && (own.Failback != nil || !revOK || own.Status == replicator.StatusStopped && r.Failback == nil):
		return l, l.rev, own, true
	case revOK:
		return l.rev, l, r, true
	}
	return nil, nil, state.Mirror{}, false
}

// ReverseAndStart makes the old source's topic of a STOPPED mirror (promoted or failed over) a mirror of it,
// copying from the old source's log end: its log must be a prefix of the mirror's (checked). An ACTIVE mirror is
// promoted first.
func (l *Link) ReverseAndStart(ctx context.Context, topic string, o FailbackOptions) (FailbackResult, error) {
	return l.failback(ctx, topic, OpReverseAndStart, o)
}

// ReverseAndPause is ReverseAndStart leaving the reversed mirror PAUSED.
func (l *Link) ReverseAndPause(ctx context.Context, topic string, o FailbackOptions) (FailbackResult, error) {
	return l.failback(ctx, topic, OpReverseAndPause, o)
}

// TruncateAndRestore makes the old source's topic of a STOPPED mirror an exact mirror of it where the old source
// diverged (took writes the new primary never got): it saves the old source's divergent records to
// <topic>.diverged, deletes and recreates the topic, and copies it from the new primary. Where no partition
// diverged it is ReverseAndStart.
func (l *Link) TruncateAndRestore(ctx context.Context, topic string, o FailbackOptions) (FailbackResult, error) {
	return l.failback(ctx, topic, OpTruncateAndRestore, o)
}

func (l *Link) failback(ctx context.Context, topic, op string, o FailbackOptions) (FailbackResult, error) {
	if l.rev == nil {
		if cfg := l.config(); cfg != nil {
			return FailbackResult{}, conflict("link %s has link.mode=%s: %s needs link.mode=BIDIRECTIONAL, with source credentials that may create, write, delete and alter topics on the source cluster (see docs/failback.md)",
				l.name, cfg.LinkMode, op)
		}
		return FailbackResult{}, l.refuseBroken(op)
	}
	if l.config().ClusterLinkPaused && !o.ValidateOnly {
		return FailbackResult{}, conflict("link %s is paused (cluster.link.paused=true): nothing would copy the reversed mirror; unpause the link to fail back", l.name)
	}
	l.fbMu.Lock()
	defer l.fbMu.Unlock()
	x, y, m, ok := l.failbackSides(topic)
	if !ok {
		return FailbackResult{}, notFound("mirror topic %s on link %s not found", topic, l.name)
	}
	if m.Failback != nil {
		if m.Failback.Op != op {
			return FailbackResult{Mirror: x.mirrorView(m)}, conflict("mirror topic %s has a %s under way (step %s): run it again to finish it", topic, m.Failback.Op, m.Failback.Step)
		}
		if o.ValidateOnly {
			return failbackResultOf(x, m), nil
		}
		return x.finishFailback(ctx, y, m)
	}
	if m.Status != replicator.StatusStopped {
		if op == OpTruncateAndRestore {
			return FailbackResult{Mirror: x.mirrorView(m)}, conflict("mirror topic %s is %s: %s runs on a STOPPED mirror; promote or fail it over first", topic, m.Status, op)
		}
		if o.ValidateOnly {
			// It would be promoted first; the prefix check can only run once it is.
			view, err := x.Promote(ctx, topic, StopOptions{ValidateOnly: true})
			return FailbackResult{Mirror: view}, err
		}
		if _, err := x.Promote(ctx, topic, StopOptions{}); err != nil {
			return FailbackResult{}, fmt.Errorf("%s %s: promote first: %w", op, topic, err)
		}
		if m, ok = x.storedMirror(topic); !ok {
			return FailbackResult{}, notFound("mirror topic %s on link %s not found", topic, l.name)
		}
	}
	if other, exists := y.storedMirror(m.SourceTopic); exists {
		return FailbackResult{Mirror: x.mirrorView(m)}, conflict("topic %s is already a mirror topic (status %s) in the other direction", m.SourceTopic, other.Status)
	}
	if err := y.refuseBroken(op); err != nil {
		return FailbackResult{}, err
	}
	parts, err := x.checkPrefix(ctx, m, op == OpTruncateAndRestore)
	if err != nil {
		return FailbackResult{Mirror: x.mirrorView(m)}, refusal(fmt.Errorf("%s %s: %w", op, topic, err))
	}
	res := FailbackResult{Mirror: x.mirrorView(m), Partitions: parts}
	var diverged []string
	for _, p := range parts {
		if p.Diverged {
			diverged = append(diverged, fmt.Sprintf("%d (the old source ends at %d, the new primary at %d, they differ from %d)", p.Partition, p.OldEnd, p.PrimaryEnd, p.TruncatedTo))
		}
	}
	divergedTopic := m.SourceTopic + ".diverged"
	switch {
	case len(diverged) > 0 && op != OpTruncateAndRestore:
		return res, conflict("mirror topic %s: the old source's topic %s is not a prefix of this topic at partitions %s: reversing would hide its extra records; run `clusterlink mirror truncate-and-restore %s --link %s --dry-run` to see what would be saved, then without --dry-run to save them to %s and restore the topic",
			topic, m.SourceTopic, strings.Join(diverged, ", "), topic, l.name, divergedTopic)
	case len(diverged) > 0:
		if err := ValidateMirrorTopic(divergedTopic); err != nil {
			return res, fmt.Errorf("the topic of divergent records: %w", err)
		}
		res.DivergedTopic = divergedTopic
	}
	if o.ValidateOnly {
		return res, nil
	}
	fb := &state.Failback{Op: op, ID: newFailbackID(), Step: stepStart, Paused: op == OpReverseAndPause}
	if len(diverged) > 0 {
		id, exists, err := replicator.TopicID(ctx, x.srcAdm, m.SourceTopic)
		if err != nil {
			return res, err
		}
		if !exists {
			return res, conflict("topic %s disappeared from the old source during the check: run the operation again", m.SourceTopic)
		}
		fb.Step, fb.DivergedTopic, fb.OldTopicID = stepSave, divergedTopic, id.String()
		for _, p := range parts {
			fb.Partitions = append(fb.Partitions, state.Truncation{Partition: p.Partition, TruncatedTo: p.TruncatedTo, Messages: p.Divergent})
		}
	}
	if err := x.updateMirror(ctx, topic, func(r *state.Mirror) bool {
		r.Failback = fb
		m = *r
		return true
	}); err != nil {
		return res, err
	}
	x.log.Info("failback started", zap.String("mirror_topic", topic), zap.String("op", op), zap.String("old_source_topic", m.SourceTopic),
		zap.Int("partitions_diverged", len(diverged)))
	out, err := x.finishFailback(ctx, y, m)
	if err != nil {
		return res, err
	}
	out.Partitions = mergePartitions(parts, out.Partitions)
	return out, nil
}

// checkPrefix compares, partition by partition, the old source's topic (m.SourceTopic on x's source) with the new
// primary's (m.Topic on x's destination): the last prefixCheckOffsets offsets before the old source's end as
// `mirror verify` compares them; with full (truncate-and-restore), every retained offset, and the committed records
// as a read_committed consumer sees them, to find where the old source's divergent records start and count them.
func (x *Link) checkPrefix(ctx context.Context, m state.Mirror, full bool) ([]PartitionFailback, error) {
	pb, err := replicator.PartitionBounds(ctx, x.dstAdm, m.Topic)
	if err != nil {
		return nil, err
	}
	_, oldExists, err := replicator.TopicID(ctx, x.srcAdm, m.SourceTopic)
	if err != nil {
		return nil, err
	}
	var parts []PartitionFailback
	if !oldExists {
		for p := range int32(len(pb)) {
			parts = append(parts, PartitionFailback{Partition: p, PrimaryEnd: pb[p].End})
		}
		return parts, nil
	}
	ob, err := replicator.PartitionBounds(ctx, x.srcAdm, m.SourceTopic)
	if err != nil {
		return nil, err
	}
	if len(ob) > len(pb) {
		return nil, conflict("the old source's topic %s has %d partitions, more than %s (%d): it cannot mirror it", m.SourceTopic, len(ob), m.Topic, len(pb))
	}
	compacted, err := compare.IsCompacted(ctx, x.dstAdm, m.Topic)
	if err != nil {
		return nil, err
	}
	opts := compare.Options{FromOffset: -1, Sample: prefixCheckOffsets}
	if full {
		opts.Sample = 0
	}
	vs, err := compare.Topic(ctx, x.dst, x.src, m.Topic, m.SourceTopic, opts)
	if err != nil {
		return nil, fmt.Errorf("compare %s with the old source's %s: %w", m.Topic, m.SourceTopic, err)
	}
	for _, v := range vs {
		o := ob[v.Partition]
		p := PartitionFailback{Partition: v.Partition, OldEnd: v.MirrorEnd, PrimaryEnd: v.SourceEnd, TruncatedTo: v.MirrorEnd, Compared: v.Compared}
		if full && o.Stable < o.End {
			return nil, &replicator.ErrOpenTransaction{Topic: m.SourceTopic, Partition: v.Partition, LastStable: o.Stable, High: o.End}
		}
		d := p.OldEnd
		if v.Differing > 0 && v.FirstDifference >= 0 {
			d = min(d, v.FirstDifference)
		}
		if p.OldEnd > p.PrimaryEnd {
			d = min(d, p.PrimaryEnd)
		}
		if full {
			from, to := max(v.SourceStart, v.MirrorStart), min(v.SourceEnd, v.MirrorEnd)
			if from < to {
				c, err := replicator.FirstCommittedDifference(ctx, x.src, x.dst, m.SourceTopic, m.Topic, v.Partition, from, to, compacted)
				if err != nil {
					return nil, err
				}
				d = min(d, c)
			}
		}
		if d < p.OldEnd {
			p.Diverged, p.TruncatedTo = true, max(d, v.MirrorStart)
			if full {
				if p.Divergent, err = replicator.CountCommitted(ctx, x.src, m.SourceTopic, v.Partition, p.TruncatedTo, p.OldEnd); err != nil {
					return nil, err
				}
			}
		}
		parts = append(parts, p)
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i].Partition < parts[j].Partition })
	return parts, nil
}

// finishFailback carries a stored failback of x's mirror m through its remaining steps; y is the side that will
// hold the reversed mirror. fbMu is held.
func (x *Link) finishFailback(ctx context.Context, y *Link, m state.Mirror) (FailbackResult, error) {
	fb := *m.Failback
	log := x.log.With(zap.String("mirror_topic", m.Topic), zap.String("op", fb.Op), zap.String("old_source_topic", m.SourceTopic))
	if fb.Step == stepSave {
		partitions, err := x.saveDivergent(ctx, y, m, log)
		if err != nil {
			return failbackResultOf(x, m), refusal(err)
		}
		if err := x.updateMirror(ctx, m.Topic, func(r *state.Mirror) bool {
			r.Failback.Step, r.Failback.Partitions = stepRecreate, partitions
			m = *r
			return true
		}); err != nil {
			return failbackResultOf(x, m), err
		}
		fb = *m.Failback
	}
	if fb.Step == stepRecreate {
		cctx, cancel := context.WithTimeout(ctx, 2*x.requestTimeout())
		err := replicator.DeleteTopicWithID(cctx, x.srcAdm, m.SourceTopic, fb.OldTopicID)
		cancel()
		if err != nil {
			return failbackResultOf(x, m), fmt.Errorf("%s %s: delete the old source's topic %s: %w", fb.Op, m.Topic, m.SourceTopic, err)
		}
		log.Info("old source's topic deleted, to be recreated as a mirror", zap.String("topic_id", fb.OldTopicID))
		if err := x.updateMirror(ctx, m.Topic, func(r *state.Mirror) bool {
			r.Failback.Step = stepStart
			m = *r
			return true
		}); err != nil {
			return failbackResultOf(x, m), err
		}
		fb = *m.Failback
	}
	res := failbackResultOf(x, m)
	rec, err := x.startReversed(ctx, y, m, log)
	if err != nil {
		return res, err
	}
	// The pair now lives on the other side: the STOPPED record goes.
	x.recMu.Lock()
	err = x.store.DeleteMirror(ctx, x.name, m.Topic)
	x.recMu.Unlock()
	if err != nil {
		return res, err
	}
	x.mu.Lock()
	delete(x.final, m.Topic)
	delete(x.added, m.Topic)
	x.mu.Unlock()
	res.Mirror = y.mirrorView(rec)
	log.Info("failback done: the old source's topic is a mirror", zap.String("status", string(rec.Status)))
	return res, nil
}

// saveDivergent saves the old source's records beyond each partition's truncation point to the diverged topic,
// until the old source's end stays where it was saved to (a producer still writing there would otherwise lose
// records to the delete), and returns each partition's count of saved records.
func (x *Link) saveDivergent(ctx context.Context, y *Link, m state.Mirror, log *zap.Logger) ([]state.Truncation, error) {
	fb := m.Failback
	// Writers off the old topic where the old source has an authorizer: nothing lands between save and delete.
	if err := y.guard.protect(ctx, m.SourceTopic); err != nil {
		log.Warn("the old source's topic is not made read-only before its divergent records are saved", zap.Error(err))
	}
	from := map[int32]int64{}
	for _, t := range fb.Partitions {
		from[t.Partition] = t.TruncatedTo
	}
	var ends map[int32]int64
	for round := 0; ; round++ {
		bounds, err := replicator.PartitionBounds(ctx, x.srcAdm, m.SourceTopic)
		if err != nil {
			return nil, err
		}
		now := map[int32]int64{}
		for p, b := range bounds {
			if b.Stable < b.End {
				return nil, &replicator.ErrOpenTransaction{Topic: m.SourceTopic, Partition: p, LastStable: b.Stable, High: b.End}
			}
			now[p] = b.End
		}
		if ends != nil && fmt.Sprint(now) == fmt.Sprint(ends) {
			break
		}
		if round == 10 {
			return nil, conflict("the old source's topic %s keeps taking writes (its end moved during 10 rounds of saving): stop its producers, then run %s again", m.SourceTopic, fb.Op)
		}
		ends = now
		if _, err := replicator.SaveDiverged(ctx, x.src, m.SourceTopic, fb.DivergedTopic, fb.ID, int32(len(bounds)), from, ends, log); err != nil {
			return nil, err
		}
	}
	out := make([]state.Truncation, 0, len(fb.Partitions))
	for _, t := range fb.Partitions {
		n, err := replicator.CountCommitted(ctx, x.src, m.SourceTopic, t.Partition, t.TruncatedTo, ends[t.Partition])
		if err != nil {
			return nil, err
		}
		out = append(out, state.Truncation{Partition: t.Partition, TruncatedTo: t.TruncatedTo, Messages: n})
	}
	return out, nil
}

// startReversed stores and starts the reversed mirror on y (idempotent: a stored one is only started), after giving
// an existing old-source topic the mirror's configs, so the first batches copied are kept as they are.
func (x *Link) startReversed(ctx context.Context, y *Link, m state.Mirror, log *zap.Logger) (state.Mirror, error) {
	fb := m.Failback
	if rec, ok := y.storedMirror(m.SourceTopic); ok {
		if rec.SourceTopic != m.Topic {
			return rec, conflict("topic %s is a mirror of %s in the other direction, not of %s", m.SourceTopic, rec.SourceTopic, m.Topic)
		}
		if err := y.ensureAdded(ctx, rec); err != nil {
			log.Warn("reversed mirror stored, not started yet (retried by its link)", zap.Error(err))
		}
		return rec, nil
	}
	cctx, cancel := context.WithTimeout(ctx, y.requestTimeout())
	defer cancel()
	srcConfigs, err := y.rep.SourceTopicConfigs(cctx, m.Topic)
	if err != nil {
		return state.Mirror{}, err
	}
	if _, exists, err := replicator.TopicID(cctx, y.dstAdm, m.SourceTopic); err != nil {
		return state.Mirror{}, err
	} else if exists {
		res, err := y.rep.SyncTopicConfigsOf(cctx, []replicator.TopicPair{{Source: m.Topic, Mirror: m.SourceTopic}})
		if err == nil {
			err = res[m.SourceTopic].Err
		}
		if err != nil {
			return state.Mirror{}, fmt.Errorf("give %s the mirror's topic configs: %w", m.SourceTopic, err)
		}
	}
	status := replicator.StatusActive
	if fb.Paused {
		status = replicator.StatusPaused
	}
	rec := state.Mirror{Link: y.name, Topic: m.SourceTopic, SourceTopic: m.Topic, Origin: m.Origin, Status: status,
		StatusTimeMs: time.Now().UnixMilli(), SourceConfigs: srcConfigs}
	y.recMu.Lock()
	err = y.store.PutMirror(ctx, rec)
	y.recMu.Unlock()
	if err != nil {
		return state.Mirror{}, err
	}
	if err := y.ensureAdded(ctx, rec); err != nil {
		log.Warn("reversed mirror stored, not started yet (retried by its link)", zap.Error(err))
	}
	return rec, nil
}

// ensureAdded hands a stored mirror to the replicator unless it has it (the mirror loop may have been first).
func (l *Link) ensureAdded(ctx context.Context, m state.Mirror) error {
	l.mu.Lock()
	added := l.added[m.Topic]
	l.mu.Unlock()
	if added || l.rep == nil {
		return nil
	}
	err := l.addToReplicator(ctx, m)
	l.mu.Lock()
	added = l.added[m.Topic]
	l.mu.Unlock()
	if added {
		return nil
	}
	return err
}

// resumeFailbacks finishes the failbacks a previous run of the daemon left under way, on both sides.
func (l *Link) resumeFailbacks(ctx context.Context) error {
	for _, side := range []*Link{l, l.rev} {
		other := l.rev
		if side == l.rev {
			other = l
		}
		for _, m := range l.store.Mirrors(side.name) {
			if m.Failback == nil {
				continue
			}
			for ctx.Err() == nil {
				l.fbMu.Lock()
				cur, ok := side.storedMirror(m.Topic)
				var err error
				if ok && cur.Failback != nil {
					_, err = side.finishFailback(ctx, other, cur)
				}
				l.fbMu.Unlock()
				side.mu.Lock()
				if err == nil {
					delete(side.fbErrors, m.Topic)
				} else {
					side.fbErrors[m.Topic] = fmt.Sprintf("%s did not finish yet (retried every second): %v", m.Failback.Op, err)
				}
				side.mu.Unlock()
				if err == nil {
					break
				}
				l.log.Warn("finishing an interrupted failback", zap.String("mirror_topic", m.Topic), zap.Error(err))
				if sleep(ctx, time.Second) != nil {
					return nil
				}
			}
		}
	}
	return nil
}

// failbackResultOf is the result of a stored failback.
func failbackResultOf(x *Link, m state.Mirror) FailbackResult {
	res := FailbackResult{Mirror: x.mirrorView(m)}
	if m.Failback == nil {
		return res
	}
	res.DivergedTopic = m.Failback.DivergedTopic
	for _, t := range m.Failback.Partitions {
		res.Partitions = append(res.Partitions, PartitionFailback{Partition: t.Partition, Diverged: true,
			TruncatedTo: t.TruncatedTo, Divergent: t.Messages})
	}
	return res
}

// mergePartitions keeps the check's view of every partition, with the divergent counts the save found.
func mergePartitions(checked, stored []PartitionFailback) []PartitionFailback {
	byPartition := map[int32]PartitionFailback{}
	for _, p := range stored {
		byPartition[p.Partition] = p
	}
	for i, p := range checked {
		if s, ok := byPartition[p.Partition]; ok {
			checked[i].Divergent = s.Divergent
		}
	}
	return checked
}

// failbackStatus is the status shown for a STOPPED mirror with a failback under way.
func failbackStatus(m state.Mirror) (replicator.Status, bool) {
	if m.Failback == nil {
		return "", false
	}
	if m.Failback.Step == stepStart {
		return StatusPendingRestore, true
	}
	return StatusPendingSetupForRestore, true
}

// refusal makes an open transaction on the old source a refusal the caller can act on (wait, run again), not a
// failure of the daemon.
func refusal(err error) error {
	var open *replicator.ErrOpenTransaction
	if errors.As(err, &open) {
		return conflict("%v", err)
	}
	return err
}

func newFailbackID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return time.Now().UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}
