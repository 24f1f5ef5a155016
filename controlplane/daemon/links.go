package daemon

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"maps"
	"slices"
	"sync"
	"sync/atomic"

	"go.uber.org/zap"

	"github.com/clusterlink/clusterlink/config"
	"github.com/clusterlink/clusterlink/controlplane/link"
	"github.com/clusterlink/clusterlink/controlplane/state"
	"github.com/clusterlink/clusterlink/replicator"
)

// This file is the daemon's links: one slot per link name, holding the link's stored record and its one runtime.
// Every operation that changes a link (create, delete, alter, restart) holds its slot's lock for the whole
// operation, from the first check to the last write, so that concurrent calls on one name take turns and exactly
// one runtime per link exists at any time. Mirror operations share the lock (they run side by side, the link
// serialises them itself). Reads take no lock: they see the runtime that is current.

// slot is one link name.
type slot struct {
	name string
	// ops is held exclusively by operations that change the link, shared by mirror operations.
	ops sync.RWMutex
	// Guarded by ops held exclusively (read with it held either way):
	rec  state.Link
	raw  map[string]string // the effective configs (the file's merged with the API's changes)
	gone bool              // deleted, or a create that did not happen: look the name up again
	// rt is the link's runtime; written with ops held exclusively, read without it.
	rt atomic.Pointer[runtime]
}

// runtime is one running link.
type runtime struct {
	l      *link.Link
	cancel context.CancelFunc
	done   chan struct{}
}

// slotOf returns the slot of a link name, nil if there is none.
func (d *Daemon) slotOf(name string) *slot {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.slots[name]
}

// lockLink holds the link's slot exclusively (shared when shared is set) and returns it with its unlock; a link
// that does not exist is a NotFound error.
func (d *Daemon) lockLink(name string, shared bool) (*slot, func(), error) {
	for {
		s := d.slotOf(name)
		if s == nil {
			return nil, nil, notFoundLink(name)
		}
		lock, unlock := s.ops.Lock, s.ops.Unlock
		if shared {
			lock, unlock = s.ops.RLock, s.ops.RUnlock
		}
		lock()
		if !s.gone {
			return s, unlock, nil
		}
		unlock() // deleted meanwhile; a new link of the name may exist
	}
}

// runningLinks are the current runtimes' links, sorted by name.
func (d *Daemon) runningLinks() []*link.Link {
	d.mu.Lock()
	slots := slices.Collect(maps.Values(d.slots))
	d.mu.Unlock()
	slices.SortFunc(slots, func(a, b *slot) int {
		if a.name < b.name {
			return -1
		}
		return 1
	})
	var out []*link.Link
	for _, s := range slots {
		if rt := s.rt.Load(); rt != nil {
			out = append(out, rt.l)
		}
	}
	return out
}

// currentLink is the current runtime's link of a name.
func (d *Daemon) currentLink(name string) (*link.Link, error) {
	if s := d.slotOf(name); s != nil {
		if rt := s.rt.Load(); rt != nil {
			return rt.l, nil
		}
	}
	return nil, notFoundLink(name)
}

// parseStoredLink is the parser for a link's raw configs: config.ParseDeclaredLink for a link the daemon's file
// declares whose authentication keys neither its stored API changes nor the changes set and reset touch (the file
// chose how it authenticates, host credentials included), config.ParseLink otherwise.
func parseStoredLink(rec state.Link, set map[string]string, reset []string) func(string, map[string]string) (*config.Link, error) {
	if rec.Origin != state.OriginFile {
		return config.ParseLink
	}
	for _, k := range config.AuthenticationKeys() {
		_, changed := rec.Configs[k]
		_, setNow := set[k]
		if changed || setNow || slices.Contains(rec.Reset, k) || slices.Contains(reset, k) {
			return config.ParseLink
		}
	}
	return config.ParseDeclaredLink
}

// startLocked builds the link of s from its raw configs and runs it. Configs that do not parse make a FAILED link,
// never an error: it is listed with the reason and can be fixed or deleted. The slot is held exclusively.
func (d *Daemon) startLocked(s *slot) {
	// What the state topic holds was given over the API, or forged: it is checked as API input is.
	err := d.checkFilePaths(s.rec.Configs)
	var cfg *config.Link
	if err == nil {
		cfg, err = parseStoredLink(s.rec, nil, nil)(s.name, s.raw)
	}
	if err == nil {
		err = link.CheckNames(s.name, cfg)
	}
	ropts := append([]replicator.Opt{replicator.WithObserver(observer{d.metrics, s.name}), replicator.WithMemoryBudget(d.budget)},
		d.opts.ReplicatorOpts...)
	l := link.New(link.Options{
		Name: s.name, ID: s.rec.ID, Config: cfg, Broken: err, Destination: d.dst, DestinationID: d.dstID,
		Store: d.store, Logger: d.log, ReplicatorOpts: ropts, Group: d.groupOptions(s.name),
	})
	ctx, cancel := context.WithCancel(d.runCtx)
	rt := &runtime{l: l, cancel: cancel, done: make(chan struct{})}
	d.runtimes.Add(1)
	go func() {
		defer close(rt.done)
		defer d.runtimes.Add(-1)
		if err := l.Run(ctx); err != nil {
			d.log.Error("link stopped with an error", zap.String("link", s.name), zap.Error(err))
		}
		l.Close()
	}()
	s.rt.Store(rt)
	if l.Broken() != nil {
		return
	}
	d.log.Info("link started", zap.String("link", s.name), zap.String("origin", string(s.rec.Origin)),
		zap.Strings("source", cfg.BootstrapServers))
}

// stopLocked stops the link's runtime and waits until it stopped (every produce in flight answered). The slot is
// held exclusively.
func (d *Daemon) stopLocked(s *slot) {
	rt := s.rt.Swap(nil)
	if rt == nil {
		return
	}
	rt.cancel()
	<-rt.done
}

// stopAll stops every link.
func (d *Daemon) stopAll() {
	d.mu.Lock()
	slots := slices.Collect(maps.Values(d.slots))
	d.mu.Unlock()
	var wg sync.WaitGroup
	for _, s := range slots {
		wg.Go(func() {
			s.ops.Lock()
			defer s.ops.Unlock()
			d.stopLocked(s)
		})
	}
	wg.Wait()
}

// RuntimeCount is how many link runtimes are running now (stopped ones are not counted once their Run returned).
func (d *Daemon) RuntimeCount() int64 { return d.runtimes.Load() }

// startLinks starts the config file's links (with what the API changed on them since) and the links created
// through the API. A link that is broken is started FAILED; only a state topic that cannot be written stops the
// start.
func (d *Daemon) startLinks(ctx context.Context) error {
	fileLinks := map[string]bool{}
	for _, fl := range d.cfg.Links {
		fileLinks[fl.Name] = true
		rec, ok := d.store.Link(fl.Name)
		if !ok || rec.Origin != state.OriginFile {
			rec = state.Link{Name: fl.Name, ID: newID(), Origin: state.OriginFile, CreatedMs: nowMs()}
			if err := d.store.PutLink(ctx, rec); err != nil {
				return err
			}
		}
		s := &slot{name: fl.Name, rec: rec, raw: mergeConfigs(fl.Raw, rec.Configs, rec.Reset)}
		d.addSlot(s)
		for _, m := range fl.Mirrors {
			if err := d.ensureFileMirror(ctx, s, m); err != nil {
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
		d.addSlot(&slot{name: rec.Name, rec: rec, raw: rec.Configs})
	}
	return nil
}

// addSlot registers a link found at start and starts it.
func (d *Daemon) addSlot(s *slot) {
	s.ops.Lock()
	defer s.ops.Unlock()
	d.mu.Lock()
	d.slots[s.name] = s
	d.mu.Unlock()
	d.startLocked(s)
}

func (d *Daemon) ensureFileMirror(ctx context.Context, s *slot, m config.Mirror) error {
	l := s.rt.Load().l
	if _, err := l.Mirror(m.Topic); err == nil {
		return nil
	}
	if l.Broken() != nil {
		return l.Broken()
	}
	return l.CreateMirror(ctx, m.SourceTopic, m.Topic, false)
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
