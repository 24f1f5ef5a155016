package integration

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/clusterlink/clusterlink/controlplane/adminapi"
	"github.com/clusterlink/clusterlink/replicator"
)

// These tests prove the control plane under what operators do to it: many calls on one link name at once, restarts
// at the wrong moment, failures that must be kept, and the way out of FAILED.

// statusOf is the HTTP status of an API call's error (2xx for nil).
func statusOf(err error) int {
	var apiErr *adminapi.Error
	switch {
	case err == nil:
		return http.StatusOK
	case errors.As(err, &apiErr):
		return apiErr.ErrorCode
	}
	return -1
}

// produceUntil writes records to topic with a producer without idempotence (its batches carry no producer id, so
// a batch written twice would land twice) until stop is closed, and reports how many it wrote.
func produceUntil(t *testing.T, c interface{ ClientOpts() []kgo.Opt }, topic string, stop <-chan struct{}) <-chan int {
	t.Helper()
	done := make(chan int, 1)
	p, err := kgo.NewClient(append(c.ClientOpts(), kgo.DisableIdempotentWrite(), kgo.ProducerLinger(2*time.Millisecond))...)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		defer p.Close()
		n := 0
		for {
			select {
			case <-stop:
				if err := p.Flush(context.Background()); err != nil {
					t.Errorf("flush: %v", err)
				}
				done <- n
				return
			default:
			}
			p.Produce(context.Background(), &kgo.Record{Topic: topic, Key: []byte(fmt.Sprint("k", n%97)),
				Value: []byte(fmt.Sprint("v", n)), Headers: []kgo.RecordHeader{{Key: "n", Value: []byte(fmt.Sprint(n))}}},
				func(_ *kgo.Record, err error) {
					if err != nil {
						t.Errorf("produce: %v", err)
					}
				})
			n++
			if n%50 == 0 {
				time.Sleep(2 * time.Millisecond)
			}
		}
	}()
	return done
}

// TestControl_ConcurrentLinkOperationsLeaveOneRuntimeAndAnExactMirror hammers one daemon while a producer without
// idempotence writes the source: 20 parallel config updates that restart the mirrored link, 50 parallel creates of
// that same name, and 50 creates racing 50 deletes of a second name. Every call gets an answer that fits one order
// of the calls, exactly one runtime per link remains (counted), no partition fails, and the mirror equals the
// source record by record and batch by batch.
func TestControl_ConcurrentLinkOperationsLeaveOneRuntimeAndAnExactMirror(t *testing.T) {
	src, dst := source(t), destination(t)
	topic := uniqueTopic(t, "race")
	createTopic(t, src, topic, 6, nil)
	const linkName, other = "race-link", "race-other"
	d := startDaemon(t, writeDaemonConfig(t, src, dst, "race-file-link", nil))
	ctx := context.Background()
	linkConfigs := func() adminapi.CreateLinkRequest {
		return adminapi.CreateLinkRequest{Configs: []adminapi.ConfigValue{
			{Name: "bootstrap.servers", Value: strings.Join(src.BootstrapServers(), ",")},
			{Name: "replica.fetch.wait.max.ms", Value: "100"},
		}}
	}
	if err := d.client.CreateLink(ctx, linkName, linkConfigs(), false); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	produced := produceUntil(t, src, topic, stop)
	time.Sleep(300 * time.Millisecond)
	if err := d.client.CreateMirror(ctx, linkName, adminapi.CreateMirrorRequest{SourceTopicName: topic}, false); err != nil {
		t.Fatal(err)
	}

	var wg sync.WaitGroup
	var updates, linkCreates, otherCreates, otherDeletes sync.Map
	for i := range 20 {
		wg.Go(func() {
			// replica.fetch.wait.max.ms is not applied live: every update restarts the link.
			err := d.client.AlterLinkConfigs(ctx, linkName, adminapi.AlterConfigsRequest{Data: []adminapi.ConfigValue{
				{Name: "replica.fetch.wait.max.ms", Value: fmt.Sprint(101 + i)}}}, false)
			updates.Store(i, statusOf(err))
		})
	}
	for i := range 50 {
		wg.Go(func() { linkCreates.Store(i, statusOf(d.client.CreateLink(ctx, linkName, linkConfigs(), false))) })
		wg.Go(func() {
			time.Sleep(time.Duration(rand.Intn(20)) * time.Millisecond)
			otherCreates.Store(i, statusOf(d.client.CreateLink(ctx, other, linkConfigs(), false)))
		})
		wg.Go(func() {
			time.Sleep(time.Duration(rand.Intn(20)) * time.Millisecond)
			otherDeletes.Store(i, statusOf(d.client.DeleteLink(ctx, other, true, false)))
		})
	}
	wg.Wait()

	count := func(m *sync.Map, status int) (n int, others []int) {
		m.Range(func(_, v any) bool {
			if v.(int)/100 == status/100 {
				n++
			} else if v.(int) != status {
				others = append(others, v.(int))
			}
			return true
		})
		return n, others
	}
	if ok, bad := count(&updates, http.StatusNoContent); ok != 20 {
		t.Errorf("config updates: %d of 20 succeeded, others answered %v", ok, bad)
	}
	if ok, _ := count(&linkCreates, http.StatusCreated); ok != 0 {
		t.Errorf("%d of 50 creates of the existing link %s succeeded", ok, linkName)
	}
	if _, bad := count(&linkCreates, http.StatusConflict); len(slices.DeleteFunc(bad, func(s int) bool { return s == http.StatusConflict })) > 0 {
		t.Errorf("creates of the existing link answered %v, want 409 each", bad)
	}
	created, createBad := count(&otherCreates, http.StatusCreated)
	deleted, deleteBad := count(&otherDeletes, http.StatusNoContent)
	createBad = slices.DeleteFunc(createBad, func(s int) bool { return s == http.StatusConflict })
	deleteBad = slices.DeleteFunc(deleteBad, func(s int) bool { return s == http.StatusNotFound })
	if len(createBad) > 0 || len(deleteBad) > 0 {
		t.Errorf("creates of %s answered %v besides 201 and 409; deletes %v besides 204 and 404", other, createBad, deleteBad)
	}
	exists := created - deleted
	if exists != 0 && exists != 1 {
		t.Fatalf("%s: %d creates and %d deletes succeeded: no order of the calls gives that", other, created, deleted)
	}
	_, err := d.client.Link(ctx, other)
	if (err == nil) != (exists == 1) {
		t.Fatalf("%s: %d creates and %d deletes succeeded, but describing it answers %v", other, created, deleted, err)
	}
	t.Logf("%s: %d creates and %d deletes succeeded", other, created, deleted)

	// One runtime per link: the config file's link, the mirrored link, and the other one if it exists.
	want := int64(2 + exists)
	deadline := time.Now().Add(10 * time.Second)
	for d.daemon.RuntimeCount() != want && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if got := d.daemon.RuntimeCount(); got != want {
		t.Fatalf("%d link runtimes run, want %d (one per link)", got, want)
	}

	close(stop)
	n := <-produced
	t.Logf("the producer wrote %d records during the operations", n)
	m := d.waitMirror(t, linkName, topic, "caught up", mirrorCaughtUpTo(sourceEnds(t, src, topic)))
	for _, l := range m.MirrorLags {
		if l.ErrorCode != "" {
			t.Fatalf("partition %d: %s %s", l.Partition, l.ErrorCode, l.ErrorMessage)
		}
	}
	requireMirrorEqual(t, src, dst, topic, topic)

	// The state topic agrees: a restarted daemon runs the same links.
	d.stop()
	d = startDaemon(t, d.configPath)
	links, err := d.client.Links(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range links {
		names = append(names, l.LinkName)
	}
	wantNames := []string{"race-file-link", linkName}
	if exists == 1 {
		wantNames = []string{"race-file-link", linkName, other}
	}
	if !slices.Equal(names, wantNames) {
		t.Fatalf("after a restart the daemon runs links %v, want %v", names, wantNames)
	}
}

// foreignWrite produces one record into a mirror partition as a client other than the link.
func foreignWrite(t *testing.T, dst interface{ ClientOpts() []kgo.Opt }, topic string, partition int32) {
	t.Helper()
	foreignWriteValue(t, dst, topic, partition, "foreign")
}

// foreignWriteValue produces one record with value v into a partition.
func foreignWriteValue(t *testing.T, dst interface{ ClientOpts() []kgo.Opt }, topic string, partition int32, v string) {
	t.Helper()
	cl, err := kgo.NewClient(append(dst.ClientOpts(), kgo.RecordPartitioner(kgo.ManualPartitioner()))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(context.Background(), &kgo.Record{Topic: topic, Partition: partition, Value: []byte(v)}).FirstErr(); err != nil {
		t.Fatalf("foreign produce: %v", err)
	}
}

func partitionFailed(p int32) func(adminapi.Mirror) bool {
	return func(m adminapi.Mirror) bool {
		return m.MirrorStatus == "FAILED" && len(m.MirrorLags) > int(p) && m.MirrorLags[p].ErrorCode != ""
	}
}

// TestControl_FailedPartitionStaysFailedAcrossARestart writes a foreign record into a mirror partition: the
// partition goes FAILED with ILLEGAL_STATE, stays FAILED after the daemon restarts (it does not copy past the
// foreign record), mirror resume is refused with a way out, and mirror restart refuses too, naming the first
// differing offset, because the mirror no longer equals its source there. The other partitions copy on exactly.
func TestControl_FailedPartitionStaysFailedAcrossARestart(t *testing.T) {
	src, dst := source(t), destination(t)
	topic := uniqueTopic(t, "keep-failed")
	createTopic(t, src, topic, 2, nil)
	produceMix(t, src, topic, 200, kgo.Lz4Compression(), 11)
	const linkName = "keep-failed-link"
	path := writeDaemonConfig(t, src, dst, linkName, nil)
	d := startDaemon(t, path)
	ctx := context.Background()
	if err := d.client.CreateMirror(ctx, linkName, adminapi.CreateMirrorRequest{SourceTopicName: topic}, false); err != nil {
		t.Fatal(err)
	}
	d.waitMirror(t, linkName, topic, "caught up", mirrorCaughtUpTo(sourceEnds(t, src, topic)))
	atFailure := partitionBounds(t, ctx, newClient(t, dst), topic)[1].end
	foreignWrite(t, dst, topic, 1)
	produceMix(t, src, topic, 200, kgo.Lz4Compression(), 12)
	failed := d.waitMirror(t, linkName, topic, "FAILED", partitionFailed(1))
	if code := failed.MirrorLags[1].ErrorCode; code != replicator.CodeIllegalState {
		t.Fatalf("partition 1 failed with %s %q, want ILLEGAL_STATE", code, failed.MirrorLags[1].ErrorMessage)
	}
	endAtFailure := partitionBounds(t, ctx, newClient(t, dst), topic)[1].end

	d.stop()
	produceMix(t, src, topic, 200, kgo.Lz4Compression(), 13)
	d = startDaemon(t, path)
	time.Sleep(3 * time.Second) // a partition that resumed would have copied by now
	m, err := d.client.Mirror(ctx, linkName, topic)
	if err != nil {
		t.Fatal(err)
	}
	if m.MirrorStatus != "FAILED" || m.MirrorTopicError != replicator.CodeIllegalState {
		t.Fatalf("after a restart the mirror is %s %s %q, want FAILED ILLEGAL_STATE", m.MirrorStatus, m.MirrorTopicError, m.ErrorMessage())
	}
	if end := partitionBounds(t, ctx, newClient(t, dst), topic)[1].end; end != endAtFailure {
		t.Fatalf("the failed partition moved from %d to %d after the restart: it copied past the foreign record", endAtFailure, end)
	}
	res, err := d.client.AlterMirrors(ctx, linkName, adminapi.OpResume, []string{topic}, adminapi.AlterOptions{})
	if err != nil || len(res) != 1 || !res[0].Failed() || !strings.Contains(res[0].Message(), "mirror restart") {
		t.Fatalf("resume of a FAILED mirror: %+v, %v; want a refusal that says how to recover", res, err)
	}
	res, err = d.client.AlterMirrors(ctx, linkName, adminapi.OpRestart, []string{topic}, adminapi.AlterOptions{})
	if err != nil || len(res) != 1 || !strings.Contains(res[0].Message(), fmt.Sprintf("differs from its source at offset %d", atFailure)) {
		t.Fatalf("restart of a diverged mirror: %+v, %v; want a refusal naming offset %d", res, err, atFailure)
	}

	// Partition 0 copied on; partition 1 equals the source up to the foreign record.
	srcCl, dstCl := newClient(t, src), newClient(t, dst)
	d.waitMirror(t, linkName, topic, "partition 0 caught up", func(m adminapi.Mirror) bool {
		return len(m.MirrorLags) == 2 && m.MirrorLags[0].MirrorLogEndOffset == sourceEnds(t, src, topic)[0]
	})
	b0 := partitionBounds(t, ctx, srcCl, topic)[0]
	compareRecords(t, 0, readRecords(t, ctx, srcCl, topic, 0, b0), readRecords(t, ctx, dstCl, topic, 0, b0))
	upTo := bounds{0, atFailure}
	compareRecords(t, 1, below(readRecords(t, ctx, srcCl, topic, 1, upTo), atFailure), below(readRecords(t, ctx, dstCl, topic, 1, upTo), atFailure))
}

// TestControl_RestartRecoversATransientlyRefusedMirror makes the destination refuse a batch (the mirror topic's
// max.message.bytes lowered by hand below a source batch): the partition goes FAILED with DESTINATION_REJECTED and
// the failure survives a daemon restart. Once the setting is back, mirror restart checks the partition against the
// source, copies again, and the mirror ends equal to the source record by record and batch by batch.
func TestControl_RestartRecoversATransientlyRefusedMirror(t *testing.T) {
	src, dst := source(t), destination(t)
	topic := uniqueTopic(t, "restart")
	createTopic(t, src, topic, 1, map[string]*string{"max.message.bytes": kadm.StringPtr("2097152")})
	produceMix(t, src, topic, 100, kgo.NoCompression(), 21)
	const linkName = "restart-link"
	path := writeDaemonConfig(t, src, dst, linkName, map[string]string{"topic.config.sync.ms": "600000"})
	d := startDaemon(t, path)
	ctx := context.Background()
	if err := d.client.CreateMirror(ctx, linkName, adminapi.CreateMirrorRequest{SourceTopicName: topic}, false); err != nil {
		t.Fatal(err)
	}
	d.waitMirror(t, linkName, topic, "caught up", mirrorCaughtUpTo(sourceEnds(t, src, topic)))
	adm := kadm.NewClient(newClient(t, dst))
	setMaxMessageBytes := func(v string) {
		t.Helper()
		resp, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "max.message.bytes", Value: kadm.StringPtr(v)}}, topic)
		if err == nil {
			_, err = resp.On(topic, nil)
		}
		if err != nil {
			t.Fatalf("set the mirror's max.message.bytes to %s: %v", v, err)
		}
	}
	setMaxMessageBytes("1048576")
	p, err := kgo.NewClient(append(src.ClientOpts(), kgo.ProducerBatchMaxBytes(2000000))...)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	large := make([]byte, 1500000)
	rand.New(rand.NewSource(5)).Read(large)
	if err := p.ProduceSync(ctx, &kgo.Record{Topic: topic, Key: []byte("large"), Value: large}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	failed := d.waitMirror(t, linkName, topic, "FAILED", partitionFailed(0))
	if failed.MirrorTopicError != replicator.CodeDestinationRejected || !strings.Contains(failed.ErrorMessage(), "MESSAGE_TOO_LARGE") {
		t.Fatalf("failed with %s %q, want DESTINATION_REJECTED for MESSAGE_TOO_LARGE", failed.MirrorTopicError, failed.ErrorMessage())
	}
	d.stop()
	d = startDaemon(t, path)
	if m, err := d.client.Mirror(ctx, linkName, topic); err != nil || m.MirrorStatus != "FAILED" {
		t.Fatalf("after a restart: %+v, %v; want FAILED", m, err)
	}
	// The setting is back: restart compares the partition with the source and copies again.
	setMaxMessageBytes("2097152")
	produceMix(t, src, topic, 100, kgo.NoCompression(), 22)
	res, err := d.client.AlterMirrors(ctx, linkName, adminapi.OpRestart, []string{topic}, adminapi.AlterOptions{})
	if err != nil || len(res) != 1 || res[0].Failed() {
		t.Fatalf("restart: %+v, %v", res, err)
	}
	d.waitMirror(t, linkName, topic, "caught up", mirrorCaughtUpTo(sourceEnds(t, src, topic)))
	requireMirrorEqual(t, src, dst, topic, topic)
}
