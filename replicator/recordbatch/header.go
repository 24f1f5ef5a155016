package recordbatch

import (
	"encoding/binary"
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
	HeaderSize              = 61 // the first record starts here
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

// Header is the header of a magic v2 record batch, field by field.
type Header struct {
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
func (h Header) LastOffset() int64 { return h.BaseOffset + int64(h.LastOffsetDelta) }

// NextOffset is the offset right after the batch.
func (h Header) NextOffset() int64 { return h.LastOffset() + 1 }

// Compression is the batch's codec.
func (h Header) Compression() Codec { return Codec(h.Attributes & attrCompressionMask) }

// TimestampType says whether the batch's timestamps are the producer's or the broker's.
func (h Header) TimestampType() TimestampType {
	if h.Attributes&attrTimestampType != 0 {
		return TimestampLogAppendTime
	}
	return TimestampCreateTime
}

// IsLogAppendTime reports whether the batch's timestamps are the broker's append time.
func (h Header) IsLogAppendTime() bool { return h.TimestampType() == TimestampLogAppendTime }

// IsTransactional reports whether the batch belongs to a transaction.
func (h Header) IsTransactional() bool { return h.Attributes&attrTransactional != 0 }

// IsControl reports whether the batch holds a control record (a transaction marker).
func (h Header) IsControl() bool { return h.Attributes&attrControl != 0 }

// IsIdempotent reports whether the batch has a producer id (idempotent and transactional producers have one).
func (h Header) IsIdempotent() bool { return h.ProducerID >= 0 }

// HasOffsetHoles reports whether the batch spans more offsets than it holds records, as compaction leaves it. A
// broker refuses such a batch from a client ("Inconsistent batch offset range").
func (h Header) HasOffsetHoles() bool { return int64(h.LastOffsetDelta)+1 != int64(h.NumRecords) }

// Batch is one record batch as the broker sent it: Bytes is a sub-slice of the fetch response, not a copy, with
// its capacity cut at the batch's end.
type Batch struct {
	Header Header
	Bytes  []byte
}

// ParseHeader reads the header of the batch at the start of b, which must hold at least HeaderSize (61)
// bytes. It checks nothing.
func ParseHeader(b []byte) Header {
	_ = b[HeaderSize-1]
	return Header{
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
