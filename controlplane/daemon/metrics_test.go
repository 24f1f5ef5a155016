package daemon

import (
	"encoding/json"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"go.yaml.in/yaml/v3"
)

// registryNames are the names of every metric the daemon's registry can export, read from its collectors'
// descriptions (a histogram adds _bucket, _count and _sum).
func registryNames(t *testing.T) map[string]bool {
	t.Helper()
	m := newMetrics(&Daemon{})
	ch := make(chan *prometheus.Desc, 1000)
	for _, c := range m.collectors {
		c.Describe(ch)
	}
	close(ch)
	fq := regexp.MustCompile(`fqName: "([^"]+)"`)
	names := map[string]bool{}
	for d := range ch {
		match := fq.FindStringSubmatch(d.String())
		if match == nil {
			t.Fatalf("no name in %s", d)
		}
		names[match[1]] = true
	}
	for _, h := range []string{"clusterlink_fetch_latency_seconds", "clusterlink_produce_latency_seconds"} {
		if !names[h] {
			t.Fatalf("the registry lacks the histogram %s", h)
		}
		for _, suffix := range []string{"_bucket", "_count", "_sum"} {
			names[h+suffix] = true
		}
	}
	return names
}

// metricNames are the metric names in PromQL expressions: identifiers of the daemon's prefixes (clusterlink_,
// process_, go_) that are not label names or functions.
func metricNames(exprs []string) []string {
	re := regexp.MustCompile(`\b(clusterlink|process|go)_[a-zA-Z0-9_]+`)
	seen := map[string]bool{}
	for _, e := range exprs {
		for _, loc := range re.FindAllStringIndex(e, -1) {
			if rest := strings.TrimLeft(e[loc[1]:], " "); rest != "" && strings.ContainsRune("=!~", rune(rest[0])) {
				continue // a label name (go_version="..."), not a metric
			}
			seen[e[loc[0]:loc[1]]] = true
		}
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// TestGrafanaDashboardQueriesExportedMetrics keeps docs/grafana-dashboard.json in step with the daemon: every metric
// name its queries use is one the registry exports.
func TestGrafanaDashboardQueriesExportedMetrics(t *testing.T) {
	data, err := os.ReadFile("../../docs/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dashboard struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(data, &dashboard); err != nil {
		t.Fatalf("docs/grafana-dashboard.json: %v", err)
	}
	var exprs []string
	for _, p := range dashboard.Panels {
		for _, tg := range p.Targets {
			exprs = append(exprs, tg.Expr)
		}
	}
	checkNames(t, "the dashboard", exprs)
}

// TestAlertRulesUseExportedMetrics: every metric name of docs/alerts.yaml is one the registry exports. (The rules'
// syntax is checked by Prometheus's own parser in docs/rulecheck, a module of its own.)
func TestAlertRulesUseExportedMetrics(t *testing.T) {
	data, err := os.ReadFile("../../docs/alerts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(data, &rules); err != nil {
		t.Fatalf("docs/alerts.yaml: %v", err)
	}
	var exprs []string
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			exprs = append(exprs, r.Expr)
		}
	}
	checkNames(t, "docs/alerts.yaml", exprs)

	// The rules' unit tests (promtool test rules, run by deploy/check) feed series by name: those must be real too.
	data, err = os.ReadFile("../../docs/alerts_test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var tests struct {
		Tests []struct {
			InputSeries []struct {
				Series string `yaml:"series"`
			} `yaml:"input_series"`
		} `yaml:"tests"`
	}
	if err := yaml.Unmarshal(data, &tests); err != nil {
		t.Fatalf("docs/alerts_test.yaml: %v", err)
	}
	var series []string
	for _, tc := range tests.Tests {
		for _, in := range tc.InputSeries {
			series = append(series, in.Series)
		}
	}
	checkNames(t, "docs/alerts_test.yaml", series)
}

func checkNames(t *testing.T, what string, exprs []string) {
	t.Helper()
	known := registryNames(t)
	names := metricNames(exprs)
	if len(names) == 0 {
		t.Fatalf("%s queries no metric (%d expressions)", what, len(exprs))
	}
	for _, n := range names {
		if !known[n] {
			t.Errorf("%s uses %s, which the daemon does not export", what, n)
		}
	}
}

// TestMetrics_HealthyDaemonExportsAlertSeriesAtZero: on a daemon where nothing went wrong, the series alerts and the
// dashboard's Errors panel read exist at 0, and the build info is there.
func TestMetrics_HealthyDaemonExportsAlertSeriesAtZero(t *testing.T) {
	f := newFixture(t)
	f.build = BuildInfo{Version: "v9.9.9", Commit: "abc123", GoVersion: "go1.26"}
	if err := f.src.CreateTopic("auto-healthy", 2, nil); err != nil {
		t.Fatal(err)
	}
	f.produce(t, f.srcCl, "auto-healthy", 50)
	f.start(t)
	f.waitMirror(t, "auto-healthy", caughtUp)
	metrics := f.get(t, "/metrics")
	for _, want := range []string{
		`clusterlink_build_info{commit="abc123",go_version="go1.26",version="v9.9.9"} 1`,
		`clusterlink_request_errors_total{link="test-link",request="fetch"} 0`,
		`clusterlink_request_errors_total{link="test-link",request="produce"} 0`,
		`clusterlink_mirror_partition_failed{error_code="",link="test-link",mirror_topic="auto-healthy",partition="1"} 0`,
		`clusterlink_mirror_partitions_failed{link="test-link",mirror_topic="auto-healthy"} 0`,
		`clusterlink_link_mirror_partitions_failed{link="test-link"} 0`,
		`clusterlink_mirror_max_partition_lag_records{link="test-link",mirror_topic="auto-healthy"} 0`,
		`clusterlink_mirror_records_total{link="test-link",mirror_topic="auto-healthy"} 50`,
		`clusterlink_mirror_partition_lag_records{link="test-link",mirror_topic="auto-healthy",partition="0"} 0`,
		`clusterlink_offset_sync_last_sync_timestamp_seconds{link="test-link"}`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// TestMetrics_PartitionLevelOffKeepsAggregatesOnly: with metrics.partition.level false, no series has a partition
// label (no partition failed), and the mirror and link aggregates are still there.
func TestMetrics_PartitionLevelOffKeepsAggregatesOnly(t *testing.T) {
	f := newFixture(t)
	f.cfg.Metrics.PartitionLevelOff = true
	if err := f.src.CreateTopic("auto-coarse", 3, nil); err != nil {
		t.Fatal(err)
	}
	f.produce(t, f.srcCl, "auto-coarse", 30)
	f.start(t)
	f.waitMirror(t, "auto-coarse", caughtUp)
	metrics := f.get(t, "/metrics")
	if strings.Contains(metrics, `partition="`) {
		t.Errorf("metrics.partition.level=false, yet a series has a partition label:\n%s", grepLines(metrics, `partition="`))
	}
	for _, want := range []string{
		`clusterlink_mirror_lag_records{link="test-link",mirror_topic="auto-coarse"} 0`,
		`clusterlink_mirror_records_total{link="test-link",mirror_topic="auto-coarse"} 30`,
		`clusterlink_mirror_partitions{link="test-link",mirror_topic="auto-coarse"} 3`,
		`clusterlink_link_lag_records{link="test-link"} 0`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
