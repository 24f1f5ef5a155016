package daemon

import (
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// This file exports the daemon's state as Prometheus metrics. The values are read from the links when Prometheus
// scrapes (a collector, not counters updated on the hot path), so copying pays nothing for them.

var (
	descLinkState = prometheus.NewDesc("clusterlink_link_state",
		"1 for the link's current state (ACTIVE, PAUSED, SOURCE_UNAVAILABLE).", []string{"link", "state"}, nil)
	descTaskState = prometheus.NewDesc("clusterlink_link_task_state",
		"1 for each link task's current state (ACTIVE, IN_ERROR, NOT_CONFIGURED, LINK_PAUSED), with its error code.",
		[]string{"link", "task", "state", "error_code"}, nil)
	descMirrorStatus = prometheus.NewDesc("clusterlink_mirror_status",
		"1 for the mirror topic's current status (PENDING_MIRROR, ACTIVE, PAUSED, PENDING_STOPPED, STOPPED, FAILED, ...).",
		[]string{"link", "mirror_topic", "status", "error_code"}, nil)
	partitionLabels = []string{"link", "mirror_topic", "partition"}
	descLag         = prometheus.NewDesc("clusterlink_mirror_partition_lag_records",
		"Source high watermark minus the mirror's log end offset.", partitionLabels, nil)
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
	descPartitionError = prometheus.NewDesc("clusterlink_mirror_partition_failed",
		"1 when the mirror partition stopped with an error, labelled with its code.", []string{"link", "mirror_topic", "partition", "error_code"}, nil)
)

type collector struct{ d *Daemon }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descLinkState, descTaskState, descMirrorStatus, descLag, descCatchUp, descCopyRate,
		descMirrorLEO, descSourceHWM, descBytes, descRecords, descBatchesRaw, descFillerOffsets, descPartitionError} {
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
	for _, r := range c.d.sortedLinks() {
		name := r.l.Name()
		st, _, _ := r.l.State()
		gauge(descLinkState, 1, name, st)
		for _, t := range r.l.Tasks() {
			gauge(descTaskState, 1, name, t.Name, t.State, t.ErrorCode)
		}
		for _, m := range r.l.Mirrors() {
			gauge(descMirrorStatus, 1, name, m.Topic, m.Status, m.ErrorCode)
			for _, lag := range mirrorLags(m) {
				p := strconv.Itoa(int(lag.Partition))
				gauge(descLag, float64(lag.Lag), name, m.Topic, p)
				gauge(descCatchUp, lag.CatchUpSeconds, name, m.Topic, p)
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
			}
		}
	}
}

// metricsHandler serves /metrics: the links' state plus the Go runtime and process metrics, on a registry of its
// own (no global state).
func (d *Daemon) metricsHandler() http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collector{d}, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}
