package replicator

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// Record batch (magic v2) header layout, as Kafka writes it on the wire and on disk. The CRC covers the bytes from
// offAttributes to the end of the batch; it does not cover the base offset, the batch length, the partition leader
// epoch or the magic byte.
const (
	offBaseOffset           = 0  // int64: assigned by the broker
	offBatchLength          = 8  // int32: bytes after this field
	offPartitionLeaderEpoch = 12 // int32: set by the broker
	offMagic                = 16 // int8: at the same place in v0/v1 message sets (offset, size, crc)
	offCRC                  = 17 // uint32, CRC-32C of everything from attributes to the end
	offAttributes           = 21 // int16
	offLastOffsetDelta      = 23 // int32
	offFirstTimestamp       = 27 // int64
	offMaxTimestamp         = 35 // int64
	offProducerID           = 43 // int64
	offProducerEpoch        = 51 // int16
	offBaseSequence         = 53 // int32
	offRecordCount          = 57 // int32
	batchHeaderSize         = 61 // the first record starts here
	logOverhead             = 12 // base offset + batch length: a batch is logOverhead+batchLength bytes
)

// Attribute bits.
const (
	attrCompressionMask = 0x07
	attrTimestampType   = 0x08
	attrTransactional   = 0x10
	attrControl         = 0x20
)

var crc32c = crc32.MakeTable(crc32.Castagnoli)

// ErrUnsupportedMessageFormat is returned for magic v0/v1 message sets, which cannot be copied at the same offsets
// into a Kafka 4 broker.
var ErrUnsupportedMessageFormat = errors.New("unsupported message format")

// ErrCorruptBatch is returned for a batch whose length or CRC is wrong.
var ErrCorruptBatch = errors.New("corrupt record batch")

// BatchError is the error SplitBatches returns: Err is ErrUnsupportedMessageFormat or ErrCorruptBatch (use
// errors.Is), Offset the base offset the bad entry claims.
type BatchError struct {
	Err    error
	Offset int64
	Detail string
}

func (e *BatchError) Error() string {
	return fmt.Sprintf("%v at offset %d: %s", e.Err, e.Offset, e.Detail)
}

func (e *BatchError) Unwrap() error { return e.Err }

// Codec is a batch's compression codec.
type Codec int8

// Codecs, as numbered in the batch attributes.
const (
	CodecNone Codec = iota
	CodecGzip
	CodecSnappy
	CodecLz4
	CodecZstd
)

func (c Codec) String() string {
	switch c {
	case CodecNone:
		return "none"
	case CodecGzip:
		return "gzip"
	case CodecSnappy:
		return "snappy"
	case CodecLz4:
		return "lz4"
	case CodecZstd:
		return "zstd"
	}
	return fmt.Sprintf("codec(%d)", int8(c))
}

// TimestampType says whose clock a batch's timestamps come from.
type TimestampType int8

// Timestamp types, as the batch attributes encode them.
const (
	TimestampCreateTime    TimestampType = 0 // the producer's
	TimestampLogAppendTime TimestampType = 1 // the broker's, at append
)

func (t TimestampType) String() string {
	if t == TimestampLogAppendTime {
		return "LogAppendTime"
	}
	return "CreateTime"
}

// BatchHeader is the header of a magic v2 record batch, field by field.
type BatchHeader struct {
	BaseOffset           int64
	Length               int32 // batchLength: the bytes after this field
	PartitionLeaderEpoch int32
	Magic                int8
	CRC                  uint32
	Attributes           int16
	LastOffsetDelta      int32
	FirstTimestamp       int64
	MaxTimestamp         int64
	ProducerID           int64
	ProducerEpoch        int16
	BaseSequence         int32
	NumRecords           int32
}

// LastOffset is the offset of the batch's last record (or of the last offset it spans, after compaction).
func (h BatchHeader) LastOffset() int64 { return h.BaseOffset + int64(h.LastOffsetDelta) }

// NextOffset is the offset right after the batch.
func (h BatchHeader) NextOffset() int64 { return h.LastOffset() + 1 }

// Compression is the batch's codec.
func (h BatchHeader) Compression() Codec { return Codec(h.Attributes & attrCompressionMask) }

// TimestampType says whether the batch's timestamps are the producer's or the broker's.
func (h BatchHeader) TimestampType() TimestampType {
	if h.Attributes&attrTimestampType != 0 {
		return TimestampLogAppendTime
	}
	return TimestampCreateTime
}

// IsLogAppendTime reports whether the batch's timestamps are the broker's append time.
func (h BatchHeader) IsLogAppendTime() bool { return h.TimestampType() == TimestampLogAppendTime }

// IsTransactional reports whether the batch belongs to a transaction.
func (h BatchHeader) IsTransactional() bool { return h.Attributes&attrTransactional != 0 }

// IsControl reports whether the batch holds a control record (a transaction marker).
func (h BatchHeader) IsControl() bool { return h.Attributes&attrControl != 0 }

// IsIdempotent reports whether the batch has a producer id (idempotent and transactional producers have one).
func (h BatchHeader) IsIdempotent() bool { return h.ProducerID >= 0 }

// HasOffsetHoles reports whether the batch spans more offsets than it holds records, as compaction leaves it. A
// broker refuses such a batch from a client ("Inconsistent batch offset range").
func (h BatchHeader) HasOffsetHoles() bool { return int64(h.LastOffsetDelta)+1 != int64(h.NumRecords) }

// RawBatch is one record batch as the broker sent it: Bytes is a sub-slice of the fetch response, not a copy, with
// its capacity cut at the batch's end.
type RawBatch struct {
	Header BatchHeader
	Bytes  []byte
}

// ParseBatchHeader reads the header of the batch at the start of b, which must hold at least batchHeaderSize (61)
// bytes. It checks nothing.
func ParseBatchHeader(b []byte) BatchHeader {
	_ = b[batchHeaderSize-1]
	return BatchHeader{
		BaseOffset:           int64(binary.BigEndian.Uint64(b[offBaseOffset:])),
		Length:               int32(binary.BigEndian.Uint32(b[offBatchLength:])),
		PartitionLeaderEpoch: int32(binary.BigEndian.Uint32(b[offPartitionLeaderEpoch:])),
		Magic:                int8(b[offMagic]),
		CRC:                  binary.BigEndian.Uint32(b[offCRC:]),
		Attributes:           int16(binary.BigEndian.Uint16(b[offAttributes:])),
		LastOffsetDelta:      int32(binary.BigEndian.Uint32(b[offLastOffsetDelta:])),
		FirstTimestamp:       int64(binary.BigEndian.Uint64(b[offFirstTimestamp:])),
		MaxTimestamp:         int64(binary.BigEndian.Uint64(b[offMaxTimestamp:])),
		ProducerID:           int64(binary.BigEndian.Uint64(b[offProducerID:])),
		ProducerEpoch:        int16(binary.BigEndian.Uint16(b[offProducerEpoch:])),
		BaseSequence:         int32(binary.BigEndian.Uint32(b[offBaseSequence:])),
		NumRecords:           int32(binary.BigEndian.Uint32(b[offRecordCount:])),
	}
}

// SetBaseOffset writes off into the base offset field of the batch at the start of b. The field is outside the CRC,
// so the batch stays valid. A client sends 0 there: the broker assigns the offset (kfake refuses anything else).
func SetBaseOffset(b []byte, off int64) { binary.BigEndian.PutUint64(b[offBaseOffset:], uint64(off)) }

// SplitBatches walks the record bytes of one partition of a fetch response and returns its batches in order, each
// checked against its CRC-32C. The broker may cut the last batch short at the response size limit: that batch is
// left out and partial is true; it is not an error. A magic v0/v1 message set returns ErrUnsupportedMessageFormat,
// a batch length below the header size or a CRC mismatch ErrCorruptBatch, each as a *BatchError with the offset;
// batches then holds the good batches before the bad one.
//
// It allocates the result slice once and nothing per batch.
func SplitBatches(records []byte) (batches []RawBatch, partial bool, err error) {
	if n := countWholeBatches(records); n > 0 {
		batches = make([]RawBatch, 0, n)
	}
	for len(records) > 0 {
		if len(records) <= offMagic {
			return batches, true, nil
		}
		base := int64(binary.BigEndian.Uint64(records[offBaseOffset:]))
		length := int64(int32(binary.BigEndian.Uint32(records[offBatchLength:])))
		if magic := int8(records[offMagic]); magic != 2 {
			return batches, false, &BatchError{Err: ErrUnsupportedMessageFormat, Offset: base,
				Detail: fmt.Sprintf("magic v%d message set", magic)}
		}
		if length < batchHeaderSize-logOverhead {
			return batches, false, &BatchError{Err: ErrCorruptBatch, Offset: base,
				Detail: fmt.Sprintf("batch length %d is below the header size %d", length, batchHeaderSize-logOverhead)}
		}
		size := logOverhead + length
		if int64(len(records)) < size {
			return batches, true, nil
		}
		b := records[:size:size]
		h := ParseBatchHeader(b)
		if crc := crc32.Checksum(b[offAttributes:], crc32c); crc != h.CRC {
			return batches, false, &BatchError{Err: ErrCorruptBatch, Offset: base,
				Detail: fmt.Sprintf("batch CRC %08x, computed %08x", h.CRC, crc)}
		}
		batches = append(batches, RawBatch{Header: h, Bytes: b})
		records = records[size:]
	}
	return batches, false, nil
}

// countWholeBatches counts the v2 batches SplitBatches can take from records, by their length fields alone.
func countWholeBatches(records []byte) int {
	n := 0
	for len(records) > offMagic && records[offMagic] == 2 {
		length := int64(int32(binary.BigEndian.Uint32(records[offBatchLength:])))
		size := logOverhead + length
		if length < batchHeaderSize-logOverhead || int64(len(records)) < size {
			break
		}
		n++
		records = records[size:]
	}
	return n
}

// BatchPayloadEqual reports whether two batches are byte-for-byte equal but for the header fields the broker owns:
// the base offset (bytes 0-7), the partition leader epoch (12-15) and the CRC (17-20). The CRC covers neither of
// the other two, so it is equal whenever the rest is; it is skipped all the same.
func BatchPayloadEqual(a, b []byte) bool {
	if len(a) != len(b) || len(a) < batchHeaderSize {
		return false
	}
	return string(a[offBatchLength:offPartitionLeaderEpoch]) == string(b[offBatchLength:offPartitionLeaderEpoch]) &&
		a[offMagic] == b[offMagic] &&
		string(a[offAttributes:]) == string(b[offAttributes:])
}
