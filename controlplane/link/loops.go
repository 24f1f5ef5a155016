package link

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"

	"github.com/clusterlink/clusterlink/aclsync"
	"github.com/clusterlink/clusterlink/config"
	"github.com/clusterlink/clusterlink/controlplane/state"
	"github.com/clusterlink/clusterlink/controlplane/task"
	"github.com/clusterlink/clusterlink/offsets"
	"github.com/clusterlink/clusterlink/replicator"
)

// This file is the link's sync loops — consumer offset sync and ACL sync, built from its config — and Reconfigure,
// which applies a config change to the running link.

// syncLoops are the sync loops of one config; a loop the config leaves off is nil.
type syncLoops struct {
	offsets *offsets.Syncer
	acls    *aclsync.Syncer
}

// buildSyncLoops makes the sync loops cfg asks for.
func (l *Link) buildSyncLoops(cfg *config.Link) syncLoops {
	var loops syncLoops
	if cfg.ConsumerOffsetSyncEnable {
		prefix := ""
		if cfg.ConsumerGroupPrefixEnable {
			prefix = cfg.ClusterLinkPrefix
		}
		loops.offsets = offsets.New(offsets.Config{
			Source: l.src, Destination: l.dst, Groups: cfg.ConsumerOffsetGroupFilters,
			Interval: cfg.ConsumerOffsetSyncInterval, GroupPrefix: prefix, Logger: l.log,
			Topics: l.offsetSyncedTopics, Report: l.offsetSyncTask.Record,
		})
		l.offsetSyncTask.Set(task.Active)
	}
	if cfg.ACLSyncEnable {
		loops.acls = aclsync.New(aclsync.Config{
			Source: l.src, Destination: l.dst, Filters: cfg.ACLFilters, Interval: cfg.ACLSyncInterval,
			Prefix: cfg.ClusterLinkPrefix, IsMirror: l.HasMirror, Store: aclStore{l.store, l.name}, Logger: l.log,
			Report: l.aclSyncTask.Record,
		})
		l.aclSyncTask.Set(task.Active)
	}
	return loops
}

func (l *Link) syncLoops() syncLoops {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.loops
}

// startSyncLoopsLocked runs the current sync loops under the link's run context until stopSyncLoopsLocked. loopMu
// is held.
func (l *Link) startSyncLoopsLocked() {
	if !l.runsLinkLoops() {
		return // another daemon of the link's group runs them (shared.go)
	}
	ctx, cancel := context.WithCancel(l.runCtx)
	done := make(chan struct{})
	l.syncStop, l.syncDone = cancel, done
	loops := l.syncLoops()
	var wg sync.WaitGroup
	if loops.offsets != nil {
		wg.Go(func() { _ = loops.offsets.Run(ctx) })
	}
	if loops.acls != nil {
		wg.Go(func() { _ = loops.acls.Run(ctx) })
	}
	go func() {
		wg.Wait()
		close(done)
	}()
}

// stopSyncLoopsLocked stops the running sync loops and waits for them. loopMu is held.
func (l *Link) stopSyncLoopsLocked() {
	if l.syncStop == nil {
		return
	}
	l.syncStop()
	<-l.syncDone
	l.syncStop, l.syncDone = nil, nil
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
// next round on (they are woken now), and the sync loops are stopped and rebuilt for it (the read-only guard of
// the mirrors stays). Only keys LiveChange accepts may differ from the current config, and the link must not be
// broken; the caller restarts the link otherwise.
func (l *Link) Reconfigure(cfg *config.Link) error {
	if l.broken != nil {
		return fmt.Errorf("link %s is FAILED: it is rebuilt, not reconfigured", l.name)
	}
	l.loopMu.Lock()
	defer l.loopMu.Unlock()
	l.cfg.Store(cfg)
	l.stopSyncLoopsLocked()
	loops := l.buildSyncLoops(cfg)
	l.mu.Lock()
	l.loops = loops
	close(l.changed)
	l.changed = make(chan struct{})
	l.mu.Unlock()
	if l.runCtx != nil && l.runCtx.Err() == nil && !cfg.ClusterLinkPaused {
		l.startSyncLoopsLocked()
	}
	if !cfg.AutoCreateMirrorTopicsEnable {
		l.autoCreateTask.Set(task.NotConfigured)
	}
	if l.rev != nil {
		if err := l.rev.Reconfigure(reverseConfig(cfg)); err != nil {
			return err
		}
	}
	l.log.Info("link reconfigured without a restart")
	return nil
}

// OffsetSyncStatus is the consumer offset sync's status and counters; false when it is off.
func (l *Link) OffsetSyncStatus() (offsets.Status, bool) {
	if s := l.syncLoops().offsets; s != nil {
		return s.Status(), true
	}
	return offsets.Status{}, false
}

// ACLSyncStatus is the ACL sync's status and counters; false when it is off.
func (l *Link) ACLSyncStatus() (aclsync.Status, bool) {
	if s := l.syncLoops().acls; s != nil {
		return s.Status(), true
	}
	return aclsync.Status{}, false
}

// ManagedACL is a destination ACL the link created, and why.
type ManagedACL struct {
	config.ACL
	// Reason is SYNCED (copied from the source) or MIRROR_READ_ONLY (keeps a mirror topic read-only).
	Reason string
}

// ManagedACLs lists the ACLs the link created on the destination: synced ones, then mirror guards.
func (l *Link) ManagedACLs() []ManagedACL {
	var out []ManagedACL
	if s := l.syncLoops().acls; s != nil {
		for _, a := range s.Managed() {
			out = append(out, ManagedACL{ACL: a, Reason: "SYNCED"})
		}
	}
	for _, topic := range l.guard.topics() {
		for _, a := range aclsync.MirrorGuards(topic) {
			out = append(out, ManagedACL{ACL: a, Reason: "MIRROR_READ_ONLY"})
		}
	}
	return out
}

// aclStore keeps a link's created ACLs in the state topic.
type aclStore struct {
	st   *state.Store
	link string
}

func (s aclStore) Load(context.Context) ([]config.ACL, error) {
	raw, err := s.st.ACLs(s.link)
	if err != nil {
		return nil, err
	}
	acls := make([]config.ACL, 0, len(raw))
	for _, r := range raw {
		var a config.ACL
		if err := json.Unmarshal(r, &a); err != nil {
			return nil, fmt.Errorf("the ACLs link %s created, in the state topic: %w", s.link, err)
		}
		acls = append(acls, a)
	}
	return acls, nil
}

func (s aclStore) Save(ctx context.Context, acls []config.ACL) error {
	raw := make([]state.ACL, 0, len(acls))
	for _, a := range acls {
		b, err := json.Marshal(a)
		if err != nil {
			return err
		}
		raw = append(raw, b)
	}
	return s.st.PutACLs(ctx, s.link, raw)
}

// offsetSyncedTopics are the mirror topics whose consumer offsets are still synced: every stored mirror that is
// neither stopped nor being stopped.
func (l *Link) offsetSyncedTopics() []offsets.Topic {
	var out []offsets.Topic
	for _, m := range l.store.Mirrors(l.name) {
		if m.Status == replicator.StatusStopped || m.Status == replicator.StatusPendingStopped {
			continue
		}
		out = append(out, offsets.Topic{Source: m.SourceTopic, Mirror: m.Topic})
	}
	return out
}
