package replicator

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
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
		dm, dok := dstMeta[m.topic]
		if why := r.mirrorTopicChangedLocked(m, dm, dok, srcCount); why != "" {
			for _, p := range m.partitions {
				p.diverged = true
			}
			r.failMirrorLocked(m, CodeIllegalState, why)
			continue
		}
		if dok && dm.ID != ([16]byte{}) {
			m.mirrorTopicID = dm.ID
		}
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
			g.m.partitions = append(g.m.partitions, g.m.newPartition(p, r.ownedAtStartLocked(g.m.topic, p)))
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

// mirrorTopicChangedLocked says how the mirror topic on the destination was changed by something other than the
// link ("" if it was not): deleted (missing from several refreshes in a row), deleted and recreated (another topic
// id), or given partitions the source does not have. r.mu must be held.
func (r *Replicator) mirrorTopicChangedLocked(m *mirror, dm kafkaapi.TopicMetadata, found bool, srcCount int32) string {
	if !found || errors.Is(dm.Err, kerr.UnknownTopicOrPartition) {
		// A topic just created takes a moment to reach every broker's metadata: missing for several refreshes and
		// for some seconds is gone.
		if m.mirrorMissing == 0 {
			m.mirrorMissingSince = time.Now()
		}
		m.mirrorMissing++
		// A topic this run never saw yet (just created: on a loaded broker many new topics take up to a minute to
		// show with their partitions) gets longer than one that was seen and then went away.
		grace := 5 * time.Second
		if m.mirrorTopicID == ([16]byte{}) {
			grace = 2 * time.Minute
		}
		if m.mirrorMissing >= r.opts.sourceMissingThreshold && time.Since(m.mirrorMissingSince) >= grace {
			return fmt.Sprintf("mirror topic %s is gone from the destination (not found in %d consecutive metadata refreshes: %v): it was deleted by something other than the link",
				m.topic, m.mirrorMissing, dm.Err)
		}
		return ""
	}
	if dm.Err != nil {
		return "" // another error (authorization, a leader election): decided at the next refresh
	}
	m.mirrorMissing = 0
	if m.mirrorTopicID != ([16]byte{}) && dm.ID != ([16]byte{}) && dm.ID != m.mirrorTopicID {
		return fmt.Sprintf("mirror topic %s was deleted and recreated on the destination (its topic id changed): its offsets no longer hold the source's records", m.topic)
	}
	if n := int32(len(dm.Partitions)); n > max(int32(len(m.partitions)), srcCount) {
		return fmt.Sprintf("mirror topic %s has %d partitions on the destination, but the source %s has %d: partitions were added to the mirror by something other than the link",
			m.topic, n, m.sourceTopic, srcCount)
	}
	return ""
}
