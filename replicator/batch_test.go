package replicator

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// fetchRaw produces records with codec to a fresh kfake topic and returns the raw record bytes a Fetch returns.
func fetchRaw(t *testing.T, codec kgo.CompressionCodec, batches int) []byte {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ProducerBatchCompression(codec), kgo.DefaultProduceTopic("t"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for b := 0; b < batches; b++ {
		var recs []*kgo.Record
		for i := 0; i < 10; i++ {
			r := &kgo.Record{Value: []byte("value value value value")}
			if i%2 == 0 {
				r.Key = []byte("k")
				r.Headers = []kgo.RecordHeader{{Key: "h", Value: []byte("v")}}
			}
			recs = append(recs, r)
		}
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID = -1
	req.MaxBytes = 1 << 20
	req.SessionEpoch = -1
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = "t"
	md, err := kmsg.NewPtrMetadataRequest().RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	rt.TopicID = md.Topics[0].TopicID
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.PartitionMaxBytes = 1 << 20
	rp.CurrentLeaderEpoch = -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	return resp.Topics[0].Partitions[0].RecordBatches
}

func TestSplitBatches_EveryCodec(t *testing.T) {
	for _, tc := range []struct {
		codec kgo.CompressionCodec
		want  Codec
	}{
		{kgo.NoCompression(), CodecNone}, {kgo.GzipCompression(), CodecGzip}, {kgo.SnappyCompression(), CodecSnappy},
		{kgo.Lz4Compression(), CodecLz4}, {kgo.ZstdCompression(), CodecZstd},
	} {
		t.Run(tc.want.String(), func(t *testing.T) {
			raw := fetchRaw(t, tc.codec, 3)
			batches, partial, err := SplitBatches(raw)
			if err != nil || partial {
				t.Fatalf("SplitBatches: partial=%v err=%v", partial, err)
			}
			if len(batches) != 3 {
				t.Fatalf("got %d batches, want 3", len(batches))
			}
			next := int64(0)
			for _, b := range batches {
				var kb kmsg.RecordBatch
				if err := kb.ReadFrom(b.Bytes); err != nil {
					t.Fatalf("kmsg cannot read the batch: %v", err)
				}
				h := b.Header
				if h.BaseOffset != next || h.NumRecords != 10 || h.LastOffsetDelta != 9 || h.Compression() != tc.want ||
					kb.FirstOffset != h.BaseOffset || kb.CRC != int32(h.CRC) || kb.ProducerID != h.ProducerID ||
					kb.FirstTimestamp != h.FirstTimestamp || kb.MaxTimestamp != h.MaxTimestamp || h.HasOffsetHoles() {
					t.Fatalf("header %+v does not match kmsg %+v", h, kb)
				}
				next = h.NextOffset()
			}
		})
	}
}

func TestSplitBatches_TruncatedLastBatch(t *testing.T) {
	raw := fetchRaw(t, kgo.Lz4Compression(), 2)
	all, _, _ := SplitBatches(raw)
	firstEnd := len(all[0].Bytes)
	for cut := firstEnd; cut < len(raw); cut++ {
		batches, partial, err := SplitBatches(raw[:cut])
		if err != nil {
			t.Fatalf("cut at %d: %v", cut, err)
		}
		if len(batches) != 1 || (cut > firstEnd && !partial) {
			t.Fatalf("cut at %d: %d batches, partial=%v", cut, len(batches), partial)
		}
	}
}

func TestSplitBatches_Errors(t *testing.T) {
	raw := fetchRaw(t, kgo.NoCompression(), 1)
	corrupt := append([]byte(nil), raw...)
	corrupt[len(corrupt)-3] ^= 0xff
	if _, _, err := SplitBatches(corrupt); !errors.Is(err, ErrCorruptBatch) {
		t.Fatalf("flipped byte: got %v, want ErrCorruptBatch", err)
	}
	v1 := append([]byte(nil), raw...)
	v1[offMagic] = 1
	if _, _, err := SplitBatches(v1); !errors.Is(err, ErrUnsupportedMessageFormat) {
		t.Fatalf("magic 1: got %v, want ErrUnsupportedMessageFormat", err)
	}
	short := append([]byte(nil), raw...)
	short[offBatchLength], short[offBatchLength+1], short[offBatchLength+2], short[offBatchLength+3] = 0, 0, 0, 10
	if _, _, err := SplitBatches(short); !errors.Is(err, ErrCorruptBatch) {
		t.Fatalf("length 10: got %v, want ErrCorruptBatch", err)
	}
}

func TestBatchPayloadEqual(t *testing.T) {
	raw := fetchRaw(t, kgo.NoCompression(), 1)
	other := append([]byte(nil), raw...)
	other[0], other[12] = 0x7f, 0x7f // base offset and leader epoch are the broker's
	if !BatchPayloadEqual(raw, other) {
		t.Fatal("batches differing only in broker-owned fields must be equal")
	}
	other[len(other)-1] ^= 1
	if BatchPayloadEqual(raw, other) {
		t.Fatal("batches differing in a record byte must differ")
	}
}

func TestBuildFillerBatch(t *testing.T) {
	for _, n := range []int32{1, 2, 1000, int32(fillerMaxRecords(512 << 10))} {
		b := BuildFillerBatch(n, 1234)
		batches, partial, err := SplitBatches(b)
		if err != nil || partial || len(batches) != 1 {
			t.Fatalf("n=%d: %d batches partial=%v err=%v", n, len(batches), partial, err)
		}
		h := batches[0].Header
		if h.NumRecords != n || h.LastOffsetDelta != n-1 || h.ProducerID != -1 || h.FirstTimestamp != 1234 {
			t.Fatalf("n=%d: header %+v", n, h)
		}
		if n == int32(fillerMaxRecords(512<<10)) && len(b) > 512<<10 {
			t.Fatalf("a full filler batch is %d bytes, over 512 KiB", len(b))
		}
		var kb kmsg.RecordBatch
		if err := kb.ReadFrom(b); err != nil {
			t.Fatal(err)
		}
		recs, _ := kgo.ProcessFetchPartition(kgo.ProcessFetchPartitionOpts{Topic: "t"},
			&kmsg.FetchResponseTopicPartition{HighWatermark: int64(n), RecordBatches: b}, kgo.DefaultDecompressor(), nil)
		if len(recs.Records) != int(n) {
			t.Fatalf("n=%d: a consumer decodes %d records", n, len(recs.Records))
		}
	}
}

func BenchmarkSplitBatches(b *testing.B) {
	var raw []byte
	for i := 0; i < 100; i++ {
		raw = append(raw, BuildFillerBatch(100, 1)...)
	}
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, _, err := SplitBatches(raw); err != nil {
			b.Fatal(err)
		}
	}
}
