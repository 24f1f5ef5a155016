package state

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/clusterlink/clusterlink/replicator"
)

func newCluster(t *testing.T) *kgo.Client {
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

func key(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

func produce(t *testing.T, cl *kgo.Client, k string, v []byte) {
	t.Helper()
	if err := cl.ProduceSync(context.Background(), &kgo.Record{Topic: "state", Key: []byte(k), Value: v}).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// rawValues reads every record value of the state topic as stored.
func rawValues(t *testing.T, cl *kgo.Client) [][]byte {
	t.Helper()
	rd, err := kgo.NewClient(append(cl.Opts(), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{"state": {0: kgo.NewOffset().AtStart()}}))...)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	var out [][]byte
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for {
		fs := rd.PollFetches(ctx)
		if ctx.Err() != nil {
			return out
		}
		fs.EachRecord(func(r *kgo.Record) { out = append(out, r.Value) })
	}
}

var secretLink = Link{Name: "l", ID: "1", Origin: OriginAPI, Configs: map[string]string{
	"bootstrap.servers": "s:9092", "sasl.jaas.config": `x required username="u" password="the-link-password";`}}

// TestStore_SealedRecordsHideSecretsAndRefuseForgeries writes a link with a secret through a store with a key:
// the topic holds no clear text of it; a reopened store reads it back; records forged in clear, altered, sealed
// for another key, sealed with a key the daemon does not hold, replayed older, or naming another link, are all
// rejected with a reason and none is applied.
func TestStore_SealedRecordsHideSecretsAndRefuseForgeries(t *testing.T) {
	ctx := context.Background()
	cl := newCluster(t)
	keys := &Keys{Current: key(1)}
	s, err := Open(ctx, cl, "state", Options{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.PutLink(ctx, secretLink); err != nil {
		t.Fatal(err)
	}
	m := Mirror{Link: "l", Topic: "orders", SourceTopic: "orders", Origin: OriginAPI, Status: replicator.StatusActive}
	if err := s.PutMirror(ctx, m); err != nil {
		t.Fatal(err)
	}
	for _, v := range rawValues(t, cl) {
		if bytes.Contains(v, []byte("the-link-password")) || bytes.Contains(v, []byte("bootstrap")) {
			t.Fatalf("a state record holds clear text: %s", v)
		}
	}

	// What an attacker who can write the topic tries.
	forged, _ := json.Marshal(Link{Name: "evil", ID: "2", Origin: OriginAPI, Configs: map[string]string{"bootstrap.servers": "attacker:9092"}})
	produce(t, cl, "link/evil", forged)                                      // in clear
	produce(t, cl, "acls/l", []byte(`[{"resource_name":"operator-topic"}]`)) // in clear
	produce(t, cl, "link/l", nil)                                            // a bare tombstone
	other, _ := newSealer(Keys{Current: key(2)})                             // a key the daemon does not hold
	sealedOther, _ := other.seal("state", "link/evil2", forged)
	produce(t, cl, "link/evil2", sealedOther)
	own, _ := newSealer(*keys)
	moved, _ := own.seal("state", "mirror/l/orders", forged) // authentic, but written for another key
	produce(t, cl, "link/evil3", moved)
	altered, _ := own.seal("state", "link/l", []byte(`{}`))
	altered[len(altered)-5] ^= 1
	produce(t, cl, "link/l", altered)
	wrongName, _ := own.seal("state", "link/victim", forged) // names link "evil" under key "victim"
	produce(t, cl, "link/victim", wrongName)

	s2, err := Open(ctx, cl, "state", Options{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := s2.Link("l"); !ok || got.Configs["sasl.jaas.config"] != secretLink.Configs["sasl.jaas.config"] {
		t.Fatalf("the sealed link did not come back: %+v %v", got, ok)
	}
	if _, ok := s2.Mirror("l", "orders"); !ok {
		t.Fatal("the sealed mirror did not come back")
	}
	for _, name := range []string{"evil", "evil2", "evil3", "victim"} {
		if _, ok := s2.Link(name); ok {
			t.Errorf("forged link %s was applied", name)
		}
	}
	if acls, _ := s2.ACLs("l"); acls != nil {
		t.Error("the forged ACL record was applied")
	}
	rejected := s2.Rejected()
	if len(rejected) != 7 {
		t.Fatalf("%d records rejected, want 7: %+v", len(rejected), rejected)
	}
	for _, r := range rejected {
		if r.Reason == "" || r.Key == "" {
			t.Errorf("rejection without a key or reason: %+v", r)
		}
	}
	if got := s2.RejectedFor("l"); len(got) != 3 {
		t.Errorf("rejections naming link l: %+v, want the ACL record, the tombstone and the altered record", got)
	}
}

// TestStore_RejectsAnOlderRecordWrittenAgain replays an authentic earlier record of a key over a newer one.
func TestStore_RejectsAnOlderRecordWrittenAgain(t *testing.T) {
	ctx := context.Background()
	cl := newCluster(t)
	keys := &Keys{Current: key(1)}
	s, _ := Open(ctx, cl, "state", Options{Keys: keys})
	m := Mirror{Link: "l", Topic: "orders", SourceTopic: "orders", Origin: OriginAPI, Status: replicator.StatusActive}
	if err := s.PutMirror(ctx, m); err != nil {
		t.Fatal(err)
	}
	old := rawValues(t, cl)[0]
	time.Sleep(5 * time.Millisecond)
	m.Status = replicator.StatusStopped
	if err := s.PutMirror(ctx, m); err != nil {
		t.Fatal(err)
	}
	produce(t, cl, "mirror/l/orders", old) // the ACTIVE record again, over STOPPED
	s2, _ := Open(ctx, cl, "state", Options{Keys: keys})
	if got, _ := s2.Mirror("l", "orders"); got.Status != replicator.StatusStopped {
		t.Fatalf("the replayed record was applied: %s", got.Status)
	}
	if r := s2.Rejected(); len(r) != 1 || !strings.Contains(r[0].Reason, "older record") {
		t.Fatalf("rejected %+v", r)
	}
}

// TestStore_KeyRotationAndAKeylessStart rotates the key (old records open with the old key and are sealed again
// with the new one, so the old key can then go), and a daemon without its key refuses to start on a sealed topic.
func TestStore_KeyRotationAndAKeylessStart(t *testing.T) {
	ctx := context.Background()
	cl := newCluster(t)
	s, _ := Open(ctx, cl, "state", Options{Keys: &Keys{Current: key(1)}})
	if err := s.PutLink(ctx, secretLink); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, cl, "state", Options{}); err == nil || !strings.Contains(err.Error(), "give the daemon its key") {
		t.Fatalf("a keyless store on a sealed topic: %v", err)
	}
	if _, err := Open(ctx, cl, "state", Options{Keys: &Keys{Current: key(2), Old: [][]byte{key(1)}}}); err != nil {
		t.Fatal(err)
	}
	s3, err := Open(ctx, cl, "state", Options{Keys: &Keys{Current: key(2)}}) // the old key is gone now
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s3.Link("l"); !ok {
		t.Fatalf("after the rotation the link is lost: %+v", s3.Rejected())
	}
}

// TestStore_AdoptsClearRecordsOnlyWhenTold starts a keyless store, then one with a key: the clear records are
// rejected, unless the operator says to adopt them, which seals them.
func TestStore_AdoptsClearRecordsOnlyWhenTold(t *testing.T) {
	ctx := context.Background()
	cl := newCluster(t)
	s, _ := Open(ctx, cl, "state", Options{})
	if err := s.PutLink(ctx, secretLink); err != nil {
		t.Fatal(err)
	}
	keys := &Keys{Current: key(1)}
	s2, _ := Open(ctx, cl, "state", Options{Keys: keys})
	if _, ok := s2.Link("l"); ok || len(s2.Rejected()) != 1 {
		t.Fatalf("a clear record was taken by a store with a key: %+v", s2.Rejected())
	}
	if _, err := Open(ctx, cl, "state", Options{Keys: keys, AdoptUnsealed: true}); err != nil {
		t.Fatal(err)
	}
	s4, _ := Open(ctx, cl, "state", Options{Keys: keys})
	if _, ok := s4.Link("l"); !ok || len(s4.Rejected()) != 0 {
		t.Fatalf("the adopted record was not sealed: %+v", s4.Rejected())
	}
}

// TestStore_ACLsInChunksSurviveARestartAndReplaceEachOther: 20,000 ACLs (about 2.4 MB of JSON, more than a
// destination takes in one record) are stored in chunks and read back after a restart; a shorter list replaces them
// and the old chunks are deleted; a list written by an older version (one record) is still read.
func TestStore_ACLsInChunksSurviveARestartAndReplaceEachOther(t *testing.T) {
	ctx := context.Background()
	cl := newCluster(t)
	s, err := Open(ctx, cl, "state", Options{})
	if err != nil {
		t.Fatal(err)
	}
	many := make([]ACL, 20_000)
	for i := range many {
		many[i] = ACL(fmt.Sprintf(`{"principal":"User:app-%05d","host":"*","operation":"READ","permission":"ALLOW","resource_type":"TOPIC","resource_name":"orders-%05d-with-a-longer-name","pattern_type":"LITERAL"}`, i, i))
	}
	if err := s.PutACLs(ctx, "l", many); err != nil {
		t.Fatal(err)
	}
	for _, v := range rawValues(t, cl) {
		if len(v) > aclChunkBytes+1024 {
			t.Fatalf("a state record of %d bytes", len(v))
		}
	}
	s2, err := Open(ctx, cl, "state", Options{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s2.ACLs("l")
	if err != nil || len(got) != len(many) || string(got[12345]) != string(many[12345]) {
		t.Fatalf("after a restart: %d ACLs, %v", len(got), err)
	}
	if err := s2.PutACLs(ctx, "l", many[:3]); err != nil {
		t.Fatal(err)
	}
	s3, err := Open(ctx, cl, "state", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s3.ACLs("l"); err != nil || len(got) != 3 {
		t.Fatalf("the shorter list: %d ACLs, %v", len(got), err)
	}
	if n := len(s3.aclChunks); n != 1 {
		t.Fatalf("%d chunks kept, want the new generation's one", n)
	}
	produce(t, cl, "acls/old", []byte(`[{"principal":"User:x"}]`))
	s4, err := Open(ctx, cl, "state", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s4.ACLs("old"); err != nil || len(got) != 1 {
		t.Fatalf("a one-record list of an older version: %v %v", got, err)
	}
}

// TestStore_FailbackRecordsSurviveARestartAndGoWithTheirLink: a STOPPED mirror's failback progress is read back as
// written; a failback on a mirror that is not STOPPED is rejected; deleting a link deletes its reversed mirrors.
func TestStore_FailbackRecordsSurviveARestartAndGoWithTheirLink(t *testing.T) {
	ctx := context.Background()
	cl := newCluster(t)
	s, err := Open(ctx, cl, "state", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.PutLink(ctx, Link{Name: "l", ID: "id", Origin: OriginAPI}); err != nil {
		t.Fatal(err)
	}
	fb := &Failback{Op: "truncate-and-restore", ID: "r1", Step: "save", DivergedTopic: "t.diverged", OldTopicID: "abc",
		Partitions: []Truncation{{Partition: 0, TruncatedTo: 10, Messages: 3}}}
	for _, m := range []Mirror{
		{Link: "l", Topic: "t", SourceTopic: "t", Origin: OriginAPI, Status: replicator.StatusStopped, Failback: fb},
		{Link: ReverseLink("l"), Topic: "u", SourceTopic: "u", Origin: OriginAPI, Status: replicator.StatusActive},
	} {
		if err := s.PutMirror(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	bad, _ := json.Marshal(Mirror{Link: "l", Topic: "v", SourceTopic: "v", Status: replicator.StatusActive, Failback: fb})
	produce(t, cl, "mirror/l/v", bad)

	again, err := Open(ctx, cl, "state", Options{})
	if err != nil {
		t.Fatal(err)
	}
	m, ok := again.Mirror("l", "t")
	if !ok || m.Failback == nil || fmt.Sprint(*m.Failback) != fmt.Sprint(*fb) {
		t.Fatalf("failback record read back as %+v (%v)", m.Failback, ok)
	}
	if _, ok := again.Mirror("l", "v"); ok || len(again.Rejected()) != 1 || !strings.Contains(again.Rejected()[0].Reason, "failback") && !strings.Contains(again.Rejected()[0].Reason, "under way") {
		t.Fatalf("an ACTIVE mirror with a failback must be rejected: %+v", again.Rejected())
	}
	if err := again.DeleteLink(ctx, "l"); err != nil {
		t.Fatal(err)
	}
	if n := len(again.Mirrors(ReverseLink("l"))) + len(again.Mirrors("l")); n != 0 {
		t.Fatalf("%d mirror records left after the link was deleted", n)
	}
}
