package integration

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/clusterlink/clusterlink/aclsync"
	"github.com/clusterlink/clusterlink/config"
	"github.com/clusterlink/clusterlink/controlplane/adminapi"
	"github.com/clusterlink/clusterlink/controlplane/task"
	"github.com/clusterlink/clusterlink/integration/kafkatest"
)

const superJAAS = `org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="admin-secret";`

// writeSecureDaemonConfig writes a daemon file for a SASL source and a SASL destination, both as the super user.
func writeSecureDaemonConfig(t *testing.T, src, dst *kafkatest.Cluster, linkName string, linkConfigs map[string]string) string {
	t.Helper()
	var b strings.Builder
	sasl := func(indent string) {
		fmt.Fprintf(&b, "%ssecurity.protocol: SASL_PLAINTEXT\n%ssasl.mechanism: PLAIN\n%ssasl.jaas.config: '%s'\n", indent, indent, indent, superJAAS)
	}
	fmt.Fprintf(&b, "destination:\n  bootstrap.servers: %s\n", strings.Join(dst.BootstrapServers(), ","))
	sasl("  ")
	fmt.Fprintf(&b, "admin:\n  listen: 127.0.0.1:0\nstate:\n  topic: %s\n", uniqueTopic(t, "_clusterlink-state"))
	fmt.Fprintf(&b, "links:\n  - name: %s\n    configs:\n      bootstrap.servers: %s\n", linkName, strings.Join(src.BootstrapServers(), ","))
	sasl("      ")
	for k, v := range linkConfigs {
		fmt.Fprintf(&b, "      %s: '%s'\n", k, v)
	}
	path := filepath.Join(t.TempDir(), "clusterlink.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func createACLs(t *testing.T, cl *kgo.Client, acls ...config.ACL) {
	t.Helper()
	req := kmsg.NewPtrCreateACLsRequest()
	for _, a := range acls {
		c := kmsg.NewCreateACLsRequestCreation()
		c.ResourceType, c.ResourceName = kmsg.ACLResourceType(a.ResourceType), a.ResourceName
		c.ResourcePatternType = kmsg.ACLResourcePatternType(a.PatternType)
		c.Principal, c.Host = a.Principal, a.Host
		c.Operation, c.PermissionType = kmsg.ACLOperation(a.Operation), kmsg.ACLPermissionType(a.Permission)
		req.Creations = append(req.Creations, c)
	}
	resp, err := req.RequestWith(context.Background(), cl)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range resp.Results {
		if err := kerr.ErrorForCode(r.ErrorCode); err != nil {
			t.Fatalf("create ACLs: %v", err)
		}
	}
}

func deleteACL(t *testing.T, cl *kgo.Client, a config.ACL) {
	t.Helper()
	req := kmsg.NewPtrDeleteACLsRequest()
	f := kmsg.NewDeleteACLsRequestFilter()
	f.ResourceType, f.ResourceName = kmsg.ACLResourceType(a.ResourceType), kmsg.StringPtr(a.ResourceName)
	f.ResourcePatternType = kmsg.ACLResourcePatternType(a.PatternType)
	f.Principal, f.Host = kmsg.StringPtr(a.Principal), kmsg.StringPtr(a.Host)
	f.Operation, f.PermissionType = kmsg.ACLOperation(a.Operation), kmsg.ACLPermissionType(a.Permission)
	req.Filters = append(req.Filters, f)
	if _, err := req.RequestWith(context.Background(), cl); err != nil {
		t.Fatal(err)
	}
}

// aclsContaining lists a cluster's ACLs whose resource name contains token (this test's resources only).
func aclsContaining(t *testing.T, cl *kgo.Client, token string) []string {
	t.Helper()
	req := kmsg.NewPtrDescribeACLsRequest()
	req.ResourceType, req.ResourcePatternType = kmsg.ACLResourceTypeAny, kmsg.ACLResourcePatternTypeAny
	req.Operation, req.PermissionType = kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
	resp, err := req.RequestWith(context.Background(), cl)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range resp.Resources {
		if !strings.Contains(r.ResourceName, token) {
			continue
		}
		for _, e := range r.ACLs {
			out = append(out, config.ACL{ResourceType: config.ResourceType(r.ResourceType), ResourceName: r.ResourceName,
				PatternType: config.PatternType(r.ResourcePatternType), Principal: e.Principal, Host: e.Host,
				Operation: config.Operation(e.Operation), Permission: config.Permission(e.PermissionType)}.String())
		}
	}
	slices.Sort(out)
	return out
}

func aclStrings(acls ...config.ACL) []string {
	var out []string
	for _, a := range acls {
		out = append(out, a.String())
	}
	slices.Sort(out)
	return out
}

func waitACLs(t *testing.T, cl *kgo.Client, token string, want []string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var got []string
	for time.Now().Before(deadline) {
		if got = aclsContaining(t, cl, token); slices.Equal(got, want) {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("destination ACLs of this test\n got %v\nwant %v", got, want)
}

// TestACLSync_DaemonSyncsFilteredACLsAndKeepsMirrorsReadOnly runs the daemon between two SASL clusters with the
// StandardAuthorizer: the source ACLs the filters admit (users, groups, literal and prefixed topics, the cluster,
// transactional ids; allow and deny) appear on the destination, one removed from the source goes away there, a
// hand-made destination ACL survives; alice, with only the synced permissions, consumes from the mirror, is refused
// when producing to it, and produces once it is promoted.
func TestACLSync_DaemonSyncsFilteredACLsAndKeepsMirrorsReadOnly(t *testing.T) {
	ctx := context.Background()
	src, dst := secureSource(t), secure(t)
	srcCl, dstCl := newClient(t, src), newClient(t, dst)
	token := strings.ReplaceAll(uniqueTopic(t, "acl"), "_", "-")
	topic := token + "-orders"
	createTopic(t, src, topic, 2, nil)
	produceMix(t, src, topic, 300, kgo.Lz4Compression(), 21)

	A := func(rt config.ResourceType, name string, pt config.PatternType, who string, op config.Operation, perm config.Permission) config.ACL {
		return config.ACL{ResourceType: rt, ResourceName: name, PatternType: pt, Principal: who, Host: "*", Operation: op, Permission: perm}
	}
	alice, bob := "User:alice", "User:bob"
	allow, deny := config.PermissionAllow, config.PermissionDeny
	lit, pfx := config.PatternLiteral, config.PatternPrefixed
	synced := []config.ACL{
		A(config.ResourceTopic, topic, lit, alice, config.OperationRead, allow),
		A(config.ResourceTopic, topic, lit, alice, config.OperationWrite, allow),
		A(config.ResourceTopic, topic, lit, alice, config.OperationDescribe, allow),
		A(config.ResourceTopic, token+"-pay-", pfx, alice, config.OperationRead, allow),
		A(config.ResourceTopic, token+"-secret", lit, alice, config.OperationRead, deny),
		A(config.ResourceGroup, token+"-g", pfx, alice, config.OperationRead, allow),
		A(config.ResourceGroup, token+"-bobs", lit, bob, config.OperationRead, allow), // admitted by the group filter
		A(config.ResourceTransactionalID, token+"-tx", lit, alice, config.OperationWrite, allow),
	}
	clusterACL := A(config.ResourceCluster, "kafka-cluster", lit, alice, config.OperationIdempotentWrite, allow)
	notSynced := A(config.ResourceTopic, topic, lit, bob, config.OperationRead, allow) // bob's topic ACL: no filter admits it
	createACLs(t, srcCl, append(slices.Clone(synced), clusterACL, notSynced)...)
	handMade := A(config.ResourceTopic, token+"-local", lit, "User:carol", config.OperationWrite, allow)
	createACLs(t, dstCl, handMade)

	const linkName = "acl-link"
	d := startDaemon(t, writeSecureDaemonConfig(t, src, dst, linkName, map[string]string{
		"acl.sync.enable": "true",
		"acl.sync.ms":     "1000",
		"acl.filters": `{"aclFilters":[` +
			`{"resourceFilter":{"resourceType":"any","patternType":"any"},"accessFilter":{"principal":"User:alice","operation":"any","permissionType":"any"}},` +
			`{"resourceFilter":{"resourceType":"group","patternType":"any"},"accessFilter":{"operation":"any","permissionType":"any"}}]}`,
	}))
	if err := d.client.CreateMirror(ctx, linkName, adminapi.CreateMirrorRequest{SourceTopicName: topic}, false); err != nil {
		t.Fatal(err)
	}
	d.waitMirror(t, linkName, topic, "caught up", mirrorCaughtUpTo(sourceEnds(t, src, topic)))
	guard := aclsync.MirrorGuards(topic)
	waitACLs(t, dstCl, token, aclStrings(append(append(slices.Clone(synced), handMade), guard...)...))
	if got := aclsContaining(t, dstCl, "kafka-cluster"); !slices.Contains(got, clusterACL.String()) {
		t.Errorf("the cluster ACL was not synced: %v", got)
	}
	listed, err := d.client.LinkACLs(ctx, linkName)
	if err != nil || len(listed) < len(synced)+1+len(guard) {
		t.Errorf("acl list: %d ACLs (%v), want the %d synced, the cluster one and the guard", len(listed), err, len(synced))
	}

	// Alice consumes from the mirror with the synced permissions, and may not write to it.
	aliceCl, err := kgo.NewClient(append(dst.ClientOptsAs("alice", secureUsers["alice"]), kgo.RecordRetries(1),
		kgo.UnknownTopicRetries(1), kgo.ConsumeTopics(topic))...)
	if err != nil {
		t.Fatal(err)
	}
	defer aliceCl.Close()
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	fs := aliceCl.PollFetches(pctx)
	cancel()
	if err := fs.Err0(); err != nil || len(fs.Records()) == 0 {
		t.Fatalf("alice consuming the mirror: %v, %d records", err, len(fs.Records()))
	}
	err = aliceCl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte("into a mirror")}).FirstErr()
	if !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("alice producing to the mirror: %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}

	// Gone from the source, gone from the destination; the hand-made one stays.
	deleteACL(t, srcCl, synced[3])
	waitACLs(t, dstCl, token, aclStrings(append(append(slices.Clone(synced[:3]), append(slices.Clone(synced[4:]), handMade)...), guard...)...))

	d.alter(t, linkName, adminapi.OpPromote, topic)
	if err := aliceCl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte("after promote")}).FirstErr(); err != nil {
		t.Fatalf("alice producing to the promoted topic: %v", err)
	}
	requireMirrorEqualUpTo(t, src, dst, topic)
}

// requireMirrorEqualUpTo compares the source's records with the promoted topic's first records.
func requireMirrorEqualUpTo(t *testing.T, src, dst *kafkatest.Cluster, topic string) {
	t.Helper()
	ctx := context.Background()
	srcCl, dstCl := newClient(t, src), newClient(t, dst)
	for p, b := range partitionBounds(t, ctx, srcCl, topic) {
		compareRecords(t, int32(p), readRecords(t, ctx, srcCl, topic, int32(p), b),
			below(readRecords(t, ctx, dstCl, topic, int32(p), b), b.end))
	}
}

// TestACLSync_ReportsMissingPermissionsAsAuthorizationError runs the ACL sync as bob, who may not describe the
// source's ACLs: the task is IN_ERROR with AUTHORIZATION_ERROR.
func TestACLSync_ReportsMissingPermissionsAsAuthorizationError(t *testing.T) {
	src, dst := secureSource(t), secure(t)
	bobCl, err := kgo.NewClient(src.ClientOptsAs("bob", secureUsers["bob"])...)
	if err != nil {
		t.Fatal(err)
	}
	defer bobCl.Close()
	filters, err := config.ParseACLFilters(`{"aclFilters":[{"resourceFilter":{"resourceType":"any","patternType":"any"},"accessFilter":{"operation":"any","permissionType":"any"}}]}`)
	if err != nil {
		t.Fatal(err)
	}
	s := aclsync.New(aclsync.Config{Source: bobCl, Destination: newClient(t, dst), Filters: filters, Interval: time.Hour,
		Store: &memACLStore{}})
	err = s.SyncOnce(context.Background())
	if err == nil {
		t.Fatal("ACL sync as bob succeeded")
	}
	if code := task.Code(err); code != "AUTHORIZATION_ERROR" {
		t.Errorf("%v: code %s, want AUTHORIZATION_ERROR", err, code)
	}
}

type memACLStore struct{ acls []config.ACL }

func (m *memACLStore) Load(context.Context) ([]config.ACL, error) { return m.acls, nil }
func (m *memACLStore) Save(_ context.Context, acls []config.ACL) error {
	m.acls = acls
	return nil
}
