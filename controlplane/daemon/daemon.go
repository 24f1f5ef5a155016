// Package daemon is `clusterlink run`: it connects to the destination cluster, opens the state topic, starts every
// link of the config file and of the state, serves the admin API (and /metrics, /healthz, /readyz) and stops it all
// cleanly when its context ends. It implements the API's Backend on top of the link runtime; it does not copy data
// itself.
package daemon

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/http/pprof"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/clusterlink/clusterlink/controlplane/adminapi"
	"github.com/clusterlink/clusterlink/config"
	"github.com/clusterlink/clusterlink/replicator"
	"github.com/clusterlink/clusterlink/controlplane/link"
	"github.com/clusterlink/clusterlink/controlplane/state"
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

	mu      sync.Mutex
	links   map[string]*running
	ctx     context.Context // the Run context, for links created at runtime
	ready   bool
	httpSrv *http.Server
	addr    net.Addr
	metrics *metrics
}

type running struct {
	l      *link.Link
	origin state.Origin
	cancel context.CancelFunc
	done   chan struct{}
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
	d := &Daemon{cfg: cfg, opts: opts, log: log, dst: dst, links: map[string]*running{}}
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
	d.mu.Lock()
	d.ctx = ctx
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
		d.stopLinks()
		return fmt.Errorf("admin API: %w", err)
	}
	d.shutdown()
	return nil
}

func (d *Daemon) shutdown() {
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = d.httpSrv.Shutdown(sctx) // requests still running after 5 s are cut
	d.stopLinks()
	d.log.Info("stopped")
}

func (d *Daemon) stopLinks() {
	d.mu.Lock()
	links := slices.Collect(maps.Values(d.links))
	d.mu.Unlock()
	for _, r := range links {
		r.cancel()
	}
	for _, r := range links {
		<-r.done
		r.l.Close()
	}
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

// startLinks starts the config file's links (with what the API changed on them since) and the links created
// through the API.
func (d *Daemon) startLinks(ctx context.Context) error {
	fileLinks := map[string]bool{}
	for _, fl := range d.cfg.Links {
		fileLinks[fl.Name] = true
		rec, ok := d.store.Link(fl.Name)
		if !ok || rec.Origin != state.OriginFile {
			rec = state.Link{Name: fl.Name, ID: newID(), Origin: state.OriginFile, CreatedMs: time.Now().UnixMilli()}
			if err := d.store.PutLink(ctx, rec); err != nil {
				return err
			}
		}
		cfg := fl
		if len(rec.Configs) > 0 || len(rec.Reset) > 0 {
			merged := mergeConfigs(fl.Raw, rec.Configs, rec.Reset)
			var err error
			if cfg, err = config.ParseLink(fl.Name, merged); err != nil {
				return fmt.Errorf("link %s: the config file with the changes made through the API: %w", fl.Name, err)
			}
		}
		if err := d.startLink(ctx, rec, cfg); err != nil {
			return err
		}
		for _, m := range fl.Mirrors {
			if err := d.ensureFileMirror(ctx, fl.Name, m); err != nil {
				d.log.Warn("mirror of the config file not created yet", zap.String("link", fl.Name),
					zap.String("mirror_topic", m.Topic), zap.Error(err))
			}
		}
	}
	for _, rec := range d.store.Links() {
		if fileLinks[rec.Name] {
			continue
		}
		if rec.Origin == state.OriginFile {
			d.log.Warn("link left the config file: it is no longer run; delete it with `clusterlink link delete` to forget its state",
				zap.String("link", rec.Name))
			continue
		}
		cfg, err := config.ParseLink(rec.Name, rec.Configs)
		if err != nil {
			d.log.Error("stored link has configs that no longer parse: not started", zap.String("link", rec.Name), zap.Error(err))
			continue
		}
		if err := d.startLink(ctx, rec, cfg); err != nil {
			return err
		}
	}
	return nil
}

func (d *Daemon) ensureFileMirror(ctx context.Context, linkName string, m config.Mirror) error {
	d.mu.Lock()
	r := d.links[linkName]
	d.mu.Unlock()
	if _, err := r.l.Mirror(m.Topic); err == nil {
		return nil
	}
	return r.l.CreateMirror(ctx, m.SourceTopic, m.Topic, false)
}

func mergeConfigs(base, set map[string]string, reset []string) map[string]string {
	out := maps.Clone(base)
	if out == nil {
		out = map[string]string{}
	}
	for _, k := range reset {
		delete(out, k)
	}
	maps.Copy(out, set)
	return out
}

func newID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // never fails
	return hex.EncodeToString(b)
}

func (d *Daemon) startLink(ctx context.Context, rec state.Link, cfg *config.Link) error {
	l, err := link.New(link.Options{
		Name: rec.Name, ID: rec.ID, Config: cfg, Destination: d.dst, DestinationID: d.dstID, Store: d.store,
		Logger:         d.log,
		ReplicatorOpts: append([]replicator.Opt{replicator.WithObserver(observer{d.metrics, rec.Name})}, d.opts.ReplicatorOpts...),
	})
	if err != nil {
		return err
	}
	l.SetSyncers(d.syncersFor(l, nil))
	lctx, cancel := context.WithCancel(ctx)
	r := &running{l: l, origin: rec.Origin, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		if err := l.Run(lctx); err != nil {
			d.log.Error("link stopped with an error", zap.String("link", rec.Name), zap.Error(err))
		}
	}()
	d.mu.Lock()
	d.links[rec.Name] = r
	d.mu.Unlock()
	d.log.Info("link started", zap.String("link", rec.Name), zap.String("origin", string(rec.Origin)),
		zap.Strings("source", cfg.BootstrapServers))
	return nil
}

// restartLink stops a link and starts it again with a new config (after a configuration update). Copying resumes
// from each mirror's log end offset, so nothing is lost or duplicated.
func (d *Daemon) restartLink(rec state.Link, cfg *config.Link) error {
	d.mu.Lock()
	r, ok := d.links[rec.Name]
	ctx := d.ctx
	d.mu.Unlock()
	if ok {
		r.cancel()
		<-r.done
		r.l.Close()
	}
	return d.startLink(ctx, rec, cfg)
}

func (d *Daemon) link(name string) (*running, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	r, ok := d.links[name]
	if !ok {
		return nil, adminapi.NotFound("link %s not found", name)
	}
	return r, nil
}

func (d *Daemon) sortedLinks() []*running {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := slices.Collect(maps.Values(d.links))
	sort.Slice(out, func(i, j int) bool { return out[i].l.Name() < out[j].l.Name() })
	return out
}

// mapError turns the link runtime's errors into API statuses.
func mapError(err error) error {
	var inv *link.InvalidError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, link.ErrNotFound):
		return adminapi.NotFound("%s", err.Error())
	case errors.As(err, &inv):
		return adminapi.BadRequest("%s", err.Error())
	}
	return err
}
