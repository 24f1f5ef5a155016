package offsets

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap/zaptest"

	"github.com/clusterlink/clusterlink/config"
)

type env struct {
	src, dst       *kgo.Client
	srcAdm, dstAdm *kadm.Client
}

// newEnv starts a source and a destination cluster, each with topics orders (2 partitions, 100 records each) and
// clicks (1 partition, 100 records); on the destination orders has only 50 records per partition, so that offsets
// beyond them are clamped.
func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{}
	for i, cl := range []**kgo.Client{&e.src, &e.dst} {
		c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "orders"), kfake.SeedTopics(1, "clicks"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		*cl, err = kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup((*cl).Close)
		perPartition := 100
		if i == 1 {
			perPartition = 50
		}
		var recs []*kgo.Record
		for p := int32(0); p < 2; p++ {
			for j := 0; j < perPartition; j++ {
				recs = append(recs, &kgo.Record{Topic: "orders", Partition: p, Value: []byte("v")})
			}
		}
		for j := 0; j < 100; j++ {
			recs = append(recs, &kgo.Record{Topic: "clicks", Value: []byte("v")})
		}
		p, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
		if err != nil {
			t.Fatal(err)
		}
		if err := p.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
		p.Close()
	}
	e.srcAdm, e.dstAdm = kadm.NewClient(e.src), kadm.NewClient(e.dst)
	return e
}

func (e *env) commit(t *testing.T, adm *kadm.Client, group, topic string, p int32, at int64, meta string) {
	t.Helper()
	offs := kadm.Offsets{}
	offs.Add(kadm.Offset{Topic: topic, Partition: p, At: at, LeaderEpoch: -1, Metadata: meta})
	resp, err := adm.CommitOffsets(context.Background(), group, offs)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		t.Fatalf("commit %s %s[%d]=%d: %v", group, topic, p, at, err)
	}
}

func (e *env) committed(t *testing.T, group string) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	resp, err := e.dstAdm.FetchOffsets(context.Background(), group)
	if err != nil {
		return out
	}
	resp.Each(func(o kadm.OffsetResponse) {
		out[fmt.Sprintf("%s[%d]", o.Topic, o.Partition)] = o.At
	})
	return out
}

func groupFilters(t *testing.T, js string) config.GroupFilters {
	t.Helper()
	f, err := config.ParseGroupFilters(js)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (e *env) syncer(t *testing.T, filters, prefix string, topics ...Topic) *Syncer {
	return New(Config{
		Source: e.src, Destination: e.dst, Groups: groupFilters(t, filters), Interval: time.Hour, GroupPrefix: prefix,
		Topics: func() []Topic { return topics }, Logger: zaptest.NewLogger(t),
	})
}

const allButExcluded = `{"groupFilters":[{"name":"*","patternType":"LITERAL","filterType":"INCLUDE"},
	{"name":"excluded-","patternType":"PREFIXED","filterType":"EXCLUDE"}]}`

func TestSyncOnce_CopiesAdmittedGroupsClampsAndCommitsOnlyChanges(t *testing.T) {
	e := newEnv(t)
	e.commit(t, e.srcAdm, "app", "orders", 0, 30, "meta-0")
	e.commit(t, e.srcAdm, "app", "orders", 1, 80, "") // beyond the destination's 50: clamped
	e.commit(t, e.srcAdm, "app", "clicks", 0, 7, "")  // clicks is not a synced topic here
	e.commit(t, e.srcAdm, "excluded-app", "orders", 0, 10, "")
	s := e.syncer(t, allButExcluded, "", Topic{Source: "orders", Mirror: "orders"})
	if err := s.SyncOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := e.committed(t, "app")
	if len(got) != 2 || got["orders[0]"] != 30 || got["orders[1]"] != 50 {
		t.Errorf("destination group app: %v, want orders[0]=30 orders[1]=50 (clamped) and nothing of clicks", got)
	}
	resp, _ := e.dstAdm.FetchOffsets(context.Background(), "app")
	if o, _ := resp.Lookup("orders", 0); o.Metadata != "meta-0" {
		t.Errorf("commit metadata %q, want meta-0", o.Metadata)
	}
	if got := e.committed(t, "excluded-app"); len(got) != 0 {
		t.Errorf("excluded group reached the destination: %v", got)
	}
	st := s.Status()
	if st.OffsetsCommitted != 2 || st.Clamps != 1 || st.GroupsSynced != 1 {
		t.Errorf("status after the first sync: %+v", st)
	}
	// Nothing changed: nothing is committed.
	if err := s.SyncOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := s.Status(); st.OffsetsCommitted != 2 || st.GroupsSynced != 0 {
		t.Errorf("an unchanged group was committed again: %+v", st)
	}
	e.commit(t, e.srcAdm, "app", "orders", 0, 40, "meta-0")
	if err := s.SyncOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := e.committed(t, "app"); got["orders[0]"] != 40 || s.Status().OffsetsCommitted != 3 {
		t.Errorf("after a source commit: %v, status %+v", got, s.Status())
	}
}

func TestSyncOnce_PrefixesGroupsAndMapsTopics(t *testing.T) {
	e := newEnv(t)
	e.commit(t, e.srcAdm, "app", "clicks", 0, 12, "")
	// The source topic clicks is mirrored as orders here, to see the mapping.
	s := e.syncer(t, `{"groupFilters":[{"name":"app","patternType":"LITERAL","filterType":"INCLUDE"}]}`, "src.",
		Topic{Source: "clicks", Mirror: "orders"})
	if err := s.SyncOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := e.committed(t, "src.app"); len(got) != 1 || got["orders[0]"] != 12 {
		t.Errorf("destination group src.app: %v, want orders[0]=12", got)
	}
	if got := e.committed(t, "app"); len(got) != 0 {
		t.Errorf("unprefixed group written: %v", got)
	}
}

func TestSyncTopic_SyncsOnlyThatTopic(t *testing.T) {
	e := newEnv(t)
	e.commit(t, e.srcAdm, "app", "orders", 0, 5, "")
	e.commit(t, e.srcAdm, "app", "clicks", 0, 6, "")
	s := e.syncer(t, allButExcluded, "")
	if err := s.SyncTopic(context.Background(), "clicks", "clicks"); err != nil {
		t.Fatal(err)
	}
	if got := e.committed(t, "app"); len(got) != 1 || got["clicks[0]"] != 6 {
		t.Errorf("after SyncTopic(clicks): %v", got)
	}
}

func TestSyncOnce_LeavesGroupsActiveOnTheDestinationAlone(t *testing.T) {
	e := newEnv(t)
	e.commit(t, e.srcAdm, "busy", "orders", 0, 20, "")
	e.commit(t, e.dstAdm, "busy", "orders", 0, 3, "")
	consumer, err := kgo.NewClient(append(e.dst.Opts(), kgo.ConsumerGroup("busy"), kgo.ConsumeTopics("orders"),
		kgo.DisableAutoCommit())...)
	if err != nil {
		t.Fatal(err)
	}
	defer consumer.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		consumer.PollFetches(ctx)
		cancel()
		d, err := e.dstAdm.DescribeGroups(context.Background(), "busy")
		if err == nil && len(d["busy"].Members) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the destination consumer did not join its group")
		}
	}
	s := e.syncer(t, allButExcluded, "", Topic{Source: "orders", Mirror: "orders"})
	if err := s.SyncOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := e.committed(t, "busy"); got["orders[0]"] != 3 {
		t.Errorf("active destination group overwritten: %v", got)
	}
	if st := s.Status(); len(st.SkippedGroups) != 1 || st.SkippedGroups[0] != "busy" {
		t.Errorf("skipped groups %v, want [busy]", st.SkippedGroups)
	}
}
