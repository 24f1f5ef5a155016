package replicator

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kversion"
	"go.uber.org/zap"

	"github.com/clusterlink/clusterlink/replicator/kafkaapi"
)

// AbortedTransactions is what AbortOpenTransactions found open on a mirror topic and ended.
type AbortedTransactions struct {
	// Aborted are the link's transactional ids whose open transaction was aborted.
	Aborted []string
	// Foreign are producer ids with an open transaction on the topic that are not the link's: left alone.
	Foreign []int64
}

// AbortOpenTransactions ends a promote or failover: every transaction of the link (transactional ids starting with
// prefix) still open on the mirror topic is aborted, as the source transaction it replays is unfinished (its
// source broker failed mid-transaction, or the promote came before its marker), and the call returns once the
// topic's last stable offset equals its high watermark on every partition the link's transactions held back. So
// read_committed consumers of the promoted topic are not blocked until the transaction timeout, and the records of
// an unfinished source transaction are never committed on the destination: what a source broker's transaction
// timeout would have done. It needs only the destination, and runs again safely after a restart.
func AbortOpenTransactions(ctx context.Context, dst *kgo.Client, topic, prefix string, log *zap.Logger) (AbortedTransactions, error) {
	var out AbortedTransactions
	adm := kadm.NewClient(dst)
	described, err := adm.DescribeProducers(ctx, kadm.TopicsSet{topic: nil})
	if err != nil {
		return out, fmt.Errorf("describe the producers of %s: %w", topic, err)
	}
	ongoing := map[int64]bool{}
	var describeErr error
	described.EachPartition(func(p kadm.DescribedProducersPartition) {
		if p.Err != nil {
			describeErr = errors.Join(describeErr, fmt.Errorf("%s[%d]: %w", topic, p.Partition, p.Err))
		}
		for _, ap := range p.ActiveProducers {
			if ap.CurrentTxnStartOffset >= 0 {
				ongoing[ap.ProducerID] = true
			}
		}
	})
	if describeErr != nil {
		return out, fmt.Errorf("describe the producers of %s: %w", topic, describeErr)
	}
	if len(ongoing) == 0 {
		return out, nil
	}
	pids := make([]int64, 0, len(ongoing))
	for pid := range ongoing {
		pids = append(pids, pid)
	}
	listed, err := adm.ListTransactions(ctx, pids, nil)
	if err != nil {
		return out, fmt.Errorf("list the transactions open on %s: %w", topic, err)
	}
	var ids []string
	for _, lt := range listed.Sorted() {
		if ongoing[lt.ProducerID] && strings.HasPrefix(lt.TxnID, prefix+"-") {
			ids = append(ids, lt.TxnID)
			delete(ongoing, lt.ProducerID)
		}
	}
	for pid := range ongoing {
		out.Foreign = append(out.Foreign, pid)
	}
	if len(out.Foreign) > 0 {
		log.Warn("open transactions on the promoted topic that are not the link's: left to their producers",
			zap.String("topic", topic), zap.Int64s("producer_ids", out.Foreign))
	}
	if len(ids) == 0 {
		return out, nil
	}
	// The link's slots speak transaction version 1; end their transactions the same way.
	vs := kversion.Stable()
	vs.SetMaxKeyVersion(26, 4) // EndTxn
	cl, err := kgo.NewClient(append(dst.Opts(), kgo.MaxVersions(vs))...)
	if err != nil {
		return out, err
	}
	defer cl.Close()
	txns, err := adm.DescribeTransactions(ctx, ids...)
	if err != nil {
		return out, fmt.Errorf("describe the link's transactions open on %s: %w", topic, err)
	}
	for _, ts := range txns.Sorted() {
		if ts.Err != nil {
			return out, fmt.Errorf("describe transaction %s: %w", ts.TxnID, ts.Err)
		}
		if ts.State != "Ongoing" {
			continue // completing already
		}
		if err := abortTransaction(ctx, cl, ts.TxnID, ts.ProducerID, ts.ProducerEpoch); err != nil {
			return out, fmt.Errorf("abort transaction %s on %s: %w", ts.TxnID, topic, err)
		}
		out.Aborted = append(out.Aborted, ts.TxnID)
	}
	if len(out.Aborted) > 0 {
		log.Info("open transactions of the link aborted on the promoted topic", zap.String("topic", topic),
			zap.Strings("transactional_ids", out.Aborted))
	}
	if len(out.Foreign) > 0 {
		return out, nil // their transactions hold the last stable offset back: nothing to wait for
	}
	return out, waitStable(ctx, adm, topic)
}

// waitStable waits until every partition's last stable offset equals its high watermark: the coordinators have
// written the abort markers. Foreign open transactions are not waited for.
func waitStable(ctx context.Context, adm *kadm.Client, topic string) error {
	for {
		ends, err := adm.ListEndOffsets(ctx, topic)
		if err == nil {
			var stable kadm.ListedOffsets
			if stable, err = adm.ListCommittedOffsets(ctx, topic); err == nil {
				behind := 0
				ends.Each(func(e kadm.ListedOffset) {
					if s, ok := stable.Lookup(topic, e.Partition); !ok || s.Err != nil || s.Offset < e.Offset {
						behind++
					}
				})
				if behind == 0 {
					return nil
				}
				err = fmt.Errorf("%d partition(s) with the last stable offset behind the high watermark", behind)
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for the abort markers on %s: %w (%v)", topic, ctx.Err(), err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// abortTransaction aborts a transactional id's open transaction with its producer id and epoch, retried while its
// coordinator is busy (CONCURRENT_TRANSACTIONS, loading, moving).
func abortTransaction(ctx context.Context, cl *kgo.Client, txnID string, pid int64, epoch int16) error {
	return retryConcurrent(ctx, func() error {
		resp, err := kafkaapi.NewEndTxn(txnID, pid, epoch, false).RequestWith(ctx, cl)
		if err != nil {
			return err
		}
		return kafkaapi.EndTxnErr(resp)
	})
}
