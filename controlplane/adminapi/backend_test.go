package adminapi

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
)

// fakeBackend is a small in-memory daemon: one link "my-link" with canned configs and mirrors, and a record of
// every change asked of it, so that tests see what reached the backend (and what validate_only kept from it).
type fakeBackend struct {
	mu      sync.Mutex
	links   map[string]map[string]string // link name -> its configs
	mirrors map[string][]Mirror          // link name -> its mirrors
	calls   []string                     // every change, as "op args validate=bool"
	// last request bodies that reached the backend
	lastMirror CreateMirrorRequest
}

func newFakeBackend() *fakeBackend {
	return &fakeBackend{
		links: map[string]map[string]string{"my-link": {"bootstrap.servers": "src-1:9092", "sasl.jaas.config": "secret"}},
		mirrors: map[string][]Mirror{"my-link": {
			{LinkName: "my-link", MirrorTopicName: "orders", SourceTopicName: "orders", NumPartitions: 2, MirrorStatus: "ACTIVE",
				StateTimeMs: 1795503068695, MirrorLags: []MirrorLag{
					{Partition: 0, Lag: 12, LastSourceFetchOffset: 1000, SourceHighWatermark: 1012, MirrorLogEndOffset: 1000, CatchUpSeconds: 0.5},
					{Partition: 1, LastSourceFetchOffset: 990, SourceHighWatermark: 990, MirrorLogEndOffset: 990}}},
			{LinkName: "my-link", MirrorTopicName: "payments", SourceTopicName: "payments", NumPartitions: 1, MirrorStatus: "STOPPED",
				StateTimeMs: 1795503070000, MirrorLags: []MirrorLag{{Partition: 0, LastSourceFetchOffset: 7}}},
			{LinkName: "my-link", MirrorTopicName: "clicks", SourceTopicName: "clicks", NumPartitions: 1, MirrorStatus: "FAILED",
				StateTimeMs: 1795503071000, MirrorTopicError: "ILLEGAL_STATE",
				MirrorLags:                  []MirrorLag{{Partition: 0, LastSourceFetchOffset: 3, ErrorCode: "ILLEGAL_STATE", ErrorMessage: "clicks[0]: expected offset 3, found 4"}},
				MirrorStateTransitionErrors: []TaskError{{ErrorCode: "ILLEGAL_STATE", ErrorMessage: "clicks[0]: expected offset 3, found 4"}}},
		}},
	}
}

func (f *fakeBackend) record(format string, args ...any) {
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
}

// took returns the changes recorded since the last call.
func (f *fakeBackend) took() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.calls
	f.calls = nil
	return c
}

func (f *fakeBackend) ClusterID() string { return "dst-cluster" }

func (f *fakeBackend) linkData(name string) Link {
	topics := []string{}
	for _, m := range f.mirrors[name] {
		topics = append(topics, m.MirrorTopicName)
	}
	return Link{Kind: "KafkaLinkData", Metadata: Metadata{Self: "/kafka/v3/clusters/dst-cluster/links/" + name},
		SourceClusterID: "src-cluster", DestinationClusterID: "dst-cluster", LinkName: name, ClusterLinkID: "id-" + name,
		LinkID: "id-" + name, TopicNames: topics, LinkState: "ACTIVE", LinkError: "NO_ERROR",
		Tasks: []Task{{TaskName: "AclSync", State: "IN_ERROR", Errors: []TaskError{{ErrorCode: "AUTHORIZATION_ERROR", ErrorMessage: "no DESCRIBE"}}},
			{TaskName: "AutoCreateMirror", State: "ACTIVE", Errors: []TaskError{}}}}
}

func (f *fakeBackend) Links(context.Context) ([]Link, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Link
	for _, name := range slices.Sorted(maps.Keys(f.links)) {
		out = append(out, f.linkData(name))
	}
	return out, nil
}

func (f *fakeBackend) Link(_ context.Context, name string) (Link, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.links[name]; !ok {
		return Link{}, NotFound("link %s not found", name)
	}
	return f.linkData(name), nil
}

func (f *fakeBackend) CreateLink(_ context.Context, name string, configs map[string]string, validateOnly bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.links[name]; ok {
		return Conflict("link %s already exists", name)
	}
	if configs["bootstrap.servers"] == "" {
		return BadRequest("bootstrap.servers: required")
	}
	f.record("create-link %s %d configs validate=%v", name, len(configs), validateOnly)
	if !validateOnly {
		f.links[name] = configs
	}
	return nil
}

func (f *fakeBackend) DeleteLink(_ context.Context, name string, force, validateOnly bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.links[name]; !ok {
		return NotFound("link %s not found", name)
	}
	for _, m := range f.mirrors[name] {
		if m.MirrorStatus != "STOPPED" && !force {
			return BadRequest("link %s has mirror topics that are not STOPPED (%s): promote or fail them over first, or delete with force", name, m.MirrorTopicName)
		}
	}
	f.record("delete-link %s force=%v validate=%v", name, force, validateOnly)
	if !validateOnly {
		delete(f.links, name)
		delete(f.mirrors, name)
	}
	return nil
}

func (f *fakeBackend) LinkConfigs(_ context.Context, name string) ([]Config, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	configs, ok := f.links[name]
	if !ok {
		return nil, NotFound("link %s not found", name)
	}
	out := []Config{{Name: "consumer.offset.sync.ms", Value: "30000", Source: "DEFAULT_CONFIG"},
		{Name: "cluster.link.prefix", Value: "", ReadOnly: true, Source: "DEFAULT_CONFIG"}}
	for _, k := range slices.Sorted(maps.Keys(configs)) {
		c := Config{Name: k, Value: configs[k], Source: "DYNAMIC_CLUSTER_LINK_CONFIG", Synonyms: []string{}}
		if strings.Contains(k, "jaas") {
			c.Value, c.Sensitive = "[hidden]", true
		}
		out = append(out, c)
	}
	return out, nil
}

func (f *fakeBackend) AlterLinkConfigs(_ context.Context, name string, set map[string]string, reset []string, validateOnly bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	configs, ok := f.links[name]
	if !ok {
		return NotFound("link %s not found", name)
	}
	keys := slices.Sorted(maps.Keys(set))
	for _, k := range keys {
		if k == "cluster.link.prefix" {
			return BadRequest("configs cluster.link.prefix cannot change once the link exists")
		}
	}
	f.record("alter-configs %s set=%v reset=%v validate=%v", name, keys, reset, validateOnly)
	if !validateOnly {
		for k, v := range set {
			configs[k] = v
		}
		for _, k := range reset {
			delete(configs, k)
		}
	}
	return nil
}

func (f *fakeBackend) Mirrors(_ context.Context, link string) ([]Mirror, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if link == "" {
		var out []Mirror
		for _, name := range slices.Sorted(maps.Keys(f.mirrors)) {
			out = append(out, f.mirrors[name]...)
		}
		return out, nil
	}
	if _, ok := f.links[link]; !ok {
		return nil, NotFound("link %s not found", link)
	}
	return slices.Clone(f.mirrors[link]), nil
}

func (f *fakeBackend) Mirror(_ context.Context, link, mirror string) (Mirror, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, m := range f.mirrors[link] {
		if m.MirrorTopicName == mirror {
			return m, nil
		}
	}
	return Mirror{}, NotFound("mirror topic %s not found on link %s", mirror, link)
}

func (f *fakeBackend) VerifyMirror(ctx context.Context, link, mirror string, _ VerifyOptions) (MirrorVerification, error) {
	m, err := f.Mirror(ctx, link, mirror)
	if err != nil {
		return MirrorVerification{}, err
	}
	return MirrorVerification{LinkName: link, MirrorTopicName: mirror, SourceTopicName: m.SourceTopicName, Identical: true}, nil
}

func (f *fakeBackend) CreateMirror(_ context.Context, link string, req CreateMirrorRequest, validateOnly bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.links[link]; !ok {
		return NotFound("link %s not found", link)
	}
	name := req.MirrorTopicName
	if name == "" {
		name = req.SourceTopicName
	}
	for _, m := range f.mirrors[link] {
		if m.MirrorTopicName == name {
			return Conflict("mirror topic %s already exists on link %s", name, link)
		}
	}
	f.lastMirror = req
	f.record("create-mirror %s %s validate=%v", link, name, validateOnly)
	if !validateOnly {
		source := req.SourceTopicName
		if source == "" {
			source = name
		}
		f.mirrors[link] = append(f.mirrors[link], Mirror{LinkName: link, MirrorTopicName: name, SourceTopicName: source,
			NumPartitions: 1, MirrorStatus: "PENDING_MIRROR", MirrorLags: []MirrorLag{{Partition: 0}}})
	}
	return nil
}

var opStatus = map[string]string{OpPromote: "STOPPED", OpFailover: "STOPPED", OpPause: "PAUSED", OpResume: "ACTIVE", OpRestart: "ACTIVE"}

func (f *fakeBackend) AlterMirrors(_ context.Context, link, op string, topics []string, o AlterOptions) ([]AlterMirrorResult, error) {
	validateOnly := o.ValidateOnly
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.links[link]; !ok {
		return nil, NotFound("link %s not found", link)
	}
	f.record("%s %s %v validate=%v", op, link, topics, validateOnly)
	var out []AlterMirrorResult
	for _, t := range topics {
		i := slices.IndexFunc(f.mirrors[link], func(m Mirror) bool { return m.MirrorTopicName == t })
		res := AlterMirrorResult{MirrorTopicName: t}
		switch {
		case i < 0:
			res.Fail(NotFound("mirror topic %s not found on link %s", t, link))
		case f.mirrors[link][i].MirrorStatus == "STOPPED":
			res.Fail(BadRequest("mirror topic %s is already STOPPED", t))
			res.MirrorLags = f.mirrors[link][i].MirrorLags
		default:
			res.MirrorLags = f.mirrors[link][i].MirrorLags
			if !validateOnly {
				f.mirrors[link][i].MirrorStatus = opStatus[op]
			}
		}
		out = append(out, res)
	}
	return out, nil
}

func (f *fakeBackend) LinkACLs(_ context.Context, link string) ([]ACL, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.links[link]; !ok {
		return nil, NotFound("link %s not found", link)
	}
	return []ACL{
		{Principal: "User:alice", Host: "*", Permission: "ALLOW", Operation: "READ", ResourceType: "TOPIC", ResourceName: "orders", PatternType: "LITERAL", Reason: "SYNCED"},
		{Principal: "User:*", Host: "*", Permission: "DENY", Operation: "WRITE", ResourceType: "TOPIC", ResourceName: "orders", PatternType: "LITERAL", Reason: "MIRROR_READ_ONLY"},
	}, nil
}

func (f *fakeBackend) LinkDaemons(_ context.Context, link string) (LinkDaemons, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.links[link]; !ok {
		return LinkDaemons{}, NotFound("link %s not found", link)
	}
	return LinkDaemons{Kind: "ClusterLinkDaemons", LinkName: link, GroupID: "clusterlink._clusterlink-state." + link,
		Generation: 3, LeaderID: "m1", MemberID: "m1", Stable: true, Rebalances: 2,
		Members: []DaemonMember{
			{MemberID: "m1", Name: "host-a/41", RunsLinkLoops: true, PartitionCount: 2,
				Mirrors: []MirrorPartitions{{MirrorTopicName: "orders", Partitions: []int32{0, 1}}}},
			{MemberID: "m2", Name: "host-b/42", PartitionCount: 1,
				Mirrors: []MirrorPartitions{{MirrorTopicName: "orders", Partitions: []int32{2}}}},
		}}, nil
}
