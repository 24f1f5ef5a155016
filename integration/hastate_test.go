package integration

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/clusterlink/clusterlink/controlplane/adminapi"
	"github.com/clusterlink/clusterlink/controlplane/state"
	"github.com/clusterlink/clusterlink/replicator"
)

// loopsHolder returns the daemon of ds that runs the link's loops (and so writes its state), and the others.
func loopsHolder(t *testing.T, g adminapi.LinkDaemons, ds ...*daemonChild) (*daemonChild, []*daemonChild) {
	t.Helper()
	var holder *daemonChild
	var others []*daemonChild
	for _, d := range ds {
		runs := false
		for _, m := range g.Members {
			if m.RunsLinkLoops && strings.HasSuffix(m.Name, fmt.Sprintf("/%d", d.cmd.Process.Pid)) {
				runs = true
			}
		}
		if runs {
			holder = d
		} else {
			others = append(others, d)
		}
	}
	if holder == nil {
		t.Fatalf("no daemon of %d runs the link's loops: %+v", len(ds), g.Members)
	}
	return holder, others
}

// waitListsMirror waits until the daemon lists the mirror topic.
func (d *daemonChild) waitListsMirror(t *testing.T, linkName, topic string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	var names []string
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		ms, err := d.client.Mirrors(ctx, linkName)
		cancel()
		names = names[:0]
		for _, m := range ms {
			names = append(names, m.MirrorTopicName)
		}
		if err == nil && slices.Contains(names, topic) {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("daemon %s does not list mirror %s within %s (it lists %v): the daemons of one link believe different states",
		d.name, topic, within, names)
}

// TestHA_DaemonsShareOneStateAndItsWriterMoves: two daemons share a link. A mirror created through the daemon that
// writes the link's state is known to the other at once (before, each daemon read the state topic at start only:
// the other never listed it, and never copied it, until restarted); the other refuses a state change with the name of
// the writer. The writer is then stopped past its session timeout: the other takes the writer over and creates a
// mirror; the stopped one comes back and learns it. Every mirror ends identical to its source, and the state topic
// names a live member as its writer and holds no rejected record.
func TestHA_DaemonsShareOneStateAndItsWriterMoves(t *testing.T) {
	src, dst := source(t), destination(t)
	c := haConfig{src: src, dst: dst, stateTopic: uniqueTopic(t, "_clusterlink-state"), linkName: "ha-state"}
	first := uniqueTopic(t, "ha-state-0")
	createTopic(t, src, first, 3, nil)
	c.topics = []string{first}
	produceMix(t, src, first, 300, kgo.Lz4Compression(), 71)
	d1 := startDaemonChild(t, c, "d1")
	d2 := startDaemonChild(t, c, "d2")
	g := d1.waitGroup(t, c.linkName, 2, 3, 90*time.Second)
	writer, others := loopsHolder(t, g, d1, d2)
	other := others[0]

	extra := uniqueTopic(t, "ha-state-1")
	createTopic(t, src, extra, 3, nil)
	produceMix(t, src, extra, 300, kgo.SnappyCompression(), 72)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	err := other.client.CreateMirror(ctx, c.linkName, adminapi.CreateMirrorRequest{SourceTopicName: extra}, false)
	cancel()
	if err == nil || !strings.Contains(err.Error(), "written by daemon") {
		t.Fatalf("create a mirror through the daemon that does not write the link's state: %v, want it refused naming the writer", err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 20*time.Second)
	err = writer.client.CreateMirror(ctx, c.linkName, adminapi.CreateMirrorRequest{SourceTopicName: extra}, false)
	cancel()
	if err != nil {
		t.Fatalf("create a mirror through the state's writer %s: %v", writer.name, err)
	}
	other.waitListsMirror(t, c.linkName, extra, 30*time.Second)
	other.waitGroup(t, c.linkName, 2, 6, 60*time.Second)
	waitDestinationEnds(t, src, dst, []string{first, extra}, 60*time.Second)
	// The new mirror's partitions are shared at a rebalance, which may move the loops (and the writer) too.
	writer, others = loopsHolder(t, d1.waitGroup(t, c.linkName, 2, 6, 60*time.Second), d1, d2)
	other = others[0]

	// A pause through the writer stops every daemon's partitions of the mirror (before, the other daemon never saw
	// it, and pause was refused on a shared link); a resume starts them again.
	alter := func(d *daemonChild, op, topic string) error {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		res, err := d.client.AlterMirrors(ctx, c.linkName, op, []string{topic}, adminapi.AlterOptions{})
		if err == nil && len(res) == 1 && res[0].Failed() {
			err = errors.New(res[0].Message())
		}
		return err
	}
	if err := alter(other, adminapi.OpPause, extra); err == nil || !strings.Contains(err.Error(), "written by daemon") {
		t.Fatalf("pause through the daemon that does not write the link's state: %v, want it refused naming the writer", err)
	}
	if err := alter(writer, adminapi.OpPause, extra); err != nil {
		t.Fatalf("pause through the writer: %v", err)
	}
	for _, d := range []*daemonChild{writer, other} {
		waitFor(t, d.name+" shows the mirror PAUSED", 10*time.Second, func() bool {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			m, err := d.client.Mirror(ctx, c.linkName, extra)
			return err == nil && m.MirrorStatus == "PAUSED"
		})
	}
	time.Sleep(2 * time.Second) // produces in flight at the pause are answered
	pausedAt := endOffsetsOf(t, newClient(t, dst), extra)
	produceMix(t, src, extra, 300, kgo.SnappyCompression(), 74)
	time.Sleep(5 * time.Second)
	if now := endOffsetsOf(t, newClient(t, dst), extra); !maps.Equal(now, pausedAt) {
		t.Fatalf("the paused mirror's partitions moved from %v to %v: a daemon did not follow the pause", pausedAt, now)
	}
	if err := alter(writer, adminapi.OpResume, extra); err != nil {
		t.Fatalf("resume through the writer: %v", err)
	}
	waitDestinationEnds(t, src, dst, []string{extra}, 60*time.Second)

	// The writer stops past its session timeout (10 s): the other takes its partitions, the loops and the writer.
	if err := writer.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	g = other.waitGroup(t, c.linkName, 1, 6, 60*time.Second)
	third := uniqueTopic(t, "ha-state-2")
	createTopic(t, src, third, 3, nil)
	produceMix(t, src, third, 300, kgo.ZstdCompression(), 73)
	ctx, cancel = context.WithTimeout(context.Background(), 20*time.Second)
	err = other.client.CreateMirror(ctx, c.linkName, adminapi.CreateMirrorRequest{SourceTopicName: third}, false)
	cancel()
	if err != nil {
		t.Fatalf("create a mirror through %s, which took the writer over: %v", other.name, err)
	}
	if err := writer.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	writer.waitListsMirror(t, c.linkName, third, 60*time.Second)
	g = writer.waitGroup(t, c.linkName, 2, 9, 90*time.Second)

	topics := []string{first, extra, third}
	waitDestinationEnds(t, src, dst, topics, 90*time.Second)
	for _, d := range []*daemonChild{d1, d2} {
		if failed := d.failedPartitions(t, c.linkName, topics); len(failed) > 0 {
			t.Fatalf("partitions FAILED on %s:\n%s", d.name, strings.Join(failed, "\n"))
		}
	}
	for _, topic := range topics {
		requireMirrorEqual(t, src, dst, topic, topic)
	}

	// Promote and failover through the writer: every daemon stops its partitions, the writer takes them all and
	// finishes alone; nothing is copied after.
	writer, _ = loopsHolder(t, g, d1, d2)
	if err := alter(writer, adminapi.OpPromote, extra); err != nil {
		t.Fatalf("promote through the writer: %v", err)
	}
	if err := alter(writer, adminapi.OpFailover, third); err != nil {
		t.Fatalf("failover through the writer: %v", err)
	}
	stoppedAt := map[string]map[int32]int64{}
	for _, topic := range []string{extra, third} {
		for _, d := range []*daemonChild{d1, d2} {
			waitFor(t, d.name+" shows "+topic+" STOPPED", 20*time.Second, func() bool {
				ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
				defer cancel()
				m, err := d.client.Mirror(ctx, c.linkName, topic)
				return err == nil && m.MirrorStatus == "STOPPED"
			})
		}
		stoppedAt[topic] = endOffsetsOf(t, newClient(t, dst), topic)
		produceMix(t, src, topic, 100, kgo.Lz4Compression(), 75)
	}
	time.Sleep(5 * time.Second)
	for _, topic := range []string{extra, third} {
		if now := endOffsetsOf(t, newClient(t, dst), topic); !maps.Equal(now, stoppedAt[topic]) {
			t.Fatalf("stopped mirror %s moved from %v to %v: a daemon still copies it", topic, stoppedAt[topic], now)
		}
	}

	st, err := state.Open(context.Background(), newClient(t, dst), c.stateTopic, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	w, ok := st.LinkWriter(c.linkName)
	live := false
	for _, m := range g.Members {
		live = live || m.MemberID == w.MemberID
	}
	if !ok || !live {
		t.Fatalf("the state topic names writer %+v, not a member of the group %+v", w, g.Members)
	}
	if rej := st.Rejected(); len(rej) > 0 {
		t.Fatalf("rejected state records: %+v", rej)
	}
	if got := len(st.Mirrors(c.linkName)); got != 3 {
		t.Fatalf("the state topic holds %d mirrors of the link, want 3", got)
	}
}

// TestState_ATakenOverWriterIsFencedByTheBroker: on a real broker, the daemon that takes a link's state writer
// over holds what the previous writer committed, and a later write of the previous writer is refused by the
// transaction coordinator: no record of it is in the topic, not even uncommitted.
func TestState_ATakenOverWriterIsFencedByTheBroker(t *testing.T) {
	ctx := context.Background()
	dst := destination(t)
	topic := uniqueTopic(t, "_clusterlink-state-fence")
	open := func() *state.Store {
		t.Helper()
		st, err := state.Open(ctx, newClient(t, dst), topic, state.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(st.Close)
		st.RequireWriter("l", true)
		return st
	}
	mirror := func(name string) state.Mirror {
		return state.Mirror{Link: "l", Topic: name, SourceTopic: name, Origin: state.OriginAPI, Status: replicator.StatusActive}
	}
	a, b := open(), open()
	if err := a.AcquireWriter(ctx, "l", state.Writer{Member: "a", MemberID: "a-1", Generation: 1}); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if err := a.PutMirror(ctx, mirror(fmt.Sprintf("m%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.AcquireWriter(ctx, "l", state.Writer{Member: "b", MemberID: "b-1", Generation: 2}); err != nil {
		t.Fatal(err)
	}
	if got := len(b.Mirrors("l")); got != 5 {
		t.Fatalf("the new writer holds %d mirrors when it starts, want the 5 the previous one committed", got)
	}
	err := a.PutMirror(ctx, mirror("zombie"))
	var fenced *state.FencedError
	if !errors.As(err, &fenced) {
		t.Fatalf("a write of the previous writer after the takeover: %v, want a FencedError", err)
	}
	if err := b.PutMirror(ctx, mirror("m5")); err != nil {
		t.Fatal(err)
	}
	// Nothing of the fenced write in the log, read uncommitted.
	rd, err := dst.Client(kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}),
		kgo.FetchIsolationLevel(kgo.ReadUncommitted()))
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	keys := map[string]bool{}
	for !keys["mirror/l/m5"] && rctx.Err() == nil {
		rd.PollFetches(rctx).EachRecord(func(r *kgo.Record) { keys[string(r.Key)] = true })
	}
	if !keys["mirror/l/m5"] {
		t.Fatalf("the new writer's record is not in the topic: %v", keys)
	}
	if keys["mirror/l/zombie"] {
		t.Fatal("the fenced write is in the state topic's log")
	}
	if c := open(); len(c.Mirrors("l")) != 6 {
		t.Fatalf("a store opened afterwards holds %d mirrors, want 6", len(c.Mirrors("l")))
	}
}

// waitFor polls cond every 100 ms until it holds, failing the test after within.
func waitFor(t *testing.T, what string, within time.Duration, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(within); !cond(); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", within, what)
		}
	}
}
