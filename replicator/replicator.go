package replicator

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"
)

// Replicator copies mirror topics from a source cluster to a destination cluster. It runs one fetcher per source
// broker and one writer per destination broker; partitions move between them as leaders move.
type Replicator struct {
	src, dst       *kgo.Client
	srcAdm, dstAdm *kadm.Client
	opts           options
	log            *zap.Logger

	mu      sync.Mutex
	mirrors map[string]*mirror // by mirror topic name
	// owned are the partitions this replicator copies, by mirror topic, with OwnedPartitionsOnly (see ownership.go).
	owned    map[string]map[int32]bool
	fetchers map[int32]*fetcher
	writers  map[int32]*writer
	running  bool
	runCtx   context.Context
	group    *errgroup.Group

	metadataPoke chan struct{}

	markers      markerProducer
	txn          txnClient
	txnList      openTxnLister
	conns        produceClients
	decompressor kgo.Decompressor
	// sampleNext is where the background verifier's next round starts among the copying partitions.
	sampleNext int
	// positions batch the position reads of partitions resolving at once (see positions.go).
	positions positionBatchers
	// pipelineAge is PipelineMaxAge bounded by the destination's producer.id.expiration.ms (nanoseconds).
	pipelineAge atomic.Int64
}

// New returns a Replicator that reads from src and writes to dst, or every option that is out of its range. The
// clients belong to the caller; they must not have a default produce topic or consume any topics, and dst must be
// allowed to produce to, describe and delete records of the mirror topics.
func New(src, dst *kgo.Client, opts ...Opt) (*Replicator, error) {
	o := optionsOf(opts...)
	err := o.validate()
	if src == nil || dst == nil {
		err = errors.Join(err, errors.New("the source and the destination client are required"))
	}
	if err != nil {
		return nil, fmt.Errorf("replicator options:\n%w", err)
	}
	return newReplicator(src, dst, o), nil
}

// newReplicator builds a Replicator from validated options.
func newReplicator(src, dst *kgo.Client, o options) *Replicator {
	r := &Replicator{
		src: src, dst: dst,
		srcAdm: kadm.NewClient(src), dstAdm: kadm.NewClient(dst),
		opts: o, log: o.log,
		mirrors:      map[string]*mirror{},
		fetchers:     map[int32]*fetcher{},
		writers:      map[int32]*writer{},
		metadataPoke: make(chan struct{}, 1),
		decompressor: kgo.DefaultDecompressor(),
	}
	r.pipelineAge.Store(int64(o.pipelineMaxAge))
	if r.opts.budget == nil {
		r.opts.budget = NewMemoryBudget(DefaultMemoryBudget)
	}
	return r
}

// MirrorSpec names a mirror topic and its source.
type MirrorSpec struct {
	MirrorTopic string
	SourceTopic string // default: MirrorTopic
	// StartOffset is where a new, empty mirror starts; nil means the replicator's default.
	StartOffset *StartOffset
	// Paused adds the mirror paused: nothing is copied until ResumeMirror.
	Paused bool
	// Failed are partitions that stopped with an error before (kept by the caller across restarts): they stay
	// FAILED, with their code and message, until RestartMirror.
	Failed []PartitionFailure
}

// AddMirror creates the mirror topic on the destination if it does not exist (same partition count as the source,
// the source's topic configs with the overrides byte-for-byte copying needs) and starts mirroring it. An existing
// mirror topic resumes from its log end offset.
func (r *Replicator) AddMirror(ctx context.Context, spec MirrorSpec) error {
	if spec.SourceTopic == "" {
		spec.SourceTopic = spec.MirrorTopic
	}
	return r.AddMirrors(ctx, []MirrorSpec{spec})[spec.MirrorTopic]
}

// AddMirrors adds many mirrors as AddMirror adds one, with a constant number of requests for all of them (source
// metadata and configs, destination metadata, topic creation in requests of up to 100 topics), and returns each
// mirror topic's error (nil where it was added).
func (r *Replicator) AddMirrors(ctx context.Context, specs []MirrorSpec) map[string]error {
	errs := map[string]error{}
	var todo []MirrorSpec
	seen := map[string]bool{}
	r.mu.Lock()
	for _, spec := range specs {
		if spec.SourceTopic == "" {
			spec.SourceTopic = spec.MirrorTopic
		}
		if _, exists := r.mirrors[spec.MirrorTopic]; exists || seen[spec.MirrorTopic] {
			errs[spec.MirrorTopic] = fmt.Errorf("mirror topic %s already exists", spec.MirrorTopic)
			continue
		}
		seen[spec.MirrorTopic] = true
		errs[spec.MirrorTopic] = nil
		todo = append(todo, spec)
	}
	r.mu.Unlock()
	if len(todo) == 0 {
		return errs
	}
	srcs, failed := r.ensureMirrorTopics(ctx, todo)
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, spec := range todo {
		if err := failed[spec.MirrorTopic]; err != nil {
			errs[spec.MirrorTopic] = err
			continue
		}
		errs[spec.MirrorTopic] = r.addMirrorLocked(spec, srcs[spec.MirrorTopic])
	}
	r.pokeMetadata()
	return errs
}

// addMirrorLocked starts mirroring spec, whose mirror topic is ready. r.mu is held.
func (r *Replicator) addMirrorLocked(spec MirrorSpec, src *sourceTopic) error {
	start := r.opts.startOffset
	if spec.StartOffset != nil {
		start = *spec.StartOffset
	}
	if _, exists := r.mirrors[spec.MirrorTopic]; exists {
		return fmt.Errorf("mirror topic %s already exists", spec.MirrorTopic)
	}
	m := &mirror{
		topic: spec.MirrorTopic, sourceTopic: spec.SourceTopic, start: start,
		sourceTopicID: src.topicID, statusTime: time.Now(),
	}
	m.stopped, m.stop = context.WithCancel(context.Background())
	m.topicHash = topicHash(m.topic)
	m.paused = spec.Paused
	m.compacted = strings.Contains(src.configs["cleanup.policy"], "compact")
	for p := int32(0); p < src.partitions; p++ {
		m.partitions = append(m.partitions, m.newPartition(p, r.ownedAtStartLocked(m.topic, p)))
	}
	for _, f := range spec.Failed {
		if f.Partition >= 0 && int(f.Partition) < len(m.partitions) {
			p := m.partitions[f.Partition]
			p.phase, p.errCode, p.errMsg, p.diverged = phaseFailed, f.Code, f.Message, f.Diverged
		}
	}
	r.mirrors[spec.MirrorTopic] = m
	r.log.Info("mirror added", zap.String("mirror_topic", m.topic), zap.String("source_topic", m.sourceTopic),
		zap.Int("partitions", len(m.partitions)), zap.Stringer("start", start))
	return nil
}

// Run copies data until ctx ends. It returns nil on a clean stop: every produce in flight has been answered. Once
// it returned, Run may be called again: copying continues from each mirror's log end offset.
func (r *Replicator) Run(ctx context.Context) error {
	r.mu.Lock()
	if r.running {
		r.mu.Unlock()
		return errors.New("replicator is already running: Run it again once the running Run returned")
	}
	g, gctx := errgroup.WithContext(ctx)
	r.running, r.runCtx, r.group = true, gctx, g
	// The clients of a run are made at first use and closed when it ends; a new run makes new ones.
	r.txn, r.conns = txnClient{}, produceClients{}
	// Partitions that were copying when a previous run ended re-read their position: a produce may have been in
	// flight. Failed and paused ones stay as they are.
	for _, m := range r.mirrors {
		for _, p := range m.partitions {
			if p.phase == phaseCopy || p.phase == phaseResolving {
				p.phase = phaseResolve
				r.notBusyLocked(p)
				p.gen++
			}
		}
	}
	r.mu.Unlock()

	r.pipelineAge.Store(0) // until learnPipelineAge knows the destination's producer expiration
	g.Go(func() error { r.learnPipelineAge(gctx); return nil })
	g.Go(func() error { return r.metadataLoop(gctx) })
	g.Go(func() error { return r.auditLoop(gctx) })
	g.Go(func() error { return r.sampleLoop(gctx) })
	err := g.Wait()
	if r.txn.cl != nil {
		r.txn.cl.Close()
	}
	for _, cl := range r.conns.cls {
		cl.Close()
	}
	r.mu.Lock()
	r.running = false
	// The batches still queued are dropped with the run: the budget may be shared with replicators still running.
	for _, m := range r.mirrors {
		for _, p := range m.partitions {
			r.notBusyLocked(p)
		}
	}
	r.fetchers = map[int32]*fetcher{}
	r.writers = map[int32]*writer{}
	r.mu.Unlock()
	if ctx.Err() != nil && (err == nil || errors.Is(err, context.Canceled)) {
		return nil
	}
	return err
}

// Status returns every mirror's status, sorted by mirror topic.
func (r *Replicator) Status() []MirrorStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []MirrorStatus
	for _, m := range r.mirrors {
		out = append(out, m.statusLocked())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].MirrorTopic < out[j].MirrorTopic })
	return out
}

// MirrorStatus returns one mirror's status.
func (r *Replicator) MirrorStatus(topic string) (MirrorStatus, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	m, ok := r.mirrors[topic]
	if !ok {
		return MirrorStatus{}, false
	}
	return m.statusLocked(), true
}

func (r *Replicator) pokeMetadata() {
	select {
	case r.metadataPoke <- struct{}{}:
	default:
	}
}

// fetcherFor returns the fetcher of a source broker, starting it if needed. r.mu must be held.
func (r *Replicator) fetcherForLocked(broker int32) *fetcher {
	f, ok := r.fetchers[broker]
	if !ok && r.running {
		f = newFetcher(r, broker)
		r.fetchers[broker] = f
		r.group.Go(func() error { return f.run(r.runCtx) })
	}
	return f
}

// writerFor returns the writer of a destination broker, starting it if needed. r.mu must be held.
func (r *Replicator) writerForLocked(broker int32) *writer {
	w, ok := r.writers[broker]
	if !ok && r.running {
		w = newWriter(r, broker)
		r.writers[broker] = w
		r.group.Go(func() error { return w.run(r.runCtx) })
	}
	return w
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
