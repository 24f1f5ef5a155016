package main

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/clusterlink/clusterlink/integration/kafkatest"
)

// txnReplay measures how fast clusterlink replays transactions: n source transactions, each writing one record to
// every partition and committing, copied by a clusterlink process (its start included). Each is replayed on a
// destination transactional producer per partition, its marker at the source marker's offset.
func txnReplay(ctx context.Context, src, dst *kafkatest.Cluster, n int, partitions int32) (result, error) {
	topic := fmt.Sprintf("txns-%d", n)
	if err := createTopic(ctx, src, topic, partitions); err != nil {
		return result{}, err
	}
	cl, err := src.Client(kgo.TransactionalID("bench-"+topic), kgo.DefaultProduceTopic(topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		return result{}, err
	}
	defer cl.Close()
	for i := 0; i < n; i++ {
		if err := cl.BeginTransaction(); err != nil {
			return result{}, err
		}
		for p := int32(0); p < partitions; p++ {
			cl.Produce(ctx, &kgo.Record{Partition: p, Value: []byte(fmt.Sprint("transaction ", i))}, nil)
		}
		if err := cl.Flush(ctx); err != nil {
			return result{}, err
		}
		if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
			return result{}, fmt.Errorf("commit source transaction %d: %w", i, err)
		}
	}
	cmd := childCommand("catchup", src.BootstrapServers(), dst.BootstrapServers(), topic, 0)
	return runChildMeasured(cmd, fmt.Sprintf("clusterlink replays %d transactions x %d partitions (transactions/s per partition)", n, partitions), 0, int64(n))
}
