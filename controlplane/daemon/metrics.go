package daemon

import (
	"math"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/clusterlink/clusterlink/replicator"
)

// This file exports the daemon's state as Prometheus metrics. The values are read from the links when Prometheus
// scrapes (a collector, not counters updated on the hot path), so copying pays nothing for them.
//
// Every series an alert may need exists from the start: a running link's request error counters are 0 before the
// first error, its mirrors' failed-partition counts 0 while none failed, the sync timestamps 0 before the first
// sync. Mirror (topic) and link aggregates are always exported; the per-partition series (about 15 per partition)
// only with metrics.partition.level (default true). A FAILED partition is exported by partition either way: there
// are few, and the operator needs their names.

// BuildInfo is what the binary knows of its own build, exported as clusterlink_build_info.
type BuildInfo struct {
	Version, Commit, Date, GoVersion string
}

var (
	descBuildInfo = prometheus.NewDesc("clusterlink_build_info",
		"1, labelled with the daemon's version, the commit it was built from and the Go version.",
		[]string{"version", "commit", "go_version"}, nil)
	descRequestErrors = prometheus.NewDesc("clusterlink_request_errors_total",
		"Fetch and produce requests that failed as a whole (not counting per-partition errors).", []string{"link", "request"}, nil)
	descLinkLag = prometheus.NewDesc("clusterlink_link_lag_records",
		"The sum of the link's mirror partitions' lag in records.", []string{"link"}, nil)
	descLinkFailed = prometheus.NewDesc("clusterlink_link_mirror_partitions_failed",
		"The link's mirror partitions stopped with an error.", []string{"link"}, nil)
	mirrorLabels  = []string{"link", "mirror_topic"}
	descMirrorLag = prometheus.NewDesc("clusterlink_mirror_lag_records",
		"The sum of the mirror's partitions' lag in records (source high watermark minus the mirror's log end offset).", mirrorLabels, nil)
	descMirrorMaxLag = prometheus.NewDesc("clusterlink_mirror_max_partition_lag_records",
		"The largest lag of one of the mirror's partitions, in records (Max Per Partition Mirror Lag).", mirrorLabels, nil)
	descMirrorTimeLag = prometheus.NewDesc("clusterlink_mirror_time_lag_seconds",
		"How old the oldest source record not yet on the mirror is, over its partitions (the recovery point of a failover now); 0 caught up, NaN unknown.", mirrorLabels, nil)
	descMirrorBatchesAppendTime = prometheus.NewDesc("clusterlink_mirror_batches_append_time_total",
		"LogAppendTime source batches rewritten so the mirror keeps the source's append time.", mirrorLabels, nil)
	descMirrorVerifiedOffsets = prometheus.NewDesc("clusterlink_mirror_verified_offsets_total",
		"Offsets of the mirror the background verifier compared with the source.", mirrorLabels, nil)
	descMirrorDivergences = prometheus.NewDesc("clusterlink_mirror_divergences_total",
		"Differences from the source the background verifier found in the mirror.", mirrorLabels, nil)
	descMirrorCatchUp = prometheus.NewDesc("clusterlink_mirror_catch_up_seconds",
		"The longest estimated catch-up time of the mirror's partitions at their recent copy rate (lag in seconds); -1 when a lagging partition's rate is unknown.", mirrorLabels, nil)
	descMirrorCopyRate = prometheus.NewDesc("clusterlink_mirror_copy_rate_offsets_per_second",
		"Offsets per second the mirror's partitions advanced lately, together.", mirrorLabels, nil)
	descMirrorFailed = prometheus.NewDesc("clusterlink_mirror_partitions_failed",
		"The mirror's partitions stopped with an error.", mirrorLabels, nil)
	descMirrorPartitions = prometheus.NewDesc("clusterlink_mirror_partitions",
		"The mirror's partitions being mirrored.", mirrorLabels, nil)
	descMirrorBytes = prometheus.NewDesc("clusterlink_mirror_bytes_total",
		"Bytes of record batches copied into the mirror.", mirrorLabels, nil)
	descMirrorRecords = prometheus.NewDesc("clusterlink_mirror_records_total",
		"Records copied into the mirror.", mirrorLabels, nil)
	descMirrorBatchesRaw = prometheus.NewDesc("clusterlink_mirror_batches_raw_total",
		"Record batches produced byte-for-byte into the mirror.", mirrorLabels, nil)
	descMirrorBatchesPipelined = prometheus.NewDesc("clusterlink_mirror_batches_pipelined_total",
		"Raw batches sent while earlier batches of their partition were still in flight.", mirrorLabels, nil)
	descMirrorBatchesRewritten = prometheus.NewDesc("clusterlink_mirror_batches_rewritten_total",
		"Source batches written with their producer fields cleared (records untouched).", mirrorLabels, nil)
	descMirrorBatchesReencoded = prometheus.NewDesc("clusterlink_mirror_batches_reencoded_total",
		"Contiguous runs of compacted source batches re-encoded (same records, same codec).", mirrorLabels, nil)
	descMirrorFillerOffsets = prometheus.NewDesc("clusterlink_mirror_filler_offsets_total",
		"Offsets filled because the source has nothing to copy there.", mirrorLabels, nil)
	descMirrorMarkerOffsets = prometheus.NewDesc("clusterlink_mirror_marker_offsets_total",
		"Offsets filled with transaction markers.", mirrorLabels, nil)
	descMirrorTransactions = prometheus.NewDesc("clusterlink_mirror_transactions_total",
		"Source transactions replayed on the destination, by result (committed, aborted).", []string{"link", "mirror_topic", "result"}, nil)
	descLinkState = prometheus.NewDesc("clusterlink_link_state",
		"1 for the link's current state (ACTIVE, PAUSED, SOURCE_UNAVAILABLE, FAILED).", []string{"link", "state"}, nil)
	descStateRejected = prometheus.NewDesc("clusterlink_state_records_rejected",
		"State records the daemon rejected when it read the state topic (forged, altered, or not written by it).", nil, nil)
	descGuardsRestored = prometheus.NewDesc("clusterlink_mirror_guards_restored_total",
		"Read-only guard ACLs of mirror topics that someone removed and the link put back.", []string{"link"}, nil)
	descMemoryBudget = prometheus.NewDesc("clusterlink_memory_budget_bytes",
		"memory.budget.bytes: the most bytes of fetched record batches the daemon holds at once, across every link.", nil, nil)
	descMemoryHeld = prometheus.NewDesc("clusterlink_memory_held_bytes",
		"Bytes of the memory budget held now by fetches in flight and batches not yet written.", nil, nil)
	descRuntimes = prometheus.NewDesc("clusterlink_link_runtimes",
		"Link runtimes running in this daemon: one per link, whatever the API is asked at once.", nil, nil)
	descTaskState = prometheus.NewDesc("clusterlink_link_task_state",
		"1 for each link task's current state (ACTIVE, IN_ERROR, NOT_CONFIGURED, LINK_PAUSED), with its error code.",
		[]string{"link", "task", "state", "error_code"}, nil)
	descMirrorStatus = prometheus.NewDesc("clusterlink_mirror_status",
		"1 for the mirror topic's current status (PENDING_MIRROR, ACTIVE, PAUSED, PENDING_STOPPED, STOPPED, FAILED, ...).",
		[]string{"link", "mirror_topic", "status", "error_code"}, nil)
	partitionLabels = []string{"link", "mirror_topic", "partition"}
	descLag         = prometheus.NewDesc("clusterlink_mirror_partition_lag_records",
		"Source high watermark minus the mirror's log end offset.", partitionLabels, nil)
	descTimeLag = prometheus.NewDesc("clusterlink_mirror_partition_time_lag_seconds",
		"How old the oldest source record not yet on the mirror partition is (the recovery point of a failover now); 0 caught up, NaN unknown.", partitionLabels, nil)
	descCatchUp = prometheus.NewDesc("clusterlink_mirror_partition_catch_up_seconds",
		"Estimated seconds until the partition reaches lag 0 at its recent copy rate (lag in seconds); -1 unknown.", partitionLabels, nil)
	descCopyRate = prometheus.NewDesc("clusterlink_mirror_partition_copy_rate_offsets_per_second",
		"Offsets per second the mirror partition advanced lately.", partitionLabels, nil)
	descMirrorLEO = prometheus.NewDesc("clusterlink_mirror_partition_log_end_offset",
		"The mirror partition's log end offset.", partitionLabels, nil)
	descSourceHWM = prometheus.NewDesc("clusterlink_mirror_partition_source_high_watermark",
		"The source partition's high watermark as of the last fetch.", partitionLabels, nil)
	descBytes = prometheus.NewDesc("clusterlink_mirror_partition_bytes_total",
		"Bytes of record batches copied.", partitionLabels, nil)
	descRecords = prometheus.NewDesc("clusterlink_mirror_partition_records_total",
		"Records copied.", partitionLabels, nil)
	descBatchesRaw = prometheus.NewDesc("clusterlink_mirror_partition_batches_raw_total",
		"Record batches produced byte-for-byte.", partitionLabels, nil)
	descFillerOffsets = prometheus.NewDesc("clusterlink_mirror_partition_filler_offsets_total",
		"Offsets filled because the source has nothing to copy there (retention, DeleteRecords, a later start).", partitionLabels, nil)
	descOffsetSyncCommitted = prometheus.NewDesc("clusterlink_offset_sync_offsets_committed_total",
		"Consumer group offsets committed on the destination by the link's offset sync.", []string{"link"}, nil)
	descOffsetSyncClamps = prometheus.NewDesc("clusterlink_offset_sync_clamps_total",
		"Source offsets beyond the mirror's high watermark, committed as the high watermark.", []string{"link"}, nil)
	descOffsetSyncGroups = prometheus.NewDesc("clusterlink_offset_sync_groups_synced",
		"Groups whose offsets the last sync committed.", []string{"link"}, nil)
	descOffsetSyncSkipped = prometheus.NewDesc("clusterlink_offset_sync_skipped_groups",
		"Destination groups left alone in the last sync because they have active members.", []string{"link"}, nil)
	descOffsetSyncLast = prometheus.NewDesc("clusterlink_offset_sync_last_sync_timestamp_seconds",
		"When the last offset sync ran (Unix seconds).", []string{"link"}, nil)
	descOffsetSyncDuration = prometheus.NewDesc("clusterlink_offset_sync_last_duration_seconds",
		"How long the last offset sync took.", []string{"link"}, nil)
	descACLSyncCreated = prometheus.NewDesc("clusterlink_acl_sync_created_total",
		"ACLs the link's ACL sync created on the destination.", []string{"link"}, nil)
	descACLSyncDeleted = prometheus.NewDesc("clusterlink_acl_sync_deleted_total",
		"ACLs the link's ACL sync deleted from the destination (gone from the source).", []string{"link"}, nil)
	descACLSyncLast = prometheus.NewDesc("clusterlink_acl_sync_last_sync_timestamp_seconds",
		"When the last ACL sync ran (Unix seconds).", []string{"link"}, nil)
	descMarkerOffsets = prometheus.NewDesc("clusterlink_mirror_partition_marker_offsets_total",
		"Offsets filled with transaction markers (holes compaction left, source transaction markers).", partitionLabels, nil)
	descBatchesAppendTime = prometheus.NewDesc("clusterlink_mirror_partition_batches_append_time_total",
		"LogAppendTime source batches rewritten so the mirror keeps the source's append time as each record's timestamp.", partitionLabels, nil)
	descBatchesReencoded = prometheus.NewDesc("clusterlink_mirror_partition_batches_reencoded_total",
		"Contiguous runs of compacted source batches re-encoded (same records, same codec).", partitionLabels, nil)
	descBatchesRewritten = prometheus.NewDesc("clusterlink_mirror_partition_batches_rewritten_total",
		"Source batches written with their producer fields cleared (records untouched).", partitionLabels, nil)
	descBatchesPipelined = prometheus.NewDesc("clusterlink_mirror_partition_batches_pipelined_total",
		"Raw batches sent while earlier batches of the partition were still in flight (safe pipelining).", partitionLabels, nil)
	descVerifiedOffsets = prometheus.NewDesc("clusterlink_mirror_partition_verified_offsets_total",
		"Offsets the background verifier compared with the source (mirror.verify.ms, mirror.verify.sample.offsets).", partitionLabels, nil)
	descDivergences = prometheus.NewDesc("clusterlink_mirror_partition_divergences_total",
		"Differences from the source the background verifier found (each fails the partition with ILLEGAL_STATE).", partitionLabels, nil)
	descTransactions = prometheus.NewDesc("clusterlink_mirror_partition_transactions_total",
		"Source transactions replayed on the destination, by result (committed, aborted).",
		[]string{"link", "mirror_topic", "partition", "result"}, nil)
	descPartitionError = prometheus.NewDesc("clusterlink_mirror_partition_failed",
		"1 when the mirror partition stopped with an error, labelled with its code; 0 (error_code \"\") for a healthy partition with metrics.partition.level. A failed partition is exported whatever metrics.partition.level says.",
		[]string{"link", "mirror_topic", "partition", "error_code"}, nil)
)

// allDescs are every metric the collector may export.
var allDescs = []*prometheus.Desc{descBuildInfo, descRequestErrors, descLinkLag, descLinkFailed,
	descMirrorLag, descMirrorMaxLag, descMirrorTimeLag, descMirrorBatchesAppendTime, descMirrorVerifiedOffsets, descMirrorDivergences, descMirrorCatchUp, descMirrorCopyRate, descMirrorFailed, descMirrorPartitions,
	descMirrorBytes, descMirrorRecords, descMirrorBatchesRaw, descMirrorBatchesPipelined, descMirrorBatchesRewritten,
	descMirrorBatchesReencoded, descMirrorFillerOffsets, descMirrorMarkerOffsets, descMirrorTransactions,
	descStateRejected, descGuardsRestored, descMemoryBudget, descMemoryHeld, descRuntimes, descLinkState, descTaskState, descMirrorStatus, descLag, descTimeLag, descCatchUp, descCopyRate,
	descMirrorLEO, descSourceHWM, descBytes, descRecords, descBatchesRaw, descFillerOffsets, descPartitionError,
	descMarkerOffsets, descBatchesReencoded, descBatchesRewritten, descTransactions, descBatchesPipelined, descBatchesAppendTime, descVerifiedOffsets, descDivergences,
	descOffsetSyncCommitted, descOffsetSyncClamps, descOffsetSyncGroups, descOffsetSyncSkipped, descOffsetSyncLast,
	descOffsetSyncDuration, descACLSyncCreated, descACLSyncDeleted, descACLSyncLast}

type collector struct{ d *Daemon }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range append(allDescs, append(groupDescs, descMirrorBatchesLinkProducer)...) {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	perPartition := !c.d.cfg.Metrics.PartitionLevelOff
	b := c.d.opts.Build
	gauge(descBuildInfo, 1, b.Version, b.Commit, b.GoVersion)
	gauge(descRuntimes, float64(c.d.RuntimeCount()))
	gauge(descMemoryBudget, float64(c.d.budget.Limit()))
	gauge(descMemoryHeld, float64(c.d.budget.Held()))
	gauge(descStateRejected, float64(len(c.d.store.Rejected())))
	for _, l := range c.d.runningLinks() {
		name := l.Name()
		st, _, _ := l.State()
		gauge(descLinkState, 1, name, st)
		for _, req := range []string{"fetch", "produce"} {
			counter(descRequestErrors, c.d.metrics.requestErrorCount(name, req), name, req)
		}
		for _, t := range l.Tasks() {
			gauge(descTaskState, 1, name, t.Name, t.State, t.ErrorCode)
		}
		collectGroup(ch, l)
		var linkLag, linkFailed int64
		for _, m := range l.Mirrors() {
			gauge(descMirrorStatus, 1, name, m.Topic, string(m.Status), m.ErrorCode)
			// A partition whose lag or time lag is unknown (-1) makes the mirror's unknown too (NaN): a mirror that is
			// not copying must never look caught up.
			var lagSum, lagMax, timeLagMax, failed int64
			var catchUp float64
			for _, lag := range mirrorLags(m) {
				if lagSum >= 0 {
					if lag.Lag < 0 {
						lagSum, lagMax = -1, -1
					} else {
						lagSum += lag.Lag
						lagMax = max(lagMax, lag.Lag)
					}
				}
				if timeLagMax >= 0 {
					timeLagMax = max(timeLagMax, lag.TimeLagMs)
					if lag.TimeLagMs < 0 {
						timeLagMax = -1
					}
				}
				if catchUp >= 0 && (lag.CatchUpSeconds < 0 || lag.CatchUpSeconds > catchUp) {
					catchUp = lag.CatchUpSeconds
				}
				p := strconv.Itoa(int(lag.Partition))
				if lag.ErrorCode != "" {
					failed++
					gauge(descPartitionError, 1, name, m.Topic, p, lag.ErrorCode)
				} else if perPartition {
					gauge(descPartitionError, 0, name, m.Topic, p, "")
				}
				if !perPartition {
					continue
				}
				gauge(descLag, lagValue(lag.Lag), name, m.Topic, p)
				gauge(descCatchUp, lag.CatchUpSeconds, name, m.Topic, p)
				gauge(descTimeLag, timeLagSeconds(lag.TimeLagMs), name, m.Topic, p)
				gauge(descMirrorLEO, float64(lag.MirrorLogEndOffset), name, m.Topic, p)
				gauge(descSourceHWM, float64(lag.SourceHighWatermark), name, m.Topic, p)
			}
			if linkLag >= 0 {
				linkLag += lagSum
				if lagSum < 0 {
					linkLag = -1
				}
			}
			linkFailed += failed
			gauge(descMirrorLag, lagValue(lagSum), name, m.Topic)
			gauge(descMirrorMaxLag, lagValue(lagMax), name, m.Topic)
			gauge(descMirrorTimeLag, timeLagSeconds(timeLagMax), name, m.Topic)
			gauge(descMirrorCatchUp, catchUp, name, m.Topic)
			gauge(descMirrorFailed, float64(failed), name, m.Topic)
			gauge(descMirrorPartitions, float64(len(m.Partitions)), name, m.Topic)

			var sum replicator.Counters
			var rate float64
			for _, ps := range m.Partitions {
				rate += ps.CopyRate
				addCounters(&sum, ps.Counters)
				if !perPartition {
					continue
				}
				p := strconv.Itoa(int(ps.Partition))
				gauge(descCopyRate, ps.CopyRate, name, m.Topic, p)
				counter(descBytes, ps.Counters.Bytes, name, m.Topic, p)
				counter(descRecords, ps.Counters.Records, name, m.Topic, p)
				counter(descBatchesRaw, ps.Counters.BatchesRaw, name, m.Topic, p)
				counter(descFillerOffsets, ps.Counters.FillerOffsets, name, m.Topic, p)
				counter(descMarkerOffsets, ps.Counters.MarkerOffsets, name, m.Topic, p)
				counter(descBatchesReencoded, ps.Counters.BatchesReencoded, name, m.Topic, p)
				counter(descBatchesRewritten, ps.Counters.BatchesRewritten, name, m.Topic, p)
				counter(descBatchesPipelined, ps.Counters.BatchesPipelined, name, m.Topic, p)
				counter(descBatchesAppendTime, ps.Counters.BatchesAppendTime, name, m.Topic, p)
				counter(descVerifiedOffsets, ps.Counters.VerifiedOffsets, name, m.Topic, p)
				counter(descDivergences, ps.Counters.Divergences, name, m.Topic, p)
				counter(descTransactions, ps.Counters.TransactionsCommitted, name, m.Topic, p, "committed")
				counter(descTransactions, ps.Counters.TransactionsAborted, name, m.Topic, p, "aborted")
			}
			gauge(descMirrorCopyRate, rate, name, m.Topic)
			counter(descMirrorBytes, sum.Bytes, name, m.Topic)
			counter(descMirrorRecords, sum.Records, name, m.Topic)
			counter(descMirrorBatchesRaw, sum.BatchesRaw, name, m.Topic)
			counter(descMirrorBatchesPipelined, sum.BatchesPipelined, name, m.Topic)
			counter(descMirrorBatchesRewritten, sum.BatchesRewritten, name, m.Topic)
			counter(descMirrorBatchesLinkProducer, sum.BatchesLinkProducer, name, m.Topic)
			counter(descMirrorBatchesReencoded, sum.BatchesReencoded, name, m.Topic)
			counter(descMirrorFillerOffsets, sum.FillerOffsets, name, m.Topic)
			counter(descMirrorMarkerOffsets, sum.MarkerOffsets, name, m.Topic)
			counter(descMirrorBatchesAppendTime, sum.BatchesAppendTime, name, m.Topic)
			counter(descMirrorVerifiedOffsets, sum.VerifiedOffsets, name, m.Topic)
			counter(descMirrorDivergences, sum.Divergences, name, m.Topic)
			counter(descMirrorTransactions, sum.TransactionsCommitted, name, m.Topic, "committed")
			counter(descMirrorTransactions, sum.TransactionsAborted, name, m.Topic, "aborted")
		}
		gauge(descLinkLag, lagValue(linkLag), name)
		gauge(descLinkFailed, float64(linkFailed), name)
		counter(descGuardsRestored, l.GuardsRestored(), name)
		if st, ok := l.OffsetSyncStatus(); ok {
			counter(descOffsetSyncCommitted, st.OffsetsCommitted, name)
			counter(descOffsetSyncClamps, st.Clamps, name)
			gauge(descOffsetSyncGroups, float64(st.GroupsSynced), name)
			gauge(descOffsetSyncSkipped, float64(len(st.SkippedGroups)), name)
			gauge(descOffsetSyncLast, unixSeconds(st.LastSync), name)
			gauge(descOffsetSyncDuration, st.LastDuration.Seconds(), name)
		}
		if st, ok := l.ACLSyncStatus(); ok {
			counter(descACLSyncCreated, st.Created, name)
			counter(descACLSyncDeleted, st.Deleted, name)
			gauge(descACLSyncLast, unixSeconds(st.LastSync), name)
		}
	}
}

// unixSeconds is t in Unix seconds, 0 for the zero time (a sync that has not run yet).
func unixSeconds(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixMilli()) / 1000
}

// addCounters adds a partition's counters to a mirror's sum.
func addCounters(sum *replicator.Counters, c replicator.Counters) {
	sum.BatchesRaw += c.BatchesRaw
	sum.Records += c.Records
	sum.Bytes += c.Bytes
	sum.FillerOffsets += c.FillerOffsets
	sum.FillerBatches += c.FillerBatches
	sum.MarkerOffsets += c.MarkerOffsets
	sum.BatchesRewritten += c.BatchesRewritten
	sum.BatchesLinkProducer += c.BatchesLinkProducer
	sum.TransactionsCommitted += c.TransactionsCommitted
	sum.TransactionsAborted += c.TransactionsAborted
	sum.BatchesReencoded += c.BatchesReencoded
	sum.BatchesPipelined += c.BatchesPipelined
	sum.BatchesAppendTime += c.BatchesAppendTime
	sum.VerifiedOffsets += c.VerifiedOffsets
	sum.Divergences += c.Divergences
}

// metrics are the daemon's Prometheus registry (its own: no global state) and the request latency histograms the
// replicators feed.
type metrics struct {
	reg            *prometheus.Registry
	collectors     []prometheus.Collector // what reg holds
	fetchLatency   *prometheus.HistogramVec
	produceLatency *prometheus.HistogramVec
	// requestErrors counts failed requests by link and request kind (*atomic.Int64 under a requestKey); the
	// collector exports them, 0 for a running link that has had none.
	requestErrors sync.Map
}

type requestKey struct{ link, request string }

func (m *metrics) countRequestError(link, request string) {
	v, _ := m.requestErrors.LoadOrStore(requestKey{link, request}, new(atomic.Int64))
	v.(*atomic.Int64).Add(1)
}

func (m *metrics) requestErrorCount(link, request string) int64 {
	if v, ok := m.requestErrors.Load(requestKey{link, request}); ok {
		return v.(*atomic.Int64).Load()
	}
	return 0
}

func newMetrics(d *Daemon) *metrics {
	buckets := []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}
	m := &metrics{
		reg: prometheus.NewRegistry(),
		fetchLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "clusterlink_fetch_latency_seconds",
			Help:    "Fetch request latency to a source broker (includes the broker's wait of up to replica.fetch.wait.max.ms when caught up).",
			Buckets: buckets,
		}, []string{"link", "broker"}),
		produceLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "clusterlink_produce_latency_seconds",
			Help:    "Produce request latency (acks=all) to a destination broker.",
			Buckets: buckets,
		}, []string{"link", "broker"}),
	}
	m.collectors = []prometheus.Collector{collector{d}, m.fetchLatency, m.produceLatency,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})}
	m.reg.MustRegister(m.collectors...)
	return m
}

// observer feeds one link's request latencies into the histograms.
type observer struct {
	m    *metrics
	link string
}

func (o observer) FetchDone(broker int32, took time.Duration, err error) {
	o.m.fetchLatency.WithLabelValues(o.link, strconv.Itoa(int(broker))).Observe(took.Seconds())
	if err != nil {
		o.m.countRequestError(o.link, "fetch")
	}
}

func (o observer) ProduceDone(broker int32, took time.Duration, err error) {
	o.m.produceLatency.WithLabelValues(o.link, strconv.Itoa(int(broker))).Observe(took.Seconds())
	if err != nil {
		o.m.countRequestError(o.link, "produce")
	}
}

// metricsHandler serves /metrics: the links' state, request latencies, and the Go runtime and process metrics.
func (d *Daemon) metricsHandler() http.Handler {
	return promhttp.HandlerFor(d.metrics.reg, promhttp.HandlerOpts{})
}

// lagValue is a lag as a gauge: NaN while unknown (-1), so that a mirror that is not copying never looks caught up.
func lagValue(lag int64) float64 {
	if lag < 0 {
		return math.NaN()
	}
	return float64(lag)
}

// timeLagSeconds is a time lag gauge: NaN while unknown (-1).
func timeLagSeconds(ms int64) float64 {
	if ms < 0 {
		return math.NaN()
	}
	return float64(ms) / 1000
}
