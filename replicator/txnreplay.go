package replicator

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
	"go.uber.org/zap"

	"github.com/clusterlink/clusterlink/replicator/kafkaapi"
	"github.com/clusterlink/clusterlink/replicator/recordbatch"
)

// This file replays source transactions on the destination. Each source transaction in a mirror partition goes
// through a destination transactional producer dedicated to that partition (a slot, so that interleaved
// transactions of several source producers each have their own): its data batches are produced with the slot's
// producer id, epoch and sequence (the records unchanged, the CRC recomputed), and when the source's COMMIT or ABORT
// marker is reached the slot's transaction ends with the same result; the writer waits until the destination's
// marker is written, so it takes the source marker's offset. A source transaction spanning several partitions
// becomes one destination transaction per partition: each partition is exact, the atomicity across partitions is
// eventual.
//
// The slots use transaction version 1 (EndTxn v4, AddPartitionsToTxn v3, Produce v11): the partition is added to
// the transaction explicitly, and an empty abort would still write a marker.
//
// After a crash (or a produce whose outcome was unknown), resolve reattaches the destination transactions still open
// on the mirror partition (reattachTransactions), so that the replay continues them. If the daemon stays down
// longer than the transaction timeout (txnTimeout), the destination coordinator aborts the open transaction and its
// marker lands where the source has data: the next write sees the offset move and the partition stops with
// ILLEGAL_STATE instead of diverging silently.

// txnTimeout is the destination transactions' timeout: the broker's maximum by default (15 minutes), so that a
// source transaction that stays open as long as the source allows is not aborted on the destination.
const txnTimeout = 15 * time.Minute

// destTxn is one slot: a destination transactional producer of one mirror partition.
type destTxn struct {
	id          string // transactional id: prefix, mirror topic, partition, slot
	sourcePID   int64  // the source producer whose transaction it replays now
	pid         int64
	epoch       int16
	seq         int32
	initialized bool
	open        bool
	// pidChecked: the destination partition was found to hold no state of pid before the slot's first transaction
	// on it. collided: it did hold some (see txnStep); the slot is not used again.
	pidChecked bool
	collided   bool
}

// txnClient is the destination client of the slots, with the request versions of transaction version 1.
type txnClient struct {
	once sync.Once
	cl   *kgo.Client
	err  error
}

func (r *Replicator) txnClientFor() (*kgo.Client, error) {
	r.txn.once.Do(func() {
		vs := kversion.Stable()
		vs.SetMaxKeyVersion(0, 11) // Produce
		vs.SetMaxKeyVersion(24, 3) // AddPartitionsToTxn
		vs.SetMaxKeyVersion(26, 4) // EndTxn
		r.txn.cl, r.txn.err = kgo.NewClient(append(r.dst.Opts(), kgo.MaxVersions(vs))...)
	})
	return r.txn.cl, r.txn.err
}

// slotLocked returns the slot replaying sourcePID's transaction in p, taking a free one if needed. The slot whose
// transaction ended last is not taken again at once: its coordinator completes that transaction (writes the
// COMPLETE state after the markers) after the marker is in place, and until then it answers the slot's next
// AddPartitionsToTxn with CONCURRENT_TRANSACTIONS. Alternating between two slots per source producer takes that
// wait out of the replay (25 against 76 transactions/s on one partition of a real broker, measured with the raw
// requests). r.mu is held.
func (p *partition) slotLocked(prefix string, sourcePID int64) *destTxn {
	for _, t := range p.txnSlots {
		if t.open && t.sourcePID == sourcePID {
			return t
		}
	}
	for _, t := range p.txnSlots {
		if t.open && t.sourcePID == -1 { // reattached with the partition added but no data yet: continue it
			t.sourcePID = sourcePID
			return t
		}
	}
	for _, t := range p.txnSlots {
		if !t.open && !t.collided && t != p.lastEndedSlot {
			t.sourcePID = sourcePID
			return t
		}
	}
	t := &destTxn{id: fmt.Sprintf("%s-%s-%d-%d", prefix, p.m.topic, p.id, len(p.txnSlots)), sourcePID: sourcePID}
	p.txnSlots = append(p.txnSlots, t)
	return t
}

// openSlotLocked returns the slot with an open transaction of sourcePID, or nil. r.mu is held.
func (p *partition) openSlotLocked(sourcePID int64) *destTxn {
	for _, t := range p.txnSlots {
		if t.open && t.sourcePID == sourcePID {
			return t
		}
	}
	return nil
}

// txnStep writes one transactional part: a data batch in the slot's transaction, or the end of it. It returns the
// offset the batch (or the marker) got.
func (w *writer) txnStep(ctx context.Context, pp producePart) (int64, error) {
	cl, err := w.r.txnClientFor()
	if err != nil {
		return 0, requestFailed("transactional client", err)
	}
	t := pp.slot
	if end, ok := pp.kind.(txnEndWrite); ok {
		err := retryConcurrent(ctx, func() error {
			resp, err := kafkaapi.NewEndTxn(t.id, t.pid, t.epoch, end.commit).RequestWith(ctx, cl)
			if err != nil {
				return requestFailed("end transaction "+t.id, err)
			}
			if err := kafkaapi.EndTxnErr(resp); err != nil {
				return fmt.Errorf("end transaction %s: %w", t.id, err)
			}
			return nil
		})
		if err != nil {
			return 0, err
		}
		// EndTxn answers before the coordinator has written the marker: wait for it.
		deadline := time.Now().Add(w.r.opts.requestTimeout)
		if w.awaitMarker(ctx, cl, pp, end.commit, deadline) {
			return pp.expected, nil
		}
		for {
			leo, err := w.logEndOffset(ctx, cl, pp)
			if err == nil && leo > pp.expected {
				return leo - 1, nil
			}
			if time.Now().After(deadline) {
				return 0, fmt.Errorf("the marker of transaction %s did not reach %s[%d] within %s (log end offset %d, %v)",
					t.id, pp.topic, pp.p.id, w.r.opts.requestTimeout, leo, err)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	if !t.initialized {
		req := kafkaapi.NewInitProducerID(kmsg.StringPtr(t.id), txnTimeout)
		var pid int64
		var epoch int16
		err := retryConcurrent(ctx, func() error {
			resp, err := req.RequestWith(ctx, cl)
			if err != nil {
				return requestFailed("init transactional producer "+t.id, err)
			}
			if pid, epoch, err = kafkaapi.InitProducerIDResult(resp); err != nil {
				return fmt.Errorf("init transactional producer %s: %w", t.id, err)
			}
			return nil
		})
		if err != nil {
			return 0, err
		}
		t.pid, t.epoch, t.seq, t.initialized, t.pidChecked = pid, epoch, 0, true, false
	}
	if !t.open && !t.pidChecked {
		// Raw batches keep their source producer ids, and the destination allocates its own from the same number
		// space: a slot's producer id may already have state on this partition, from a source producer's copied
		// batches. Its transaction would then be refused for ever (OUT_OF_ORDER_SEQUENCE_NUMBER), and once the
		// partition is added, ending it would put a marker where the source has data. So it is checked first, and a
		// colliding slot is given up for a new one (a new transactional id, a new producer id).
		active, err := w.r.producerStates(ctx, w.r.dst, pp.topic, pp.p.id)
		if err != nil {
			return 0, requestFailed(fmt.Sprintf("describe the producers of %s[%d]", pp.topic, pp.p.id), err)
		}
		if _, taken := active[t.pid]; taken {
			w.r.mu.Lock() // slotLocked reads it under the lock
			t.collided = true
			w.r.mu.Unlock()
			w.r.log.Info("transactional producer id already used on the mirror partition by a copied source producer: taking another slot",
				zap.String("mirror_topic", pp.topic), zap.Int32("partition", pp.p.id), zap.String("transactional_id", t.id),
				zap.Int64("producer_id", t.pid))
			return 0, requestFailed("open transaction "+t.id, fmt.Errorf("producer id %d already has state on %s[%d]", t.pid, pp.topic, pp.p.id))
		}
		t.pidChecked = true
	}
	if !t.open {
		err := retryConcurrent(ctx, func() error {
			resp, err := kafkaapi.NewAddPartitionToTxn(t.id, t.pid, t.epoch, pp.topic, pp.p.id).RequestWith(ctx, cl)
			if err != nil {
				return requestFailed(fmt.Sprintf("add %s[%d] to transaction %s", pp.topic, pp.p.id, t.id), err)
			}
			if err := kafkaapi.AddPartitionsToTxnErr(resp); err != nil {
				return fmt.Errorf("add %s[%d] to transaction %s: %w", pp.topic, pp.p.id, t.id, err)
			}
			return nil
		})
		if err != nil {
			return 0, err
		}
		t.open = true
	}
	batch := recordbatch.WithProducer(pp.payload, t.pid, t.epoch, t.seq)
	req := kafkaapi.NewProduce([]kafkaapi.ProducePartition{{Topic: pp.topic, Partition: pp.p.id, Batch: batch}},
		w.r.opts.requestTimeout, kmsg.StringPtr(t.id))
	kresp, err := cl.Broker(int(w.broker)).Request(ctx, req)
	if err != nil {
		return 0, requestFailed("produce in transaction "+t.id, err)
	}
	for _, res := range kafkaapi.ProduceResults(kresp.(*kmsg.ProduceResponse), nil) {
		if res.Err != nil {
			return 0, fmt.Errorf("produce in transaction %s: %w", t.id, res.Err)
		}
		t.seq += recordbatch.ParseHeader(batch).NumRecords
		return res.BaseOffset, nil
	}
	return 0, fmt.Errorf("produce in transaction %s: no answer for %s[%d]", t.id, pp.topic, pp.p.id)
}

// markerWait bounds one long-poll fetch of awaitMarker.
const markerWait = 500 * time.Millisecond

// awaitMarker waits until the slot's marker (COMMIT or ABORT as commit says) is readable at pp.expected, with fetches from there that the leader
// answers as soon as the marker is written (a fetch waits for data up to its MaxWait): the wait ends one round trip
// after the marker, where polling the log end offset costs a poll interval and several requests. It returns false
// when what it read is not the slot's marker at pp.expected (another write landed there: the caller's log end
// offset check says where the marker went) or the fetch failed (the caller polls instead).
func (w *writer) awaitMarker(ctx context.Context, cl *kgo.Client, pp producePart, commit bool, deadline time.Time) bool {
	for {
		wait := min(markerWait, time.Until(deadline))
		if wait <= 0 {
			return false
		}
		req := kafkaapi.NewFetch(kafkaapi.FetchParams{MaxWait: wait, MinBytes: 1, MaxBytes: 1 << 20})
		kafkaapi.AddFetchPartition(req, map[string]int{}, pp.topic, pp.topicID, pp.p.id, pp.expected, 1<<20)
		kresp, err := cl.Broker(int(w.broker)).Request(ctx, req)
		if err != nil {
			return false
		}
		for _, t := range kresp.(*kmsg.FetchResponse).Topics {
			for _, fp := range t.Partitions {
				if fp.ErrorCode != 0 {
					return false
				}
				batches, _, err := recordbatch.Split(fp.RecordBatches)
				if err != nil {
					return false
				}
				for _, b := range batches {
					if b.Header.LastOffset() < pp.expected {
						continue // a batch before the wanted offset, returned whole
					}
					h := b.Header
					if h.BaseOffset != pp.expected || !h.IsControl() || h.ProducerID != pp.slot.pid {
						return false
					}
					isCommit, err := recordbatch.MarkerIsCommit(b.Bytes)
					return err == nil && isCommit == commit
				}
			}
		}
	}
}

// logEndOffset reads a mirror partition's log end offset from its leader.
func (w *writer) logEndOffset(ctx context.Context, cl *kgo.Client, pp producePart) (int64, error) {
	req := kafkaapi.NewListEndOffsets([]kafkaapi.TopicPartition{{Topic: pp.topic, Partition: pp.p.id}})
	kresp, err := cl.Broker(int(w.broker)).Request(ctx, req)
	if err != nil {
		return 0, err
	}
	return kafkaapi.EndOffsetOf(kresp.(*kmsg.ListOffsetsResponse), pp.topic, pp.p.id)
}

// retryConcurrent retries fn while the coordinator answers CONCURRENT_TRANSACTIONS (it is still completing the
// slot's previous transaction) or a coordinator is loading or moving, until ctx ends.
func retryConcurrent(ctx context.Context, fn func() error) error {
	for {
		err := fn()
		if err == nil || !(errors.Is(err, kerr.ConcurrentTransactions) || errors.Is(err, kerr.CoordinatorLoadInProgress) ||
			errors.Is(err, kerr.NotCoordinator) || errors.Is(err, kerr.CoordinatorNotAvailable)) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// reattachTransactions brings the partition's slots in line with the destination before copying resumes: every
// destination transaction still open on the mirror partition (a crash, or a produce whose outcome was unknown) is
// found again, by its producer id among the link's transactional ids, with its next sequence, and tied to the source
// producer whose batch starts it, so that the replay continues it instead of aborting it (an abort would put a
// marker where the source has data). A transaction being completed is waited for (the caller retries).
//
// A transaction whose source start the source no longer has (its log start moved past it while the link was down)
// cannot be tied to its source producer: if the source's log start is beyond the mirror's end too, nothing of it
// stays visible, so it is aborted (its marker lands at an offset the source no longer has, which the alignment to
// the source's log start then fills and deletes) and the resolve reads the position again.
func (r *Replicator) reattachTransactions(ctx context.Context, p *partition, topic, srcTopic string, srcTopicID [16]byte, srcLeader int32,
	srcStart, dstLEO int64) error {
	cl, err := r.txnClientFor()
	if err != nil {
		return err
	}
	active, err := r.producerStates(ctx, r.dst, topic, p.id)
	if err != nil {
		return fmt.Errorf("describe the producers of %s[%d]: %w", topic, p.id, err)
	}
	ongoing := map[int64]kafkaapi.ActiveProducer{}
	for pid, ap := range active {
		if ap.CurrentTxnStartOffset >= 0 {
			ongoing[pid] = ap
		}
	}
	r.mu.Lock()
	slots := append([]*destTxn(nil), p.txnSlots...)
	prefix := r.opts.transactionalIDPrefix
	r.mu.Unlock()
	known := map[int64]*destTxn{}
	for _, t := range slots {
		if t.initialized {
			known[t.pid] = t
		}
	}
	// Slots this process knows: open exactly when the destination says so, with the destination's next sequence.
	for _, t := range slots {
		ap, open := ongoing[t.pid]
		if t.initialized {
			t.open = open
			if open {
				t.seq = ap.LastSequence + 1
			}
		}
	}
	var unknown []kafkaapi.ActiveProducer
	for pid, ap := range ongoing {
		if _, ok := known[pid]; !ok {
			unknown = append(unknown, ap)
		}
	}
	if len(unknown) == 0 && len(known) > 0 {
		return nil
	}
	// A new process (or producers it does not know): the slots' transactions are asked for by id. A transaction
	// with this partition added but no data on it yet is invisible to DescribeProducers, and must be continued too:
	// aborting it would write a marker here.
	// After a restart: find the slots by their transactional ids.
	ids, err := r.slotTransactionIDs(ctx, cl, prefix, topic, p.id, len(slots))
	if err != nil {
		return err
	}
	byPID, err := describeTransactions(ctx, cl, topic, p.id, ids)
	if err != nil {
		return err
	}
	for _, ap := range unknown {
		if _, ok := byPID[ap.ProducerID]; !ok {
			// Open on the partition but not listed as open: completed since DescribeProducers (another daemon ending
			// it) or not the link's. The slot ids themselves decide, as where ListTransactions is missing.
			if byPID, err = describeTransactions(ctx, cl, topic, p.id, slotIDRange(prefix, topic, p.id, len(slots)+32)); err != nil {
				return err
			}
			break
		}
	}
	for _, ts := range byPID {
		if _, withData := ongoing[ts.ProducerID]; withData || !kafkaapi.HasPartition(ts, topic, p.id) {
			continue
		}
		if _, ok := known[ts.ProducerID]; ok {
			continue
		}
		if ts.State != "Ongoing" {
			return fmt.Errorf("transaction %s on %s[%d] is %s: waiting for it to complete", ts.TransactionalID, topic, p.id, ts.State)
		}
		slot, err := slotIndex(ts.TransactionalID, prefix, topic, p.id)
		if err != nil {
			return err
		}
		// Sequences run on across the producer's transactions: continue after its last batch on this partition.
		seq := int32(0)
		if ap, ok := active[ts.ProducerID]; ok && ap.ProducerEpoch == int32(ts.ProducerEpoch) {
			seq = ap.LastSequence + 1
		}
		r.mu.Lock()
		t := p.slotAtLocked(prefix, topic, slot)
		t.sourcePID, t.pid, t.epoch, t.seq, t.initialized, t.open = -1, ts.ProducerID, ts.ProducerEpoch, seq, true, true
		r.mu.Unlock()
		r.log.Info("destination transaction reattached (partition added, no data yet)", zap.String("mirror_topic", topic),
			zap.Int32("partition", p.id), zap.String("transactional_id", ts.TransactionalID))
	}
	for _, ap := range unknown {
		ts, ok := byPID[ap.ProducerID]
		if !ok {
			return &partitionError{code: CodeIllegalState, diverged: true, msg: fmt.Sprintf(
				"mirror %s[%d] has an open transaction of producer %d starting at offset %d that is not one of this link's: something other than the link wrote to the mirror",
				topic, p.id, ap.ProducerID, ap.CurrentTxnStartOffset)}
		}
		if ts.State != "Ongoing" {
			return fmt.Errorf("transaction %s on %s[%d] is %s: waiting for it to complete", ts.TransactionalID, topic, p.id, ts.State)
		}
		slot, err := slotIndex(ts.TransactionalID, prefix, topic, p.id)
		if err != nil {
			return err
		}
		sourcePID, err := r.sourceProducerAt(ctx, srcTopic, srcTopicID, p.id, srcLeader, ap.CurrentTxnStartOffset)
		if errors.Is(err, kerr.OffsetOutOfRange) && ap.CurrentTxnStartOffset < srcStart {
			return r.endOrphanTransaction(ctx, cl, p, topic, ts, ap, srcStart, dstLEO)
		}
		if err != nil {
			return err
		}
		r.mu.Lock()
		t := p.slotAtLocked(prefix, topic, slot)
		t.sourcePID, t.pid, t.epoch, t.seq = sourcePID, ap.ProducerID, int16(ap.ProducerEpoch), ap.LastSequence+1
		t.initialized, t.open = true, true
		r.mu.Unlock()
		r.log.Info("destination transaction reattached", zap.String("mirror_topic", topic), zap.Int32("partition", p.id),
			zap.String("transactional_id", t.id), zap.Int64("started_at", ap.CurrentTxnStartOffset))
	}
	return nil
}

// slotTransactionIDs returns the transactional ids of the partition's slots to describe: those with a transaction
// that is not complete, from the listing shared by the partitions resolving now (openTransactions); where the
// destination has no ListTransactions, every slot id up to 32 past the slots this process knows.
func (r *Replicator) slotTransactionIDs(ctx context.Context, cl *kgo.Client, prefix, topic string, partition int32, known int) ([]string, error) {
	listed, err := r.openTransactions(ctx, cl)
	if errors.Is(err, errListTransactionsUnsupported) {
		return slotIDRange(prefix, topic, partition, known+32), nil
	}
	if err != nil {
		return nil, fmt.Errorf("list the destination's open transactions for %s[%d]: %w", topic, partition, err)
	}
	own := fmt.Sprintf("%s-%s-%d-", prefix, topic, partition)
	var ids []string
	for _, t := range listed {
		// The prefix alone is ambiguous ("t-1" partition 2 and "t" partition 1 share "...-t-1-"): DescribeTransactions'
		// partitions decide (HasPartition).
		if strings.HasPrefix(t.TransactionalID, own) {
			ids = append(ids, t.TransactionalID)
		}
	}
	return ids, nil
}

// slotIDRange returns the transactional ids of a partition's first n slots.
func slotIDRange(prefix, topic string, partition int32, n int) []string {
	ids := make([]string, 0, n)
	for i := 0; i < n; i++ {
		ids = append(ids, fmt.Sprintf("%s-%s-%d-%d", prefix, topic, partition, i))
	}
	return ids
}

// describeTransactions describes the given transactional ids, by producer id (none: no request).
func describeTransactions(ctx context.Context, cl *kgo.Client, topic string, partition int32, ids []string) (map[int64]kafkaapi.TransactionState, error) {
	if len(ids) == 0 {
		return map[int64]kafkaapi.TransactionState{}, nil
	}
	tresp, err := kafkaapi.NewDescribeTransactions(ids).RequestWith(ctx, cl)
	if err != nil {
		return nil, fmt.Errorf("describe the transactions of %s[%d]: %w", topic, partition, err)
	}
	byPID, err := kafkaapi.TransactionsByProducer(tresp)
	if err != nil {
		return nil, fmt.Errorf("describe the transactions of %s[%d]: %w", topic, partition, err)
	}
	return byPID, nil
}

// sourceProducerAt returns the producer id of the source batch holding offset.
func (r *Replicator) sourceProducerAt(ctx context.Context, topic string, topicID [16]byte, partition, leader int32, offset int64) (int64, error) {
	b, err := fetchBatchAt(ctx, r.src, topic, topicID, leader, partition, offset)
	if err != nil {
		return 0, fmt.Errorf("read the source batch at %s[%d] offset %d: %w", topic, partition, offset, err)
	}
	return b.Header.ProducerID, nil
}

func slotIndex(txnID, prefix, topic string, partition int32) (int, error) {
	var slot int
	if _, err := fmt.Sscanf(txnID[len(fmt.Sprintf("%s-%s-%d-", prefix, topic, partition)):], "%d", &slot); err != nil {
		return 0, fmt.Errorf("transactional id %s: %w", txnID, err)
	}
	return slot, nil
}

// slotAtLocked returns slot number n of p, creating the slots up to it. r.mu is held.
func (p *partition) slotAtLocked(prefix, topic string, n int) *destTxn {
	for len(p.txnSlots) <= n {
		p.txnSlots = append(p.txnSlots, &destTxn{id: fmt.Sprintf("%s-%s-%d-%d", prefix, topic, p.id, len(p.txnSlots))})
	}
	return p.txnSlots[n]
}

// endOrphanTransaction ends a destination transaction whose source start is gone (see reattachTransactions). It
// returns an error in every case: after an abort, so that the resolve reads the moved log end offset again.
func (r *Replicator) endOrphanTransaction(ctx context.Context, cl *kgo.Client, p *partition, topic string,
	ts kafkaapi.TransactionState, ap kafkaapi.ActiveProducer, srcStart, dstLEO int64) error {
	if srcStart <= dstLEO {
		// Its marker would take offset dstLEO, which the source still has: neither continued nor aborted here.
		return &partitionError{code: CodeIllegalState, msg: fmt.Sprintf(
			"mirror %s[%d] has an open transaction (%s) from offset %d whose source start is gone (source log start %d): it can be neither continued nor aborted without taking offset %d, which the source has; fail over or promote the mirror (that aborts it), or recreate it",
			topic, p.id, ts.TransactionalID, ap.CurrentTxnStartOffset, srcStart, dstLEO)}
	}
	if err := abortTransaction(ctx, cl, ts.TransactionalID, ts.ProducerID, ts.ProducerEpoch); err != nil {
		return fmt.Errorf("abort the orphaned transaction %s on %s[%d]: %w", ts.TransactionalID, topic, p.id, err)
	}
	r.log.Info("orphaned destination transaction aborted: its source start is gone", zap.String("mirror_topic", topic),
		zap.Int32("partition", p.id), zap.String("transactional_id", ts.TransactionalID),
		zap.Int64("started_at", ap.CurrentTxnStartOffset), zap.Int64("source_log_start_offset", srcStart))
	r.mu.Lock()
	for _, t := range p.txnSlots {
		if t.pid == ts.ProducerID {
			t.open = false
		}
	}
	r.mu.Unlock()
	return fmt.Errorf("mirror %s[%d]: aborted the orphaned transaction %s, reading the position again", topic, p.id, ts.TransactionalID)
}
