package recordbatch

import (
	"encoding/binary"
	"hash/crc32"
)

// This file is every edit the project makes to a batch header: the fields the broker owns (base offset), and the
// producer fields, with the CRC recomputed where it covers what changed. The records are never touched here.

// SetBaseOffset writes off into the base offset field of the batch at the start of b. The field is outside the CRC,
// so the batch stays valid. A client sends 0 there: the broker assigns the offset (kfake refuses anything else).
func SetBaseOffset(b []byte, off int64) { binary.BigEndian.PutUint64(b[offBaseOffset:], uint64(off)) }

// PayloadEqual reports whether two batches are byte-for-byte equal but for the header fields the broker owns:
// the base offset (bytes 0-7), the partition leader epoch (12-15) and the CRC (17-20), and but for the producer
// fields a link set on a batch that had none (one of the two has no producer id, the other a link's: at or above
// LinkProducerIDBase). The CRC covers neither of the other two, so it is equal whenever the rest is; it is skipped
// all the same.
func PayloadEqual(a, b []byte) bool {
	if len(a) != len(b) || len(a) < HeaderSize {
		return false
	}
	if string(a[offBatchLength:offPartitionLeaderEpoch]) != string(b[offBatchLength:offPartitionLeaderEpoch]) || a[offMagic] != b[offMagic] {
		return false
	}
	if string(a[offAttributes:]) == string(b[offAttributes:]) {
		return true
	}
	pa, pb := int64(binary.BigEndian.Uint64(a[offProducerID:])), int64(binary.BigEndian.Uint64(b[offProducerID:]))
	if !(pa == -1 && pb >= LinkProducerIDBase || pb == -1 && pa >= LinkProducerIDBase) {
		return false
	}
	return string(a[offAttributes:offProducerID]) == string(b[offAttributes:offProducerID]) &&
		string(a[offBaseSequence+4:]) == string(b[offBaseSequence+4:])
}

// LinkProducerIDBase is where the producer ids a link writes batches without one under start (2^62): a broker
// allocates producer ids upwards from 0 in blocks of 1000, so no cluster hands one of these out.
const LinkProducerIDBase = int64(1) << 62

// WithoutProducer returns a copy of an idempotent, non-transactional batch with its producer id, epoch and base
// sequence cleared (-1) and its CRC recomputed; the records are unchanged. The writer sends a source producer's
// batches so when the destination refused that producer's sequence (the source lost some of its batches).
func WithoutProducer(b []byte) []byte {
	return WithProducer(b, -1, -1, -1)
}

// WithProducer returns a copy of the batch with the given producer id, epoch and base sequence, base offset 0
// (the broker assigns it) and its CRC recomputed; the records are unchanged. A transaction replayed on the
// destination writes the source's batches so, under the destination producer of its slot.
func WithProducer(b []byte, producerID int64, epoch int16, baseSequence int32) []byte {
	c := append([]byte(nil), b...)
	binary.BigEndian.PutUint64(c[offBaseOffset:], 0)
	binary.BigEndian.PutUint64(c[offProducerID:], uint64(producerID))
	binary.BigEndian.PutUint16(c[offProducerEpoch:], uint16(epoch))
	binary.BigEndian.PutUint32(c[offBaseSequence:], uint32(baseSequence))
	binary.BigEndian.PutUint32(c[offCRC:], crc32.Checksum(c[offAttributes:], crc32c))
	return c
}
