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
// partition whose last batches are still being written is left out of the session until they are, so memory stays
// bounded by the fetch sizes and a slow partition holds back only itself.
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
}

func (f *fetcher) run(ctx context.Context) error {
	failures := 0
	for ctx.Err() == nil {
		parts, anyBusy := f.fetchable()
		if len(parts) == 0 && f.session.empty() {
			select {
			case <-ctx.Done():
			case <-f.wakeCh:
			case <-time.After(time.Second):
			}
			continue
		}
		if err := f.fetchOnce(ctx, parts, anyBusy); err != nil && ctx.Err() == nil {
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

// fetchable lists the partitions this fetcher should fetch now, and whether some of its partitions are being
// written (they rejoin the fetch when their write is done).
func (f *fetcher) fetchable() (parts map[tpKey]fetchPart, anyBusy bool) {
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
			parts[tpKey{m.sourceTopic, p.id}] = fetchPart{
				p: p, gen: p.gen, topic: m.sourceTopic, topicID: m.sourceTopicID, partition: p.id, offset: p.fetchOffset(),
			}
		}
	}
	return parts, anyBusy
}

// busyFetchWait bounds the broker's wait while partitions of this fetcher are being written: a long poll would keep
// them out of the fetch until data arrives elsewhere, adding up to replica.fetch.wait.max.ms of latency.
const busyFetchWait = 10 * time.Millisecond

func (f *fetcher) fetchOnce(ctx context.Context, parts map[tpKey]fetchPart, anyBusy bool) error {
	o := f.r.opts
	wait := o.fetchWaitMax
	switch {
	case len(parts) == 0:
		wait = 0 // only forgetting partitions: nothing to wait for
	case anyBusy:
		wait = min(wait, busyFetchWait)
	}
	req := f.session.build(parts, kafkaapi.FetchParams{MaxWait: wait, MinBytes: o.fetchMinBytes, MaxBytes: o.fetchResponseMaxBytes}, o.fetchMaxBytes)
	rctx, cancel := context.WithTimeout(ctx, o.requestTimeout+o.fetchWaitMax)
	defer cancel()
	start := time.Now()
	kresp, err := f.r.src.Broker(int(f.broker)).Request(rctx, req)
	o.observer.FetchDone(f.broker, time.Since(start), err)
	if err != nil {
		return fmt.Errorf("fetch: %w", err)
	}
	resp := kresp.(*kmsg.FetchResponse)
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		if errors.Is(err, kerr.FetchSessionIDNotFound) || errors.Is(err, kerr.InvalidFetchSessionEpoch) {
			f.session.reset()
			return nil
		}
		return fmt.Errorf("fetch: %w", err)
	}
	f.session.accepted(resp.SessionID)

	byID := map[[16]byte]string{}
	for _, fp := range parts {
		byID[fp.topicID] = fp.topic
	}
	r := f.r
	r.mu.Lock()
	defer r.mu.Unlock()
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
			f.handlePartitionLocked(fp, rp)
		}
	}
	return nil
}

// handlePartitionLocked takes one partition of a fetch response: position bookkeeping, errors, and the batches to
// hand to the partition's writer. r.mu must be held.
func (f *fetcher) handlePartitionLocked(fp fetchPart, rp *kmsg.FetchResponseTopicPartition) {
	r, p := f.r, fp.p
	if p.gen != fp.gen || p.phase != phaseCopy || p.busy {
		return // resynced, failed or handed out since the snapshot
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
		return
	}
	batches, _, err := recordbatch.Split(rp.RecordBatches)
	if err != nil {
		if errors.Is(err, recordbatch.ErrUnsupportedMessageFormat) {
			r.failLocked(p, CodeUnsupportedMessageFormat, fmt.Sprintf(
				"source %s[%d]: %v: magic v0/v1 message sets cannot be copied at the same offsets", fp.topic, fp.partition, err))
			return
		}
		r.log.Warn("corrupt fetch data, fetching again", zap.String("source_topic", fp.topic),
			zap.Int32("partition", fp.partition), zap.Int64("offset", fp.offset), zap.Error(err))
		r.resyncLocked(p, fp.gen, "corrupt fetch data")
		return
	}
	if len(batches) == 0 {
		return
	}
	p.lastFetchOffset = max(p.lastFetchOffset, batches[len(batches)-1].Header.NextOffset())
	w := r.writerForLocked(p.dstLeader)
	if w == nil {
		return
	}
	items := make([]writeItem, len(batches))
	for i := range batches {
		items[i] = writeItem{batch: batches[i]}
	}
	p.busy = true
	w.enqueue(p, fp.gen, items)
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
		if prev, ok := s.sent[k]; ok && !full && prev.offset == fp.offset && prev.topicID == fp.topicID {
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
