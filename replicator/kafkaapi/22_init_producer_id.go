package kafkaapi

import (
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// InitProducerId (key 22). A transactional id gets the producer of a replay slot (and fences the slot's previous
// instance); with none, the link gets a producer id of its own for the abort markers that fill offsets.

// NewInitProducerID builds the request; transactionalID nil asks for a producer id without a transaction
// (timeout is then ignored by the broker).
func NewInitProducerID(transactionalID *string, timeout time.Duration) *kmsg.InitProducerIDRequest {
	req := kmsg.NewPtrInitProducerIDRequest()
	req.TransactionalID = transactionalID
	req.TransactionTimeoutMillis = -1
	if transactionalID != nil {
		req.TransactionTimeoutMillis = int32(timeout / time.Millisecond)
	}
	return req
}

// InitProducerIDResult reads the response: the producer id and epoch, or the error.
func InitProducerIDResult(resp *kmsg.InitProducerIDResponse) (int64, int16, error) {
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return 0, 0, err
	}
	return resp.ProducerID, resp.ProducerEpoch, nil
}
