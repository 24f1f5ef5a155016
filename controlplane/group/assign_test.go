package group

import (
	"reflect"
	"testing"
)

func partitions(topic string, from, to int32) []Unit {
	var out []Unit
	for p := from; p < to; p++ {
		out = append(out, PartitionUnit(topic, p))
	}
	return out
}

func TestUnit_PartitionRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		u     Unit
		topic string
		p     int32
		ok    bool
	}{
		{PartitionUnit("orders", 7), "orders", 7, true},
		{PartitionUnit("a.b_c-d", 0), "a.b_c-d", 0, true},
		{LoopUnit("link-loops"), "", 0, false},
		{Unit("p/x/-1"), "", 0, false},
		{Unit("p//3"), "", 0, false},
	} {
		topic, p, ok := tc.u.Partition()
		if topic != tc.topic || p != tc.p || ok != tc.ok {
			t.Errorf("%s: got %q %d %v, want %q %d %v", tc.u, topic, p, ok, tc.topic, tc.p, tc.ok)
		}
	}
}

func TestAssign(t *testing.T) {
	work12 := partitions("t", 0, 12)
	for _, tc := range []struct {
		name     string
		claims   []claim
		work     []Unit
		assigned map[string]int // units per member
		revoked  map[string]int
		check    func(t *testing.T, p plan)
	}{
		{
			name:     "a group of one gets everything",
			claims:   []claim{{member: "a"}},
			work:     work12,
			assigned: map[string]int{"a": 12},
		},
		{
			name:     "fresh members split evenly at once",
			claims:   []claim{{member: "a"}, {member: "b"}, {member: "c"}},
			work:     work12,
			assigned: map[string]int{"a": 4, "b": 4, "c": 4},
		},
		{
			name:     "a joining member gets nothing before the owner released: revoked first",
			claims:   []claim{{member: "a", owned: work12}, {member: "b"}},
			work:     work12,
			assigned: map[string]int{"a": 6, "b": 0},
			revoked:  map[string]int{"a": 6},
		},
		{
			name:     "the next generation, after the release, gives the revoked units to the new member",
			claims:   []claim{{member: "a", owned: work12[:6]}, {member: "b"}},
			work:     work12,
			assigned: map[string]int{"a": 6, "b": 6},
		},
		{
			name:     "a member gone: its units go to the survivors at once, the others stay put",
			claims:   []claim{{member: "a", owned: work12[:4]}, {member: "c", owned: work12[8:]}},
			work:     work12,
			assigned: map[string]int{"a": 6, "c": 6},
			check: func(t *testing.T, p plan) {
				for _, u := range work12[:4] {
					if !contains(p.assigned["a"], u) {
						t.Errorf("%s moved off a", u)
					}
				}
				for _, u := range work12[8:] {
					if !contains(p.assigned["c"], u) {
						t.Errorf("%s moved off c", u)
					}
				}
			},
		},
		{
			// The loops unit carries the link's state writer: moving it costs a takeover of the writer and waits
			// on whatever the loops were doing (a promote), so a rebalance never moves it off a live member.
			name:     "the loops unit stays with its live owner when that member gives units up",
			claims:   []claim{{member: "a", owned: append([]Unit{LoopUnit("link")}, work12...)}, {member: "b"}},
			work:     append([]Unit{LoopUnit("link")}, work12...),
			assigned: map[string]int{"a": 7, "b": 0},
			revoked:  map[string]int{"a": 6},
			check: func(t *testing.T, p plan) {
				if !contains(p.assigned["a"], LoopUnit("link")) || contains(p.revoked["a"], LoopUnit("link")) {
					t.Errorf("the loops unit moved off a: assigned %v, revoked %v", p.assigned["a"], p.revoked["a"])
				}
				if len(p.revoked["a"]) != 6 {
					t.Errorf("a gives up %d partitions, want 6", len(p.revoked["a"]))
				}
			},
		},
		{
			// A member that stopped a mirror (for a promote the state writer finishes) no longer knows its units but
			// still claims them from its last assignment: they go to the member that knows them at once.
			name: "units their owner no longer knows are free",
			claims: []claim{{member: "a", owned: work12[:6], knows: []Unit{}},
				{member: "b", owned: work12[6:], knows: work12}},
			work:     work12,
			assigned: map[string]int{"a": 0, "b": 12},
		},
		{
			name:     "balanced ownership is kept as it is",
			claims:   []claim{{member: "a", owned: work12[:6]}, {member: "b", owned: work12[6:]}},
			work:     work12,
			assigned: map[string]int{"a": 6, "b": 6},
			check: func(t *testing.T, p plan) {
				if !reflect.DeepEqual(p.assigned["a"], work12[:6]) {
					t.Errorf("a's units moved: %v", p.assigned["a"])
				}
			},
		},
		{
			name:     "a unit claimed twice stays with one member and is revoked from the other",
			claims:   []claim{{member: "a", owned: work12[:7]}, {member: "b", owned: work12[6:]}},
			work:     work12,
			assigned: map[string]int{"a": 6, "b": 5},
			revoked:  map[string]int{"a": 1, "b": 1},
		},
		{
			name: "load counts: two hot partitions on one member are split",
			claims: []claim{
				{member: "a", owned: work12[:6], load: map[Unit]float64{work12[0]: 1e6, work12[1]: 1e6}},
				{member: "b", owned: work12[6:]},
			},
			work:     work12,
			assigned: map[string]int{"a": 5, "b": 6},
			revoked:  map[string]int{"a": 1},
			check: func(t *testing.T, p plan) {
				if r := p.revoked["a"]; len(r) != 1 || (r[0] != work12[0] && r[0] != work12[1]) {
					t.Errorf("revoked %v, want one of the hot partitions", r)
				}
			},
		},
		{
			name:     "units no longer in the work are dropped",
			claims:   []claim{{member: "a", owned: append(partitions("gone", 0, 3), work12[:6]...)}, {member: "b", owned: work12[6:]}},
			work:     work12,
			assigned: map[string]int{"a": 6, "b": 6},
		},
		{
			name: "a unit goes only to a member that knows it (a mirror another daemon's API created)",
			claims: []claim{
				{member: "a", knows: append(partitions("t", 0, 4), partitions("new", 0, 4)...)},
				{member: "b", knows: partitions("t", 0, 4)},
			},
			work:     append(partitions("t", 0, 4), partitions("new", 0, 4)...),
			assigned: map[string]int{"a": 4, "b": 4},
			check: func(t *testing.T, p plan) {
				for _, u := range partitions("new", 0, 4) {
					if !contains(p.assigned["a"], u) {
						t.Errorf("%s not assigned to a, the only member that knows it", u)
					}
				}
			},
		},
		{
			name:     "the loops unit is one unit like a partition",
			claims:   []claim{{member: "a"}, {member: "b"}},
			work:     append(partitions("t", 0, 3), LoopUnit("link")),
			assigned: map[string]int{"a": 2, "b": 2},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := assign(tc.claims, tc.work, nil)
			for m, n := range tc.assigned {
				if len(p.assigned[m]) != n {
					t.Errorf("%s runs %d units, want %d (%s)", m, len(p.assigned[m]), n, p.describe())
				}
			}
			for m, n := range tc.revoked {
				if len(p.revoked[m]) != n {
					t.Errorf("%s has %d units revoked, want %d (%s)", m, len(p.revoked[m]), n, p.describe())
				}
			}
			if len(tc.revoked) == 0 && len(p.revoked) > 0 {
				t.Errorf("revoked %v, want none", p.revoked)
			}
			// Never two members on one unit, never a revoked unit assigned.
			seen := map[Unit]string{}
			for m, us := range p.assigned {
				for _, u := range us {
					if o, dup := seen[u]; dup {
						t.Errorf("%s assigned to %s and %s", u, o, m)
					}
					seen[u] = m
				}
			}
			for m, us := range p.revoked {
				for _, u := range us {
					if contains(p.assigned[m], u) {
						t.Errorf("%s revoked from %s and still assigned to it", u, m)
					}
				}
			}
			if tc.check != nil {
				tc.check(t, p)
			}
		})
	}
}

// TestAssign_ConvergesInTwoGenerations plays rebalances the way members answer them (release the revoked units,
// rejoin) and requires every unit to be run by exactly one member, balanced, within two generations of a change.
func TestAssign_ConvergesInTwoGenerations(t *testing.T) {
	work := append(partitions("a", 0, 12), append(partitions("b", 0, 12), partitions("c", 0, 12)...)...)
	owned := map[string][]Unit{"m1": work}
	for _, members := range [][]string{{"m1", "m2"}, {"m1", "m2", "m3"}, {"m2", "m3"}, {"m1", "m2", "m3"}} {
		var gens int
		for gens = 1; gens <= 3; gens++ {
			var claims []claim
			for _, m := range members {
				claims = append(claims, claim{member: m, owned: owned[m]})
			}
			p := assign(claims, work, nil)
			owned = p.assigned
			if len(p.revoked) == 0 {
				break
			}
		}
		if gens > 2 {
			t.Fatalf("members %v: not settled within two generations", members)
		}
		var n int
		for _, m := range members {
			if got := len(owned[m]); got < len(work)/len(members)-1 || got > len(work)/len(members)+1 {
				t.Errorf("members %v: %s runs %d of %d units", members, m, got, len(work))
			}
			n += len(owned[m])
		}
		if n != len(work) {
			t.Errorf("members %v: %d units run, want %d", members, n, len(work))
		}

	}
}

func contains(us []Unit, u Unit) bool {
	for _, x := range us {
		if x == u {
			return true
		}
	}
	return false
}
