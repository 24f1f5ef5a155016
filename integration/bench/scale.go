package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"os/exec"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap"

	"github.com/clusterlink/clusterlink/integration/kafkatest"
	"github.com/clusterlink/clusterlink/replicator"
)

// The scale scenarios: many topics and partitions (time until every mirror exists, CPU per GiB, peak and idle RSS,
// idle CPU and requests), an outage catch-up (a backlog accumulated while clusterlink was down, caught up within
// its memory budget), and the physical bound (the destination's ingest of the source's own precompressed batches
// at full speed, which is what clusterlink's copy can at best approach).

// idleWindow is how long the scale scenario measures clusterlink idle once everything is copied.
const idleWindow = 10 * time.Second

// scaleReport is what the scale child measures itself and prints as one line, prefixed by scaleReportPrefix.
type scaleReport struct {
	MirrorsSeconds  float64 `json:"mirrors_seconds"`  // until every mirror exists and every partition copies
	CopiedSeconds   float64 `json:"copied_seconds"`   // until every partition holds the source's end at start
	IdleCPUPercent  float64 `json:"idle_cpu_percent"` // of one core, over idleWindow
	IdleRSSMiB      float64 `json:"idle_rss_mib"`
	IdleSrcRequests float64 `json:"idle_source_requests_per_s"`
	IdleDstRequests float64 `json:"idle_destination_requests_per_s"`
	IdleSrcByKey    string  `json:"idle_source_requests_by_api"`
	BudgetPeakMiB   float64 `json:"budget_peak_mib"`
}

const scaleReportPrefix = "SCALE_REPORT "

// requestCounter counts the requests a client writes, by API key (a kgo hook).
type requestCounter struct {
	mu    sync.Mutex
	byKey map[int16]int64
	total atomic.Int64
}

func (c *requestCounter) OnBrokerWrite(_ kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, _ error) {
	c.total.Add(1)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byKey == nil {
		c.byKey = map[int16]int64{}
	}
	c.byKey[key]++
}

func (c *requestCounter) snapshot() map[int16]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[int16]int64{}
	for k, v := range c.byKey {
		out[k] = v
	}
	return out
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

func rssMiB() float64 {
	b, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}

// scaleChild mirrors topics prefix-0 .. prefix-(n-1) until each holds its source's end at start, then stays idle
// for idleWindow, and prints its scaleReport.
func scaleChild(ctx context.Context, prefix string, n int) int {
	var srcCount, dstCount requestCounter
	srcCl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(os.Getenv("BENCH_SRC"), ",")...), kgo.WithHooks(&srcCount))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer srcCl.Close()
	dstCl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(os.Getenv("BENCH_DST"), ",")...), kgo.WithHooks(&dstCount))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer dstCl.Close()
	start := time.Now()
	topics := make([]string, n)
	for i := range topics {
		topics[i] = fmt.Sprintf("%s-%d", prefix, i)
	}
	ends, err := kadm.NewClient(srcCl).ListEndOffsets(ctx, topics...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "end offsets:", err)
		return 2
	}
	budget := replicator.NewMemoryBudget(envInt("BENCH_BUDGET", replicator.DefaultMemoryBudget))
	debug.SetMemoryLimit(replicator.SoftMemoryLimit(budget.Limit())) // as clusterlink run does
	log := zap.NewNop()
	if os.Getenv("BENCH_DEBUG") != "" {
		log, _ = zap.NewDevelopment()
	}
	r, err := replicator.New(srcCl, dstCl, replicator.Logger(log),
		replicator.WithMemoryBudget(budget))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	finished := make(chan error, 1)
	go func() { finished <- r.Run(ctx) }()
	specs := make([]replicator.MirrorSpec, len(topics))
	for i, t := range topics {
		specs[i] = replicator.MirrorSpec{MirrorTopic: t}
	}
	for t, err := range addMirrors(ctx, r, specs) {
		if err != nil {
			fmt.Fprintln(os.Stderr, "add mirror", t, err)
			return 2
		}
	}
	var rep scaleReport
	for phase := 0; phase < 2; {
		select {
		case <-ctx.Done():
			return 1
		case err := <-finished:
			fmt.Fprintln(os.Stderr, "replicator stopped:", err)
			return 1
		case <-time.After(20 * time.Millisecond):
		}
		active, copied := true, true
		for _, st := range r.Status() {
			for _, p := range st.Partitions {
				if p.Status == replicator.StatusFailed {
					fmt.Fprintln(os.Stderr, "mirror failed:", st.MirrorTopic, p.ErrorCode, p.ErrorMessage)
					return 1
				}
				active = active && p.Status == replicator.StatusActive
				e, _ := ends.Lookup(st.MirrorTopic, p.Partition)
				copied = copied && p.MirrorLogEndOffset >= e.Offset
			}
		}
		active = active && len(r.Status()) == n
		if phase == 0 && active {
			rep.MirrorsSeconds, phase = time.Since(start).Seconds(), 1
		}
		if phase == 1 && copied {
			rep.CopiedSeconds, phase = time.Since(start).Seconds(), 2
		}
	}
	time.Sleep(2 * time.Second) // let the last writes and resolves settle
	cpu0, src0, dst0, srcKeys0 := cpuSeconds(), srcCount.total.Load(), dstCount.total.Load(), srcCount.snapshot()
	time.Sleep(idleWindow)
	secs := idleWindow.Seconds()
	rep.IdleCPUPercent = 100 * (cpuSeconds() - cpu0) / secs
	rep.IdleSrcRequests = float64(srcCount.total.Load()-src0) / secs
	rep.IdleDstRequests = float64(dstCount.total.Load()-dst0) / secs
	var byKey []string
	for k, v := range srcCount.snapshot() {
		if d := v - srcKeys0[k]; d > 0 {
			byKey = append(byKey, fmt.Sprintf("%s %.1f", kmsg.NameForKey(k), float64(d)/secs))
		}
	}
	rep.IdleSrcByKey = strings.Join(byKey, ", ")
	rep.IdleRSSMiB = rssMiB()
	rep.BudgetPeakMiB = float64(budget.Peak()) / (1 << 20) // (budget peak)
	b, _ := json.Marshal(rep)
	fmt.Println(scaleReportPrefix + string(b))
	cancel()
	<-finished
	return 0
}

func envInt(name string, def int64) int64 {
	if v, err := strconv.ParseInt(os.Getenv(name), 10, 64); err == nil {
		return v
	}
	return def
}

// fillTopics creates topics prefix-0 .. prefix-(n-1) of partitions partitions on c and writes bytes of record
// values spread evenly over them, as fast as a franz-go producer can.
func fillTopics(ctx context.Context, c *kafkatest.Cluster, prefix string, n int, partitions int32, bytes int64, recordSize int,
	codecName string, seed int64) (records int64, err error) {
	cc, _ := codec(codecName)
	// Topics just created take a moment to show in the broker's metadata: the producer waits for them.
	cl, err := c.Client(kgo.ProducerBatchCompression(cc), kgo.ProducerBatchMaxBytes(1<<20), kgo.ProducerLinger(5*time.Millisecond),
		kgo.MaxBufferedBytes(256<<20), kgo.UnknownTopicRetries(-1))
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	topics := make([]string, n)
	for i := range topics {
		topics[i] = fmt.Sprintf("%s-%d", prefix, i)
	}
	for i := 0; i < n; i += 100 {
		resp, err := adm.CreateTopics(ctx, partitions, 1, nil, topics[i:min(i+100, n)]...)
		if err != nil {
			return 0, err
		}
		for _, t := range resp {
			if t.Err != nil && !errorsIsExists(t.Err) {
				return 0, fmt.Errorf("create topic %s: %w", t.Topic, t.Err)
			}
		}
	}
	vals := values(recordSize, seed)
	records = bytes / int64(recordSize)
	errs := make(chan error, 1)
	for i := int64(0); i < records; i++ {
		cl.Produce(ctx, &kgo.Record{Topic: topics[i%int64(n)], Key: []byte(strconv.FormatInt(i%10000, 10)), Value: vals[i%int64(len(vals))]},
			func(_ *kgo.Record, err error) {
				if err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			})
	}
	if err := cl.Flush(ctx); err != nil {
		return 0, err
	}
	select {
	case err := <-errs:
		return 0, err
	default:
	}
	return records, nil
}

func errorsIsExists(err error) bool { return err == kerr.TopicAlreadyExists }

// scaleScenario mirrors topics x partitions with a backlog of o.size bytes and measures the child's start, copy
// and idle cost.
func scaleScenario(ctx context.Context, o options, src, dst *kafkatest.Cluster, topics int, recordSize int, codecName string) (result, error) {
	prefix := fmt.Sprintf("scale-%dx%d", topics, o.partitions)
	fmt.Printf("   filling %d topics of %d partitions with %d MiB...\n", topics, o.partitions, o.size>>20)
	records, err := fillTopics(ctx, src, prefix, topics, o.partitions, o.size, recordSize, codecName, o.seed)
	if err != nil {
		return result{}, fmt.Errorf("fill the source: %w", err)
	}
	cmd := childCommand("scale", src.BootstrapServers(), dst.BootstrapServers(), prefix, int64(topics))
	res, rep, err := runScaleChild(cmd, fmt.Sprintf("clusterlink %d topics x %d partitions", topics, o.partitions), o.size, records)
	if err != nil {
		return res, err
	}
	fmt.Printf("   every mirror exists after %.1f s, copied after %.1f s; idle: %.1f%% CPU, %.0f MiB RSS, %.1f requests/s to the source (%s), %.1f to the destination\n",
		rep.MirrorsSeconds, rep.CopiedSeconds, rep.IdleCPUPercent, rep.IdleRSSMiB, rep.IdleSrcRequests, rep.IdleSrcByKey, rep.IdleDstRequests)
	for _, c := range []*kafkatest.Cluster{src, dst} {
		for i := range topics {
			_ = deleteTopicNoWait(ctx, c, fmt.Sprintf("%s-%d", prefix, i))
		}
	}
	return res, nil
}

// runScaleChild runs a scale child and reads its report.
func runScaleChild(cmd *exec.Cmd, name string, nbytes, records int64) (result, scaleReport, error) {
	var out bytes.Buffer
	cmd.Stdout = io.MultiWriter(&out, os.Stdout)
	res, err := runChildMeasured(cmd, name, nbytes, records)
	if err != nil {
		return res, scaleReport{}, err
	}
	var rep scaleReport
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		if line, ok := strings.CutPrefix(sc.Text(), scaleReportPrefix); ok {
			if err := json.Unmarshal([]byte(line), &rep); err != nil {
				return res, rep, err
			}
		}
	}
	// CPU per GiB and MB/s count the copy only, not the idle window the child spent after it.
	res.Seconds = rep.CopiedSeconds
	res.MBps, res.RecordsPerS = float64(nbytes)/1e6/rep.CopiedSeconds, float64(records)/rep.CopiedSeconds
	res.CPUSeconds -= rep.IdleCPUPercent / 100 * (idleWindow.Seconds() + 2)
	res.CPUPerGiB = perGiB(res.CPUSeconds, nbytes)
	res.MirrorsSeconds, res.IdleCPUPercent, res.IdleRSSMiB = rep.MirrorsSeconds, rep.IdleCPUPercent, rep.IdleRSSMiB
	res.IdleSrcRequests, res.IdleDstRequests = rep.IdleSrcRequests, rep.IdleDstRequests
	return res, rep, nil
}

func deleteTopicNoWait(ctx context.Context, c *kafkatest.Cluster, topic string) error {
	cl, err := c.Client()
	if err != nil {
		return err
	}
	defer cl.Close()
	_, err = kadm.NewClient(cl).DeleteTopics(ctx, topic)
	return err
}

// outageScenario: a mirror that caught up, clusterlink down while the source takes a backlog of backlog bytes, then
// clusterlink started again to catch it up. Its peak RSS is what the memory budget bounds.
func outageScenario(ctx context.Context, o options, src, dst *kafkatest.Cluster, backlog int64, recordSize int, codecName string) (result, error) {
	topic := fmt.Sprintf("outage-%d", backlog>>20)
	if err := createTopic(ctx, src, topic, o.partitions); err != nil {
		return result{}, err
	}
	if err := waitTopicVisible(ctx, src, topic); err != nil {
		return result{}, err
	}
	// The mirror exists and is caught up (empty) before the outage.
	if _, err := runCatchUp(ctx, src, dst, topic, 0, 0); err != nil {
		return result{}, fmt.Errorf("create the mirror: %w", err)
	}
	c, _ := codec(codecName)
	fill, err := produce(ctx, src, topic, o.partitions, backlog/int64(recordSize), recordSize, c, o.seed, 0)
	if err != nil {
		return result{}, fmt.Errorf("the backlog: %w", err)
	}
	res, err := runCatchUp(ctx, src, dst, topic, fill.Records, fill.Bytes)
	if err != nil {
		return res, err
	}
	res.Name = fmt.Sprintf("outage catch-up, %d MiB backlog", backlog>>20)
	for _, cl := range []*kafkatest.Cluster{src, dst} {
		_ = deleteTopic(ctx, cl, topic)
	}
	return res, nil
}

// rawIngest measures the physical bound of a copy: the destination taking the source's own batches, as stored
// (compressed by the source's producer), at full speed, with what clusterlink has at most in flight (four produce
// requests, one batch per partition each) and no producer ids (so nothing orders them). The batches are fetched
// from sourceTopic once (up to 64 MiB) and sent again and again until bytes of record values are written.
func rawIngest(ctx context.Context, src, dst *kafkatest.Cluster, sourceTopic string, partitions int32, bytes int64, recordSize int) (result, error) {
	scl, err := src.Client()
	if err != nil {
		return result{}, err
	}
	defer scl.Close()
	stopics, err := kadm.NewClient(scl).ListTopics(ctx, sourceTopic)
	if err != nil {
		return result{}, err
	}
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID, req.MaxBytes, req.MaxWaitMillis, req.SessionEpoch = -1, 64<<20, 100, -1
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic, rt.TopicID = sourceTopic, stopics[sourceTopic].ID
	for p := range partitions {
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition, rp.PartitionMaxBytes, rp.CurrentLeaderEpoch, rp.LastFetchedEpoch, rp.LogStartOffset = p, 64<<20/partitions, -1, -1, -1
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	kresp, err := req.RequestWith(ctx, scl)
	if err != nil {
		return result{}, fmt.Errorf("fetch the source's batches: %w", err)
	}
	type batch struct {
		raw     []byte
		records int64
	}
	var batches []batch
	for _, t := range kresp.Topics {
		for _, p := range t.Partitions {
			for b := p.RecordBatches; len(b) >= 61; {
				size := 12 + int(int32(uint32(b[8])<<24|uint32(b[9])<<16|uint32(b[10])<<8|uint32(b[11])))
				if size > len(b) {
					break
				}
				n := int64(uint32(b[57])<<24 | uint32(b[58])<<16 | uint32(b[59])<<8 | uint32(b[60]))
				raw := append([]byte(nil), b[:size]...)
				clear(raw[:8]) // the base offset is the broker's to assign: a client sends 0
				// No producer: the batches may go in any order, as often as wanted (CRC covers the producer fields).
				for i := 43; i < 53; i++ {
					raw[i] = 0xff
				}
				raw[53], raw[54], raw[55], raw[56] = 0xff, 0xff, 0xff, 0xff
				putCRC(raw)
				batches = append(batches, batch{raw, n})
				b = b[size:]
			}
		}
	}
	if len(batches) == 0 {
		return result{}, fmt.Errorf("no batches in %s", sourceTopic)
	}
	topic := "ingest-" + sourceTopic
	if err := createTopic(ctx, dst, topic, partitions); err != nil {
		return result{}, err
	}
	defer deleteTopic(ctx, dst, topic)
	if err := waitTopicVisible(ctx, dst, topic); err != nil {
		return result{}, err
	}
	var clients []*kgo.Client
	for range 2 { // two connections, as clusterlink produces on
		cl, err := dst.Client()
		if err != nil {
			return result{}, err
		}
		defer cl.Close()
		clients = append(clients, cl)
	}
	dtopics, err := kadm.NewClient(clients[0]).ListTopics(ctx, topic)
	if err != nil {
		return result{}, err
	}
	broker := dst.Nodes[0].ID
	records := bytes / int64(recordSize)
	var sent, next atomic.Int64
	var wg sync.WaitGroup
	var firstErr atomic.Value
	start := time.Now()
	for w := range 4 {
		wg.Go(func() {
			cl := clients[w%2]
			for sent.Load() < records && firstErr.Load() == nil {
				preq := kmsg.NewPtrProduceRequest()
				preq.Acks, preq.TimeoutMillis = -1, 30000
				prt := kmsg.NewProduceRequestTopic()
				prt.Topic, prt.TopicID = topic, dtopics[topic].ID
				var n int64
				for p := range partitions {
					b := batches[int(next.Add(1))%len(batches)]
					rp := kmsg.NewProduceRequestTopicPartition()
					rp.Partition, rp.Records = p, b.raw
					prt.Partitions = append(prt.Partitions, rp)
					n += b.records
				}
				preq.Topics = append(preq.Topics, prt)
				kr, err := cl.Broker(int(broker)).Request(ctx, preq)
				if err == nil {
					for _, t := range kr.(*kmsg.ProduceResponse).Topics {
						for _, p := range t.Partitions {
							if e := kerr.ErrorForCode(p.ErrorCode); e != nil && err == nil {
								err = e
							}
						}
					}
				}
				if errors.Is(err, kerr.NotLeaderForPartition) || errors.Is(err, kerr.LeaderNotAvailable) {
					time.Sleep(100 * time.Millisecond) // the new topic's leader is not ready yet
					continue
				}
				if err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				sent.Add(n)
			}
		})
	}
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		return result{}, fmt.Errorf("raw produce: %w", err)
	}
	secs := time.Since(start).Seconds()
	got := sent.Load()
	return result{Name: "destination ingest of the source's batches (raw, full speed)", Bytes: got * int64(recordSize), Records: got,
		Seconds: secs, MBps: float64(got*int64(recordSize)) / 1e6 / secs, RecordsPerS: float64(got) / secs}, nil
}

func putCRC(b []byte) {
	crc := crc32.Checksum(b[rawOffAttributes:], castagnoli)
	b[rawOffCRC], b[rawOffCRC+1], b[rawOffCRC+2], b[rawOffCRC+3] = byte(crc>>24), byte(crc>>16), byte(crc>>8), byte(crc)
}

// waitTopicVisible waits until a new client sees topic in the cluster's metadata (a child process looks it up at
// once).
func waitTopicVisible(ctx context.Context, c *kafkatest.Cluster, topic string) error {
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		cl, err := c.Client()
		if err != nil {
			return err
		}
		td, err := kadm.NewClient(cl).ListTopics(ctx, topic)
		cl.Close()
		if err == nil && td.Has(topic) && td[topic].Err == nil {
			return nil
		}
	}
	return fmt.Errorf("topic %s not visible a minute after its creation", topic)
}
