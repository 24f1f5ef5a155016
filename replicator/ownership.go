package replicator

import (
	"context"
	"fmt"
	"sort"
	"time"

	"go.uber.org/zap"
)

// This file is the replicator's part in sharing a link among several daemons: with OwnedPartitionsOnly it copies
// only the partitions its daemon owns (SetOwned), stops the ones it loses with nothing of theirs in flight before
// SetOwned returns, and checks the WriteGuard right before every produce. It does not decide who owns what.

// OwnedPartitionsOnly makes the replicator copy only the partitions SetOwned gives it: every partition of a mirror
// starts unowned (not fetched, written, audited or verified) until then. Default: every partition is owned (a
// single daemon).
func OwnedPartitionsOnly() Opt { return func(o *options) { o.ownedOnly = true } }

// WriteGuard is called right before each produce request is built; while it returns an error nothing is written
// (the writers retry after RetryBackoff). A daemon that shares a link checks there that its ownership still holds.
// Default: none.
func WriteGuard(fn func() error) Opt { return func(o *options) { o.writeGuard = fn } }

// SetOwned makes the replicator copy exactly the given partitions (by mirror topic) of its mirrors, with
// OwnedPartitionsOnly. Partitions it loses stop at once; SetOwned returns once none of them has a produce or a
// resolve in flight, so that another daemon may take them over. Partitions it gains resolve their position from the
// destination first (the previous owner's writes are the new owner's start). Partitions of mirrors not added yet
// are owned as soon as they are.
func (r *Replicator) SetOwned(ctx context.Context, owned map[string][]int32) error {
	if !r.opts.ownedOnly {
		return fmt.Errorf("SetOwned needs the replicator built with OwnedPartitionsOnly")
	}
	want := map[string]map[int32]bool{}
	for topic, ps := range owned {
		want[topic] = map[int32]bool{}
		for _, p := range ps {
			want[topic][p] = true
		}
	}
	r.mu.Lock()
	r.owned = want
	var released []*partition
	gained := 0
	for _, m := range r.mirrors {
		for _, p := range m.partitions {
			mine := want[m.topic][p.id]
			switch {
			case mine && p.unowned:
				r.acquireLocked(p)
				gained++
			case !mine && !p.unowned:
				r.releaseLocked(p)
				released = append(released, p)
			}
		}
	}
	writers := make([]*writer, 0, len(r.writers))
	for _, w := range r.writers {
		writers = append(writers, w)
	}
	if gained > 0 {
		r.pokeMetadata()
	}
	r.mu.Unlock()
	if len(released) > 0 || gained > 0 {
		r.log.Info("mirror partitions owned", zap.Int("gained", gained), zap.Int("released", len(released)))
	}
	return r.waitIdle(ctx, released, writers)
}

// acquireLocked starts copying a partition this replicator now owns. r.mu is held.
func (r *Replicator) acquireLocked(p *partition) {
	p.unowned = false
	if p.phase != phaseUnowned {
		return // FAILED partitions stay failed
	}
	p.phase = phaseResolve
	if p.m.paused {
		p.phase = phaseParked
	}
	p.gen++
	r.notBusyLocked(p) // its hand-out is dropped: the memory budget gets its bytes back
	// Another daemon wrote the partition meanwhile: check the tail against the source, re-read the transactions it
	// left open, and measure the copy rate afresh.
	p.checkTail = true
	p.txnSlots, p.lastEndedSlot = nil, nil
	p.rateAt = time.Time{}
}

// releaseLocked stops a partition another daemon gets: work in flight under its generation is dropped. r.mu is
// held.
func (r *Replicator) releaseLocked(p *partition) {
	p.unowned = true
	if p.phase == phaseFailed {
		return
	}
	p.phase = phaseUnowned
	p.gen++
	r.notBusyLocked(p) // its hand-out is dropped: the memory budget gets its bytes back
}

// waitIdle waits until no produce and no resolve of the partitions is in flight.
func (r *Replicator) waitIdle(ctx context.Context, ps []*partition, writers []*writer) error {
	if len(ps) == 0 {
		return nil
	}
	set := map[*partition]bool{}
	for _, p := range ps {
		set[p] = true
	}
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		busy := 0
		r.mu.Lock()
		for _, p := range ps {
			if p.resolving > 0 {
				busy++
			}
		}
		r.mu.Unlock()
		for _, w := range writers {
			w.mu.Lock()
			for p, pipe := range w.pipes {
				if set[p] && pipe.n > 0 {
					busy++
				}
			}
			w.mu.Unlock()
		}
		if busy == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("release %d mirror partitions: %d still have a produce or a resolve in flight: %w", len(ps), busy, ctx.Err())
		case <-tick.C:
		}
	}
}

// ownedAtStartLocked says whether a new partition of m starts owned. r.mu is held (or m is not shared yet).
func (r *Replicator) ownedAtStartLocked(topic string, id int32) bool {
	return !r.opts.ownedOnly || r.owned[topic][id]
}

// OwnedPartitions returns the partitions this replicator copies (with OwnedPartitionsOnly), by mirror topic.
func (r *Replicator) OwnedPartitions() map[string][]int32 {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string][]int32{}
	for _, m := range r.mirrors {
		for _, p := range m.partitions {
			if !p.unowned {
				out[m.topic] = append(out[m.topic], p.id)
			}
		}
		sort.Slice(out[m.topic], func(i, j int) bool { return out[m.topic][i] < out[m.topic][j] })
	}
	return out
}

// CopyRates returns the bytes per second each owned partition copied lately (for the group's load-aware
// assignment), by mirror topic and partition.
func (r *Replicator) CopyRates() map[string]map[int32]float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	out := map[string]map[int32]float64{}
	for _, m := range r.mirrors {
		for _, p := range m.partitions {
			if p.unowned {
				continue
			}
			if out[m.topic] == nil {
				out[m.topic] = map[int32]float64{}
			}
			out[m.topic][p.id] = p.byteRateLocked(now)
		}
	}
	return out
}

// Partitions returns every mirror's partition count, by mirror topic (the units a shared link hands out).
func (r *Replicator) Partitions() map[string]int32 {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]int32{}
	for _, m := range r.mirrors {
		out[m.topic] = int32(len(m.partitions))
	}
	return out
}

// byteRateLocked updates and returns the partition's copy rate in bytes per second (of raw batches). r.mu is held.
func (p *partition) byteRateLocked(now time.Time) float64 {
	const window = 5 * time.Second
	switch {
	case p.byteRateAt.IsZero():
		p.byteRateAt, p.byteRateBytes = now, p.counters.Bytes
	case now.Sub(p.byteRateAt) >= window:
		p.byteRate = float64(p.counters.Bytes-p.byteRateBytes) / now.Sub(p.byteRateAt).Seconds()
		p.byteRateAt, p.byteRateBytes = now, p.counters.Bytes
	}
	return max(p.byteRate, 0)
}

// writeAllowed asks the WriteGuard whether this replicator may write now; a refusal is logged once a second at most.
func (w *writer) writeAllowed() error {
	guard := w.r.opts.writeGuard
	if guard == nil {
		return nil
	}
	err := guard()
	if err != nil && time.Since(w.guardLogged) >= time.Second {
		w.guardLogged = time.Now()
		w.r.log.Warn("writes held back", zap.Int32("destination_broker", w.broker), zap.Error(err))
	}
	return err
}

// leaseHolds says whether the WriteGuard allows writing now. The audit and the background verifier ask it before
// they judge a partition: a daemon paused past its session that wakes up sees the new owner's writes as foreign,
// and must not fail partitions (and store the failure) for them.
func (r *Replicator) leaseHolds() bool {
	return r.opts.writeGuard == nil || r.opts.writeGuard() == nil
}
