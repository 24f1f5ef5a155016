package compare

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// This file compares a range of offsets of a mirror partition with its source, record by record, as a consumer
// reading both at read_uncommitted would see them: offset, key, value, headers, timestamp, and whether it is a
// control record. Offsets the source no longer has (compacted away) must be transaction markers on the mirror;
// a COMMIT marker where the source aborted is a difference, an ABORT where it committed is not (the link writes
// its own abort markers where it did not replay a transaction). It is how a FAILED mirror is checked before it
// copies again, how the background verifier samples, and what Topic falls back to where batches differ.

// Comparison is the outcome of comparing offsets [From, To) of one partition.
type Comparison struct {
	Partition int32
	From, To  int64
	// Compared counts the offsets read on at least one side; Differing those that differ.
	Compared, Differing int64
	// PendingCompaction counts offsets of a compacted topic that one side's cleaner removed and the other's has not
	// yet (not differences: the two cleaners run on their own schedules).
	PendingCompaction int64
	// FirstDifference is the first differing offset (-1 if none) and Detail what differs there.
	FirstDifference int64
	Detail          string
}

// Equal reports whether no offset differed.
func (c Comparison) Equal() bool { return c.Differing == 0 }

// Range reads [from, to) of partition of srcTopic on src and of dstTopic on dst and compares them. With
// compacted (the topic's cleanup.policy includes compact), a record the mirror still has where the source has none
// (or the source has where the mirror's cleaner already removed it) is counted as PendingCompaction, not as a
// difference.
func Range(ctx context.Context, src, dst *kgo.Client, srcTopic, dstTopic string, partition int32, from, to int64, compacted bool) (Comparison, error) {
	c := Comparison{Partition: partition, From: from, To: to, FirstDifference: -1}
	if from >= to {
		return c, nil
	}
	srcRecs, err := ReadRange(ctx, src, srcTopic, partition, from, to)
	if err != nil {
		return c, fmt.Errorf("read source %s[%d] offsets %d-%d: %w", srcTopic, partition, from, to-1, err)
	}
	dstRecs, err := ReadRange(ctx, dst, dstTopic, partition, from, to)
	if err != nil {
		return c, fmt.Errorf("read mirror %s[%d] offsets %d-%d: %w", dstTopic, partition, from, to-1, err)
	}
	offsets := make([]int64, 0, len(dstRecs))
	for o := range dstRecs {
		offsets = append(offsets, o)
	}
	for o := range srcRecs {
		if _, ok := dstRecs[o]; !ok {
			offsets = append(offsets, o)
		}
	}
	slices.Sort(offsets)
	for _, o := range offsets {
		c.Compared++
		if s, m := srcRecs[o], dstRecs[o]; compacted && (s == nil && m != nil && !m.Attrs.IsControl() ||
			m == nil && s != nil && !s.Attrs.IsControl()) {
			c.PendingCompaction++
			continue
		}
		if why := recordDifference(srcRecs[o], dstRecs[o]); why != "" {
			c.Differing++
			if c.FirstDifference < 0 {
				c.FirstDifference, c.Detail = o, why
			}
		}
	}
	return c, nil
}

// recordDifference says how the mirror's record differs from the source's at the same offset, "" if it does not.
// Either may be nil (nothing there).
func recordDifference(s, m *kgo.Record) string {
	isControl := func(r *kgo.Record) bool { return r != nil && r.Attrs.IsControl() }
	switch {
	case s == nil && isControl(m):
		return "" // compacted away on the source: the mirror keeps the offset with a marker
	case s == nil:
		return "the mirror has a record the source does not have"
	case m == nil:
		return "the source has a record the mirror does not have"
	case isControl(s) || isControl(m):
		if isControl(s) != isControl(m) {
			return "a transaction marker on one side only"
		}
		// A commit where the source aborted would show aborted records to read_committed readers. An abort where the
		// source committed is the link's own marker for a transaction whose data it did not replay.
		if markerIsCommit(m) && !markerIsCommit(s) {
			return "a COMMIT marker on the mirror where the source has an ABORT marker"
		}
		return ""
	case !bytes.Equal(s.Key, m.Key):
		return "keys differ"
	case !bytes.Equal(s.Value, m.Value):
		return "values differ"
	case !slices.EqualFunc(s.Headers, m.Headers, func(a, b kgo.RecordHeader) bool {
		return a.Key == b.Key && bytes.Equal(a.Value, b.Value)
	}):
		return "headers differ"
	case !s.Timestamp.Equal(m.Timestamp):
		return fmt.Sprintf("timestamps differ (%d, %d)", s.Timestamp.UnixMilli(), m.Timestamp.UnixMilli())
	}
	return ""
}

// ReadRange reads the records at [from, to) of one partition with a consumer of cl's settings, control records
// included. Offsets the log does not have (compacted away) are missing from the result; reading stops when offset
// to-1 was read or the partition gave nothing new for a while (its end was reached).
func ReadRange(ctx context.Context, cl *kgo.Client, topic string, partition int32, from, to int64) (map[int64]*kgo.Record, error) {
	rd, err := kgo.NewClient(append(cl.Opts(),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {partition: kgo.NewOffset().At(from)}}),
		kgo.FetchIsolationLevel(kgo.ReadUncommitted()), kgo.KeepControlRecords(),
		kgo.FetchMaxWait(200*time.Millisecond))...)
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	out := map[int64]*kgo.Record{}
	idle := 0
	for idle < 10 {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		fs := rd.PollFetches(pctx)
		cancel()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		var ferr error
		fs.EachError(func(_ string, _ int32, err error) {
			if err != context.DeadlineExceeded {
				ferr = err
			}
		})
		if ferr != nil {
			return nil, ferr
		}
		progress := false
		done := false
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset >= from && r.Offset < to {
				out[r.Offset] = r
				progress = true
			}
			done = done || r.Offset >= to-1
		})
		if done {
			return out, nil
		}
		if progress {
			idle = 0
		} else {
			idle++
		}
	}
	return out, nil
}

// markerIsCommit reads a control record's key (version int16, type int16: 0 abort, 1 commit).
func markerIsCommit(r *kgo.Record) bool { return len(r.Key) >= 4 && r.Key[3] == 1 && r.Key[2] == 0 }
