package main

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/clusterlink/clusterlink/integration/kafkatest"
)

// steadySettle is how long the steady-state run produces at its rate before the records it measures.
const steadySettle = 5 * time.Second

// steadyState runs clusterlink on a live topic produced at a fixed rate and measures, for every record, the time
// from when it is readable on the source (the source's high watermark passed it) to when it is readable on the
// mirror: what clusterlink adds (its fetch, its produce, the destination's append), apart from the producer's own
// buffering and the source append. Both clusters' end offsets are polled from this process, on one clock, every
// millisecond or so; polling costs the brokers little, where consumers decompressing everything twice took as much
// CPU as the brokers on a small machine and measured themselves.
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
	// The first seconds at the rate settle the brokers (after a backlog run they are still writing it back to disk)
	// and are not measured.
	records := int64(rateMBps * 1e6 * (steadySettle + o.latency).Seconds() / float64(recordSize))
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	srcW, err := watchEnds(wctx, src, topic, o.partitions)
	if err != nil {
		return result{}, err
	}
	dstW, err := watchEnds(wctx, dst, topic, o.partitions)
	if err != nil {
		return result{}, err
	}
	begin := time.Now()
	var prod result
	if o.steadyProducer != "raw" {
		var extra []kgo.Opt
		if !o.steadyIdempotent {
			extra = append(extra, kgo.DisableIdempotentWrite()) // like librdkafka's default: batches without a producer id
		}
		prod, err = produce(ctx, src, topic, o.partitions, records, recordSize, c, o.seed, rateMBps, extra...)
	} else {
		prod, err = rawProduce(ctx, src, topic, o.partitions, records, recordSize, c, o.seed, rateMBps, o.steadyIdempotent)
	}
	if err != nil {
		return result{}, err
	}
	// Wait for the mirror to catch up with the source's end, then stop watching.
	final := srcW.latest()
	for deadline := time.Now().Add(2 * time.Minute); !dstW.reached(final); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			return result{}, fmt.Errorf("the mirror did not reach the source's end offsets %v within two minutes", final)
		}
	}
	cancel()
	srcSteps, dstSteps := srcW.wait(), dstW.wait()
	_ = child.Process.Signal(syscall.SIGTERM)
	if srcW.err != nil || dstW.err != nil {
		return result{}, fmt.Errorf("watching end offsets: %v %v", srcW.err, dstW.err)
	}
	lat := offsetLatencies(srcSteps, dstSteps, begin.Add(steadySettle))
	if len(lat) == 0 {
		return result{}, fmt.Errorf("no record was measured")
	}
	slices.Sort(lat)
	pct := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
	}
	name := fmt.Sprintf("clusterlink steady state at %.0f MB/s", rateMBps)
	if !o.steadyIdempotent {
		name += " (non-idempotent producer)"
	}
	if o.steadyProducer == "raw" {
		name += " (raw batches every 5 ms)"
	}
	return result{
		Name: name, Bytes: prod.Bytes, Records: prod.Records,
		Seconds: prod.Seconds, MBps: prod.MBps, RecordsPerS: prod.RecordsPerS,
		P50ms: pct(0.50), P99ms: pct(0.99), MaxMs: float64(lat[len(lat)-1].Microseconds()) / 1000,
	}, nil
}

// endStep is a moment a partition's end offset was seen to move.
type endStep struct {
	at  time.Time
	end int64
}

// endWatcher polls a topic's end offsets (ListOffsets, latest) as fast as the broker answers.
type endWatcher struct {
	mu    sync.Mutex
	steps [][]endStep // per partition, in time order
	done  chan struct{}
	err   error
}

func watchEnds(ctx context.Context, c *kafkatest.Cluster, topic string, partitions int32) (*endWatcher, error) {
	cl, err := c.Client()
	if err != nil {
		return nil, err
	}
	w := &endWatcher{steps: make([][]endStep, partitions), done: make(chan struct{})}
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID = -1
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	for p := int32(0); p < partitions; p++ {
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition, rp.Timestamp, rp.CurrentLeaderEpoch = p, -1, -1
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	go func() {
		defer close(w.done)
		defer cl.Close()
		for ctx.Err() == nil {
			kresp, err := req.RequestWith(ctx, cl)
			now := time.Now()
			if err != nil {
				if ctx.Err() == nil {
					w.err = err
				}
				return
			}
			w.mu.Lock()
			for _, t := range kresp.Topics {
				for _, p := range t.Partitions {
					if p.ErrorCode != 0 || int(p.Partition) >= len(w.steps) {
						continue
					}
					s := w.steps[p.Partition]
					if len(s) == 0 || p.Offset > s[len(s)-1].end {
						w.steps[p.Partition] = append(s, endStep{now, p.Offset})
					}
				}
			}
			w.mu.Unlock()
			time.Sleep(500 * time.Microsecond)
		}
	}()
	return w, nil
}

// latest is the newest end offset seen of each partition.
func (w *endWatcher) latest() []int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]int64, len(w.steps))
	for p, s := range w.steps {
		if len(s) > 0 {
			out[p] = s[len(s)-1].end
		}
	}
	return out
}

// reached reports whether every partition's end offset reached ends.
func (w *endWatcher) reached(ends []int64) bool {
	for p, e := range w.latest() {
		if e < ends[p] {
			return false
		}
	}
	return true
}

func (w *endWatcher) wait() [][]endStep {
	<-w.done
	return w.steps
}

// offsetLatencies returns, for every offset that became readable on the source after from, how much later it
// became readable on the mirror.
func offsetLatencies(src, dst [][]endStep, from time.Time) []time.Duration {
	var out []time.Duration
	for p := range src {
		d := dst[p]
		j := 0
		prev := int64(-1)
		for _, s := range src[p] {
			if prev < 0 {
				prev = s.end // the end before the run: not a record of it
				continue
			}
			for o := prev; o < s.end; o++ {
				for j < len(d) && d[j].end <= o {
					j++
				}
				if j == len(d) {
					break
				}
				if !s.at.Before(from) {
					out = append(out, max(0, d[j].at.Sub(s.at)))
				}
			}
			prev = s.end
		}
	}
	return out
}
