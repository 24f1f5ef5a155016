package kafkaapi

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// AddPartitionsToTxn (key 24), version 3 (transaction version 1): a replay slot adds its mirror partition to its
// transaction explicitly before producing to it.

// NewAddPartitionToTxn builds the request adding one partition to a producer's transaction.
func NewAddPartitionToTxn(transactionalID string, producerID int64, epoch int16, topic string, partition int32) *kmsg.AddPartitionsToTxnRequest {
	req := kmsg.NewPtrAddPartitionsToTxnRequest()
	req.TransactionalID, req.ProducerID, req.ProducerEpoch = transactionalID, producerID, epoch
	rt := kmsg.NewAddPartitionsToTxnRequestTopic()
	rt.Topic, rt.Partitions = topic, []int32{partition}
	req.Topics = []kmsg.AddPartitionsToTxnRequestTopic{rt}
	return req
}

// AddPartitionsToTxnErr is the first partition error of the response.
func AddPartitionsToTxnErr(resp *kmsg.AddPartitionsToTxnResponse) error {
	for _, rt := range resp.Topics {
		for _, rp := range rt.Partitions {
			if err := kerr.ErrorForCode(rp.ErrorCode); err != nil {
				return err
			}
		}
	}
	return nil
}
