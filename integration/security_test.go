package integration

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/clusterlink/clusterlink/aclsync"
	"github.com/clusterlink/clusterlink/config"
	"github.com/clusterlink/clusterlink/controlplane/adminapi"
	"github.com/clusterlink/clusterlink/integration/kafkatest"
)

// These tests replay, on SASL/PLAIN clusters with the StandardAuthorizer, what an ordinary principal did to the
// daemon: bob holds the common ALLOW ALL on every topic of the destination.

// allowBobEverything gives bob ALLOW ALL on every topic of c (LITERAL "*"), taken back when the test ends.
func allowBobEverything(t *testing.T, c *kafkatest.Cluster) {
	t.Helper()
	admin := newClient(t, c)
	acl := config.ACL{ResourceType: config.ResourceTopic, ResourceName: "*", PatternType: config.PatternLiteral,
		Principal: "User:bob", Host: "*", Operation: config.OperationAll, Permission: config.PermissionAllow}
	createACLs(t, admin, acl)
	t.Cleanup(func() { deleteACL(t, admin, acl) })
}

func bobClient(t *testing.T, c *kafkatest.Cluster, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append(append(c.ClientOptsAs("bob", secureUsers["bob"]), kgo.RecordRetries(1),
		kgo.UnknownTopicRetries(1), kgo.RetryTimeout(5*time.Second)), opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// attackerListener counts the TCP connections made to it (a broker address of the attacker's choosing).
func attackerListener(t *testing.T) (addr string, connections *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	connections = &atomic.Int64{}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			connections.Add(1)
			c.Close()
		}
	}()
	return ln.Addr().String(), connections
}

// rawStateRecords reads every record of the state topic as stored (as the super user).
func rawStateRecords(t *testing.T, c *kafkatest.Cluster, topic string) []*kgo.Record {
	t.Helper()
	cl := newClient(t, c)
	b := partitionBounds(t, context.Background(), cl, topic)[0]
	return readRecords(t, context.Background(), cl, topic, 0, bounds{0, b.end})
}

// stateTopicOf reads the state topic's name from a daemon file written by writeSecureDaemonConfig.
func stateTopicOf(t *testing.T, path string) string {
	t.Helper()
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return cfg.State.Topic
}

// TestSecurity_TheStateTopicIsClosedSealedAndForgeriesAreIgnored: bob, with ALLOW ALL on every topic, can neither
// read nor write the state topic; the topic holds no clear text of the links' secrets; and records forged by
// someone who could write it (a link whose sasl.jaas.config names the daemon's own JAAS file and whose
// bootstrap.servers is the attacker's listener; an ACL-ownership record naming an operator's ACL) are rejected
// and reported: no connection reaches the attacker, no file is read, the operator's ACL stays.
func TestSecurity_TheStateTopicIsClosedSealedAndForgeriesAreIgnored(t *testing.T) {
	src, dst := secureSource(t), secure(t)
	allowBobEverything(t, dst)
	ctx := context.Background()
	token := strings.ReplaceAll(uniqueTopic(t, "sec"), "_", "-")
	dir := t.TempDir()
	jaasFile := filepath.Join(dir, "destination.jaas")
	if err := os.WriteFile(jaasFile, []byte(superJAAS), 0o600); err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(dir, "state.key")
	if err := os.WriteFile(keyFile, []byte(base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))), 0o600); err != nil {
		t.Fatal(err)
	}
	const linkName = "sec-link"
	path := writeSecureDaemonConfig(t, src, dst, linkName, map[string]string{
		"acl.sync.enable": "true", "acl.sync.ms": "1000",
		"acl.filters": fmt.Sprintf(`{"aclFilters":[{"resourceFilter":{"resourceType":"topic","name":"%s-none","patternType":"literal"},"accessFilter":{"operation":"any","permissionType":"any"}}]}`, token),
	})
	data, _ := os.ReadFile(path)
	data = bytes.Replace(data, []byte("sasl.jaas.config: '"+superJAAS+"'"), []byte("sasl.jaas.config: ${file:"+jaasFile+"}"), 1)
	data = bytes.Replace(data, []byte("state:\n"), []byte("state:\n  encryption.key: ${file:"+keyFile+"}\n"), 1)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	stateTopic := stateTopicOf(t, path)
	d := startDaemon(t, path)
	// A link created over the API with a secret of its own: allowed, because the state is sealed.
	aliceJAAS := `org.apache.kafka.common.security.plain.PlainLoginModule required username="alice" password="` + secureUsers["alice"] + `";`
	if err := d.client.CreateLink(ctx, "sec-api-link", adminapi.CreateLinkRequest{Configs: []adminapi.ConfigValue{
		{Name: "bootstrap.servers", Value: strings.Join(src.BootstrapServers(), ",")}, {Name: "security.protocol", Value: "SASL_PLAINTEXT"},
		{Name: "sasl.mechanism", Value: "PLAIN"}, {Name: "sasl.jaas.config", Value: aliceJAAS}}}, false); err != nil {
		t.Fatal(err)
	}

	// bob can neither read nor write it.
	reader := bobClient(t, dst, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{stateTopic: {0: kgo.NewOffset().AtStart()}}))
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	fs := reader.PollFetches(pctx)
	cancel()
	if err := fs.Err0(); !errors.Is(err, kerr.TopicAuthorizationFailed) || len(fs.Records()) > 0 {
		t.Errorf("bob reading the state topic: %v, %d records; want TOPIC_AUTHORIZATION_FAILED", err, len(fs.Records()))
	}
	err := bobClient(t, dst).ProduceSync(ctx, &kgo.Record{Topic: stateTopic, Key: []byte("link/x"), Value: []byte("{}")}).FirstErr()
	if !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Errorf("bob writing the state topic: %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}
	// Sealed: no secret, nor anything else, in clear.
	for _, r := range rawStateRecords(t, dst, stateTopic) {
		if bytes.Contains(r.Value, []byte(secureUsers["alice"])) || bytes.Contains(r.Value, []byte("sasl.jaas.config")) {
			t.Fatalf("state record %s holds clear text: %s", r.Key, r.Value)
		}
	}
	d.stop()

	// Forgeries by someone who can write the topic.
	attacker, connections := attackerListener(t)
	forgedLink, _ := json.Marshal(map[string]any{"name": "forged", "id": "f", "origin": "api", "configs": map[string]string{
		"bootstrap.servers": attacker, "security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "PLAIN",
		"sasl.jaas.config": "${file:" + jaasFile + "}"}})
	operatorACL := config.ACL{ResourceType: config.ResourceTopic, ResourceName: token + "-operators", PatternType: config.PatternLiteral,
		Principal: "User:carol", Host: "*", Operation: config.OperationRead, Permission: config.PermissionAllow}
	admin := newClient(t, dst)
	createACLs(t, admin, operatorACL)
	forgedACLs, _ := json.Marshal([]config.ACL{operatorACL})
	for k, v := range map[string][]byte{"link/forged": forgedLink, "acls/" + linkName: forgedACLs} {
		if err := admin.ProduceSync(ctx, &kgo.Record{Topic: stateTopic, Key: []byte(k), Value: v}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	d = startDaemon(t, path)
	time.Sleep(4 * time.Second) // several ACL sync cycles and availability checks
	links, err := d.client.Links(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range links {
		if l.LinkName == "forged" {
			t.Errorf("the forged link runs: %+v", l)
		}
		if l.LinkName == linkName && l.LinkError != "STATE_RECORD_REJECTED" {
			t.Errorf("link %s: %s %q, want STATE_RECORD_REJECTED for the forged ACL record", linkName, l.LinkError, l.LinkErrorMessage)
		}
	}
	if n := connections.Load(); n != 0 {
		t.Errorf("the daemon connected %d times to the attacker's listener", n)
	}
	if got := aclsContaining(t, admin, token+"-operators"); !slices.Equal(got, aclStrings(operatorACL)) {
		t.Errorf("the operator's ACL after the forged ownership record: %v", got)
	}
	if d.daemon.RuntimeCount() != 2 {
		t.Errorf("%d runtimes, want the file's link and the API's", d.daemon.RuntimeCount())
	}
	metrics := d.getMetrics(t)
	if !strings.Contains(metrics, "clusterlink_state_records_rejected 2") {
		t.Errorf("metrics do not count the 2 rejected records:\n%.3000s", metrics)
	}
	// The API link, sealed, came back and runs.
	if l, err := d.client.Link(ctx, "sec-api-link"); err != nil || l.LinkState != "ACTIVE" {
		t.Errorf("the sealed API link after a restart: %+v, %v", l, err)
	}
}

// TestSecurity_WithoutAStateKeyForgedReferencesAreNeverResolved forges the same link record into the state topic of
// a daemon without a state key: the record is taken as API input would be, so the reference is refused, the link
// is FAILED with the reason, and nothing connects to the attacker.
func TestSecurity_WithoutAStateKeyForgedReferencesAreNeverResolved(t *testing.T) {
	src, dst := secureSource(t), secure(t)
	ctx := context.Background()
	dir := t.TempDir()
	jaasFile := filepath.Join(dir, "destination.jaas")
	if err := os.WriteFile(jaasFile, []byte(superJAAS), 0o600); err != nil {
		t.Fatal(err)
	}
	path := writeSecureDaemonConfig(t, src, dst, "nokey-link", nil)
	stateTopic := stateTopicOf(t, path)
	d := startDaemon(t, path)
	d.stop()
	attacker, connections := attackerListener(t)
	forgedLink, _ := json.Marshal(map[string]any{"name": "forged", "id": "f", "origin": "api", "configs": map[string]string{
		"bootstrap.servers": attacker, "security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "PLAIN",
		"sasl.jaas.config": "${file:" + jaasFile + "}"}})
	if err := newClient(t, dst).ProduceSync(ctx, &kgo.Record{Topic: stateTopic, Key: []byte("link/forged"), Value: forgedLink}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	d = startDaemon(t, path)
	time.Sleep(3 * time.Second)
	l, err := d.client.Link(ctx, "forged")
	if err != nil || l.LinkState != "FAILED" || !strings.Contains(l.LinkErrorMessage, "only resolved in the daemon's config file") {
		t.Errorf("the forged link: %+v, %v; want FAILED refusing the reference", l, err)
	}
	if strings.Contains(l.LinkErrorMessage, "admin-secret") {
		t.Errorf("the reason shows the destination's password: %s", l.LinkErrorMessage)
	}
	if n := connections.Load(); n != 0 {
		t.Errorf("the daemon connected %d times to the attacker's listener", n)
	}
}

// TestSecurity_MirrorsRefuseEveryChangeByOthersAndGuardsComeBack: bob, with ALLOW ALL on every topic, is refused
// Produce, DeleteRecords, DeleteTopics, CreatePartitions and AlterConfigs on a mirror topic; a guard ACL deleted by
// hand is back within one acl.sync.ms; the mirror equals its source; promote removes exactly the link's guards.
func TestSecurity_MirrorsRefuseEveryChangeByOthersAndGuardsComeBack(t *testing.T) {
	src, dst := secureSource(t), secure(t)
	allowBobEverything(t, dst)
	ctx := context.Background()
	topic := strings.ReplaceAll(uniqueTopic(t, "guarded"), "_", "-")
	createTopic(t, src, topic, 2, nil)
	produceMix(t, src, topic, 300, kgo.Lz4Compression(), 31)
	const linkName = "guard-link"
	d := startDaemon(t, writeSecureDaemonConfig(t, src, dst, linkName, map[string]string{"acl.sync.ms": "1000"}))
	if err := d.client.CreateMirror(ctx, linkName, adminapi.CreateMirrorRequest{SourceTopicName: topic}, false); err != nil {
		t.Fatal(err)
	}
	d.waitMirror(t, linkName, topic, "caught up", mirrorCaughtUpTo(sourceEnds(t, src, topic)))

	bob := bobClient(t, dst, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	bobAdm := kadm.NewClient(bob)
	refused := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, kerr.TopicAuthorizationFailed) {
			t.Errorf("bob's %s on the mirror: %v, want TOPIC_AUTHORIZATION_FAILED", what, err)
		}
	}
	refused("produce", bob.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte("x")}).FirstErr())
	var del kadm.Offsets
	del.Add(kadm.Offset{Topic: topic, Partition: 0, At: 100, LeaderEpoch: -1})
	dr, err := bobAdm.DeleteRecords(ctx, del)
	if err == nil {
		err = dr.Error()
	}
	refused("DeleteRecords", err)
	dt, err := bobAdm.DeleteTopics(ctx, topic)
	if err == nil {
		err = dt.Error()
	}
	refused("DeleteTopics", err)
	cp, err := bobAdm.CreatePartitions(ctx, 2, topic)
	if err == nil {
		err = cp.Error()
	}
	refused("CreatePartitions", err)
	ac, err := bobAdm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "retention.ms", Value: kadm.StringPtr("1")}}, topic)
	if err == nil {
		var r kadm.AlterConfigsResponse
		if r, err = ac.On(topic, nil); err == nil {
			err = r.Err
		}
	}
	refused("AlterConfigs", err)

	// A guard removed by hand comes back.
	admin := newClient(t, dst)
	guards := aclsync.MirrorGuards(topic)
	deleteACL(t, admin, guards[1])
	deadline := time.Now().Add(5 * time.Second)
	for {
		missing, err := aclsync.MissingGuards(ctx, admin, guards)
		if err == nil && len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the guard %s removed by hand is not back: missing %v, %v", guards[1], missing, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if m := d.getMetrics(t); !strings.Contains(m, `clusterlink_mirror_guards_restored_total{link="`+linkName+`"} 1`) {
		t.Errorf("the restored guard is not counted")
	}
	produceMix(t, src, topic, 100, kgo.Lz4Compression(), 32)
	d.waitMirror(t, linkName, topic, "caught up", mirrorCaughtUpTo(sourceEnds(t, src, topic)))
	requireMirrorEqual(t, src, dst, topic, topic)

	d.alter(t, linkName, adminapi.OpPromote, topic)
	if missing, err := aclsync.MissingGuards(ctx, admin, guards); err != nil || len(missing) != len(guards) {
		t.Errorf("after promote %d of %d guards are gone (%v)", len(missing), len(guards), err)
	}
	if err := bob.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte("after promote")}).FirstErr(); err != nil {
		t.Errorf("bob producing to the promoted topic: %v", err)
	}
}
