package compare

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/clusterlink/clusterlink/replicator/kafkaapi"
	"github.com/clusterlink/clusterlink/replicator/recordbatch"
)

// This file is `mirror verify`: it reads a mirror and its source side by side and proves them identical. Batch by
// batch where the link copied the batch byte for byte (the header fields the broker owns aside: base offset,
// partition leader epoch, CRC); record by record (offset, key, value, headers, timestamp, see compareRange) where
// it rewrote them (replayed transactions, batches without producer fields, re-encoded compacted runs); transaction
// markers by offset and type. It is read-only and works on a running, paused or stopped mirror alike.

// verifyChunk is how many offsets are read at a time from each side.
const verifyChunk = 20_000

// Options bound a verification.
type Options struct {
	// FromOffset: compare from this offset (or the later log start); below 0: from the log start.
	FromOffset int64
	// Sample: compare only the last Sample offsets of each partition (before the mirror's end); 0: all.
	Sample int64
	// Partitions to compare; empty: all.
	Partitions []int32
}

// Partition is one partition's outcome of a verification.
type Partition struct {
	Partition int32
	// SourceStart/End and MirrorStart/End are each side's log start offset and high watermark at the start.
	SourceStart, SourceEnd, MirrorStart, MirrorEnd int64
	// From and To bound the offsets compared: [From, To), where both sides have offsets.
	From, To int64
	// Compared are the offsets compared; ByBatch of them were proven by byte-identical batches (BatchesIdentical),
	// the others record by record.
	Compared, ByBatch, BatchesIdentical int64
	// Differing are the compared offsets that differ (including one side missing a record the other has).
	Differing int64
	// OnlyOnSource are offsets from From the source has below the mirror's log start (the mirror lost them);
	// OnlyOnMirror are offsets the mirror has beyond the source's end or below its log start.
	OnlyOnSource, OnlyOnMirror int64
	// NotYetCopied are the source offsets beyond the mirror's end: the lag, not a difference.
	NotYetCopied int64
	// PendingCompaction are offsets of a compacted topic the source's cleaner removed and the mirror's has not yet:
	// not a difference either.
	PendingCompaction int64
	// FirstDifference is the first differing offset (-1: none) and Detail what differs there.
	FirstDifference int64
	Detail          string
}

// Identical reports whether nothing differs: no differing offset, nothing on one side only (lag aside).
func (v Partition) Identical() bool {
	return v.Differing == 0 && v.OnlyOnSource == 0 && v.OnlyOnMirror == 0
}

// Topic compares a mirror topic with its source topic, partition by partition.
func Topic(ctx context.Context, src, dst *kgo.Client, sourceTopic, mirrorTopic string, o Options) ([]Partition, error) {
	srcAdm, dstAdm := kadm.NewClient(src), kadm.NewClient(dst)
	sStarts, sEnds, err := bounds(ctx, srcAdm, sourceTopic)
	if err != nil {
		return nil, fmt.Errorf("source %s offsets: %w", sourceTopic, err)
	}
	dStarts, dEnds, err := bounds(ctx, dstAdm, mirrorTopic)
	if err != nil {
		return nil, fmt.Errorf("mirror %s offsets: %w", mirrorTopic, err)
	}
	if err := errors.Join(sStarts.Error(), sEnds.Error(), dStarts.Error(), dEnds.Error()); err != nil {
		return nil, fmt.Errorf("offsets of %s and %s: %w", sourceTopic, mirrorTopic, err)
	}
	partitions := o.Partitions
	if len(partitions) == 0 {
		for p := range max(len(sEnds[sourceTopic]), len(dEnds[mirrorTopic])) {
			partitions = append(partitions, int32(p))
		}
	}
	compacted, err := IsCompacted(ctx, srcAdm, sourceTopic)
	if err != nil {
		return nil, err
	}
	srcSide := &verifySide{cl: src, topic: sourceTopic, compacted: compacted}
	dstSide := &verifySide{cl: dst, topic: mirrorTopic}
	var out []Partition
	for _, p := range partitions {
		so, sok := sStarts.Lookup(sourceTopic, p)
		se, _ := sEnds.Lookup(sourceTopic, p)
		do, dok := dStarts.Lookup(mirrorTopic, p)
		de, _ := dEnds.Lookup(mirrorTopic, p)
		if !sok || !dok {
			return out, fmt.Errorf("partition %d is not on both sides (source %s has %d, mirror %s has %d)",
				p, sourceTopic, len(sEnds[sourceTopic]), mirrorTopic, len(dEnds[mirrorTopic]))
		}
		v := Partition{Partition: p, SourceStart: so.Offset, SourceEnd: se.Offset, MirrorStart: do.Offset,
			MirrorEnd: de.Offset, FirstDifference: -1}
		if err := verifyPartition(ctx, srcSide, dstSide, &v, o); err != nil {
			return out, err
		}
		out = append(out, v)
	}
	return out, nil
}

func verifyPartition(ctx context.Context, src, dst *verifySide, v *Partition, o Options) error {
	from := max(v.SourceStart, v.MirrorStart, o.FromOffset)
	to := min(v.SourceEnd, v.MirrorEnd)
	if o.Sample > 0 {
		from = max(from, to-o.Sample)
	}
	from = min(from, to)
	v.From, v.To = from, to
	v.NotYetCopied = max(0, v.SourceEnd-max(v.MirrorEnd, v.SourceStart))
	lo := max(o.FromOffset, 0)
	if o.Sample == 0 {
		v.OnlyOnSource = max(0, min(v.MirrorStart, v.SourceEnd)-max(v.SourceStart, lo))
		v.OnlyOnMirror = max(0, min(v.SourceStart, v.MirrorEnd)-max(v.MirrorStart, lo)) + max(0, v.MirrorEnd-max(v.SourceEnd, v.MirrorStart))
	} else {
		v.OnlyOnMirror = max(0, v.MirrorEnd-max(v.SourceEnd, v.MirrorStart))
	}
	note := func(at int64, detail string) {
		if v.FirstDifference < 0 || at < v.FirstDifference {
			v.FirstDifference, v.Detail = at, detail
		}
	}
	switch {
	case v.OnlyOnSource > 0:
		note(max(v.SourceStart, lo), fmt.Sprintf("the mirror starts at offset %d, the source still has offsets from %d", v.MirrorStart, v.SourceStart))
	case v.MirrorEnd > v.SourceEnd:
		note(v.SourceEnd, fmt.Sprintf("the mirror ends at offset %d, beyond the source's high watermark %d", v.MirrorEnd, v.SourceEnd))
	}
	for at := from; at < to; {
		end := min(at+verifyChunk, to)
		if err := verifyChunkRange(ctx, src, dst, v, at, end, note); err != nil {
			return err
		}
		at = end
	}
	return nil
}

// verifyChunkRange compares [from, to): identical batches first, then the rest record by record.
func verifyChunkRange(ctx context.Context, src, dst *verifySide, v *Partition, from, to int64, note func(int64, string)) error {
	sb, err := src.batches(ctx, v.Partition, from, to)
	if err != nil {
		return err
	}
	db, err := dst.batches(ctx, v.Partition, from, to)
	if err != nil {
		return err
	}
	mirrorAt := map[int64]recordbatch.Batch{}
	for _, b := range db {
		mirrorAt[b.Header.BaseOffset] = b
	}
	// Offsets of [from, to) not proven by an identical batch are compared record by record.
	lo, hi := int64(-1), int64(-1)
	uncovered := func(a, b int64) {
		a, b = max(a, from), min(b, to)
		if a >= b {
			return
		}
		if lo < 0 || a < lo {
			lo = a
		}
		hi = max(hi, b)
	}
	next := from
	for _, s := range sb {
		h := s.Header
		uncovered(next, h.BaseOffset) // compacted away on the source: what the mirror holds there is checked
		m, ok := mirrorAt[h.BaseOffset]
		if ok && h.BaseOffset >= from && h.NextOffset() <= to && !h.IsControl() && recordbatch.PayloadEqual(s.Bytes, m.Bytes) {
			v.BatchesIdentical++
			v.ByBatch += int64(h.NumRecords)
			v.Compared += int64(h.NumRecords)
		} else {
			uncovered(h.BaseOffset, h.NextOffset())
		}
		next = max(next, h.NextOffset())
	}
	uncovered(next, to)
	if lo < 0 {
		return nil
	}
	c, err := Range(ctx, src.cl, dst.cl, src.topic, dst.topic, v.Partition, lo, hi, src.compacted)
	if err != nil {
		return err
	}
	v.PendingCompaction += c.PendingCompaction
	// compareRange re-reads the identical batches inside [lo, hi): count only what was not counted by batch.
	v.Compared += c.Compared - countInside(sb, mirrorAt, lo, hi)
	v.Differing += c.Differing
	if c.FirstDifference >= 0 {
		note(c.FirstDifference, c.Detail)
	}
	return nil
}

// countInside counts the offsets of identical batches inside [lo, hi) (they were counted by batch already).
func countInside(sb []recordbatch.Batch, mirrorAt map[int64]recordbatch.Batch, lo, hi int64) int64 {
	var n int64
	for _, s := range sb {
		h := s.Header
		if m, ok := mirrorAt[h.BaseOffset]; ok && h.BaseOffset >= lo && h.NextOffset() <= hi && !h.IsControl() && recordbatch.PayloadEqual(s.Bytes, m.Bytes) {
			n += int64(h.NumRecords)
		}
	}
	return n
}

// verifySide reads raw batches of one side's topic from the partition leaders.
type verifySide struct {
	cl        *kgo.Client
	topic     string
	compacted bool
	meta      *kafkaapi.TopicMetadata
}

// IsCompacted reports whether a topic's cleanup.policy includes compact.
func IsCompacted(ctx context.Context, adm *kadm.Client, topic string) (bool, error) {
	rcs, err := adm.DescribeTopicConfigs(ctx, topic)
	var rc kadm.ResourceConfig
	if err == nil {
		rc, err = rcs.On(topic, nil)
	}
	if err == nil {
		err = rc.Err
	}
	if err != nil {
		return false, fmt.Errorf("describe topic %s configs: %w", topic, err)
	}
	for _, c := range rc.Configs {
		if c.Key == "cleanup.policy" && c.Value != nil {
			return strings.Contains(*c.Value, "compact"), nil
		}
	}
	return false, nil
}

func (s *verifySide) batches(ctx context.Context, partition int32, from, to int64) ([]recordbatch.Batch, error) {
	if s.meta == nil {
		resp, err := kafkaapi.NewMetadata([]string{s.topic}).RequestWith(ctx, s.cl)
		if err != nil {
			return nil, fmt.Errorf("metadata of %s: %w", s.topic, err)
		}
		tm, ok := kafkaapi.TopicsMetadata(resp)[s.topic]
		if !ok || tm.Err != nil {
			return nil, fmt.Errorf("metadata of %s: %v", s.topic, tm.Err)
		}
		s.meta = &tm
	}
	leader := s.meta.Partitions[partition].Leader
	var out []recordbatch.Batch
	for offset := from; offset < to; {
		kresp, err := s.cl.Broker(int(leader)).Request(ctx, kafkaapi.NewFetchOne(s.topic, s.meta.ID, partition, offset, 8<<20))
		if err != nil {
			return nil, fmt.Errorf("read %s[%d] at offset %d: %w", s.topic, partition, offset, err)
		}
		var got []recordbatch.Batch
		for _, t := range kresp.(*kmsg.FetchResponse).Topics {
			for _, fp := range t.Partitions {
				if err := kerr.ErrorForCode(fp.ErrorCode); err != nil {
					return nil, fmt.Errorf("read %s[%d] at offset %d: %w", s.topic, partition, offset, err)
				}
				bs, _, err := recordbatch.Split(fp.RecordBatches)
				if err != nil {
					return nil, fmt.Errorf("read %s[%d] at offset %d: %w", s.topic, partition, offset, err)
				}
				got = append(got, bs...)
			}
		}
		progressed := false
		for _, b := range got {
			if b.Header.NextOffset() <= offset {
				continue
			}
			out = append(out, b)
			offset, progressed = b.Header.NextOffset(), true
		}
		if !progressed {
			break // nothing more below the high watermark (the rest is beyond what a fetch returns)
		}
	}
	return slices.Clip(out), nil
}

// bounds reads a topic's log start offsets and high watermarks.
func bounds(ctx context.Context, adm *kadm.Client, topic string) (starts, ends kadm.ListedOffsets, err error) {
	if starts, err = adm.ListStartOffsets(ctx, topic); err != nil {
		return nil, nil, err
	}
	if ends, err = adm.ListEndOffsets(ctx, topic); err != nil {
		return nil, nil, err
	}
	return starts, ends, nil
}
