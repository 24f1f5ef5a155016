// Command bench measures how fast clusterlink mirrors a backlog between two real Apache Kafka brokers, next to the
// destination's own ingest limit measured in the same run on the same brokers. It is run by `make bench`; it is a
// benchmark, not a test, and asserts nothing.
//
// The replicator runs in a child process (this binary, re-executed) so its CPU time and peak memory are its own.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/clusterlink/clusterlink/integration/kafkatest"
	"github.com/clusterlink/clusterlink/replicator"
)

const (
	childEnv = "CLUSTERLINK_BENCH_CHILD"
	topic    = "bench"
)

type result struct {
	Name        string  `json:"name"`
	Bytes       int64   `json:"bytes"`
	Records     int64   `json:"records"`
	Seconds     float64 `json:"seconds"`
	MBps        float64 `json:"mb_per_s"`
	RecordsPerS float64 `json:"records_per_s"`
	CPUSeconds  float64 `json:"cpu_seconds,omitempty"`
	CPUPerGiB   float64 `json:"cpu_seconds_per_gib,omitempty"`
	PeakRSSMiB  float64 `json:"peak_rss_mib,omitempty"`
}

func main() {
	if os.Getenv(childEnv) != "" {
		os.Exit(runChild())
	}
	size := flag.Int64("size", 1<<30, "bytes of record values to fill the source with")
	quick := flag.Bool("quick", false, "a quick run: 256 MiB")
	recordSize := flag.Int("record-size", 1024, "bytes per record value")
	partitions := flag.Int("partitions", 12, "partitions of the benchmark topic")
	codecName := flag.String("codec", "lz4", "compression codec: none, gzip, snappy, lz4, zstd")
	seed := flag.Int64("seed", 1, "seed for the record contents")
	out := flag.String("out", "results", "directory for the JSON results")
	flag.Parse()
	if *quick {
		*size = 256 << 20
	}
	if err := run(*size, *recordSize, int32(*partitions), *codecName, *seed, *out); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func codec(name string) (kgo.CompressionCodec, error) {
	switch name {
	case "none":
		return kgo.NoCompression(), nil
	case "gzip":
		return kgo.GzipCompression(), nil
	case "snappy":
		return kgo.SnappyCompression(), nil
	case "lz4":
		return kgo.Lz4Compression(), nil
	case "zstd":
		return kgo.ZstdCompression(), nil
	}
	return kgo.CompressionCodec{}, fmt.Errorf("unknown codec %q", name)
}

func run(size int64, recordSize int, partitions int32, codecName string, seed int64, outDir string) error {
	c, err := codec(codecName)
	if err != nil {
		return err
	}
	ctx := context.Background()
	fmt.Printf("starting a source and a destination broker (Kafka KRaft, 2 GiB heap each)...\n")
	clusters, err := kafkatest.StartMany(ctx, []kafkatest.Opt{kafkatest.Heap("2g")}, []kafkatest.Opt{kafkatest.Heap("2g")})
	defer func() {
		for _, c := range clusters {
			if c != nil {
				c.Close()
			}
		}
	}()
	if err != nil {
		return err
	}
	src, dst := clusters[0], clusters[1]

	records := size / int64(recordSize)
	var results []result

	fill, err := produce(ctx, src, topic, partitions, records, recordSize, c, seed)
	if err != nil {
		return fmt.Errorf("fill the source: %w", err)
	}
	fill.Name = "fill source (franz-go producer)"
	results = append(results, fill)

	limit, err := produce(ctx, dst, "ingest-limit", partitions, records, recordSize, c, seed)
	if err != nil {
		return fmt.Errorf("measure the destination ingest limit: %w", err)
	}
	limit.Name = "destination ingest limit (franz-go producer)"
	results = append(results, limit)

	mirror, err := mirrorBacklog(ctx, src, dst, records, fill.Bytes)
	if err != nil {
		return fmt.Errorf("mirror the backlog: %w", err)
	}
	results = append(results, mirror)

	fmt.Printf("\n%d records of %d B (%s, %d partitions), %.0f MiB of values\n", records, recordSize, codecName, partitions,
		float64(size)/(1<<20))
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "run\tseconds\tMB/s\trecords/s\tCPU s\tCPU s/GiB\tpeak RSS MiB\t")
	for _, r := range results {
		cpu, cpuPer, rss := "-", "-", "-"
		if r.CPUSeconds > 0 {
			cpu, cpuPer, rss = fmt.Sprintf("%.1f", r.CPUSeconds), fmt.Sprintf("%.1f", r.CPUPerGiB), fmt.Sprintf("%.0f", r.PeakRSSMiB)
		}
		fmt.Fprintf(tw, "%s\t%.1f\t%.0f\t%.0f\t%s\t%s\t%s\t\n", r.Name, r.Seconds, r.MBps, r.RecordsPerS, cpu, cpuPer, rss)
	}
	tw.Flush()
	fmt.Printf("mirror / ingest limit: %.0f%%\n", 100*mirror.MBps/limit.MBps)

	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return err
	}
	path := filepath.Join(outDir, fmt.Sprintf("bench-%s.json", time.Now().UTC().Format("20060102T150405Z")))
	b, _ := json.MarshalIndent(map[string]any{
		"size": size, "record_size": recordSize, "partitions": partitions, "codec": codecName, "seed": seed, "results": results,
	}, "", "  ")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return err
	}
	fmt.Println("results written to", path)
	return nil
}

// produce writes records to a new topic as fast as a franz-go producer can, acks=all.
func produce(ctx context.Context, c *kafkatest.Cluster, topic string, partitions int32, records int64, recordSize int,
	codec kgo.CompressionCodec, seed int64) (result, error) {
	cl, err := c.Client(kgo.ProducerBatchCompression(codec), kgo.ProducerBatchMaxBytes(1<<20), kgo.ProducerLinger(5*time.Millisecond),
		kgo.MaxBufferedBytes(256<<20), kgo.DefaultProduceTopic(topic))
	if err != nil {
		return result{}, err
	}
	defer cl.Close()
	resp, err := kadm.NewClient(cl).CreateTopic(ctx, partitions, 1, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		return result{}, err
	}
	// Values compress about 2:1, like typical JSON payloads: random words from a small vocabulary.
	rng := rand.New(rand.NewSource(seed))
	vocabulary := make([][]byte, 256)
	for i := range vocabulary {
		w := make([]byte, 4+rng.Intn(8))
		for j := range w {
			w[j] = byte('a' + rng.Intn(26))
		}
		vocabulary[i] = w
	}
	values := make([][]byte, 1024)
	for i := range values {
		v := make([]byte, 0, recordSize)
		for len(v) < recordSize {
			v = append(v, vocabulary[rng.Intn(len(vocabulary))]...)
			v = append(v, ' ')
		}
		values[i] = v[:recordSize]
	}
	start := time.Now()
	errs := make(chan error, 1)
	for i := int64(0); i < records; i++ {
		cl.Produce(ctx, &kgo.Record{Key: []byte(strconv.FormatInt(i%10000, 10)), Value: values[i%int64(len(values))]}, func(_ *kgo.Record, err error) {
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

// mirrorBacklog runs the replicator in a child process until the mirror holds the whole backlog.
func mirrorBacklog(ctx context.Context, src, dst *kafkatest.Cluster, records, bytes int64) (result, error) {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), childEnv+"=1",
		"BENCH_SRC="+strings.Join(src.BootstrapServers(), ","), "BENCH_DST="+strings.Join(dst.BootstrapServers(), ","))
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return result{}, fmt.Errorf("replicator child: %w", err)
	}
	secs := time.Since(start).Seconds()
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
	return result{
		Name: "clusterlink mirror catch-up", Bytes: bytes, Records: records, Seconds: secs,
		MBps: float64(bytes) / 1e6 / secs, RecordsPerS: float64(records) / secs,
		CPUSeconds: cpu, CPUPerGiB: cpu / (float64(bytes) / (1 << 30)), PeakRSSMiB: float64(ru.Maxrss) / 1024,
	}, nil
}

// runChild mirrors the benchmark topic until the mirror's log end equals the source's, then exits.
func runChild() int {
	srcCl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(os.Getenv("BENCH_SRC"), ",")...))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer srcCl.Close()
	dstCl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(os.Getenv("BENCH_DST"), ",")...))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer dstCl.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ends, err := kadm.NewClient(srcCl).ListEndOffsets(ctx, topic)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	r := replicator.New(srcCl, dstCl)
	if err := r.AddMirror(ctx, replicator.MirrorSpec{MirrorTopic: topic}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	for {
		st, _ := r.MirrorStatus(topic)
		caughtUp := len(st.Partitions) > 0
		for _, p := range st.Partitions {
			if p.Status == replicator.StatusFailed {
				fmt.Fprintln(os.Stderr, "mirror failed:", p.ErrorCode, p.ErrorMessage)
				return 1
			}
			e, _ := ends.Lookup(topic, p.Partition)
			if p.MirrorLogEndOffset < e.Offset {
				caughtUp = false
			}
		}
		if caughtUp {
			cancel()
			<-done
			return 0
		}
		time.Sleep(20 * time.Millisecond)
	}
}
