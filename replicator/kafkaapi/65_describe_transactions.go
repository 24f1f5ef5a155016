package kafkaapi

import (
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// DescribeTransactions (key 65): the state of transactional ids (Ongoing, PrepareCommit, ...) with their producer
// and partitions. Resolve asks for a partition's replay slots by id: a transaction with the partition added but no
// data on it is invisible to DescribeProducers.

// TransactionState is one transactional id's state.
type TransactionState = kmsg.DescribeTransactionsResponseTransactionState

// NewDescribeTransactions builds the request.
func NewDescribeTransactions(ids []string) *kmsg.DescribeTransactionsRequest {
	req := kmsg.NewPtrDescribeTransactionsRequest()
	req.TransactionalIDs = ids
	return req
}

// TransactionsByProducer reads the response: the known transactional ids by producer id. An id that was never
// used (TRANSACTIONAL_ID_NOT_FOUND) is left out; any other error of an id is returned, since a transaction that
// could not be described may be open.
func TransactionsByProducer(resp *kmsg.DescribeTransactionsResponse) (map[int64]TransactionState, error) {
	out := map[int64]TransactionState{}
	for _, ts := range resp.TransactionStates {
		switch err := kerr.ErrorForCode(ts.ErrorCode); {
		case err == nil:
			out[ts.ProducerID] = ts
		case errors.Is(err, kerr.TransactionalIDNotFound):
		default:
			return nil, fmt.Errorf("transactional id %s: %w", ts.TransactionalID, err)
		}
	}
	return out, nil
}

// HasPartition reports whether a transaction holds the partition.
func HasPartition(ts TransactionState, topic string, partition int32) bool {
	for _, t := range ts.Topics {
		if t.Topic == topic {
			for _, p := range t.Partitions {
				if p == partition {
					return true
				}
			}
		}
	}
	return false
}
