package link

import (
	"context"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/clusterlink/clusterlink/controlplane/state"
	"github.com/clusterlink/clusterlink/replicator"
)

// TestFailback_WhichSideHoldsAMirror: operations on a topic go to the side whose record is live (not STOPPED), and
// a failback to the side with a failback under way, then to the STOPPED one.
func TestFailback_WhichSideHoldsAMirror(t *testing.T) {
	const (
		active  = replicator.StatusActive
		stopped = replicator.StatusStopped
	)
	pending := &state.Failback{Op: OpReverseAndStart, ID: "x", Step: stepStart}
	for _, tc := range []struct {
		name               string
		forward, reverse   *state.Mirror
		holder, failbackOn string // "l", "rev" or "" (none)
	}{
		{name: "forward only", forward: &state.Mirror{Status: active}, holder: "l", failbackOn: "l"},
		{name: "reverse only", reverse: &state.Mirror{Status: active}, holder: "rev", failbackOn: "rev"},
		{name: "forward stopped, reverse copying", forward: &state.Mirror{Status: stopped}, reverse: &state.Mirror{Status: active},
			holder: "rev", failbackOn: "l"},
		{name: "forward stopped with a failback, reverse stored", forward: &state.Mirror{Status: stopped, Failback: pending},
			reverse: &state.Mirror{Status: active}, holder: "l", failbackOn: "l"},
		{name: "reverse stopped with a failback, forward stored", forward: &state.Mirror{Status: active},
			reverse: &state.Mirror{Status: stopped, Failback: pending}, holder: "l", failbackOn: "rev"},
		{name: "none", holder: "l", failbackOn: ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := kfake.NewCluster(kfake.NumBrokers(1))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			st, err := state.Open(context.Background(), cl, "state", state.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			l := &Link{name: "l", store: st}
			l.rev = &Link{name: state.ReverseLink("l"), store: st, reversed: true}
			for _, side := range []struct {
				m    *state.Mirror
				link string
			}{{tc.forward, l.name}, {tc.reverse, l.rev.name}} {
				if side.m == nil {
					continue
				}
				m := *side.m
				m.Link, m.Topic, m.SourceTopic, m.Origin = side.link, "t", "t", state.OriginAPI
				if err := st.PutMirror(context.Background(), m); err != nil {
					t.Fatal(err)
				}
			}
			name := func(x *Link) string {
				switch x {
				case l:
					return "l"
				case l.rev:
					return "rev"
				}
				return ""
			}
			if got := name(l.holder("t")); got != tc.holder {
				t.Errorf("holder: %s, want %s", got, tc.holder)
			}
			x, y, _, ok := l.failbackSides("t")
			if got := name(x); got != tc.failbackOn || ok != (tc.failbackOn != "") {
				t.Errorf("failback on %q (%v), want %q", got, ok, tc.failbackOn)
			}
			if ok && (x == y || y == nil) {
				t.Errorf("the other side of %s is %s", name(x), name(y))
			}
		})
	}
}
