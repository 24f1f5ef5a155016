package kafkaapi

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ListTransactions (key 66, Kafka 3.0+): every transactional id a broker coordinates, with its producer and state,
// filtered by state; the client sends it to every broker. Resolve lists the transactions still open once for all
// the partitions resolving at the same time, instead of describing each partition's slot ids.

// OpenTransactionStates are the states of a transaction that is not complete: its partitions may hold data or a
// pending marker.
var OpenTransactionStates = []string{"Ongoing", "PrepareCommit", "PrepareAbort", "PrepareEpochFence"}

// ListedTransaction is one transactional id of a ListTransactions answer.
type ListedTransaction struct {
	TransactionalID string
	ProducerID      int64
	State           string
}

// NewListTransactions builds the request for the transactions in the given states.
func NewListTransactions(states []string) *kmsg.ListTransactionsRequest {
	req := kmsg.NewPtrListTransactionsRequest()
	req.StateFilters = states
	return req
}

// ListedTransactions reads one broker's answer.
func ListedTransactions(resp *kmsg.ListTransactionsResponse) ([]ListedTransaction, error) {
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return nil, err
	}
	out := make([]ListedTransaction, 0, len(resp.TransactionStates))
	for _, ts := range resp.TransactionStates {
		out = append(out, ListedTransaction{TransactionalID: ts.TransactionalID, ProducerID: ts.ProducerID, State: ts.TransactionState})
	}
	return out, nil
}
