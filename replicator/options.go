package replicator

import (
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/clusterlink/clusterlink/replicator/recordbatch"
)

// Opt configures a Replicator.
type Opt func(*options)

type options struct {
	log                     *zap.Logger
	fetchMaxBytes           int32 // per partition
	fetchResponseMaxBytes   int32
	fetchMinBytes           int32
	fetchWaitMax            time.Duration
	fetchBackoff            time.Duration
	requestTimeout          time.Duration
	retryBackoff            time.Duration
	metadataRefresh         time.Duration
	startOffset             StartOffset
	replicationFactor       int16
	maxProduceInflight      int
	pipelineMaxAge          time.Duration
	produceConnections      int
	maxProduceRequestBytes  int
	fillerBatchBytes        int
	resolveStableWait       time.Duration
	sourceMissingThreshold  int
	unexpectedTruncationAge time.Duration
	resolveErrorAfter       time.Duration
	verifyInterval          time.Duration
	verifySample            int64
	observer                Observer
	transactionalIDPrefix   string
	onFailure               func(PartitionFailure)
	ownedOnly               bool
	writeGuard              func() error
	budget                  *MemoryBudget
}

// Observer is told about every fetch and produce request the replicator makes (for latency metrics). Its methods
// are called from the fetch and write loops and must return quickly.
type Observer interface {
	FetchDone(broker int32, took time.Duration, err error)
	ProduceDone(broker int32, took time.Duration, err error)
}

type noObserver struct{}

func (noObserver) FetchDone(int32, time.Duration, error)   {}
func (noObserver) ProduceDone(int32, time.Duration, error) {}

// TransactionalIDPrefix starts the transactional ids of the destination producers that replay source transactions
// (prefix-topic-partition-slot); give each link its own. Default "clusterlink".
func TransactionalIDPrefix(p string) Opt { return func(o *options) { o.transactionalIDPrefix = p } }

// OnPartitionFailed is called every time a mirror partition stops with an error (FAILED), so that the caller can
// keep the failure across restarts (see MirrorSpec.Failed). It is called with the replicator's lock held: it must
// return at once and must not call the Replicator. Default: none.
func OnPartitionFailed(fn func(PartitionFailure)) Opt { return func(o *options) { o.onFailure = fn } }

// WithMemoryBudget makes the replicator hold its fetched and queued batches within b, shared with every other
// replicator given the same b. Default: a budget of DefaultMemoryBudget of its own.
func WithMemoryBudget(b *MemoryBudget) Opt { return func(o *options) { o.budget = b } }

// WithObserver sets the Observer of fetch and produce requests. Default: none.
func WithObserver(o Observer) Opt { return func(opts *options) { opts.observer = o } }

// optionsOf applies opts to the defaults.
func optionsOf(opts ...Opt) options {
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

func defaultOptions() options {
	return options{
		log:                     zap.NewNop(),
		observer:                noObserver{},
		transactionalIDPrefix:   "clusterlink",
		fetchMaxBytes:           5 << 20,
		fetchResponseMaxBytes:   10 << 20,
		fetchMinBytes:           1,
		fetchWaitMax:            500 * time.Millisecond,
		fetchBackoff:            time.Second,
		requestTimeout:          30 * time.Second,
		retryBackoff:            100 * time.Millisecond,
		metadataRefresh:         5 * time.Second,
		startOffset:             StartOffset{Kind: StartEarliest},
		replicationFactor:       -1,
		maxProduceInflight:      4,
		pipelineMaxAge:          time.Hour,
		produceConnections:      2,
		maxProduceRequestBytes:  32 << 20,
		fillerBatchBytes:        512 << 10,
		resolveStableWait:       30 * time.Second,
		sourceMissingThreshold:  3,
		unexpectedTruncationAge: 30 * time.Second,
		resolveErrorAfter:       time.Minute,
		verifyInterval:          time.Minute,
		verifySample:            1000,
	}
}

// validate reports every option out of its range at once, each naming the option, its value and what is allowed.
func (o options) validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	positiveDurations := []struct {
		name string
		d    time.Duration
	}{
		{"FetchWaitMax", o.fetchWaitMax}, {"RequestTimeout", o.requestTimeout}, {"MetadataRefresh", o.metadataRefresh},
		{"ResolveStableWait", o.resolveStableWait}, {"UnexpectedTruncationAge", o.unexpectedTruncationAge},
		{"ResolveErrorAfter", o.resolveErrorAfter}, {"VerifySample interval", o.verifyInterval},
	}
	for _, p := range positiveDurations {
		if p.d <= 0 {
			bad("%s(%s): must be above 0", p.name, p.d)
		}
	}
	for _, p := range []struct {
		name string
		d    time.Duration
	}{{"FetchBackoff", o.fetchBackoff}, {"RetryBackoff", o.retryBackoff}, {"PipelineMaxAge", o.pipelineMaxAge}} {
		if p.d < 0 {
			bad("%s(%s): must not be negative", p.name, p.d)
		}
	}
	for _, p := range []struct {
		name string
		n    int32
	}{{"FetchMaxBytes", o.fetchMaxBytes}, {"FetchResponseMaxBytes", o.fetchResponseMaxBytes}, {"FetchMinBytes", o.fetchMinBytes}} {
		if p.n < 1 {
			bad("%s(%d): must be at least 1", p.name, p.n)
		}
	}
	if o.maxProduceInflight < 1 {
		bad("MaxProduceInflight(%d): must be at least 1 (1 turns pipelining off; a partition never has more than %d in flight)", o.maxProduceInflight, maxPartitionInflight)
	}
	if o.verifySample < 0 {
		bad("VerifySample offsets %d: must not be negative (0 turns the background verifier off)", o.verifySample)
	}
	if o.produceConnections < 1 {
		bad("ProduceConnections(%d): must be at least 1", o.produceConnections)
	}
	if smallest := recordbatch.FillerSize(1); o.fillerBatchBytes < smallest {
		bad("filler batch size %d: must be at least %d bytes (one filler record)", o.fillerBatchBytes, smallest)
	}
	if o.maxProduceRequestBytes < 1 {
		bad("produce request size %d: must be at least 1", o.maxProduceRequestBytes)
	}
	if o.replicationFactor == 0 || o.replicationFactor < -1 {
		bad("ReplicationFactor(%d): must be -1 (the destination's default) or at least 1", o.replicationFactor)
	}
	if o.sourceMissingThreshold < 1 {
		bad("source missing threshold %d: must be at least 1", o.sourceMissingThreshold)
	}
	if o.startOffset.Kind == StartTimestamp && o.startOffset.Timestamp.IsZero() {
		bad("DefaultStartOffset(timestamp): the timestamp is not set")
	}
	if o.log == nil {
		bad("Logger(nil): give a logger (zap.NewNop() for none)")
	}
	if o.observer == nil {
		bad("WithObserver(nil): leave the option out for none")
	}
	if o.transactionalIDPrefix == "" {
		bad("TransactionalIDPrefix(\"\"): must not be empty: the link's transactional producers fence their own by it")
	}
	return errors.Join(errs...)
}

// Logger sets the logger. Default: no logging.
func Logger(l *zap.Logger) Opt { return func(o *options) { o.log = l } }

// FetchMaxBytes is the most bytes fetched per partition per request (replica.fetch.max.bytes). Default 5 MiB.
func FetchMaxBytes(n int32) Opt { return func(o *options) { o.fetchMaxBytes = n } }

// FetchResponseMaxBytes is the most bytes one fetch response may hold (replica.fetch.response.max.bytes). Default
// 10 MiB.
func FetchResponseMaxBytes(n int32) Opt { return func(o *options) { o.fetchResponseMaxBytes = n } }

// FetchMinBytes is the least data a source broker waits for before answering (replica.fetch.min.bytes). Default 1.
func FetchMinBytes(n int32) Opt { return func(o *options) { o.fetchMinBytes = n } }

// FetchWaitMax is how long a source broker may hold a fetch waiting for FetchMinBytes (replica.fetch.wait.max.ms).
// Default 500ms.
func FetchWaitMax(d time.Duration) Opt { return func(o *options) { o.fetchWaitMax = d } }

// FetchBackoff is the pause after a failed fetch (replica.fetch.backoff.ms). Default 1s.
func FetchBackoff(d time.Duration) Opt { return func(o *options) { o.fetchBackoff = d } }

// RequestTimeout bounds each request to either cluster, and is the produce timeout (request.timeout.ms).
// Default 30s.
func RequestTimeout(d time.Duration) Opt { return func(o *options) { o.requestTimeout = d } }

// RetryBackoff is the pause before retrying a failed produce or position lookup (retry.backoff.ms). Default 100ms.
func RetryBackoff(d time.Duration) Opt { return func(o *options) { o.retryBackoff = d } }

// MetadataRefresh is how often leaders and partition counts are re-read from both clusters when nothing forces it
// sooner. Default 5s.
func MetadataRefresh(d time.Duration) Opt { return func(o *options) { o.metadataRefresh = d } }

// DefaultStartOffset is where a new mirror starts when its spec says nothing (mirror.start.offset.spec).
// Default: earliest.
func DefaultStartOffset(s StartOffset) Opt { return func(o *options) { o.startOffset = s } }

// ReplicationFactor is the replication factor of mirror topics this replicator creates. Default -1: the
// destination's default.replication.factor.
func ReplicationFactor(rf int16) Opt { return func(o *options) { o.replicationFactor = rf } }

// MaxProduceInflight is how many produce requests may be in flight to one destination broker at once, and so how
// many produces one partition may have in flight where pipelining is safe (see pipeline.go; at most 5). Default 4.
// 1 turns pipelining off.
func MaxProduceInflight(n int) Opt { return func(o *options) { o.maxProduceInflight = n } }

// ProduceConnections is how many connections the replicator produces on to each destination broker; a partition
// always uses the same one. A broker handles one request of a connection at a time, so more connections let it
// work on several of the replicator's produce requests at once. Default 2.
func ProduceConnections(n int) Opt { return func(o *options) { o.produceConnections = n } }

// PipelineMaxAge is how old (by their timestamps) batches may be and still be pipelined. The broker forgets an
// idempotent producer whose last batch's timestamp is older than its producer.id.expiration.ms (default 24 h), and
// then accepts any sequence from it, which would let a batch land behind a refused one. Run bounds it by a quarter
// of the destination's producer.id.expiration.ms when it can read it. Default 1 h; 0 turns pipelining off.
func PipelineMaxAge(d time.Duration) Opt { return func(o *options) { o.pipelineMaxAge = d } }

// ResolveErrorAfter is how long a partition may fail to find its position before it shows an error code (its
// message shows the cause at once). Default 1 minute.
func ResolveErrorAfter(d time.Duration) Opt { return func(o *options) { o.resolveErrorAfter = d } }

// VerifySample sets the background verifier: every interval, up to 8 copying partitions (taken in turn) each compare
// one window of offsets offsets (at a random place) with the source; a difference fails the partition as diverged.
// 0 offsets turns it off. Default every minute, 1000 offsets.
func VerifySample(interval time.Duration, offsets int64) Opt {
	return func(o *options) { o.verifyInterval, o.verifySample = interval, offsets }
}
