package replicator

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap"

	"github.com/clusterlink/clusterlink/replicator/kafkaapi"
	"github.com/clusterlink/clusterlink/replicator/recordbatch"
)

// fetcher fetches raw record batches from one source broker for every mirror partition that broker leads, with
// an incremental fetch session, read_uncommitted (transaction data, aborted data and markers are all seen). A
// partition whose last batches are still being written is left out of the session until they are, so a slow
// partition holds back only itself. Every fetch first reserves its response's room in the memory budget, and the
// fetched batches hold their bytes of it until written (see MemoryBudget).
type fetcher struct {
	r       *Replicator
	broker  int32
	wakeCh  chan struct{}
	session fetchSession
}

func newFetcher(r *Replicator, broker int32) *fetcher {
	return &fetcher{r: r, broker: broker, wakeCh: make(chan struct{}, 1), session: newFetchSession()}
}

// wake makes the fetcher look at its partitions again (a partition became fetchable).
func (f *fetcher) wake() {
	select {
	case f.wakeCh <- struct{}{}:
	default:
	}
}

type tpKey struct {
	topic     string
	partition int32
}

// fetchPart is a snapshot of one partition to fetch.
type fetchPart struct {
	p         *partition
	gen       uint64
	topic     string
	topicID   [16]byte
	partition int32
	offset    int64
	maxBytes  int32 // as last sent in the session
}

func (f *fetcher) run(ctx context.Context) error {
	failures := 0
	for ctx.Err() == nil {
		parts, solo, anyBusy := f.fetchable()
		if len(parts) == 0 && len(solo) == 0 && f.session.empty() {
			select {
			case <-ctx.Done():
			case <-f.wakeCh:
			case <-time.After(time.Second):
			}
			continue
		}
		err := f.fetchSolo(ctx, solo)
		if err == nil && (len(parts) > 0 || !f.session.empty()) {
			err = f.fetchOnce(ctx, parts, anyBusy || len(solo) > 0)
		}
		if err != nil && ctx.Err() == nil {
			failures++
			// Warn on the first failure of a run and every 60th after it, not every backoff.
			if failures%60 == 1 {
				f.r.log.Warn("fetch from source broker failed", zap.Int32("broker", f.broker),
					zap.Int("consecutive_failures", failures), zap.Error(err))
			}
			f.session.reset()
			f.r.pokeMetadata()
			_ = sleep(ctx, f.r.opts.fetchBackoff)
			continue
		}
		failures = 0
	}
	return nil
}

// fetchable lists the partitions this fetcher should fetch now in its session, those to fetch on their own (their
// next batch did not fit their share of a session fetch), and whether some of its partitions are being written
// (they rejoin the fetch when their write is done).
func (f *fetcher) fetchable() (parts map[tpKey]fetchPart, solo []fetchPart, anyBusy bool) {
	r := f.r
	r.mu.Lock()
	defer r.mu.Unlock()
	parts = map[tpKey]fetchPart{}
	for _, m := range r.mirrors {
		for _, p := range m.partitions {
			if p.srcLeader != f.broker || p.phase != phaseCopy {
				continue
			}
			if p.busy {
				anyBusy = true
				continue
			}
			fp := fetchPart{
				p: p, gen: p.gen, topic: m.sourceTopic, topicID: m.sourceTopicID, partition: p.id, offset: p.fetchOffset(),
			}
			if p.soloFetch {
				solo = append(solo, fp)
				continue
			}
			parts[tpKey{m.sourceTopic, p.id}] = fp
		}
	}
	return parts, solo, anyBusy
}

// busyFetchWait bounds the broker's wait while partitions of this fetcher are being written: a long poll would keep
// them out of the fetch until data arrives elsewhere, adding up to replica.fetch.wait.max.ms of latency.
const busyFetchWait = 10 * time.Millisecond

// minPartitionFetchBytes is the least a partition may fetch in one request, whatever its share of the reservation:
// Kafka's default message.max.bytes, so that a partition's next batch nearly always fits.
const minPartitionFetchBytes = 1 << 20

// fetchReservation is how many bytes of the memory budget one fetch reserves for its response: at most
// replica.fetch.response.max.bytes, and a quarter of the budget so that several fetches (and the batches of earlier
// ones still being written) fit at once.
func (f *fetcher) fetchReservation() int64 {
	return min(int64(f.r.opts.fetchResponseMaxBytes), f.r.opts.budget.Limit()/4)
}

// partitionFetchBytes is each partition's most bytes in a session fetch of n partitions that reserved reserved
// bytes: an equal share, at least minPartitionFetchBytes, at most replica.fetch.max.bytes and the reservation. It is
// rounded down to a power of two, so the incremental session re-sends partitions only when it changes by half.
func (f *fetcher) partitionFetchBytes(reserved int64, n int) int32 {
	share := max(reserved/int64(max(n, 1)), minPartitionFetchBytes)
	share = min(share, int64(f.r.opts.fetchMaxBytes), reserved)
	pow := int64(1)
	for pow*2 <= share {
		pow *= 2
	}
	return int32(max(pow, 1))
}

func (f *fetcher) fetchOnce(ctx context.Context, parts map[tpKey]fetchPart, anyBusy bool) error {
	o := f.r.opts
	wait := o.fetchWaitMax
	switch {
	case len(parts) == 0:
		wait = 0 // only forgetting partitions: nothing to wait for
	case anyBusy:
		wait = min(wait, busyFetchWait)
	}
	var reserved int64
	if len(parts) > 0 {
		var err error
		if reserved, err = o.budget.acquire(ctx, f.fetchReservation()); err != nil {
			return err
		}
	}
	partitionMax := f.partitionFetchBytes(reserved, len(parts))
	req := f.session.build(parts, kafkaapi.FetchParams{MaxWait: wait, MinBytes: o.fetchMinBytes, MaxBytes: int32(max(reserved, 1))}, partitionMax)
	resp, err := f.request(ctx, req)
	if err != nil {
		o.budget.release(reserved)
		return err
	}
	if resp == nil {
		o.budget.release(reserved)
		f.session.reset()
		return nil
	}
	f.session.accepted(resp.SessionID)
	f.handleResponse(resp, parts, reserved, int64(partitionMax))
	return nil
}

// fetchSolo fetches each partition of solo on its own, outside the session: as the only partition of its fetch, it
// gets at least its next whole batch.
func (f *fetcher) fetchSolo(ctx context.Context, solo []fetchPart) error {
	o := f.r.opts
	for _, fp := range solo {
		f.r.mu.Lock()
		need := fp.p.soloNeed
		f.r.mu.Unlock()
		reserved, err := o.budget.acquire(ctx, max(need, f.fetchReservation()))
		if err != nil {
			return err
		}
		f.r.log.Debug("fetching a partition alone: its next batch did not come within its share of a session fetch",
			zap.String("source_topic", fp.topic), zap.Int32("partition", fp.partition), zap.Int64("offset", fp.offset),
			zap.Int64("batch_bytes", need), zap.Int64("reserved", reserved))
		req := kafkaapi.NewFetch(kafkaapi.FetchParams{SessionEpoch: -1, MinBytes: 1, MaxBytes: int32(reserved)})
		kafkaapi.AddFetchPartition(req, map[string]int{}, fp.topic, fp.topicID, fp.partition, fp.offset, int32(reserved))
		resp, err := f.request(ctx, req)
		if err != nil || resp == nil {
			o.budget.release(reserved)
			if err == nil {
				err = errors.New("fetch: the broker refused a fetch outside a session")
			}
			return err
		}
		f.r.mu.Lock()
		if fp.p.gen == fp.gen {
			fp.p.soloFetch, fp.p.soloNeed = false, 0
		}
		f.r.mu.Unlock()
		f.handleResponse(resp, map[tpKey]fetchPart{{fp.topic, fp.partition}: fp}, reserved, reserved)
	}
	return nil
}

// fetchAlone decides whether a partition that got no batch from a fetch is fetched alone next, and how many bytes
// that fetch needs (0: unknown). more says the source has data at the fetch offset. A real broker cuts the batch
// that does not fit short and sends its start, which tells its size: larger than the partition's share means it
// never fits one. Nothing at all though the response had room for the whole share means the same (a broker that
// sends whole batches only). Else the partition was only crowded out by others this time: a broker rotates the
// partitions of a session so that each comes first in turn, and the first gets at least one whole batch. (Counting
// crowded-out fetches instead sent most partitions of a large backlog off to fetches of their own, one at a time.)
func fetchAlone(more bool, records []byte, partial, room bool, partitionMax int64) (bool, int64) {
	if !more {
		return false, 0
	}
	need := recordbatch.BatchSize(records)
	switch {
	case partial && need > partitionMax:
		return true, need
	case room && len(records) == 0:
		return true, need
	}
	return false, 0
}

// request sends a fetch to the fetcher's broker. A nil response without error is a session the broker no longer
// knows: the next fetch opens a new one.
func (f *fetcher) request(ctx context.Context, req *kmsg.FetchRequest) (*kmsg.FetchResponse, error) {
	o := f.r.opts
	rctx, cancel := context.WithTimeout(ctx, o.requestTimeout+o.fetchWaitMax)
	defer cancel()
	start := time.Now()
	kresp, err := f.r.src.Broker(int(f.broker)).Request(rctx, req)
	o.observer.FetchDone(f.broker, time.Since(start), err)
	if err != nil {
		return nil, fmt.Errorf("fetch: %w", err)
	}
	resp := kresp.(*kmsg.FetchResponse)
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		if errors.Is(err, kerr.FetchSessionIDNotFound) || errors.Is(err, kerr.InvalidFetchSessionEpoch) {
			return nil, nil
		}
		return nil, fmt.Errorf("fetch: %w", err)
	}
	return resp, nil
}

// handleResponse hands the batches of a fetch response to the writers. Each partition's batches are copied out of
// the response, so that the budget counts what is really held: the response's buffer is dropped at once instead of
// living as long as its slowest partition. What the response took beyond reserved is charged; what it left is given
// back.
func (f *fetcher) handleResponse(resp *kmsg.FetchResponse, parts map[tpKey]fetchPart, reserved, partitionMax int64) {
	byID := map[[16]byte]string{}
	for _, fp := range parts {
		byID[fp.topicID] = fp.topic
	}
	var total int64
	for _, rt := range resp.Topics {
		for i := range rt.Partitions {
			total += int64(len(rt.Partitions[i].RecordBatches))
		}
	}
	r := f.r
	r.mu.Lock()
	defer r.mu.Unlock()
	var taken int64
	for _, rt := range resp.Topics {
		topic := rt.Topic
		if topic == "" {
			topic = byID[rt.TopicID]
		}
		for i := range rt.Partitions {
			rp := &rt.Partitions[i]
			fp, ok := parts[tpKey{topic, rp.Partition}]
			if !ok {
				continue
			}
			// There was room for partitionMax bytes of this partition, yet none came: its next batch is larger.
			room := total+partitionMax <= reserved
			taken += f.handlePartitionLocked(fp, rp, room, partitionMax)
		}
	}
	if taken > reserved {
		r.opts.budget.charge(taken - reserved)
	} else {
		r.opts.budget.release(reserved - taken)
	}
}

// handlePartitionLocked takes one partition of a fetch response: position bookkeeping, errors, and the batches to
// hand to the partition's writer. It returns the bytes handed over (now held by the partition against the budget);
// room says the response had room for the partition's whole share. r.mu must be held.
func (f *fetcher) handlePartitionLocked(fp fetchPart, rp *kmsg.FetchResponseTopicPartition, room bool, partitionMax int64) int64 {
	r, p := f.r, fp.p
	if p.gen != fp.gen || p.phase != phaseCopy || p.busy {
		return 0 // resynced, failed or handed out since the snapshot
	}
	p.lastFetchOffset = max(p.lastFetchOffset, fp.offset)
	if rp.HighWatermark >= 0 {
		p.srcHWM, p.srcKnown = rp.HighWatermark, true
	}
	if rp.LogStartOffset >= 0 {
		p.srcLogStart = rp.LogStartOffset
	}
	if err := kerr.ErrorForCode(rp.ErrorCode); err != nil {
		// OFFSET_OUT_OF_RANGE (retention overtook the mirror, or the source truncated), leader moves, a deleted or
		// recreated topic: re-read the position; the metadata loop decides about the topic itself.
		r.resyncLocked(p, fp.gen, "fetch "+err.Error())
		return 0
	}
	batches, partial, err := recordbatch.Split(rp.RecordBatches)
	if err != nil {
		if errors.Is(err, recordbatch.ErrUnsupportedMessageFormat) {
			r.failLocked(p, CodeUnsupportedMessageFormat, fmt.Sprintf(
				"source %s[%d]: %v: magic v0/v1 message sets cannot be copied at the same offsets", fp.topic, fp.partition, err))
			return 0
		}
		r.log.Warn("corrupt fetch data, fetching again", zap.String("source_topic", fp.topic),
			zap.Int32("partition", fp.partition), zap.Int64("offset", fp.offset), zap.Error(err))
		r.resyncLocked(p, fp.gen, "corrupt fetch data")
		return 0
	}
	if len(batches) == 0 {
		p.soloFetch, p.soloNeed = fetchAlone(rp.HighWatermark > fp.offset, rp.RecordBatches, partial, room, partitionMax)
		return 0
	}
	p.lastFetchOffset = max(p.lastFetchOffset, batches[len(batches)-1].Header.NextOffset())
	w := r.writerForLocked(p.dstLeader)
	if w == nil {
		return 0
	}
	var size int
	for _, b := range batches {
		size += len(b.Bytes)
	}
	own := make([]byte, 0, size)
	items := make([]writeItem, len(batches))
	for i, b := range batches {
		start := len(own)
		own = append(own, b.Bytes...)
		b.Bytes = own[start:len(own):len(own)]
		items[i] = writeItem{batch: b}
	}
	p.busy = true
	p.held = int64(size)
	w.enqueue(p, fp.gen, items)
	return int64(size)
}

// fetchSession is the client side of a KIP-227 incremental fetch session with one broker.
type fetchSession struct {
	id    int32
	epoch int32
	// sent is what the broker's session holds: each partition's fetch offset as last sent.
	sent map[tpKey]fetchPart
}

func newFetchSession() fetchSession { return fetchSession{sent: map[tpKey]fetchPart{}} }

func (s *fetchSession) empty() bool { return len(s.sent) == 0 }

// reset forgets the session: the next request is a full one that opens a new session.
func (s *fetchSession) reset() {
	s.id, s.epoch = 0, 0
	s.sent = map[tpKey]fetchPart{}
}

// accepted records the broker's answer to a request built by build.
func (s *fetchSession) accepted(id int32) {
	if s.epoch == 0 {
		// A full request: the broker opened session id, or none (id 0) if its cache is full; then every request
		// stays a full one.
		s.id = id
	}
	if s.id != 0 {
		s.epoch++
		if s.epoch < 0 {
			s.reset()
		}
	}
}

// build makes the next request: all partitions when opening a session, otherwise only the partitions that are new
// or whose fetch offset moved, and the ones to forget.
func (s *fetchSession) build(parts map[tpKey]fetchPart, p kafkaapi.FetchParams, partitionMaxBytes int32) *kmsg.FetchRequest {
	full := s.id == 0
	if full {
		s.epoch = 0
		s.sent = map[tpKey]fetchPart{}
	}
	p.SessionID, p.SessionEpoch = s.id, s.epoch
	req := kafkaapi.NewFetch(p)
	topicIdx := map[string]int{}
	for k, fp := range parts {
		fp.maxBytes = partitionMaxBytes
		if prev, ok := s.sent[k]; ok && !full && prev.offset == fp.offset && prev.topicID == fp.topicID && prev.maxBytes == fp.maxBytes {
			continue
		}
		s.sent[k] = fp
		kafkaapi.AddFetchPartition(req, topicIdx, fp.topic, fp.topicID, fp.partition, fp.offset, partitionMaxBytes)
	}
	forgotten := map[string]int{}
	for k, fp := range s.sent {
		if _, ok := parts[k]; ok {
			continue
		}
		delete(s.sent, k)
		if !full {
			kafkaapi.ForgetFetchPartition(req, forgotten, k.topic, fp.topicID, k.partition)
		}
	}
	return req
}
