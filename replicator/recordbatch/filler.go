package recordbatch

import (
	"encoding/binary"
	"hash/crc32"
	"iter"
	"math"
	"sort"
)

// A filler record is the smallest a v2 batch can hold: length varint (1 byte: the body is at most 10), attributes 0,
// timestamp delta 0, offset delta (zigzag varint, 1 to 5 bytes), key length -1, value length -1 (null key and null
// value), no headers. That is 6 bytes plus the offset delta's varint.
const fillerRecordFixedBytes = 6

// fillerDeltaBytes are the offset deltas at which the zigzag varint of the delta gets one byte longer: 2*d needs
// 7 bits below 64, 14 below 8192, and so on.
var fillerDeltaBytes = [...]int64{1 << 6, 1 << 13, 1 << 20, 1 << 27}

// FillerSize is the exact size in bytes of BuildFiller(count, ts), whatever ts, for count >= 1. Kafka
// compares this whole size (log overhead included) with max.message.bytes.
func FillerSize(count int32) int {
	n := int64(count)
	size := int64(HeaderSize) + n*(fillerRecordFixedBytes+1)
	for _, from := range fillerDeltaBytes { // deltas from `from` on need one more byte each
		if n > from {
			size += n - from
		}
	}
	return int(size)
}

// MaxFillerRecords is the largest record count whose filler batch fits in maxBatchBytes, and at least 1 (a filler
// batch of one record is 68 bytes; below that no filler fits, and the broker will refuse it as too large).
func MaxFillerRecords(maxBatchBytes int) int32 {
	// sort.Search finds the first count that no longer fits; FillerSize grows with count.
	over := sort.Search(math.MaxInt32, func(i int) bool { return FillerSize(int32(i)+1) > maxBatchBytes })
	return int32(max(over, 1))
}

// BuildFiller returns an uncompressed magic v2 batch of count records with null keys, null values and no
// headers, all at timestampMs (CreateTime), offset deltas 0 to count-1, base offset 0, partition leader epoch -1,
// and no producer (id -1, epoch -1, base sequence -1), so that a broker accepts it from any client and keeps no
// producer state for it. The writer appends fillers to move a mirror's log end offset over offsets the source no
// longer has (retention, DeleteRecords, a later start), then deletes them with DeleteRecords, so no consumer reads
// them. A topic with cleanup.policy=compact refuses records without a key, and DeleteRecords on it too.
//
// count must be at least 1: Kafka refuses an empty batch.
func BuildFiller(count int32, timestampMs int64) []byte {
	if count < 1 {
		panic("replicator: BuildFiller needs at least one record")
	}
	size := FillerSize(count)
	b := make([]byte, HeaderSize, size)
	binary.BigEndian.PutUint32(b[offBatchLength:], uint32(size-logOverhead))
	binary.BigEndian.PutUint32(b[offPartitionLeaderEpoch:], math.MaxUint32) // -1
	b[offMagic] = 2
	binary.BigEndian.PutUint32(b[offLastOffsetDelta:], uint32(count-1))
	binary.BigEndian.PutUint64(b[offFirstTimestamp:], uint64(timestampMs))
	binary.BigEndian.PutUint64(b[offMaxTimestamp:], uint64(timestampMs))
	binary.BigEndian.PutUint64(b[offProducerID:], math.MaxUint64)    // -1
	binary.BigEndian.PutUint16(b[offProducerEpoch:], math.MaxUint16) // -1
	binary.BigEndian.PutUint32(b[offBaseSequence:], math.MaxUint32)  // -1
	binary.BigEndian.PutUint32(b[offRecordCount:], uint32(count))
	for i := int32(0); i < count; i++ {
		at := len(b)
		b = append(b, 0, 0, 0) // body length (set below), attributes, timestamp delta
		b = binary.AppendVarint(b, int64(i))
		b = append(b, 1, 1, 0)              // key length -1, value length -1 (zigzag 1), header count 0
		b[at] = byte(2 * (len(b) - at - 1)) // zigzag varint of the body length, at most 10
	}
	binary.BigEndian.PutUint32(b[offCRC:], crc32.Checksum(b[offAttributes:], crc32c))
	return b
}

// Fillers splits a fill of n offsets into filler batches of at most maxBatchBytes each (the destination
// topic's max.message.bytes; see MaxFillerRecords for a limit below 68 bytes), so that a hole of millions of offsets
// takes a few produce requests. It yields each batch with its position in the fill: the count of offsets before
// it, so the batch must land at start+at. The full batches are all the same bytes and share one array: callers must
// not modify a yielded batch. Only two batches are ever built, whatever n.
func Fillers(n int64, maxBatchBytes int, timestampMs int64) iter.Seq2[int64, []byte] {
	return func(yield func(int64, []byte) bool) {
		per := int64(MaxFillerRecords(maxBatchBytes))
		var full []byte
		for at := int64(0); at < n; {
			count := min(per, n-at)
			var b []byte
			if count == per {
				if full == nil {
					full = BuildFiller(int32(per), timestampMs)
				}
				b = full
			} else {
				b = BuildFiller(int32(count), timestampMs)
			}
			if !yield(at, b) {
				return
			}
			at += count
		}
	}
}
