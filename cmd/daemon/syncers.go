package daemon

import (
	"context"

	"go.uber.org/zap"

	"github.com/clusterlink/clusterlink/offsets"
	"github.com/clusterlink/clusterlink/replicator/link"
)

// This file builds a link's extra loops from its config: consumer offset sync and ACL sync.

// syncersFor returns the link's loops and the hooks its promote and failover use.
func (d *Daemon) syncersFor(l *link.Link) ([]link.Syncer, link.MirrorHooks) {
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
	return syncers, hooks
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
