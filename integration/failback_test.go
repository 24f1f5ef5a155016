package integration

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/clusterlink/clusterlink/config"
	"github.com/clusterlink/clusterlink/controlplane/adminapi"
	"github.com/clusterlink/clusterlink/controlplane/state"
	"github.com/clusterlink/clusterlink/integration/kafkatest"
)

// This file proves failback (issue 16) against real brokers: the planned round trip (promote on B, reverse-and-start,
// promote back on A), the disaster-recovery case (failover while A still takes writes, truncate-and-restore), and
// each operation interrupted by a crash of the daemon.

// Confluent's names of the failback operations (REST: POST .../links/{link}/mirrors:<op>).
const (
	opReverseAndStart    = "reverse-and-start-mirror"
	opReverseAndPause    = "reverse-and-pause-mirror"
	opTruncateAndRestore = "truncate-and-restore"
)

// bidirectionalConfigs are the link configs of a failback test: the link may write to its source (A) once a mirror
// is reversed, and consumer offsets follow the mirrors both ways.
func bidirectionalConfigs(group string) map[string]string {
	return map[string]string{
		"link.mode":                     "BIDIRECTIONAL",
		"consumer.offset.sync.enable":   "true",
		"consumer.offset.sync.ms":       "1000",
		"consumer.offset.group.filters": `{"groupFilters":[{"name":"` + group + `","patternType":"LITERAL","filterType":"INCLUDE"}]}`,
		"topic.config.sync.ms":          "1000",
	}
}

// groupConsumer reads exactly n records of topic as a member of group, starting at the group's committed offsets
// (or the log start), commits what it read and leaves the group, so that the next reader continues after it.
func groupConsumer(t *testing.T, c *kafkatest.Cluster, group, topic string, n int) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(append(c.ClientOpts(), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.DisableAutoCommit(), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollRecords(ctx, 1)
		if err := fs.Err0(); err != nil {
			t.Fatalf("group %s reading %s after %d records: %v", group, topic, len(out), err)
		}
		out = append(out, fs.Records()...)
	}
	if err := cl.CommitRecords(ctx, out...); err != nil {
		t.Fatalf("group %s commit: %v", group, err)
	}
	cl.LeaveGroup()
	ranges := map[int32][2]int64{}
	for _, r := range out {
		rg, ok := ranges[r.Partition]
		if !ok {
			rg = [2]int64{r.Offset, r.Offset}
		}
		ranges[r.Partition] = [2]int64{min(rg[0], r.Offset), max(rg[1], r.Offset)}
	}
	t.Logf("group %s read %d records of %s: offsets %v", group, len(out), topic, ranges)
	return out
}

// requireEachOnce checks that the records a group read, in all its sessions, are every offset of every partition
// below ends exactly once: nothing re-read, nothing skipped.
func requireEachOnce(t *testing.T, read []*kgo.Record, ends map[int32]int64) {
	t.Helper()
	seen := map[int32]map[int64]int{}
	for _, r := range read {
		if seen[r.Partition] == nil {
			seen[r.Partition] = map[int64]int{}
		}
		seen[r.Partition][r.Offset]++
	}
	var total int64
	for p, end := range ends {
		total += end
		for o := int64(0); o < end; o++ {
			switch n := seen[p][o]; {
			case n == 0:
				t.Fatalf("the group skipped partition %d offset %d", p, o)
			case n > 1:
				t.Fatalf("the group read partition %d offset %d %d times", p, o, n)
			}
		}
	}
	if int64(len(read)) != total {
		t.Fatalf("the group read %d records, want %d", len(read), total)
	}
}

func sumEnds(ends map[int32]int64) (n int64) {
	for _, e := range ends {
		n += e
	}
	return n
}

// TestFailback_PlannedRoundTripCopiesNothingTwice: link A→B, producers on A; promote on B and move producers and a
// consumer group to B; reverse-and-start makes A's topic a mirror of B's from A's log end; more writes on B reach
// A; promote back on A and move the clients back. Every step ends with the record-by-record comparison, the group
// reads every record exactly once, and the reverse start copied none of the records A already had (A's log end
// equals B's, batch for batch).
func TestFailback_PlannedRoundTripCopiesNothingTwice(t *testing.T) {
	ctx := context.Background()
	a, b := source(t), destination(t)
	topic := uniqueTopic(t, "failback-planned")
	group := uniqueTopic(t, "failback-group")
	createTopic(t, a, topic, 3, nil)
	produceMix(t, a, topic, 1500, kgo.ZstdCompression(), 31)
	const linkName = "failback-planned"
	d := startDaemon(t, writeDaemonConfig(t, a, b, linkName, bidirectionalConfigs(group)))
	if err := d.client.CreateMirror(ctx, linkName, adminapi.CreateMirrorRequest{SourceTopicName: topic}, false); err != nil {
		t.Fatal(err)
	}
	d.waitMirror(t, linkName, topic, "caught up", mirrorCaughtUpTo(sourceEnds(t, a, topic)))
	requireMirrorEqual(t, a, b, topic, topic)

	// The group reads part of the topic on A; its offsets reach B.
	var read []*kgo.Record
	read = append(read, groupConsumer(t, a, group, topic, 700)...)
	committed := fetchCommitted(t, newClient(t, a), group, topic)
	if len(committed) == 0 {
		t.Fatal("the group committed nothing on A")
	}
	waitCommitted(t, newClient(t, b), group, topic, committed)

	// Planned migration: promote on B, producers and the group move to B.
	d.alter(t, linkName, adminapi.OpPromote, topic)
	d.waitMirror(t, linkName, topic, "STOPPED", statusIs("STOPPED"))
	requireMirrorEqual(t, a, b, topic, topic)
	aEndsAtReverse := sourceEnds(t, a, topic)
	produceMix(t, b, topic, 900, kgo.Lz4Compression(), 32)
	read = append(read, groupConsumer(t, b, group, topic, 900)...)

	// Reverse: A's topic mirrors B's from A's log end.
	res := d.alter(t, linkName, opReverseAndStart, topic)
	if len(res) != 1 || res[0].MirrorTopicName != topic {
		t.Fatalf("reverse-and-start answered %+v", res)
	}
	produceMix(t, b, topic, 600, kgo.SnappyCompression(), 33)
	bEnds := sourceEnds(t, b, topic)
	if m := d.waitMirror(t, linkName, topic, "caught up in reverse", mirrorCaughtUpTo(bEnds)); !m.Reversed {
		t.Fatalf("the reversed mirror is not shown as reversed: %+v", m)
	}
	requireMirrorEqual(t, b, a, topic, topic)
	// Nothing A had was copied again: each partition's records copied by the reverse mirror are exactly those
	// beyond A's log end at the reverse (the identical offsets and high watermarks above leave no room for more).
	var copied, expected int64
	for p, end := range sourceEnds(t, a, topic) {
		copied += end - aEndsAtReverse[p]
		expected += bEnds[p] - aEndsAtReverse[p]
	}
	if copied != expected {
		t.Fatalf("the reverse mirror added %d offsets to A, want %d (B's end minus A's end at the reverse)", copied, expected)
	}
	t.Logf("reverse-and-start copied %d offsets, none of the %d A already had", copied, sumEnds(aEndsAtReverse))
	read = append(read, groupConsumer(t, b, group, topic, 300)...)
	waitCommitted(t, newClient(t, a), group, topic, fetchCommitted(t, newClient(t, b), group, topic))

	// Back to A: promote there, the clients move back.
	d.alter(t, linkName, adminapi.OpPromote, topic)
	d.waitMirror(t, linkName, topic, "STOPPED on A", statusIs("STOPPED"))
	requireMirrorEqual(t, b, a, topic, topic)
	ends := sourceEnds(t, a, topic)
	read = append(read, groupConsumer(t, a, group, topic, int(sumEnds(ends))-len(read))...)
	requireEachOnce(t, read, ends)
	if err := newClient(t, a).ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte("back on A")}).FirstErr(); err != nil {
		t.Fatalf("produce to A's topic after the promote back: %v", err)
	}
}

// writeTransactions writes n transactions of size records each to every partition of topic on c with one
// transactional producer, committing all but the aborted ones (every abortEvery-th; 0: none).
func writeTransactions(t *testing.T, c *kafkatest.Cluster, topic, txnID string, n, size, abortEvery int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p, err := kgo.NewClient(append(c.ClientOpts(), kgo.TransactionalID(txnID), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))...)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for i := range n {
		if err := p.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		var recs []*kgo.Record
		for j := range size {
			recs = append(recs, &kgo.Record{Topic: topic, Key: []byte(fmt.Sprintf("txn-%s-%d-%d", txnID, i, j)),
				Value: []byte(fmt.Sprintf("value %d/%d", i, j)), Headers: []kgo.RecordHeader{{Key: "txn", Value: []byte(txnID)}}})
		}
		if err := p.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatalf("transactional produce to %s: %v", topic, err)
		}
		commit := kgo.TryCommit
		if abortEvery > 0 && i%abortEvery == abortEvery-1 {
			commit = kgo.TryAbort
		}
		if err := p.EndTransaction(ctx, commit); err != nil {
			t.Fatalf("end transaction on %s: %v", topic, err)
		}
	}
}

// produceKeyed writes n records with keys from a small set (a compacted topic's overwrites) to topic on c.
func produceKeyed(t *testing.T, c *kafkatest.Cluster, topic, tag string, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var recs []*kgo.Record
	for i := range n {
		recs = append(recs, &kgo.Record{Topic: topic, Key: []byte(fmt.Sprintf("key-%d", i%40)), Value: []byte(fmt.Sprintf("%s-%d", tag, i))})
	}
	if err := newClient(t, c).ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce to %s: %v", topic, err)
	}
}

// committedFrom reads the committed records of each partition of topic on c from the given offsets to its end:
// what truncate-and-restore must save.
func committedFrom(t *testing.T, c *kafkatest.Cluster, topic string, from map[int32]int64) map[string]*kgo.Record {
	t.Helper()
	out := map[string]*kgo.Record{}
	ends := sourceEnds(t, c, topic)
	for p, start := range from {
		for _, r := range readIsolated(t, c, topic, p, ends[p], kgo.ReadCommitted()) {
			if r.Offset >= start {
				out[fmt.Sprintf("%d/%d", p, r.Offset)] = r
			}
		}
	}
	return out
}

// requireSaved checks that the diverged topic holds each expected record exactly once, with its key, value,
// timestamp and headers, and headers naming its original topic, partition, offset and timestamp.
func requireSaved(t *testing.T, c *kafkatest.Cluster, topic, divergedTopic string, want map[string]*kgo.Record) {
	t.Helper()
	seen := map[string]bool{}
	for p, b := range partitionBounds(t, context.Background(), newClient(t, c), divergedTopic) {
		for _, r := range readIsolated(t, c, divergedTopic, int32(p), b.end, kgo.ReadCommitted()) {
			h := map[string]string{}
			var own []kgo.RecordHeader
			for _, hd := range r.Headers {
				if strings.HasPrefix(hd.Key, "clusterlink.diverged.") {
					h[hd.Key] = string(hd.Value)
				} else {
					own = append(own, hd)
				}
			}
			if h["clusterlink.diverged.topic"] != topic {
				continue // saved by another test's restore
			}
			key := h["clusterlink.diverged.partition"] + "/" + h["clusterlink.diverged.offset"]
			w, ok := want[key]
			switch {
			case !ok:
				t.Fatalf("%s holds %s partition/offset %s, which is not a divergent record", divergedTopic, topic, key)
			case seen[key]:
				t.Fatalf("%s holds %s partition/offset %s twice", divergedTopic, topic, key)
			case !bytes.Equal(w.Key, r.Key) || !bytes.Equal(w.Value, r.Value) || !w.Timestamp.Equal(r.Timestamp) ||
				fmt.Sprint(w.Headers) != fmt.Sprint(own) || int32(p) != w.Partition ||
				h["clusterlink.diverged.timestamp"] != fmt.Sprint(w.Timestamp.UnixMilli()):
				t.Fatalf("%s: the saved record of %s differs: saved %q=%q at %v %v, was %q=%q at %v %v", divergedTopic, key,
					r.Key, r.Value, r.Timestamp, r.Headers, w.Key, w.Value, w.Timestamp, w.Headers)
			}
			seen[key] = true
		}
	}
	if len(seen) != len(want) {
		t.Fatalf("%s holds %d of the %d divergent records of %s", divergedTopic, len(seen), len(want), topic)
	}
}

// requireTransactionalEqual compares a transactional topic on both clusters at both isolation levels, record by
// record, and with `mirror verify`.
func requireTransactionalEqual(t *testing.T, src, dst *kafkatest.Cluster, topic string) {
	t.Helper()
	se, de := sourceEnds(t, src, topic), sourceEnds(t, dst, topic)
	if fmt.Sprint(se) != fmt.Sprint(de) {
		t.Fatalf("%s ends at %v on the source, %v on the mirror", topic, se, de)
	}
	if s, d := lastStableOffsets(t, src, topic), lastStableOffsets(t, dst, topic); fmt.Sprint(s) != fmt.Sprint(d) {
		t.Fatalf("%s last stable offsets %v on the source, %v on the mirror", topic, s, d)
	}
	for p, end := range se {
		for _, level := range []kgo.IsolationLevel{kgo.ReadCommitted(), kgo.ReadUncommitted()} {
			compareRecords(t, p, readIsolated(t, src, topic, p, end, level), readIsolated(t, dst, topic, p, end, level))
		}
	}
	requireVerified(t, src, dst, topic, topic, false)
}

// TestFailback_DivergedOldSourceIsSavedAndRestored: failover on B while A still takes writes (A's extra records
// are the divergence, in a plain, a transactional and a compacted topic; in the transactional one also a
// transaction open at the failover, aborted on B and committed on A), writes on B, then truncate-and-restore:
// the dry run and the operation report each partition's truncation point and divergent count, A's divergent
// records are all in <topic>.diverged with their original partition, offset and timestamp, and A equals B record
// by record afterwards.
func TestFailback_DivergedOldSourceIsSavedAndRestored(t *testing.T) {
	ctx := context.Background()
	a, b := source(t), destination(t)
	plain, txn, compacted := uniqueTopic(t, "dr-plain"), uniqueTopic(t, "dr-txn"), uniqueTopic(t, "dr-compacted")
	createTopic(t, a, plain, 3, nil)
	createTopic(t, a, txn, 2, nil)
	createTopic(t, a, compacted, 2, map[string]*string{"cleanup.policy": ptr("compact")})
	produceMix(t, a, plain, 900, kgo.ZstdCompression(), 41)
	writeTransactions(t, a, txn, txn+"-a", 12, 5, 4)
	produceKeyed(t, a, compacted, "a", 300)
	const linkName = "failback-dr"
	d := startDaemon(t, writeDaemonConfig(t, a, b, linkName, bidirectionalConfigs("none")))
	topics := []string{plain, txn, compacted}
	for _, topic := range topics {
		if err := d.client.CreateMirror(ctx, linkName, adminapi.CreateMirrorRequest{SourceTopicName: topic}, false); err != nil {
			t.Fatal(err)
		}
	}
	// A transaction is open on A when the disaster strikes: B has its records in a replay the failover aborts; A
	// commits it afterwards, so its records are divergent from their first offset, below B's end.
	openAt := sourceEnds(t, a, txn)
	open, err := kgo.NewClient(append(a.ClientOpts(), kgo.TransactionalID(txn+"-open"), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))...)
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()
	if err := open.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for i := range 8 {
		if err := open.ProduceSync(ctx, &kgo.Record{Topic: txn, Key: []byte(fmt.Sprint("open-", i)), Value: []byte("open at the failover")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	for _, topic := range topics {
		d.waitMirror(t, linkName, topic, "caught up", mirrorCaughtUpTo(sourceEnds(t, a, topic)))
	}

	// Disaster: fail over on B; A keeps taking writes nobody will copy (the divergence), B takes its own.
	d.alter(t, linkName, adminapi.OpFailover, topics...)
	atFailover := map[string]map[int32]int64{}
	for _, topic := range topics {
		d.waitMirror(t, linkName, topic, "STOPPED", statusIs("STOPPED"))
		atFailover[topic] = sourceEnds(t, b, topic)
	}
	if err := open.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	truncatedTo := map[string]map[int32]int64{plain: atFailover[plain], compacted: atFailover[compacted], txn: openAt}
	produceMix(t, a, plain, 400, kgo.SnappyCompression(), 42)
	writeTransactions(t, a, txn, txn+"-a", 6, 3, 3)
	produceKeyed(t, a, compacted, "a-late", 90)
	produceMix(t, b, plain, 250, kgo.Lz4Compression(), 43)
	writeTransactions(t, b, txn, txn+"-b", 4, 4, 0)
	produceKeyed(t, b, compacted, "b", 70)
	divergent := map[string]map[string]*kgo.Record{}
	for _, topic := range topics {
		divergent[topic] = committedFrom(t, a, topic, truncatedTo[topic])
	}

	// A reverse-and-start is refused: A is not a prefix of B.
	res, err := d.client.AlterMirrors(ctx, linkName, opReverseAndStart, []string{plain}, adminapi.AlterOptions{})
	if err != nil || len(res) != 1 || !res[0].Failed() || !strings.Contains(res[0].Message(), "truncate-and-restore") {
		t.Fatalf("reverse-and-start of a diverged topic must be refused naming truncate-and-restore: %+v %v", res, err)
	}

	check := func(what string, rs []adminapi.AlterMirrorResult) {
		t.Helper()
		for _, r := range rs {
			if r.Failed() {
				t.Fatalf("%s %s: %s", what, r.MirrorTopicName, r.Message())
			}
			want := divergent[r.MirrorTopicName]
			if r.MessagesTruncated == nil || *r.MessagesTruncated != int64(len(want)) {
				t.Fatalf("%s %s: messages_truncated %v, want %d", what, r.MirrorTopicName, r.MessagesTruncated, len(want))
			}
			if r.DivergedTopicName != r.MirrorTopicName+".diverged" {
				t.Fatalf("%s %s: diverged topic %q", what, r.MirrorTopicName, r.DivergedTopicName)
			}
			for _, p := range r.PartitionLevelTruncationData {
				if want := truncatedTo[r.MirrorTopicName][p.PartitionID]; p.OffsetTruncatedTo != want {
					t.Fatalf("%s %s[%d]: truncated to %d, want %d (the failover was at %d)", what, r.MirrorTopicName, p.PartitionID,
						p.OffsetTruncatedTo, want, atFailover[r.MirrorTopicName][p.PartitionID])
				}
			}
			t.Logf("%s %s: %d divergent records, %+v", what, r.MirrorTopicName, *r.MessagesTruncated, r.PartitionLevelTruncationData)
		}
	}
	opts := adminapi.AlterOptions{ValidateOnly: true, IncludePartitionLevelTruncationData: true}
	dry, err := d.client.AlterMirrors(ctx, linkName, opTruncateAndRestore, topics, opts)
	if err != nil {
		t.Fatal(err)
	}
	check("dry run", dry)
	for _, topic := range topics {
		if m, err := d.client.Mirror(ctx, linkName, topic); err != nil || m.MirrorStatus != "STOPPED" {
			t.Fatalf("the dry run changed %s: %+v %v", topic, m, err)
		}
	}
	opts.ValidateOnly = false
	done, err := d.client.AlterMirrors(ctx, linkName, opTruncateAndRestore, topics, opts)
	if err != nil {
		t.Fatal(err)
	}
	check("truncate-and-restore", done)

	// B writes on; A follows as its mirror and equals it.
	produceMix(t, b, plain, 100, kgo.ZstdCompression(), 44)
	for _, topic := range topics {
		d.waitMirror(t, linkName, topic, "restored and caught up", mirrorCaughtUpTo(sourceEnds(t, b, topic)))
		requireSaved(t, a, topic, topic+".diverged", divergent[topic])
	}
	requireMirrorEqual(t, b, a, plain, plain)
	requireTransactionalEqual(t, b, a, txn)
	requireCompactedMirrorEqual(t, b, a, compacted, 2)
	requireVerified(t, b, a, compacted, compacted, false)
}

// TestFailback_CrashInTheMiddleFinishesAfterRestart kills the daemon (SIGKILL, the real binary) while
// truncate-and-restore saves a large divergent tail, and again while the restored topic copies; the restarted daemon
// finishes the operation by itself: every divergent record saved exactly once, and A equal to B record by record.
func TestFailback_CrashInTheMiddleFinishesAfterRestart(t *testing.T) {
	ctx := context.Background()
	a, b := source(t), destination(t)
	topic := uniqueTopic(t, "failback-crash")
	createTopic(t, a, topic, 2, nil)
	produceMix(t, a, topic, 2000, kgo.ZstdCompression(), 51)
	const linkName = "failback-crash"
	path := writeDaemonConfig(t, a, b, linkName, bidirectionalConfigs("none"))
	address, err := freeAddress()
	if err != nil {
		t.Fatal(err)
	}
	p := startDaemonProcess(t, path, address)
	client := adminapi.NewClient(p.address, "")
	if err := client.CreateMirror(ctx, linkName, adminapi.CreateMirrorRequest{SourceTopicName: topic}, false); err != nil {
		t.Fatal(err)
	}
	waitFor := func(what string, cond func(adminapi.Mirror) bool) adminapi.Mirror {
		t.Helper()
		deadline := time.Now().Add(2 * time.Minute)
		for {
			m, err := client.Mirror(ctx, linkName, topic)
			if err == nil && cond(m) {
				return m
			}
			if time.Now().After(deadline) {
				t.Fatalf("mirror %s not %s: %+v %v\n%s", topic, what, m, err, p.log())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitFor("caught up", mirrorCaughtUpTo(sourceEnds(t, a, topic)))
	if res, err := client.AlterMirrors(ctx, linkName, adminapi.OpFailover, []string{topic}, adminapi.AlterOptions{}); err != nil || res[0].Failed() {
		t.Fatalf("failover: %+v %v", res, err)
	}
	atFailover := sourceEnds(t, b, topic)
	// A large divergent tail on A, so that the save takes long enough to be cut.
	produceMix(t, a, topic, 60000, kgo.NoCompression(), 52)
	produceMix(t, b, topic, 3000, kgo.Lz4Compression(), 53)
	divergent := committedFrom(t, a, topic, atFailover)
	diverged := topic + ".diverged"

	go func() {
		_, _ = client.AlterMirrors(ctx, linkName, opTruncateAndRestore, []string{topic}, adminapi.AlterOptions{})
	}()
	// Kill once some, not all, divergent records are saved.
	deadline := time.Now().Add(2 * time.Minute)
	saved := int64(0)
	for {
		if ends, err := kadmEnds(ctx, newClient(t, a), diverged); err == nil {
			saved = sumEnds(ends)
		}
		if saved > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing saved to %s within 2 minutes\n%s", diverged, p.log())
		}
		time.Sleep(2 * time.Millisecond)
	}
	killProcess(t, p)
	ends, _ := kadmEnds(ctx, newClient(t, a), diverged)
	t.Logf("killed the daemon with %d of %d divergent records saved", sumEnds(ends), len(divergent))
	if sumEnds(ends) >= int64(len(divergent)) {
		t.Fatalf("the save finished before the kill (%d records): the test did not cut it", sumEnds(ends))
	}

	// Restarted, the daemon finishes the save, recreates A's topic and copies it; kill it again mid-copy.
	p = startDaemonProcess(t, path, address)
	client = adminapi.NewClient(p.address, "")
	waitFor("copying the restored topic", func(m adminapi.Mirror) bool {
		return m.MirrorStatus == "ACTIVE" && len(m.MirrorLags) > 0 && m.MirrorLags[0].MirrorLogEndOffset > 0
	})
	killProcess(t, p)
	p = startDaemonProcess(t, path, address)
	client = adminapi.NewClient(p.address, "")
	waitFor("restored and caught up", mirrorCaughtUpTo(sourceEnds(t, b, topic)))
	requireSaved(t, a, topic, diverged, divergent)
	requireMirrorEqual(t, b, a, topic, topic)
	if !strings.Contains(p.log(), "failback") && !strings.Contains(p.log(), "restore") {
		t.Logf("daemon log:\n%s", p.log())
	}
	p.terminate(t)
}

func killProcess(t *testing.T, p *daemonProcess) {
	t.Helper()
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-p.exited
}

func kadmEnds(ctx context.Context, cl *kgo.Client, topic string) (map[int32]int64, error) {
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, err
	}
	out := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) { out[o.Partition] = o.Offset })
	return out, nil
}

// TestFailback_ResumesFromEachStoredStep stops the daemon with a failback stored at the step a crash right after
// storing it would leave (reverse-and-start at start; truncate-and-restore at save, nothing saved yet), as the state
// topic holds it, and starts it again: it finishes both by itself, with the same result as uninterrupted.
func TestFailback_ResumesFromEachStoredStep(t *testing.T) {
	ctx := context.Background()
	a, b := source(t), destination(t)
	planned, diverged := uniqueTopic(t, "resume-reverse"), uniqueTopic(t, "resume-restore")
	for _, topic := range []string{planned, diverged} {
		createTopic(t, a, topic, 2, nil)
		produceMix(t, a, topic, 600, kgo.ZstdCompression(), 61)
	}
	const linkName = "failback-resume"
	path := writeDaemonConfig(t, a, b, linkName, bidirectionalConfigs("none"))
	d := startDaemon(t, path)
	for _, topic := range []string{planned, diverged} {
		if err := d.client.CreateMirror(ctx, linkName, adminapi.CreateMirrorRequest{SourceTopicName: topic}, false); err != nil {
			t.Fatal(err)
		}
		d.waitMirror(t, linkName, topic, "caught up", mirrorCaughtUpTo(sourceEnds(t, a, topic)))
	}
	d.alter(t, linkName, adminapi.OpPromote, planned)
	d.alter(t, linkName, adminapi.OpFailover, diverged)
	atFailover := sourceEnds(t, b, diverged)
	produceMix(t, a, diverged, 300, kgo.SnappyCompression(), 62)
	for _, topic := range []string{planned, diverged} {
		produceMix(t, b, topic, 200, kgo.Lz4Compression(), 63)
	}
	divergent := committedFrom(t, a, diverged, atFailover)
	d.stop()

	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := state.Open(ctx, newClient(t, b), cfg.State.Topic, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	put := func(topic string, fb *state.Failback) {
		t.Helper()
		m, ok := st.Mirror(linkName, topic)
		if !ok || m.Status != "STOPPED" {
			t.Fatalf("stored mirror %s: %+v", topic, m)
		}
		m.Failback = fb
		if err := st.PutMirror(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	put(planned, &state.Failback{Op: opReverseAndStart, ID: "resume-test", Step: "start"})
	id := topicID(t, ctx, newClient(t, a), diverged)
	fb := &state.Failback{Op: opTruncateAndRestore, ID: "resume-test", Step: "save", DivergedTopic: diverged + ".diverged",
		OldTopicID: kadm.TopicID(id).String()}
	for p, end := range atFailover {
		fb.Partitions = append(fb.Partitions, state.Truncation{Partition: p, TruncatedTo: end})
	}
	put(diverged, fb)

	d = startDaemon(t, path)
	for _, topic := range []string{planned, diverged} {
		m := d.waitMirror(t, linkName, topic, "failed back and caught up", mirrorCaughtUpTo(sourceEnds(t, b, topic)))
		if !m.Reversed {
			t.Fatalf("%s is not reversed: %+v", topic, m)
		}
		requireMirrorEqual(t, b, a, topic, topic)
	}
	requireSaved(t, a, diverged, diverged+".diverged", divergent)
}

// TestFailback_BackAndForthWithClusterLinkPrefix: with cluster.link.prefix the pair keeps its names in both
// directions (T on A, east.T on B); reversed twice, each direction copies only what the other side lacks and ends
// identical.
func TestFailback_BackAndForthWithClusterLinkPrefix(t *testing.T) {
	ctx := context.Background()
	a, b := source(t), destination(t)
	topic := uniqueTopic(t, "failback-prefix")
	onB := "east." + topic
	createTopic(t, a, topic, 2, nil)
	produceMix(t, a, topic, 500, kgo.ZstdCompression(), 71)
	const linkName = "failback-prefix"
	configs := bidirectionalConfigs("none")
	configs["cluster.link.prefix"] = "east."
	d := startDaemon(t, writeDaemonConfig(t, a, b, linkName, configs))
	if err := d.client.CreateMirror(ctx, linkName, adminapi.CreateMirrorRequest{SourceTopicName: topic}, false); err != nil {
		t.Fatal(err)
	}
	d.waitMirror(t, linkName, onB, "caught up", mirrorCaughtUpTo(sourceEnds(t, a, topic)))
	d.alter(t, linkName, adminapi.OpPromote, onB)
	produceMix(t, b, onB, 300, kgo.Lz4Compression(), 72)

	d.alter(t, linkName, opReverseAndStart, onB)
	m := d.waitMirror(t, linkName, topic, "reversed and caught up", mirrorCaughtUpTo(sourceEnds(t, b, onB)))
	if !m.Reversed || m.SourceTopicName != onB {
		t.Fatalf("the reversed mirror of %s: %+v", onB, m)
	}
	requireMirrorEqual(t, b, a, onB, topic)

	d.alter(t, linkName, adminapi.OpPromote, topic)
	d.waitMirror(t, linkName, topic, "STOPPED on A", statusIs("STOPPED"))
	produceMix(t, a, topic, 200, kgo.SnappyCompression(), 73)
	d.alter(t, linkName, opReverseAndPause, topic)
	m = d.waitMirror(t, linkName, onB, "forward again, paused", statusIs("PAUSED"))
	if m.Reversed || m.SourceTopicName != topic {
		t.Fatalf("the forward mirror of %s: %+v", topic, m)
	}
	d.alter(t, linkName, adminapi.OpResume, onB)
	d.waitMirror(t, linkName, onB, "forward again, caught up", mirrorCaughtUpTo(sourceEnds(t, a, topic)))
	requireMirrorEqual(t, a, b, topic, onB)
}
