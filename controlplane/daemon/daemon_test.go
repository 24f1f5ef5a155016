package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap/zaptest"

	"github.com/clusterlink/clusterlink/config"
	"github.com/clusterlink/clusterlink/controlplane/adminapi"
	"github.com/clusterlink/clusterlink/controlplane/link"
	"github.com/clusterlink/clusterlink/controlplane/task"
	"github.com/clusterlink/clusterlink/replicator"
)

type fixture struct {
	src, dst     *kfake.Cluster
	srcCl, dstCl *kgo.Client
	cfg          *config.Config
	client       *adminapi.Client
	stop         func()
	linkName     string
	addr         string
	d            *Daemon
	pprof        bool
	build        BuildInfo
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{linkName: "test-link"}
	var err error
	if f.src, err = kfake.NewCluster(kfake.NumBrokers(1)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.src.Close)
	if f.dst, err = kfake.NewCluster(kfake.NumBrokers(1)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.dst.Close)
	if f.srcCl, err = kgo.NewClient(kgo.SeedBrokers(f.src.ListenAddrs()...)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.srcCl.Close)
	if f.dstCl, err = kgo.NewClient(kgo.SeedBrokers(f.dst.ListenAddrs()...)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.dstCl.Close)
	l, err := config.ParseLink(f.linkName, map[string]string{
		"bootstrap.servers":                 strings.Join(f.src.ListenAddrs(), ","),
		"auto.create.mirror.topics.enable":  "true",
		"auto.create.mirror.topics.filters": `{"topicFilters":[{"name":"auto-","patternType":"PREFIXED","filterType":"INCLUDE"}]}`,
		"topic.config.sync.ms":              "1000",
		"consumer.offset.sync.enable":       "true",
		"consumer.offset.sync.ms":           "1000",
		"consumer.offset.group.filters":     `{"groupFilters":[{"name":"*","patternType":"LITERAL","filterType":"INCLUDE"}]}`,
	})
	if err != nil {
		t.Fatal(err)
	}
	f.cfg = &config.Config{
		Destination: config.Cluster{BootstrapServers: f.dst.ListenAddrs()},
		Admin:       config.Admin{Listen: "127.0.0.1:0"},
		State:       config.State{Topic: config.DefaultStateTopic},
		Links:       []*config.Link{l},
	}
	return f
}

// start runs a daemon until the test ends or stop is called.
func (f *fixture) start(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	d, err := New(ctx, f.cfg, Options{Logger: zaptest.NewLogger(t), Pprof: f.pprof, Build: f.build,
		ReplicatorOpts: []replicator.Opt{replicator.MetadataRefresh(200 * time.Millisecond)}})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- d.Run(runCtx) }()
	stopped := false
	f.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("daemon run: %v", err)
		}
		d.Close()
	}
	t.Cleanup(f.stop)
	deadline := time.Now().Add(10 * time.Second)
	for !d.Ready() {
		if time.Now().After(deadline) {
			t.Fatal("daemon not ready")
		}
		time.Sleep(10 * time.Millisecond)
	}
	f.addr = d.Addr().String()
	f.client = adminapi.NewClient(f.addr, f.cfg.Admin.Token)
	f.d = d
}

func (f *fixture) clientAddress() string { return f.addr }

func (f *fixture) produce(t *testing.T, cl *kgo.Client, topic string, n int) {
	t.Helper()
	var recs []*kgo.Record
	for i := range n {
		recs = append(recs, &kgo.Record{Topic: topic, Key: []byte(fmt.Sprint("k", i)), Value: []byte(fmt.Sprint("v", i))})
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) waitMirror(t *testing.T, topic string, cond func(adminapi.Mirror) bool) adminapi.Mirror {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var last adminapi.Mirror
	var err error
	for time.Now().Before(deadline) {
		last, err = f.client.Mirror(context.Background(), f.linkName, topic)
		if err == nil && cond(last) {
			return last
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("mirror %s: condition not reached; last %+v, err %v", topic, last, err)
	return last
}

func caughtUp(m adminapi.Mirror) bool {
	return m.MirrorStatus == "ACTIVE" && m.NumPartitions > 0 && m.MaxLag() == 0 && m.MirrorLags[0].SourceHighWatermark > 0
}

func endOffsets(t *testing.T, cl *kgo.Client, topic string) map[int32]int64 {
	t.Helper()
	ends, err := kadm.NewClient(cl).ListEndOffsets(context.Background(), topic)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) { out[o.Partition] = o.Offset })
	return out
}

func TestDaemon_AutoCreatesPromotesAndKeepsStateOverRestart(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for _, topic := range []string{"auto-orders", "auto-clicks", "other"} {
		if err := f.src.CreateTopic(topic, 3, nil); err != nil {
			t.Fatal(err)
		}
		f.produce(t, f.srcCl, topic, 300)
	}
	f.start(t)

	f.waitMirror(t, "auto-orders", caughtUp)
	f.waitMirror(t, "auto-clicks", caughtUp)
	mirrors, err := f.client.Mirrors(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(mirrors) != 2 {
		t.Fatalf("mirrors %+v: want auto-orders and auto-clicks only (the filter excludes other)", mirrors)
	}
	metrics := f.get(t, "/metrics")
	for _, want := range []string{
		`clusterlink_mirror_partition_lag_records{link="test-link",mirror_topic="auto-clicks",partition="0"} 0`,
		`clusterlink_mirror_status{error_code="",link="test-link",mirror_topic="auto-orders",status="ACTIVE"} 1`,
		`clusterlink_produce_latency_seconds_count{broker="0",link="test-link"}`,
		`clusterlink_mirror_partition_records_total{link="test-link",mirror_topic="auto-orders",partition="1"}`,
		`clusterlink_offset_sync_offsets_committed_total{link="test-link"}`,
		`clusterlink_link_task_state{error_code="",link="test-link",state="NOT_CONFIGURED",task="AclSync"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	// A producer is refused nowhere on kfake (no authorizer), but promote must wait for data still arriving.
	f.produce(t, f.srcCl, "auto-orders", 200)
	srcEnds := endOffsets(t, f.srcCl, "auto-orders")
	res, err := f.client.AlterMirrors(ctx, f.linkName, adminapi.OpPromote, []string{"auto-orders"}, adminapi.AlterOptions{})
	if err != nil || len(res) != 1 || res[0].Failed() {
		t.Fatalf("promote: %+v, %v", res, err)
	}
	dstEnds := endOffsets(t, f.dstCl, "auto-orders")
	for p, end := range srcEnds {
		if dstEnds[p] < end {
			t.Errorf("promoted auto-orders[%d] ends at %d, below the source's %d at the promote", p, dstEnds[p], end)
		}
	}
	m := f.waitMirror(t, "auto-orders", func(m adminapi.Mirror) bool { return m.MirrorStatus == "STOPPED" })
	_ = m
	// The promoted topic is writable and takes its source's configs back.
	f.produce(t, f.dstCl, "auto-orders", 1)

	// Pause auto-clicks, then restart the daemon: paused stays paused, promoted stays STOPPED.
	res, err = f.client.AlterMirrors(ctx, f.linkName, adminapi.OpPause, []string{"auto-clicks"}, adminapi.AlterOptions{})
	if err != nil || res[0].Failed() {
		t.Fatalf("pause: %+v, %v", res, err)
	}
	f.stop()
	f.produce(t, f.srcCl, "auto-clicks", 100)
	f.start(t)
	f.waitMirror(t, "auto-orders", func(m adminapi.Mirror) bool { return m.MirrorStatus == "STOPPED" })
	paused := f.waitMirror(t, "auto-clicks", func(m adminapi.Mirror) bool { return m.MirrorStatus == "PAUSED" })
	time.Sleep(500 * time.Millisecond)
	if ends := endOffsets(t, f.dstCl, "auto-clicks"); ends[0]+ends[1]+ends[2] != 300 {
		t.Errorf("paused mirror copied while paused: destination ends %v (%+v)", ends, paused)
	}
	res, err = f.client.AlterMirrors(ctx, f.linkName, adminapi.OpResume, []string{"auto-clicks"}, adminapi.AlterOptions{})
	if err != nil || res[0].Failed() {
		t.Fatalf("resume: %+v, %v", res, err)
	}
	f.waitMirror(t, "auto-clicks", func(m adminapi.Mirror) bool {
		return caughtUp(m) && m.MirrorLags[0].MirrorLogEndOffset+m.MirrorLags[1].MirrorLogEndOffset+m.MirrorLags[2].MirrorLogEndOffset == 400
	})

	// Promote again is refused with a reason; an unknown mirror is a per-topic error.
	res, err = f.client.AlterMirrors(ctx, f.linkName, adminapi.OpPromote, []string{"auto-orders", "nope"}, adminapi.AlterOptions{})
	if err != nil || len(res) != 2 || !res[0].Failed() || !res[1].Failed() {
		t.Fatalf("promote of a STOPPED and an unknown mirror: %+v, %v", res, err)
	}
}

func TestDaemon_CreateLinkAndMirrorThroughTheAPI(t *testing.T) {
	f := newFixture(t)
	f.cfg.Links = nil
	ctx := context.Background()
	if err := f.src.CreateTopic("payments", 2, nil); err != nil {
		t.Fatal(err)
	}
	f.produce(t, f.srcCl, "payments", 50)
	f.start(t)

	bad := adminapi.CreateLinkRequest{Configs: []adminapi.ConfigValue{{Name: "bootstrap.servers", Value: "${env:HOME}"}}}
	if err := f.client.CreateLink(ctx, "x", bad, false); err == nil || !strings.Contains(err.Error(), "only resolved in the daemon's config file") {
		t.Errorf("create link with a secret reference: %v", err)
	}
	req := adminapi.CreateLinkRequest{Configs: []adminapi.ConfigValue{
		{Name: "bootstrap.servers", Value: strings.Join(f.src.ListenAddrs(), ",")},
		{Name: "cluster.link.prefix", Value: "src."},
		{Name: "acl.sync.ms", Value: "10"},
	}}
	err := f.client.CreateLink(ctx, f.linkName, req, true)
	if err == nil || !strings.Contains(err.Error(), "acl.sync.ms") {
		t.Fatalf("validate a bad link: %v", err)
	}
	req.Configs = req.Configs[:2]
	if err := f.client.CreateLink(ctx, f.linkName, req, false); err != nil {
		t.Fatal(err)
	}
	if err := f.client.CreateMirror(ctx, f.linkName, adminapi.CreateMirrorRequest{SourceTopicName: "payments"}, false); err != nil {
		t.Fatal(err)
	}
	f.waitMirror(t, "src.payments", caughtUp)
	if err := f.client.CreateMirror(ctx, f.linkName, adminapi.CreateMirrorRequest{SourceTopicName: "payments"}, false); err == nil {
		t.Error("a second mirror of the same topic was accepted")
	}
	if err := f.client.DeleteLink(ctx, f.linkName, false, false); err == nil || !strings.Contains(err.Error(), "src.payments") {
		t.Errorf("delete a link with an active mirror without force: %v", err)
	}
	res, err := f.client.AlterMirrors(ctx, f.linkName, adminapi.OpFailover, []string{"src.payments"}, adminapi.AlterOptions{})
	if err != nil || res[0].Failed() {
		t.Fatalf("failover: %+v %v", res, err)
	}
	// validate_only checks and keeps the link (Confluent's scripts rely on it).
	if err := f.client.DeleteLink(ctx, f.linkName, false, true); err != nil {
		t.Fatal(err)
	}
	if _, err := f.client.Link(ctx, f.linkName); err != nil {
		t.Fatalf("a validate-only delete deleted the link: %v", err)
	}
	if err := f.client.DeleteLink(ctx, f.linkName, false, false); err != nil {
		t.Fatal(err)
	}
	if links, err := f.client.Links(ctx); err != nil || len(links) != 0 {
		t.Fatalf("links after delete: %+v %v", links, err)
	}
}

func TestDaemon_AdminAPIRequiresTheBearerTokenAndTheRightClusterID(t *testing.T) {
	f := newFixture(t)
	f.cfg.Admin.Token = "s3cret"
	f.start(t)
	ctx := context.Background()
	if _, err := f.client.Links(ctx); err != nil {
		t.Fatalf("with the token: %v", err)
	}
	addr := strings.TrimPrefix(fmt.Sprint(f.clientAddress()), "http://")
	var apiErr *adminapi.Error
	_, err := adminapi.NewClient(addr, "").Links(ctx)
	if !errors.As(err, &apiErr) || apiErr.ErrorCode != http.StatusUnauthorized {
		t.Errorf("without the token: %v, want 401", err)
	}
	_, err = adminapi.NewClient(addr, "wrong").Links(ctx)
	if !errors.As(err, &apiErr) || apiErr.ErrorCode != http.StatusUnauthorized {
		t.Errorf("with a wrong token: %v, want 401", err)
	}
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/kafka/v3/clusters/not-this-one/links", nil)
	req.Header.Set("Authorization", "Bearer s3cret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("another cluster id: status %d, want 404", resp.StatusCode)
	}
	req, _ = http.NewRequest(http.MethodGet, "http://"+addr+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer s3cret")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `clusterlink_link_state{link="test-link",state="ACTIVE"} 1`) {
		t.Errorf("/metrics lacks the link state:\n%.2000s", body)
	}
}

func (f *fixture) get(t *testing.T, path string) string {
	t.Helper()
	resp, err := http.Get("http://" + f.addr + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(body)
}

// TestDaemon_LinkConfigChangesApplyLiveOrRestartTheLink changes a running link's configs through the API: changes to
// the sync loops and intervals apply to the running link (the same link keeps copying, the offset sync task turns
// on), a change to the fetch settings restarts it; the mirror keeps copying through both.
func TestDaemon_LinkConfigChangesApplyLiveOrRestartTheLink(t *testing.T) {
	f := newFixture(t)
	delete(f.cfg.Links[0].Raw, "consumer.offset.sync.enable")
	l, err := config.ParseLink(f.linkName, f.cfg.Links[0].Raw)
	if err != nil {
		t.Fatal(err)
	}
	f.cfg.Links[0] = l
	ctx := context.Background()
	if err := f.src.CreateTopic("auto-live", 2, nil); err != nil {
		t.Fatal(err)
	}
	f.produce(t, f.srcCl, "auto-live", 40)
	f.start(t)
	f.waitMirror(t, "auto-live", copied(40))
	running := func() *link.Link {
		l, err := f.d.currentLink(f.linkName)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	taskState := func(name string) string {
		lk, err := f.client.Link(ctx, f.linkName)
		if err != nil {
			t.Fatal(err)
		}
		for _, tk := range lk.Tasks {
			if tk.TaskName == name {
				return tk.State
			}
		}
		return ""
	}
	if st := taskState(task.ConsumerOffsetSync); st != task.NotConfigured {
		t.Fatalf("offset sync task %s before the change, want %s", st, task.NotConfigured)
	}
	before := running()

	live := adminapi.AlterConfigsRequest{Data: []adminapi.ConfigValue{
		{Name: "consumer.offset.sync.enable", Value: "true"}, {Name: "consumer.offset.sync.ms", Value: "2000"},
		{Name: "topic.config.sync.ms", Value: "2000"},
	}}
	if err := f.client.AlterLinkConfigs(ctx, f.linkName, live, false); err != nil {
		t.Fatal(err)
	}
	if running() != before {
		t.Fatal("a change to the sync loops restarted the link")
	}
	if cfg := running().Config(); !cfg.ConsumerOffsetSyncEnable || cfg.ConsumerOffsetSyncInterval != 2*time.Second {
		t.Fatalf("the running link's config was not updated: %v %v", cfg.ConsumerOffsetSyncEnable, cfg.ConsumerOffsetSyncInterval)
	}
	deadline := time.Now().Add(10 * time.Second)
	for taskState(task.ConsumerOffsetSync) != task.Active {
		if time.Now().After(deadline) {
			t.Fatalf("offset sync task %s after the change, want %s", taskState(task.ConsumerOffsetSync), task.Active)
		}
		time.Sleep(50 * time.Millisecond)
	}
	f.produce(t, f.srcCl, "auto-live", 40)
	f.waitMirror(t, "auto-live", copied(80))

	restart := adminapi.AlterConfigsRequest{Data: []adminapi.ConfigValue{{Name: "replica.fetch.max.bytes", Value: "2097152"}}}
	if err := f.client.AlterLinkConfigs(ctx, f.linkName, restart, false); err != nil {
		t.Fatal(err)
	}
	if running() == before {
		t.Fatal("a change to the fetch settings did not restart the link")
	}
	if cfg := running().Config(); cfg.ReplicaFetchMaxBytes != 2097152 || !cfg.ConsumerOffsetSyncEnable {
		t.Fatalf("the restarted link's config: fetch max bytes %d, offset sync %v", cfg.ReplicaFetchMaxBytes, cfg.ConsumerOffsetSyncEnable)
	}
	f.produce(t, f.srcCl, "auto-live", 40)
	f.waitMirror(t, "auto-live", copied(120))
	requireSameRecords(t, f.srcCl, f.dstCl, "auto-live", 2, 120)
}

// requireSameRecords reads every record of a topic's partitions on both clusters and requires them identical at the
// same offsets (key, value, headers, timestamp); total is how many records the topic holds.
func requireSameRecords(t *testing.T, src, dst *kgo.Client, topic string, partitions int32, total int) {
	t.Helper()
	read := func(cl *kgo.Client) map[int32][]*kgo.Record {
		c, err := kgo.NewClient(append(cl.Opts(), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))...)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		out := map[int32][]*kgo.Record{}
		for n := 0; n < total; {
			fs := c.PollFetches(ctx)
			if ctx.Err() != nil {
				t.Fatalf("read %d of %d records of %s", n, total, topic)
			}
			fs.EachRecord(func(r *kgo.Record) {
				out[r.Partition] = append(out[r.Partition], r)
				n++
			})
		}
		return out
	}
	s, d := read(src), read(dst)
	for p := int32(0); p < partitions; p++ {
		if len(s[p]) != len(d[p]) {
			t.Fatalf("%s[%d]: %d records on the source, %d on the mirror", topic, p, len(s[p]), len(d[p]))
		}
		for i := range s[p] {
			a, b := s[p][i], d[p][i]
			if a.Offset != b.Offset || string(a.Key) != string(b.Key) || string(a.Value) != string(b.Value) ||
				!a.Timestamp.Equal(b.Timestamp) || fmt.Sprint(a.Headers) != fmt.Sprint(b.Headers) {
				t.Fatalf("%s[%d] record %d differs: %+v vs %+v", topic, p, i, a, b)
			}
		}
	}
}

// copied says whether the mirror's partitions hold n records in all.
func copied(n int64) func(adminapi.Mirror) bool {
	return func(m adminapi.Mirror) bool {
		var sum int64
		for _, l := range m.MirrorLags {
			sum += l.MirrorLogEndOffset
		}
		return sum == n
	}
}
