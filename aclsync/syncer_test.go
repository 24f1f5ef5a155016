package aclsync

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap/zaptest"

	"github.com/clusterlink/clusterlink/config"
	"github.com/clusterlink/clusterlink/controlplane/task"
)

type memStore struct{ acls []config.ACL }

func (m *memStore) Load(context.Context) ([]config.ACL, error) { return slices.Clone(m.acls), nil }
func (m *memStore) Save(_ context.Context, acls []config.ACL) error {
	m.acls = slices.Clone(acls)
	return nil
}

func cluster(t *testing.T) *kgo.Client {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func acl(rt config.ResourceType, name string, pt config.PatternType, principal string, op config.Operation, perm config.Permission) config.ACL {
	return config.ACL{ResourceType: rt, ResourceName: name, PatternType: pt, Principal: principal, Host: "*", Operation: op, Permission: perm}
}

func mustCreate(t *testing.T, cl *kgo.Client, acls ...config.ACL) {
	t.Helper()
	if _, err := createACLs(context.Background(), cl, acls); err != nil {
		t.Fatal(err)
	}
}

func filters(t *testing.T, js string) config.ACLFilters {
	t.Helper()
	f, err := config.ParseACLFilters(js)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

const anyFilter = `{"aclFilters":[{"resourceFilter":{"resourceType":"any","patternType":"any"},"accessFilter":{"operation":"any","permissionType":"any"}}]}`

func set(t *testing.T, cl *kgo.Client) []string {
	t.Helper()
	acls, err := describeAll(context.Background(), cl)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, a := range acls {
		out = append(out, a.String())
	}
	slices.Sort(out)
	return out
}

func strs(acls ...config.ACL) []string {
	var out []string
	for _, a := range acls {
		out = append(out, a.String())
	}
	slices.Sort(out)
	return out
}

func TestSyncOnce_CreatesDeletesOnlyItsOwnAndSurvivesARestart(t *testing.T) {
	src, dst := cluster(t), cluster(t)
	readOrders := acl(config.ResourceTopic, "orders", config.PatternLiteral, "User:alice", config.OperationRead, config.PermissionAllow)
	groupApp := acl(config.ResourceGroup, "app-", config.PatternPrefixed, "User:alice", config.OperationRead, config.PermissionAllow)
	denyBob := acl(config.ResourceCluster, "kafka-cluster", config.PatternLiteral, "User:bob", config.OperationAlter, config.PermissionDeny)
	handMade := acl(config.ResourceTopic, "local", config.PatternLiteral, "User:carol", config.OperationWrite, config.PermissionAllow)
	mustCreate(t, src, readOrders, groupApp, denyBob)
	mustCreate(t, dst, handMade)
	store := &memStore{}
	newSyncer := func() *Syncer {
		return New(Config{Source: src, Destination: dst, Filters: filters(t, anyFilter), Interval: time.Hour,
			Store: store, Logger: zaptest.NewLogger(t)})
	}
	s := newSyncer()
	if err := s.SyncOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got, want := set(t, dst), strs(readOrders, groupApp, denyBob, handMade); !slices.Equal(got, want) {
		t.Fatalf("destination ACLs\n got %v\nwant %v", got, want)
	}
	if got := strs(store.acls...); !slices.Equal(got, strs(readOrders, groupApp, denyBob)) {
		t.Errorf("stored as created: %v", got)
	}

	// A restarted syncer knows what it created: an ACL gone from the source goes from the destination, the
	// hand-made one stays.
	if _, err := deleteACLs(context.Background(), src, []config.ACL{groupApp}); err != nil {
		t.Fatal(err)
	}
	s = newSyncer()
	if err := s.SyncOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got, want := set(t, dst), strs(readOrders, denyBob, handMade); !slices.Equal(got, want) {
		t.Fatalf("after the source dropped %v:\n got %v\nwant %v", groupApp, got, want)
	}
	if st := s.Status(); st.Deleted != 1 || st.Created != 0 {
		t.Errorf("status %+v", st)
	}
	// A hand-made ACL that the source also has is never claimed, so never deleted.
	mustCreate(t, src, handMade)
	if err := s.SyncOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := deleteACLs(context.Background(), src, []config.ACL{handMade}); err != nil {
		t.Fatal(err)
	}
	if err := s.SyncOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := set(t, dst); !slices.Contains(got, handMade.String()) {
		t.Errorf("a hand-made destination ACL was deleted: %v", got)
	}
}

func TestSyncOnce_FiltersAndPrefixes(t *testing.T) {
	src, dst := cluster(t), cluster(t)
	mirrored := acl(config.ResourceTopic, "orders", config.PatternLiteral, "User:alice", config.OperationRead, config.PermissionAllow)
	notMirrored := acl(config.ResourceTopic, "local", config.PatternLiteral, "User:alice", config.OperationRead, config.PermissionAllow)
	prefixed := acl(config.ResourceTopic, "pay-", config.PatternPrefixed, "User:alice", config.OperationRead, config.PermissionAllow)
	wildcard := acl(config.ResourceTopic, "*", config.PatternLiteral, "User:alice", config.OperationDescribe, config.PermissionAllow)
	bobs := acl(config.ResourceTopic, "orders", config.PatternLiteral, "User:bob", config.OperationRead, config.PermissionAllow)
	mustCreate(t, src, mirrored, notMirrored, prefixed, wildcard, bobs)
	s := New(Config{Source: src, Destination: dst, Interval: time.Hour, Prefix: "dr.", Store: &memStore{},
		Filters:  filters(t, `{"aclFilters":[{"resourceFilter":{"resourceType":"topic","patternType":"any"},"accessFilter":{"principal":"User:alice","operation":"any","permissionType":"any"}}]}`),
		IsMirror: func(topic string) bool { return topic == "dr.orders" }})
	if err := s.SyncOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	rename := func(a config.ACL, name string) config.ACL { a.ResourceName = name; return a }
	want := strs(rename(mirrored, "dr.orders"), notMirrored, rename(prefixed, "dr.pay-"), wildcard)
	if got := set(t, dst); !slices.Equal(got, want) {
		t.Errorf("destination ACLs\n got %v\nwant %v", got, want)
	}
}

func TestSyncOnce_ReportsMisconfiguration(t *testing.T) {
	var reported error
	s := New(Config{Source: cluster(t), Destination: cluster(t), Interval: time.Hour, Store: &memStore{},
		Report: func(err error) { reported = err }})
	err := s.SyncOnce(context.Background())
	if err == nil || reported != err {
		t.Fatalf("no filters: returned %v, reported %v; want the same error", err, reported)
	}
	if code := task.Code(err); code != "MISCONFIGURATION_ERROR" {
		t.Errorf("code %s, want MISCONFIGURATION_ERROR", code)
	}
}

func TestMirrorGuard(t *testing.T) {
	dst := cluster(t)
	for range 2 { // idempotent
		if err := ProtectMirror(context.Background(), dst, "orders"); err != nil {
			t.Fatal(err)
		}
	}
	if got := set(t, dst); !slices.Equal(got, strs(MirrorGuards("orders")...)) {
		t.Errorf("after ProtectMirror: %v", got)
	}
	for range 2 {
		if err := UnprotectMirror(context.Background(), dst, "orders"); err != nil {
			t.Fatal(err)
		}
	}
	if got := set(t, dst); len(got) != 0 {
		t.Errorf("after UnprotectMirror: %v", fmt.Sprint(got))
	}
}

// TestSyncOnce_NeverCopiesGuards: the read-only guards of the other side's mirrors (and its state topic's) are not
// copied, on a BIDIRECTIONAL link they would close the writable topics; a user's own DENY for one principal is.
func TestSyncOnce_NeverCopiesGuards(t *testing.T) {
	src, dst := cluster(t), cluster(t)
	denyBob := acl(config.ResourceTopic, "orders", config.PatternLiteral, "User:bob", config.OperationWrite, config.PermissionDeny)
	mustCreate(t, src, append(MirrorGuards("orders"), StateTopicGuard("_clusterlink-state"), denyBob)...)
	s := New(Config{Source: src, Destination: dst, Interval: time.Hour, Store: &memStore{}, Filters: filters(t, anyFilter)})
	if err := s.SyncOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got, want := set(t, dst), strs(denyBob); !slices.Equal(got, want) {
		t.Errorf("destination ACLs\n got %v\nwant %v", got, want)
	}
}
