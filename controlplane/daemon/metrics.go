package daemon

import (
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// This file exports the daemon's state as Prometheus metrics. The values are read from the links when Prometheus
// scrapes (a collector, not counters updated on the hot path), so copying pays nothing for them.

var (
	descLinkState = prometheus.NewDesc("clusterlink_link_state",
		"1 for the link's current state (ACTIVE, PAUSED, SOURCE_UNAVAILABLE, FAILED).", []string{"link", "state"}, nil)
	descStateRejected = prometheus.NewDesc("clusterlink_state_records_rejected",
		"State records the daemon rejected when it read the state topic (forged, altered, or not written by it).", nil, nil)
	descGuardsRestored = prometheus.NewDesc("clusterlink_mirror_guards_restored_total",
		"Read-only guard ACLs of mirror topics that someone removed and the link put back.", []string{"link"}, nil)
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
	descBatchesReencoded = prometheus.NewDesc("clusterlink_mirror_partition_batches_reencoded_total",
		"Contiguous runs of compacted source batches re-encoded (same records, same codec).", partitionLabels, nil)
	descBatchesRewritten = prometheus.NewDesc("clusterlink_mirror_partition_batches_rewritten_total",
		"Source batches written with their producer fields cleared (records untouched).", partitionLabels, nil)
	descBatchesPipelined = prometheus.NewDesc("clusterlink_mirror_partition_batches_pipelined_total",
		"Raw batches sent while earlier batches of the partition were still in flight (safe pipelining).", partitionLabels, nil)
	descTransactions = prometheus.NewDesc("clusterlink_mirror_partition_transactions_total",
		"Source transactions replayed on the destination, by result (committed, aborted).",
		[]string{"link", "mirror_topic", "partition", "result"}, nil)
	descPartitionError = prometheus.NewDesc("clusterlink_mirror_partition_failed",
		"1 when the mirror partition stopped with an error, labelled with its code.", []string{"link", "mirror_topic", "partition", "error_code"}, nil)
)

type collector struct{ d *Daemon }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descStateRejected, descGuardsRestored, descRuntimes, descLinkState, descTaskState, descMirrorStatus, descLag, descTimeLag, descCatchUp, descCopyRate,
		descMirrorLEO, descSourceHWM, descBytes, descRecords, descBatchesRaw, descFillerOffsets, descPartitionError,
		descMarkerOffsets, descBatchesReencoded, descBatchesRewritten, descTransactions, descBatchesPipelined,
		descOffsetSyncCommitted, descOffsetSyncClamps, descOffsetSyncGroups, descOffsetSyncSkipped, descOffsetSyncLast,
		descOffsetSyncDuration, descACLSyncCreated, descACLSyncDeleted, descACLSyncLast} {
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
	gauge(descRuntimes, float64(c.d.RuntimeCount()))
	gauge(descStateRejected, float64(len(c.d.store.Rejected())))
	for _, l := range c.d.runningLinks() {
		name := l.Name()
		st, _, _ := l.State()
		gauge(descLinkState, 1, name, st)
		for _, t := range l.Tasks() {
			gauge(descTaskState, 1, name, t.Name, t.State, t.ErrorCode)
		}
		for _, m := range l.Mirrors() {
			gauge(descMirrorStatus, 1, name, m.Topic, string(m.Status), m.ErrorCode)
			for _, lag := range mirrorLags(m) {
				p := strconv.Itoa(int(lag.Partition))
				gauge(descLag, lagValue(lag.Lag), name, m.Topic, p)
				gauge(descCatchUp, lag.CatchUpSeconds, name, m.Topic, p)
				gauge(descTimeLag, timeLagSeconds(lag.TimeLagMs), name, m.Topic, p)
				gauge(descMirrorLEO, float64(lag.MirrorLogEndOffset), name, m.Topic, p)
				gauge(descSourceHWM, float64(lag.SourceHighWatermark), name, m.Topic, p)
				if lag.ErrorCode != "" {
					gauge(descPartitionError, 1, name, m.Topic, p, lag.ErrorCode)
				}
			}
			for _, ps := range m.Partitions {
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
				counter(descTransactions, ps.Counters.TransactionsCommitted, name, m.Topic, p, "committed")
				counter(descTransactions, ps.Counters.TransactionsAborted, name, m.Topic, p, "aborted")
			}
		}
		counter(descGuardsRestored, l.GuardsRestored(), name)
		if st, ok := l.OffsetSyncStatus(); ok {
			counter(descOffsetSyncCommitted, st.OffsetsCommitted, name)
			counter(descOffsetSyncClamps, st.Clamps, name)
			gauge(descOffsetSyncGroups, float64(st.GroupsSynced), name)
			gauge(descOffsetSyncSkipped, float64(len(st.SkippedGroups)), name)
			if !st.LastSync.IsZero() {
				gauge(descOffsetSyncLast, float64(st.LastSync.UnixMilli())/1000, name)
				gauge(descOffsetSyncDuration, st.LastDuration.Seconds(), name)
			}
		}
		if st, ok := l.ACLSyncStatus(); ok {
			counter(descACLSyncCreated, st.Created, name)
			counter(descACLSyncDeleted, st.Deleted, name)
			if !st.LastSync.IsZero() {
				gauge(descACLSyncLast, float64(st.LastSync.UnixMilli())/1000, name)
			}
		}
	}
}

// metrics are the daemon's Prometheus registry (its own: no global state) and the request latency histograms the
// replicators feed.
type metrics struct {
	reg            *prometheus.Registry
	fetchLatency   *prometheus.HistogramVec
	produceLatency *prometheus.HistogramVec
	requestErrors  *prometheus.CounterVec
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
		requestErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "clusterlink_request_errors_total",
			Help: "Fetch and produce requests that failed as a whole (not counting per-partition errors).",
		}, []string{"link", "request"}),
	}
	m.reg.MustRegister(collector{d}, m.fetchLatency, m.produceLatency, m.requestErrors,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
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
		o.m.requestErrors.WithLabelValues(o.link, "fetch").Inc()
	}
}

func (o observer) ProduceDone(broker int32, took time.Duration, err error) {
	o.m.produceLatency.WithLabelValues(o.link, strconv.Itoa(int(broker))).Observe(took.Seconds())
	if err != nil {
		o.m.requestErrors.WithLabelValues(o.link, "produce").Inc()
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
