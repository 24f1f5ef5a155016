package link

import (
	"context"
	"maps"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/clusterlink/clusterlink/controlplane/state"
	"github.com/clusterlink/clusterlink/replicator"
)

// This file keeps partition failures across restarts: the replicator reports each FAILED partition as it happens,
// and the link stores it in the mirror's record at once, so that a restarted daemon keeps the partition FAILED
// instead of resuming the copy past whatever stopped it (a foreign write, a refused batch).

// failedPartitions are failures reported by the replicator and not stored yet, by mirror topic and partition.
type failedPartitions struct {
	mu      sync.Mutex
	pending map[string]map[int32]replicator.PartitionFailure
	poke    chan struct{}
}

// partitionFailed is the replicator's OnPartitionFailed: it is called with the replicator's lock held, so it only
// notes the failure and wakes failureLoop.
func (l *Link) partitionFailed(f replicator.PartitionFailure) {
	l.failed.mu.Lock()
	if l.failed.pending == nil {
		l.failed.pending = map[string]map[int32]replicator.PartitionFailure{}
	}
	if l.failed.pending[f.MirrorTopic] == nil {
		l.failed.pending[f.MirrorTopic] = map[int32]replicator.PartitionFailure{}
	}
	l.failed.pending[f.MirrorTopic][f.Partition] = f
	l.failed.mu.Unlock()
	select {
	case l.failed.poke <- struct{}{}:
	default:
	}
}

// failureLoop stores reported failures until ctx ends, and a last time after.
func (l *Link) failureLoop(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			l.storeFailures(fctx)
			cancel()
			return nil
		case <-l.failed.poke:
		}
		if !l.storeFailures(ctx) {
			_ = sleep(ctx, time.Second) // the destination refused: try again soon
			select {
			case l.failed.poke <- struct{}{}:
			default:
			}
		}
	}
}

// storeFailures writes the pending failures into their mirror records; it reports whether all were stored.
func (l *Link) storeFailures(ctx context.Context) bool {
	l.failed.mu.Lock()
	pending := l.failed.pending
	l.failed.pending = nil
	l.failed.mu.Unlock()
	ok := true
	for _, topic := range slices.Sorted(maps.Keys(pending)) {
		fs := pending[topic]
		if !l.holdsStateWriter() {
			// Another daemon of the group writes the link's state: it applies the report (statewriter.go).
			if err := l.reportFailures(ctx, topic, fs); err != nil {
				ok = false
				l.log.Warn("report a mirror partition failure to the link's state writer", zap.String("mirror_topic", topic), zap.Error(err))
				for p, f := range fs {
					l.partitionFailedAgain(topic, p, f)
				}
			}
			continue
		}
		err := l.updateMirror(ctx, topic, func(m *state.Mirror) bool {
			if m.Status == replicator.StatusStopped || m.Status == replicator.StatusPendingStopped {
				return false // no longer copying: the failure does not matter any more
			}
			for _, f := range fs {
				m.Failures = slices.DeleteFunc(m.Failures, func(s state.Failure) bool { return s.Partition == f.Partition })
				m.Failures = append(m.Failures, state.Failure{Partition: f.Partition, Code: f.Code, Message: f.Message,
					TimeMs: f.Time.UnixMilli(), Diverged: f.Diverged})
			}
			slices.SortFunc(m.Failures, func(a, b state.Failure) int { return int(a.Partition - b.Partition) })
			return true
		})
		if err != nil && !IsNotFound(err) {
			ok = false
			l.log.Warn("store a mirror partition failure", zap.String("mirror_topic", topic), zap.Error(err))
			for p, f := range fs {
				l.partitionFailedAgain(topic, p, f)
			}
		}
	}
	return ok
}

// partitionFailedAgain puts back a failure that could not be stored, unless a newer one came meanwhile.
func (l *Link) partitionFailedAgain(topic string, p int32, f replicator.PartitionFailure) {
	l.failed.mu.Lock()
	defer l.failed.mu.Unlock()
	if l.failed.pending == nil {
		l.failed.pending = map[string]map[int32]replicator.PartitionFailure{}
	}
	if l.failed.pending[topic] == nil {
		l.failed.pending[topic] = map[int32]replicator.PartitionFailure{}
	}
	if _, newer := l.failed.pending[topic][p]; !newer {
		l.failed.pending[topic][p] = f
	}
}

// failuresOf are a stored mirror's failures as the replicator takes them.
func failuresOf(m state.Mirror) []replicator.PartitionFailure {
	var out []replicator.PartitionFailure
	for _, f := range m.Failures {
		out = append(out, replicator.PartitionFailure{MirrorTopic: m.Topic, Partition: f.Partition, Code: f.Code,
			Message: f.Message, Time: time.UnixMilli(f.TimeMs), Diverged: f.Diverged})
	}
	return out
}

// divergence returns the first partition of a mirror that no longer equals its source, from the stored failures or
// the replicator's status; ok is false if there is none.
func divergence(m state.Mirror, view Mirror) (partition int32, message string, ok bool) {
	for _, f := range m.Failures {
		if f.Diverged {
			return f.Partition, f.Message, true
		}
	}
	for _, p := range view.Partitions {
		if p.Diverged {
			return p.Partition, p.ErrorMessage, true
		}
	}
	return 0, "", false
}
