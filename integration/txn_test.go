package integration

import (
	"context"
	"fmt"
	"math/rand"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/clusterlink/clusterlink/integration/kafkatest"
	"github.com/clusterlink/clusterlink/replicator"
)

// readIsolated reads a partition from its start up to end with an isolation level; markers are never returned.
func readIsolated(t *testing.T, c *kafkatest.Cluster, topic string, p int32, end int64, level kgo.IsolationLevel) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(append(c.ClientOpts(), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {p: kgo.NewOffset().AtStart()}}),
		kgo.FetchIsolationLevel(level))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var out []*kgo.Record
	idle := 0
	for idle < 3 {
		fctx, fcancel := context.WithTimeout(ctx, 500*time.Millisecond)
		fs := cl.PollFetches(fctx)
		fcancel()
		if ctx.Err() != nil {
			t.Fatalf("read %s[%d]: %v", topic, p, ctx.Err())
		}
		n := 0
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset < end {
				out = append(out, r)
				n++
			}
		})
		if n == 0 {
			idle++
		}
	}
	return out
}

// lastStableOffsets reads the last stable offset of each partition (ListOffsets latest, read_committed).
func lastStableOffsets(t *testing.T, c *kafkatest.Cluster, topic string) map[int32]int64 {
	t.Helper()
	cl, err := kgo.NewClient(append(c.ClientOpts(), kgo.FetchIsolationLevel(kgo.ReadCommitted()))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	// ListCommittedOffsets is ListOffsets latest at read_committed: the last stable offset (ListEndOffsets asks
	// read_uncommitted, the high watermark, whatever the client's isolation level).
	ends, err := kadm.NewClient(cl).ListCommittedOffsets(context.Background(), topic)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) { out[o.Partition] = o.Offset })
	return out
}

// TestMirror_TransactionsReplayAtIdenticalOffsets: two transactional producers write interleaved to the same six
// partitions, committing and aborting at random, one transaction spanning every partition, with plain records in
// between; the mirror has every record at its offset for read_committed and read_uncommitted readers alike, and the
// same last stable offsets.
func TestMirror_TransactionsReplayAtIdenticalOffsets(t *testing.T) {
	src, dst := source(t), destination(t)
	topic := uniqueTopic(t, "txn")
	const partitions = 6
	createTopic(t, src, topic, partitions, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	producer := func(id string) *kgo.Client {
		cl, err := kgo.NewClient(append(src.ClientOpts(), kgo.TransactionalID(id+"-"+topic), kgo.DefaultProduceTopic(topic),
			kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(0))...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cl.Close)
		return cl
	}
	a, b := producer("a"), producer("b")
	plain := newClient(t, src)
	rng := rand.New(rand.NewSource(7))
	var committed, aborted int
	produce := func(cl *kgo.Client, name string, round int, parts ...int32) {
		for _, p := range parts {
			for i := 0; i < 1+rng.Intn(3); i++ {
				if err := cl.ProduceSync(ctx, &kgo.Record{Partition: p, Key: []byte(fmt.Sprint(name, "-", round)),
					Value: []byte(fmt.Sprintf("%s round %d partition %d record %d", name, round, p, i))}).FirstErr(); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	for round := 0; round < 12; round++ {
		for _, cl := range []*kgo.Client{a, b} {
			if err := cl.BeginTransaction(); err != nil {
				t.Fatal(err)
			}
		}
		// Interleaved: a, b, plain, a, b on overlapping partitions.
		if round == 5 {
			produce(a, "a", round, 0, 1, 2, 3, 4, 5) // one transaction spanning every partition
		} else {
			produce(a, "a", round, int32(rng.Intn(partitions)), int32(rng.Intn(partitions)))
		}
		produce(b, "b", round, int32(rng.Intn(partitions)))
		for p := int32(0); p < partitions; p++ {
			if err := plain.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: p, Value: []byte(fmt.Sprint("plain ", round))}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		produce(a, "a", round, int32(rng.Intn(partitions)))
		produce(b, "b", round, int32(rng.Intn(partitions)))
		for _, cl := range []*kgo.Client{a, b} {
			commit := kgo.TryCommit
			if rng.Intn(3) == 0 {
				commit = kgo.TryAbort
				aborted++
			} else {
				committed++
			}
			if err := cl.EndTransaction(ctx, commit); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Logf("source: %d transactions committed, %d aborted", committed, aborted)

	l := startLink(t, src, dst)
	l.addMirror(t, replicator.MirrorSpec{MirrorTopic: topic})
	waitCaughtUp(t, l, src, topic, topic)

	srcLSO, dstLSO := lastStableOffsets(t, src, topic), lastStableOffsets(t, dst, topic)
	if fmt.Sprint(srcLSO) != fmt.Sprint(dstLSO) {
		t.Fatalf("last stable offsets: source %v, mirror %v", srcLSO, dstLSO)
	}
	requireVerified(t, src, dst, topic, topic, false)
	// Markers carry their coordinator's clock: a lookup by a source marker's timestamp may answer another offset
	// on the mirror. Measured, not required (README's limits quote it).
	checked, differing := timestampLookupDifferences(t, src, dst, topic)
	t.Logf("ListOffsets by the timestamp of each of %d source markers: %d answered another offset on the mirror", checked, differing)
	ends := sourceEnds(t, src, topic)
	for p := int32(0); p < partitions; p++ {
		for _, level := range []kgo.IsolationLevel{kgo.ReadCommitted(), kgo.ReadUncommitted()} {
			compareRecords(t, p, readIsolated(t, src, topic, p, ends[p], level), readIsolated(t, dst, topic, p, ends[p], level))
		}
	}
	st, _ := l.r.MirrorStatus(topic)
	var c replicator.Counters
	for _, p := range st.Partitions {
		c.TransactionsCommitted += p.Counters.TransactionsCommitted
		c.TransactionsAborted += p.Counters.TransactionsAborted
		c.BatchesRewritten += p.Counters.BatchesRewritten
	}
	if c.TransactionsCommitted == 0 || c.TransactionsAborted == 0 {
		t.Errorf("replayed %d committed and %d aborted partition transactions", c.TransactionsCommitted, c.TransactionsAborted)
	}
	t.Logf("mirror: %d partition transactions committed, %d aborted, %d batches rewritten", c.TransactionsCommitted,
		c.TransactionsAborted, c.BatchesRewritten)
}

// TestMirror_TransactionsSurviveKillsOfTheReplicator kills the replicator process (SIGKILL) four times while two
// transactional producers keep committing and aborting interleaved transactions and a Streams-style exactly-once
// task writes a changelog and a repartition topic with its consumer offsets in its transactions; each restart
// continues the destination transactions left open instead of aborting them, and at the end every offset, both
// isolation levels and the last stable offsets of the three mirrors match the source.
func TestMirror_TransactionsSurviveKillsOfTheReplicator(t *testing.T) {
	src, dst := source(t), destination(t)
	topic := uniqueTopic(t, "txn-kill")
	const partitions = 3
	createTopic(t, src, topic, partitions, nil)
	ctx, cancel := context.WithCancel(context.Background())
	produced := make(chan error, 2)
	for w := 0; w < 2; w++ {
		go func() {
			cl, err := kgo.NewClient(append(src.ClientOpts(), kgo.TransactionalID(fmt.Sprintf("w%d-%s", w, topic)),
				kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(0))...)
			if err != nil {
				produced <- err
				return
			}
			defer cl.Close()
			rng := rand.New(rand.NewSource(int64(w)))
			for round := 0; ctx.Err() == nil; round++ {
				if err := cl.BeginTransaction(); err != nil {
					produced <- err
					return
				}
				for i := 0; i < 2+rng.Intn(4); i++ {
					r := &kgo.Record{Partition: int32(rng.Intn(partitions)), Value: []byte(fmt.Sprintf("w%d round %d record %d", w, round, i))}
					if err := cl.ProduceSync(context.Background(), r).FirstErr(); err != nil {
						produced <- err
						return
					}
					time.Sleep(time.Duration(rng.Intn(20)) * time.Millisecond) // transactions stay open a while
				}
				commit := kgo.TryCommit
				if rng.Intn(3) == 0 {
					commit = kgo.TryAbort
				}
				if err := cl.EndTransaction(context.Background(), commit); err != nil {
					produced <- err
					return
				}
			}
			produced <- nil
		}()
	}
	// A Kafka Streams-style exactly-once task beside them: it consumes an input topic and writes a changelog and a
	// repartition topic in transactions that also commit its consumer offsets.
	input, changelog, repartition := topic+"-input", topic+"-changelog", topic+"-repartition"
	for _, tp := range []string{input, changelog, repartition} {
		createTopic(t, src, tp, partitions, nil)
	}
	produceMix(t, src, input, 3000, kgo.Lz4Compression(), 5)
	eosDone := make(chan error, 1)
	go func() {
		sess, err := kgo.NewGroupTransactSession(append(src.ClientOpts(), kgo.TransactionalID("eos-"+topic),
			kgo.ConsumerGroup("eos-"+topic), kgo.ConsumeTopics(input), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.MaxBufferedRecords(200))...)
		if err != nil {
			eosDone <- err
			return
		}
		defer sess.Close()
		for ctx.Err() == nil {
			pctx, pcancel := context.WithTimeout(ctx, 200*time.Millisecond)
			fs := sess.PollFetches(pctx)
			pcancel()
			if len(fs.Records()) == 0 {
				continue
			}
			if err := sess.Begin(); err != nil {
				eosDone <- err
				return
			}
			for i, r := range fs.Records() {
				if i >= 100 {
					break
				}
				sess.Produce(ctx, &kgo.Record{Topic: changelog, Key: r.Key, Value: r.Value}, nil)
				sess.Produce(ctx, &kgo.Record{Topic: repartition, Key: r.Value[:min(8, len(r.Value))], Value: r.Key}, nil)
			}
			if _, err := sess.End(context.Background(), kgo.TryCommit); err != nil {
				eosDone <- err
				return
			}
		}
		eosDone <- nil
	}()
	mirrored := []string{topic, changelog, repartition}

	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	for kill := 0; kill < 4; kill++ {
		child := startChild(t, src, dst, mirrored...)
		time.Sleep(time.Duration(1500+rng.Intn(1500)) * time.Millisecond)
		if err := child.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatalf("kill the replicator: %v", err)
		}
		_ = child.Wait()
	}
	cancel()
	for range 2 {
		if err := <-produced; err != nil {
			t.Fatalf("transactional producer: %v", err)
		}
	}
	if err := <-eosDone; err != nil {
		t.Fatalf("exactly-once task: %v", err)
	}
	var written int64
	for _, e := range sourceEnds(t, src, changelog) {
		written += e
	}
	if written == 0 {
		t.Fatal("the exactly-once task wrote nothing to its changelog")
	}
	l := startLink(t, src, dst)
	for _, tp := range mirrored {
		l.addMirror(t, replicator.MirrorSpec{MirrorTopic: tp})
	}
	for _, tp := range mirrored {
		waitCaughtUp(t, l, src, tp, tp)
		srcLSO, dstLSO := lastStableOffsets(t, src, tp), lastStableOffsets(t, dst, tp)
		if fmt.Sprint(srcLSO) != fmt.Sprint(dstLSO) {
			t.Fatalf("%s last stable offsets: source %v, mirror %v", tp, srcLSO, dstLSO)
		}
		ends := sourceEnds(t, src, tp)
		for p := int32(0); p < partitions; p++ {
			for _, level := range []kgo.IsolationLevel{kgo.ReadCommitted(), kgo.ReadUncommitted()} {
				compareRecords(t, p, readIsolated(t, src, tp, p, ends[p], level), readIsolated(t, dst, tp, p, ends[p], level))
			}
		}
	}
	st, _ := l.r.MirrorStatus(topic)
	t.Logf("after 4 kills: %+v", st.Partitions[0].Counters)
}

// timestampLookupDifferences looks up, on both clusters, the offset for the timestamp of every source transaction
// marker (ListOffsets by time: the first offset whose timestamp is at or after it) and counts the partitions where
// the mirror answers another offset than the source.
func timestampLookupDifferences(t *testing.T, src, dst *kafkatest.Cluster, topic string) (checked, differing int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srcCl := newClient(t, src)
	rd, err := kgo.NewClient(append(src.ClientOpts(), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.KeepControlRecords(), kgo.FetchMaxWait(200*time.Millisecond))...)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	ends := sourceEnds(t, src, topic)
	type marker struct {
		p  int32
		ts int64
	}
	var markers []marker
	seen := map[int32]int64{}
	for done := false; !done; {
		fs := rd.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatal(ctx.Err())
		}
		fs.EachRecord(func(r *kgo.Record) {
			seen[r.Partition] = r.Offset + 1
			if r.Attrs.IsControl() {
				markers = append(markers, marker{r.Partition, r.Timestamp.UnixMilli()})
			}
		})
		done = true
		for p, end := range ends {
			done = done && seen[p] >= end
		}
	}
	srcAdm, dstAdm := kadm.NewClient(srcCl), kadm.NewClient(newClient(t, dst))
	for _, m := range markers {
		s, err := srcAdm.ListOffsetsAfterMilli(ctx, m.ts, topic)
		if err != nil {
			t.Fatal(err)
		}
		d, err := dstAdm.ListOffsetsAfterMilli(ctx, m.ts, topic)
		if err != nil {
			t.Fatal(err)
		}
		so, _ := s.Lookup(topic, m.p)
		do, _ := d.Lookup(topic, m.p)
		checked++
		if so.Offset != do.Offset {
			differing++
		}
	}
	return checked, differing
}
