package integration

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/clusterlink/clusterlink/config"
	"github.com/clusterlink/clusterlink/controlplane/adminapi"
	"github.com/clusterlink/clusterlink/integration/kafkatest"
	"github.com/clusterlink/clusterlink/offsets"
	"github.com/clusterlink/clusterlink/replicator"
)

func commitOffsets(t *testing.T, cl *kgo.Client, group, topic string, offsets map[int32]int64) {
	t.Helper()
	offs := kadm.Offsets{}
	for p, at := range offsets {
		offs.Add(kadm.Offset{Topic: topic, Partition: p, At: at, LeaderEpoch: -1, Metadata: "from " + group})
	}
	resp, err := kadm.NewClient(cl).CommitOffsets(context.Background(), group, offs)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		t.Fatalf("commit %s on %s: %v", group, topic, err)
	}
}

func fetchCommitted(t *testing.T, cl *kgo.Client, group, topic string) map[int32]int64 {
	t.Helper()
	out := map[int32]int64{}
	resp, err := kadm.NewClient(cl).FetchOffsets(context.Background(), group)
	if err != nil {
		return out
	}
	resp.Each(func(o kadm.OffsetResponse) {
		if o.Topic == topic && o.Err == nil {
			out[o.Partition] = o.At
		}
	})
	return out
}

func waitCommitted(t *testing.T, cl *kgo.Client, group, topic string, want map[int32]int64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var got map[int32]int64
	for time.Now().Before(deadline) {
		got = fetchCommitted(t, cl, group, topic)
		if fmt.Sprint(got) == fmt.Sprint(want) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("destination group %s on %s: committed %v, want %v", group, topic, got, want)
}

// TestOffsetSync_DaemonCopiesAdmittedGroupsAndAConsumerResumesAfterFailover runs the daemon with consumer offset
// sync: groups the filter admits get the source's committed offsets on the destination (prefixed, clamped to the
// mirror's high watermark), an excluded group never appears, a group active on the destination is left alone, and
// after a failover a real group consumer on the destination reads the same next record it would have read on the
// source.
func TestOffsetSync_DaemonCopiesAdmittedGroupsAndAConsumerResumesAfterFailover(t *testing.T) {
	ctx := context.Background()
	src, dst := source(t), destination(t)
	topic := uniqueTopic(t, "offsets")
	createTopic(t, src, topic, 3, nil)
	produceMix(t, src, topic, 900, kgo.Lz4Compression(), 11)
	base := uniqueTopic(t, "g")
	app, batch, excluded, busy := base+"-app", base+"-batch", base+"-excluded", base+"-busy"
	const prefix = "dr."
	const linkName = "offsets-link"
	d := startDaemon(t, writeDaemonConfig(t, src, dst, linkName, map[string]string{
		"cluster.link.prefix":           prefix,
		"consumer.offset.sync.enable":   "true",
		"consumer.offset.sync.ms":       "1000",
		"consumer.group.prefix.enable":  "true",
		"consumer.offset.group.filters": fmt.Sprintf(`{"groupFilters":[{"name":"%s","patternType":"PREFIXED","filterType":"INCLUDE"},{"name":"%s","patternType":"LITERAL","filterType":"EXCLUDE"}]}`, base, excluded),
	}))
	mirror := prefix + topic
	if err := d.client.CreateMirror(ctx, linkName, adminapi.CreateMirrorRequest{SourceTopicName: topic}, false); err != nil {
		t.Fatal(err)
	}
	ends := sourceEnds(t, src, topic)
	d.waitMirror(t, linkName, mirror, "caught up", mirrorCaughtUpTo(ends))

	srcCl, dstCl := newClient(t, src), newClient(t, dst)
	// A consumer of busy is active on the destination: its offsets are its own.
	commitOffsets(t, dstCl, prefix+busy, mirror, map[int32]int64{0: 1})
	busyConsumer, err := kgo.NewClient(append(dst.ClientOpts(), kgo.ConsumerGroup(prefix+busy), kgo.ConsumeTopics(mirror),
		kgo.DisableAutoCommit())...)
	if err != nil {
		t.Fatal(err)
	}
	defer busyConsumer.Close()
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	busyConsumer.PollFetches(pctx)
	cancel()

	commitOffsets(t, srcCl, app, topic, map[int32]int64{0: 10, 1: 200, 2: ends[2]})
	commitOffsets(t, srcCl, batch, topic, map[int32]int64{1: ends[1] + 500}) // beyond the high watermark: clamped
	commitOffsets(t, srcCl, excluded, topic, map[int32]int64{0: 5})
	commitOffsets(t, srcCl, busy, topic, map[int32]int64{0: 99})

	waitCommitted(t, dstCl, prefix+app, mirror, map[int32]int64{0: 10, 1: 200, 2: ends[2]})
	waitCommitted(t, dstCl, prefix+batch, mirror, map[int32]int64{1: ends[1]})
	time.Sleep(2 * time.Second) // two more sync intervals
	if got := fetchCommitted(t, dstCl, prefix+excluded, mirror); len(got) != 0 {
		t.Errorf("excluded group reached the destination: %v", got)
	}
	if got := fetchCommitted(t, dstCl, excluded, mirror); len(got) != 0 {
		t.Errorf("excluded group reached the destination unprefixed: %v", got)
	}
	if got := fetchCommitted(t, dstCl, prefix+busy, mirror); got[0] != 1 {
		t.Errorf("group active on the destination overwritten: %v", got)
	}
	link, err := d.client.Link(ctx, linkName)
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range link.Tasks {
		if task.TaskName == "ConsumerOffsetSync" && task.State != "ACTIVE" {
			t.Errorf("offset sync task: %+v", task)
		}
	}

	// The app group moves on on the source; fail over; the last sync carries the move.
	commitOffsets(t, srcCl, app, topic, map[int32]int64{0: 20, 1: 200, 2: ends[2]})
	d.alter(t, linkName, adminapi.OpFailover, mirror)
	waitCommitted(t, dstCl, prefix+app, mirror, map[int32]int64{0: 20, 1: 200, 2: ends[2]})

	// A consumer of the app group reads the same next record on both clusters.
	next := func(c interface{ ClientOpts() []kgo.Opt }, group, topic string) *kgo.Record {
		cl, err := kgo.NewClient(append(c.ClientOpts(), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic), kgo.DisableAutoCommit())...)
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		for {
			fs := cl.PollFetches(pctx)
			if pctx.Err() != nil {
				t.Fatalf("group %s read nothing from %s", group, topic)
			}
			for _, r := range fs.Records() {
				if r.Partition == 0 {
					return r
				}
			}
		}
	}
	s, m := next(src, app, topic), next(dst, prefix+app, mirror)
	if s.Offset != 20 || m.Offset != 20 || string(s.Key) != string(m.Key) || string(s.Value) != string(m.Value) {
		t.Errorf("next record of partition 0: source offset %d key %q, destination offset %d key %q; want both at 20, equal",
			s.Offset, s.Key, m.Offset, m.Key)
	}
}

// TestOffsetSync_KIP848ConsumerGroups syncs a group that uses the KIP-848 consumer protocol on the source, then
// leaves it alone once a KIP-848 consumer of that group is active on the destination: the classic DescribeGroups
// does not describe such groups, so the sync must ask ConsumerGroupDescribe, skip the group, and not report an
// error.
func TestOffsetSync_KIP848ConsumerGroups(t *testing.T) {
	ctx := context.Background()
	src, dst := source(t), destination(t)
	topic := uniqueTopic(t, "kip848")
	createTopic(t, src, topic, 2, nil)
	produceMix(t, src, topic, 400, kgo.NoCompression(), 12)
	l := startLink(t, src, dst)
	l.addMirror(t, replicator.MirrorSpec{MirrorTopic: topic})
	waitCaughtUp(t, l, src, topic, topic)
	requireMirrorEqual(t, src, dst, topic, topic)
	group := uniqueTopic(t, "g848")
	srcCl, dstCl := newClient(t, src), newClient(t, dst)

	consume := func(c *kafkatest.Cluster, atLeast int) *kgo.Client {
		t.Helper()
		cl, err := kgo.NewClient(append(c.ClientOpts(), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
			kgo.ServerSideBalancer(), kgo.Balancers(kgo.RangeBalancer()), kgo.DisableAutoCommit(),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))...)
		if err != nil {
			t.Fatal(err)
		}
		pctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		for n := 0; n < atLeast; {
			fs := cl.PollRecords(pctx, 50)
			if pctx.Err() != nil {
				t.Fatalf("consume %s as group %s: %d records", topic, group, n)
			}
			n += fs.NumRecords()
		}
		return cl
	}
	// On the source the group is a KIP-848 consumer group with committed offsets, and empty once its consumer left.
	srcConsumer := consume(src, 100)
	if err := srcConsumer.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatalf("commit on the source: %v", err)
	}
	srcConsumer.Close()
	listed, err := kadm.NewClient(srcCl).ListGroupsByType(ctx, []string{"consumer"})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := listed[group]; !ok {
		t.Fatalf("%s is not a KIP-848 consumer group on the source: %v", group, listed)
	}
	want := fetchCommitted(t, srcCl, group, topic)
	if len(want) == 0 {
		t.Fatalf("the source group committed nothing")
	}

	filters, err := config.ParseGroupFilters(`{"groupFilters":[{"name":"*","patternType":"LITERAL","filterType":"INCLUDE"}]}`)
	if err != nil {
		t.Fatal(err)
	}
	syncer := offsets.New(offsets.Config{Source: srcCl, Destination: dstCl, Groups: filters, Interval: time.Hour,
		Topics: func() []offsets.Topic { return []offsets.Topic{{Source: topic, Mirror: topic}} }})
	if err := syncer.SyncOnce(ctx); err != nil {
		t.Fatalf("sync: %v", err)
	}
	if got := fetchCommitted(t, dstCl, group, topic); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("destination group %s committed %v, want the source's %v", group, got, want)
	}

	// A KIP-848 consumer of the group runs on the destination: its offsets are its own.
	dstConsumer := consume(dst, 1)
	defer dstConsumer.Close()
	described, err := kadm.NewClient(dstCl).DescribeConsumerGroups(ctx, group)
	if err != nil || described[group].Err != nil || len(described[group].Members) == 0 {
		t.Fatalf("the destination group has no active KIP-848 member: %v %+v", err, described[group])
	}
	commitOffsets(t, srcCl, group, topic, map[int32]int64{0: 190, 1: 190})
	if err := syncer.SyncOnce(ctx); err != nil {
		t.Fatalf("sync with the group active on the destination: %v", err)
	}
	if st := syncer.Status(); !slices.Contains(st.SkippedGroups, group) {
		t.Fatalf("the active destination group was not reported skipped: %+v", st)
	}
	if got := fetchCommitted(t, dstCl, group, topic); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("the active destination group's offsets changed to %v (had %v)", got, want)
	}
}
