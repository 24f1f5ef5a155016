package recordbatch

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

type testRecord struct {
	delta     int32
	tsDelta   int64
	key, val  []byte
	headerKey string
}

// compactedBatch builds a batch as the log cleaner leaves it: records at the given offset deltas only, the header's
// last offset delta unchanged.
func compactedBatch(t *testing.T, base int64, lastDelta int32, codec kgo.CompressionCodecType, recs []testRecord) Batch {
	t.Helper()
	var raw []byte
	var scratch [binary.MaxVarintLen64]byte
	put := func(b []byte, v int64) []byte { return append(b, scratch[:binary.PutVarint(scratch[:], v)]...) }
	for _, r := range recs {
		var body []byte
		body = append(body, 0)
		body = put(body, r.tsDelta)
		body = put(body, int64(r.delta))
		body = put(body, int64(len(r.key)))
		body = append(body, r.key...)
		body = put(body, int64(len(r.val)))
		body = append(body, r.val...)
		body = put(body, 1)
		body = put(body, int64(len(r.headerKey)))
		body = append(body, r.headerKey...)
		body = put(body, 1)
		body = append(body, 'v')
		raw = put(raw, int64(len(body)))
		raw = append(raw, body...)
	}
	h := Header{BaseOffset: base, Attributes: int16(codec), LastOffsetDelta: lastDelta, FirstTimestamp: 1_700_000_000_000,
		MaxTimestamp: 1_700_000_000_000 + 100, ProducerID: 42, ProducerEpoch: 3, BaseSequence: 7}
	comp, err := compressorFor(codec)
	if err != nil {
		t.Fatal(err)
	}
	records := raw
	if comp != nil {
		var buf bytes.Buffer
		c, _ := comp.Compress(&buf, raw)
		records = append([]byte(nil), c...)
	}
	b := make([]byte, HeaderSize)
	binary.BigEndian.PutUint64(b[offBaseOffset:], uint64(base))
	binary.BigEndian.PutUint32(b[offBatchLength:], uint32(HeaderSize-logOverhead+len(records)))
	b[offMagic] = 2
	binary.BigEndian.PutUint16(b[offAttributes:], uint16(h.Attributes))
	binary.BigEndian.PutUint32(b[offLastOffsetDelta:], uint32(lastDelta))
	binary.BigEndian.PutUint64(b[offFirstTimestamp:], uint64(h.FirstTimestamp))
	binary.BigEndian.PutUint64(b[offMaxTimestamp:], uint64(h.MaxTimestamp))
	binary.BigEndian.PutUint64(b[offProducerID:], uint64(h.ProducerID))
	binary.BigEndian.PutUint16(b[offProducerEpoch:], uint16(h.ProducerEpoch))
	binary.BigEndian.PutUint32(b[offBaseSequence:], uint32(h.BaseSequence))
	binary.BigEndian.PutUint32(b[offRecordCount:], uint32(len(recs)))
	b = append(b, records...)
	binary.BigEndian.PutUint32(b[offCRC:], crc32.Checksum(b[offAttributes:], crc32c))
	return Batch{Header: ParseHeader(b), Bytes: b}
}

// decodeRecords reads the records of a batch back with its absolute offsets and timestamps.
func decodeRecords(t *testing.T, b Batch, base int64) []string {
	t.Helper()
	raw, err := kgo.DefaultDecompressor().Decompress(b.Bytes[HeaderSize:], kgo.CompressionCodecType(b.Header.Attributes&attrCompressionMask))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for i := int32(0); i < b.Header.NumRecords; i++ {
		l, n := binary.Varint(raw)
		body := raw[n : n+int(l)]
		raw = raw[n+int(l):]
		ts, tn := binary.Varint(body[1:])
		od, on := binary.Varint(body[1+tn:])
		rest := body[1+tn+on:]
		out = append(out, fmt.Sprintf("%d@%d:%x", base+od, b.Header.FirstTimestamp+ts, rest))
	}
	return out
}

func TestSplitCompacted_RunsKeepEveryRecordAndTimestamp(t *testing.T) {
	recs := []testRecord{
		{delta: 0, tsDelta: 0, key: []byte("a"), val: []byte("1"), headerKey: "h"},
		{delta: 1, tsDelta: 5, key: []byte("b"), val: []byte("2")},
		{delta: 3, tsDelta: 9, key: []byte("c"), val: nil},
		{delta: 4, tsDelta: 100, key: []byte("d"), val: []byte("4444")},
		{delta: 7, tsDelta: 50, key: []byte("e"), val: []byte("5")},
	}
	for _, codec := range []kgo.CompressionCodecType{kgo.CodecNone, kgo.CodecGzip, kgo.CodecSnappy, kgo.CodecLz4, kgo.CodecZstd} {
		t.Run(fmt.Sprint(codec), func(t *testing.T) {
			src := compactedBatch(t, 1000, 9, codec, recs)
			if !src.Header.HasOffsetHoles() {
				t.Fatal("test batch has no holes")
			}
			want := decodeRecords(t, src, 1000)
			runs, err := SplitCompacted(src, kgo.DefaultDecompressor())
			if err != nil {
				t.Fatal(err)
			}
			var bases []int64
			var got []string
			for _, r := range runs {
				bases = append(bases, r.Header.BaseOffset)
				if r.Header.HasOffsetHoles() || r.Header.ProducerID != -1 || r.Header.Compression() != src.Header.Compression() {
					t.Errorf("run at %d: header %+v", r.Header.BaseOffset, r.Header)
				}
				if _, _, err := Split(r.Bytes); err != nil {
					t.Errorf("run at %d does not parse (CRC, length): %v", r.Header.BaseOffset, err)
				}
				got = append(got, decodeRecords(t, r, r.Header.BaseOffset)...)
			}
			if fmt.Sprint(bases) != "[1000 1003 1007]" {
				t.Errorf("runs at %v, want [1000 1003 1007]", bases)
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("records\n got %v\nwant %v", got, want)
			}
		})
	}
}

func TestSplitCompacted_EmptyBatchHasNoRuns(t *testing.T) {
	runs, err := SplitCompacted(compactedBatch(t, 50, 4, kgo.CodecNone, nil), kgo.DefaultDecompressor())
	if err != nil || len(runs) != 0 {
		t.Errorf("runs %v, err %v", runs, err)
	}
}
