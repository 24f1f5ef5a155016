package replicator

import (
	"fmt"
	"time"
)

// Status is a mirror's or a mirror partition's state, with Confluent's names.
type Status string

// Mirror states. A mirror is PENDING_MIRROR until every partition knows its position, ACTIVE while copying, PAUSED
// when paused, FAILED when a partition cannot go on (the error says why), and STOPPED once promoted or failed over.
const (
	StatusPendingMirror     Status = "PENDING_MIRROR"
	StatusActive            Status = "ACTIVE"
	StatusPaused            Status = "PAUSED"
	StatusFailed            Status = "FAILED"
	StatusPendingStopped    Status = "PENDING_STOPPED"
	StatusStopped           Status = "STOPPED"
	StatusSourceUnavailable Status = "SOURCE_UNAVAILABLE"
)

// Error codes a mirror or partition reports, from Confluent's list where it has one.
const (
	CodeSourceTopicMayBeDeleted   = "SOURCE_TOPIC_MAY_BE_DELETED"
	CodeSourceTopicIDChanged      = "SOURCE_TOPIC_ID_CHANGED"
	CodeSourcePartitionsDecreased = "SOURCE_PARTITIONS_DECREASED"
	CodeUnexpectedTruncation      = "UNEXPECTED_TRUNCATION"
	CodeUnsupportedMessageFormat  = "UNSUPPORTED_MESSAGE_FORMAT"
	CodeIllegalState              = "ILLEGAL_STATE"
	// CodeUnsupportedBatch stops a partition at a batch this version cannot copy at the same offsets yet
	// (transactional data, transaction markers, offset holes left by compaction).
	CodeUnsupportedBatch = "UNSUPPORTED_BATCH"
	// CodeDestinationRejected stops a partition whose batch the destination refused for a reason retrying cannot
	// fix (for example the batch is larger than the mirror's max.message.bytes, or the link may not write).
	CodeDestinationRejected = "DESTINATION_REJECTED"
)

// PartitionStatus is what a caller can see of one mirror partition.
type PartitionStatus struct {
	Partition int32
	Status    Status
	// SourceHighWatermark is the source partition's high watermark, as of the last fetch.
	SourceHighWatermark int64
	// SourceLogStartOffset is the source partition's log start offset, as of the last fetch.
	SourceLogStartOffset int64
	// LastSourceFetchOffset is how far the mirror has fetched from the source: the offset after the last batch
	// fetched (or the last fetch position when it returned nothing).
	LastSourceFetchOffset int64
	// MirrorLogEndOffset is the mirror partition's log end offset: the next source offset to copy.
	MirrorLogEndOffset int64
	// TimeLag is how old the oldest source record not yet on the mirror is (the recovery point a failover now would
	// have), measured every status cycle: 0 when caught up, -1 while unknown.
	TimeLag time.Duration
	// Lag is SourceHighWatermark - MirrorLogEndOffset (never below 0), or -1 while unknown: the source's high
	// watermark was not read yet, or the mirror's position is not known (a partition that cannot resolve).
	Lag int64
	// CopyRate is how many offsets per second the mirror advanced lately (measured over at least 5 seconds between
	// status reads); 0 when unknown.
	CopyRate     float64
	ErrorCode    string
	ErrorMessage string
	// Diverged: the partition is FAILED because the mirror no longer equals its source (a foreign write or
	// DeleteRecords, a recreated mirror topic): promote and failover refuse it unless forced.
	Diverged bool
	// NotOwned: another daemon sharing the link copies the partition; the other fields are this daemon's last view.
	NotOwned bool
	Counters Counters
}

// Counters count what a partition copied and how faithfully.
type Counters struct {
	BatchesRaw    int64 // batches produced byte-for-byte
	Records       int64 // records in those batches
	Bytes         int64 // bytes of those batches
	FillerOffsets int64 // offsets filled with filler records (then deleted with DeleteRecords)
	FillerBatches int64
	// MarkerOffsets are offsets filled with transaction markers: holes compaction left, and source transaction
	// markers.
	MarkerOffsets int64
	// BatchesRewritten are source batches written with only their header's producer fields changed: transactional
	// batches replayed with a destination producer, and batches whose producer sequence the destination refused
	// (the source lost some of that producer's batches). The records are untouched.
	BatchesRewritten int64
	// TransactionsCommitted and TransactionsAborted count source transactions replayed on the destination.
	TransactionsCommitted int64
	TransactionsAborted   int64
	// BatchesLinkProducer are batches that had no producer id (or whose source producer's sequence the destination
	// refused) written under the link's own producer id and sequence (records untouched; see linkproducer.go); they
	// are counted in the other counters too.
	BatchesLinkProducer int64
	// BatchesReencoded are contiguous runs of compacted source batches, re-encoded (same records, same codec).
	BatchesReencoded int64
	// BatchesPipelined are raw batches sent while earlier batches of the partition were still in flight (see
	// pipeline.go); they are counted in BatchesRaw too.
	BatchesPipelined int64
	// BatchesAppendTime are LogAppendTime source batches rewritten so that the mirror (a CreateTime topic) keeps
	// the source's append time as each record's timestamp; counted in their kind too.
	BatchesAppendTime int64
	// VerifiedOffsets are offsets the background verifier compared with the source; Divergences the differences it
	// found (each fails the partition).
	VerifiedOffsets int64
	Divergences     int64
}

// PartitionFailure is why a mirror partition stopped (FAILED): Confluent's code and a message that names the
// partition and the offsets involved.
type PartitionFailure struct {
	MirrorTopic string
	Partition   int32
	Code        string
	Message     string
	Time        time.Time
	// Diverged: the mirror no longer equals its source at this partition.
	Diverged bool
}

// MirrorStatus is what a caller can see of one mirror topic.
type MirrorStatus struct {
	MirrorTopic  string
	SourceTopic  string
	Status       Status
	StatusTime   time.Time
	ErrorCode    string
	ErrorMessage string
	Partitions   []PartitionStatus
}

// MaxLag is the largest partition lag, -1 if a partition's lag is unknown.
func (m MirrorStatus) MaxLag() int64 {
	var lag int64
	for _, p := range m.Partitions {
		if p.Lag < 0 {
			return -1
		}
		lag = max(lag, p.Lag)
	}
	return lag
}

// StartOffsetKind says where a new mirror starts.
type StartOffsetKind int

// Start positions of a new mirror (mirror.start.offset.spec).
const (
	StartEarliest StartOffsetKind = iota
	StartLatest
	StartTimestamp
)

// StartOffset is where a new, empty mirror partition starts copying.
type StartOffset struct {
	Kind      StartOffsetKind
	Timestamp time.Time // for StartTimestamp
}

func (s StartOffset) String() string {
	switch s.Kind {
	case StartLatest:
		return "latest"
	case StartTimestamp:
		return s.Timestamp.UTC().Format(time.RFC3339Nano)
	default:
		return "earliest"
	}
}

// partitionError is a partition's stop reason.
type partitionError struct {
	code     string
	msg      string
	diverged bool // the mirror no longer equals its source
}

func (e *partitionError) Error() string { return fmt.Sprintf("%s: %s", e.code, e.msg) }
