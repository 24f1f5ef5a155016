package recordbatch

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// asLogAppendTime marks a test batch LogAppendTime with the given append time, as a broker leaves it.
func asLogAppendTime(b Batch, appendTime int64) Batch {
	c := append([]byte(nil), b.Bytes...)
	binary.BigEndian.PutUint16(c[offAttributes:], uint16(b.Header.Attributes|attrTimestampType))
	binary.BigEndian.PutUint64(c[offMaxTimestamp:], uint64(appendTime))
	binary.BigEndian.PutUint32(c[offCRC:], crc32.Checksum(c[offAttributes:], crc32c))
	return Batch{Header: ParseHeader(c), Bytes: c}
}

func TestAppendTimeAsCreateTime_EveryRecordCarriesTheAppendTime(t *testing.T) {
	recs := []testRecord{
		{delta: 0, tsDelta: 0, key: []byte("a"), val: []byte("1"), headerKey: "h"},
		{delta: 1, tsDelta: 5, key: []byte("b"), val: []byte("2")},
		{delta: 3, tsDelta: 900, key: []byte("c"), val: nil}, // offset holes stay
	}
	const appendTime = 1_700_000_555_000
	for _, codec := range []kgo.CompressionCodecType{kgo.CodecNone, kgo.CodecGzip, kgo.CodecSnappy, kgo.CodecLz4, kgo.CodecZstd} {
		t.Run(fmt.Sprint(codec), func(t *testing.T) {
			src := asLogAppendTime(compactedBatch(t, 500, 3, codec, recs), appendTime)
			got, err := AppendTimeAsCreateTime(src, kgo.DefaultDecompressor())
			if err != nil {
				t.Fatal(err)
			}
			h := got.Header
			if h.IsLogAppendTime() || h.FirstTimestamp != appendTime || h.MaxTimestamp != appendTime || h.Compression() != src.Header.Compression() ||
				h.ProducerID != 42 || h.ProducerEpoch != 3 || h.BaseSequence != 7 || h.LastOffsetDelta != 3 || h.NumRecords != 3 || h.BaseOffset != 500 {
				t.Fatalf("header %+v", h)
			}
			if crc := crc32.Checksum(got.Bytes[offAttributes:], crc32c); crc != h.CRC {
				t.Fatalf("CRC %x, computed %x", h.CRC, crc)
			}
			want, have := decodeRecords(t, src, 500), decodeRecords(t, got, 500)
			for i := range want {
				// Same offset and record bytes; the timestamp is the append time for each.
				w, g := want[i], have[i]
				if w[:strings.Index(w, "@")] != g[:strings.Index(g, "@")] || w[strings.Index(w, ":"):] != g[strings.Index(g, ":"):] ||
					!strings.Contains(g, fmt.Sprintf("@%d:", appendTime)) {
					t.Fatalf("record %d: %s, want %s with timestamp %d", i, g, w, appendTime)
				}
			}
		})
	}
	plain := compactedBatch(t, 0, 0, kgo.CodecNone, recs[:1])
	if got, err := AppendTimeAsCreateTime(plain, kgo.DefaultDecompressor()); err != nil || &got.Bytes[0] != &plain.Bytes[0] {
		t.Fatal("a CreateTime batch is returned as it is")
	}
}
