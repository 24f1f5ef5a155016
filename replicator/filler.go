package replicator

import (
	"encoding/binary"
	"hash/crc32"
)

// BuildFillerBatch returns an uncompressed magic v2 batch of count records with no key, no value and no headers,
// all at timestampMs. The writer appends fillers to move a mirror's log end offset over offsets the source no longer
// has (retention, DeleteRecords, a later start), then deletes them with DeleteRecords.
func BuildFillerBatch(count int32, timestampMs int64) []byte {
	b := make([]byte, batchHeaderSize, batchHeaderSize+int(count)*8)
	binary.BigEndian.PutUint32(b[offPartitionLeaderEpoch:], 0xffffffff)
	b[offMagic] = 2
	binary.BigEndian.PutUint32(b[offLastOffsetDelta:], uint32(count-1))
	binary.BigEndian.PutUint64(b[offFirstTimestamp:], uint64(timestampMs))
	binary.BigEndian.PutUint64(b[offMaxTimestamp:], uint64(timestampMs))
	binary.BigEndian.PutUint64(b[offProducerID:], 0xffffffffffffffff)
	binary.BigEndian.PutUint16(b[offProducerEpoch:], 0xffff)
	binary.BigEndian.PutUint32(b[offBaseSequence:], 0xffffffff)
	binary.BigEndian.PutUint32(b[offRecordCount:], uint32(count))
	var body [binary.MaxVarintLen64 + 6]byte
	for i := int32(0); i < count; i++ {
		// attributes, timestamp delta 0, offset delta, key length -1, value length -1, no headers
		n := 0
		body[n] = 0
		n++
		body[n] = 0
		n++
		n += binary.PutVarint(body[n:], int64(i))
		n += binary.PutVarint(body[n:], -1)
		n += binary.PutVarint(body[n:], -1)
		n += binary.PutVarint(body[n:], 0)
		b = binary.AppendVarint(b, int64(n))
		b = append(b, body[:n]...)
	}
	binary.BigEndian.PutUint32(b[offBatchLength:], uint32(len(b)-logOverhead))
	binary.BigEndian.PutUint32(b[offCRC:], crc32.Checksum(b[offAttributes:], crc32c))
	return b
}
