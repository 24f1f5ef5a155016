package link

import (
	"context"
	"errors"
	"slices"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/clusterlink/clusterlink/aclsync"
)

// mirrorGuard keeps a link's mirror topics read-only with a DENY WRITE ACL where the destination has an
// authorizer. It lives as long as the link: it knows which mirrors it guards across config changes.
type mirrorGuard struct {
	dst *kgo.Client
	log *zap.Logger

	mu           sync.Mutex
	guarded      map[string]bool
	noAuthorizer bool
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
