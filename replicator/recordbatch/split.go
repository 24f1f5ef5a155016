package recordbatch

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// ErrUnsupportedMessageFormat is returned for magic v0/v1 message sets, which cannot be copied at the same offsets
// into a Kafka 4 broker.
var ErrUnsupportedMessageFormat = errors.New("unsupported message format")

// ErrCorruptBatch is returned for a batch whose length or CRC is wrong.
var ErrCorruptBatch = errors.New("corrupt record batch")

// BatchError is the error Split returns: Err is ErrUnsupportedMessageFormat or ErrCorruptBatch (use
// errors.Is), Offset the base offset the bad entry claims.
type BatchError struct {
	Err    error
	Offset int64
	Detail string
}

func (e *BatchError) Error() string {
	return fmt.Sprintf("%v at offset %d: %s", e.Err, e.Offset, e.Detail)
}

func (e *BatchError) Unwrap() error { return e.Err }

// Split walks the record bytes of one partition of a fetch response and returns its batches in order, each
// checked against its CRC-32C. The broker may cut the last batch short at the response size limit: that batch is
// left out and partial is true; it is not an error. A magic v0/v1 message set returns ErrUnsupportedMessageFormat,
// a batch length below the header size or a CRC mismatch ErrCorruptBatch, each as a *BatchError with the offset;
// batches then holds the good batches before the bad one.
//
// It allocates the result slice once and nothing per batch.
func Split(records []byte) (batches []Batch, partial bool, err error) {
	if n := countWholeBatches(records); n > 0 {
		batches = make([]Batch, 0, n)
	}
	for len(records) > 0 {
		if len(records) <= offMagic {
			return batches, true, nil
		}
		base := int64(binary.BigEndian.Uint64(records[offBaseOffset:]))
		length := int64(int32(binary.BigEndian.Uint32(records[offBatchLength:])))
		if magic := int8(records[offMagic]); magic != 2 {
			return batches, false, &BatchError{Err: ErrUnsupportedMessageFormat, Offset: base,
				Detail: fmt.Sprintf("magic v%d message set", magic)}
		}
		if length < HeaderSize-logOverhead {
			return batches, false, &BatchError{Err: ErrCorruptBatch, Offset: base,
				Detail: fmt.Sprintf("batch length %d is below the header size %d", length, HeaderSize-logOverhead)}
		}
		size := logOverhead + length
		if int64(len(records)) < size {
			return batches, true, nil
		}
		b := records[:size:size]
		h := ParseHeader(b)
		if crc := crc32.Checksum(b[offAttributes:], crc32c); crc != h.CRC {
			return batches, false, &BatchError{Err: ErrCorruptBatch, Offset: base,
				Detail: fmt.Sprintf("batch CRC %08x, computed %08x", h.CRC, crc)}
		}
		batches = append(batches, Batch{Header: h, Bytes: b})
		records = records[size:]
	}
	return batches, false, nil
}

// countWholeBatches counts the v2 batches Split can take from records, by their length fields alone.
func countWholeBatches(records []byte) int {
	n := 0
	for len(records) > offMagic && records[offMagic] == 2 {
		length := int64(int32(binary.BigEndian.Uint32(records[offBatchLength:])))
		size := logOverhead + length
		if length < HeaderSize-logOverhead || int64(len(records)) < size {
			break
		}
		n++
		records = records[size:]
	}
	return n
}

// BatchSize is the size in bytes of the batch records begins with, as its header says, or 0 when records is too
// short to tell (a fetch cut short may hold just the start of a batch).
func BatchSize(records []byte) int64 {
	if len(records) < offBatchLength+4 {
		return 0
	}
	return int64(logOverhead) + int64(int32(binary.BigEndian.Uint32(records[offBatchLength:])))
}
