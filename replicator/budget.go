package replicator

import (
	"context"
	"sync"
)

// DefaultMemoryBudget is the memory budget of a replicator given none: it suits a small container.
const DefaultMemoryBudget = 256 << 20

// MinMemoryBudget is the smallest memory budget: a few fetches of Kafka's default message.max.bytes.
const MinMemoryBudget = 4 << 20

// MemoryBudget bounds the bytes of fetched record batches held by the replicators that share it (a daemon gives
// all its links one): from the moment a fetch is sent (its response's room is reserved) until the batches of a
// partition are written or dropped. Fetch sizes adapt to it: a fetcher asks a broker for at most what it reserved,
// and waits while the budget is spent. Reservations are granted in the order asked, so a large one is not starved
// by smaller ones behind it. A single batch larger than the whole budget is still fetched, alone, and then
// exceeds it (Kafka returns at least one batch to make progress); Peak shows it.
type MemoryBudget struct {
	limit int64

	mu      sync.Mutex
	held    int64
	peak    int64
	waiters []*budgetWaiter // first come, first served
}

type budgetWaiter struct {
	n     int64
	ready chan struct{} // closed once n is granted
}

// NewMemoryBudget returns a budget of limit bytes: DefaultMemoryBudget for 0 or less, else at least MinMemoryBudget
// (a smaller limit is raised to it; the daemon's config refuses one).
func NewMemoryBudget(limit int64) *MemoryBudget {
	if limit <= 0 {
		limit = DefaultMemoryBudget
	}
	return &MemoryBudget{limit: max(limit, MinMemoryBudget)}
}

// Limit is the budget's size in bytes.
func (b *MemoryBudget) Limit() int64 { return b.limit }

// Held is how many bytes are reserved or held now.
func (b *MemoryBudget) Held() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.held
}

// Peak is the most bytes ever reserved or held at once.
func (b *MemoryBudget) Peak() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.peak
}

// acquire waits until n bytes (at most the limit) fit in the budget and takes them, after every earlier waiter. It
// returns how many bytes it took, or the context's error (having taken nothing).
func (b *MemoryBudget) acquire(ctx context.Context, n int64) (int64, error) {
	n = max(0, min(n, b.limit))
	b.mu.Lock()
	if len(b.waiters) == 0 && b.held+n <= b.limit {
		b.takeLocked(n)
		b.mu.Unlock()
		return n, nil
	}
	w := &budgetWaiter{n: n, ready: make(chan struct{})}
	b.waiters = append(b.waiters, w)
	b.mu.Unlock()
	select {
	case <-w.ready:
		return n, nil
	case <-ctx.Done():
		b.mu.Lock()
		defer b.mu.Unlock()
		select {
		case <-w.ready: // granted meanwhile: give it back
			b.releaseLocked(n)
		default:
			for i, o := range b.waiters {
				if o == w {
					b.waiters = append(b.waiters[:i], b.waiters[i+1:]...)
					break
				}
			}
			b.grantLocked() // a waiter behind this one may fit now
		}
		return 0, ctx.Err()
	}
}

// charge takes n bytes whether or not they fit: a fetch answered with more than its reservation (one batch larger
// than it, which Kafka returns to make progress).
func (b *MemoryBudget) charge(n int64) {
	if n <= 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.takeLocked(n)
}

// release gives n bytes back and lets waiters that now fit in.
func (b *MemoryBudget) release(n int64) {
	if n <= 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.releaseLocked(n)
}

func (b *MemoryBudget) takeLocked(n int64) {
	b.held += n
	b.peak = max(b.peak, b.held)
}

func (b *MemoryBudget) releaseLocked(n int64) {
	b.held = max(0, b.held-n)
	b.grantLocked()
}

// grantLocked grants waiters in order while the first one fits.
func (b *MemoryBudget) grantLocked() {
	for len(b.waiters) > 0 && b.held+b.waiters[0].n <= b.limit {
		w := b.waiters[0]
		b.waiters = b.waiters[1:]
		b.takeLocked(w.n)
		close(w.ready)
	}
}

// SoftMemoryLimit is the Go runtime memory limit (runtime/debug.SetMemoryLimit, GOMEMLIMIT) that keeps a process
// holding budget bytes of batches near that: the budget, half of it again for the garbage collector's headroom and
// the batches being copied out of a response, and 64 MiB for the rest of the process (clients, metadata, mirror
// states). Without a limit the heap grows to twice what is live before the collector runs.
func SoftMemoryLimit(budget int64) int64 { return budget + budget/2 + 64<<20 }
