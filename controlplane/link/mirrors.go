package link

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"go.uber.org/zap"

	"github.com/clusterlink/clusterlink/controlplane/state"
	"github.com/clusterlink/clusterlink/replicator"
)

// This file is the link's mirror topics: handing stored mirrors to the replicator, creating mirrors (by request
// and by auto-create), following the source's topic configs, and what a mirror looks like from outside.

// StatusLinkFailed is the status of a mirror of a FAILED link that would otherwise copy: nothing is copied.
const StatusLinkFailed replicator.Status = "LINK_FAILED"

// Mirror is what the link shows of one mirror topic.
type Mirror struct {
	Topic, SourceTopic string
	NumPartitions      int32
	Status             replicator.Status
	StatusTime         time.Time
	ErrorCode          string
	ErrorMessage       string
	Partitions         []replicator.PartitionStatus
	// Reversed: the mirror topic is on the link's source cluster and copies the destination (see failback.go).
	Reversed bool
}

// defaultRequestTimeout bounds requests of a broken link (it has no config to read request.timeout.ms from).
const defaultRequestTimeout = 30 * time.Second

func (l *Link) requestTimeout() time.Duration {
	if cfg := l.config(); cfg != nil {
		return cfg.RequestTimeout
	}
	return defaultRequestTimeout
}

// mirrorLoop hands stored mirrors to the replicator, auto-creates mirrors for matching source topics, and syncs
// topic configs, every topic.config.sync.ms (and at once).
func (l *Link) mirrorLoop(ctx context.Context) error {
	for {
		l.addStoredMirrors(ctx)
		// In a group of daemons only the one holding the loops unit auto-creates and syncs configs (shared.go).
		if l.config().AutoCreateMirrorTopicsEnable && l.runsLinkLoops() {
			if err := l.autoCreate(ctx); ctx.Err() == nil {
				l.autoCreateTask.Record(err)
			}
		}
		if l.runsLinkLoops() {
			if err := l.syncTopicConfigs(ctx); ctx.Err() == nil {
				l.configSyncTask.Record(err)
			}
		}
		if l.sleepOrChange(ctx, l.config().TopicConfigSyncInterval) != nil {
			return nil
		}
	}
}

// addStoredMirrors gives the replicator every stored mirror that copies and is not given yet (at start, or when the
// source was not reachable before), all in one batch.
func (l *Link) addStoredMirrors(ctx context.Context) {
	var todo []state.Mirror
	for _, m := range l.store.Mirrors(l.name) {
		if m.Status == replicator.StatusStopped {
			continue
		}
		if m.Status == replicator.StatusPendingStopped && !l.holdsStateWriter() {
			continue // the writer finishes its stop alone (statewriter.go)
		}
		l.mu.Lock()
		added := l.added[m.Topic]
		l.mu.Unlock()
		if !added {
			todo = append(todo, m)
		}
	}
	for topic, err := range l.addAllToReplicator(ctx, todo) {
		if err != nil && ctx.Err() == nil {
			l.log.Warn("mirror not started yet", zap.String("mirror_topic", topic), zap.Error(err))
		}
	}
}

func (l *Link) addToReplicator(ctx context.Context, m state.Mirror) error {
	return l.addAllToReplicator(ctx, []state.Mirror{m})[m.Topic]
}

// addAllToReplicator starts mirrors in the replicator, with one batch of requests for all (see
// replicator.AddMirrors), and returns each mirror topic's error.
func (l *Link) addAllToReplicator(ctx context.Context, ms []state.Mirror) map[string]error {
	if len(ms) == 0 {
		return nil
	}
	cctx, cancel := context.WithTimeout(ctx, l.requestTimeout())
	defer cancel()
	specs := make([]replicator.MirrorSpec, len(ms))
	for i, m := range ms {
		// Read-only before the topic exists, so no producer can slip in; idempotent, so every start re-applies it.
		if err := l.guard.protect(cctx, m.Topic); err != nil {
			l.log.Warn("mirror topic not made read-only", zap.String("mirror_topic", m.Topic), zap.Error(err))
		}
		specs[i] = replicator.MirrorSpec{MirrorTopic: m.Topic, SourceTopic: m.SourceTopic,
			Paused: m.Status == replicator.StatusPaused, Failed: failuresOf(m)}
	}
	errs := l.rep.AddMirrors(cctx, specs)
	l.mu.Lock()
	defer l.mu.Unlock()
	for topic, err := range errs {
		if err != nil {
			l.addErrors[topic] = err.Error()
			continue
		}
		delete(l.addErrors, topic)
		l.added[topic] = true
	}
	return errs
}

// isInternal says whether a source topic is internal to Kafka or its tools: it is mirrored only if a LITERAL filter
// names it.
func isInternal(topic string) bool {
	return strings.HasPrefix(topic, "__") || strings.HasPrefix(topic, "_confluent") || topic == "_schemas" ||
		strings.HasPrefix(topic, "_clusterlink")
}

func (l *Link) autoCreate(ctx context.Context) error {
	cctx, cancel := context.WithTimeout(ctx, l.requestTimeout())
	defer cancel()
	topics, err := l.srcAdm.ListTopics(cctx)
	if err != nil {
		return fmt.Errorf("list source topics for auto-create: %w", err)
	}
	filters := l.config().AutoCreateMirrorTopicsFilters
	var pairs []mirrorPair
	for _, name := range topics.Names() {
		if !filters.Match(name) {
			continue
		}
		if isInternal(name) && !filters.NamesLiterally(name) {
			continue
		}
		mirror := l.config().ClusterLinkPrefix + name
		if _, ok := l.storedMirror(mirror); ok {
			continue // already a mirror, or promoted: never recreated
		}
		pairs = append(pairs, mirrorPair{source: name, mirror: mirror})
	}
	// New topics are created in batches: a constant number of requests per batch, not per topic.
	const batch = 100
	for i := 0; i < len(pairs); i += batch {
		chunk := pairs[i:min(i+batch, len(pairs))]
		errs := l.createMirrors(ctx, chunk, state.OriginAuto)
		for _, pr := range chunk {
			err := errs[pr.mirror]
			if err == nil {
				continue
			}
			if _, exists := l.storedMirror(pr.mirror); exists && IsConflict(err) {
				continue // created meanwhile (the daemon file's mirrors, an API call): nothing to report
			}
			if IsInvalid(err) || IsConflict(err) {
				l.mu.Lock()
				first := !l.warned[pr.mirror]
				l.warned[pr.mirror] = true
				l.mu.Unlock()
				if first {
					l.log.Warn("source topic not auto-mirrored", zap.String("source_topic", pr.source), zap.String("reason", err.Error()))
				}
				continue
			}
			return err
		}
	}
	return nil
}

// mirrorPair is a source topic and the mirror topic to create for it.
type mirrorPair struct{ source, mirror string }

// createMirrors creates many mirrors as createMirror creates one, with a constant number of requests for the batch
// (the records are stored in one write, before their topics are created), and returns each mirror topic's error.
func (l *Link) createMirrors(ctx context.Context, pairs []mirrorPair, origin state.Origin) map[string]error {
	errs := map[string]error{}
	l.opMu.Lock()
	defer l.opMu.Unlock()
	var todo []mirrorPair
	for _, pr := range pairs {
		if err := ValidateMirrorTopic(pr.mirror); err != nil {
			errs[pr.mirror] = err
		} else if m, ok := l.storedMirror(pr.mirror); ok {
			errs[pr.mirror] = conflict("mirror topic %s already exists on link %s (status %s)", pr.mirror, l.name, m.Status)
		} else {
			todo = append(todo, pr)
		}
	}
	if len(todo) == 0 {
		return errs
	}
	cctx, cancel := context.WithTimeout(ctx, l.requestTimeout())
	defer cancel()
	sources, mirrors := make([]string, len(todo)), make([]string, len(todo))
	for i, pr := range todo {
		sources[i], mirrors[i] = pr.source, pr.mirror
	}
	fail := func(err error) map[string]error {
		for _, pr := range todo {
			errs[pr.mirror] = err
		}
		return errs
	}
	dstTopics, err := l.dstAdm.ListTopics(cctx, mirrors...)
	if err != nil {
		return fail(fmt.Errorf("look up destination topics: %w", err))
	}
	srcConfigs, srcErrs := l.rep.SourceTopicConfigsOf(cctx, sources)
	var recs []state.Mirror
	for _, pr := range todo {
		if d, ok := dstTopics[pr.mirror]; ok && d.Err == nil {
			errs[pr.mirror] = conflict("topic %s already exists on the destination and is not a mirror of link %s: a mirror topic must be new", pr.mirror, l.name)
			continue
		}
		configs, ok := srcConfigs[pr.source]
		if !ok {
			if errors.Is(srcErrs[pr.source], kerr.UnknownTopicOrPartition) {
				errs[pr.mirror] = invalid("source topic %s does not exist on the source cluster", pr.source)
			} else {
				errs[pr.mirror] = srcErrs[pr.source]
			}
			continue
		}
		recs = append(recs, state.Mirror{
			Link: l.name, Topic: pr.mirror, SourceTopic: pr.source, Origin: origin,
			Status: replicator.StatusActive, StatusTimeMs: time.Now().UnixMilli(), SourceConfigs: configs,
		})
	}
	// Stored first, in one write: a crash after the topic exists but before the record would leave a topic no link
	// owns.
	var b state.Batch
	for _, rec := range recs {
		b.PutMirror(rec)
	}
	l.recMu.Lock()
	err = l.store.Write(ctx, &b)
	l.recMu.Unlock()
	if err != nil {
		for _, rec := range recs {
			errs[rec.Topic] = err
		}
		recs = nil
	}
	for topic, err := range l.addAllToReplicator(ctx, recs) {
		if err != nil {
			errs[topic] = fmt.Errorf("start mirror %s (it is stored and will be retried): %w", topic, err)
			continue
		}
		errs[topic] = nil
	}
	for _, rec := range recs {
		if errs[rec.Topic] == nil {
			l.log.Info("mirror created", zap.String("mirror_topic", rec.Topic), zap.String("source_topic", rec.SourceTopic),
				zap.String("origin", string(origin)))
		}
	}
	return errs
}

// HasMirror reports whether topic is a mirror topic of the link (in any status).
func (l *Link) HasMirror(topic string) bool {
	_, ok := l.storedMirror(topic)
	return ok
}

func (l *Link) storedMirror(topic string) (state.Mirror, bool) {
	return l.store.Mirror(l.name, topic)
}

// updateMirror changes a stored mirror record: change gets the record as stored now and says whether to write it
// back. Every write of a mirror record of a link goes through here, so that two changes never undo each other.
func (l *Link) updateMirror(ctx context.Context, topic string, change func(*state.Mirror) bool) error {
	l.recMu.Lock()
	defer l.recMu.Unlock()
	m, ok := l.storedMirror(topic)
	if !ok {
		return notFound("mirror topic %s on link %s not found", topic, l.name)
	}
	if !change(&m) {
		return nil
	}
	return l.store.PutMirror(ctx, m)
}

// ValidateMirrorTopic checks a mirror topic's name against Kafka's limits: 1 to 249 of [A-Za-z0-9._-], not "." or
// "..".
func ValidateMirrorTopic(name string) error {
	switch {
	case name == "" || name == "." || name == "..":
		return invalid("%q is not a topic name", name)
	case len(name) > 249:
		return invalid("mirror topic name %s... is %d characters: Kafka's limit is 249 (with the link's cluster.link.prefix)", name[:40], len(name))
	}
	for _, c := range []byte(name) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return invalid("%q is not a topic name: use [A-Za-z0-9._-]", name)
		}
	}
	return nil
}

// CreateMirror creates a mirror topic copying sourceTopic (default: mirrorTopic without cluster.link.prefix). The
// mirror topic must not exist on the destination.
func (l *Link) CreateMirror(ctx context.Context, sourceTopic, mirrorTopic string, validateOnly bool) error {
	if err := l.refuseBroken("create mirrors"); err != nil {
		return err
	}
	prefix := l.config().ClusterLinkPrefix
	switch {
	case mirrorTopic == "" && sourceTopic == "":
		return invalid("name the mirror topic or its source topic")
	case mirrorTopic == "":
		mirrorTopic = prefix + sourceTopic
	case sourceTopic == "":
		if !strings.HasPrefix(mirrorTopic, prefix) {
			return invalid("mirror topic %s must start with the link's cluster.link.prefix %q", mirrorTopic, prefix)
		}
		sourceTopic = strings.TrimPrefix(mirrorTopic, prefix)
	}
	if l.config().ClusterLinkPaused {
		return invalid("link %s is paused (cluster.link.paused=true): unpause it to create mirrors", l.name)
	}
	return l.createMirror(ctx, sourceTopic, mirrorTopic, state.OriginAPI, validateOnly)
}

func (l *Link) createMirror(ctx context.Context, sourceTopic, mirrorTopic string, origin state.Origin, validateOnly bool) error {
	if err := ValidateMirrorTopic(mirrorTopic); err != nil {
		return err
	}
	l.opMu.Lock()
	defer l.opMu.Unlock()
	if m, ok := l.storedMirror(mirrorTopic); ok {
		return conflict("mirror topic %s already exists on link %s (status %s)", mirrorTopic, l.name, m.Status)
	}
	cctx, cancel := context.WithTimeout(ctx, l.requestTimeout())
	defer cancel()
	srcTopics, err := l.srcAdm.ListTopics(cctx, sourceTopic)
	if err != nil {
		return fmt.Errorf("look up source topic %s: %w", sourceTopic, err)
	}
	if d, ok := srcTopics[sourceTopic]; !ok || d.Err != nil {
		return invalid("source topic %s does not exist on the source cluster", sourceTopic)
	}
	dstTopics, err := l.dstAdm.ListTopics(cctx, mirrorTopic)
	if err != nil {
		return fmt.Errorf("look up destination topic %s: %w", mirrorTopic, err)
	}
	if d, ok := dstTopics[mirrorTopic]; ok && d.Err == nil {
		return conflict("topic %s already exists on the destination and is not a mirror of link %s: a mirror topic must be new", mirrorTopic, l.name)
	}
	if validateOnly {
		return nil
	}
	srcConfigs, err := l.rep.SourceTopicConfigs(cctx, sourceTopic)
	if err != nil {
		return err
	}
	rec := state.Mirror{
		Link: l.name, Topic: mirrorTopic, SourceTopic: sourceTopic, Origin: origin,
		Status: replicator.StatusActive, StatusTimeMs: time.Now().UnixMilli(), SourceConfigs: srcConfigs,
	}
	// Stored first: a crash after the topic exists but before the record would leave a topic no link owns.
	l.recMu.Lock()
	err = l.store.PutMirror(ctx, rec)
	l.recMu.Unlock()
	if err != nil {
		return err
	}
	// ensureAdded: the mirror loop may hand the stored record to the replicator first.
	if err := l.ensureAdded(ctx, rec); err != nil {
		return fmt.Errorf("start mirror %s (it is stored and will be retried): %w", mirrorTopic, err)
	}
	l.log.Info("mirror created", zap.String("mirror_topic", mirrorTopic), zap.String("source_topic", sourceTopic),
		zap.String("origin", string(origin)))
	return nil
}

// syncTopicConfigs gives every copying mirror its source's topic configs, all mirrors in a constant number of
// requests, and stores the source configs a failover restores.
func (l *Link) syncTopicConfigs(ctx context.Context) error {
	var pairs []replicator.TopicPair
	stored := map[string]state.Mirror{}
	for _, m := range l.store.Mirrors(l.name) {
		l.mu.Lock()
		copying := l.added[m.Topic] && !l.promoting[m.Topic]
		l.mu.Unlock()
		if !copying || m.Status == replicator.StatusStopped {
			continue
		}
		pairs = append(pairs, replicator.TopicPair{Source: m.SourceTopic, Mirror: m.Topic})
		stored[m.Topic] = m
	}
	cctx, cancel := context.WithTimeout(ctx, l.requestTimeout())
	defer cancel()
	results, err := l.rep.SyncTopicConfigsOf(cctx, pairs)
	if err != nil {
		return err
	}
	var errs []error
	for _, p := range pairs {
		res := results[p.Mirror]
		err := res.Err
		if err == nil && !maps.Equal(res.Source, stored[p.Mirror].SourceConfigs) {
			err = l.updateMirror(cctx, p.Mirror, func(m *state.Mirror) bool {
				m.SourceConfigs = res.Source
				return m.Status != replicator.StatusStopped
			})
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("mirror %s: %w", p.Mirror, err))
			continue
		}
		if len(res.Changed) > 0 {
			l.log.Info("mirror topic configs synced", zap.String("mirror_topic", p.Mirror), zap.Strings("changed", res.Changed))
		}
	}
	return errors.Join(errs...)
}

// Mirrors returns the link's mirror topics with their status, sorted by topic, then its reversed mirrors.
func (l *Link) Mirrors() []Mirror {
	var out []Mirror
	for _, m := range l.store.Mirrors(l.name) {
		out = append(out, l.mirrorView(m))
	}
	if l.rev != nil {
		out = append(out, l.rev.Mirrors()...)
	}
	return out
}

// Mirror returns one mirror topic.
func (l *Link) Mirror(topic string) (Mirror, error) {
	if h := l.holder(topic); h != l {
		return h.Mirror(topic)
	}
	m, ok := l.storedMirror(topic)
	if !ok {
		return Mirror{}, notFound("mirror topic %s on link %s not found", topic, l.name)
	}
	return l.mirrorView(m), nil
}

func (l *Link) mirrorView(m state.Mirror) Mirror {
	v := Mirror{Topic: m.Topic, SourceTopic: m.SourceTopic, Status: m.Status, StatusTime: time.UnixMilli(m.StatusTimeMs),
		NumPartitions: m.Partitions, Reversed: l.reversed}
	if len(m.Failures) > 0 && m.Status != replicator.StatusStopped {
		v.Status, v.ErrorCode, v.ErrorMessage = replicator.StatusFailed, m.Failures[0].Code, m.Failures[0].Message
	}
	if l.rep == nil { // a broken link copies nothing
		if v.Status == replicator.StatusActive {
			_, code, msg := l.State()
			v.Status, v.ErrorCode, v.ErrorMessage = StatusLinkFailed, code, msg
		}
		return v
	}
	if rs, ok := l.rep.MirrorStatus(m.Topic); ok {
		v.NumPartitions = int32(len(rs.Partitions))
		if m.Status == replicator.StatusActive {
			v.Status, v.StatusTime, v.ErrorCode, v.ErrorMessage = rs.Status, rs.StatusTime, rs.ErrorCode, rs.ErrorMessage
		}
		v.Partitions = l.sharedPartitions(&v, rs.Partitions)
	} else if m.Status != replicator.StatusStopped && v.Status != replicator.StatusFailed {
		l.mu.Lock()
		msg := l.addErrors[m.Topic]
		l.mu.Unlock()
		v.Status = replicator.StatusPendingMirror
		v.ErrorMessage = msg
	}
	if v.Status == replicator.StatusStopped {
		if s, ok := failbackStatus(m); ok {
			l.mu.Lock()
			v.Status, v.ErrorMessage = s, l.fbErrors[m.Topic]
			l.mu.Unlock()
		}
		return v
	}
	st, code, msg := l.State()
	switch st {
	case StatePaused:
		v.Status = StatusLinkPaused
	case StateSourceUnavailable:
		v.Status, v.ErrorCode, v.ErrorMessage = replicator.StatusSourceUnavailable, code, msg
	}
	return v
}

// CheckDelete says whether the link may be deleted: without force it refuses while a mirror is not STOPPED.
func (l *Link) CheckDelete(force bool) error {
	if force {
		return nil
	}
	var active []string
	names := []string{l.name}
	if l.rev != nil {
		names = append(names, l.rev.name) // its reversed mirrors are deleted with it
	}
	for _, n := range names {
		for _, m := range l.store.Mirrors(n) {
			if m.Status != replicator.StatusStopped || m.Failback != nil {
				active = append(active, m.Topic)
			}
		}
	}
	if len(active) > 0 {
		return conflict("link %s still has mirror topics that are not STOPPED (%s): promote or fail them over first, or delete with force", l.name, strings.Join(active, ", "))
	}
	return nil
}

// refuseBroken refuses an operation that needs the source on a FAILED link.
func (l *Link) refuseBroken(what string) error {
	if l.broken == nil {
		return nil
	}
	return conflict("link %s is FAILED (%v): it cannot %s until its configs are fixed (`clusterlink link configuration update`, or the daemon's config file); its mirrors can fail over", l.name, l.broken, what)
}
