// Package daemon is `clusterlink run`: it connects to the destination cluster, opens the state topic, keeps the set
// of links (those of the config file and those created through the API) with exactly one runtime per link and the
// operations on a link name taking turns, serves the admin API (and /metrics, /healthz, /readyz) as the API's
// Backend, and stops it all cleanly when its context ends. A broken link is listed FAILED, never a reason to exit.
// It does not copy data or run a link's loops itself: the link package does.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/clusterlink/clusterlink/aclsync"
	"github.com/clusterlink/clusterlink/config"
	"github.com/clusterlink/clusterlink/controlplane/state"
	"github.com/clusterlink/clusterlink/replicator"
)

// Options tune a Daemon beyond its config file.
type Options struct {
	Logger *zap.Logger
	// Pprof serves net/http/pprof under /debug/pprof/ on the admin listener.
	Pprof bool
	// ReplicatorOpts are given to every link's replicator (tests and the demo shorten intervals with them).
	ReplicatorOpts []replicator.Opt
	// DestinationOpts are added to the destination client's options (the demo uses them for in-process clusters).
	DestinationOpts []kgo.Opt
	// AdoptUnsealedState seals, once, the state records found in clear text (written before state.encryption.key
	// was set) instead of rejecting them. Only for an operator who knows no one else wrote the topic.
	AdoptUnsealedState bool
	// Build is the binary's version, commit and Go version, exported as clusterlink_build_info.
	Build BuildInfo
	// GroupSessionTimeout and GroupHeartbeatInterval tune the group membership of the links (default 10 s and 3 s,
	// as Kafka Connect's).
	GroupSessionTimeout, GroupHeartbeatInterval time.Duration
	// MemberName is how the daemon is shown in its links' groups (default host/pid; the demo runs several in one
	// process).
	MemberName string
}

// Daemon runs the links of one destination cluster.
type Daemon struct {
	cfg   *config.Config
	opts  Options
	log   *zap.Logger
	dst   *kgo.Client
	dstID string
	store *state.Store
	// budget is memory.budget.bytes, shared by every link's replicator.
	budget *replicator.MemoryBudget
	// runCtx is Run's context: the links' runtimes run under it.
	runCtx context.Context
	// runtimes counts the link runtimes whose Run has not returned: one per link, whatever the API is asked.
	runtimes atomic.Int64
	metrics  *metrics

	mu      sync.Mutex
	slots   map[string]*slot
	ready   bool
	httpSrv *http.Server
	addr    net.Addr
}

// New connects to the destination and reads the state topic. Run starts the links and the API.
func New(ctx context.Context, cfg *config.Config, opts Options) (*Daemon, error) {
	log := opts.Logger
	if log == nil {
		log = zap.NewNop()
	}
	log = quietStart(log, time.Now().Add(StartupGrace))
	dstOpts, err := cfg.Destination.KgoOpts()
	if err != nil {
		return nil, fmt.Errorf("destination client settings: %w", err)
	}
	dstOpts = append(dstOpts, kgo.ClientID("clusterlink"))
	dstOpts = append(dstOpts, opts.DestinationOpts...)
	dst, err := kgo.NewClient(dstOpts...)
	if err != nil {
		return nil, fmt.Errorf("destination client: %w", err)
	}
	d := &Daemon{cfg: cfg, opts: opts, log: log, dst: dst, slots: map[string]*slot{},
		budget: replicator.NewMemoryBudget(cfg.Memory.BudgetBytes)}
	d.metrics = newMetrics(d)
	meta, err := kadm.NewClient(dst).BrokerMetadata(ctx)
	if err != nil {
		dst.Close()
		return nil, fmt.Errorf("reach the destination cluster %s: %w", strings.Join(cfg.Destination.BootstrapServers, ","), err)
	}
	d.dstID = meta.Cluster
	if d.store, err = d.openState(ctx); err != nil {
		dst.Close()
		return nil, err
	}
	return d, nil
}

// openState opens the state topic: sealed with the daemon's key when it has one, closed to everyone but the
// destination's super users where the destination has an authorizer, and it reports every record it rejected.
func (d *Daemon) openState(ctx context.Context) (*state.Store, error) {
	sc := d.cfg.State
	var o state.Options
	if len(sc.EncryptionKey) > 0 {
		o.Keys = &state.Keys{Current: sc.EncryptionKey, Old: sc.OldEncryptionKeys}
		o.AdoptUnsealed = d.opts.AdoptUnsealedState
	} else {
		d.log.Warn("state.encryption.key is not set: the state topic's records are neither encrypted nor authenticated; "+
			"links with secrets cannot be created over the API, and anyone who can write the topic can change what the daemon does",
			zap.String("state_topic", sc.Topic))
	}
	store, err := state.Open(ctx, d.dst, sc.Topic, o)
	if err != nil {
		return nil, err
	}
	for _, r := range store.Rejected() {
		d.log.Error("state record rejected: forged, altered, or not written by this daemon; it is ignored",
			zap.String("state_topic", sc.Topic), zap.String("key", r.Key), zap.Int64("offset", r.Offset), zap.String("reason", r.Reason))
	}
	if err := d.protectStateTopic(ctx, store); err != nil {
		store.Close()
		return nil, err
	}
	return store, nil
}

// protectStateTopic denies every operation on the state topic to every principal (super users, which the daemon
// must be, are not subject to ACLs). A daemon that is not a super user would lock itself out: the guard is then
// taken back and the start refused.
func (d *Daemon) protectStateTopic(ctx context.Context, store *state.Store) error {
	guard := aclsync.StateTopicGuard(store.Topic())
	err := aclsync.Guard(ctx, d.dst, []config.ACL{guard})
	switch {
	case errors.Is(err, aclsync.ErrNoAuthorizer):
		d.log.Warn("the destination has no authorizer: anyone who can reach it can read and write the state topic",
			zap.String("state_topic", store.Topic()))
		return nil
	case err != nil:
		d.log.Warn("the state topic could not be closed to other principals: check its ACLs by hand",
			zap.String("state_topic", store.Topic()), zap.Error(err))
		return nil
	}
	if _, err := kadm.NewClient(d.dst).ListEndOffsets(ctx, store.Topic()); err != nil {
		_ = aclsync.Unguard(context.WithoutCancel(ctx), d.dst, []config.ACL{guard})
		return fmt.Errorf("the daemon's destination principal cannot read the state topic %s once it is closed to every principal (%w): it must be a super user of the destination (super.users)", store.Topic(), err)
	}
	return nil
}

// Close stops following the state topic and releases the destination client; call it after Run returned.
func (d *Daemon) Close() {
	d.store.Close()
	d.dst.Close()
}

// Addr is the admin listener's address once Run listens (useful with port 0).
func (d *Daemon) Addr() net.Addr {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.addr
}

// Ready reports whether every link has been started.
func (d *Daemon) Ready() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.ready
}

// Run starts the links and serves the admin API until ctx ends, then stops everything: every link's produces in
// flight are answered before it returns.
func (d *Daemon) Run(ctx context.Context) error {
	ln, err := d.listen()
	if err != nil {
		return err
	}
	d.runCtx = ctx
	d.mu.Lock()
	d.addr = ln.Addr()
	d.httpSrv = &http.Server{Handler: d.handler(), ReadHeaderTimeout: 10 * time.Second}
	d.mu.Unlock()
	d.log.Info("admin API listening", zap.String("address", ln.Addr().String()), zap.String("destination_cluster_id", d.dstID))
	serveErr := make(chan error, 1)
	go func() { serveErr <- d.httpSrv.Serve(ln) }()

	if err := d.startLinks(ctx); err != nil {
		d.shutdown()
		return err
	}
	d.mu.Lock()
	d.ready = true
	d.mu.Unlock()
	d.log.Info("ready: every link started", zap.String("address", ln.Addr().String()))

	select {
	case <-ctx.Done():
	case err := <-serveErr:
		d.stopAll()
		return fmt.Errorf("admin API: %w", err)
	}
	d.shutdown()
	return nil
}

func (d *Daemon) shutdown() {
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = d.httpSrv.Shutdown(sctx) // requests still running after 5 s are cut
	d.stopAll()
	d.log.Info("stopped")
}

func nowMs() int64 { return time.Now().UnixMilli() }
