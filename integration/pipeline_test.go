package integration

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/clusterlink/clusterlink/integration/kafkatest"
	"github.com/clusterlink/clusterlink/replicator"
)

// TestMirror_PipelinedBatchesNeverLandBehindARefusedOne makes a real destination refuse one batch in the middle of a
// backlog of one idempotent producer's batches, which the writer pipelines (several produces in flight for the
// partition). Kafka must refuse every batch sent behind the refused one (their sequences no longer follow), so the
// mirror ends exactly before the refused batch, identical to the source up to there, and the partition reports the
// refusal.
func TestMirror_PipelinedBatchesNeverLandBehindARefusedOne(t *testing.T) {
	src, dst := source(t), destination(t)
	topic := uniqueTopic(t, "piped")
	createTopic(t, src, topic, 1, map[string]*string{"max.message.bytes": kadm.StringPtr("2097152")})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	p, err := kgo.NewClient(append(src.ClientOpts(), kgo.DefaultProduceTopic(topic), kgo.ProducerBatchMaxBytes(2097152-1024))...)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	const small = 40 // batches of one record before and after the large one
	produceOne := func(key string, value []byte) {
		if err := p.ProduceSync(ctx, &kgo.Record{Key: []byte(key), Value: value}).FirstErr(); err != nil {
			t.Fatalf("produce %s: %v", key, err)
		}
	}
	for i := 0; i < small; i++ {
		produceOne(fmt.Sprint("before-", i), []byte(strings.Repeat("x", 100+i)))
	}
	large := make([]byte, 1500000) // incompressible, above the 1 MiB the mirror will accept
	rand.New(rand.NewSource(3)).Read(large)
	produceOne("large", large)
	for i := 0; i < small; i++ {
		produceOne(fmt.Sprint("after-", i), []byte(strings.Repeat("y", 100+i)))
	}

	r := startLink(t, src, dst).r
	if err := r.AddMirror(ctx, replicator.MirrorSpec{MirrorTopic: topic, Paused: true}); err != nil {
		t.Fatal(err)
	}
	// The mirror was created accepting the source's 2 MiB batches; lower it so the large batch is refused.
	resp, err := kadm.NewClient(newClient(t, dst)).AlterTopicConfigs(ctx,
		[]kadm.AlterConfig{{Op: kadm.SetConfig, Name: "max.message.bytes", Value: kadm.StringPtr("1048576")}}, topic)
	if err == nil {
		_, err = resp.On(topic, nil)
	}
	if err != nil {
		t.Fatalf("lower the mirror's max.message.bytes: %v", err)
	}
	if err := r.ResumeMirror(topic); err != nil {
		t.Fatal(err)
	}

	var st replicator.PartitionStatus
	for st.Status != replicator.StatusFailed {
		ms, _ := r.MirrorStatus(topic)
		if len(ms.Partitions) == 1 {
			st = ms.Partitions[0]
		}
		if ctx.Err() != nil {
			t.Fatalf("the partition did not report the refused batch: %+v", st)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if st.ErrorCode != replicator.CodeDestinationRejected || !strings.Contains(st.ErrorMessage, fmt.Sprintf("batch at offset %d", small)) ||
		!strings.Contains(st.ErrorMessage, "MESSAGE_TOO_LARGE") {
		t.Fatalf("partition failed with %s %q, want %s naming offset %d and MESSAGE_TOO_LARGE", st.ErrorCode, st.ErrorMessage,
			replicator.CodeDestinationRejected, small)
	}
	if st.Counters.BatchesPipelined == 0 {
		t.Fatalf("no batch was pipelined (%+v): the test proves nothing", st.Counters)
	}
	dstB := partitionBounds(t, ctx, newClient(t, dst), topic)[0]
	if dstB.end != small || st.MirrorLogEndOffset != small {
		t.Fatalf("the mirror ends at %d (status %d), want %d: batches behind the refused one landed", dstB.end, st.MirrorLogEndOffset, small)
	}
	want := bounds{0, small}
	compareRecords(t, 0, below(readRecords(t, ctx, newClient(t, src), topic, 0, want), small), readRecords(t, ctx, newClient(t, dst), topic, 0, want))
}

// TestMirror_PipelinedCopySurvivesDestinationLeaderMoves copies a live topic (two idempotent producers, current
// timestamps, so the writer pipelines) to a three-node destination, and restarts two of its nodes while data flows:
// leaders move under produces in flight, the pipelines fail and resolve, and at the end every record and every batch
// of the mirror matches the source at the same offsets.
func TestMirror_PipelinedCopySurvivesDestinationLeaderMoves(t *testing.T) {
	src := source(t)
	dst := kafkatest.StartT(t, kafkatest.Nodes(3))
	topic := uniqueTopic(t, "pipedmoves")
	createTopic(t, src, topic, 3, nil)

	l := startLink(t, src, dst, replicator.ReplicationFactor(3), replicator.RetryBackoff(50*time.Millisecond))
	r := l.r
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	if err := r.AddMirror(ctx, replicator.MirrorSpec{MirrorTopic: topic}); err != nil {
		t.Fatal(err)
	}

	// Two producers write all along: small batches (linger 5 ms), each partition's log alternating between runs of
	// the one and of the other (a pipeline ends where the producer changes).
	pctx, stopProducing := context.WithCancel(ctx)
	produced := make(chan error, 2)
	for w := 0; w < 2; w++ {
		p, err := kgo.NewClient(append(src.ClientOpts(), kgo.DefaultProduceTopic(topic), kgo.ProducerLinger(5*time.Millisecond),
			kgo.ProducerBatchCompression(kgo.Lz4Compression()))...)
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		go func() {
			var first error
			var mu sync.Mutex
			for i := 0; pctx.Err() == nil; i++ {
				p.Produce(pctx, &kgo.Record{Key: []byte(fmt.Sprint(w, "-", i)), Value: []byte(strings.Repeat("v", 100+i%50))},
					func(_ *kgo.Record, err error) {
						mu.Lock()
						if err != nil && first == nil && pctx.Err() == nil {
							first = err
						}
						mu.Unlock()
					})
				if i%5 == 0 {
					time.Sleep(2 * time.Millisecond)
				}
			}
			err := p.Flush(ctx)
			mu.Lock()
			produced <- errors.Join(first, err)
			mu.Unlock()
		}()
	}

	time.Sleep(3 * time.Second)
	for _, n := range dst.Nodes[:2] {
		if err := n.Restart(); err != nil {
			t.Fatalf("restart destination node %d: %v", n.ID, err)
		}
		waitReady(t, dst)
		time.Sleep(3 * time.Second)
	}
	stopProducing()
	for range 2 {
		if err := <-produced; err != nil {
			t.Fatalf("produce: %v", err)
		}
	}
	waitCaughtUp(t, l, src, topic, topic)
	requireMirrorEqual(t, src, dst, topic, topic)
	st, _ := r.MirrorStatus(topic)
	var records, pipelined int64
	for _, ps := range st.Partitions {
		records += ps.Counters.Records
		pipelined += ps.Counters.BatchesPipelined
	}
	if pipelined == 0 {
		t.Fatal("no batch was pipelined: the test proves nothing")
	}
	t.Logf("%d records copied, %d batches pipelined", records, pipelined)
}

// TestMirror_PipeliningFollowsTheDestinationsProducerExpiration mirrors to a destination whose
// producer.id.expiration.ms is 10 minutes: batches five minutes old must not be pipelined (the broker could forget
// their producer while they are in flight), batches of now must be.
func TestMirror_PipeliningFollowsTheDestinationsProducerExpiration(t *testing.T) {
	src := source(t)
	dst := kafkatest.StartT(t, kafkatest.BrokerConfig("producer.id.expiration.ms", "600000"))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pipelined := func(topic string, at func() time.Time) int64 {
		t.Helper()
		createTopic(t, src, topic, 1, nil)
		p, err := kgo.NewClient(append(src.ClientOpts(), kgo.DefaultProduceTopic(topic))...)
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		for i := 0; i < 60; i++ { // one batch each, all of one idempotent producer
			if err := p.ProduceSync(ctx, &kgo.Record{Value: []byte(fmt.Sprint(i)), Timestamp: at()}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		l := startLink(t, src, dst)
		l.addMirror(t, replicator.MirrorSpec{MirrorTopic: topic})
		waitCaughtUp(t, l, src, topic, topic)
		requireMirrorEqual(t, src, dst, topic, topic)
		st, _ := l.r.MirrorStatus(topic)
		return st.Partitions[0].Counters.BatchesPipelined
	}
	if n := pipelined(uniqueTopic(t, "old"), func() time.Time { return time.Now().Add(-5 * time.Minute) }); n != 0 {
		t.Errorf("%d batches five minutes old were pipelined to a destination that expires producers after ten", n)
	}
	if n := pipelined(uniqueTopic(t, "new"), time.Now); n == 0 {
		t.Error("no batch of now was pipelined: the test proves nothing")
	}
}
