package replicator

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/clusterlink/clusterlink/replicator/recordbatch"
)

// describeIdempotentProducers makes c answer DescribeProducers as a real broker does for idempotent producers: kfake
// lists transactional producers only, so a resolve on kfake reads the link's own producer's sequence as 0 and
// its next batch at the log end looks like a duplicate of the first one (a real broker reports every producer of
// the partition with its last sequence). The answer is read from the partition's batches: each producer id with
// the epoch and last sequence of its last batch. Only for tests without transactions.
func describeIdempotentProducers(t *testing.T, c *kfake.Cluster) {
	t.Helper()
	// Fetch up to v12 names topics (v13 would need the topic ids).
	reader, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.MaxVersions(kversion.V3_0_0()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(reader.Close)
	c.ControlKey(int16(kmsg.DescribeProducers), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		dreq := req.(*kmsg.DescribeProducersRequest)
		resp := dreq.ResponseKind().(*kmsg.DescribeProducersResponse)
		// Read the log outside the cluster's loop (SleepControl lets it serve the fetches).
		c.SleepControl(func() {
			for _, rt := range dreq.Topics {
				st := kmsg.NewDescribeProducersResponseTopic()
				st.Topic = rt.Topic
				for _, id := range rt.Partitions {
					sp := kmsg.NewDescribeProducersResponseTopicPartition()
					sp.Partition = id
					producers, err := lastBatchOfEachProducer(reader, rt.Topic, id)
					if err != nil {
						sp.ErrorCode = kerr.UnknownServerError.Code // the resolve retries
					}
					for pid, h := range producers {
						ap := kmsg.NewDescribeProducersResponseTopicPartitionActiveProducer()
						ap.ProducerID, ap.ProducerEpoch = pid, int32(h.ProducerEpoch)
						ap.LastSequence = h.BaseSequence + h.LastOffsetDelta
						ap.LastTimestamp, ap.CoordinatorEpoch, ap.CurrentTxnStartOffset = h.MaxTimestamp, -1, -1
						sp.ActiveProducers = append(sp.ActiveProducers, ap)
					}
					st.Partitions = append(st.Partitions, sp)
				}
				resp.Topics = append(resp.Topics, st)
			}
		})
		return resp, nil, true
	})
}

// lastBatchOfEachProducer reads a partition's batches from its start and keeps each producer's last one.
func lastBatchOfEachProducer(cl *kgo.Client, topic string, id int32) (map[int64]recordbatch.Header, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out := map[int64]recordbatch.Header{}
	for offset := int64(0); ; {
		req := kmsg.NewPtrFetchRequest()
		req.ReplicaID, req.MaxBytes, req.SessionEpoch = -1, 1<<20, -1
		ft := kmsg.NewFetchRequestTopic()
		ft.Topic = topic
		fp := kmsg.NewFetchRequestTopicPartition()
		fp.Partition, fp.FetchOffset, fp.PartitionMaxBytes, fp.CurrentLeaderEpoch, fp.LogStartOffset = id, offset, 1<<20, -1, -1
		ft.Partitions = append(ft.Partitions, fp)
		req.Topics = append(req.Topics, ft)
		kresp, err := req.RequestWith(ctx, cl)
		if err != nil {
			return nil, err
		}
		if len(kresp.Topics) != 1 || len(kresp.Topics[0].Partitions) != 1 {
			return nil, context.DeadlineExceeded
		}
		p := kresp.Topics[0].Partitions[0]
		if p.ErrorCode != 0 {
			return nil, context.DeadlineExceeded
		}
		batches, _, err := recordbatch.Split(p.RecordBatches)
		if err != nil {
			return nil, err
		}
		if len(batches) == 0 {
			return out, nil
		}
		for _, b := range batches {
			if b.Header.ProducerID >= 0 {
				out[b.Header.ProducerID] = b.Header
			}
			offset = b.Header.NextOffset()
		}
	}
}
