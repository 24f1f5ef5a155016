package main

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/clusterlink/clusterlink/integration/kafkatest"
	"github.com/clusterlink/clusterlink/replicator"
	"github.com/clusterlink/clusterlink/replicator/compare"
)

// restoreCost measures what truncate-and-restore costs because a stock broker cannot truncate a log's tail (see
// docs/failback.md): the new primary (src here) holds records records, the old source (dst) the same plus
// divergent records of its own. It times, as truncate-and-restore does them, finding each partition's divergence
// (mirror verify over every offset, then the committed records compared), saving the divergent records, and the
// full copy of the recreated topic by a replicator process. The bytes of the copy are everything the primary
// retains: that is the price.
func restoreCost(ctx context.Context, o options, primary, old *kafkatest.Cluster, records, divergent int64) ([]result, error) {
	topic := fmt.Sprintf("restore-%d", records)
	const recordSize = 1024
	if _, err := produce(ctx, primary, topic, o.partitions, records, recordSize, kgo.Lz4Compression(), o.seed, 0); err != nil {
		return nil, err
	}
	if _, err := runChildMeasured(childCommand("catchup", primary.BootstrapServers(), old.BootstrapServers(), topic, 0), "initial copy", 0, 0); err != nil {
		return nil, err
	}
	// The old source's divergent tail.
	oldCl, err := old.Client(kgo.DefaultProduceTopic(topic), kgo.ProducerBatchCompression(kgo.Lz4Compression()))
	if err != nil {
		return nil, err
	}
	defer oldCl.Close()
	for i := int64(0); i < divergent; i++ {
		oldCl.Produce(ctx, &kgo.Record{Value: []byte(fmt.Sprintf("divergent %d", i))}, nil)
	}
	if err := oldCl.Flush(ctx); err != nil {
		return nil, err
	}
	primaryCl, err := primary.Client()
	if err != nil {
		return nil, err
	}
	defer primaryCl.Close()
	adm, padm := kadm.NewClient(oldCl), kadm.NewClient(primaryCl)
	pb, err := replicator.PartitionBounds(ctx, padm, topic)
	if err != nil {
		return nil, err
	}
	ob, err := replicator.PartitionBounds(ctx, adm, topic)
	if err != nil {
		return nil, err
	}
	var out []result
	start := time.Now()
	if _, err := compare.Topic(ctx, primaryCl, oldCl, topic, topic, compare.Options{FromOffset: -1}); err != nil {
		return nil, err
	}
	from := map[int32]int64{}
	ends := map[int32]int64{}
	var offsets int64
	for p, b := range pb {
		d, err := replicator.FirstCommittedDifference(ctx, oldCl, primaryCl, topic, topic, p, 0, b.End, false)
		if err != nil {
			return nil, err
		}
		from[p], ends[p] = d, ob[p].End
		offsets += b.End
	}
	secs := time.Since(start).Seconds()
	out = append(out, result{Name: "restore: find the divergence, both sides read (offsets/s)", Records: offsets, Seconds: secs,
		RecordsPerS: float64(offsets) / secs, Bytes: offsets * recordSize, MBps: float64(offsets*recordSize) / 1e6 / secs})

	start = time.Now()
	saved, err := replicator.SaveDiverged(ctx, oldCl, topic, topic+".diverged", "bench", o.partitions, from, ends, zap.NewNop())
	if err != nil {
		return nil, err
	}
	secs = time.Since(start).Seconds()
	out = append(out, result{Name: "restore: save the divergent records (records/s)", Records: saved, Seconds: secs, RecordsPerS: float64(saved) / secs})

	id, _, err := replicator.TopicID(ctx, adm, topic)
	if err != nil {
		return nil, err
	}
	start = time.Now()
	if err := replicator.DeleteTopicWithID(ctx, adm, topic, id.String()); err != nil {
		return nil, err
	}
	del := time.Since(start).Seconds()
	r, err := runChildMeasured(childCommand("catchup", primary.BootstrapServers(), old.BootstrapServers(), topic, 0),
		"restore: delete, recreate and copy everything the primary retains (MB/s)", records*recordSize, records)
	if err != nil {
		return nil, err
	}
	r.Seconds += del
	out = append(out, r)
	return out, nil
}
