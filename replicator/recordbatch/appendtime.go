package recordbatch

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"

	"github.com/twmb/franz-go/pkg/kgo"
)

// This file copies a LogAppendTime batch so that a CreateTime topic keeps its timestamps. A broker that appends a
// batch to a CreateTime topic (a mirror must be one: it keeps the source's timestamps) computes the batch's
// timestamps from its records' own, which in a LogAppendTime batch are the producer's create times: the source's
// append time would be lost. So the batch is rewritten with every record's timestamp delta 0, first and max
// timestamp the source's append time, and the CreateTime type: every record then carries the value a source
// consumer reads. The records are otherwise unchanged (attributes, offset deltas, keys, values, headers), and so
// are the producer fields and the codec; the CRC is recomputed.

// AppendTimeAsCreateTime returns a copy of a LogAppendTime batch as described above.
func AppendTimeAsCreateTime(b Batch, dec kgo.Decompressor) (Batch, error) {
	h := b.Header
	if !h.IsLogAppendTime() || h.IsControl() {
		return b, nil
	}
	codec := kgo.CompressionCodecType(h.Attributes & attrCompressionMask)
	raw, err := dec.Decompress(b.Bytes[HeaderSize:], codec)
	if err != nil {
		return Batch{}, fmt.Errorf("decompress the batch at offset %d: %w", h.BaseOffset, err)
	}
	var records []byte
	var scratch [binary.MaxVarintLen64]byte
	rest := raw
	for i := int32(0); i < h.NumRecords; i++ {
		length, n := binary.Varint(rest)
		if n <= 0 || length < 1 || int64(len(rest)-n) < length {
			return Batch{}, fmt.Errorf("batch at offset %d: record %d has a bad length", h.BaseOffset, i)
		}
		body := rest[n : n+int(length)]
		rest = rest[n+int(length):]
		_, tn := binary.Varint(body[1:])
		if tn <= 0 {
			return Batch{}, fmt.Errorf("batch at offset %d: record %d has a bad timestamp delta", h.BaseOffset, i)
		}
		rec := make([]byte, 0, len(body))
		rec = append(rec, body[0], 0) // attributes, timestamp delta 0
		rec = append(rec, body[1+tn:]...)
		records = append(records, scratch[:binary.PutVarint(scratch[:], int64(len(rec)))]...)
		records = append(records, rec...)
	}
	if comp, err := compressorFor(codec); err != nil {
		return Batch{}, err
	} else if comp != nil {
		var buf bytes.Buffer
		compressed, used := comp.Compress(&buf, records)
		if used == kgo.CodecNone || compressed == nil {
			return Batch{}, fmt.Errorf("batch at offset %d: recompress with %v failed", h.BaseOffset, codec)
		}
		records = append([]byte(nil), compressed...)
	}
	out := make([]byte, HeaderSize, HeaderSize+len(records))
	copy(out, b.Bytes[:HeaderSize])
	out = append(out, records...)
	binary.BigEndian.PutUint32(out[offBatchLength:], uint32(len(out)-logOverhead))
	binary.BigEndian.PutUint16(out[offAttributes:], uint16(h.Attributes&^attrTimestampType))
	binary.BigEndian.PutUint64(out[offFirstTimestamp:], uint64(h.MaxTimestamp))
	binary.BigEndian.PutUint64(out[offMaxTimestamp:], uint64(h.MaxTimestamp))
	binary.BigEndian.PutUint32(out[offCRC:], crc32.Checksum(out[offAttributes:], crc32c))
	return Batch{Header: ParseHeader(out), Bytes: out}, nil
}
