package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/clusterlink/clusterlink/aclsync"
	"github.com/clusterlink/clusterlink/controlplane/adminapi"
	"github.com/clusterlink/clusterlink/config"
	"github.com/clusterlink/clusterlink/offsets"
	"github.com/clusterlink/clusterlink/controlplane/link"
	"github.com/clusterlink/clusterlink/controlplane/state"
)

// This file builds a link's extra loops from its config: consumer offset sync and ACL sync.

// syncersFor builds a link's sync loops from its config, and the hooks its promote and failover use. guard is the link's read-only mirror guard, kept across
// reconfigurations (it knows which mirrors it guards); nil makes a new one.
func (d *Daemon) syncersFor(l *link.Link, guard *mirrorGuard) ([]link.Syncer, link.MirrorHooks) {
	cfg := l.Config()
	var syncers []link.Syncer
	var hooks link.MirrorHooks
	log := d.log.With(zap.String("link", l.Name()))

	if cfg.ConsumerOffsetSyncEnable {
		prefix := ""
		if cfg.ConsumerGroupPrefixEnable {
			prefix = cfg.ClusterLinkPrefix
		}
		s := offsets.New(offsets.Config{
			Source: l.Source(), Destination: d.dst, Groups: cfg.ConsumerOffsetGroupFilters,
			Interval: cfg.ConsumerOffsetSyncInterval, GroupPrefix: prefix, Logger: log,
			Topics: func() []offsets.Topic {
				var out []offsets.Topic
				for _, m := range l.SyncedMirrors() {
					out = append(out, offsets.Topic{Source: m[0], Mirror: m[1]})
				}
				return out
			},
		})
		syncers = append(syncers, offsetSyncTask{s})
		hooks.FinalOffsetSync = s.SyncTopic
	} else {
		syncers = append(syncers, notConfigured(link.TaskConsumerOffsetSync))
	}

	if guard == nil {
		guard = &mirrorGuard{dst: d.dst, log: log, guarded: map[string]bool{}}
	}
	acls := &aclTask{guard: guard}
	if cfg.ACLSyncEnable {
		acls.s = aclsync.New(aclsync.Config{
			Source: l.Source(), Destination: d.dst, Filters: cfg.ACLFilters, Interval: cfg.ACLSyncInterval,
			Prefix: cfg.ClusterLinkPrefix, IsMirror: l.HasMirror, Store: aclStore{d.store, l.Name()}, Logger: log,
		})
	}
	syncers = append(syncers, acls)
	hooks.Protect, hooks.Unprotect = acls.guard.protect, acls.guard.unprotect
	return syncers, hooks
}

// guardOf returns the read-only mirror guard of a link's current syncers, if it has one.
func guardOf(l *link.Link) *mirrorGuard {
	for _, s := range l.Syncers() {
		if t, ok := s.(*aclTask); ok {
			return t.guard
		}
	}
	return nil
}

// aclTask is the ACL sync loop (when acl.sync.enable) and the read-only guards of the link's mirror topics.
type aclTask struct {
	s     *aclsync.Syncer // nil when ACL sync is off
	guard *mirrorGuard
}

func (t *aclTask) Run(ctx context.Context) error {
	if t.s == nil {
		return nil
	}
	return t.s.Run(ctx)
}

func (t *aclTask) Task() link.TaskStatus {
	if t.s == nil {
		return link.TaskStatus{Name: link.TaskACLSync, State: link.TaskNotConfigured}
	}
	st := t.s.Status()
	return link.TaskStatus{Name: link.TaskACLSync, State: st.State, ErrorCode: st.ErrorCode, ErrorMessage: st.ErrorMessage}
}

// ManagedACLs lists the ACLs the link created on the destination: synced ones and mirror guards.
func (t *aclTask) ManagedACLs() []adminapi.ACL {
	var out []adminapi.ACL
	if t.s != nil {
		for _, a := range t.s.Managed() {
			out = append(out, apiACL(a, "SYNCED"))
		}
	}
	for _, topic := range t.guard.topics() {
		out = append(out, apiACL(aclsync.MirrorGuard(topic), "MIRROR_READ_ONLY"))
	}
	return out
}

func apiACL(a config.ACL, reason string) adminapi.ACL {
	return adminapi.ACL{Principal: a.Principal, Host: a.Host, Permission: a.Permission.String(), Operation: a.Operation.String(),
		ResourceType: a.ResourceType.String(), ResourceName: a.ResourceName, PatternType: a.PatternType.String(), Reason: reason}
}

// mirrorGuard keeps mirror topics read-only with a DENY WRITE ACL where the destination has an authorizer.
type mirrorGuard struct {
	dst *kgo.Client
	log *zap.Logger

	mu           sync.Mutex
	guarded      map[string]bool
	noAuthorizer bool
}

func (g *mirrorGuard) protect(ctx context.Context, topic string) error {
	g.mu.Lock()
	skip := g.noAuthorizer || g.guarded[topic]
	g.mu.Unlock()
	if skip {
		return nil
	}
	err := aclsync.ProtectMirror(ctx, g.dst, topic)
	g.mu.Lock()
	defer g.mu.Unlock()
	if errors.Is(err, aclsync.ErrNoAuthorizer) {
		g.noAuthorizer = true
		g.log.Info("the destination has no authorizer: mirror topics are not guarded with ACLs; writes by others are detected and stop the partition")
		return nil
	}
	if err == nil {
		g.guarded[topic] = true
	}
	return err
}

func (g *mirrorGuard) unprotect(ctx context.Context, topic string) error {
	g.mu.Lock()
	skip := g.noAuthorizer
	g.mu.Unlock()
	if skip {
		return nil
	}
	if err := aclsync.UnprotectMirror(ctx, g.dst, topic); err != nil {
		return err
	}
	g.mu.Lock()
	delete(g.guarded, topic)
	g.mu.Unlock()
	return nil
}

func (g *mirrorGuard) topics() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []string
	for t := range g.guarded {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}

// aclStore keeps a link's created ACLs in the state topic.
type aclStore struct {
	st   *state.Store
	link string
}

func (s aclStore) Load(context.Context) ([]config.ACL, error) {
	raw := s.st.ACLs(s.link)
	if raw == nil {
		return nil, nil
	}
	var acls []config.ACL
	if err := json.Unmarshal(raw, &acls); err != nil {
		return nil, fmt.Errorf("the ACLs link %s created, in the state topic: %w", s.link, err)
	}
	return acls, nil
}

func (s aclStore) Save(ctx context.Context, acls []config.ACL) error {
	return s.st.PutACLs(ctx, s.link, acls)
}

type offsetSyncTask struct{ s *offsets.Syncer }

func (t offsetSyncTask) Run(ctx context.Context) error { return t.s.Run(ctx) }

func (t offsetSyncTask) Task() link.TaskStatus {
	st := t.s.Status()
	return link.TaskStatus{Name: link.TaskConsumerOffsetSync, State: st.State, ErrorCode: st.ErrorCode, ErrorMessage: st.ErrorMessage}
}

// notConfigured is the task of a loop the link's config leaves off.
type notConfigured string

func (notConfigured) Run(context.Context) error { return nil }

func (n notConfigured) Task() link.TaskStatus {
	return link.TaskStatus{Name: string(n), State: link.TaskNotConfigured}
}
