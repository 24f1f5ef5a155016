package integration

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap/zaptest"

	"github.com/clusterlink/clusterlink/config"
	"github.com/clusterlink/clusterlink/controlplane/adminapi"
	"github.com/clusterlink/clusterlink/controlplane/daemon"
	"github.com/clusterlink/clusterlink/integration/kafkatest"
	"github.com/clusterlink/clusterlink/replicator"
)

// runningDaemon is a clusterlink daemon run in-process from a config file, stopped when the test ends.
type runningDaemon struct {
	client     *adminapi.Client
	daemon     *daemon.Daemon
	configPath string
	stop       func()
}

// writeDaemonConfig writes a daemon config file with one link and a state topic of the test's own.
func writeDaemonConfig(t *testing.T, src, dst *kafkatest.Cluster, linkName string, linkConfigs map[string]string) string {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "destination:\n  bootstrap.servers: %s\n", strings.Join(dst.BootstrapServers(), ","))
	fmt.Fprintf(&b, "admin:\n  listen: 127.0.0.1:0\n")
	fmt.Fprintf(&b, "state:\n  topic: %s\n", uniqueTopic(t, "_clusterlink-state"))
	fmt.Fprintf(&b, "links:\n  - name: %s\n    configs:\n      bootstrap.servers: %s\n", linkName, strings.Join(src.BootstrapServers(), ","))
	for k, v := range linkConfigs {
		fmt.Fprintf(&b, "      %s: '%s'\n", k, v)
	}
	path := filepath.Join(t.TempDir(), "clusterlink.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func startDaemon(t *testing.T, configPath string) *runningDaemon {
	t.Helper()
	cfg, err := config.Load(configPath)
	if err != nil {
		t.Fatalf("load %s: %v", configPath, err)
	}
	ctx := context.Background()
	d, err := daemon.New(ctx, cfg, daemon.Options{Logger: zaptest.NewLogger(t),
		ReplicatorOpts: []replicator.Opt{replicator.MetadataRefresh(time.Second)}})
	if err != nil {
		t.Fatalf("start the daemon: %v", err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- d.Run(runCtx) }()
	rd := &runningDaemon{daemon: d, configPath: configPath}
	stopped := false
	rd.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("daemon: %v", err)
		}
		d.Close()
	}
	t.Cleanup(rd.stop)
	deadline := time.Now().Add(time.Minute)
	for !d.Ready() {
		if time.Now().After(deadline) {
			t.Fatal("the daemon did not start its links within a minute")
		}
		time.Sleep(20 * time.Millisecond)
	}
	rd.client = adminapi.NewClient(d.Addr().String(), "")
	return rd
}

// getMetrics reads the daemon's /metrics.
func (d *runningDaemon) getMetrics(t *testing.T) string {
	t.Helper()
	resp, err := http.Get("http://" + d.daemon.Addr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return string(body)
}

func (d *runningDaemon) waitMirror(t *testing.T, linkName, topic, what string, cond func(adminapi.Mirror) bool) adminapi.Mirror {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	var last adminapi.Mirror
	var err error
	for time.Now().Before(deadline) {
		last, err = d.client.Mirror(context.Background(), linkName, topic)
		if err == nil && cond(last) {
			return last
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("mirror %s: not %s within 90 s; last %+v, err %v", topic, what, last, err)
	return last
}

func (d *runningDaemon) alter(t *testing.T, linkName, op string, topics ...string) []adminapi.AlterMirrorResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := d.client.AlterMirrors(ctx, linkName, op, topics, adminapi.AlterOptions{})
	if err != nil {
		t.Fatalf("%s %v: %v", op, topics, err)
	}
	for _, r := range res {
		if r.Failed() {
			t.Fatalf("%s %s: %s", op, r.MirrorTopicName, r.Message())
		}
	}
	return res
}

// mirrorCaughtUpTo says the mirror is ACTIVE with every partition copied up to the given source ends.
func mirrorCaughtUpTo(ends map[int32]int64) func(adminapi.Mirror) bool {
	return func(m adminapi.Mirror) bool {
		if m.MirrorStatus != "ACTIVE" || len(m.MirrorLags) < len(ends) {
			return false
		}
		for _, l := range m.MirrorLags {
			if l.MirrorLogEndOffset < ends[l.Partition] {
				return false
			}
		}
		return true
	}
}

func sourceEnds(t *testing.T, c *kafkatest.Cluster, topic string) map[int32]int64 {
	t.Helper()
	out := map[int32]int64{}
	for p, b := range partitionBounds(t, context.Background(), newClient(t, c), topic) {
		out[int32(p)] = b.end
	}
	return out
}

func statusIs(s string) func(adminapi.Mirror) bool {
	return func(m adminapi.Mirror) bool { return m.MirrorStatus == s }
}

// TestDaemon_ConfigFileLinkAutoCreatesMirrorsAndKeepsStateOverRestart runs the daemon from a config file whose link
// auto-creates mirrors for a topic prefix; a paused mirror stays paused and a promoted one stays STOPPED across a
// restart, and the mirrors that copy match their source record by record.
func TestDaemon_ConfigFileLinkAutoCreatesMirrorsAndKeepsStateOverRestart(t *testing.T) {
	src, dst := source(t), destination(t)
	prefix := uniqueTopic(t, "auto") + "-"
	orders, clicks, other := prefix+"orders", prefix+"clicks", uniqueTopic(t, "not-matched")
	for _, topic := range []string{orders, clicks, other} {
		createTopic(t, src, topic, 3, nil)
		produceMix(t, src, topic, 500, kgo.Lz4Compression(), 1)
	}
	const linkName = "restart-link"
	path := writeDaemonConfig(t, src, dst, linkName, map[string]string{
		"auto.create.mirror.topics.enable":  "true",
		"auto.create.mirror.topics.filters": fmt.Sprintf(`{"topicFilters":[{"name":"%s","patternType":"PREFIXED","filterType":"INCLUDE"}]}`, prefix),
		"topic.config.sync.ms":              "1000",
	})
	d := startDaemon(t, path)
	for _, topic := range []string{orders, clicks} {
		d.waitMirror(t, linkName, topic, "caught up", mirrorCaughtUpTo(sourceEnds(t, src, topic)))
	}
	if _, err := d.client.Mirror(context.Background(), linkName, other); err == nil {
		t.Errorf("%s was mirrored though the filter does not match it", other)
	}

	d.alter(t, linkName, adminapi.OpPromote, orders)
	d.alter(t, linkName, adminapi.OpPause, clicks)
	d.stop()

	produceMix(t, src, clicks, 300, kgo.Lz4Compression(), 2)
	produceMix(t, src, orders, 300, kgo.Lz4Compression(), 3)
	d = startDaemon(t, path)
	d.waitMirror(t, linkName, orders, "STOPPED", statusIs("STOPPED"))
	paused := d.waitMirror(t, linkName, clicks, "PAUSED", statusIs("PAUSED"))
	time.Sleep(2 * time.Second) // a paused mirror that copied would have moved by now
	var copied int64
	for _, b := range partitionBounds(t, context.Background(), newClient(t, dst), clicks) {
		copied += b.end
	}
	if copied != 500 {
		t.Fatalf("paused mirror %s holds %d records after the restart, want the 500 it had when paused (%+v)", clicks, copied, paused)
	}
	d.alter(t, linkName, adminapi.OpResume, clicks)
	d.waitMirror(t, linkName, clicks, "caught up", mirrorCaughtUpTo(sourceEnds(t, src, clicks)))
	requireMirrorEqual(t, src, dst, clicks, clicks)

	// The promoted topic did not get the 300 records produced after its promote.
	var promoted int64
	for _, b := range partitionBounds(t, context.Background(), newClient(t, dst), orders) {
		promoted += b.end
	}
	if promoted != 500 {
		t.Fatalf("promoted topic %s holds %d records, want the 500 of the source at the promote", orders, promoted)
	}
}

// TestDaemon_PromoteWithDataInFlightLosesNothing promotes a mirror while a producer keeps writing to the source:
// every record the source had when the promote was asked is in the promoted topic at its offset, and the promoted
// topic then takes writes on the destination.
func TestDaemon_PromoteWithDataInFlightLosesNothing(t *testing.T) {
	src, dst := source(t), destination(t)
	topic := uniqueTopic(t, "promote-inflight")
	createTopic(t, src, topic, 4, nil)
	produceMix(t, src, topic, 2000, kgo.ZstdCompression(), 4)
	const linkName = "promote-link"
	d := startDaemon(t, writeDaemonConfig(t, src, dst, linkName, nil))
	if err := d.client.CreateMirror(context.Background(), linkName, adminapi.CreateMirrorRequest{SourceTopicName: topic}, false); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	produced := make(chan error, 1)
	go func() {
		p, err := kgo.NewClient(append(src.ClientOpts(), kgo.ProducerLinger(time.Millisecond))...)
		if err != nil {
			produced <- err
			return
		}
		defer p.Close()
		for i := 0; ctx.Err() == nil; i++ {
			p.Produce(ctx, &kgo.Record{Topic: topic, Key: []byte(fmt.Sprint("k", i%50)), Value: []byte(fmt.Sprint("in-flight-", i))}, nil)
			if i%100 == 0 {
				time.Sleep(5 * time.Millisecond)
			}
		}
		produced <- p.Flush(context.Background())
	}()
	time.Sleep(time.Second)
	atPromote := sourceEnds(t, src, topic)
	d.alter(t, linkName, adminapi.OpPromote, topic)
	cancel()
	if err := <-produced; err != nil {
		t.Fatal(err)
	}
	d.waitMirror(t, linkName, topic, "STOPPED", statusIs("STOPPED"))

	srcCl, dstCl := newClient(t, src), newClient(t, dst)
	after := partitionBounds(t, context.Background(), dstCl, topic)
	for p, end := range atPromote {
		if after[p].end < end {
			t.Fatalf("promoted %s[%d] ends at %d, below the source's %d when the promote was asked", topic, p, after[p].end, end)
		}
		b := bounds{start: 0, end: end}
		compareRecords(t, p, below(readRecords(t, context.Background(), srcCl, topic, p, b), end),
			below(readRecords(t, context.Background(), dstCl, topic, p, b), end))
	}
	// Writable now.
	if err := dstCl.ProduceSync(context.Background(), &kgo.Record{Topic: topic, Value: []byte("after promote")}).FirstErr(); err != nil {
		t.Fatalf("produce to the promoted topic: %v", err)
	}
}

// TestDaemon_FailoverWithTheSourceKilled fails a mirror over after its source cluster died: the topic becomes a
// normal writable topic holding everything the mirror had copied, at the same offsets.
func TestDaemon_FailoverWithTheSourceKilled(t *testing.T) {
	ctx := context.Background()
	src := kafkatest.StartT(t)
	dst := destination(t)
	topic := uniqueTopic(t, "failover")
	createTopic(t, src, topic, 2, nil)
	produceMix(t, src, topic, 1000, kgo.SnappyCompression(), 5)
	srcCl := newClient(t, src)
	before := map[int32][]*kgo.Record{}
	for p, b := range partitionBounds(t, ctx, srcCl, topic) {
		before[int32(p)] = readRecords(t, ctx, srcCl, topic, int32(p), b)
	}
	const linkName = "failover-link"
	d := startDaemon(t, writeDaemonConfig(t, src, dst, linkName, map[string]string{
		"availability.check.ms":                            "1000",
		"availability.check.consecutive.failure.threshold": "2",
		"request.timeout.ms":                               "5000",
		"replica.fetch.wait.max.ms":                        "200",
	}))
	if err := d.client.CreateMirror(ctx, linkName, adminapi.CreateMirrorRequest{SourceTopicName: topic}, false); err != nil {
		t.Fatal(err)
	}
	d.waitMirror(t, linkName, topic, "caught up", mirrorCaughtUpTo(sourceEnds(t, src, topic)))

	for _, n := range src.Nodes {
		n.Kill()
	}
	d.waitMirror(t, linkName, topic, "SOURCE_UNAVAILABLE", statusIs("SOURCE_UNAVAILABLE"))
	promote, err := d.client.AlterMirrors(ctx, linkName, adminapi.OpPromote, []string{topic}, adminapi.AlterOptions{})
	if err != nil || len(promote) != 1 || !promote[0].Failed() {
		t.Fatalf("promote with the source dead must be refused with a reason, got %+v, %v", promote, err)
	}
	d.alter(t, linkName, adminapi.OpFailover, topic)
	d.waitMirror(t, linkName, topic, "STOPPED", statusIs("STOPPED"))

	dstCl := newClient(t, dst)
	for p, recs := range before {
		end := recs[len(recs)-1].Offset + 1
		compareRecords(t, p, recs, below(readRecords(t, ctx, dstCl, topic, p, bounds{start: 0, end: end}), end))
	}
	if err := dstCl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte("after failover")}).FirstErr(); err != nil {
		t.Fatalf("produce to the failed-over topic: %v", err)
	}
}

// below keeps the records before offset end (a fetch may return more).
func below(recs []*kgo.Record, end int64) []*kgo.Record {
	for i, r := range recs {
		if r.Offset >= end {
			return recs[:i]
		}
	}
	return recs
}

// TestDaemon_TopicConfigSyncFollowsTheSource: three mirrors synced together (one batched round per cycle); a config
// set on two source topics and one removed from the third reach their mirrors within a few cycles, the mirror
// overrides copying needs stay, and the stored source configs (what a failover restores) follow.
func TestDaemon_TopicConfigSyncFollowsTheSource(t *testing.T) {
	src, dst := source(t), destination(t)
	prefix := uniqueTopic(t, "cfgsync") + "-"
	topics := []string{prefix + "a", prefix + "b", prefix + "c"}
	for _, topic := range topics {
		createTopic(t, src, topic, 1, map[string]*string{"retention.ms": ptr("86400000")})
	}
	const linkName = "cfgsync-link"
	d := startDaemon(t, writeDaemonConfig(t, src, dst, linkName, map[string]string{
		"auto.create.mirror.topics.enable":  "true",
		"auto.create.mirror.topics.filters": fmt.Sprintf(`{"topicFilters":[{"name":"%s","patternType":"PREFIXED","filterType":"INCLUDE"}]}`, prefix),
		"topic.config.sync.ms":              "1000",
	}))
	for _, topic := range topics {
		d.waitMirror(t, linkName, topic, "ACTIVE", statusIs("ACTIVE"))
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srcAdm, dstAdm := kadm.NewClient(newClient(t, src)), kadm.NewClient(newClient(t, dst))
	alter := func(topic string, op kadm.IncrementalOp, value *string) {
		resps, err := srcAdm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: op, Name: "retention.ms", Value: value}}, topic)
		if err == nil {
			var r kadm.AlterConfigsResponse
			if r, err = resps.On(topic, nil); err == nil {
				err = r.Err
			}
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	alter(topics[0], kadm.SetConfig, ptr("3600000"))
	alter(topics[1], kadm.SetConfig, ptr("7200000"))
	alter(topics[2], kadm.DeleteConfig, nil)
	want := map[string]string{topics[0]: "3600000", topics[1]: "7200000", topics[2]: ""}
	deadline := time.Now().Add(30 * time.Second)
	for {
		rcs, err := dstAdm.DescribeTopicConfigs(ctx, topics...)
		if err != nil {
			t.Fatal(err)
		}
		done := true
		for _, topic := range topics {
			rc, _ := rcs.On(topic, nil)
			got, tsType := "", ""
			for _, c := range rc.Configs {
				if c.Source == 1 && c.Key == "retention.ms" {
					got = c.MaybeValue()
				}
				if c.Key == "message.timestamp.type" {
					tsType = c.MaybeValue()
				}
			}
			if tsType != "CreateTime" {
				t.Fatalf("mirror %s lost the override copying needs: message.timestamp.type=%q", topic, tsType)
			}
			done = done && got == want[topic]
		}
		if done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("mirror topic configs did not follow the source within 30 s")
		}
		time.Sleep(200 * time.Millisecond)
	}
	// The stored source configs follow too: a failover of the first gives it the source's new retention.
	d.alter(t, linkName, adminapi.OpFailover, topics[0])
	d.waitMirror(t, linkName, topics[0], "STOPPED", statusIs("STOPPED"))
	rcs, err := dstAdm.DescribeTopicConfigs(ctx, topics[0])
	if err != nil {
		t.Fatal(err)
	}
	rc, _ := rcs.On(topics[0], nil)
	for _, c := range rc.Configs {
		if c.Key == "retention.ms" && c.MaybeValue() != "3600000" {
			t.Fatalf("failed-over topic retention.ms = %s, want the source's 3600000", c.MaybeValue())
		}
	}
}
