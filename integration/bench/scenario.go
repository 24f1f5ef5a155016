package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/clusterlink/clusterlink/integration/kafkatest"
)

// runScenario measures one record size and codec: fill the source, the destination's ingest limit, clusterlink
// catching up the backlog, then MirrorMaker 2 catching up the same backlog into the same (recreated) topic.
func runScenario(ctx context.Context, o options, src, dst *kafkatest.Cluster, mm2cp string, recordSize int, codecName string) ([]result, error) {
	c, _ := codec(codecName)
	topic := fmt.Sprintf("bench-%d-%s", recordSize, codecName)
	records := o.size / int64(recordSize)
	var out []result

	limit, err := produce(ctx, dst, "limit-"+topic, o.partitions, records, recordSize, c, o.seed, 0)
	if err != nil {
		return out, fmt.Errorf("measure the destination ingest limit: %w", err)
	}
	limit.Name = "destination ingest limit (franz-go producer)"
	out = append(out, limit)
	if err := deleteTopic(ctx, dst, "limit-"+topic); err != nil {
		return out, err
	}
	fill, err := produce(ctx, src, topic, o.partitions, records, recordSize, c, o.seed, 0)
	if err != nil {
		return out, fmt.Errorf("fill the source: %w", err)
	}
	fmt.Printf("   source filled: %.0f MB/s\n", fill.MBps)
	ends, err := endOffsets(ctx, src, topic)
	if err != nil {
		return out, err
	}

	raw, err := rawIngest(ctx, src, dst, topic, o.partitions, fill.Bytes, recordSize)
	if err != nil {
		return out, fmt.Errorf("the destination's raw ingest: %w", err)
	}
	raw.OfLimit = 100 * raw.MBps / limit.MBps
	out = append(out, raw)
	fmt.Printf("   destination ingest of the source's batches: %.0f MB/s\n", raw.MBps)

	cl, err := runCatchUp(ctx, src, dst, topic, records, fill.Bytes)
	if err != nil {
		return out, fmt.Errorf("clusterlink: %w", err)
	}
	cl.OfLimit = 100 * cl.MBps / limit.MBps
	cl.OfRaw = 100 * cl.MBps / raw.MBps
	out = append(out, cl)
	fmt.Printf("   clusterlink: %.0f MB/s (%.0f%% of the raw ingest)\n", cl.MBps, cl.OfRaw)

	if mm2cp != "" {
		if err := deleteTopic(ctx, dst, topic); err != nil {
			return out, err
		}
		if err := createTopic(ctx, dst, topic, o.partitions); err != nil {
			return out, err
		}
		mm, err := runMirrorMaker(ctx, mm2cp, src, dst, topic, o.partitions, codecName, ends, records, fill.Bytes)
		if err != nil {
			return out, fmt.Errorf("MirrorMaker 2: %w", err)
		}
		mm.OfLimit = 100 * mm.MBps / limit.MBps
		out = append(out, mm)
		fmt.Printf("   MirrorMaker 2: %.0f MB/s (%.1f s of it starting up)\n", mm.MBps, mm.StartupSeconds)
	}
	return out, nil
}

// values are record values that compress about 2:1, like typical JSON payloads: random words from a small
// vocabulary.
func values(recordSize int, seed int64) [][]byte {
	rng := rand.New(rand.NewSource(seed))
	vocabulary := make([][]byte, 256)
	for i := range vocabulary {
		w := make([]byte, 4+rng.Intn(8))
		for j := range w {
			w[j] = byte('a' + rng.Intn(26))
		}
		vocabulary[i] = w
	}
	out := make([][]byte, 1024)
	for i := range out {
		v := make([]byte, 0, recordSize+16)
		for len(v) < recordSize {
			v = append(v, vocabulary[rng.Intn(len(vocabulary))]...)
			v = append(v, ' ')
		}
		out[i] = v[:recordSize]
	}
	return out
}

// produce writes records to a new topic, acks=all, as fast as a franz-go producer can, or at rateMBps when it is
// above 0.
func produce(ctx context.Context, c *kafkatest.Cluster, topic string, partitions int32, records int64, recordSize int,
	codec kgo.CompressionCodec, seed int64, rateMBps float64, extra ...kgo.Opt) (result, error) {
	// linger.ms=5 is the Java producer's default since Kafka 4.0; the latency run keeps it.
	linger := 5 * time.Millisecond
	cl, err := c.Client(append([]kgo.Opt{kgo.ProducerBatchCompression(codec), kgo.ProducerBatchMaxBytes(1 << 20),
		kgo.ProducerLinger(linger), kgo.MaxBufferedBytes(256 << 20), kgo.DefaultProduceTopic(topic)}, extra...)...)
	if err != nil {
		return result{}, err
	}
	defer cl.Close()
	if err := createTopic(ctx, c, topic, partitions); err != nil {
		return result{}, err
	}
	vals := values(recordSize, seed)
	start := time.Now()
	errs := make(chan error, 1)
	for i := int64(0); i < records; i++ {
		if rateMBps > 0 && i%100 == 0 {
			// Pace: record i is due at i*recordSize bytes / rate.
			due := start.Add(time.Duration(float64(i*int64(recordSize)) / (rateMBps * 1e6) * float64(time.Second)))
			if d := time.Until(due); d > 0 {
				time.Sleep(d)
			}
		}
		key := i % 10000
		if rateMBps > 0 {
			key = i // unique: the latency run matches each record on both clusters
		}
		cl.Produce(ctx, &kgo.Record{Key: []byte(strconv.FormatInt(key, 10)), Value: vals[i%int64(len(vals))]}, func(_ *kgo.Record, err error) {
			if err != nil {
				select {
				case errs <- err:
				default:
				}
			}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		return result{}, err
	}
	secs := time.Since(start).Seconds()
	select {
	case err := <-errs:
		return result{}, err
	default:
	}
	bytes := records * int64(recordSize)
	return result{Bytes: bytes, Records: records, Seconds: secs, MBps: float64(bytes) / 1e6 / secs, RecordsPerS: float64(records) / secs}, nil
}

func createTopic(ctx context.Context, c *kafkatest.Cluster, topic string, partitions int32) error {
	cl, err := c.Client()
	if err != nil {
		return err
	}
	defer cl.Close()
	resp, err := kadm.NewClient(cl).CreateTopic(ctx, partitions, 1, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return fmt.Errorf("create topic %s: %w", topic, err)
	}
	return nil
}

// deleteTopic deletes a topic and waits until it is gone.
func deleteTopic(ctx context.Context, c *kafkatest.Cluster, topic string) error {
	cl, err := c.Client()
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if _, err := adm.DeleteTopics(ctx, topic); err != nil {
		return fmt.Errorf("delete topic %s: %w", topic, err)
	}
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		td, err := adm.ListTopics(ctx, topic)
		if err == nil && !td.Has(topic) {
			return nil
		}
	}
	return fmt.Errorf("topic %s still exists a minute after its deletion", topic)
}

func endOffsets(ctx context.Context, c *kafkatest.Cluster, topic string) (map[int32]int64, error) {
	cl, err := c.Client()
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("end offsets of %s: %w", topic, err)
	}
	out := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) { out[o.Partition] = o.Offset })
	return out, nil
}

// runCatchUp runs clusterlink in a child process until the mirror holds the whole backlog.
func runCatchUp(ctx context.Context, src, dst *kafkatest.Cluster, topic string, records, bytes int64) (result, error) {
	cmd := childCommand("catchup", src.BootstrapServers(), dst.BootstrapServers(), topic, 0)
	return runChildMeasured(cmd, "clusterlink catch-up", bytes, records)
}

// runChildMeasured runs a replicator child to its end and measures it: wall time, CPU and peak RSS.
func runChildMeasured(cmd *exec.Cmd, name string, bytes, records int64) (result, error) {
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return result{}, fmt.Errorf("replicator child: %w", err)
	}
	secs := time.Since(start).Seconds()
	cpu, rss := rusage(cmd)
	return result{
		Name: name, Bytes: bytes, Records: records, Seconds: secs,
		MBps: float64(bytes) / 1e6 / secs, RecordsPerS: float64(records) / secs,
		CPUSeconds: cpu, CPUPerGiB: perGiB(cpu, bytes), PeakRSSMiB: rss,
	}, nil
}

// perGiB is cpu seconds per GiB of bytes moved; 0 for a run that is not measured in bytes (holes, transactions).
func perGiB(cpu float64, bytes int64) float64 {
	if bytes <= 0 {
		return 0
	}
	return cpu / (float64(bytes) / (1 << 30))
}

// childCommand re-executes this binary as a clusterlink replicator in the given mode.
func childCommand(mode string, src, dst []string, topic string, target int64) *exec.Cmd {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), childEnv+"="+mode, "BENCH_SRC="+strings.Join(src, ","), "BENCH_DST="+strings.Join(dst, ","),
		"BENCH_TOPIC="+topic, "BENCH_TARGET="+strconv.FormatInt(target, 10))
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return cmd
}

// rusage returns a finished child's CPU seconds and peak RSS in MiB.
func rusage(cmd *exec.Cmd) (cpu, rssMiB float64) {
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds(), float64(ru.Maxrss) / 1024
}
