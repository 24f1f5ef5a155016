package link

import (
	"context"
	"errors"
	"slices"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/clusterlink/clusterlink/aclsync"
	"github.com/clusterlink/clusterlink/config"
)

// mirrorGuard keeps a link's mirror topics read-only with a DENY WRITE ACL where the destination has an
// authorizer. It lives as long as the link: it knows which mirrors it guards across config changes.
type mirrorGuard struct {
	dst *kgo.Client
	log *zap.Logger

	mu           sync.Mutex
	guarded      map[string]bool
	noAuthorizer bool
	restored     int64 // removed guard ACLs put back
}

func newMirrorGuard(dst *kgo.Client, log *zap.Logger) *mirrorGuard {
	return &mirrorGuard{dst: dst, log: log, guarded: map[string]bool{}}
}

// protect makes a mirror topic read-only for everyone but the link (idempotent).
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

// unprotect removes the read-only guard of a promoted topic.
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

// topics are the guarded mirror topics, sorted.
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

// restoreRemoved puts back the guard ACLs someone removed from the destination, and reports how many.
func (g *mirrorGuard) restoreRemoved(ctx context.Context) (int, error) {
	g.mu.Lock()
	skip := g.noAuthorizer
	g.mu.Unlock()
	topics := g.topics()
	if skip || len(topics) == 0 {
		return 0, nil
	}
	var want []config.ACL
	for _, t := range topics {
		want = append(want, aclsync.MirrorGuards(t)...)
	}
	missing, err := aclsync.MissingGuards(ctx, g.dst, want)
	if err != nil || len(missing) == 0 {
		return 0, err
	}
	for _, a := range missing {
		g.log.Warn("a read-only guard ACL of a mirror topic was removed from the destination: restoring it",
			zap.String("mirror_topic", a.ResourceName), zap.Stringer("acl", a))
	}
	if err := aclsync.Guard(ctx, g.dst, missing); err != nil {
		return 0, err
	}
	g.mu.Lock()
	g.restored += int64(len(missing))
	g.mu.Unlock()
	return len(missing), nil
}

// restoredCount is how many removed guard ACLs were put back.
func (g *mirrorGuard) restoredCount() int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.restored
}

// guardLoop checks the read-only guards every acl.sync.ms and restores those someone removed.
func (l *Link) guardLoop(ctx context.Context) error {
	for {
		cctx, cancel := context.WithTimeout(ctx, l.requestTimeout())
		if !l.runsLinkLoops() {
			// another daemon of the link's group runs it
		} else if _, err := l.guard.restoreRemoved(cctx); err != nil && ctx.Err() == nil {
			l.log.Warn("check the read-only guards of the mirror topics", zap.Error(err))
		}
		cancel()
		if l.sleepOrChange(ctx, l.config().ACLSyncInterval) != nil {
			return nil
		}
	}
}

// GuardsRestored is how many read-only guard ACLs removed by someone the link put back.
func (l *Link) GuardsRestored() int64 { return l.guard.restoredCount() }
