package integration

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/clusterlink/clusterlink/replicator"
)

func waitMirror(t *testing.T, l *link, topic, what string, cond func(replicator.MirrorStatus) bool) replicator.MirrorStatus {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		st, ok := l.r.MirrorStatus(topic)
		if ok && cond(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("mirror %s: timed out waiting for %s: %+v", topic, what, st)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestMirror_FollowsSourcePartitionIncrease adds partitions to the source while mirroring.
func TestMirror_FollowsSourcePartitionIncrease(t *testing.T) {
	src, dst := source(t), destination(t)
	topic := uniqueTopic(t, "grow")
	createTopic(t, src, topic, 2, nil)
	produceMix(t, src, topic, 200, kgo.Lz4Compression(), 31)
	l := startLink(t, src, dst)
	l.addMirror(t, replicator.MirrorSpec{MirrorTopic: topic})
	waitCaughtUp(t, l, src, topic, topic)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := kadm.NewClient(newClient(t, src)).UpdatePartitions(ctx, 5, topic); err != nil {
		t.Fatalf("add source partitions: %v", err)
	}
	time.Sleep(2 * time.Second) // let producers see the new partitions
	produceMix(t, src, topic, 500, kgo.Lz4Compression(), 32)
	waitMirror(t, l, topic, "5 partitions", func(s replicator.MirrorStatus) bool { return len(s.Partitions) == 5 })
	waitCaughtUp(t, l, src, topic, topic)
	requireMirrorEqual(t, src, dst, topic, topic)
}

// TestMirror_DeletedSourceTopicIsReported deletes the source topic under a running mirror.
func TestMirror_DeletedSourceTopicIsReported(t *testing.T) {
	src, dst := source(t), destination(t)
	topic := uniqueTopic(t, "deleted")
	createTopic(t, src, topic, 1, nil)
	produceMix(t, src, topic, 100, kgo.NoCompression(), 33)
	l := startLink(t, src, dst)
	l.addMirror(t, replicator.MirrorSpec{MirrorTopic: topic})
	waitCaughtUp(t, l, src, topic, topic)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := kadm.NewClient(newClient(t, src)).DeleteTopics(ctx, topic); err != nil {
		t.Fatalf("delete the source topic: %v", err)
	}
	st := waitMirror(t, l, topic, "FAILED", func(s replicator.MirrorStatus) bool { return s.Status == replicator.StatusFailed })
	if st.ErrorCode != replicator.CodeSourceTopicMayBeDeleted {
		t.Fatalf("got %s %q, want SOURCE_TOPIC_MAY_BE_DELETED", st.ErrorCode, st.ErrorMessage)
	}
	// The mirror keeps what it copied.
	b := partitionBounds(t, ctx, newClient(t, dst), topic)
	if b[0].end != 100 {
		t.Fatalf("mirror ends at %d, want 100", b[0].end)
	}
}

// TestMirror_SourceRetentionOvertakesAStoppedLink: while the link is down, the source deletes records the mirror
// has not copied yet; on restart the mirror's log start moves to the source's and every offset still matches.
func TestMirror_SourceRetentionOvertakesAStoppedLink(t *testing.T) {
	src, dst := source(t), destination(t)
	topic := uniqueTopic(t, "overtaken")
	createTopic(t, src, topic, 2, nil)
	produceMix(t, src, topic, 1000, kgo.SnappyCompression(), 34)
	l := startLink(t, src, dst)
	l.addMirror(t, replicator.MirrorSpec{MirrorTopic: topic})
	waitCaughtUp(t, l, src, topic, topic)
	l.stop()
	l.stop = nil

	produceMix(t, src, topic, 1000, kgo.SnappyCompression(), 35)
	deleteRecordsBefore(t, src, topic, map[int32]int64{0: 777, 1: 1000})
	l2 := startLink(t, src, dst)
	l2.addMirror(t, replicator.MirrorSpec{MirrorTopic: topic})
	waitCaughtUp(t, l2, src, topic, topic)
	requireMirrorEqual(t, src, dst, topic, topic)
}
