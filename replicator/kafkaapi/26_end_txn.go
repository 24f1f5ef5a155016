package kafkaapi

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// EndTxn (key 26), version 4 (transaction version 1): a replay slot commits or aborts its transaction as the
// source's marker does. The broker answers before the coordinator wrote the markers; the caller waits for the
// marker on the partition.

// NewEndTxn builds the request.
func NewEndTxn(transactionalID string, producerID int64, epoch int16, commit bool) *kmsg.EndTxnRequest {
	req := kmsg.NewPtrEndTxnRequest()
	req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Commit = transactionalID, producerID, epoch, commit
	return req
}

// EndTxnErr is the response's error.
func EndTxnErr(resp *kmsg.EndTxnResponse) error { return kerr.ErrorForCode(resp.ErrorCode) }
