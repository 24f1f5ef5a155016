package adminapi

import (
	"context"
	"net/http"
)

// This file is clusterlink's own view of the daemons sharing a link (its group on the destination cluster).

// LinkDaemons are the daemons sharing a link, as the answering daemon last saw its group.
type LinkDaemons struct {
	Kind     string `json:"kind" yaml:"kind"` // ClusterLinkDaemons
	LinkName string `json:"link_name" yaml:"link_name"`
	GroupID  string `json:"group_id" yaml:"group_id"`
	// Generation is the group's generation of the last assignment; every change of ownership starts a new one.
	Generation int32  `json:"generation" yaml:"generation"`
	LeaderID   string `json:"leader_id" yaml:"leader_id"`
	// MemberID is the answering daemon's member id.
	MemberID string `json:"member_id" yaml:"member_id"`
	// Stable: the answering daemon holds an assignment of the current generation and its lease holds.
	Stable     bool           `json:"stable" yaml:"stable"`
	Rebalances int64          `json:"rebalances" yaml:"rebalances"`
	Members    []DaemonMember `json:"members" yaml:"members"`
}

// DaemonMember is one daemon of the group and what it runs.
type DaemonMember struct {
	MemberID string `json:"member_id" yaml:"member_id"`
	// Name is the daemon's host and process id.
	Name string `json:"name" yaml:"name"`
	// RunsLinkLoops: this daemon runs the link's run-once loops (auto-create, topic config sync, offset sync, ACL
	// sync, the read-only guard).
	RunsLinkLoops  bool               `json:"runs_link_loops" yaml:"runs_link_loops"`
	PartitionCount int                `json:"partition_count" yaml:"partition_count"`
	Mirrors        []MirrorPartitions `json:"mirrors" yaml:"mirrors"`
}

// MirrorPartitions are partitions of one mirror topic.
type MirrorPartitions struct {
	MirrorTopicName string  `json:"mirror_topic_name" yaml:"mirror_topic_name"`
	Partitions      []int32 `json:"partitions" yaml:"partitions"`
}

// DaemonsBackend is the Backend of a daemon whose links are shared by a group of daemons.
type DaemonsBackend interface {
	LinkDaemons(ctx context.Context, link string) (LinkDaemons, error)
}

func (s *server) linkDaemons(w http.ResponseWriter, r *http.Request) {
	b, ok := s.b.(DaemonsBackend)
	if !ok {
		writeError(w, NotFound("this daemon does not report the daemons sharing its links"))
		return
	}
	out, err := b.LinkDaemons(r.Context(), r.PathValue("link"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// LinkDaemons returns the daemons sharing a link.
func (c *Client) LinkDaemons(ctx context.Context, link string) (LinkDaemons, error) {
	var out LinkDaemons
	return out, c.do(ctx, http.MethodGet, c.linkPath(link)+"/daemons", nil, nil, &out)
}
