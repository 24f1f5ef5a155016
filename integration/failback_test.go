package integration

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/clusterlink/clusterlink/controlplane/adminapi"
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
	d.waitMirror(t, linkName, topic, "caught up in reverse", mirrorCaughtUpTo(bEnds))
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
