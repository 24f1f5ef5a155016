package recordbatch

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"

	"github.com/twmb/franz-go/pkg/kgo"
)

// This file splits a batch that log compaction left with offset holes (lastOffsetDelta+1 > record count) into
// batches of contiguous offsets. A broker refuses a client batch whose records do not have consecutive offsets, so
// such a batch cannot be produced as it is. Each run of consecutive records is re-encoded with the batch's codec,
// first timestamp and timestamp type: every record keeps its key, value, headers, attributes and timestamp; only its
// offset delta changes (it counts from the run's first offset). The producer id, epoch and sequence are cleared: the
// run is not the batch the producer sent, and the destination must not apply idempotence checks to it. The holes
// between the runs are filled with transaction markers by the writer.

// run is one contiguous piece of a compacted batch: the records at offsets [base, base+count).
type run struct {
	base    int64
	records [][]byte // each record without its length prefix, offset delta as in the source
	deltas  []int32  // each record's offset delta in the source batch
	tsDelta []int64
}

// SplitCompacted returns the contiguous runs of a batch with offset holes, re-encoded as batches ready to produce
// (base offset 0), each with the source offset of its first record. A batch with no records returns none.
func SplitCompacted(b Batch, dec kgo.Decompressor) ([]Batch, error) {
	h := b.Header
	if len(b.Bytes) < HeaderSize {
		return nil, fmt.Errorf("batch at offset %d: %d bytes, shorter than a header", h.BaseOffset, len(b.Bytes))
	}
	codec := kgo.CompressionCodecType(h.Attributes & attrCompressionMask)
	raw, err := dec.Decompress(b.Bytes[HeaderSize:], codec)
	if err != nil {
		return nil, fmt.Errorf("decompress the batch at offset %d: %w", h.BaseOffset, err)
	}
	var runs []*run
	rest := raw
	for i := int32(0); i < h.NumRecords; i++ {
		length, n := binary.Varint(rest)
		if n <= 0 || length < 0 || int64(len(rest)-n) < length {
			return nil, fmt.Errorf("batch at offset %d: record %d has a bad length", h.BaseOffset, i)
		}
		body := rest[n : n+int(length)]
		rest = rest[n+int(length):]
		// attributes (1 byte), timestamp delta (varlong), offset delta (varint)
		if len(body) < 1 {
			return nil, fmt.Errorf("batch at offset %d: record %d is empty", h.BaseOffset, i)
		}
		tsDelta, tn := binary.Varint(body[1:])
		if tn <= 0 {
			return nil, fmt.Errorf("batch at offset %d: record %d has a bad timestamp delta", h.BaseOffset, i)
		}
		offDelta, on := binary.Varint(body[1+tn:])
		if on <= 0 || offDelta < 0 || offDelta > int64(h.LastOffsetDelta) {
			return nil, fmt.Errorf("batch at offset %d: record %d has a bad offset delta", h.BaseOffset, i)
		}
		if len(runs) == 0 || int64(runs[len(runs)-1].deltas[len(runs[len(runs)-1].deltas)-1])+1 != offDelta {
			runs = append(runs, &run{base: h.BaseOffset + offDelta})
		}
		r := runs[len(runs)-1]
		r.records = append(r.records, body)
		r.deltas = append(r.deltas, int32(offDelta))
		r.tsDelta = append(r.tsDelta, tsDelta)
	}
	comp, err := compressorFor(codec)
	if err != nil {
		return nil, err
	}
	out := make([]Batch, 0, len(runs))
	for _, r := range runs {
		nb, err := encodeRun(h, r, comp)
		if err != nil {
			return nil, err
		}
		nh := ParseHeader(nb)
		nh.BaseOffset = r.base
		if h.IsTransactional() {
			nh.ProducerID, nh.ProducerEpoch = h.ProducerID, h.ProducerEpoch // the transaction it is replayed in
		}
		out = append(out, Batch{Header: nh, Bytes: nb})
	}
	return out, nil
}

func compressorFor(codec kgo.CompressionCodecType) (kgo.Compressor, error) {
	var c kgo.CompressionCodec
	switch codec {
	case kgo.CodecNone:
		return nil, nil
	case kgo.CodecGzip:
		c = kgo.GzipCompression()
	case kgo.CodecSnappy:
		c = kgo.SnappyCompression()
	case kgo.CodecLz4:
		c = kgo.Lz4Compression()
	case kgo.CodecZstd:
		c = kgo.ZstdCompression()
	default:
		return nil, fmt.Errorf("unknown compression codec %d", codec)
	}
	return kgo.DefaultCompressor(c)
}

// encodeRun builds the batch of one run.
func encodeRun(h Header, r *run, comp kgo.Compressor) ([]byte, error) {
	var records []byte
	var scratch [binary.MaxVarintLen64]byte
	maxTs := int64(math.MinInt64)
	for i, body := range r.records {
		_, tn := binary.Varint(body[1:])
		_, on := binary.Varint(body[1+tn:])
		newDelta := int64(i)
		var rec []byte
		rec = append(rec, body[:1+tn]...) // attributes, timestamp delta
		rec = append(rec, scratch[:binary.PutVarint(scratch[:], newDelta)]...)
		rec = append(rec, body[1+tn+on:]...) // key, value, headers
		records = append(records, scratch[:binary.PutVarint(scratch[:], int64(len(rec)))]...)
		records = append(records, rec...)
		maxTs = max(maxTs, h.FirstTimestamp+r.tsDelta[i])
	}
	attrs := h.Attributes
	if comp != nil {
		var buf bytes.Buffer
		compressed, used := comp.Compress(&buf, records)
		if used == kgo.CodecNone || compressed == nil {
			attrs &^= attrCompressionMask // the codec found nothing to gain: Kafka accepts the records uncompressed
		} else {
			records = append([]byte(nil), compressed...)
		}
	}
	if h.TimestampType() == TimestampLogAppendTime {
		maxTs = h.MaxTimestamp
	}
	b := make([]byte, HeaderSize, HeaderSize+len(records))
	binary.BigEndian.PutUint32(b[offBatchLength:], uint32(HeaderSize-logOverhead+len(records)))
	binary.BigEndian.PutUint32(b[offPartitionLeaderEpoch:], math.MaxUint32) // -1
	b[offMagic] = 2
	binary.BigEndian.PutUint16(b[offAttributes:], uint16(attrs))
	binary.BigEndian.PutUint32(b[offLastOffsetDelta:], uint32(len(r.records)-1))
	binary.BigEndian.PutUint64(b[offFirstTimestamp:], uint64(h.FirstTimestamp))
	binary.BigEndian.PutUint64(b[offMaxTimestamp:], uint64(maxTs))
	binary.BigEndian.PutUint64(b[offProducerID:], math.MaxUint64)    // -1
	binary.BigEndian.PutUint16(b[offProducerEpoch:], math.MaxUint16) // -1
	binary.BigEndian.PutUint32(b[offBaseSequence:], math.MaxUint32)  // -1
	binary.BigEndian.PutUint32(b[offRecordCount:], uint32(len(r.records)))
	b = append(b, records...)
	binary.BigEndian.PutUint32(b[offCRC:], crc32.Checksum(b[offAttributes:], crc32c))
	return b, nil
}
