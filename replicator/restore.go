package replicator

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
)

// This file is what truncate-and-restore needs of the data plane on the old source (the cluster that will hold the
// mirror): where each partition's committed records stop matching the new primary's, saving the records beyond
// that point to a topic of their own with their original partition, offset and timestamp, and deleting the old
// topic (by topic id, so that a resumed restore never deletes the topic it recreated). A stock broker cannot
// truncate a partition's tail, so the restored topic is recreated and copied in full by the replicator.

// Headers of a saved divergent record: where it was on the old source and which restore saved it.
const (
	HeaderDivergedTopic     = "clusterlink.diverged.topic"
	HeaderDivergedPartition = "clusterlink.diverged.partition"
	HeaderDivergedOffset    = "clusterlink.diverged.offset"
	HeaderDivergedTimestamp = "clusterlink.diverged.timestamp"
	HeaderDivergedRestore   = "clusterlink.diverged.restore"
)

// ErrOpenTransaction is a partition of the old source with a transaction still open: its outcome, and so which of
// its records a producer was told are written, is not known yet.
type ErrOpenTransaction struct {
	Topic            string
	Partition        int32
	LastStable, High int64
}

func (e *ErrOpenTransaction) Error() string {
	return fmt.Sprintf("%s[%d] has a transaction open on the old source (last stable offset %d, high watermark %d): wait until it commits or aborts (at most its transaction.timeout.ms), then run the operation again",
		e.Topic, e.Partition, e.LastStable, e.High)
}

// CommittedBounds are one partition's log start, last stable offset and high watermark.
type CommittedBounds struct{ Start, Stable, End int64 }

// PartitionBounds lists the log start, last stable offset and high watermark of every partition of topic.
func PartitionBounds(ctx context.Context, adm *kadm.Client, topic string) (map[int32]CommittedBounds, error) {
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("log start offsets of %s: %w", topic, err)
	}
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("high watermarks of %s: %w", topic, err)
	}
	stables, err := adm.ListCommittedOffsets(ctx, topic)
	if err == nil {
		err = stables.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("last stable offsets of %s: %w", topic, err)
	}
	out := map[int32]CommittedBounds{}
	for p, e := range ends[topic] {
		s, _ := starts.Lookup(topic, p)
		st, _ := stables.Lookup(topic, p)
		out[p] = CommittedBounds{Start: s.Offset, Stable: st.Offset, End: e.Offset}
	}
	return out, nil
}

// committedReader reads the committed data records of one partition in offset order, from an offset up to (not
// including) an end, as a read_committed consumer sees them: aborted records and markers are skipped.
type committedReader struct {
	cl      *kgo.Client
	buf     []*kgo.Record
	to      int64
	drained bool
}

func newCommittedReader(base *kgo.Client, topic string, partition int32, from, to int64) (*committedReader, error) {
	if from >= to {
		return &committedReader{drained: true}, nil
	}
	cl, err := kgo.NewClient(append(base.Opts(),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {partition: kgo.NewOffset().At(from)}}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.FetchMaxWait(200*time.Millisecond))...)
	if err != nil {
		return nil, err
	}
	return &committedReader{cl: cl, to: to}, nil
}

func (r *committedReader) close() {
	if r.cl != nil {
		r.cl.Close()
	}
}

// next returns the next committed record below the end, nil once there is none. It reads until the record before
// the end offset was read, or the partition gave nothing for idleRounds polls (the end is reached: the remaining
// offsets are aborted records or markers, which a read_committed consumer is never given).
func (r *committedReader) next(ctx context.Context) (*kgo.Record, error) {
	const idleRounds = 3
	for idle := 0; len(r.buf) == 0 && !r.drained; {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		fs := r.cl.PollFetches(pctx)
		cancel()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		var ferr error
		fs.EachError(func(_ string, _ int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				ferr = err
			}
		})
		if ferr != nil {
			return nil, ferr
		}
		got := false
		fs.EachRecord(func(rec *kgo.Record) {
			got = true
			if rec.Offset >= r.to {
				r.drained = true
				return
			}
			r.buf = append(r.buf, rec)
			r.drained = r.drained || rec.Offset == r.to-1
		})
		if got {
			idle = 0
		} else if idle++; idle >= idleRounds {
			r.drained = true
		}
	}
	if len(r.buf) == 0 {
		return nil, nil
	}
	rec := r.buf[0]
	r.buf = r.buf[1:]
	return rec, nil
}

// FirstCommittedDifference compares the committed records of partition of oldTopic on old with those of
// primaryTopic on primary at [from, to) and returns the first offset where they differ (a committed record on
// one side only, or one that differs in key, value, headers or timestamp), or to if none does. With compacted, an
// offset on one side only is not a difference (the two cleaners run on their own schedules).
func FirstCommittedDifference(ctx context.Context, old, primary *kgo.Client, oldTopic, primaryTopic string, partition int32, from, to int64, compacted bool) (int64, error) {
	ro, err := newCommittedReader(old, oldTopic, partition, from, to)
	if err != nil {
		return 0, err
	}
	defer ro.close()
	rp, err := newCommittedReader(primary, primaryTopic, partition, from, to)
	if err != nil {
		return 0, err
	}
	defer rp.close()
	a, err := ro.next(ctx)
	if err != nil {
		return 0, fmt.Errorf("read %s[%d] on the old source: %w", oldTopic, partition, err)
	}
	b, err := rp.next(ctx)
	if err != nil {
		return 0, fmt.Errorf("read %s[%d] on the new primary: %w", primaryTopic, partition, err)
	}
	for a != nil || b != nil {
		switch {
		case a != nil && b != nil && a.Offset == b.Offset:
			if !sameRecord(a, b) {
				return a.Offset, nil
			}
		case b == nil || a != nil && a.Offset < b.Offset:
			if !compacted {
				return a.Offset, nil
			}
		default:
			if !compacted {
				return b.Offset, nil
			}
		}
		advanceA := a != nil && (b == nil || a.Offset <= b.Offset)
		advanceB := b != nil && (a == nil || b.Offset <= a.Offset)
		if advanceA {
			if a, err = ro.next(ctx); err != nil {
				return 0, fmt.Errorf("read %s[%d] on the old source: %w", oldTopic, partition, err)
			}
		}
		if advanceB {
			if b, err = rp.next(ctx); err != nil {
				return 0, fmt.Errorf("read %s[%d] on the new primary: %w", primaryTopic, partition, err)
			}
		}
	}
	return to, nil
}

func sameRecord(a, b *kgo.Record) bool {
	if !bytes.Equal(a.Key, b.Key) || (a.Key == nil) != (b.Key == nil) || !bytes.Equal(a.Value, b.Value) ||
		(a.Value == nil) != (b.Value == nil) || !a.Timestamp.Equal(b.Timestamp) || len(a.Headers) != len(b.Headers) {
		return false
	}
	for i := range a.Headers {
		if a.Headers[i].Key != b.Headers[i].Key || !bytes.Equal(a.Headers[i].Value, b.Headers[i].Value) {
			return false
		}
	}
	return true
}

// CountCommitted counts the committed data records of a partition at [from, to).
func CountCommitted(ctx context.Context, cl *kgo.Client, topic string, partition int32, from, to int64) (int64, error) {
	r, err := newCommittedReader(cl, topic, partition, from, to)
	if err != nil {
		return 0, err
	}
	defer r.close()
	var n int64
	for {
		rec, err := r.next(ctx)
		if err != nil {
			return n, fmt.Errorf("read %s[%d]: %w", topic, partition, err)
		}
		if rec == nil {
			return n, nil
		}
		n++
	}
}

// DivergedTopicConfigs are the configs of a topic of saved divergent records: kept until the user deletes it,
// with the records' own timestamps.
var DivergedTopicConfigs = map[string]*string{
	"cleanup.policy":                  kadm.StringPtr("delete"),
	"retention.ms":                    kadm.StringPtr("-1"),
	"retention.bytes":                 kadm.StringPtr("-1"),
	"message.timestamp.type":          kadm.StringPtr("CreateTime"),
	"message.timestamp.before.max.ms": kadm.StringPtr(strconv.FormatInt(1<<63-1, 10)),
	"message.timestamp.after.max.ms":  kadm.StringPtr(strconv.FormatInt(1<<63-1, 10)),
}

// SaveDiverged copies the committed records of each partition of topic on cl from from[p] to ends[p] into the same
// partition of divergedTopic (created with partitions partitions if missing), each with its key, value, headers
// and timestamp, plus headers naming its topic, partition, offset, timestamp and the restore id. It is resumable:
// a partition whose last saved record carries this restore id continues after that record's offset. It returns
// how many records it wrote in this call.
func SaveDiverged(ctx context.Context, cl *kgo.Client, topic, divergedTopic, restoreID string, partitions int32, from, ends map[int32]int64, log *zap.Logger) (int64, error) {
	adm := kadm.NewClient(cl)
	resp, err := adm.CreateTopic(ctx, partitions, -1, DivergedTopicConfigs, divergedTopic)
	if err == nil {
		err = resp.Err
	}
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return 0, fmt.Errorf("create the topic of divergent records %s: %w", divergedTopic, err)
	}
	if err := waitForLeaders(ctx, adm, divergedTopic); err != nil {
		return 0, err
	}
	saved, err := PartitionBounds(ctx, adm, divergedTopic)
	if err != nil {
		return 0, err
	}
	prod, err := kgo.NewClient(append(cl.Opts(), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(5*time.Millisecond), kgo.RequiredAcks(kgo.AllISRAcks()))...)
	if err != nil {
		return 0, err
	}
	defer prod.Close()
	var written int64
	for p, start := range from {
		if p >= int32(len(saved)) {
			return written, fmt.Errorf("%s has %d partitions, fewer than %s (%d): delete it or name another", divergedTopic, len(saved), topic, partitions)
		}
		if last, ok, err := lastSavedOffset(ctx, cl, divergedTopic, p, saved[p], restoreID); err != nil {
			return written, err
		} else if ok {
			start = max(start, last+1)
		}
		r, err := newCommittedReader(cl, topic, p, start, ends[p])
		if err != nil {
			return written, err
		}
		var batch []*kgo.Record
		flush := func() error {
			if len(batch) == 0 {
				return nil
			}
			err := prod.ProduceSync(ctx, batch...).FirstErr()
			written += int64(len(batch))
			batch = batch[:0]
			return err
		}
		for {
			rec, err := r.next(ctx)
			if err == nil && rec == nil {
				err = flush()
				r.close()
				if err != nil {
					return written, fmt.Errorf("save divergent records of %s[%d]: %w", topic, p, err)
				}
				break
			}
			if err != nil {
				r.close()
				return written, fmt.Errorf("read divergent records of %s[%d]: %w", topic, p, err)
			}
			batch = append(batch, divergedRecord(divergedTopic, topic, restoreID, rec))
			if len(batch) == 500 {
				if err := flush(); err != nil {
					r.close()
					return written, fmt.Errorf("save divergent records of %s[%d]: %w", topic, p, err)
				}
			}
		}
	}
	log.Info("divergent records saved", zap.String("topic", topic), zap.String("diverged_topic", divergedTopic), zap.Int64("records_written", written))
	return written, nil
}

func divergedRecord(divergedTopic, topic, restoreID string, rec *kgo.Record) *kgo.Record {
	headers := append([]kgo.RecordHeader{}, rec.Headers...)
	headers = append(headers,
		kgo.RecordHeader{Key: HeaderDivergedTopic, Value: []byte(topic)},
		kgo.RecordHeader{Key: HeaderDivergedPartition, Value: []byte(strconv.Itoa(int(rec.Partition)))},
		kgo.RecordHeader{Key: HeaderDivergedOffset, Value: []byte(strconv.FormatInt(rec.Offset, 10))},
		kgo.RecordHeader{Key: HeaderDivergedTimestamp, Value: []byte(strconv.FormatInt(rec.Timestamp.UnixMilli(), 10))},
		kgo.RecordHeader{Key: HeaderDivergedRestore, Value: []byte(restoreID)},
	)
	return &kgo.Record{Topic: divergedTopic, Partition: rec.Partition, Key: rec.Key, Value: rec.Value,
		Headers: headers, Timestamp: rec.Timestamp}
}

// lastSavedOffset reads the last record of a partition of the diverged topic: the original offset it saved, if a
// run of the same restore wrote it.
func lastSavedOffset(ctx context.Context, cl *kgo.Client, divergedTopic string, p int32, b CommittedBounds, restoreID string) (int64, bool, error) {
	if b.End <= b.Start {
		return 0, false, nil
	}
	r, err := newCommittedReader(cl, divergedTopic, p, b.End-1, b.End)
	if err != nil {
		return 0, false, err
	}
	defer r.close()
	rec, err := r.next(ctx)
	if err != nil || rec == nil {
		return 0, false, err
	}
	var id, off string
	for _, h := range rec.Headers {
		switch h.Key {
		case HeaderDivergedRestore:
			id = string(h.Value)
		case HeaderDivergedOffset:
			off = string(h.Value)
		}
	}
	if id != restoreID {
		return 0, false, nil
	}
	o, err := strconv.ParseInt(off, 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("%s[%d] offset %d: header %s %q: %w", divergedTopic, p, rec.Offset, HeaderDivergedOffset, off, err)
	}
	return o, true, nil
}

func waitForLeaders(ctx context.Context, adm *kadm.Client, topic string) error {
	for {
		md, err := adm.Metadata(ctx, topic)
		if err == nil {
			if td, ok := md.Topics[topic]; ok && td.Err == nil && len(td.Partitions) > 0 {
				ready := true
				for _, p := range td.Partitions {
					ready = ready && p.Leader >= 0 && p.Err == nil
				}
				if ready {
					return nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("topic %s has no leader for every partition: %w", topic, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// TopicID returns a topic's id (zero and false when it does not exist).
func TopicID(ctx context.Context, adm *kadm.Client, topic string) (kadm.TopicID, bool, error) {
	md, err := adm.Metadata(ctx, topic)
	if err != nil {
		return kadm.TopicID{}, false, fmt.Errorf("describe %s: %w", topic, err)
	}
	td, ok := md.Topics[topic]
	if !ok || errors.Is(td.Err, kerr.UnknownTopicOrPartition) {
		return kadm.TopicID{}, false, nil
	}
	if td.Err != nil {
		return kadm.TopicID{}, false, fmt.Errorf("describe %s: %w", topic, td.Err)
	}
	return td.ID, true, nil
}

// DeleteTopicWithID deletes topic if it still has the id given (a topic of that name with another id was recreated
// since, and is kept), and waits until it is gone.
func DeleteTopicWithID(ctx context.Context, adm *kadm.Client, topic, id string) error {
	for {
		cur, exists, err := TopicID(ctx, adm, topic)
		if err != nil {
			return err
		}
		if !exists || cur.String() != id {
			return nil
		}
		resp, err := adm.DeleteTopic(ctx, topic)
		if err == nil {
			err = resp.Err
		}
		if err != nil && !errors.Is(err, kerr.UnknownTopicOrPartition) {
			return fmt.Errorf("delete %s: %w", topic, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}
