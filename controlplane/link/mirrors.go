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

	"github.com/clusterlink/clusterlink/replicator"
	"github.com/clusterlink/clusterlink/controlplane/state"
)

// ErrNotFound is returned for a mirror topic the link does not have.
var ErrNotFound = errors.New("not found")

// InvalidError is a mirror operation refused because of what the caller asked (not a failure of the clusters).
type InvalidError struct{ msg string }

func (e *InvalidError) Error() string { return e.msg }

func invalid(format string, args ...any) error {
	return &InvalidError{msg: fmt.Sprintf(format, args...)}
}

// Mirror is what the link shows of one mirror topic.
type Mirror struct {
	Topic, SourceTopic string
	NumPartitions      int32
	Status             string
	StatusTime         time.Time
	ErrorCode          string
	ErrorMessage       string
	Partitions         []replicator.PartitionStatus
}

// mirrorLoop hands stored mirrors to the replicator, auto-creates mirrors for matching source topics, and syncs
// topic configs, every topic.config.sync.ms (and at once).
func (l *Link) mirrorLoop(ctx context.Context) error {
	for {
		l.addStoredMirrors(ctx)
		if l.config().AutoCreateMirrorTopicsEnable {
			if err := l.autoCreate(ctx); err != nil && ctx.Err() == nil {
				l.setTask(TaskAutoCreateMirror, TaskInError, clientErrorCode(err), err.Error())
			} else if ctx.Err() == nil {
				l.setTask(TaskAutoCreateMirror, TaskActive, "", "")
			}
		}
		if err := l.syncTopicConfigs(ctx); err != nil && ctx.Err() == nil {
			l.setTask(TaskTopicConfigsSync, TaskInError, clientErrorCode(err), err.Error())
		} else if ctx.Err() == nil {
			l.setTask(TaskTopicConfigsSync, TaskActive, "", "")
		}
		if l.sleepOrChange(ctx, l.config().TopicConfigSyncInterval) != nil {
			return nil
		}
	}
}

func clientErrorCode(err error) string {
	switch {
	case errors.Is(err, kerr.TopicAuthorizationFailed), errors.Is(err, kerr.ClusterAuthorizationFailed):
		return "AUTHORIZATION_ERROR"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, kerr.RequestTimedOut):
		return "TIMEOUT_ERROR"
	}
	return "UNKNOWN_ERROR"
}

// addStoredMirrors gives the replicator every stored mirror that copies and is not given yet (at start, or when the
// source was not reachable before).
func (l *Link) addStoredMirrors(ctx context.Context) {
	for _, m := range l.store.Mirrors(l.name) {
		if m.Status == string(replicator.StatusStopped) {
			continue
		}
		l.mu.Lock()
		added := l.added[m.Topic]
		l.mu.Unlock()
		if added {
			continue
		}
		if err := l.addToReplicator(ctx, m); err != nil && ctx.Err() == nil {
			l.log.Warn("mirror not started yet", zap.String("mirror_topic", m.Topic), zap.Error(err))
		}
	}
}

func (l *Link) addToReplicator(ctx context.Context, m state.Mirror) error {
	cctx, cancel := context.WithTimeout(ctx, l.config().RequestTimeout)
	defer cancel()
	if hooks := l.mirrorHooks(); hooks.Protect != nil {
		// Read-only before the topic exists, so no producer can slip in; idempotent, so every start re-applies it.
		if err := hooks.Protect(cctx, m.Topic); err != nil {
			l.log.Warn("mirror topic not made read-only", zap.String("mirror_topic", m.Topic), zap.Error(err))
		}
	}
	err := l.rep.AddMirror(cctx, replicator.MirrorSpec{MirrorTopic: m.Topic, SourceTopic: m.SourceTopic,
		Paused: m.Status == string(replicator.StatusPaused)})
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		l.addErrors[m.Topic] = err.Error()
		return err
	}
	delete(l.addErrors, m.Topic)
	l.added[m.Topic] = true
	return nil
}

// isInternal says whether a source topic is internal to Kafka or its tools: it is mirrored only if a LITERAL filter
// names it.
func isInternal(topic string) bool {
	return strings.HasPrefix(topic, "__") || strings.HasPrefix(topic, "_confluent") || topic == "_schemas" ||
		strings.HasPrefix(topic, "_clusterlink")
}

func (l *Link) autoCreate(ctx context.Context) error {
	cctx, cancel := context.WithTimeout(ctx, l.config().RequestTimeout)
	defer cancel()
	topics, err := l.srcAdm.ListTopics(cctx)
	if err != nil {
		return fmt.Errorf("list source topics for auto-create: %w", err)
	}
	filters := l.config().AutoCreateMirrorTopicsFilters
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
		if err := l.createMirror(ctx, name, mirror, state.OriginAuto, false); err != nil {
			var inv *InvalidError
			if errors.As(err, &inv) {
				l.mu.Lock()
				first := !l.warned[mirror]
				l.warned[mirror] = true
				l.mu.Unlock()
				if first {
					l.log.Warn("source topic not auto-mirrored", zap.String("source_topic", name), zap.String("reason", err.Error()))
				}
				continue
			}
			return err
		}
	}
	return nil
}

// HasMirror reports whether topic is a mirror topic of the link (in any status).
func (l *Link) HasMirror(topic string) bool {
	_, ok := l.storedMirror(topic)
	return ok
}

func (l *Link) storedMirror(topic string) (state.Mirror, bool) {
	for _, m := range l.store.Mirrors(l.name) {
		if m.Topic == topic {
			return m, true
		}
	}
	return state.Mirror{}, false
}

// CreateMirror creates a mirror topic copying sourceTopic (default: mirrorTopic without cluster.link.prefix). The
// mirror topic must not exist on the destination.
func (l *Link) CreateMirror(ctx context.Context, sourceTopic, mirrorTopic string, validateOnly bool) error {
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
	l.opMu.Lock()
	defer l.opMu.Unlock()
	if m, ok := l.storedMirror(mirrorTopic); ok {
		return invalid("mirror topic %s already exists on link %s (status %s)", mirrorTopic, l.name, m.Status)
	}
	cctx, cancel := context.WithTimeout(ctx, l.config().RequestTimeout)
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
		return invalid("topic %s already exists on the destination and is not a mirror of link %s: a mirror topic must be new", mirrorTopic, l.name)
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
		Status: string(replicator.StatusActive), StatusTimeMs: time.Now().UnixMilli(), SourceConfigs: srcConfigs,
	}
	// Stored first: a crash after the topic exists but before the record would leave a topic no link owns.
	if err := l.store.PutMirror(ctx, rec); err != nil {
		return err
	}
	if err := l.addToReplicator(ctx, rec); err != nil {
		return fmt.Errorf("start mirror %s (it is stored and will be retried): %w", mirrorTopic, err)
	}
	l.log.Info("mirror created", zap.String("mirror_topic", mirrorTopic), zap.String("source_topic", sourceTopic),
		zap.String("origin", string(origin)))
	return nil
}

func (l *Link) syncTopicConfigs(ctx context.Context) error {
	var errs []error
	for _, m := range l.store.Mirrors(l.name) {
		l.mu.Lock()
		copying := l.added[m.Topic] && !l.promoting[m.Topic]
		l.mu.Unlock()
		if !copying || m.Status == string(replicator.StatusStopped) {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, l.config().RequestTimeout)
		changed, err := l.rep.SyncTopicConfigs(cctx, m.SourceTopic, m.Topic)
		if err == nil {
			var src map[string]string
			if src, err = l.rep.SourceTopicConfigs(cctx, m.SourceTopic); err == nil && !maps.Equal(src, m.SourceConfigs) {
				m.SourceConfigs = src
				err = l.store.PutMirror(cctx, m)
			}
		}
		cancel()
		if err != nil {
			errs = append(errs, fmt.Errorf("mirror %s: %w", m.Topic, err))
			continue
		}
		if len(changed) > 0 {
			l.log.Info("mirror topic configs synced", zap.String("mirror_topic", m.Topic), zap.Strings("changed", changed))
		}
	}
	return errors.Join(errs...)
}

// Mirrors returns the link's mirror topics with their status, sorted by topic.
func (l *Link) Mirrors() []Mirror {
	var out []Mirror
	for _, m := range l.store.Mirrors(l.name) {
		out = append(out, l.mirrorView(m))
	}
	return out
}

// Mirror returns one mirror topic.
func (l *Link) Mirror(topic string) (Mirror, error) {
	m, ok := l.storedMirror(topic)
	if !ok {
		return Mirror{}, fmt.Errorf("mirror topic %s on link %s: %w", topic, l.name, ErrNotFound)
	}
	return l.mirrorView(m), nil
}

func (l *Link) mirrorView(m state.Mirror) Mirror {
	v := Mirror{Topic: m.Topic, SourceTopic: m.SourceTopic, Status: m.Status, StatusTime: time.UnixMilli(m.StatusTimeMs),
		NumPartitions: m.Partitions}
	if rs, ok := l.rep.MirrorStatus(m.Topic); ok {
		v.Partitions = rs.Partitions
		v.NumPartitions = int32(len(rs.Partitions))
		if m.Status == string(replicator.StatusActive) {
			v.Status, v.StatusTime, v.ErrorCode, v.ErrorMessage = string(rs.Status), rs.StatusTime, rs.ErrorCode, rs.ErrorMessage
		}
	} else if m.Status != string(replicator.StatusStopped) {
		l.mu.Lock()
		msg := l.addErrors[m.Topic]
		l.mu.Unlock()
		v.Status = string(replicator.StatusPendingMirror)
		v.ErrorMessage = msg
	}
	if v.Status == string(replicator.StatusStopped) {
		return v
	}
	st, code, msg := l.State()
	switch st {
	case StatePaused:
		v.Status = StatusLinkPaused
	case StateSourceUnavailable:
		v.Status, v.ErrorCode, v.ErrorMessage = string(replicator.StatusSourceUnavailable), code, msg
	}
	return v
}

// Pause stops copying a mirror topic; it stays read-only and keeps its position.
func (l *Link) Pause(ctx context.Context, topic string, validateOnly bool) (Mirror, error) {
	return l.setPaused(ctx, topic, true, validateOnly)
}

// Resume copies a paused mirror topic again.
func (l *Link) Resume(ctx context.Context, topic string, validateOnly bool) (Mirror, error) {
	return l.setPaused(ctx, topic, false, validateOnly)
}

func (l *Link) setPaused(ctx context.Context, topic string, pause, validateOnly bool) (Mirror, error) {
	l.opMu.Lock()
	defer l.opMu.Unlock()
	m, ok := l.storedMirror(topic)
	if !ok {
		return Mirror{}, fmt.Errorf("mirror topic %s on link %s: %w", topic, l.name, ErrNotFound)
	}
	from, to := string(replicator.StatusActive), string(replicator.StatusPaused)
	if !pause {
		from, to = to, from
	}
	if m.Status == to {
		return l.mirrorView(m), nil
	}
	if m.Status != from {
		return l.mirrorView(m), invalid("mirror topic %s is %s, not %s", topic, m.Status, from)
	}
	if validateOnly {
		return l.mirrorView(m), nil
	}
	m.Status, m.StatusTimeMs = to, time.Now().UnixMilli()
	if err := l.store.PutMirror(ctx, m); err != nil {
		return Mirror{}, err
	}
	l.mu.Lock()
	added := l.added[topic]
	l.mu.Unlock()
	if added {
		var err error
		if pause {
			err = l.rep.PauseMirror(topic)
		} else {
			err = l.rep.ResumeMirror(topic)
		}
		if err != nil {
			return Mirror{}, err
		}
	}
	return l.mirrorView(m), nil
}

// Promote ends mirroring of a topic and makes it a normal writable topic: it waits until the mirror has copied
// every record the source had at the call, runs a last consumer offset sync for it, stops copying with nothing in
// flight, gives it the source topic's configs and removes its read-only guard. Failover does the same without
// waiting for (or needing) the source.
func (l *Link) Promote(ctx context.Context, topic string, validateOnly bool) (Mirror, error) {
	return l.stop(ctx, topic, opPromote, validateOnly)
}

// Failover stops mirroring at once and makes the topic writable, whatever its lag and whether the source answers.
func (l *Link) Failover(ctx context.Context, topic string, validateOnly bool) (Mirror, error) {
	return l.stop(ctx, topic, opFailover, validateOnly)
}

const (
	opPromote  = "promote"
	opFailover = "failover"
)

func (l *Link) stop(ctx context.Context, topic, op string, validateOnly bool) (Mirror, error) {
	l.opMu.Lock()
	m, ok := l.storedMirror(topic)
	if !ok {
		l.opMu.Unlock()
		return Mirror{}, fmt.Errorf("mirror topic %s on link %s: %w", topic, l.name, ErrNotFound)
	}
	view := l.mirrorView(m)
	var refuse error
	switch {
	case m.Status == string(replicator.StatusStopped):
		refuse = invalid("mirror topic %s is already STOPPED", topic)
	case m.Status == string(replicator.StatusPendingStopped):
		refuse = invalid("mirror topic %s is already PENDING_STOPPED (a %s is running)", topic, m.PendingOp)
	case op == opPromote && m.Status == string(replicator.StatusPaused):
		refuse = invalid("mirror topic %s is PAUSED: resume it before promote, or fail over", topic)
	case op == opPromote && l.config().ClusterLinkPaused:
		refuse = invalid("link %s is paused: promote needs the source; unpause the link or fail over", l.name)
	case op == opPromote && view.Status == string(replicator.StatusFailed):
		refuse = invalid("mirror topic %s is FAILED (%s: %s): promote cannot reach lag 0; fail over instead", topic, view.ErrorCode, view.ErrorMessage)
	case op == opPromote && view.Status == string(replicator.StatusSourceUnavailable):
		refuse = invalid("the source of mirror topic %s is unavailable: promote cannot reach lag 0; fail over instead", topic)
	}
	if refuse != nil || validateOnly {
		l.opMu.Unlock()
		return view, refuse
	}
	m.Status, m.StatusTimeMs, m.PendingOp = string(replicator.StatusPendingStopped), time.Now().UnixMilli(), op
	if err := l.store.PutMirror(ctx, m); err != nil {
		l.opMu.Unlock()
		return view, err
	}
	l.mu.Lock()
	l.promoting[topic] = true
	l.mu.Unlock()
	l.opMu.Unlock()

	err := l.finishStop(ctx, m)
	l.mu.Lock()
	delete(l.promoting, topic)
	l.mu.Unlock()
	if err != nil && op == opPromote {
		// Back to copying: the promote can be tried again.
		m.Status, m.StatusTimeMs, m.PendingOp = string(replicator.StatusActive), time.Now().UnixMilli(), ""
		if perr := l.store.PutMirror(context.WithoutCancel(ctx), m); perr != nil {
			err = errors.Join(err, perr)
		}
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
		hwm, err := l.rep.WaitForSourceHighWatermark(ctx, m.Topic)
		if err != nil {
			return fmt.Errorf("promote %s: %w", m.Topic, err)
		}
		log.Info("mirror reached the source high watermark", zap.Any("high_watermarks", hwm))
	}
	if hooks := l.mirrorHooks(); hooks.FinalOffsetSync != nil {
		sctx, cancel := context.WithTimeout(ctx, l.config().RequestTimeout)
		err := hooks.FinalOffsetSync(sctx, m.SourceTopic, m.Topic)
		cancel()
		if err != nil {
			if m.PendingOp == opPromote {
				return fmt.Errorf("promote %s: last consumer offset sync: %w", m.Topic, err)
			}
			log.Warn("failover without a last consumer offset sync", zap.Error(err))
		}
	}
	l.snapshotPartitions(m.Topic)
	if ps, ok := l.lastPartitions(m.Topic); ok {
		m.Partitions = int32(len(ps))
	}
	if err := l.rep.StopMirror(ctx, m.Topic); err != nil {
		return err
	}
	srcConfigs := m.SourceConfigs
	if m.PendingOp == opPromote {
		cctx, cancel := context.WithTimeout(ctx, l.config().RequestTimeout)
		if fresh, err := l.rep.SourceTopicConfigs(cctx, m.SourceTopic); err == nil {
			srcConfigs = fresh
		}
		cancel()
	}
	cctx, cancel := context.WithTimeout(ctx, l.config().RequestTimeout)
	defer cancel()
	if err := l.rep.RestoreTopicConfigs(cctx, m.Topic, srcConfigs); err != nil {
		return fmt.Errorf("%s %s: restore the topic configs: %w", m.PendingOp, m.Topic, err)
	}
	if hooks := l.mirrorHooks(); hooks.Unprotect != nil {
		if err := hooks.Unprotect(cctx, m.Topic); err != nil {
			return fmt.Errorf("%s %s: remove the read-only ACL: %w", m.PendingOp, m.Topic, err)
		}
	}
	m.Status, m.StatusTimeMs, m.PendingOp = string(replicator.StatusStopped), time.Now().UnixMilli(), ""
	if err := l.store.PutMirror(ctx, m); err != nil {
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
		if sleep(ctx, l.config().RetryBackoff*10) != nil {
			return
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

// SyncedMirrors returns the mirror topics whose consumer offsets are still synced: every stored mirror that is
// neither stopped nor being stopped, as source and mirror topic names.
func (l *Link) SyncedMirrors() [][2]string {
	var out [][2]string
	for _, m := range l.store.Mirrors(l.name) {
		if m.Status == string(replicator.StatusStopped) || m.Status == string(replicator.StatusPendingStopped) {
			continue
		}
		out = append(out, [2]string{m.SourceTopic, m.Topic})
	}
	return out
}

// Delete forgets the link's mirrors: copying ones are stopped (their topics stay, as they are). Without force it
// refuses while a mirror is not STOPPED.
func (l *Link) CheckDelete(force bool) error {
	if force {
		return nil
	}
	var active []string
	for _, m := range l.store.Mirrors(l.name) {
		if m.Status != string(replicator.StatusStopped) {
			active = append(active, m.Topic)
		}
	}
	if len(active) > 0 {
		return invalid("link %s still has mirror topics that are not STOPPED (%s): promote or fail them over first, or delete with force", l.name, strings.Join(active, ", "))
	}
	return nil
}
