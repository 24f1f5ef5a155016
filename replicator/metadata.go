package replicator

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/clusterlink/clusterlink/replicator/kafkaapi"
)

// metadataLoop keeps every partition's source and destination leaders current, follows partition increases,
// detects a deleted or recreated source topic, and starts position resolution for partitions that need it. It runs
// every MetadataRefresh and whenever something pokes it (a leader error, a new mirror, a resync).
func (r *Replicator) metadataLoop(ctx context.Context) error {
	ticker := time.NewTicker(r.opts.metadataRefresh)
	defer ticker.Stop()
	failures := 0
	for {
		if err := r.refreshMetadata(ctx); err != nil && ctx.Err() == nil {
			failures++
			if failures%60 == 1 { // the first of a run of failures, then every 60th
				r.log.Warn("metadata refresh failed", zap.Int("consecutive_failures", failures), zap.Error(err))
			}
		} else {
			failures = 0
		}
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		case <-r.metadataPoke:
			// Coalesce bursts of pokes (many partitions resyncing at once).
			if err := sleep(ctx, 50*time.Millisecond); err != nil {
				return nil
			}
		}
	}
}

func requestMetadata(ctx context.Context, cl *kgo.Client, topics []string) (map[string]kafkaapi.TopicMetadata, error) {
	resp, err := kafkaapi.NewMetadata(topics).RequestWith(ctx, cl)
	if err != nil {
		return nil, err
	}
	return kafkaapi.TopicsMetadata(resp), nil
}

func (r *Replicator) refreshMetadata(ctx context.Context) error {
	r.mu.Lock()
	var srcTopics, dstTopics []string
	for _, m := range r.mirrors {
		srcTopics = append(srcTopics, m.sourceTopic)
		dstTopics = append(dstTopics, m.topic)
	}
	r.mu.Unlock()
	if len(srcTopics) == 0 {
		return nil
	}
	rctx, cancel := context.WithTimeout(ctx, r.opts.requestTimeout)
	defer cancel()
	srcMeta, err := requestMetadata(rctx, r.src, srcTopics)
	if err != nil {
		return fmt.Errorf("source metadata: %w", err)
	}
	dstMeta, err := requestMetadata(rctx, r.dst, dstTopics)
	if err != nil {
		return fmt.Errorf("destination metadata: %w", err)
	}

	// Partition increases need a request to the destination, made outside the lock.
	type grow struct {
		m     *mirror
		count int32
	}
	var grows []grow

	r.mu.Lock()
	for _, m := range r.mirrors {
		sm, ok := srcMeta[m.sourceTopic]
		if !ok || sm.Err != nil {
			m.sourceMissing++
			if m.sourceMissing >= r.opts.sourceMissingThreshold && m.errCode == "" {
				r.failMirrorLocked(m, CodeSourceTopicMayBeDeleted,
					fmt.Sprintf("source topic %s not found in %d consecutive metadata refreshes (%v)", m.sourceTopic, m.sourceMissing, sm.Err))
			}
			continue
		}
		m.sourceMissing = 0
		if m.sourceTopicID != ([16]byte{}) && sm.ID != ([16]byte{}) && sm.ID != m.sourceTopicID && m.errCode == "" {
			r.failMirrorLocked(m, CodeSourceTopicIDChanged,
				fmt.Sprintf("source topic %s was deleted and recreated (topic id changed): the mirror's offsets no longer match it", m.sourceTopic))
			continue
		}
		if m.errCode != "" {
			continue
		}
		srcCount := int32(len(sm.Partitions))
		if srcCount < int32(len(m.partitions)) {
			r.failMirrorLocked(m, CodeSourcePartitionsDecreased,
				fmt.Sprintf("source topic %s has %d partitions, fewer than the mirror's %d", m.sourceTopic, srcCount, len(m.partitions)))
			continue
		}
		if srcCount > int32(len(m.partitions)) {
			grows = append(grows, grow{m, srcCount})
		}
		dm := dstMeta[m.topic]
		m.mirrorTopicID = dm.ID
		for _, p := range m.partitions {
			sp, sok := sm.Partitions[p.id]
			dp, dok := dm.Partitions[p.id]
			if sok {
				p.srcLeader, p.srcLeaderEpoch = sp.Leader, sp.LeaderEpoch
			}
			if dok {
				p.dstLeader, p.dstLeaderEpoch = dp.Leader, dp.LeaderEpoch
			}
			if !sok || !dok || p.srcLeader < 0 || p.dstLeader < 0 {
				continue
			}
			r.fetcherForLocked(p.srcLeader)
			r.writerForLocked(p.dstLeader)
			if p.phase == phaseResolve && r.running {
				p.phase = phaseResolving
				gen := p.gen
				p.resolving++
				rctx, cancel := context.WithCancel(r.runCtx)
				stopResolve := context.AfterFunc(p.m.stopped, cancel)
				r.group.Go(func() error {
					defer cancel()
					defer stopResolve()
					r.resolve(rctx, p, gen)
					r.mu.Lock()
					p.resolving--
					r.mu.Unlock()
					return nil
				})
			}
		}
	}
	for _, f := range r.fetchers {
		f.wake()
	}
	r.mu.Unlock()

	for _, g := range grows {
		if err := r.growMirrorTopic(ctx, g.m.topic, g.count); err != nil {
			r.log.Warn("follow source partition increase", zap.String("mirror_topic", g.m.topic), zap.Error(err))
			continue
		}
		r.mu.Lock()
		for p := int32(len(g.m.partitions)); p < g.count; p++ {
			g.m.partitions = append(g.m.partitions, g.m.newPartition(p))
		}
		r.mu.Unlock()
		r.log.Info("mirror partitions added", zap.String("mirror_topic", g.m.topic), zap.Int32("partitions", g.count))
		r.pokeMetadata()
	}
	return nil
}

// failMirrorLocked stops a whole mirror. r.mu must be held.
func (r *Replicator) failMirrorLocked(m *mirror, code, msg string) {
	m.errCode, m.errMsg = code, msg
	for _, p := range m.partitions {
		r.failLocked(p, code, msg)
	}
}
