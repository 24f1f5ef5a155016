package daemon

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/clusterlink/clusterlink/controlplane/adminapi"
	"github.com/clusterlink/clusterlink/controlplane/link"
)

// groupOptions make every link of the daemon a member of the group of the daemons with the same state topic and
// link: one daemon is a group of one (zero config); several share the link's partitions and loops.
func (d *Daemon) groupOptions(linkName string) *link.GroupOptions {
	name := d.opts.MemberName
	if name == "" {
		host, _ := os.Hostname()
		name = fmt.Sprintf("%s/%d", host, os.Getpid())
	}
	return &link.GroupOptions{
		ID:                link.GroupID(d.store.Topic(), linkName),
		MemberName:        name,
		SessionTimeout:    d.opts.GroupSessionTimeout,
		HeartbeatInterval: d.opts.GroupHeartbeatInterval,
	}
}

// LinkDaemons is the admin API's view of the daemons sharing a link (adminapi.DaemonsBackend).
func (d *Daemon) LinkDaemons(_ context.Context, linkName string) (adminapi.LinkDaemons, error) {
	l, err := d.currentLink(linkName)
	if err != nil {
		return adminapi.LinkDaemons{}, err
	}
	v, ok := l.Group()
	if !ok {
		return adminapi.LinkDaemons{}, adminapi.NotFound("link %s does not run (it is FAILED: %v), so it is in no group", linkName, l.Broken())
	}
	out := adminapi.LinkDaemons{Kind: "ClusterLinkDaemons", LinkName: linkName, GroupID: v.Group, Generation: v.Generation,
		LeaderID: v.Leader, MemberID: v.MemberID, Stable: v.Stable, Rebalances: v.Rebalances, Members: []adminapi.DaemonMember{}}
	for _, m := range v.Members {
		dm := adminapi.DaemonMember{MemberID: m.ID, Name: m.Name, Mirrors: []adminapi.MirrorPartitions{}}
		byTopic := map[string][]int32{}
		for _, u := range m.Units {
			if topic, p, ok := u.Partition(); ok {
				byTopic[topic] = append(byTopic[topic], p)
				dm.PartitionCount++
			} else if u.IsLoop() {
				dm.RunsLinkLoops = true
			}
		}
		topics := make([]string, 0, len(byTopic))
		for t := range byTopic {
			topics = append(topics, t)
		}
		sort.Strings(topics)
		for _, t := range topics {
			ps := byTopic[t]
			sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
			dm.Mirrors = append(dm.Mirrors, adminapi.MirrorPartitions{MirrorTopicName: t, Partitions: ps})
		}
		out.Members = append(out.Members, dm)
	}
	sort.Slice(out.Members, func(i, j int) bool { return out.Members[i].Name < out.Members[j].Name })
	return out, nil
}

var (
	descGroupGeneration = prometheus.NewDesc("clusterlink_link_group_generation",
		"The generation of the group of daemons sharing the link, as of this daemon's last assignment.", []string{"link"}, nil)
	descGroupMembers = prometheus.NewDesc("clusterlink_link_group_members",
		"The daemons in the group sharing the link.", []string{"link"}, nil)
	descGroupOwned = prometheus.NewDesc("clusterlink_link_group_owned_partitions",
		"The link's mirror partitions this daemon copies.", []string{"link"}, nil)
	descGroupLoops = prometheus.NewDesc("clusterlink_link_group_runs_link_loops",
		"1 if this daemon runs the link's loops (auto-create, topic config sync, offset sync, ACL sync).", []string{"link"}, nil)
	descGroupStable = prometheus.NewDesc("clusterlink_link_group_stable",
		"1 while this daemon holds an assignment of the current generation and its ownership lease holds.", []string{"link"}, nil)
	descGroupRebalances = prometheus.NewDesc("clusterlink_link_group_rebalances_total",
		"Rebalances this daemon took part in for the link.", []string{"link"}, nil)
	descGroupMoves = prometheus.NewDesc("clusterlink_link_group_moves_total",
		"Units of the link (mirror partitions, the loops) this daemon started or stopped because of an assignment.", []string{"link"}, nil)
	descMirrorBatchesLinkProducer = prometheus.NewDesc("clusterlink_mirror_batches_link_producer_total",
		"Batches that had no producer id written under the link's own producer id and sequence (records untouched), so that a second writer of one is de-duplicated by the broker.",
		mirrorLabels, nil)
	groupDescs = []*prometheus.Desc{descGroupGeneration, descGroupMembers, descGroupOwned, descGroupLoops, descGroupStable,
		descGroupRebalances, descGroupMoves}
)

// collectGroup exports a link's group as this daemon sees it.
func collectGroup(ch chan<- prometheus.Metric, l *link.Link) {
	v, ok := l.Group()
	if !ok {
		return
	}
	gauge := func(d *prometheus.Desc, f float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, f, l.Name())
	}
	counter := func(d *prometheus.Desc, n int64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(n), l.Name())
	}
	owned, loops := 0, 0.0
	for _, m := range v.Members {
		if m.ID != v.MemberID {
			continue
		}
		for _, u := range m.Units {
			if _, _, ok := u.Partition(); ok {
				owned++
			} else if u.IsLoop() {
				loops = 1
			}
		}
	}
	stable := 0.0
	if v.Stable {
		stable = 1
	}
	gauge(descGroupGeneration, float64(v.Generation))
	gauge(descGroupMembers, float64(len(v.Members)))
	gauge(descGroupOwned, float64(owned))
	gauge(descGroupLoops, loops)
	gauge(descGroupStable, stable)
	counter(descGroupRebalances, v.Rebalances)
	counter(descGroupMoves, v.Moves)
}

// refuseWhenShared refuses a link delete or a failback operation while other daemons run the link: they would go
// on running what it removes or reverses. A restart of FAILED partitions is this daemon's own; a pause, resume,
// promote or failover is stored by the link's state writer and followed by every daemon
// (controlplane/link/statewriter.go): they are allowed.
func refuseWhenShared(l *link.Link, op string) error {
	switch op {
	case "mirrors:" + adminapi.OpRestart, "mirrors:" + adminapi.OpPause, "mirrors:" + adminapi.OpResume,
		"mirrors:" + adminapi.OpPromote, "mirrors:" + adminapi.OpFailover:
		return nil
	}
	v, ok := l.Group()
	if !ok || len(v.Members) <= 1 {
		return nil
	}
	var names []string
	for _, m := range v.Members {
		if m.ID != v.MemberID {
			names = append(names, m.Name)
		}
	}
	sort.Strings(names)
	return adminapi.Conflict("%s on link %s: the link is shared by %d daemons (the others: %s), which would go on running "+
		"it; stop the other daemons first (clusterlink daemon list --link %s shows "+
		"them), then run it on the one left", op, l.Name(), len(v.Members), strings.Join(names, ", "), l.Name())
}
