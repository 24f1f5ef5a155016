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
	"github.com/clusterlink/clusterlink/replicator/compare"
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

	// mirror verify names the foreign offset: first only on the mirror, then, once the source has its own record
	// there, a differing record.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	v, err := d.client.VerifyMirror(ctx, linkName, topic, adminapi.VerifyOptions{FromOffset: -1})
	if err != nil {
		t.Fatal(err)
	}
	if p, q := v.Partitions[0], v.Partitions[1]; v.Identical || p.OnlyOnMirror != 1 || p.FirstDifference != end || p.OffsetsDiffering != 0 ||
		q.OffsetsDiffering != 0 || q.OnlyOnMirror != 0 || q.OnlyOnSource != 0 {
		t.Fatalf("verify after the foreign write at %d: %+v", end, v)
	}
	foreignWriteValue(t, src, topic, 0, "source")
	v, err = d.client.VerifyMirror(ctx, linkName, topic, adminapi.VerifyOptions{FromOffset: -1})
	if err != nil {
		t.Fatal(err)
	}
	if p := v.Partitions[0]; v.Identical || p.OffsetsDiffering != 1 || p.FirstDifference != end || p.OnlyOnMirror != 0 || p.OffsetsCompared != end+1 {
		t.Fatalf("verify after the source wrote offset %d too: %+v", end, v)
	}

	// Forced, failover takes the topic as it is.
	res, err := d.client.AlterMirrors(ctx, linkName, adminapi.OpFailover, []string{topic}, adminapi.AlterOptions{Force: true})
	if err != nil || len(res) != 1 || res[0].Failed() {
		t.Fatalf("forced failover: %+v %v", res, err)
	}
	d.waitMirror(t, linkName, topic, "STOPPED", statusIs("STOPPED"))
	compareRecords(t, 1, readRecords(t, ctx, newClient(t, src), topic, 1, partitionBounds(t, ctx, newClient(t, src), topic)[1]),
		readRecords(t, ctx, newClient(t, dst), topic, 1, partitionBounds(t, ctx, newClient(t, dst), topic)[1]))
	srcCl, dstCl := newClient(t, src), newClient(t, dst)
	compareRecords(t, 0, below(readRecords(t, ctx, srcCl, topic, 0, bounds{0, end}), end),
		below(readRecords(t, ctx, dstCl, topic, 0, bounds{0, end}), end))
}

// Case 2: DeleteRecords on a mirror, the mirror topic deleted, partitions added to it.
func TestDivergence_ForeignDeleteRecordsDeleteTopicAndNewPartitions(t *testing.T) {
	t.Run("DeleteRecords", func(t *testing.T) {
		src, dst, d, linkName, topic := startDivergenceDaemon(t, "div-delrec")
		deleteRecordsBefore(t, dst, topic, map[int32]int64{0: 50})
		d.diverged(t, linkName, topic, 0, "starts at offset 50", "still has offsets from 0")
		d.requireStopRefused(t, linkName, topic)
		vctx, vcancel := context.WithTimeout(context.Background(), time.Minute)
		defer vcancel()
		v, err := d.client.VerifyMirror(vctx, linkName, topic, adminapi.VerifyOptions{FromOffset: -1})
		if err != nil {
			t.Fatal(err)
		}
		if p := v.Partitions[0]; v.Identical || p.OnlyOnSource != 50 || p.FirstDifference != 0 || p.OffsetsDiffering != 0 || p.FromOffset != 50 {
			t.Fatalf("verify after the foreign DeleteRecords below 50: %+v", v)
		}
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
		if len(committed) == 0 {
			t.Fatalf("partition %d: no committed record on the promoted topic", p)
		}
		for _, r := range committed {
			if string(r.Value) == "unfinished" {
				t.Fatalf("partition %d offset %d: a record of the unfinished source transaction is committed on the promoted topic", p, r.Offset)
			}
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

// The background verifier finds what the status audit cannot: a mirror topic that already held records when the
// mirror was added, equal to the source at its last offset (the resolve's check) but not in the middle. The
// partition fails as diverged, naming the offset, and the counters say what was compared.
func TestDivergence_BackgroundVerifierFindsADifferingRecord(t *testing.T) {
	src, dst := source(t), destination(t)
	topic := uniqueTopic(t, "sampled")
	createTopic(t, src, topic, 1, nil)
	createTopic(t, dst, topic, 1, nil)
	at := time.UnixMilli(time.Now().UnixMilli())
	write := func(c *kafkatest.Cluster, odd int) {
		cl, err := kgo.NewClient(append(c.ClientOpts(), kgo.DefaultProduceTopic(topic))...)
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		for i := 0; i < 10; i++ {
			v := fmt.Sprintf("v%d", i)
			if i == odd {
				v = "replaced"
			}
			if err := cl.ProduceSync(context.Background(), &kgo.Record{Key: []byte(fmt.Sprint(i)), Value: []byte(v), Timestamp: at}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	write(src, -1)
	write(dst, 3)
	l := startLink(t, src, dst, replicator.VerifySample(300*time.Millisecond, 1000))
	l.addMirror(t, replicator.MirrorSpec{MirrorTopic: topic})
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, _ := l.r.MirrorStatus(topic)
		if p := st.Partitions[0]; p.Status == replicator.StatusFailed {
			if p.ErrorCode != "ILLEGAL_STATE" || !p.Diverged || !strings.Contains(p.ErrorMessage, "at offset 3 (values differ") ||
				p.Counters.Divergences != 1 || p.Counters.VerifiedOffsets < 10 {
				t.Fatalf("partition 0: %+v", p)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not FAILED 30 s after the mirror was added: %+v", st.Partitions)
		}
		time.Sleep(50 * time.Millisecond)
	}
	ctx := context.Background()
	vs, err := compare.Topic(ctx, newClient(t, src), newClient(t, dst), topic, topic, compare.Options{FromOffset: -1})
	if err != nil || len(vs) != 1 || vs[0].Differing != 1 || vs[0].FirstDifference != 3 || vs[0].Compared != 10 {
		t.Fatalf("verify: %+v %v", vs, err)
	}
	// Every other offset equals the source.
	srcRecs := readRecords(t, ctx, newClient(t, src), topic, 0, bounds{0, 10})
	dstRecs := readRecords(t, ctx, newClient(t, dst), topic, 0, bounds{0, 10})
	compareRecords(t, 0, append(srcRecs[:3:3], srcRecs[4:]...), append(dstRecs[:3:3], dstRecs[4:]...))
}
