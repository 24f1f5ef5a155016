package replicator

import (
	"context"
	"fmt"
	"hash/fnv"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap"

	"github.com/clusterlink/clusterlink/replicator/recordbatch"
)

// Pipelining: Kafka takes one batch per partition in a produce request, so a partition limited to one produce in
// flight copies one source batch per destination round trip. A partition may have several produces in flight only
// where the destination broker itself guarantees that a later batch cannot land if an earlier one did not: the
// batches in flight are consecutive batches of one idempotent source producer (same producer id and epoch,
// sequences following on), and the batch before them, from that producer too, is already confirmed on the mirror,
// so the broker holds that producer's state. If one of them is refused (or lost), every later one fails the
// broker's sequence check (OUT_OF_ORDER_SEQUENCE_NUMBER) instead of landing at the wrong offset. The broker drops a
// producer's state when the timestamp of its last batch is older than producer.id.expiration.ms (24 h by default,
// checked every 10 minutes) and then accepts any sequence, so only batches with recent timestamps (PipelineMaxAge)
// are pipelined; an old backlog goes one batch per round trip, in batches that are large anyway. Requests go out
// in order on one connection (see orderedProduce); a failure in the pipeline is acted on only when every produce
// in flight for the partition has been answered, so resolve re-reads a log end nothing is still writing to.
// Batches without a producer id, transactional batches, control batches, markers, fillers and re-encoded runs
// always go one at a time.

// maxPartitionInflight bounds the produces in flight for one partition: Kafka keeps the metadata of a producer's
// last five batches per partition, and its own idempotent producer never has more in flight.
const maxPartitionInflight = 5

// producerRun is the producer of a batch as the destination sees it.
type producerRun struct {
	id      int64
	epoch   int16
	lastSeq int32 // the sequence of the batch's last record
}

// partitionPipe is what one partition has in flight on a writer.
type partitionPipe struct {
	n   int    // produces in flight, of any generation
	gen uint64 // the generation of the chain below
	// sentTo is the offset right after the last batch sent; last is that batch's producer, valid when chainable.
	sentTo    int64
	last      producerRun
	chainable bool
	// anchored: the batches in flight follow a confirmed batch of the same producer run, so the broker holds its
	// state and checks their sequences.
	anchored bool
	// failure is the first failed produce of the pipeline, acted on once nothing is in flight.
	failure *producePart
	failErr error
	failAt  int64
}

// reset starts a new chain for generation gen.
func (pipe *partitionPipe) reset(gen uint64) {
	n := pipe.n
	*pipe = partitionPipe{n: n, gen: gen}
}

// follows reports whether a batch of producer run next, first sequence firstSeq, may go right behind the last
// batch sent.
func (pipe *partitionPipe) follows(next producerRun, firstSeq int32) bool {
	return pipe.chainable && pipe.last.id == next.id && pipe.last.epoch == next.epoch && inSequence(pipe.last.lastSeq, firstSeq)
}

// sent records a part handed to a produce request.
func (pipe *partitionPipe) sent(part producePart) {
	if pipe.n == 0 {
		// Everything before it is confirmed: its producer's state is on the broker if the last batch was its.
		pipe.anchored = part.chainable && pipe.follows(part.run, part.firstSeq) && pipe.sentTo == part.expected
	}
	pipe.n++
	pipe.sentTo = part.expected + part.records
	pipe.last, pipe.chainable = part.run, part.chainable
}

// inSequence reports whether next is the sequence right after last (sequences wrap at MaxInt32 to 0).
func inSequence(last, next int32) bool {
	if last == math.MaxInt32 {
		return next == 0
	}
	return next == last+1
}

// lastSequence is the sequence of the last record of a batch with base sequence base and the given last offset
// delta.
func lastSequence(base, lastOffsetDelta int32) int32 {
	return int32((int64(base) + int64(lastOffsetDelta)) % (math.MaxInt32 + 1))
}

// pipelinedPayloadLocked returns the batch of p that may go right behind those in flight, if there is one. The
// queue is not popped: items leave it when their offsets are confirmed. r.mu and w.mu are held.
func (w *writer) pipelinedPayloadLocked(p *partition, q *writeQueue, pipe *partitionPipe) (producePart, bool) {
	if !pipe.anchored || pipe.failure != nil || pipe.n >= min(maxPartitionInflight, w.r.opts.maxProduceInflight) {
		return producePart{}, false
	}
	// Batches confirmed since the pipeline started leave the queue here, so a long pipelined drain never scans
	// them again.
	for len(q.items) > 0 && q.items[0].fillTo == 0 && q.items[0].markTo == 0 && q.items[0].batch.Header.NextOffset() <= p.nextOffset {
		q.items = q.items[1:]
	}
	for _, it := range q.items {
		if it.fillTo > 0 || it.markTo > 0 {
			return producePart{}, false
		}
		h := it.batch.Header
		if h.NextOffset() <= pipe.sentTo {
			continue // in flight or confirmed
		}
		// (Batches of a producer written without producer fields never chain: skip making their copy.)
		if h.BaseOffset != pipe.sentTo || h.IsControl() || h.IsTransactional() || h.HasOffsetHoles() ||
			h.ProducerID < 0 || p.stripProducers[h.ProducerID] {
			return producePart{}, false
		}
		pp := w.rawPartLocked(producePart{p: p, gen: q.gen, topic: p.m.topic, topicID: p.m.mirrorTopicID},
			rawWrite{batch: it.batch, reencoded: it.reencoded})
		if !pp.chainable || !pipe.follows(pp.run, pp.firstSeq) {
			return producePart{}, false
		}
		pp.pipelined = true
		return pp, true
	}
	return producePart{}, false
}

// recentEnough reports whether a batch's timestamps are recent enough for its producer's state to stay on the
// destination while it is pipelined (see PipelineMaxAge).
func (w *writer) recentEnough(h recordbatch.Header) bool {
	maxAge := time.Duration(w.r.pipelineAge.Load())
	return maxAge > 0 && h.MaxTimestamp >= time.Now().Add(-maxAge).UnixMilli()
}

// learnPipelineAge bounds PipelineMaxAge by a quarter of the destination's producer.id.expiration.ms, read from
// one of its brokers; nothing is pipelined until it is known. Where it cannot be read (no DESCRIBE_CONFIGS on the
// cluster), Kafka's default of 24 hours is assumed, and said. Run calls it beside its loops, so an unreachable
// destination does not hold up the start.
func (r *Replicator) learnPipelineAge(ctx context.Context) {
	if r.opts.pipelineMaxAge <= 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, r.opts.requestTimeout)
	defer cancel()
	age := r.opts.pipelineMaxAge
	if expiration, err := r.producerIDExpiration(ctx); err != nil {
		r.log.Info("destination producer.id.expiration.ms unknown: pipelining assumes Kafka's default of 24 h",
			zap.Duration("pipeline_max_age", age), zap.Error(err))
	} else if age = pipelineAgeFor(age, expiration); age != r.opts.pipelineMaxAge {
		r.log.Info("pipelining only batches younger than a quarter of the destination's producer.id.expiration.ms",
			zap.Duration("producer_id_expiration", expiration), zap.Duration("pipeline_max_age", age))
	}
	r.pipelineAge.Store(int64(age))
}

// pipelineAgeFor is maxAge, at most a quarter of the destination's producer id expiration.
func pipelineAgeFor(maxAge, expiration time.Duration) time.Duration {
	return min(maxAge, expiration/4)
}

// producerIDExpiration reads producer.id.expiration.ms from one destination broker.
func (r *Replicator) producerIDExpiration(ctx context.Context) (time.Duration, error) {
	brokers, err := r.dstAdm.BrokerMetadata(ctx)
	if err != nil {
		return 0, err
	}
	if len(brokers.Brokers) == 0 {
		return 0, fmt.Errorf("the destination lists no broker")
	}
	configs, err := r.dstAdm.DescribeBrokerConfigs(ctx, brokers.Brokers[0].NodeID)
	if err != nil {
		return 0, err
	}
	for _, rc := range configs {
		if rc.Err != nil {
			return 0, rc.Err
		}
		for _, c := range rc.Configs {
			if c.Key != "producer.id.expiration.ms" || c.Value == nil {
				continue
			}
			ms, err := strconv.ParseInt(*c.Value, 10, 64)
			if err != nil || ms <= 0 {
				return 0, fmt.Errorf("producer.id.expiration.ms %q", *c.Value)
			}
			return time.Duration(ms) * time.Millisecond, nil
		}
	}
	return 0, fmt.Errorf("the broker did not report producer.id.expiration.ms")
}

// orderedProduce is a produce request that tells when the client serializes it onto the broker connection. The
// client writes a broker's requests one at a time in the order they were issued, so a request issued after that
// moment goes out behind this one on the same connection, and the broker handles a connection's requests in order.
type orderedProduce struct {
	*kmsg.ProduceRequest
	once    sync.Once
	written chan struct{}
}

// newOrderedProduce wraps req; written is closed when the client serializes it (or by markWritten).
func newOrderedProduce(req *kmsg.ProduceRequest, written chan struct{}) *orderedProduce {
	return &orderedProduce{ProduceRequest: req, written: written}
}

// AppendTo serializes the request, marking it written.
func (o *orderedProduce) AppendTo(dst []byte) []byte {
	o.markWritten()
	return o.ProduceRequest.AppendTo(dst)
}

func (o *orderedProduce) markWritten() { o.once.Do(func() { close(o.written) }) }

// produceClients are the extra destination clients the writers produce on (see ProduceConnections).
type produceClients struct {
	once sync.Once
	cls  []*kgo.Client
	err  error
}

// produceConn is the produce connection partition p always uses (0 is the destination client's own).
func (r *Replicator) produceConn(p *partition) int {
	return int((p.m.topicHash + uint32(p.id)) % uint32(max(1, r.opts.produceConnections)))
}

// topicHash spreads a topic's partitions over the produce connections from a different start than other topics'.
func topicHash(topic string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(topic))
	return h.Sum32()
}

// produceClient returns the client of produce connection i: the destination client for 0, else one of the extra
// clients (each with its own connection to every broker), made at first use.
func (r *Replicator) produceClient(i int) (*kgo.Client, error) {
	if i == 0 {
		return r.dst, nil
	}
	r.conns.once.Do(func() {
		for range max(1, r.opts.produceConnections) - 1 {
			cl, err := kgo.NewClient(r.dst.Opts()...)
			if err != nil {
				r.conns.err = fmt.Errorf("produce connection: %w", err)
				return
			}
			r.conns.cls = append(r.conns.cls, cl)
		}
	})
	if r.conns.err != nil {
		return nil, r.conns.err
	}
	return r.conns.cls[i-1], nil
}
