// Package link runs one cluster link: it builds and owns everything the link does — the replicator that copies its
// mirror topics, and its loops (mirror topic auto-creation, topic config sync, source availability check, consumer
// offset sync, ACL sync, the read-only guard of its mirror topics) — and carries out the mirror operations
// (create, pause, resume, restart, promote, failover), recording every change in the state store, so that a
// restarted daemon continues where it stopped. A link whose configs do not parse or whose clients cannot be built
// is still a Link: FAILED with the reason, its mirrors visible and able to fail over. It does not parse the
// daemon's file, decide which links exist, or serve the admin API.
package link

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/clusterlink/clusterlink/config"
	"github.com/clusterlink/clusterlink/controlplane/group"
	"github.com/clusterlink/clusterlink/controlplane/state"
	"github.com/clusterlink/clusterlink/controlplane/task"
	"github.com/clusterlink/clusterlink/replicator"
)

// Link states (the API's link_state).
const (
	StateActive            = "ACTIVE"
	StatePaused            = "PAUSED"
	StateSourceUnavailable = "SOURCE_UNAVAILABLE"
	// StateFailed is a link whose configs do not parse or whose clients cannot be built: nothing is copied or
	// synced until its configs are fixed; its mirrors can still fail over.
	StateFailed = "FAILED"
)

// Mirror statuses the link adds to the replicator's.
const (
	StatusLinkPaused replicator.Status = "LINK_PAUSED"
)

// Options build a Link.
type Options struct {
	Name string
	ID   string
	// Config is the link's parsed config. Leave it nil and set Broken when the configs did not parse.
	Config *config.Link
	// Broken is why the link cannot run (its configs do not parse); the Link is FAILED with it.
	Broken error
	// Destination is the daemon's destination client, shared by its links; DestinationID is its cluster id.
	Destination   *kgo.Client
	DestinationID string
	Store         *state.Store
	Logger        *zap.Logger
	// ReplicatorOpts are appended to those the link derives from its config (tests shorten intervals with them; the
	// daemon adds its metrics observer).
	ReplicatorOpts []replicator.Opt
	// Group makes the daemon share the link with the other daemons of the group (shared.go); nil: it runs all of it.
	Group *GroupOptions
	// SourceClient, when set, is the source client instead of one built from Config (the reversed mirrors of a
	// BIDIRECTIONAL link read the destination); the link does not close it.
	SourceClient *kgo.Client
}

// Link is one cluster link.
type Link struct {
	name, id string
	cfg      atomic.Pointer[config.Link] // replaced by Reconfigure; nil when broken
	broken   error
	dst      *kgo.Client
	dstID    string
	dstAdm   *kadm.Client
	store    *state.Store
	log      *zap.Logger

	src    *kgo.Client // nil when broken
	ownSrc bool        // Close closes src
	srcAdm *kadm.Client
	// rev runs the link's reversed mirrors (destination to source) when link.mode=BIDIRECTIONAL; nil otherwise.
	rev *Link
	// reversed: this is a link's rev.
	reversed bool
	rep      *replicator.Replicator // nil when broken
	guard    *mirrorGuard
	// member is the daemon's membership of the group sharing the link (nil: none); leading: the loops unit is here.
	member      *group.Member
	groupClient *kgo.Client
	leading     atomic.Bool
	groupErr    atomic.Pointer[error] // why the daemon cannot join the group: the link is FAILED with it

	autoCreateTask, configSyncTask, availabilityTask, offsetSyncTask, aclSyncTask *task.Tracker

	// loopMu serialises Reconfigure with the start and stop of the sync loops.
	loopMu   sync.Mutex
	runCtx   context.Context    // Run's context, once Run started
	syncStop context.CancelFunc // stops the running sync loops
	syncDone chan struct{}      // closed once they stopped

	mu        sync.Mutex
	loops     syncLoops     // the consumer offset sync and ACL sync of the current config
	changed   chan struct{} // closed (and replaced) by Reconfigure: the loops look at the config again
	srcID     string
	unavail   bool                                    // the availability check failed threshold times in a row
	failures  int                                     // consecutive availability check failures
	added     map[string]bool                         // mirror topics handed to the replicator
	addErrors map[string]string                       // why a stored mirror is not added yet
	promoting map[string]bool                         // mirror topics with a promote or failover running
	warned    map[string]bool                         // auto-create skips already logged
	final     map[string][]replicator.PartitionStatus // positions of stopped mirrors at their stop
	fbErrors  map[string]string                       // why a failback under way did not finish yet
	owned     map[string][]int32                      // the partitions the group's last assignment gave this daemon

	opMu  sync.Mutex // serialises mirror operations and creation
	fbMu  sync.Mutex // serialises failbacks (both sides of a BIDIRECTIONAL link: taken on the outer link only)
	recMu sync.Mutex // serialises read-modify-write of mirror records (see updateMirror)

	failed failedPartitions // partition failures not stored yet
}

// New builds a link; Run starts it. Unless o.Broken is set it creates the source client; Close releases it. An
// error building the clients makes a FAILED link, not an error: it is listed, and can be fixed or deleted.
func New(o Options) *Link {
	log := o.Logger.With(zap.String("link", o.Name))
	l := &Link{
		name: o.Name, id: o.ID, broken: o.Broken, dst: o.Destination, dstID: o.DestinationID,
		dstAdm: kadm.NewClient(o.Destination), store: o.Store, log: log,
		guard:          newMirrorGuard(o.Destination, log),
		autoCreateTask: task.NewTracker(task.AutoCreateMirror, log), configSyncTask: task.NewTracker(task.TopicConfigsSync, log),
		availabilityTask: task.NewTracker(task.AvailabilityCheck, log),
		offsetSyncTask:   task.NewTracker(task.ConsumerOffsetSync, log), aclSyncTask: task.NewTracker(task.ACLSync, log),
		changed: make(chan struct{}),
		added:   map[string]bool{}, addErrors: map[string]string{}, promoting: map[string]bool{},
		warned: map[string]bool{}, final: map[string][]replicator.PartitionStatus{}, fbErrors: map[string]string{},
		failed: failedPartitions{poke: make(chan struct{}, 1)},
	}
	if l.broken == nil {
		if o.Config == nil {
			l.broken = errors.New("no config")
		} else if err := l.buildClients(o); err != nil {
			l.broken = err
		}
	}
	if l.broken != nil {
		l.log.Error("link cannot run: it is FAILED until its configs are fixed", zap.Error(l.broken))
		for _, t := range []*task.Tracker{l.autoCreateTask, l.configSyncTask, l.availabilityTask} {
			t.Record(l.broken)
		}
		return l
	}
	cfg := o.Config
	l.cfg.Store(cfg)
	if !cfg.AutoCreateMirrorTopicsEnable {
		l.autoCreateTask.Set(task.NotConfigured)
	}
	l.loops = l.buildSyncLoops(cfg)
	if cfg.LinkMode == config.LinkModeBidirectional {
		l.rev = l.newReverse(o)
	}
	return l
}

// buildClients makes the source client and the replicator of a link whose config parsed.
func (l *Link) buildClients(o Options) error {
	cfg := o.Config
	if err := l.buildMember(o); err != nil {
		return err
	}
	src := o.SourceClient
	if src == nil {
		srcOpts, err := cfg.Source().KgoOpts()
		if err != nil {
			l.closeGroup()
			return fmt.Errorf("source client settings: %w", err)
		}
		srcOpts = append(srcOpts,
			kgo.ClientID(ClientID(o.Name)),
			kgo.RetryTimeout(cfg.RequestTimeout),
			kgo.ConnIdleTimeout(cfg.ConnectionsMaxIdle),
			kgo.RetryBackoffFn(func(int) time.Duration { return cfg.RetryBackoff }),
		)
		if src, err = kgo.NewClient(srcOpts...); err != nil {
			l.closeGroup()
			return fmt.Errorf("source client: %w", err)
		}
		l.ownSrc = true
	}
	ropts := append([]replicator.Opt{
		replicator.Logger(l.log),
		replicator.FetchMaxBytes(cfg.ReplicaFetchMaxBytes),
		replicator.FetchResponseMaxBytes(cfg.ReplicaFetchResponseMaxBytes),
		replicator.FetchMinBytes(cfg.ReplicaFetchMinBytes),
		replicator.FetchWaitMax(cfg.ReplicaFetchWaitMax),
		replicator.FetchBackoff(cfg.ReplicaFetchBackoff),
		replicator.RequestTimeout(cfg.RequestTimeout),
		replicator.RetryBackoff(cfg.RetryBackoff),
		replicator.DefaultStartOffset(startOffset(cfg.MirrorStartOffsetSpec)),
		replicator.VerifySample(cfg.MirrorVerifyInterval, cfg.MirrorVerifySampleOffsets),
		// Stable across restarts and distinct per link, so that a link's transactional producers fence their own.
		replicator.TransactionalIDPrefix(TransactionalIDPrefix(o.Name)),
		replicator.OnPartitionFailed(l.partitionFailed),
	}, o.ReplicatorOpts...)
	ropts = append(ropts, l.replicatorGroupOpts()...)
	rep, err := replicator.New(src, o.Destination, ropts...)
	if err != nil {
		if l.ownSrc {
			src.Close()
		}
		l.closeGroup()
		return err
	}
	l.src, l.srcAdm, l.rep = src, kadm.NewClient(src), rep
	return nil
}

// ClientID is the client id of a link's source client.
func ClientID(link string) string { return "clusterlink-" + link }

// TransactionalIDPrefix starts the transactional ids of a link's destination producers.
func TransactionalIDPrefix(link string) string { return "clusterlink-" + link }

func startOffset(s config.MirrorStartOffsetSpec) replicator.StartOffset {
	switch s.Kind {
	case config.Latest:
		return replicator.StartOffset{Kind: replicator.StartLatest}
	case config.Timestamp:
		return replicator.StartOffset{Kind: replicator.StartTimestamp, Timestamp: s.Time}
	}
	return replicator.StartOffset{Kind: replicator.StartEarliest}
}

// config is the link's current config (nil when broken).
func (l *Link) config() *config.Link { return l.cfg.Load() }

// Name is the link's name.
func (l *Link) Name() string { return l.name }

// ID is the link's id, fixed at creation.
func (l *Link) ID() string { return l.id }

// Config is the link's parsed config; nil when the link is broken.
func (l *Link) Config() *config.Link { return l.config() }

// Broken is why the link cannot run, nil when it can.
func (l *Link) Broken() error { return l.broken }

// Close releases the source client. Call it after Run returned.
func (l *Link) Close() {
	if l.rev != nil {
		l.rev.Close()
	}
	if l.src != nil && l.ownSrc {
		l.src.Close()
	}
	l.closeGroup()
}

// Run runs the link until ctx ends: the replicator and every loop. It returns nil on a clean stop, when every
// produce in flight has been answered. A broken link runs nothing.
func (l *Link) Run(ctx context.Context) error {
	if l.broken != nil {
		// Nothing copies; a failover left half-done needs only the destination and finishes.
		var wg sync.WaitGroup
		for _, m := range l.store.Mirrors(l.name) {
			if m.Status == replicator.StatusPendingStopped && m.PendingOp == opFailover {
				wg.Go(func() { l.resumeStop(ctx, m) })
			}
		}
		<-ctx.Done()
		wg.Wait()
		return nil
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return l.availabilityLoop(gctx) })
	g.Go(func() error { return l.failureLoop(gctx) })
	if l.rev != nil {
		g.Go(func() error { return l.rev.Run(gctx) })
	}
	if l.config().ClusterLinkPaused {
		l.log.Info("link is paused (cluster.link.paused=true): nothing is copied or synced")
		l.autoCreateTask.Set(task.LinkPaused)
		l.configSyncTask.Set(task.LinkPaused)
		return g.Wait()
	}
	g.Go(func() error { return l.rep.Run(gctx) })
	g.Go(func() error { return l.groupLoop(gctx) })
	g.Go(func() error { return l.mirrorLoop(gctx) })
	g.Go(func() error { return l.progressLoop(gctx) })
	g.Go(func() error { return l.guardLoop(gctx) })
	g.Go(func() error { return l.statusLoop(gctx) })
	l.loopMu.Lock()
	l.runCtx = gctx
	l.startSyncLoopsLocked()
	l.loopMu.Unlock()
	defer func() {
		l.loopMu.Lock()
		l.stopSyncLoopsLocked()
		l.loopMu.Unlock()
	}()
	// Failbacks a previous run left under way finish (on a paused link they wait for its resume).
	if l.rev != nil {
		g.Go(func() error { return l.resumeFailbacks(gctx) })
	}
	// Mirrors a promote or failover left half-done finish first; in a group the link's state writer finishes them
	// once it holds the writer (resumeStopsLocked).
	for _, m := range l.store.Mirrors(l.name) {
		if m.Status == replicator.StatusPendingStopped && l.member == nil {
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

// Tasks returns the states of the link's tasks, sorted by name.
func (l *Link) Tasks() []task.Status {
	out := []task.Status{l.autoCreateTask.Status(), l.configSyncTask.Status(), l.availabilityTask.Status()}
	loops := l.syncLoops()
	if loops.offsets != nil {
		out = append(out, l.offsetSyncTask.Status())
	} else {
		out = append(out, task.Status{Name: task.ConsumerOffsetSync, State: task.NotConfigured})
	}
	if loops.acls != nil {
		out = append(out, l.aclSyncTask.Status())
	} else {
		out = append(out, task.Status{Name: task.ACLSync, State: task.NotConfigured})
	}
	if l.broken != nil {
		for i := range out {
			if out[i].State == task.NotConfigured {
				out[i] = task.Status{Name: out[i].Name, State: task.InError, ErrorCode: task.Code(l.broken), ErrorMessage: l.broken.Error()}
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// State is the link's state with its error code and message (NO_ERROR when fine).
func (l *Link) State() (state, code, msg string) {
	if l.broken != nil {
		code := task.Code(l.broken)
		if code == task.CodeUnknown {
			code = task.CodeMisconfiguration
		}
		return StateFailed, code, l.broken.Error()
	}
	if err := l.groupRefused(); err != nil {
		return StateFailed, task.CodeMisconfiguration, err.Error()
	}
	if l.config().ClusterLinkPaused {
		return StatePaused, "NO_ERROR", ""
	}
	l.mu.Lock()
	unavail := l.unavail
	l.mu.Unlock()
	if unavail {
		t := l.availabilityTask.Status()
		return StateSourceUnavailable, t.ErrorCode, t.ErrorMessage
	}
	if rejected := l.store.RejectedFor(l.name); len(rejected) > 0 {
		return StateActive, CodeStateRecordRejected, fmt.Sprintf(
			"%d state records of this link were rejected and ignored (forged, altered, or not written by this daemon); the first: %s at offset %d: %s",
			len(rejected), rejected[0].Key, rejected[0].Offset, rejected[0].Reason)
	}
	return StateActive, "NO_ERROR", ""
}

// CodeStateRecordRejected is the link error of a link whose records in the state topic were rejected.
const CodeStateRecordRejected = "STATE_RECORD_REJECTED"

// SourceClusterID is the source cluster's id, once the availability check reached it.
func (l *Link) SourceClusterID() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.srcID
}

// sleepOrChange sleeps like sleep, and returns early (nil) when the link's config changes.
func (l *Link) sleepOrChange(ctx context.Context, d time.Duration) error {
	return sleepUntil(ctx, d, l.changedCh())
}

// changedCh is closed when the config changes.
func (l *Link) changedCh() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.changed
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
			if m.Status != replicator.StatusActive && m.Status != replicator.StatusPendingMirror {
				continue
			}
			mirrors++
			for _, p := range m.Partitions {
				if p.Lag < 0 {
					partitions++ // not known to be caught up
					continue
				}
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

// maxClientIDLength is the longest client id the Kafka client accepts.
const maxClientIDLength = 256

// CheckNames checks the names a link derives from its name and config against Kafka's limits, so that a link that
// could never start is refused before it is stored.
func CheckNames(name string, cfg *config.Link) error {
	var errs []error
	if id := ClientID(name); len(id) > maxClientIDLength {
		errs = append(errs, invalid("link name: the source client id %q... would be %d characters, over the limit of %d",
			id[:32], len(id), maxClientIDLength))
	}
	if cfg != nil && len(cfg.ClusterLinkPrefix) >= 249 {
		errs = append(errs, invalid("cluster.link.prefix: %d characters leaves no room for a topic name (at most 249 in all)", len(cfg.ClusterLinkPrefix)))
	}
	return errors.Join(errs...)
}
