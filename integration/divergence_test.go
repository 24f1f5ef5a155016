package integration

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/clusterlink/clusterlink/controlplane/adminapi"
	"github.com/clusterlink/clusterlink/integration/kafkatest"
	"github.com/clusterlink/clusterlink/replicator"
)

// This file replays the divergences of the issue "Never silently diverge" on real brokers: each must be seen within
// seconds, even with the source idle, as the mirror's state with ILLEGAL_STATE and the offsets, and promote and
// failover must refuse the diverged mirror. The offsets the mirror still shows are compared record by record.

// startDivergenceDaemon runs a daemon with one link mirroring a new two-partition topic of 200 records, caught up.
func startDivergenceDaemon(t *testing.T, prefix string) (src, dst *kafkatest.Cluster, d *runningDaemon, linkName, topic string) {
	t.Helper()
	src, dst = source(t), destination(t)
	topic = uniqueTopic(t, prefix)
	createTopic(t, src, topic, 2, nil)
	produceMix(t, src, topic, 200, kgo.Lz4Compression(), 41)
	linkName = prefix + "-link"
	d = startDaemon(t, writeDaemonConfig(t, src, dst, linkName, nil))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := d.client.CreateMirror(ctx, linkName, adminapi.CreateMirrorRequest{SourceTopicName: topic}, false); err != nil {
		t.Fatal(err)
	}
	d.waitMirror(t, linkName, topic, "caught up", mirrorCaughtUpTo(sourceEnds(t, src, topic)))
	return src, dst, d, linkName, topic
}

// diverged waits until partition p of the mirror is FAILED with ILLEGAL_STATE and a message holding every one of
// want, within 20 s (the daemon's status cycle is 1 s).
func (d *runningDaemon) diverged(t *testing.T, linkName, topic string, p int32, want ...string) adminapi.Mirror {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var m adminapi.Mirror
	var err error
	for time.Now().Before(deadline) {
		m, err = d.client.Mirror(context.Background(), linkName, topic)
		if err == nil && m.MirrorStatus == "FAILED" && len(m.MirrorLags) > int(p) && m.MirrorLags[p].ErrorCode == "ILLEGAL_STATE" {
			for _, w := range want {
				if !strings.Contains(m.MirrorLags[p].ErrorMessage, w) {
					t.Fatalf("partition %d message %q does not say %q", p, m.MirrorLags[p].ErrorMessage, w)
				}
			}
			return m
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("mirror %s partition %d not FAILED with ILLEGAL_STATE within 20 s: %+v (%v)", topic, p, m, err)
	return m
}

// requireStopRefused checks that promote and failover (without force) refuse the mirror because it diverged.
func (d *runningDaemon) requireStopRefused(t *testing.T, linkName, topic string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, op := range []string{adminapi.OpPromote, adminapi.OpFailover} {
		res, err := d.client.AlterMirrors(ctx, linkName, op, []string{topic}, adminapi.AlterOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(res) != 1 || !res[0].Failed() || !strings.Contains(res[0].Message(), "diverged") {
			t.Fatalf("%s of a diverged mirror answered %+v, want a refusal that says it diverged", op, res)
		}
	}
	if m, _ := d.client.Mirror(ctx, linkName, topic); m.MirrorStatus == "STOPPED" {
		t.Fatal("the diverged mirror was stopped")
	}
}

// Case 1: one foreign record in an idle mirror.
func TestDivergence_ForeignWriteIntoAnIdleMirror(t *testing.T) {
	src, dst, d, linkName, topic := startDivergenceDaemon(t, "div-write")
	end := sourceEnds(t, src, topic)[0]
	foreignWrite(t, dst, topic, 0)
	d.diverged(t, linkName, topic, 0, fmt.Sprintf("ends at offset %d", end+1), fmt.Sprintf("copied only up to offset %d", end))
	d.requireStopRefused(t, linkName, topic)

	// Forced, failover takes the topic as it is and says so in the mirror's partitions.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := d.client.AlterMirrors(ctx, linkName, adminapi.OpFailover, []string{topic}, adminapi.AlterOptions{Force: true})
	if err != nil || len(res) != 1 || res[0].Failed() {
		t.Fatalf("forced failover: %+v %v", res, err)
	}
	d.waitMirror(t, linkName, topic, "STOPPED", statusIs("STOPPED"))
	requireMirrorEqualUpTo(t, src, dst, topic) // every source offset; the foreign record is beyond
}

// Case 2: DeleteRecords on a mirror, the mirror topic deleted, partitions added to it.
func TestDivergence_ForeignDeleteRecordsDeleteTopicAndNewPartitions(t *testing.T) {
	t.Run("DeleteRecords", func(t *testing.T) {
		src, dst, d, linkName, topic := startDivergenceDaemon(t, "div-delrec")
		deleteRecordsBefore(t, dst, topic, map[int32]int64{0: 50})
		d.diverged(t, linkName, topic, 0, "starts at offset 50", "still has offsets from 0")
		d.requireStopRefused(t, linkName, topic)
		// What the mirror still shows equals the source: partition 0 from 50, partition 1 whole.
		ctx := context.Background()
		srcCl, dstCl := newClient(t, src), newClient(t, dst)
		for p, b := range partitionBounds(t, ctx, srcCl, topic) {
			db := partitionBounds(t, ctx, dstCl, topic)[p]
			compareRecords(t, int32(p), readRecords(t, ctx, srcCl, topic, int32(p), bounds{db.start, b.end}),
				readRecords(t, ctx, dstCl, topic, int32(p), db))
		}
	})
	t.Run("DeleteTopic", func(t *testing.T) {
		_, dst, d, linkName, topic := startDivergenceDaemon(t, "div-deltopic")
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := kadm.NewClient(newClient(t, dst)).DeleteTopic(ctx, topic); err != nil {
			t.Fatal(err)
		}
		m := d.diverged(t, linkName, topic, 0, "gone from the destination")
		if m.MirrorLags[1].ErrorCode != "ILLEGAL_STATE" {
			t.Fatalf("partition 1: %+v", m.MirrorLags[1])
		}
		d.requireStopRefused(t, linkName, topic)
	})
	t.Run("CreatePartitions", func(t *testing.T) {
		src, dst, d, linkName, topic := startDivergenceDaemon(t, "div-parts")
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		resp, err := kadm.NewClient(newClient(t, dst)).CreatePartitions(ctx, 1, topic)
		if err == nil {
			err = resp.Error()
		}
		if err != nil {
			t.Fatal(err)
		}
		d.diverged(t, linkName, topic, 0, "has 3 partitions on the destination", "partitions were added")
		d.requireStopRefused(t, linkName, topic)
		requireMirrorEqualUpTo(t, src, dst, topic)
	})
}

// Case 3: DeleteRecords on the source (what Kafka Streams does to its repartition topics every 30 s) moves the
// mirror's log start within a status cycle, with the source idle, and the mirror stays equal.
func TestDivergence_MirrorLogStartFollowsTheSource(t *testing.T) {
	src, dst := source(t), destination(t)
	topic := uniqueTopic(t, "follow-start")
	createTopic(t, src, topic, 2, nil)
	produceMix(t, src, topic, 300, kgo.ZstdCompression(), 43)
	l := startLink(t, src, dst)
	l.addMirror(t, replicator.MirrorSpec{MirrorTopic: topic})
	waitCaughtUp(t, l, src, topic, topic)

	deleteRecordsBefore(t, src, topic, map[int32]int64{0: 150, 1: 37})
	ctx := context.Background()
	dstCl := newClient(t, dst)
	deadline := time.Now().Add(15 * time.Second)
	for {
		b := partitionBounds(t, ctx, dstCl, topic)
		if b[0].start == 150 && b[1].start == 37 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("mirror log starts %+v 15 s after the source moved to 150 and 37", b)
		}
		time.Sleep(100 * time.Millisecond)
	}
	requireMirrorEqual(t, src, dst, topic, topic)
	st, _ := l.r.MirrorStatus(topic)
	for _, p := range st.Partitions {
		if p.Status != replicator.StatusActive || p.Lag != 0 {
			t.Fatalf("partition %d after the source's DeleteRecords: %s lag %d", p.Partition, p.Status, p.Lag)
		}
	}
}

// beginSourceTransaction writes n records to every partition of topic in a transaction it leaves open; the
// returned function aborts it.
func beginSourceTransaction(t *testing.T, c *kafkatest.Cluster, topic string, partitions int32, n int) func() {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(append(c.ClientOpts(), kgo.TransactionalID("open-"+topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.TransactionTimeout(5*time.Minute))...)
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for p := int32(0); p < partitions; p++ {
		for i := 0; i < n; i++ {
			cl.Produce(ctx, &kgo.Record{Topic: topic, Partition: p, Key: []byte(fmt.Sprintf("open-%d", i)), Value: []byte("unfinished")}, nil)
		}
	}
	if err := cl.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	end := func() {
		ectx, ecancel := context.WithTimeout(context.Background(), time.Minute)
		defer ecancel()
		if err := cl.EndTransaction(ectx, kgo.TryAbort); err != nil {
			t.Errorf("abort the source transaction: %v", err)
		}
		cl.Close()
	}
	t.Cleanup(func() {
		if cl != nil {
			end()
		}
	})
	return func() { end(); cl = nil }
}

// Case 4: failover while a source transaction is open. The promoted topic has no open transaction of the link: its
// last stable offset equals its high watermark at once, read_committed consumers see the committed records, and the
// unfinished transaction's records are not committed on it.
func TestDivergence_FailoverAbortsTheReplayedOpenTransaction(t *testing.T) {
	src, dst := source(t), destination(t)
	topic := uniqueTopic(t, "open-txn")
	createTopic(t, src, topic, 2, nil)
	produceMix(t, src, topic, 100, kgo.Lz4Compression(), 44)
	beginSourceTransaction(t, src, topic, 2, 10)
	const linkName = "open-txn-link"
	d := startDaemon(t, writeDaemonConfig(t, src, dst, linkName, nil))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := d.client.CreateMirror(ctx, linkName, adminapi.CreateMirrorRequest{SourceTopicName: topic}, false); err != nil {
		t.Fatal(err)
	}
	ends := sourceEnds(t, src, topic)
	d.waitMirror(t, linkName, topic, "caught up with the open transaction", mirrorCaughtUpTo(ends))
	if lso := lastStableOffsets(t, dst, topic); lso[0] >= ends[0] {
		t.Fatalf("the mirror's last stable offsets %v: the replayed transaction is not open (ends %v)", lso, ends)
	}

	d.alter(t, linkName, adminapi.OpFailover, topic)
	d.waitMirror(t, linkName, topic, "STOPPED", statusIs("STOPPED"))
	lso, hwm := lastStableOffsets(t, dst, topic), sourceEnds(t, dst, topic)
	if fmt.Sprint(lso) != fmt.Sprint(hwm) {
		t.Fatalf("after failover: last stable offsets %v, high watermarks %v: a transaction of the link is still open", lso, hwm)
	}
	for p := int32(0); p < 2; p++ {
		// read_uncommitted: every source offset, the unfinished transaction's records included.
		compareRecords(t, p, readIsolated(t, src, topic, p, ends[p], kgo.ReadUncommitted()),
			readIsolated(t, dst, topic, p, ends[p], kgo.ReadUncommitted()))
		// read_committed: the committed records only, on both sides (the source's are held back by its open
		// transaction, the mirror's unfinished ones are aborted).
		committed := readIsolated(t, dst, topic, p, hwm[p], kgo.ReadCommitted())
		compareRecords(t, p, readIsolated(t, src, topic, p, ends[p], kgo.ReadCommitted()), committed)
		if len(committed) != 100 {
			t.Fatalf("partition %d: %d committed records on the promoted topic, want the 100 before the open transaction", p, len(committed))
		}
	}
}

// Case 5: the daemon is down while the source's log start moves past an open transaction's start (retention, or
// DeleteRecords as Kafka Streams does): the restarted link ends the orphaned destination transaction, aligns the
// mirror to the source's log start and goes on, exact.
func TestDivergence_RestartAfterTheSourceLogStartPassedAnOpenTransaction(t *testing.T) {
	src, dst := source(t), destination(t)
	topic := uniqueTopic(t, "orphan-txn")
	createTopic(t, src, topic, 1, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	txn, err := kgo.NewClient(append(src.ClientOpts(), kgo.TransactionalID("orphan-"+topic), kgo.DefaultProduceTopic(topic))...)
	if err != nil {
		t.Fatal(err)
	}
	defer txn.Close()
	produce := func(prefix string, n int) {
		for i := 0; i < n; i++ {
			if err := txn.ProduceSync(ctx, &kgo.Record{Key: []byte(fmt.Sprintf("%s-%d", prefix, i)), Value: []byte(prefix)}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := txn.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	produce("first", 10) // offsets 0-9, in the open transaction
	l := startLink(t, src, dst)
	l.addMirror(t, replicator.MirrorSpec{MirrorTopic: topic})
	waitCaughtUp(t, l, src, topic, topic)
	l.stop()
	l.stop = nil

	produce("second", 10) // 10-19, same transaction
	if err := txn.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	if err := txn.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	produce("third", 20) // 21-40 after the commit marker at 20
	if err := txn.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	deleteRecordsBefore(t, src, topic, map[int32]int64{0: 25})

	l2 := startLink(t, src, dst, replicator.ResolveErrorAfter(2*time.Second))
	l2.addMirror(t, replicator.MirrorSpec{MirrorTopic: topic})
	waitCaughtUp(t, l2, src, topic, topic)
	// The batches are replayed transactions (producer fields rewritten): bounds and records are compared.
	sb, db := partitionBounds(t, ctx, newClient(t, src), topic), partitionBounds(t, ctx, newClient(t, dst), topic)
	if sb[0] != db[0] {
		t.Fatalf("source [%d, %d), mirror [%d, %d)", sb[0].start, sb[0].end, db[0].start, db[0].end)
	}
	ends := sourceEnds(t, src, topic)
	for _, level := range []kgo.IsolationLevel{kgo.ReadCommitted(), kgo.ReadUncommitted()} {
		compareRecords(t, 0, readIsolated(t, src, topic, 0, ends[0], level), readIsolated(t, dst, topic, 0, ends[0], level))
	}
	if lso := lastStableOffsets(t, dst, topic); lso[0] != ends[0] {
		t.Fatalf("mirror last stable offset %d, high watermark %d: the orphaned transaction is still open", lso[0], ends[0])
	}
}
