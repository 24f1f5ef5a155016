package replicator

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/clusterlink/clusterlink/replicator/recordbatch"
)

// This file decides what a partition writes next: plan turns the head of its queue into exactly one write of a
// small set of kinds, or a failure of the partition. It does no I/O and changes nothing but the queue it returns,
// so every decision is table-tested (plan_test.go); the writer only queues, sends and settles.

// writeItem is one unit of work for a partition: a source batch to copy, or a fill up to an offset.
type writeItem struct {
	batch  recordbatch.Batch
	fillTo int64 // when > 0: fill the mirror with filler records up to this offset
	markTo int64 // when > 0: fill the mirror with transaction markers up to this offset
	// reencoded: batch is a run of a compacted source batch, re-encoded (see recordbatch.SplitCompacted)
	reencoded bool
	// appendTime: batch was a LogAppendTime batch, rewritten so the CreateTime mirror keeps its append time (see
	// recordbatch.AppendTimeAsCreateTime)
	appendTime bool
}

// write is the next write of a partition: one of rawWrite, fillerWrite, markerWrite, txnDataWrite, txnEndWrite.
type write interface{ isWrite() }

// rawWrite produces a plain source batch (not transactional, not a marker) at its own base offset: as fetched,
// with its producer fields cleared (strip: the destination refused that producer's sequence), or a re-encoded run
// of a compacted batch.
type rawWrite struct {
	batch      recordbatch.Batch
	strip      bool
	reencoded  bool
	appendTime bool
}

// fillerWrite appends filler records from the mirror's log end up to offset to (at most a filler batch of them);
// they are deleted right after, so no consumer reads them.
type fillerWrite struct{ to int64 }

// markerWrite takes the offsets from the mirror's log end up to to (at most maxMarkersPerRequest) with abort
// markers of the link's own, which no consumer returns.
type markerWrite struct{ to int64 }

// txnDataWrite produces a transactional source batch in the destination transaction that replays its source
// producer's transaction.
type txnDataWrite struct {
	batch      recordbatch.Batch
	sourcePID  int64
	appendTime bool
}

// txnEndWrite ends the replayed transaction of a source producer as the source's marker at offset does.
type txnEndWrite struct {
	sourcePID int64
	commit    bool
	offset    int64
}

func (rawWrite) isWrite()     {}
func (fillerWrite) isWrite()  {}
func (markerWrite) isWrite()  {}
func (txnDataWrite) isWrite() {}
func (txnEndWrite) isWrite()  {}

// planPosition is what plan needs to know of a partition.
type planPosition struct {
	// next is the mirror's log end offset: the next source offset to copy.
	next int64
	// fillBelow: a gap in the source before this offset is legitimate (retention, DeleteRecords, a later start)
	// and is filled with fillers; a gap at or above it is compaction's, and takes markers.
	fillBelow int64
	// stripped says whether a source producer's batches are written without producer fields.
	stripped func(producerID int64) bool
	// openTxn says whether a source producer has a replayed transaction open on the partition.
	openTxn func(sourcePID int64) bool
}

// plan returns the partition's next write and the queue left: items the mirror already has are popped, a compacted
// batch is replaced by its contiguous runs and the holes between. It returns a nil write when the queue is done,
// and a *partitionError when the partition cannot go on exactly.
func plan(pos planPosition, items []writeItem, dec kgo.Decompressor, topic, sourceTopic string, partition int32) (write, []writeItem, *partitionError) {
	for len(items) > 0 {
		it := items[0]
		if it.fillTo > 0 {
			if pos.next >= it.fillTo {
				items = items[1:]
				continue
			}
			return fillerWrite{to: it.fillTo}, items, nil
		}
		if it.markTo > 0 {
			if pos.next >= it.markTo {
				items = items[1:]
				continue
			}
			return markerWrite{to: it.markTo}, items, nil
		}
		h := it.batch.Header
		if h.IsLogAppendTime() && !h.IsControl() {
			b, err := recordbatch.AppendTimeAsCreateTime(it.batch, dec)
			if err != nil {
				return nil, items, &partitionError{code: CodeUnsupportedBatch, msg: fmt.Sprintf(
					"source %s[%d] LogAppendTime batch at offset %d cannot be rewritten with its append time: %v", sourceTopic, partition, h.BaseOffset, err)}
			}
			items[0] = writeItem{batch: b, reencoded: it.reencoded, appendTime: true}
			continue
		}
		switch {
		case h.NextOffset() <= pos.next:
			items = items[1:] // already in the mirror
			continue
		case h.BaseOffset < pos.next:
			return nil, items, &partitionError{code: CodeIllegalState, diverged: true, msg: fmt.Sprintf(
				"mirror %s[%d] ends at offset %d, inside source batch [%d, %d]", topic, partition, pos.next, h.BaseOffset, h.LastOffset())}
		case h.BaseOffset > pos.next && h.BaseOffset <= pos.fillBelow:
			return fillerWrite{to: h.BaseOffset}, items, nil
		case h.BaseOffset > pos.next:
			// The source has nothing at these offsets (compacted away): markers keep them taken.
			return markerWrite{to: h.BaseOffset}, items, nil
		}
		if h.IsControl() {
			if pos.openTxn(h.ProducerID) {
				commit, err := recordbatch.MarkerIsCommit(it.batch.Bytes)
				if err != nil {
					return nil, items, &partitionError{code: CodeIllegalState, msg: fmt.Sprintf("source %s[%d] transaction marker at offset %d: %v",
						sourceTopic, partition, h.BaseOffset, err)}
				}
				return txnEndWrite{sourcePID: h.ProducerID, commit: commit, offset: h.BaseOffset}, items, nil
			}
			// A marker of a transaction whose data the mirror did not replay: a marker of the link's own takes its
			// offset.
			return markerWrite{to: h.NextOffset()}, items, nil
		}
		if h.HasOffsetHoles() {
			runs, err := recordbatch.SplitCompacted(it.batch, dec)
			if err != nil {
				return nil, items, &partitionError{code: CodeUnsupportedBatch, msg: fmt.Sprintf("source %s[%d] compacted batch at offset %d cannot be split: %v",
					sourceTopic, partition, h.BaseOffset, err)}
			}
			split := make([]writeItem, 0, len(runs)+1)
			for _, b := range runs {
				split = append(split, writeItem{batch: b, reencoded: true, appendTime: it.appendTime})
			}
			split = append(split, writeItem{markTo: h.NextOffset()}) // a hole at the batch's end
			items = append(split, items[1:]...)
			continue
		}
		if h.IsTransactional() {
			return txnDataWrite{batch: it.batch, sourcePID: h.ProducerID, appendTime: it.appendTime}, items, nil
		}
		return rawWrite{batch: it.batch, reencoded: it.reencoded, appendTime: it.appendTime,
			strip: h.ProducerID >= 0 && pos.stripped(h.ProducerID)}, items, nil
	}
	return nil, items, nil
}
