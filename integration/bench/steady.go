package main

import (
	"context"
	"fmt"
	"slices"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/clusterlink/clusterlink/integration/kafkatest"
)

// steadyState runs clusterlink on a live topic produced at a fixed rate and measures, for every record, the time
// from when a consumer of the source can read it to when a consumer of the mirror can read it: what clusterlink adds
// (its fetch, its produce, the destination's append), apart from the producer's own buffering and the source append.
// Both consumers run in this process, on one clock, with the same fetch settings.
func steadyState(ctx context.Context, src, dst *kafkatest.Cluster, o options, recordSize int, codecName string, rateMBps float64) (result, error) {
	c, _ := codec(codecName)
	topic := fmt.Sprintf("steady-%d-%s", recordSize, codecName)
	if err := createTopic(ctx, src, topic, o.partitions); err != nil {
		return result{}, err
	}
	child := childCommand("steady", src.BootstrapServers(), dst.BootstrapServers(), topic, 0)
	if err := child.Start(); err != nil {
		return result{}, err
	}
	defer func() { _ = child.Process.Kill(); _ = child.Wait() }()
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		if ends, err := endOffsets(ctx, dst, topic); err == nil && len(ends) == int(o.partitions) {
			break
		}
		if time.Now().After(deadline) {
			return result{}, fmt.Errorf("the mirror topic %s did not appear within a minute", topic)
		}
	}
	// Warm up: one record per partition, copied, so that every mirror partition is positioned and copying before
	// the measurement starts.
	warm, err := src.Client(kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		return result{}, err
	}
	for p := int32(0); p < o.partitions; p++ {
		if err := warm.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: p, Key: []byte("warm-up"), Value: []byte("x")}).FirstErr(); err != nil {
			warm.Close()
			return result{}, err
		}
	}
	warm.Close()
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(20 * time.Millisecond) {
		ends, err := endOffsets(ctx, dst, topic)
		copied := err == nil && len(ends) == int(o.partitions)
		for _, e := range ends {
			copied = copied && e >= 1
		}
		if copied {
			break
		}
		if time.Now().After(deadline) {
			return result{}, fmt.Errorf("the warm-up records were not mirrored within a minute")
		}
	}
	records := int64(rateMBps * 1e6 * o.latency.Seconds() / float64(recordSize))
	cctx, cancel := context.WithTimeout(ctx, o.latency+2*time.Minute)
	defer cancel()
	seen := func(c *kafkatest.Cluster) (chan map[string]time.Time, error) {
		cl, err := c.Client(kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
			kgo.FetchMaxWait(100*time.Millisecond))
		if err != nil {
			return nil, err
		}
		wctx, wcancel := context.WithTimeout(ctx, 2*time.Second)
		cl.PollFetches(wctx) // metadata, leaders, first empty fetches: not part of the measurement
		wcancel()
		out := make(chan map[string]time.Time, 1)
		go func() {
			defer cl.Close()
			at := map[string]time.Time{}
			for int64(len(at)) < records && cctx.Err() == nil {
				fs := cl.PollFetches(cctx)
				now := time.Now()
				fs.EachRecord(func(r *kgo.Record) {
					if string(r.Key) != "warm-up" {
						at[string(r.Key)] = now
					}
				})
			}
			out <- at
		}()
		return out, nil
	}
	srcSeen, err := seen(src)
	if err != nil {
		return result{}, err
	}
	dstSeen, err := seen(dst)
	if err != nil {
		return result{}, err
	}
	prod, err := produce(ctx, src, topic, o.partitions, records, recordSize, c, o.seed, rateMBps)
	if err != nil {
		return result{}, err
	}
	srcAt, dstAt := <-srcSeen, <-dstSeen
	_ = child.Process.Signal(syscall.SIGTERM)
	if int64(len(dstAt)) < records || int64(len(srcAt)) < records {
		return result{}, fmt.Errorf("the consumers read %d (source) and %d (mirror) of %d records", len(srcAt), len(dstAt), records)
	}
	lat := make([]time.Duration, 0, len(dstAt))
	for k, d := range dstAt {
		lat = append(lat, max(0, d.Sub(srcAt[k])))
	}
	slices.Sort(lat)
	pct := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
	}
	return result{
		Name: fmt.Sprintf("clusterlink steady state at %.0f MB/s", rateMBps), Bytes: prod.Bytes, Records: prod.Records,
		Seconds: prod.Seconds, MBps: prod.MBps, RecordsPerS: prod.RecordsPerS,
		P50ms: pct(0.50), P99ms: pct(0.99), MaxMs: float64(lat[len(lat)-1].Microseconds()) / 1000,
	}, nil
}
