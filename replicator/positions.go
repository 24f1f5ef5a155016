package replicator

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/clusterlink/clusterlink/replicator/kafkaapi"
)

// Positions are read in batches. Each partition's resolve asks for its own offsets, but the asks of partitions
// resolving at the same time (a link's start or restart, a resync of many partitions after a leader move) go out
// together: one ListOffsets or OffsetForLeaderEpoch request per broker for all the partitions asked while the
// previous request was in flight (the client splits a request by partition leader). The producer state a resolve
// reads (DescribeProducers: the link producer's sequence, the replayed transactions still open) goes the same way.
// A lone ask goes out at once,
// so batching adds no wait; starting a link of thousands of partitions costs a few requests per broker, not a
// few per partition.

// maxPositionBatch bounds the partitions of one batched request.
const maxPositionBatch = 2000

// positionQuery is one partition's ask: an offset at a timestamp (ListOffsets) or the end of a leader epoch
// (OffsetForLeaderEpoch).
type positionQuery struct {
	tp        kafkaapi.TopicPartition
	epoch     int32
	offset    int64
	producers map[int64]kafkaapi.ActiveProducer // the answer of a producer-state ask
	err       error
	done      chan struct{}
}

// positionBatcher sends the queries asked of one kind of request to one cluster, many at a time.
type positionBatcher struct {
	// send answers every query of a batch (offset or err), the batch's partitions all different.
	send    func(ctx context.Context, batch []*positionQuery)
	timeout time.Duration

	mu      sync.Mutex
	pending []*positionQuery
	sending bool
}

// ask queues q and waits for its answer.
func (b *positionBatcher) ask(ctx context.Context, q *positionQuery) (int64, error) {
	q.done = make(chan struct{})
	b.mu.Lock()
	b.pending = append(b.pending, q)
	if !b.sending {
		b.sending = true
		go b.sendAll()
	}
	b.mu.Unlock()
	select {
	case <-q.done:
		return q.offset, q.err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// sendAll sends what is pending, batch after batch, until nothing is; it ends within a request timeout of the
// last ask, whether or not anyone still waits.
func (b *positionBatcher) sendAll() {
	for {
		b.mu.Lock()
		batch, rest, dups := takeBatch(b.pending)
		b.pending = rest
		if len(batch) == 0 {
			b.sending = false
			b.mu.Unlock()
			return
		}
		b.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), b.timeout)
		b.send(ctx, batch)
		cancel()
		for _, q := range batch {
			close(q.done)
		}
		for _, d := range dups {
			d.dup.offset, d.dup.producers, d.dup.err = d.of.offset, d.of.producers, d.of.err
			close(d.dup.done)
		}
	}
}

// duplicate is a query for a partition already in the batch: it gets the same answer.
type duplicate struct{ dup, of *positionQuery }

// takeBatch takes up to maxPositionBatch distinct partitions from pending (a request must not name a partition
// twice), and the queries for partitions already taken (answered alike).
func takeBatch(pending []*positionQuery) (batch, rest []*positionQuery, dups []duplicate) {
	seen := map[kafkaapi.TopicPartition]*positionQuery{}
	for i, q := range pending {
		if of, ok := seen[q.tp]; ok && of.epoch == q.epoch {
			dups = append(dups, duplicate{q, of})
			continue
		}
		if _, ok := seen[q.tp]; ok || len(batch) == maxPositionBatch {
			rest = append(rest, pending[i])
			continue
		}
		seen[q.tp] = q
		batch = append(batch, q)
	}
	return batch, rest, dups
}

// positionBatchers holds the batchers of a replicator, one per cluster and kind of ask.
type positionBatchers struct {
	mu       sync.Mutex
	batchers map[positionKind]*positionBatcher
}

type positionKind struct {
	cl        *kgo.Client
	timestamp int64 // ListOffsets' timestamp, or epochEnd
}

// epochEnd and producerState mark the batchers of OffsetForLeaderEpoch and DescribeProducers asks.
const (
	epochEnd      int64 = -100
	producerState int64 = -101
)

func (r *Replicator) positionBatcher(cl *kgo.Client, timestamp int64) *positionBatcher {
	pb := &r.positions
	pb.mu.Lock()
	defer pb.mu.Unlock()
	k := positionKind{cl, timestamp}
	if b, ok := pb.batchers[k]; ok {
		return b
	}
	if pb.batchers == nil {
		pb.batchers = map[positionKind]*positionBatcher{}
	}
	b := &positionBatcher{timeout: r.opts.requestTimeout}
	switch timestamp {
	case epochEnd:
		b.send = func(ctx context.Context, batch []*positionQuery) { sendLeaderEpochEnds(ctx, cl, batch) }
	case producerState:
		b.send = func(ctx context.Context, batch []*positionQuery) { sendDescribeProducers(ctx, cl, batch) }
	default:
		b.send = func(ctx context.Context, batch []*positionQuery) { sendListOffsets(ctx, cl, timestamp, batch) }
	}
	pb.batchers[k] = b
	return b
}

// offsetBounds returns a partition's log start offset and high watermark, asked in batches with other partitions'.
func (r *Replicator) offsetBounds(ctx context.Context, cl *kgo.Client, topic string, partition int32) (start, end int64, err error) {
	tp := kafkaapi.TopicPartition{Topic: topic, Partition: partition}
	if start, err = r.positionBatcher(cl, kafkaapi.EarliestOffset).ask(ctx, &positionQuery{tp: tp}); err != nil {
		return 0, 0, fmt.Errorf("log start offset of %s[%d]: %w", topic, partition, err)
	}
	if end, err = r.positionBatcher(cl, kafkaapi.LatestOffset).ask(ctx, &positionQuery{tp: tp}); err != nil {
		return 0, 0, fmt.Errorf("high watermark of %s[%d]: %w", topic, partition, err)
	}
	return start, end, nil
}

// logEndOffset asks the partition leader for the end offset of its current leader epoch, which is its log end
// offset, including records not yet replicated (the high watermark excludes them); -1 when the leader does not
// know the epoch. Asked in batches with other partitions'.
func (r *Replicator) logEndOffset(ctx context.Context, cl *kgo.Client, topic string, partition, leaderEpoch int32) (int64, error) {
	tp := kafkaapi.TopicPartition{Topic: topic, Partition: partition}
	return r.positionBatcher(cl, epochEnd).ask(ctx, &positionQuery{tp: tp, epoch: leaderEpoch})
}

// producerStates returns the producers a partition's leader holds state for, by producer id, asked in batches
// with other partitions'.
func (r *Replicator) producerStates(ctx context.Context, cl *kgo.Client, topic string, partition int32) (map[int64]kafkaapi.ActiveProducer, error) {
	q := &positionQuery{tp: kafkaapi.TopicPartition{Topic: topic, Partition: partition}}
	if _, err := r.positionBatcher(cl, producerState).ask(ctx, q); err != nil {
		return nil, err
	}
	return q.producers, nil
}

var errNoAnswer = errors.New("no answer for the partition")

// settleUnanswered gives the queries no response answered the error of a request that failed (the request of
// their leader, or of another, which is as good a reason to ask again).
func settleUnanswered(batch []*positionQuery, shardErr error) {
	if shardErr == nil {
		return
	}
	for _, q := range batch {
		if q.err == errNoAnswer {
			q.err = shardErr
		}
	}
}

// sendListOffsets answers a batch with one ListOffsets request per partition leader.
func sendListOffsets(ctx context.Context, cl *kgo.Client, timestamp int64, batch []*positionQuery) {
	tps := make([]kafkaapi.TopicPartition, len(batch))
	byTP := map[kafkaapi.TopicPartition]*positionQuery{}
	for i, q := range batch {
		tps[i] = q.tp
		byTP[q.tp] = q
		q.err = errNoAnswer
	}
	var shardErr error
	for _, shard := range cl.RequestSharded(ctx, kafkaapi.NewListOffsetsAt(tps, timestamp)) {
		if shard.Err != nil {
			shardErr = shard.Err
			continue
		}
		for _, l := range kafkaapi.ListedOffsets(shard.Resp.(*kmsg.ListOffsetsResponse)) {
			if q := byTP[l.TopicPartition]; q != nil {
				q.offset, q.err = l.Offset, l.Err
			}
		}
	}
	settleUnanswered(batch, shardErr)
}

// sendLeaderEpochEnds answers a batch with one OffsetForLeaderEpoch request per partition leader.
func sendLeaderEpochEnds(ctx context.Context, cl *kgo.Client, batch []*positionQuery) {
	byTP := map[kafkaapi.TopicPartition]*positionQuery{}
	parts := make([]kafkaapi.LeaderEpochPartition, len(batch))
	for i, q := range batch {
		parts[i] = kafkaapi.LeaderEpochPartition{TopicPartition: q.tp, LeaderEpoch: q.epoch}
		byTP[q.tp] = q
		q.err = errNoAnswer
	}
	var shardErr error
	for _, shard := range cl.RequestSharded(ctx, kafkaapi.NewLeaderEpochEnds(parts)) {
		if shard.Err != nil {
			shardErr = shard.Err
			continue
		}
		for _, l := range kafkaapi.LeaderEpochEnds(shard.Resp.(*kmsg.OffsetForLeaderEpochResponse)) {
			if q := byTP[l.TopicPartition]; q != nil {
				q.offset, q.err = l.Offset, l.Err
			}
		}
	}
	settleUnanswered(batch, shardErr)
}

// sendDescribeProducers answers a batch with one DescribeProducers request per partition leader.
func sendDescribeProducers(ctx context.Context, cl *kgo.Client, batch []*positionQuery) {
	tps := make([]kafkaapi.TopicPartition, len(batch))
	byTP := map[kafkaapi.TopicPartition]*positionQuery{}
	for i, q := range batch {
		tps[i] = q.tp
		byTP[q.tp] = q
		q.err = errNoAnswer
	}
	var shardErr error
	for _, shard := range cl.RequestSharded(ctx, kafkaapi.NewDescribeProducersOf(tps)) {
		if shard.Err != nil {
			shardErr = shard.Err
			continue
		}
		for _, pp := range kafkaapi.ProducersOf(shard.Resp.(*kmsg.DescribeProducersResponse)) {
			if q := byTP[pp.TopicPartition]; q != nil {
				q.producers, q.err = pp.Producers, pp.Err
			}
		}
	}
	settleUnanswered(batch, shardErr)
}
