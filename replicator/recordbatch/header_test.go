package recordbatch

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// rawCluster is a one-broker kfake cluster with topic "t" (one partition) and a client on it.
type rawCluster struct {
	cl      *kgo.Client
	topicID [16]byte
}

func newRawCluster(t *testing.T, opts ...kgo.Opt) *rawCluster {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...), kgo.DefaultProduceTopic("t")}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	md, err := kmsg.NewPtrMetadataRequest().RequestWith(testContext(t), cl)
	if err != nil {
		t.Fatal(err)
	}
	return &rawCluster{cl: cl, topicID: md.Topics[0].TopicID}
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// produceTestBatches produces batches batches of 10 records each: null and non-null keys, null and non-null values,
// with and without headers.
func (rc *rawCluster) produceTestBatches(t *testing.T, batches int) {
	t.Helper()
	for b := 0; b < batches; b++ {
		var recs []*kgo.Record
		for i := 0; i < 10; i++ {
			r := &kgo.Record{Value: []byte(fmt.Sprintf("value %d of batch %d, value value value", i, b))}
			switch i % 3 {
			case 0:
				r.Key = []byte("key")
				r.Headers = []kgo.RecordHeader{{Key: "h", Value: []byte("v")}, {Key: "empty"}}
			case 1:
				r.Value = nil
			}
			recs = append(recs, r)
		}
		if err := rc.cl.ProduceSync(testContext(t), recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
}

// fetchRecordBatches sends a raw Fetch for t[0] from offset, at the version kgo negotiates, and returns the
// partition's record bytes.
func (rc *rawCluster) fetchRecordBatches(t *testing.T, offset int64) []byte {
	t.Helper()
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID = -1
	req.MaxBytes = 8 << 20
	req.SessionEpoch = -1
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic, rt.TopicID = "t", rc.topicID
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.FetchOffset = offset
	rp.PartitionMaxBytes = 8 << 20
	rp.CurrentLeaderEpoch = -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	kresp, err := rc.cl.Request(testContext(t), req)
	if err != nil {
		t.Fatal(err)
	}
	resp := kresp.(*kmsg.FetchResponse)
	p := resp.Topics[0].Partitions[0]
	if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
		t.Fatalf("fetch: %v", err)
	}
	return p.RecordBatches
}

var testCodecs = []struct {
	codec kgo.CompressionCodec
	want  Codec
}{
	{kgo.NoCompression(), CodecNone},
	{kgo.GzipCompression(), CodecGzip},
	{kgo.SnappyCompression(), CodecSnappy},
	{kgo.Lz4Compression(), CodecLz4},
	{kgo.ZstdCompression(), CodecZstd},
}

// fetchCodecBatches produces three batches with codec and fetches them raw.
func fetchCodecBatches(t *testing.T, codec kgo.CompressionCodec) []byte {
	t.Helper()
	rc := newRawCluster(t, kgo.ProducerBatchCompression(codec))
	rc.produceTestBatches(t, 3)
	return rc.fetchRecordBatches(t, 0)
}

func TestSplitBatches_EveryCodecMatchesKmsg(t *testing.T) {
	for _, tc := range testCodecs {
		t.Run(tc.want.String(), func(t *testing.T) {
			raw := fetchCodecBatches(t, tc.codec)
			batches, partial, err := Split(raw)
			if err != nil || partial {
				t.Fatalf("Split: partial=%v err=%v", partial, err)
			}
			if len(batches) != 3 {
				t.Fatalf("got %d batches, want 3", len(batches))
			}
			next, pos := int64(0), 0
			for i, b := range batches {
				if &b.Bytes[0] != &raw[pos] || cap(b.Bytes) != len(b.Bytes) {
					t.Fatalf("batch %d is not the sub-slice raw[%d:%d]", i, pos, pos+len(b.Bytes))
				}
				pos += len(b.Bytes)
				var kb kmsg.RecordBatch
				if err := kb.ReadFrom(b.Bytes); err != nil {
					t.Fatalf("batch %d: kmsg cannot read it: %v", i, err)
				}
				h := b.Header
				want := Header{
					BaseOffset: kb.FirstOffset, Length: kb.Length, PartitionLeaderEpoch: kb.PartitionLeaderEpoch,
					Magic: kb.Magic, CRC: uint32(kb.CRC), Attributes: kb.Attributes, LastOffsetDelta: kb.LastOffsetDelta,
					FirstTimestamp: kb.FirstTimestamp, MaxTimestamp: kb.MaxTimestamp, ProducerID: kb.ProducerID,
					ProducerEpoch: kb.ProducerEpoch, BaseSequence: kb.FirstSequence, NumRecords: kb.NumRecords,
				}
				if h != want {
					t.Fatalf("batch %d: header\n %+v\nkmsg reads\n %+v", i, h, want)
				}
				if len(b.Bytes) != logOverhead+int(h.Length) {
					t.Fatalf("batch %d: %d bytes, length field %d", i, len(b.Bytes), h.Length)
				}
				if h.BaseOffset != next || h.NumRecords != 10 || h.LastOffset() != next+9 || h.HasOffsetHoles() {
					t.Fatalf("batch %d: offsets %d-%d with %d records, want %d-%d with 10", i, h.BaseOffset, h.LastOffset(), h.NumRecords, next, next+9)
				}
				if h.Compression() != tc.want || h.TimestampType() != TimestampCreateTime || h.IsControl() ||
					h.IsTransactional() || !h.IsIdempotent() {
					t.Fatalf("batch %d: codec %v, %v, control=%v transactional=%v idempotent=%v (kgo is idempotent by default)",
						i, h.Compression(), h.TimestampType(), h.IsControl(), h.IsTransactional(), h.IsIdempotent())
				}
				next = h.NextOffset()
			}
			if pos != len(raw) {
				t.Fatalf("batches cover %d of %d bytes", pos, len(raw))
			}
			// What a consumer decodes from the split batches is what was produced.
			fp, _ := kgo.ProcessFetchPartition(kgo.ProcessFetchPartitionOpts{Topic: "t"},
				&kmsg.FetchResponseTopicPartition{HighWatermark: next, RecordBatches: raw}, kgo.DefaultDecompressor(), nil)
			if len(fp.Records) != 30 || string(fp.Records[0].Key) != "key" || fp.Records[1].Value != nil ||
				len(fp.Records[0].Headers) != 2 || fp.Records[29].Offset != 29 {
				t.Fatalf("a consumer decodes %d records, first %+v", len(fp.Records), fp.Records[0])
			}
		})
	}
}

func TestSplitBatches_TruncatedTailIsPartialNotError(t *testing.T) {
	for _, tc := range testCodecs {
		t.Run(tc.want.String(), func(t *testing.T) {
			raw := fetchCodecBatches(t, tc.codec)
			all, _, err := Split(raw)
			if err != nil || len(all) != 3 {
				t.Fatalf("whole fetch: %d batches, %v", len(all), err)
			}
			var ends []int // where each batch ends in raw
			end := 0
			for _, b := range all {
				end += len(b.Bytes)
				ends = append(ends, end)
			}
			for cut := 0; cut <= len(raw); cut++ {
				batches, partial, err := Split(raw[:cut])
				if err != nil {
					t.Fatalf("cut at %d: %v", cut, err)
				}
				whole, atBoundary := 0, cut == 0
				for _, e := range ends {
					if e <= cut {
						whole++
					}
					atBoundary = atBoundary || e == cut
				}
				if len(batches) != whole || partial == atBoundary {
					t.Fatalf("cut at %d: %d batches partial=%v, want %d partial=%v", cut, len(batches), partial, whole, !atBoundary)
				}
				for i, b := range batches {
					if !bytes.Equal(b.Bytes, all[i].Bytes) {
						t.Fatalf("cut at %d: batch %d differs", cut, i)
					}
				}
			}
		})
	}
}

func TestSplitBatches_CorruptBatch(t *testing.T) {
	raw := fetchCodecBatches(t, kgo.NoCompression())
	all, _, _ := Split(raw)
	first, second := len(all[0].Bytes), all[1].Header.BaseOffset

	// Any byte the CRC covers, and the CRC itself: in the first batch nothing is returned, in the second the first
	// batch is.
	for _, tc := range []struct {
		from, to  int
		wantOK    int
		wantAtOff int64
	}{
		{offCRC, first, 0, 0},
		{first + offCRC, first + len(all[1].Bytes), 1, second},
	} {
		for i := tc.from; i < tc.to; i++ {
			corrupt := bytes.Clone(raw)
			corrupt[i] ^= 0x41
			batches, partial, err := Split(corrupt)
			var be *BatchError
			if !errors.Is(err, ErrCorruptBatch) || !errors.As(err, &be) || be.Offset != tc.wantAtOff {
				t.Fatalf("byte %d flipped: err %v, want ErrCorruptBatch at offset %d", i, err, tc.wantAtOff)
			}
			if len(batches) != tc.wantOK || partial {
				t.Fatalf("byte %d flipped: %d good batches partial=%v, want %d", i, len(batches), partial, tc.wantOK)
			}
		}
	}

	// The base offset and the leader epoch are outside the CRC: the broker rewrites them.
	owned := bytes.Clone(raw)
	owned[offBaseOffset+7] ^= 1
	owned[offPartitionLeaderEpoch] ^= 1
	if _, _, err := Split(owned); err != nil {
		t.Fatalf("broker-owned fields changed: %v", err)
	}

	for _, length := range []int32{-1, 0, 10, HeaderSize - logOverhead - 1} {
		short := bytes.Clone(raw)
		binary.BigEndian.PutUint32(short[offBatchLength:], uint32(length))
		if _, _, err := Split(short); !errors.Is(err, ErrCorruptBatch) {
			t.Fatalf("length %d: got %v, want ErrCorruptBatch", length, err)
		}
	}
}

func TestSplitBatches_OldMessageFormat(t *testing.T) {
	raw := fetchCodecBatches(t, kgo.NoCompression())
	all, _, _ := Split(raw)

	// A real magic v1 message set (offset, size, crc, magic, attributes, timestamp, key, value), after one v2 batch.
	v1 := kmsg.MessageV1{Offset: all[0].Header.NextOffset(), Magic: 1, Timestamp: 1, Value: []byte("old")}
	v1.MessageSize = int32(len(v1.AppendTo(nil)) - logOverhead)
	v1.CRC = int32(crc32.ChecksumIEEE(v1.AppendTo(nil)[offMagic:])) // v0/v1 use CRC-32 (IEEE) from the magic on
	mixed := append(bytes.Clone(all[0].Bytes), v1.AppendTo(nil)...)
	batches, _, err := Split(mixed)
	var be *BatchError
	if !errors.Is(err, ErrUnsupportedMessageFormat) || !errors.As(err, &be) || be.Offset != v1.Offset || len(batches) != 1 {
		t.Fatalf("v2 batch then v1 message: %d batches, err %v; want 1 and ErrUnsupportedMessageFormat at %d", len(batches), err, v1.Offset)
	}

	for _, magic := range []byte{0, 1, 3} {
		old := bytes.Clone(raw)
		old[offMagic] = magic
		if _, _, err := Split(old); !errors.Is(err, ErrUnsupportedMessageFormat) {
			t.Fatalf("magic %d: got %v, want ErrUnsupportedMessageFormat", magic, err)
		}
	}
}

func TestSetBaseOffset_KeepsBatchValid(t *testing.T) {
	raw := fetchCodecBatches(t, kgo.ZstdCompression())
	all, _, _ := Split(raw)
	b := bytes.Clone(all[1].Bytes)
	SetBaseOffset(b, 0)
	got, _, err := Split(b)
	if err != nil || got[0].Header.BaseOffset != 0 || !PayloadEqual(b, all[1].Bytes) {
		t.Fatalf("after SetBaseOffset(0): %+v, %v", got, err)
	}
	SetBaseOffset(b, 1<<40)
	if got, _, err := Split(b); err != nil || got[0].Header.BaseOffset != 1<<40 || got[0].Header.LastOffset() != 1<<40+9 {
		t.Fatalf("after SetBaseOffset(1<<40): %+v, %v", got, err)
	}
}

func TestBatchPayloadEqual(t *testing.T) {
	raw := fetchCodecBatches(t, kgo.NoCompression())
	all, _, _ := Split(raw)
	src := all[1].Bytes
	mirror := func(change func(b []byte)) []byte {
		b := bytes.Clone(src)
		change(b)
		return b
	}
	for _, tc := range []struct {
		name  string
		b     []byte
		equal bool
	}{
		{"same", bytes.Clone(src), true},
		{"base offset and leader epoch (the broker's)", mirror(func(b []byte) {
			SetBaseOffset(b, 0)
			b[offPartitionLeaderEpoch], b[offPartitionLeaderEpoch+3] = 0x7f, 0x7f
		}), true},
		{"CRC", mirror(func(b []byte) { b[offCRC] ^= 0xff }), true},
		{"batch length", mirror(func(b []byte) { b[offBatchLength+3]++ }), false},
		{"magic", mirror(func(b []byte) { b[offMagic] = 1 }), false},
		{"attributes", mirror(func(b []byte) { b[offAttributes+1] |= attrTransactional }), false},
		{"producer id", mirror(func(b []byte) { b[offProducerID+7]++ }), false},
		{"a record byte", mirror(func(b []byte) { b[len(b)-1] ^= 1 }), false},
		{"another batch", all[0].Bytes, false},
		{"shorter", src[:len(src)-1], false},
		{"header only", src[:HeaderSize-1], false},
	} {
		if got := PayloadEqual(src, tc.b); got != tc.equal {
			t.Errorf("%s: PayloadEqual = %v, want %v", tc.name, got, tc.equal)
		}
	}
}

func TestBatchHeader_Attributes(t *testing.T) {
	for _, tc := range []struct {
		h                               Header
		codec                           Codec
		ts                              TimestampType
		txn, control, idempotent, holes bool
		last, next                      int64
	}{
		{h: Header{BaseOffset: 10, LastOffsetDelta: 4, NumRecords: 5, ProducerID: -1},
			codec: CodecNone, ts: TimestampCreateTime, last: 14, next: 15},
		{h: Header{BaseOffset: 10, Attributes: 0x04 | 0x08, LastOffsetDelta: 4, NumRecords: 2, ProducerID: 0},
			codec: CodecZstd, ts: TimestampLogAppendTime, idempotent: true, holes: true, last: 14, next: 15},
		{h: Header{Attributes: 0x02 | 0x10, NumRecords: 1, ProducerID: 7},
			codec: CodecSnappy, ts: TimestampCreateTime, txn: true, idempotent: true, next: 1},
		{h: Header{BaseOffset: 3, Attributes: 0x10 | 0x20, NumRecords: 1, ProducerID: 7},
			codec: CodecNone, ts: TimestampCreateTime, txn: true, control: true, idempotent: true, last: 3, next: 4},
	} {
		h := tc.h
		if h.Compression() != tc.codec || h.TimestampType() != tc.ts || h.IsLogAppendTime() != (tc.ts == TimestampLogAppendTime) ||
			h.IsTransactional() != tc.txn || h.IsControl() != tc.control || h.IsIdempotent() != tc.idempotent ||
			h.HasOffsetHoles() != tc.holes || h.LastOffset() != tc.last || h.NextOffset() != tc.next {
			t.Errorf("%+v: codec %v ts %v txn %v control %v idempotent %v holes %v last %d next %d", h, h.Compression(),
				h.TimestampType(), h.IsTransactional(), h.IsControl(), h.IsIdempotent(), h.HasOffsetHoles(), h.LastOffset(), h.NextOffset())
		}
	}
	for c, want := range []string{"none", "gzip", "snappy", "lz4", "zstd", "codec(5)"} {
		if got := Codec(c).String(); got != want {
			t.Errorf("Codec(%d) = %q, want %q", c, got, want)
		}
	}
	if TimestampCreateTime.String() != "CreateTime" || TimestampLogAppendTime.String() != "LogAppendTime" {
		t.Errorf("timestamp types print as %v and %v", TimestampCreateTime, TimestampLogAppendTime)
	}
}

// syntheticFetch returns size bytes of v2 batches of batchSize bytes each, with random record bytes and correct
// lengths and CRCs: Split never looks inside the records.
func syntheticFetch(size, batchSize int) []byte {
	rng := rand.New(rand.NewPCG(1, 2))
	var raw []byte
	for off := int64(0); len(raw)+batchSize <= size; off += 100 {
		b := make([]byte, batchSize)
		for i := HeaderSize; i < len(b); i++ {
			b[i] = byte(rng.Uint32())
		}
		copy(b, BuildFiller(100, 1)[:HeaderSize])
		SetBaseOffset(b, off)
		binary.BigEndian.PutUint32(b[offBatchLength:], uint32(batchSize-logOverhead))
		binary.BigEndian.PutUint32(b[offCRC:], crc32.Checksum(b[offAttributes:], crc32c))
		raw = append(raw, b...)
	}
	return raw
}

// BenchmarkSplitBatches splits a 1 MiB fetch (the replica.fetch.max.bytes order) of batches of several sizes. The
// time is the CRC-32C over every byte; the one allocation is the result slice.
func BenchmarkSplitBatches(b *testing.B) {
	for _, batchSize := range []int{1 << 10, 16 << 10, 256 << 10} {
		raw := syntheticFetch(1<<20, batchSize)
		b.Run(fmt.Sprintf("fetch=1MiB/batch=%dKiB", batchSize>>10), func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := Split(raw); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
