// Package daemon is `clusterlink run`: it connects to the destination cluster, opens the state topic, keeps the set
// of links (those of the config file and those created through the API) with exactly one runtime per link and the
// operations on a link name taking turns, serves the admin API (and /metrics, /healthz, /readyz) as the API's
// Backend, and stops it all cleanly when its context ends. A broken link is listed FAILED, never a reason to exit.
// It does not copy data or run a link's loops itself: the link package does.
package daemon

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/clusterlink/clusterlink/config"
	"github.com/clusterlink/clusterlink/controlplane/adminapi"
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
}

// Daemon runs the links of one destination cluster.
type Daemon struct {
	cfg   *config.Config
	opts  Options
	log   *zap.Logger
	dst   *kgo.Client
	dstID string
	store *state.Store
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
	d := &Daemon{cfg: cfg, opts: opts, log: log, dst: dst, slots: map[string]*slot{}}
	d.metrics = newMetrics(d)
	meta, err := kadm.NewClient(dst).BrokerMetadata(ctx)
	if err != nil {
		dst.Close()
		return nil, fmt.Errorf("reach the destination cluster %s: %w", strings.Join(cfg.Destination.BootstrapServers, ","), err)
	}
	d.dstID = meta.Cluster
	if d.store, err = state.Open(ctx, dst, cfg.State.Topic); err != nil {
		dst.Close()
		return nil, err
	}
	return d, nil
}

// Close releases the destination client; call it after Run returned.
func (d *Daemon) Close() { d.dst.Close() }

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
	ln, err := net.Listen("tcp", d.cfg.Admin.Listen)
	if err != nil {
		return fmt.Errorf("admin API: listen on %s: %w", d.cfg.Admin.Listen, err)
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

func (d *Daemon) handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/kafka/", adminapi.Handler(d, d.cfg.Admin.Token, d.log))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !d.Ready() {
			http.Error(w, "starting links", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	mux.Handle("GET /metrics", d.metricsHandler())
	if d.opts.Pprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	return mux
}

func nowMs() int64 { return time.Now().UnixMilli() }
