package replicator

import (
	"context"
	"fmt"
	"maps"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap"

	"github.com/clusterlink/clusterlink/replicator/kafkaapi"
	"github.com/clusterlink/clusterlink/replicator/recordbatch"
)

type writeQueue struct {
	gen   uint64
	items []writeItem
}

// writer produces to one destination broker, acks=all. Each produce request carries at most one batch per
// partition, and a partition has a second request in flight only where the broker's sequence checks make a batch
// land right after the previous one or not at all (see pipeline.go); the writer checks that the broker assigned
// each batch its source base offset. A failed or timed-out produce sends the partition back to resolve, once
// nothing of it is in flight, which re-reads the mirror's log end offset before anything is written again, so a
// retry never duplicates.
type writer struct {
	r      *Replicator
	broker int32

	mu     sync.Mutex
	queues map[*partition]*writeQueue
	pipes  map[*partition]*partitionPipe
	signal chan struct{}
	// guardLogged is when a refusal of the WriteGuard was last logged (the run loop's own).
	guardLogged time.Time
}

func newWriter(r *Replicator, broker int32) *writer {
	return &writer{
		r: r, broker: broker,
		queues: map[*partition]*writeQueue{}, pipes: map[*partition]*partitionPipe{},
		signal: make(chan struct{}, 1),
	}
}

// enqueue hands batches of partition p to the writer. r.mu is held by the caller.
func (w *writer) enqueue(p *partition, gen uint64, items []writeItem) {
	w.mu.Lock()
	q, ok := w.queues[p]
	if !ok || q.gen != gen {
		q = &writeQueue{gen: gen}
		w.queues[p] = q
	}
	q.items = append(q.items, items...)
	w.mu.Unlock()
	w.poke()
}

func (w *writer) poke() {
	select {
	case w.signal <- struct{}{}:
	default:
	}
}

// producePart is one partition's share of a round of writes: the write plan chose, and what sending it needs.
type producePart struct {
	p       *partition
	gen     uint64
	topic   string
	topicID [16]byte
	kind    write
	// payload is the batch produced (raw, filler and transactional data writes); expected is the base offset the
	// broker must assign, records the offsets the write covers.
	payload  []byte
	expected int64
	records  int64
	// slot is the destination transaction of a txnDataWrite or txnEndWrite.
	slot *destTxn
	// run and firstSeq are an idempotent raw batch's producer and first sequence as the destination sees them;
	// chainable says a later batch of the same run may be pipelined behind it.
	run       producerRun
	firstSeq  int32
	chainable bool
	pipelined bool // sent behind other produces of the partition still in flight
	// linkProducer: written under the link's own producer (linkproducer.go); its sequence advances when it lands.
	linkProducer bool
}

func (w *writer) run(ctx context.Context) error {
	slots := make(chan struct{}, w.r.opts.maxProduceInflight)
	var wg sync.WaitGroup
	defer wg.Wait() // a clean stop lets every produce in flight be answered
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-w.signal:
		}
		for ctx.Err() == nil {
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				return nil
			}
			if err := w.writeAllowed(); err != nil {
				<-slots
				if sleep(ctx, w.r.opts.retryBackoff) != nil {
					return nil
				}
				continue
			}
			parts := w.nextRequest()
			if len(parts) == 0 {
				<-slots
				break
			}
			written := make(chan struct{})
			wg.Add(1)
			go func() {
				defer wg.Done()
				// In-flight produces finish even when the replicator stops: their outcome must be known.
				w.produce(context.WithoutCancel(ctx), parts, written)
				<-slots
				w.poke()
			}()
			// A batch pipelined behind one of these must go out after them on the connection.
			<-written
		}
	}
}

// nextRequest picks, for every partition with queued work, the next payload to write: the next item when nothing of
// the partition is in flight, or the next batch of its pipeline where that is safe (see pipeline.go).
func (w *writer) nextRequest() []producePart {
	r := w.r
	r.mu.Lock()
	defer r.mu.Unlock()
	w.mu.Lock()
	defer w.mu.Unlock()
	var parts []producePart
	size := 0
	var idle []*partition
	for p, q := range w.queues {
		if q.gen != p.gen || p.phase != phaseCopy {
			delete(w.queues, p)
			if pipe := w.pipes[p]; pipe != nil && pipe.n == 0 {
				delete(w.pipes, p) // a new generation starts a new chain anyway
			}
			continue
		}
		pipe := w.pipes[p]
		if pipe == nil {
			pipe = &partitionPipe{gen: q.gen}
			w.pipes[p] = pipe
		}
		if pipe.n > 0 {
			if pipe.gen != q.gen {
				continue // produces of an earlier generation are still in flight
			}
			pp, ok := w.pipelinedPayloadLocked(p, q, pipe)
			if !ok || (size > 0 && size+len(pp.payload) > r.opts.maxProduceRequestBytes) {
				continue
			}
			size += len(pp.payload)
			pipe.sent(pp)
			parts = append(parts, pp)
			continue
		}
		if pipe.gen != q.gen {
			pipe.reset(q.gen)
		}
		pp, ok := w.nextPayloadLocked(p, q)
		if !ok {
			delete(w.queues, p)
			if p.gen == q.gen && p.phase == phaseCopy {
				idle = append(idle, p)
			}
			continue
		}
		if size > 0 && size+len(pp.payload) > r.opts.maxProduceRequestBytes {
			continue
		}
		size += len(pp.payload)
		pipe.sent(pp)
		parts = append(parts, pp)
	}
	for _, p := range idle {
		r.doneWritingLocked(p)
	}
	return parts
}

// nextPayloadLocked makes the part of partition p's next write, as plan decides it. It returns false when the queue
// is done (or the partition failed). r.mu and w.mu are held.
func (w *writer) nextPayloadLocked(p *partition, q *writeQueue) (producePart, bool) {
	r := w.r
	pos := planPosition{next: p.nextOffset, fillBelow: p.fillBelow,
		stripped: func(pid int64) bool { return p.stripProducers[pid] },
		openTxn:  func(pid int64) bool { return p.openSlotLocked(pid) != nil }}
	next, rest, failure := plan(pos, q.items, r.decompressor, p.m.topic, p.m.sourceTopic, p.id)
	q.items = rest
	if failure != nil {
		r.failLocked(p, failure.code, failure.msg)
		return producePart{}, false
	}
	if next == nil {
		return producePart{}, false
	}
	pp := producePart{p: p, gen: q.gen, topic: p.m.topic, topicID: p.m.mirrorTopicID, kind: next}
	switch k := next.(type) {
	case rawWrite:
		return w.rawPartLocked(pp, k), true
	case fillerWrite:
		return w.fillerPart(pp, k.to), true
	case markerWrite:
		return markerPart(pp, k.to), true
	case txnDataWrite:
		h := k.batch.Header
		pp.slot = p.slotLocked(r.opts.transactionalIDPrefix, k.sourcePID)
		pp.payload, pp.expected, pp.records = k.batch.Bytes, h.BaseOffset, int64(h.LastOffsetDelta)+1
	case txnEndWrite:
		pp.slot = p.openSlotLocked(k.sourcePID)
		pp.expected, pp.records = k.offset, 1
	}
	return pp, true
}

// rawPartLocked makes the part of a plain batch: its bytes as fetched, or with its producer fields cleared where
// the destination refused that producer's sequence; chainable when later batches of its producer may be pipelined
// behind it. r.mu is held.
func (w *writer) rawPartLocked(pp producePart, k rawWrite) producePart {
	h := k.batch.Header
	// The base offset is the broker's to assign (it is outside the CRC); a client sends 0 there, and some brokers
	// insist on it.
	recordbatch.SetBaseOffset(k.batch.Bytes, 0)
	pp.kind = k
	pp.payload, pp.expected, pp.records = k.batch.Bytes, h.BaseOffset, int64(h.LastOffsetDelta)+1
	if k.strip {
		pp.payload = recordbatch.WithoutProducer(k.batch.Bytes)
	}
	if (h.ProducerID < 0 || k.strip) && !k.reencoded {
		if b, ok := w.r.withLinkProducerLocked(pp.p, k.batch.Bytes); ok {
			pp.payload, pp.linkProducer = b, true
		}
	}
	if h.ProducerID >= 0 && !k.strip && !k.reencoded && w.recentEnough(h) {
		pp.run = producerRun{id: h.ProducerID, epoch: h.ProducerEpoch, lastSeq: lastSequence(h.BaseSequence, h.LastOffsetDelta)}
		pp.firstSeq, pp.chainable = h.BaseSequence, true
	}
	return pp
}

// markerPart fills the mirror from its log end up to offset to (at most maxMarkersPerRequest at a time) with
// transaction markers.
func markerPart(pp producePart, to int64) producePart {
	pp.expected, pp.records = pp.p.nextOffset, min(to-pp.p.nextOffset, maxMarkersPerRequest)
	return pp
}

func (w *writer) fillerPart(pp producePart, to int64) producePart {
	n := to - pp.p.nextOffset
	maxCount := int64(recordbatch.MaxFillerRecords(w.r.opts.fillerBatchBytes))
	n = min(n, maxCount)
	pp.payload = recordbatch.BuildFiller(int32(n), time.Now().UnixMilli())
	if b, ok := w.r.withLinkProducerLocked(pp.p, pp.payload); ok {
		pp.payload, pp.linkProducer = b, true
	}
	pp.expected, pp.records = pp.p.nextOffset, n
	return pp
}

// doneWritingLocked marks p's handed-out batches as written so its fetcher takes it again. r.mu is held.
func (r *Replicator) doneWritingLocked(p *partition) {
	r.notBusyLocked(p)
	if f := r.fetchers[p.srcLeader]; f != nil {
		f.wake()
	}
}

// produce writes one round of parts; written is closed once the produce request of the data parts is on its way
// to the broker (or will never be).
func (w *writer) produce(ctx context.Context, parts []producePart, written chan struct{}) {
	r := w.r
	var data, markers, txns []producePart
	for _, pp := range parts {
		switch pp.kind.(type) {
		case markerWrite:
			markers = append(markers, pp)
		case txnDataWrite, txnEndWrite:
			txns = append(txns, pp)
		default:
			data = append(data, pp)
		}
	}
	results := map[*partition]error{}
	baseOffsets := map[*partition]int64{}
	if len(data) > 0 {
		w.sendProduce(ctx, data, results, baseOffsets, written)
	} else {
		close(written)
	}
	// Each partition replays its transactions on its own destination producers: the partitions of a round go
	// concurrently, each waiting only for its own round trips and marker.
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, pp := range txns {
		wg.Go(func() {
			rctx, cancel := context.WithTimeout(ctx, 2*r.opts.requestTimeout)
			base, err := w.txnStep(rctx, pp)
			cancel()
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				results[pp.p] = err
			} else {
				baseOffsets[pp.p] = base
			}
		})
	}
	wg.Wait()
	if len(markers) > 0 {
		rctx, cancel := context.WithTimeout(ctx, r.opts.requestTimeout+5*time.Second)
		bases, errs := w.writeMarkers(rctx, markers)
		cancel()
		for p, b := range bases {
			baseOffsets[p] = b
		}
		for p, e := range errs {
			results[p] = e
		}
	}
	w.settle(ctx, parts, results, baseOffsets)
}

// sendProduce sends the data parts and records each partition's base offset or error; written is closed once every
// request of the round is serialized onto its connection, or failed before. The parts are spread over the
// replicator's produce connections to the broker (a partition always uses the same one, so its batches stay in
// order), so that the broker, which handles one request of a connection at a time, works on several at once.
func (w *writer) sendProduce(ctx context.Context, parts []producePart, results map[*partition]error, baseOffsets map[*partition]int64, written chan struct{}) {
	byConn := map[int][]producePart{}
	for _, pp := range parts {
		i := w.r.produceConn(pp.p)
		byConn[i] = append(byConn[i], pp)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	var writes []chan struct{}
	for i, group := range byConn {
		groupWritten := make(chan struct{})
		writes = append(writes, groupWritten)
		wg.Go(func() {
			res, bases := w.sendProduceOn(ctx, i, group, groupWritten)
			mu.Lock()
			defer mu.Unlock()
			maps.Copy(results, res)
			maps.Copy(baseOffsets, bases)
		})
	}
	for _, c := range writes {
		<-c
	}
	close(written)
	wg.Wait()
}

// sendProduceOn sends parts in one produce request on produce connection conn.
func (w *writer) sendProduceOn(ctx context.Context, conn int, parts []producePart, written chan struct{}) (map[*partition]error, map[*partition]int64) {
	r := w.r
	results, baseOffsets := map[*partition]error{}, map[*partition]int64{}
	batches := make([]kafkaapi.ProducePartition, 0, len(parts))
	for _, pp := range parts {
		batches = append(batches, kafkaapi.ProducePartition{Topic: pp.topic, TopicID: pp.topicID, Partition: pp.p.id, Batch: pp.payload})
	}
	req := kafkaapi.NewProduce(batches, r.opts.requestTimeout, nil)
	ordered := newOrderedProduce(req, written)
	cl, err := r.produceClient(conn)
	var kresp kmsg.Response
	start := time.Now()
	if err == nil {
		rctx, cancel := context.WithTimeout(ctx, r.opts.requestTimeout+5*time.Second)
		kresp, err = cl.Broker(int(w.broker)).Request(rctx, ordered)
		cancel()
	}
	ordered.markWritten()
	r.opts.observer.ProduceDone(w.broker, time.Since(start), err)
	if err != nil {
		for _, pp := range parts {
			results[pp.p] = requestFailed("produce request", err)
		}
		return results, baseOffsets
	}
	names := map[[16]byte]string{}
	index := map[tpKey]*partition{}
	for _, pp := range parts {
		names[pp.topicID] = pp.topic
		index[tpKey{pp.topic, pp.p.id}] = pp.p
	}
	for _, res := range kafkaapi.ProduceResults(kresp.(*kmsg.ProduceResponse), names) {
		p, ok := index[tpKey{res.Topic, res.Partition}]
		switch {
		case !ok:
		case res.Err != nil:
			results[p] = res.Err
		default:
			baseOffsets[p] = res.BaseOffset
		}
	}
	return results, baseOffsets
}

// settle applies the outcome of a round of writes to each partition: advance, resync or fail.
func (w *writer) settle(ctx context.Context, parts []producePart, results map[*partition]error, baseOffsets map[*partition]int64) {
	r := w.r
	var deletes []producePart
	r.mu.Lock()
	w.mu.Lock()
	for _, pp := range parts {
		p := pp.p
		pipe := w.pipes[p]
		pipe.n--
		if p.gen != pp.gen || p.phase != phaseCopy {
			if pipe.n == 0 {
				pipe.failure = nil
			}
			continue
		}
		perr := results[p]
		base, answered := baseOffsets[p]
		if perr == nil && !answered {
			perr = fmt.Errorf("no answer for %s[%d] in the produce response", pp.topic, p.id)
		}
		if perr != nil || base != pp.expected {
			// With produces pipelined, the first failure in offset order is the cause (those behind it fail the
			// broker's sequence check); it is acted on once none is in flight. A batch that landed at another
			// offset than its own outranks every error: the mirror has diverged.
			misplaced := perr == nil
			if pipe.failure == nil || (misplaced && pipe.failErr != nil) ||
				(misplaced == (pipe.failErr == nil) && pp.expected < pipe.failure.expected) {
				f := pp
				pipe.failure, pipe.failErr, pipe.failAt = &f, perr, base
			}
		} else {
			w.advanceLocked(pp)
			if target := min(p.fillBelow, p.nextOffset); p.mirrorLogStart < target {
				pp.expected = target // reused as the DeleteRecords target
				deletes = append(deletes, pp)
			}
		}
		if pipe.n > 0 || pipe.failure == nil {
			continue
		}
		failed, perr, base := *pipe.failure, pipe.failErr, pipe.failAt
		pipe.failure = nil
		delete(w.queues, p)
		switch {
		case perr == nil:
			r.divergedLocked(p, fmt.Sprintf(
				"mirror %s[%d]: expected the batch at offset %d, the destination assigned offset %d: something other than this link wrote to the mirror topic",
				failed.topic, p.id, failed.expected, base))
		case classify(failed.kind, perr) == stripProducer:
			// The destination keeps the source producer's sequence state, and the source no longer has some of its
			// batches (compaction, retention, a later start): this producer's batches go on without producer fields.
			if p.stripProducers == nil {
				p.stripProducers = map[int64]bool{}
			}
			p.stripProducers[failed.kind.(rawWrite).batch.Header.ProducerID] = true
			r.resyncLocked(p, failed.gen, "produce: "+perr.Error())
		case classify(failed.kind, perr) == failPartition:
			r.failLocked(p, CodeDestinationRejected, fmt.Sprintf(
				"mirror %s[%d]: the destination refused the batch at offset %d: %v", failed.topic, p.id, failed.expected, perr))
		default:
			r.resyncLocked(p, failed.gen, "produce: "+perr.Error())
		}
	}
	w.mu.Unlock()
	r.mu.Unlock()

	// Fillers and source-deleted offsets leave the mirror at once, before its partition writes anything else.
	for _, pp := range deletes {
		derr := deleteRecords(ctx, r.dstAdm, pp.topic, pp.p.id, pp.expected)
		r.mu.Lock()
		if derr != nil {
			r.log.Warn("move mirror log start", zap.Error(derr))
			r.resyncLocked(pp.p, pp.gen, derr.Error())
		} else if pp.p.gen == pp.gen {
			pp.p.mirrorLogStart = max(pp.p.mirrorLogStart, pp.expected)
		}
		r.mu.Unlock()
	}
}

// advanceLocked records a part the destination took at its offset: position and counters. r.mu and w.mu are held.
func (w *writer) advanceLocked(pp producePart) {
	p := pp.p
	p.nextOffset = max(p.nextOffset, pp.expected+pp.records)
	if pp.linkProducer {
		p.linkSeq = nextSequence(p.linkSeq, pp.records)
		p.counters.BatchesLinkProducer++
	}
	switch k := pp.kind.(type) {
	case txnEndWrite:
		pp.slot.open = false
		p.lastEndedSlot = pp.slot
		if k.commit {
			p.counters.TransactionsCommitted++
		} else {
			p.counters.TransactionsAborted++
		}
	case txnDataWrite:
		p.counters.BatchesRewritten++
		p.counters.Records += pp.records
		p.counters.Bytes += int64(len(pp.payload))
		if k.appendTime {
			p.counters.BatchesAppendTime++
		}
	case fillerWrite:
		p.counters.FillerOffsets += pp.records
		p.counters.FillerBatches++
	case markerWrite:
		p.counters.MarkerOffsets += pp.records
	case rawWrite:
		switch {
		case k.strip:
			p.counters.BatchesRewritten++
			p.counters.Records += pp.records
		case k.reencoded:
			p.counters.BatchesReencoded++
			p.counters.Records += int64(k.batch.Header.NumRecords)
		default:
			p.counters.BatchesRaw++
			p.counters.Records += pp.records
			if pp.pipelined {
				p.counters.BatchesPipelined++
			}
		}
		p.counters.Bytes += int64(len(pp.payload))
		if k.appendTime {
			p.counters.BatchesAppendTime++
		}
	}
}
