package group

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap/zaptest"
)

// runner is what a daemon does with its assignment in these tests: it records which member runs which unit and
// fails the test if two members ever run one at the same time.
type runner struct {
	t       *testing.T
	mu      sync.Mutex
	running map[Unit]string
}

func (r *runner) apply(member string) func(context.Context, []Unit) error {
	return func(_ context.Context, units []Unit) error {
		r.mu.Lock()
		defer r.mu.Unlock()
		want := map[Unit]bool{}
		for _, u := range units {
			want[u] = true
		}
		for u, m := range r.running {
			if m == member && !want[u] {
				delete(r.running, u) // released: nothing in flight in this test
			}
		}
		for u := range want {
			if other, ok := r.running[u]; ok && other != member {
				r.t.Errorf("%s assigned to %s while %s still runs it", u, member, other)
			}
			r.running[u] = member
		}
		return nil
	}
}

func (r *runner) counts() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]int{}
	for _, m := range r.running {
		out[m]++
	}
	return out
}

func startMember(t *testing.T, c *kfake.Cluster, r *runner, name string, work []Unit) (*Member, context.CancelFunc, chan struct{}) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	m, err := New(Options{Client: cl, Group: "clusterlink-test", Name: name, Logger: zaptest.NewLogger(t),
		SessionTimeout: 6 * time.Second, HeartbeatInterval: 300 * time.Millisecond, RebalanceTimeout: 6 * time.Second,
		Work: func() []Unit { return work }, Apply: r.apply(name)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = m.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return m, cancel, done
}

// waitCounts waits until the members run the wanted numbers of units (which member runs which number is the
// assignor's choice by member id).
func waitCounts(t *testing.T, r *runner, want ...int) {
	t.Helper()
	sort.Ints(want)
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := r.counts()
		var ns []int
		for _, n := range got {
			ns = append(ns, n)
		}
		sort.Ints(ns)
		if fmt.Sprint(ns) == fmt.Sprint(want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("units per member %v, want %v", got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestMember_ThreeShareAndTakeOverWithoutOverlap joins three members one after the other, then stops one: the
// units spread evenly, every unit is always run by at most one member, and the survivors take the stopped one's
// units over.
func TestMember_ThreeShareAndTakeOverWithoutOverlap(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	work := append(partitions("a", 0, 12), LoopUnit("link"))
	r := &runner{t: t, running: map[Unit]string{}}
	m1, _, _ := startMember(t, c, r, "m1", work)
	waitCounts(t, r, 13)
	if err := m1.Lease(); err != nil {
		t.Fatalf("a stable member's lease: %v", err)
	}
	startMember(t, c, r, "m2", work)
	waitCounts(t, r, 7, 6)
	_, stop3, done3 := startMember(t, c, r, "m3", work)
	waitCounts(t, r, 5, 4, 4)
	v := m1.View()
	if len(v.Members) != 3 || v.Generation < 3 {
		t.Errorf("view %+v, want three members in generation 3 or later", v)
	}
	stop3()
	<-done3
	waitCounts(t, r, 7, 6)
}

// TestMember_ForeignGroupIsRefused: a group id already used by a consumer group is refused with a message that says
// what to do.
func TestMember_ForeignGroupIsRefused(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	consumer, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumerGroup("clusterlink-test"), kgo.ConsumeTopics("t"))
	if err != nil {
		t.Fatal(err)
	}
	defer consumer.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pollCtx, pollCancel := context.WithTimeout(ctx, 2*time.Second)
	consumer.PollFetches(pollCtx) // joins
	pollCancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	m, err := New(Options{Client: cl, Group: "clusterlink-test", Work: func() []Unit { return nil },
		Apply: func(context.Context, []Unit) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err = m.joinAndSync(ctx)
		var cannot *CannotJoinError
		if errors.As(err, &cannot) {
			if !strings.Contains(err.Error(), "another protocol type") {
				t.Errorf("message %q does not say why", err)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("join a consumer group's id: %v, want a CannotJoinError", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
