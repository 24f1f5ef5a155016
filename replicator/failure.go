package replicator

import (
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
)

// This file is what a failed write does to its partition, decided by the error's type, never by its text.

// failureClass is what a failed write does to its partition.
type failureClass int

const (
	// resync: the outcome is unknown, or the destination asks to try again: the partition re-reads its log end
	// offset (once nothing of it is in flight) and goes on from there, so nothing is written twice.
	resync failureClass = iota
	// stripProducer: the destination refused a source producer's sequence (the source no longer has some of its
	// batches): that producer's batches go on without producer fields, after a resync.
	stripProducer
	// failPartition: the destination refused the write for a reason retrying cannot fix: the partition stops
	// FAILED with DESTINATION_REJECTED.
	failPartition
)

// requestError is a request that failed as a whole (the connection, a timeout, no answer): it says nothing about
// the partition, whose write may or may not have landed.
type requestError struct {
	op  string
	err error
}

func (e *requestError) Error() string { return fmt.Sprintf("%s: %v", e.op, e.err) }
func (e *requestError) Unwrap() error { return e.err }

// requestFailed wraps the error of a request that failed as a whole.
func requestFailed(op string, err error) error { return &requestError{op: op, err: err} }

// classify decides what the failed write of kind w does to its partition.
func classify(w write, err error) failureClass {
	var req *requestError
	var ke *kerr.Error
	switch {
	case errors.As(err, &req):
		return resync
	case isSequenceError(err):
		if rw, ok := w.(rawWrite); ok && rw.batch.Header.ProducerID >= 0 && !rw.strip && !rw.reencoded {
			return stripProducer
		}
		return resync // a replayed transaction's producer fenced or expired: resolve reattaches or starts anew
	case errors.As(err, &ke) && !ke.Retriable:
		return failPartition
	}
	return resync // retriable Kafka errors, and writes that got no usable answer
}

// isSequenceError reports the errors of a batch whose producer sequence does not follow what the destination has.
func isSequenceError(err error) bool {
	return errors.Is(err, kerr.OutOfOrderSequenceNumber) || errors.Is(err, kerr.UnknownProducerID) ||
		errors.Is(err, kerr.InvalidProducerEpoch) || errors.Is(err, kerr.DuplicateSequenceNumber)
}
