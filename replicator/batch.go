package replicator

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// Record batch (magic v2) header layout, as Kafka writes it on the wire and on disk.
const (
	offBaseOffset           = 0  // int64
	offBatchLength          = 8  // int32: bytes after this field
	offPartitionLeaderEpoch = 12 // int32
	offMagic                = 16 // int8
	offCRC                  = 17 // uint32, CRC-32C of everything from attributes to the end
	offAttributes           = 21 // int16
	offLastOffsetDelta      = 23 // int32
	offFirstTimestamp       = 27 // int64
	offMaxTimestamp         = 35 // int64
	offProducerID           = 43 // int64
	offProducerEpoch        = 51 // int16
	offBaseSequence         = 53 // int32
	offRecordCount          = 57 // int32
	batchHeaderSize         = 61
	logOverhead             = 12 // base offset + batch length
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

// BatchHeader is the header of a magic v2 record batch.
type BatchHeader struct {
	BaseOffset           int64
	Length               int32
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

// IsTransactional reports whether the batch belongs to a transaction.
func (h BatchHeader) IsTransactional() bool { return h.Attributes&attrTransactional != 0 }

// IsControl reports whether the batch holds a control record (a transaction marker).
func (h BatchHeader) IsControl() bool { return h.Attributes&attrControl != 0 }

// IsLogAppendTime reports whether the batch's timestamps are the broker's append time.
func (h BatchHeader) IsLogAppendTime() bool { return h.Attributes&attrTimestampType != 0 }

// IsIdempotent reports whether the batch has a producer id.
func (h BatchHeader) IsIdempotent() bool { return h.ProducerID >= 0 }

// HasOffsetHoles reports whether the batch spans more offsets than it holds records, as compaction leaves it.
func (h BatchHeader) HasOffsetHoles() bool { return int64(h.LastOffsetDelta)+1 != int64(h.NumRecords) }

// RawBatch is one record batch as the broker sent it: Bytes is a sub-slice of the fetch response, not a copy.
type RawBatch struct {
	Header BatchHeader
	Bytes  []byte
}

// ParseBatchHeader reads the header of the batch at the start of b, which must hold the whole header.
func ParseBatchHeader(b []byte) BatchHeader {
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

// SplitBatches walks the record bytes of one partition of a fetch response. The broker may cut the last batch
// short at the response size limit: that batch is left out and partial is true. A magic v0/v1 message set returns
// ErrUnsupportedMessageFormat, a bad length or CRC ErrCorruptBatch, each wrapped with the offset.
func SplitBatches(records []byte) (batches []RawBatch, partial bool, err error) {
	for len(records) > 0 {
		if len(records) < offMagic+1 {
			return batches, true, nil
		}
		base := int64(binary.BigEndian.Uint64(records[offBaseOffset:]))
		length := int64(int32(binary.BigEndian.Uint32(records[offBatchLength:])))
		if magic := records[offMagic]; magic != 2 {
			return batches, false, fmt.Errorf("%w: magic v%d message set at offset %d", ErrUnsupportedMessageFormat, magic, base)
		}
		if length < batchHeaderSize-logOverhead {
			return batches, false, fmt.Errorf("%w: batch at offset %d has length %d", ErrCorruptBatch, base, length)
		}
		size := logOverhead + length
		if int64(len(records)) < size {
			return batches, true, nil
		}
		b := records[:size:size]
		h := ParseBatchHeader(b)
		if crc := crc32.Checksum(b[offAttributes:], crc32c); crc != h.CRC {
			return batches, false, fmt.Errorf("%w: batch at offset %d has CRC %08x, computed %08x", ErrCorruptBatch, base, h.CRC, crc)
		}
		batches = append(batches, RawBatch{Header: h, Bytes: b})
		records = records[size:]
	}
	return batches, false, nil
}

// BatchPayloadEqual reports whether two batches are equal but for the header fields the broker owns: the base
// offset, the partition leader epoch and the CRC (which covers neither of them, so it is equal too when the rest
// is; it is skipped all the same).
func BatchPayloadEqual(a, b []byte) bool {
	if len(a) != len(b) || len(a) < batchHeaderSize {
		return false
	}
	return string(a[offBatchLength:offPartitionLeaderEpoch]) == string(b[offBatchLength:offPartitionLeaderEpoch]) &&
		a[offMagic] == b[offMagic] &&
		string(a[offAttributes:]) == string(b[offAttributes:])
}
