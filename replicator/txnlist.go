package replicator

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/clusterlink/clusterlink/replicator/kafkaapi"
)

// openTxnLister lists the destination's open transactions for every partition resolving at the same time: each
// reattach needs to know which of its slots' transactional ids have a transaction that is not complete, and one
// ListTransactions per broker answers that for all of them (asking each partition's slot ids with
// DescribeTransactions cost a request per partition at every start, and waited for a transaction coordinator even
// on a destination that never had a transaction). An ask is answered by a request sent after it was made, so an
// answer is never older than the ask.
type openTxnLister struct {
	mu      sync.Mutex
	next    *openTxnList // the request that the asks made now ride on
	sending bool
	// supportChecked, supported: whether every destination broker has ListTransactions, read once (sendAll's).
	supportChecked, supported bool
}

// openTxnList is one ListTransactions round: its answer, shared by the asks made before it was sent.
type openTxnList struct {
	done chan struct{}
	txns []kafkaapi.ListedTransaction
	err  error
}

// errListTransactionsUnsupported: a destination older than Kafka 3.0 has no ListTransactions; reattach then asks
// for the partition's slot ids.
var errListTransactionsUnsupported = errors.New("the destination does not support ListTransactions")

// openTransactions returns the destination's transactions that are not complete (Ongoing, PrepareCommit, ...)
// among the transactional ids the link may describe.
func (r *Replicator) openTransactions(ctx context.Context, cl *kgo.Client) ([]kafkaapi.ListedTransaction, error) {
	l := &r.txnList
	l.mu.Lock()
	round := l.next
	if round == nil {
		round = &openTxnList{done: make(chan struct{})}
		l.next = round
	}
	if !l.sending {
		l.sending = true
		go l.sendAll(cl, r.opts.requestTimeout)
	}
	l.mu.Unlock()
	select {
	case <-round.done:
		return round.txns, round.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// sendAll sends round after round while asks wait for one.
func (l *openTxnLister) sendAll(cl *kgo.Client, timeout time.Duration) {
	for {
		l.mu.Lock()
		round := l.next
		l.next = nil
		if round == nil {
			l.sending = false
			l.mu.Unlock()
			return
		}
		l.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		round.txns, round.err = l.listOpenTransactions(ctx, cl)
		cancel()
		close(round.done)
	}
}

// listOpenTransactions asks every broker of the destination for its open transactions.
func (l *openTxnLister) listOpenTransactions(ctx context.Context, cl *kgo.Client) ([]kafkaapi.ListedTransaction, error) {
	if !l.supportChecked {
		versions, err := kadm.NewClient(cl).ApiVersions(ctx)
		if err != nil {
			return nil, fmt.Errorf("read the destination's API versions: %w", err)
		}
		supported := true
		versions.Each(func(v kadm.BrokerApiVersions) {
			if v.Err != nil {
				err = v.Err
			} else if _, ok := v.KeyMaxVersion(int16(kmsg.ListTransactions)); !ok {
				supported = false
			}
		})
		if err != nil {
			return nil, fmt.Errorf("read the destination's API versions: %w", err)
		}
		l.supportChecked, l.supported = true, supported
	}
	if !l.supported {
		return nil, errListTransactionsUnsupported
	}
	var out []kafkaapi.ListedTransaction
	for _, shard := range cl.RequestSharded(ctx, kafkaapi.NewListTransactions(kafkaapi.OpenTransactionStates)) {
		if shard.Err != nil {
			return nil, shard.Err
		}
		txns, err := kafkaapi.ListedTransactions(shard.Resp.(*kmsg.ListTransactionsResponse))
		if err != nil {
			return nil, err
		}
		out = append(out, txns...)
	}
	return out, nil
}
