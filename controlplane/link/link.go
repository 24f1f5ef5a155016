// Package link runs one cluster link: the replicator that copies its mirror topics, and the link's loops (mirror
// topic auto-creation, topic config sync, source availability check, consumer offset sync, ACL sync), each a task
// with a state. It carries out the mirror operations (create, pause, resume, promote, failover) and records every
// change in the state store, so a restarted daemon continues where it stopped. It does not parse configs or serve
// the admin API.
package link

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/clusterlink/clusterlink/config"
	"github.com/clusterlink/clusterlink/replicator"
	"github.com/clusterlink/clusterlink/controlplane/state"
)

// Link states (api.Link.LinkState).
const (
	StateActive            = "ACTIVE"
	StatePaused            = "PAUSED"
	StateSourceUnavailable = "SOURCE_UNAVAILABLE"
)

// Mirror statuses the link adds to the replicator's.
const (
	StatusLinkPaused = "LINK_PAUSED"
)

// Task names, as `link describe` shows them.
const (
	TaskAutoCreateMirror   = "AutoCreateMirror"
	TaskTopicConfigsSync   = "TopicConfigsSync"
	TaskAvailabilityCheck  = "AvailabilityCheck"
	TaskConsumerOffsetSync = "ConsumerOffsetSync"
	TaskACLSync            = "AclSync"
)

// Task states.
const (
	TaskActive        = "ACTIVE"
	TaskInError       = "IN_ERROR"
	TaskNotConfigured = "NOT_CONFIGURED"
	TaskLinkPaused    = "LINK_PAUSED"
)

// TaskStatus is one task's state.
type TaskStatus struct {
	Name         string
	State        string
	ErrorCode    string
	ErrorMessage string
}

// Syncer is a loop the link runs besides copying (consumer offset sync, ACL sync): the daemon builds them, the link
// starts and stops them with itself.
type Syncer interface {
	Run(ctx context.Context) error
	// Task reports the loop's state.
	Task() TaskStatus
}

// MirrorHooks are what a mirror's lifecycle needs from the other loops: a last consumer offset sync before promote,
// and the read-only guard of the mirror topic. Any of them may be nil.
type MirrorHooks struct {
	// FinalOffsetSync copies the committed offsets of one mirror topic a last time, before it is promoted.
	FinalOffsetSync func(ctx context.Context, sourceTopic, mirrorTopic string) error
	// Protect makes a mirror topic read-only for everyone but the link; Unprotect undoes it at promote.
	Protect, Unprotect func(ctx context.Context, mirrorTopic string) error
}

// Options build a Link.
type Options struct {
	Name   string
	ID     string
	Config *config.Link
	// Destination is the daemon's destination client, shared by its links; DestinationID is its cluster id.
	Destination   *kgo.Client
	DestinationID string
	Store         *state.Store
	Logger        *zap.Logger
	// Syncers are built by the daemon from the config (offset sync, ACL sync); Hooks let promote use them.
	Syncers []Syncer
	Hooks   MirrorHooks
	// ReplicatorOpts are appended to those the link derives from its config (tests shorten intervals with them).
	ReplicatorOpts []replicator.Opt
}

// Link is one running cluster link.
type Link struct {
	name, id string
	cfg      atomic.Pointer[config.Link] // replaced by Reconfigure
	dst      *kgo.Client
	dstID    string
	dstAdm   *kadm.Client
	store    *state.Store
	log      *zap.Logger

	// syncMu serialises Reconfigure with the start and stop of the syncers. syncers and hooks are guarded by mu.
	syncMu   sync.Mutex
	syncers  []Syncer
	hooks    MirrorHooks
	runCtx   context.Context    // Run's context, once Run started
	syncStop context.CancelFunc // stops the running syncers
	syncDone chan struct{}      // closed once they stopped
	changed  chan struct{}      // closed (and replaced) by Reconfigure: the loops look at the config again

	src    *kgo.Client
	srcAdm *kadm.Client
	rep    *replicator.Replicator

	mu        sync.Mutex
	srcID     string
	tasks     map[string]TaskStatus
	unavail   bool                                    // the availability check failed threshold times in a row
	failures  int                                     // consecutive availability check failures
	added     map[string]bool                         // mirror topics handed to the replicator
	addErrors map[string]string                       // why a stored mirror is not added yet
	promoting map[string]bool                         // mirror topics with a promote or failover running
	warned    map[string]bool                         // auto-create skips already logged
	opMu      sync.Mutex                              // serialises mirror operations and creation
	final     map[string][]replicator.PartitionStatus // positions of stopped mirrors at their stop
}

// New builds a link; Run starts it. It creates the source client; Close releases it.
func New(o Options) (*Link, error) {
	cfg := o.Config
	srcOpts, err := cfg.Source().KgoOpts()
	if err != nil {
		return nil, fmt.Errorf("link %s: source client settings: %w", o.Name, err)
	}
	srcOpts = append(srcOpts,
		kgo.ClientID("clusterlink-"+o.Name),
		kgo.RetryTimeout(cfg.RequestTimeout),
		kgo.ConnIdleTimeout(cfg.ConnectionsMaxIdle),
		kgo.RetryBackoffFn(func(int) time.Duration { return cfg.RetryBackoff }),
	)
	src, err := kgo.NewClient(srcOpts...)
	if err != nil {
		return nil, fmt.Errorf("link %s: source client: %w", o.Name, err)
	}
	log := o.Logger.With(zap.String("link", o.Name))
	ropts := append([]replicator.Opt{
		replicator.Logger(log),
		replicator.FetchMaxBytes(cfg.ReplicaFetchMaxBytes),
		replicator.FetchResponseMaxBytes(cfg.ReplicaFetchResponseMaxBytes),
		replicator.FetchMinBytes(cfg.ReplicaFetchMinBytes),
		replicator.FetchWaitMax(cfg.ReplicaFetchWaitMax),
		replicator.FetchBackoff(cfg.ReplicaFetchBackoff),
		replicator.RequestTimeout(cfg.RequestTimeout),
		replicator.RetryBackoff(cfg.RetryBackoff),
		replicator.DefaultStartOffset(startOffset(cfg.MirrorStartOffsetSpec)),
		// Stable across restarts and distinct per link, so that a link's transactional producers fence their own.
		replicator.TransactionalIDPrefix("clusterlink-" + o.Name),
	}, o.ReplicatorOpts...)
	l := &Link{
		name: o.Name, id: o.ID, dst: o.Destination, dstID: o.DestinationID, dstAdm: kadm.NewClient(o.Destination),
		store: o.Store, log: log, syncers: o.Syncers, hooks: o.Hooks,
		src: src, srcAdm: kadm.NewClient(src), rep: replicator.New(src, o.Destination, ropts...),
		tasks: map[string]TaskStatus{}, added: map[string]bool{}, addErrors: map[string]string{},
		promoting: map[string]bool{}, warned: map[string]bool{}, final: map[string][]replicator.PartitionStatus{},
		changed: make(chan struct{}),
	}
	l.cfg.Store(cfg)
	l.setTask(TaskAutoCreateMirror, TaskNotConfigured, "", "")
	if cfg.AutoCreateMirrorTopicsEnable {
		l.setTask(TaskAutoCreateMirror, TaskActive, "", "")
	}
	l.setTask(TaskTopicConfigsSync, TaskActive, "", "")
	l.setTask(TaskAvailabilityCheck, TaskActive, "", "")
	return l, nil
}

func startOffset(s config.MirrorStartOffsetSpec) replicator.StartOffset {
	switch s.Kind {
	case config.Latest:
		return replicator.StartOffset{Kind: replicator.StartLatest}
	case config.Timestamp:
		return replicator.StartOffset{Kind: replicator.StartTimestamp, Timestamp: s.Time}
	}
	return replicator.StartOffset{Kind: replicator.StartEarliest}
}

// SetSyncers gives the link its extra loops and the hooks promote uses; call it before Run.
func (l *Link) SetSyncers(syncers []Syncer, hooks MirrorHooks) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.syncers, l.hooks = syncers, hooks
}

// Syncers are the link's extra loops.
func (l *Link) Syncers() []Syncer {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.syncers
}

func (l *Link) mirrorHooks() MirrorHooks {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.hooks
}

// liveKeys are the link configs Reconfigure applies to a running link; a change to any other key needs the link
// restarted (the source client, the replicator's fetch and request settings, a pause).
var liveKeys = []string{
	"acl.filters", "acl.sync.enable", "acl.sync.ms",
	"auto.create.mirror.topics.enable", "auto.create.mirror.topics.filters",
	"availability.check.consecutive.failure.threshold", "availability.check.ms",
	"consumer.group.prefix.enable", "consumer.offset.group.filters", "consumer.offset.sync.enable",
	"consumer.offset.sync.ms", "topic.config.sync.ms",
}

// LiveChange returns the configs whose value differs between two raw link configs (set, changed or removed), and
// whether Reconfigure can apply all of them to a running link.
func LiveChange(before, after map[string]string) (changed []string, live bool) {
	for k, v := range after {
		if w, ok := before[k]; !ok || w != v {
			changed = append(changed, k)
		}
	}
	for k := range before {
		if _, ok := after[k]; !ok {
			changed = append(changed, k)
		}
	}
	slices.Sort(changed)
	live = true
	for _, k := range changed {
		live = live && slices.Contains(liveKeys, k)
	}
	return changed, live
}

// Reconfigure applies a new config to the running link without stopping its copy: the loops read it from their
// next round on (they are woken now), and the syncers are stopped and replaced by those build returns for it. Only
// keys LiveChange accepts may differ from the current config; the caller restarts the link for the others.
func (l *Link) Reconfigure(cfg *config.Link, build func(*Link) ([]Syncer, MirrorHooks)) {
	l.syncMu.Lock()
	defer l.syncMu.Unlock()
	l.cfg.Store(cfg)
	l.stopSyncersLocked()
	syncers, hooks := build(l)
	l.mu.Lock()
	l.syncers, l.hooks = syncers, hooks
	close(l.changed)
	l.changed = make(chan struct{})
	l.mu.Unlock()
	if l.runCtx != nil && l.runCtx.Err() == nil && !cfg.ClusterLinkPaused {
		l.startSyncersLocked()
	}
	if !cfg.AutoCreateMirrorTopicsEnable {
		l.setTask(TaskAutoCreateMirror, TaskNotConfigured, "", "")
	}
	l.log.Info("link reconfigured without a restart")
}

// startSyncersLocked runs the current syncers under the link's run context until stopSyncersLocked. syncMu is
// held.
func (l *Link) startSyncersLocked() {
	ctx, cancel := context.WithCancel(l.runCtx)
	done := make(chan struct{})
	l.syncStop, l.syncDone = cancel, done
	var wg sync.WaitGroup
	for _, s := range l.Syncers() {
		wg.Go(func() {
			if err := s.Run(ctx); err != nil && ctx.Err() == nil {
				l.log.Error("link loop stopped", zap.String("task", s.Task().Name), zap.Error(err))
			}
		})
	}
	go func() {
		wg.Wait()
		close(done)
	}()
}

// stopSyncersLocked stops the running syncers and waits for them. syncMu is held.
func (l *Link) stopSyncersLocked() {
	if l.syncStop == nil {
		return
	}
	l.syncStop()
	<-l.syncDone
	l.syncStop, l.syncDone = nil, nil
}

// changedCh is closed when the config changes.
func (l *Link) changedCh() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.changed
}

// config is the link's current config.
func (l *Link) config() *config.Link { return l.cfg.Load() }

// Name is the link's name.
func (l *Link) Name() string { return l.name }

// ID is the link's id, fixed at creation.
func (l *Link) ID() string { return l.id }

// Config is the link's parsed config.
func (l *Link) Config() *config.Link { return l.config() }

// Source is the link's source client (the daemon's syncers use it).
func (l *Link) Source() *kgo.Client { return l.src }

// Close releases the source client. Call it after Run returned.
func (l *Link) Close() { l.src.Close() }

// Run runs the link until ctx ends: the replicator and every loop. It returns nil on a clean stop, when every
// produce in flight has been answered.
func (l *Link) Run(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return l.availabilityLoop(gctx) })
	if l.config().ClusterLinkPaused {
		l.log.Info("link is paused (cluster.link.paused=true): nothing is copied or synced")
		for _, name := range []string{TaskAutoCreateMirror, TaskTopicConfigsSync} {
			l.setTask(name, TaskLinkPaused, "", "")
		}
		return g.Wait()
	}
	g.Go(func() error { return l.rep.Run(gctx) })
	g.Go(func() error { return l.mirrorLoop(gctx) })
	g.Go(func() error { return l.progressLoop(gctx) })
	l.syncMu.Lock()
	l.runCtx = gctx
	l.startSyncersLocked()
	l.syncMu.Unlock()
	defer func() {
		l.syncMu.Lock()
		l.stopSyncersLocked()
		l.syncMu.Unlock()
	}()
	// Mirrors a promote or failover left half-done finish first.
	for _, m := range l.store.Mirrors(l.name) {
		if m.Status == string(replicator.StatusPendingStopped) {
			g.Go(func() error {
				l.resumeStop(gctx, m)
				return nil
			})
		}
	}
	err := g.Wait()
	if ctx.Err() != nil && (err == nil || errors.Is(err, context.Canceled)) {
		return nil
	}
	return err
}

func (l *Link) setTask(name, st, code, msg string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	prev := l.tasks[name]
	l.tasks[name] = TaskStatus{Name: name, State: st, ErrorCode: code, ErrorMessage: msg}
	if prev.State != st || prev.ErrorCode != code {
		if st == TaskInError {
			l.log.Warn("link task in error", zap.String("task", name), zap.String("code", code), zap.String("reason", msg))
		} else if prev.State == TaskInError {
			l.log.Info("link task recovered", zap.String("task", name))
		}
	}
}

// Tasks returns the states of the link's tasks, sorted by name.
func (l *Link) Tasks() []TaskStatus {
	l.mu.Lock()
	out := make([]TaskStatus, 0, len(l.tasks)+len(l.syncers))
	for _, t := range l.tasks {
		out = append(out, t)
	}
	syncers := l.syncers
	l.mu.Unlock()
	for _, s := range syncers {
		out = append(out, s.Task())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// State is the link's state with its error code and message (NO_ERROR when fine).
func (l *Link) State() (state, code, msg string) {
	if l.config().ClusterLinkPaused {
		return StatePaused, "NO_ERROR", ""
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.unavail {
		t := l.tasks[TaskAvailabilityCheck]
		return StateSourceUnavailable, t.ErrorCode, t.ErrorMessage
	}
	return StateActive, "NO_ERROR", ""
}

// SourceClusterID is the source cluster's id, once the availability check reached it.
func (l *Link) SourceClusterID() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.srcID
}

// availabilityLoop checks the source every availability.check.ms (and at once): after
// availability.check.consecutive.failure.threshold failures in a row the link is SOURCE_UNAVAILABLE.
func (l *Link) availabilityLoop(ctx context.Context) error {
	for {
		// DescribeCluster, not Metadata: the client answers metadata from its cache for a while.
		cctx, cancel := context.WithTimeout(ctx, l.config().RequestTimeout)
		resp, err := kmsg.NewPtrDescribeClusterRequest().RequestWith(cctx, l.src)
		cancel()
		if err == nil {
			err = kerr.ErrorForCode(resp.ErrorCode)
		}
		if ctx.Err() != nil {
			return nil
		}
		l.mu.Lock()
		if err == nil {
			l.failures = 0
			l.srcID = resp.ClusterID
			if l.unavail {
				l.log.Info("source cluster available again")
			}
			l.unavail = false
		} else {
			l.failures++
			if l.failures >= l.config().AvailabilityCheckConsecutiveFailureThreshold && !l.unavail {
				l.unavail = true
				l.log.Error("source cluster unavailable", zap.Int("consecutive_failures", l.failures), zap.Error(err))
			}
		}
		failures := l.failures
		l.mu.Unlock()
		if err == nil {
			l.setTask(TaskAvailabilityCheck, TaskActive, "", "")
		} else {
			l.setTask(TaskAvailabilityCheck, TaskInError, linkErrorCode(err),
				fmt.Sprintf("source cluster %s unreachable (%d consecutive failures): %v", strings.Join(l.config().BootstrapServers, ","), failures, err))
		}
		interval := l.config().AvailabilityCheckInterval
		if err != nil {
			interval = min(interval, max(l.config().RetryBackoff, time.Second)) // a failing source is re-checked soon
		}
		if l.sleepOrChange(ctx, interval) != nil {
			return nil
		}
	}
}

// linkErrorCode maps a client error to Confluent's link error codes.
func linkErrorCode(err error) string {
	var dnsErr *net.DNSError
	var opErr *net.OpError
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "TIMEOUT_ERROR"
	case errors.Is(err, kerr.SaslAuthenticationFailed), errors.Is(err, kerr.UnsupportedSaslMechanism),
		errors.Is(err, kerr.IllegalSaslState):
		return "AUTHENTICATION_ERROR"
	case errors.As(err, &dnsErr):
		return "UNRESOLVABLE_BOOTSTRAP_ERROR"
	case errors.As(err, &opErr), errors.Is(err, syscall.ECONNREFUSED):
		return "BOOTSTRAP_TCP_CONNECTION_FAILED_ERROR"
	}
	return "TIMEOUT_ERROR"
}

// sleepOrChange sleeps like sleep, and returns early (nil) when the link's config changes.
func (l *Link) sleepOrChange(ctx context.Context, d time.Duration) error {
	return sleepUntil(ctx, d, l.changedCh())
}

func sleep(ctx context.Context, d time.Duration) error { return sleepUntil(ctx, d, nil) }

// sleepUntil waits d, or until wake is closed (nil never is); it returns ctx's error if ctx ends first.
func sleepUntil(ctx context.Context, d time.Duration, wake <-chan struct{}) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
	case <-wake:
	}
	return nil
}

// progressInterval is how often a link with lag logs its copy progress.
const progressInterval = 15 * time.Second

// progressLoop logs one concise line every progressInterval while the link's mirrors lag (an initial copy, a
// catch-up after downtime), and a last one when they caught up, so a large copy can be followed in the logs.
func (l *Link) progressLoop(ctx context.Context) error {
	lagging := false
	for sleep(ctx, progressInterval) == nil {
		var lag int64
		var rate float64
		mirrors, partitions := 0, 0
		for _, m := range l.Mirrors() {
			if m.Status != string(replicator.StatusActive) && m.Status != string(replicator.StatusPendingMirror) {
				continue
			}
			mirrors++
			for _, p := range m.Partitions {
				lag += p.Lag
				rate += p.CopyRate
				if p.Lag > 0 {
					partitions++
				}
			}
		}
		switch {
		case lag > 0:
			eta := "unknown"
			if rate > 0 {
				eta = (time.Duration(float64(lag)/rate) * time.Second).Round(time.Second).String()
			}
			l.log.Info("copy progress", zap.Int("mirrors", mirrors), zap.Int("partitions_lagging", partitions),
				zap.Int64("lag_records", lag), zap.Float64("offsets_per_second", math.Round(rate)), zap.String("eta", eta))
			lagging = true
		case lagging:
			l.log.Info("copy caught up", zap.Int("mirrors", mirrors))
			lagging = false
		}
	}
	return nil
}
