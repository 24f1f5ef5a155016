package state

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/clusterlink/clusterlink/replicator"
)

func mirrorRec(topic string) Mirror {
	return Mirror{Link: "l", Topic: topic, SourceTopic: topic, Origin: OriginAPI, Status: replicator.StatusActive}
}

func openStore(t *testing.T, ctx context.Context, cl *kgo.Client) *Store {
	t.Helper()
	st, err := Open(ctx, cl, "state", Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	return st
}

// eventually waits up to 5 s for cond.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("after 5 s: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestStore_DaemonsOfOneTopicFollowEachOther: what one daemon writes, another that opened the topic before sees
// without a restart (before, a store read the topic at Open only, so two daemons each believed a different state).
func TestStore_DaemonsOfOneTopicFollowEachOther(t *testing.T) {
	ctx := context.Background()
	cl := newCluster(t)
	a, b := openStore(t, ctx, cl), openStore(t, ctx, cl)
	if err := a.PutMirror(ctx, mirrorRec("orders")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the second store does not have the mirror the first stored", func() bool {
		_, ok := b.Mirror("l", "orders")
		return ok
	})
	if err := b.DeleteMirror(ctx, "l", "orders"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the first store still has the mirror the second deleted", func() bool {
		_, ok := a.Mirror("l", "orders")
		return !ok
	})
	// A record read back never undoes a newer one written here meanwhile.
	for i := range 20 {
		m := mirrorRec("orders")
		m.StatusTimeMs = int64(i)
		if err := a.PutMirror(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(200 * time.Millisecond)
	if m, _ := a.Mirror("l", "orders"); m.StatusTimeMs != 19 {
		t.Fatalf("after 20 writes the store holds the one of time %d, want the last (19)", m.StatusTimeMs)
	}
}

// TestStore_ALinksWriterTakenOverIsFenced: the daemon that takes a link's writer over holds everything the
// previous writer committed as soon as it holds the writer, and the previous writer's later writes are refused by
// the broker (FencedError) and are in nobody's state, not even in a store opened afterwards.
func TestStore_ALinksWriterTakenOverIsFenced(t *testing.T) {
	ctx := context.Background()
	cl := newCluster(t)
	a, b := openStore(t, ctx, cl), openStore(t, ctx, cl)
	for _, s := range []*Store{a, b} {
		s.RequireWriter("l", true)
	}
	if err := a.AcquireWriter(ctx, "l", Writer{Member: "a", MemberID: "a-1", Generation: 1}); err != nil {
		t.Fatal(err)
	}
	for _, topic := range []string{"one", "two", "three"} {
		if err := a.PutMirror(ctx, mirrorRec(topic)); err != nil {
			t.Fatal(err)
		}
	}
	// b is not the writer: refused, with who is.
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	err := b.PutMirror(short, mirrorRec("four"))
	cancel()
	var nw *NotWriterError
	if !errors.As(err, &nw) || nw.Writer.Member != "a" {
		t.Fatalf("a write by a daemon without the writer: %v, want a NotWriterError naming a", err)
	}
	if err := b.AcquireWriter(ctx, "l", Writer{Member: "b", MemberID: "b-1", Generation: 2}); err != nil {
		t.Fatal(err)
	}
	if got := len(b.Mirrors("l")); got != 3 {
		t.Fatalf("the new writer holds %d mirrors when it starts writing, want the 3 the previous one committed", got)
	}
	err = a.PutMirror(ctx, mirrorRec("zombie"))
	var fenced *FencedError
	if !errors.As(err, &fenced) {
		t.Fatalf("a write of the previous writer after the takeover: %v, want a FencedError", err)
	}
	if a.HoldsWriter("l") {
		t.Fatal("the fenced store still says it holds the writer")
	}
	if err := b.PutMirror(ctx, mirrorRec("four")); err != nil {
		t.Fatal(err)
	}
	c := openStore(t, ctx, cl)
	if _, ok := c.Mirror("l", "zombie"); ok {
		t.Fatal("the fenced write is in the state topic")
	}
	if got := len(c.Mirrors("l")); got != 4 {
		t.Fatalf("a store opened afterwards holds %d mirrors, want 4", got)
	}
	if w, _ := c.LinkWriter("l"); w.Member != "b" || w.Generation != 2 {
		t.Fatalf("the topic names writer %+v, want b of generation 2", w)
	}
	eventually(t, "the fenced daemon does not follow the new writer", func() bool {
		_, ok := a.Mirror("l", "four")
		return ok
	})
}
