package integration

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/clusterlink/clusterlink/config"
)

// TestACLSync_TenThousandACLsSurviveARestartAndDeletesPropagate syncs 10,000 source ACLs (the link's record of the
// ACLs it created is then far above the destination's max.message.bytes as one state record), restarts the daemon,
// deletes 500 on the source and requires them gone on the destination, the other 9,500 kept.
func TestACLSync_TenThousandACLsSurviveARestartAndDeletesPropagate(t *testing.T) {
	if testing.Short() {
		t.Skip("needs real brokers")
	}
	const total, deleted = 10_000, 500
	src, dst := secureSource(t), secure(t)
	srcCl, dstCl := newClient(t, src), newClient(t, dst)
	token := strings.ReplaceAll(uniqueTopic(t, "acl10k"), "_", "-")
	principal := "User:" + token
	acls := make([]config.ACL, total)
	for i := range acls {
		acls[i] = config.ACL{ResourceType: config.ResourceTopic, ResourceName: fmt.Sprintf("%s-topic-%05d", token, i),
			PatternType: config.PatternLiteral, Principal: principal, Host: "*", Operation: config.OperationRead,
			Permission: config.PermissionAllow}
	}
	for i := 0; i < total; i += 1000 {
		createACLs(t, srcCl, acls[i:i+1000]...)
	}
	t.Cleanup(func() {
		for _, cl := range []*kgo.Client{srcCl, dstCl} {
			deletePrincipalACLs(t, cl, principal)
		}
	})

	const linkName = "acl-scale-link"
	configPath := writeSecureDaemonConfig(t, src, dst, linkName, map[string]string{
		"acl.sync.enable": "true",
		"acl.sync.ms":     "1000",
		"acl.filters": `{"aclFilters":[{"resourceFilter":{"resourceType":"any","patternType":"any"},` +
			`"accessFilter":{"principal":"` + principal + `","operation":"any","permissionType":"any"}}]}`,
	})
	d := startDaemon(t, configPath)
	waitManyACLs(t, dstCl, token, aclStrings(acls...))
	d.stop()

	d = startDaemon(t, configPath)
	for i := 0; i < deleted; i += 50 { // a broker takes its time per filter: a few per request
		req := kmsg.NewPtrDeleteACLsRequest()
		for _, a := range acls[i : i+50] {
			f := kmsg.NewDeleteACLsRequestFilter()
			f.ResourceType, f.ResourceName = kmsg.ACLResourceType(a.ResourceType), kmsg.StringPtr(a.ResourceName)
			f.ResourcePatternType = kmsg.ACLResourcePatternType(a.PatternType)
			f.Principal, f.Host = kmsg.StringPtr(a.Principal), kmsg.StringPtr(a.Host)
			f.Operation, f.PermissionType = kmsg.ACLOperation(a.Operation), kmsg.ACLPermissionType(a.Permission)
			req.Filters = append(req.Filters, f)
		}
		if _, err := req.RequestWith(context.Background(), srcCl); err != nil {
			t.Fatal(err)
		}
	}
	waitManyACLs(t, dstCl, token, aclStrings(acls[deleted:]...))
	link, err := d.client.Link(context.Background(), linkName)
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range link.Tasks {
		if task.TaskName == "AclSync" && task.State != "ACTIVE" {
			t.Errorf("ACL sync task after the deletes: %+v", task)
		}
	}
}

// waitManyACLs waits until a cluster's ACLs on resources containing token are want, and says how far it got.
func waitManyACLs(t *testing.T, cl *kgo.Client, token string, want []string) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	var got []string
	for time.Now().Before(deadline) {
		if got = aclsContaining(t, cl, token); slices.Equal(got, want) {
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("destination ACLs of this test: %d, want %d (first missing or extra: %s)", len(got), len(want), firstDifference(got, want))
}

func firstDifference(got, want []string) string {
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			return fmt.Sprintf("got %s, want %s", got[i], want[i])
		}
	}
	return fmt.Sprintf("%d vs %d entries", len(got), len(want))
}

// deletePrincipalACLs deletes every ACL of principal (a test's own, so shared clusters stay small).
func deletePrincipalACLs(t *testing.T, cl *kgo.Client, principal string) {
	t.Helper()
	req := kmsg.NewPtrDeleteACLsRequest()
	f := kmsg.NewDeleteACLsRequestFilter()
	f.ResourceType, f.ResourcePatternType = kmsg.ACLResourceTypeAny, kmsg.ACLResourcePatternTypeAny
	f.Principal = kmsg.StringPtr(principal)
	f.Operation, f.PermissionType = kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
	req.Filters = append(req.Filters, f)
	if _, err := req.RequestWith(context.Background(), cl); err != nil {
		t.Errorf("delete the test's ACLs: %v", err)
	}
}
