package group

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Unit is one piece of a link's work that exactly one member runs at a time: a mirror partition
// ("p/<mirror topic>/<partition>") or a run-once loop ("l/<name>"). A Kafka topic name never holds a "/".
type Unit string

// PartitionUnit is the unit of a mirror partition.
func PartitionUnit(topic string, partition int32) Unit {
	return Unit("p/" + topic + "/" + strconv.Itoa(int(partition)))
}

// LoopUnit is the unit of a run-once loop.
func LoopUnit(name string) Unit { return Unit("l/" + name) }

// Partition returns the mirror topic and partition of a partition unit; ok is false for any other unit.
func (u Unit) Partition() (topic string, partition int32, ok bool) {
	rest, found := strings.CutPrefix(string(u), "p/")
	if !found {
		return "", 0, false
	}
	i := strings.LastIndexByte(rest, '/')
	if i <= 0 {
		return "", 0, false
	}
	p, err := strconv.ParseInt(rest[i+1:], 10, 32)
	if err != nil || p < 0 {
		return "", 0, false
	}
	return rest[:i], int32(p), true
}

// IsLoop says whether u is a run-once loop.
func (u Unit) IsLoop() bool { return strings.HasPrefix(string(u), "l/") }

// claim is what one member brought to a rebalance: the units it runs now (from its previous assignment) and the
// load it measured on each.
type claim struct {
	member string
	owned  []Unit
	load   map[Unit]float64 // bytes/s
	// knows are the units the member can run (its own view of the work: a mirror created through another
	// daemon's API is not in it until it restarts); nil means every unit (tests).
	knows []Unit
}

// plan is the leader's answer to a rebalance.
type plan struct {
	// assigned is what each member runs in the new generation (every member has an entry).
	assigned map[string][]Unit
	// revoked are units taken off their owner in this generation: nobody runs them until the owner released them
	// and rejoined, then the next rebalance hands them out (the cooperative protocol: no two members ever run one).
	revoked map[string][]Unit
}

// balanceTolerance is how far apart (relative to the mean weight of a member) the heaviest and the lightest member
// may be before units move: small load changes must not make partitions ping-pong between members.
const balanceTolerance = 0.10

// assign computes a sticky, balanced plan for the work among the claims. A unit stays with the member that runs it
// unless that member is above its fair share; units nobody runs (new, or their owner left the group) go to the
// lightest members at once; units taken off a member are revoked and assigned only in the next generation; a loop
// unit is never taken off a live member (it brings the link's state writer with it). The
// weight of a unit is 1 plus its load relative to the mean load of all units (so partitions count when
// nothing is measured, and bytes/s count when something is); members move units while the heaviest and the lightest
// differ by more than one unit and balanceTolerance of the mean; loads of units no claim measures come from
// lastLoad. Every input order gives the same plan.
func assign(claims []claim, work []Unit, lastLoad map[Unit]float64) plan {
	sort.Slice(claims, func(i, j int) bool { return claims[i].member < claims[j].member })
	inWork := map[Unit]bool{}
	for _, u := range work {
		inWork[u] = true
	}
	units := make([]Unit, 0, len(inWork))
	for u := range inWork {
		units = append(units, u)
	}
	sort.Slice(units, func(i, j int) bool { return units[i] < units[j] })

	out := plan{assigned: map[string][]Unit{}, revoked: map[string][]Unit{}}
	if len(claims) == 0 {
		return out
	}
	load := map[Unit]float64{}
	for u, l := range lastLoad {
		load[u] = l
	}
	owner := map[Unit]string{}
	knows := map[string]map[Unit]bool{}
	for _, c := range claims {
		if c.knows != nil {
			knows[c.member] = map[Unit]bool{}
			for _, u := range c.knows {
				knows[c.member][u] = true
			}
		}
	}
	canRun := func(m string, u Unit) bool { return knows[m] == nil || knows[m][u] }
	for _, c := range claims {
		out.assigned[c.member] = nil
		for _, u := range c.owned {
			if l, ok := c.load[u]; ok {
				load[u] = l
			}
			if !inWork[u] || !canRun(c.member, u) {
				// No longer work, or no longer this member's (it stopped the mirror, nothing of it in flight, while
				// another member still has it: a promote finishing on the link's state writer): free.
				continue
			}
			if _, taken := owner[u]; taken {
				// Two members claim it (one of them came back from a pause with a stale assignment): the first keeps
				// it, the other must release it before anyone else could get it.
				out.revoked[c.member] = append(out.revoked[c.member], u)
				continue
			}
			owner[u] = c.member
		}
	}
	var sum float64
	for _, u := range units {
		sum += max(load[u], 0)
	}
	weight := func(u Unit) float64 {
		if sum == 0 {
			return 1
		}
		return 1 + max(load[u], 0)/(sum/float64(len(units)))
	}

	held := map[string][]Unit{}
	total := map[string]float64{}
	var all float64
	for _, u := range units {
		all += weight(u)
		if m, ok := owner[u]; ok {
			held[m] = append(held[m], u)
			total[m] += weight(u)
		}
	}
	mean := all / float64(len(claims))
	// Within one plan a member either gives units up or receives them, never both (that would be moves for nothing).
	giving, receiving := map[string]bool{}, map[string]bool{}
	// lightest is the lightest member that can run u (any unit when u is "").
	lightest := func(u Unit) string {
		best := ""
		for _, c := range claims {
			m := c.member
			if giving[m] || u != "" && !canRun(m, u) {
				continue
			}
			if best == "" || total[m] < total[best] || total[m] == total[best] && len(held[m]) < len(held[best]) {
				best = m
			}
		}
		return best
	}
	heaviest := func() string {
		best := ""
		for _, c := range claims {
			if m := c.member; !receiving[m] && (best == "" || total[m] > total[best]) {
				best = m
			}
		}
		return best
	}

	// Units nobody runs go to the lightest members, heaviest first.
	var free []Unit
	for _, u := range units {
		if _, ok := owner[u]; !ok {
			free = append(free, u)
		}
	}
	sort.SliceStable(free, func(i, j int) bool { return weight(free[i]) > weight(free[j]) })
	for _, u := range free {
		m := lightest(u)
		if m == "" {
			continue // no member can run it yet: it waits for one that can
		}
		held[m] = append(held[m], u)
		total[m] += weight(u)
	}

	// Then members above their fair share give units up (revoked, for the next generation), as long as a move makes
	// the heaviest and the lightest member closer. The planned receiver counts them already, so one rebalance
	// revokes no more than the next one can place.
	for {
		from, to := heaviest(), lightest("")
		if from == "" || to == "" || from == to {
			break
		}
		gap := total[from] - total[to]
		if gap <= max(1, balanceTolerance*mean) {
			break
		}
		best, bestAt := -1, 0.0
		for i, u := range held[from] {
			w := weight(u)
			if w >= gap || owner[u] != from || !canRun(to, u) || u.IsLoop() {
				// Would not make the pair closer, was free (a free unit never bounces within a plan), to cannot run
				// it, or it is a loop: a loop moves only when its member leaves (it holds the link's state writer).
				continue
			}
			// The closer the move brings the pair to equal, the better.
			if at := abs(gap - 2*w); best < 0 || at < bestAt {
				best, bestAt = i, at
			}
		}
		if best < 0 {
			break
		}
		u := held[from][best]
		held[from] = append(held[from][:best:best], held[from][best+1:]...)
		total[from] -= weight(u)
		total[to] += weight(u) // planned: it lands there in the next generation unless the group changes again
		giving[from], receiving[to] = true, true
		out.revoked[from] = append(out.revoked[from], u)
	}
	for m, us := range held {
		sort.Slice(us, func(i, j int) bool { return us[i] < us[j] })
		out.assigned[m] = us
	}
	for m := range out.revoked {
		sort.Slice(out.revoked[m], func(i, j int) bool { return out.revoked[m][i] < out.revoked[m][j] })
	}
	return out
}

func abs(f float64) float64 {
	if f < 0 {
		return -f
	}
	return f
}

// describe is a one-line summary of a plan for the log.
func (p plan) describe() string {
	var b strings.Builder
	members := make([]string, 0, len(p.assigned))
	for m := range p.assigned {
		members = append(members, m)
	}
	sort.Strings(members)
	for i, m := range members {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s: %d units", m, len(p.assigned[m]))
		if n := len(p.revoked[m]); n > 0 {
			fmt.Fprintf(&b, " (%d revoked)", n)
		}
	}
	return b.String()
}
