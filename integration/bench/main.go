// Command bench measures clusterlink against the anchors a user would compare it with, in one run on the same
// brokers and the same data: the destination's own ingest limit (a franz-go producer at full speed), clusterlink
// catching up a backlog, Apache Kafka's MirrorMaker 2 catching up the same backlog, clusterlink's steady-state
// latency at a fixed produce rate, and clusterlink's own ceiling with the brokers taken out of the way (kfake
// clusters serving a canned batch and discarding writes). It is run by `make bench`; it is a benchmark, not a test,
// and asserts nothing.
//
// clusterlink and MirrorMaker 2 each run as a process of their own, so that their CPU time and peak memory are
// theirs alone.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/clusterlink/clusterlink/controlplane/group"
	"github.com/clusterlink/clusterlink/integration/kafkatest"
)

// result is one measured run.
type result struct {
	Scenario    string  `json:"scenario"` // record size and codec
	Name        string  `json:"name"`
	Bytes       int64   `json:"bytes"` // record value bytes moved
	Records     int64   `json:"records"`
	Seconds     float64 `json:"seconds"`
	MBps        float64 `json:"mb_per_s"`
	RecordsPerS float64 `json:"records_per_s"`
	CPUSeconds  float64 `json:"cpu_seconds,omitempty"`
	CPUPerGiB   float64 `json:"cpu_seconds_per_gib,omitempty"`
	PeakRSSMiB  float64 `json:"peak_rss_mib,omitempty"`
	// StartupSeconds is how long the process took before the first record reached the destination.
	StartupSeconds float64 `json:"startup_seconds,omitempty"`
	OfLimit        float64 `json:"percent_of_ingest_limit,omitempty"`
	// OfRaw is MBps as a share of the destination's ingest of the source's own batches at full speed (rawIngest).
	OfRaw float64 `json:"percent_of_raw_ingest,omitempty"`
	// The scale scenario: until every mirror exists and copies; idle CPU (% of a core), RSS and requests per second.
	MirrorsSeconds  float64 `json:"mirrors_seconds,omitempty"`
	IdleCPUPercent  float64 `json:"idle_cpu_percent,omitempty"`
	IdleRSSMiB      float64 `json:"idle_rss_mib,omitempty"`
	IdleSrcRequests float64 `json:"idle_source_requests_per_s,omitempty"`
	IdleDstRequests float64 `json:"idle_destination_requests_per_s,omitempty"`
	// Latency (steady state only), milliseconds from a record being readable on the source to it being readable on
	// the mirror.
	P50ms, P99ms, MaxMs float64 `json:",omitempty"`
}

type options struct {
	size        int64
	recordSizes []int
	codecs      []string
	partitions  int32
	seed        int64
	out         string
	mm2         bool
	latency     time.Duration
	ceiling     int64
	hole        int64
	txns        int
	restore     int64
	// steadyIdempotent: the steady-state producer is idempotent (franz-go's and Java's default), which the writer
	// needs to pipeline; false measures a source whose batches carry no producer id.
	steadyIdempotent bool
	// steadyProducer is "franz" (a franz-go producer) or "raw" (precompressed batches, see rawProduce).
	steadyProducer string
	rate           float64
	// scenario is "" (the copy scenarios and the others flags select), "scale" or "outage".
	scenario string
	topics   int
	backlogs []int64
}

func main() {
	if mode := os.Getenv(childEnv); mode != "" {
		os.Exit(runChild(mode))
	}
	var o options
	var sizes, codecs string
	quick := flag.Bool("quick", false, "a quick run: 128 MiB per scenario, 5 s of steady state, a smaller ceiling run")
	flag.Int64Var(&o.size, "size", 1<<30, "bytes of record values per scenario")
	flag.StringVar(&sizes, "record-sizes", "1024,100", "record value sizes in bytes, comma separated")
	flag.StringVar(&codecs, "codecs", "lz4,zstd", "compression codecs (none, gzip, snappy, lz4, zstd), comma separated")
	partitions := flag.Int("partitions", 12, "partitions of each benchmark topic")
	flag.Int64Var(&o.seed, "seed", 1, "seed for the record contents")
	flag.StringVar(&o.out, "out", "results", "directory for the JSON results")
	flag.BoolVar(&o.mm2, "mm2", true, "also measure MirrorMaker 2")
	flag.DurationVar(&o.latency, "latency", 20*time.Second, "steady-state run length (0 to skip)")
	flag.Int64Var(&o.ceiling, "ceiling", 4<<30, "bytes for the ceiling run against kfake (0 to skip)")
	flag.Int64Var(&o.hole, "hole", 100000, "offsets of the compacted-away hole clusterlink fills (0 to skip)")
	flag.StringVar(&o.steadyProducer, "steady-producer", "franz", "steady-state load: franz (a franz-go producer, compressing) or raw (one precompressed batch per partition every 5 ms, light on CPU)")
	flag.BoolVar(&o.steadyIdempotent, "steady-idempotent", true, "the steady-state producer is idempotent (false: no producer ids, no pipelining)")
	flag.IntVar(&o.txns, "txns", 200, "source transactions over every partition that clusterlink replays (0 to skip)")
	flag.Int64Var(&o.restore, "restore", 1000000, "records of the topic truncate-and-restore copies again (0 to skip)")
	flag.StringVar(&o.scenario, "scenario", "", `only this scenario: "scale" (-topics topics of -partitions partitions, -size bytes in all) or "outage" (-backlogs) or "txns" (-txns transactions over -partitions partitions); default: the copy scenarios and those the other flags select`)
	flag.IntVar(&o.topics, "topics", 1, "topics of the scale scenario")
	var backlogs string
	flag.StringVar(&backlogs, "backlogs", "512,2048", "MiB of backlog of each outage catch-up run, comma separated")
	flag.Float64Var(&o.rate, "rate", 0, "steady-state produce rate in MB/s (default: half the measured ingest limit)")
	haMembers := flag.String("ha", "", "only the ceiling run shared by groups of 1, 2, ... members (for example 1,2,3), then the takeover after a kill -9: no brokers")
	takeoverRounds := flag.Int("takeover-rounds", 3, "with -ha: how many kills the takeover is measured over")
	flag.Parse()
	if *quick {
		o.size, o.latency, o.ceiling, o.restore = 128<<20, 5*time.Second, 1<<30, 200000
	}
	o.partitions = int32(*partitions)
	for _, s := range strings.Split(backlogs, ",") {
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil || n <= 0 {
			fmt.Fprintf(os.Stderr, "bench: -backlogs %q: %v\n", backlogs, err)
			os.Exit(2)
		}
		o.backlogs = append(o.backlogs, n<<20)
	}
	for _, s := range strings.Split(sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 {
			fmt.Fprintf(os.Stderr, "bench: -record-sizes %q: %v\n", sizes, err)
			os.Exit(2)
		}
		o.recordSizes = append(o.recordSizes, n)
	}
	for _, c := range strings.Split(codecs, ",") {
		if _, err := codec(strings.TrimSpace(c)); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(2)
		}
		o.codecs = append(o.codecs, strings.TrimSpace(c))
	}
	if *haMembers != "" {
		var ns []int
		for _, s := range strings.Split(*haMembers, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil || n <= 0 {
				fmt.Fprintf(os.Stderr, "bench: -ha %q: a list of member counts such as 1,2,3\n", *haMembers)
				os.Exit(2)
			}
			ns = append(ns, n)
		}
		fmt.Printf("== clusterlink ceiling shared by a group: %v members, %d partitions, %d MiB\n", ns, o.partitions, o.ceiling>>20)
		res, err := haCeiling(o.ceiling, o.recordSizes[0], o.codecs[0], o.partitions, ns)
		for i := range res {
			res[i].Scenario = fmt.Sprintf("%s %s", sizeName(o.recordSizes[0]), o.codecs[0])
		}
		printTable(res)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		fmt.Printf("== takeover after a kill -9: 2 members, %d partitions, session timeout %s (the daemon's default)\n",
			o.partitions, group.DefaultSessionTimeout)
		tks, err := haTakeover(*takeoverRounds, o.partitions, o.codecs[0], o.recordSizes[0])
		printTakeovers(tks)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	if err := run(o); err != nil {
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

func run(o options) error {
	ctx := context.Background()
	var mm2cp string
	if o.mm2 {
		var err error
		if mm2cp, err = mirrorMakerClasspath(); err != nil {
			return err
		}
	}
	fmt.Printf("starting a source and a destination broker (Kafka KRaft, 2 GiB heap each)...\n")
	// The source's cleaner looks for work every 100 ms (for the hole run; the other topics are not compacted).
	clusters, err := kafkatest.StartMany(ctx, []kafkatest.Opt{kafkatest.Heap("2g"), kafkatest.BrokerConfig("log.cleaner.backoff.ms", "100")},
		[]kafkatest.Opt{kafkatest.Heap("2g")})
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

	switch o.scenario {
	case "scale":
		fmt.Printf("\n== scale: %d topics of %d partitions, %d MiB of %s %s values\n", o.topics, o.partitions, o.size>>20,
			sizeName(o.recordSizes[0]), o.codecs[0])
		r, err := scaleScenario(ctx, o, src, dst, o.topics, o.recordSizes[0], o.codecs[0])
		if err != nil {
			return fmt.Errorf("scale: %w", err)
		}
		r.Scenario = fmt.Sprintf("%s %s", sizeName(o.recordSizes[0]), o.codecs[0])
		printScaleTable([]result{r})
		return writeJSON(o, []result{r})
	case "outage":
		var results []result
		for _, b := range o.backlogs {
			fmt.Printf("\n== outage catch-up: %d MiB backlog over %d partitions\n", b>>20, o.partitions)
			r, err := outageScenario(ctx, o, src, dst, b, o.recordSizes[0], o.codecs[0])
			if err != nil {
				return fmt.Errorf("outage: %w", err)
			}
			r.Scenario = fmt.Sprintf("%s %s", sizeName(o.recordSizes[0]), o.codecs[0])
			results = append(results, r)
		}
		printTable(results)
		return writeJSON(o, results)
	case "txns":
		fmt.Printf("\n== transactions: %d, each over all %d partitions\n", o.txns, o.partitions)
		r, err := txnReplay(ctx, src, dst, o.txns, o.partitions)
		if err != nil {
			return fmt.Errorf("transactions: %w", err)
		}
		r.Scenario = "transactional"
		printTable([]result{r})
		return writeJSON(o, []result{r})
	case "":
	default:
		return fmt.Errorf("-scenario %q: want scale, outage, txns or nothing", o.scenario)
	}

	var results []result
	limits := map[string]float64{}
	for _, rs := range o.recordSizes {
		for _, cn := range o.codecs {
			scenario := fmt.Sprintf("%s %s", sizeName(rs), cn)
			fmt.Printf("\n== %s: %d MiB of values, %d partitions\n", scenario, o.size>>20, o.partitions)
			res, err := runScenario(ctx, o, src, dst, mm2cp, rs, cn)
			for i := range res {
				res[i].Scenario = scenario
			}
			results = append(results, res...)
			if err != nil {
				printTable(results)
				return fmt.Errorf("%s: %w", scenario, err)
			}
			limits[scenario] = res[0].MBps
		}
	}
	if o.latency > 0 {
		scenario := fmt.Sprintf("%s %s", sizeName(o.recordSizes[0]), o.codecs[0])
		rate := limits[scenario] / 2
		if o.rate > 0 {
			rate = o.rate
		}
		fmt.Printf("\n== steady state: %s at %.0f MB/s (ingest limit %.0f MB/s) for %s\n", scenario, rate, limits[scenario], o.latency)
		r, err := steadyState(ctx, src, dst, o, o.recordSizes[0], o.codecs[0], rate)
		if err != nil {
			return fmt.Errorf("steady state: %w", err)
		}
		r.Scenario = scenario
		results = append(results, r)
	}
	if o.hole > 0 {
		fmt.Printf("\n== hole: %d offsets compacted away in the source\n", o.hole)
		r, err := holeFill(ctx, src, dst, o.hole)
		if err != nil {
			return fmt.Errorf("hole: %w", err)
		}
		r.Scenario = "compacted"
		results = append(results, r)
	}
	if o.txns > 0 {
		fmt.Printf("\n== transactions: %d, each over all %d partitions\n", o.txns, o.partitions)
		r, err := txnReplay(ctx, src, dst, o.txns, o.partitions)
		if err != nil {
			return fmt.Errorf("transactions: %w", err)
		}
		r.Scenario = "transactional"
		results = append(results, r)
	}
	if o.restore > 0 {
		fmt.Printf("\n== truncate-and-restore: %d records of 1 KiB, 10000 divergent\n", o.restore)
		rs, err := restoreCost(ctx, o, src, dst, o.restore, 10000)
		if err != nil {
			return fmt.Errorf("restore: %w", err)
		}
		for i := range rs {
			rs[i].Scenario = "failback"
		}
		results = append(results, rs...)
	}
	if o.ceiling > 0 {
		fmt.Printf("\n== clusterlink ceiling: kfake source serving a canned batch, kfake destination discarding writes\n")
		for _, cn := range o.codecs {
			r, err := ceiling(o.ceiling, o.recordSizes[0], cn, o.partitions)
			if err != nil {
				return fmt.Errorf("ceiling: %w", err)
			}
			r.Scenario = fmt.Sprintf("%s %s", sizeName(o.recordSizes[0]), cn)
			results = append(results, r)
		}
	}
	printTable(results)
	return writeJSON(o, results)
}

func sizeName(n int) string {
	if n%1024 == 0 {
		return fmt.Sprintf("%d KiB", n/1024)
	}
	return fmt.Sprintf("%d B", n)
}

func printTable(results []result) {
	fmt.Println()
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\trun\tseconds\tMB/s\trecords/s\t% of limit\t% of raw ingest\tCPU s/GiB\tpeak RSS MiB\tlatency p50/p99/max ms\t")
	dash := func(v float64, format string) string {
		if v == 0 {
			return "-"
		}
		return fmt.Sprintf(format, v)
	}
	for _, r := range results {
		lat := "-"
		if r.P99ms > 0 {
			lat = fmt.Sprintf("%.0f / %.0f / %.0f", r.P50ms, r.P99ms, r.MaxMs)
		}
		fmt.Fprintf(tw, "%s\t%s\t%.1f\t%.0f\t%.0f\t%s\t%s\t%s\t%s\t%s\t\n", r.Scenario, r.Name, r.Seconds, r.MBps, r.RecordsPerS,
			dash(r.OfLimit, "%.0f%%"), dash(r.OfRaw, "%.0f%%"), dash(r.CPUPerGiB, "%.2f"), dash(r.PeakRSSMiB, "%.0f"), lat)
	}
	tw.Flush()
}

// printScaleTable prints the scale scenario's columns.
func printScaleTable(results []result) {
	fmt.Println()
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\trun\tmirrors exist s\tcopied s\tMB/s\tCPU s/GiB\tpeak RSS MiB\tidle RSS MiB\tidle CPU %\tidle req/s source\tidle req/s destination\t")
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%s\t%.1f\t%.1f\t%.0f\t%.2f\t%.0f\t%.0f\t%.1f\t%.1f\t%.1f\t\n", r.Scenario, r.Name, r.MirrorsSeconds, r.Seconds,
			r.MBps, r.CPUPerGiB, r.PeakRSSMiB, r.IdleRSSMiB, r.IdleCPUPercent, r.IdleSrcRequests, r.IdleDstRequests)
	}
	tw.Flush()
}

func writeJSON(o options, results []result) error {
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	path := filepath.Join(o.out, fmt.Sprintf("bench-%s.json", time.Now().UTC().Format("20060102T150405Z")))
	b, _ := json.MarshalIndent(map[string]any{
		"size": o.size, "record_sizes": o.recordSizes, "codecs": o.codecs, "partitions": o.partitions, "seed": o.seed,
		"results": results,
	}, "", "  ")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return err
	}
	fmt.Println("results written to", path)
	return nil
}
