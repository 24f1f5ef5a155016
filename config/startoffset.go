package config

import (
	"fmt"
	"strings"
	"time"
)

// StartOffsetKind says where a new mirror starts copying a source partition.
type StartOffsetKind int8

const (
	// Earliest starts at the source partition's log start offset (the default).
	Earliest StartOffsetKind = iota
	// Latest starts at the source partition's log end offset.
	Latest
	// Timestamp starts at the first offset whose record timestamp is at or after the spec's Time.
	Timestamp
)

// MirrorStartOffsetSpec is mirror.start.offset.spec: earliest, latest or an ISO-8601 timestamp. Its zero value is
// Earliest.
type MirrorStartOffsetSpec struct {
	Kind StartOffsetKind
	Time time.Time // with Timestamp only
}

// ListOffsetsTimestamp is the timestamp to ask ListOffsets for: -2 for earliest, -1 for latest, or the spec's time
// in Unix milliseconds.
func (s MirrorStartOffsetSpec) ListOffsetsTimestamp() int64 {
	switch s.Kind {
	case Latest:
		return -1
	case Timestamp:
		return s.Time.UnixMilli()
	}
	return -2
}

func (s MirrorStartOffsetSpec) String() string {
	switch s.Kind {
	case Latest:
		return "latest"
	case Timestamp:
		return s.Time.UTC().Format("2006-01-02T15:04:05.000Z07:00")
	}
	return "earliest"
}

// ParseMirrorStartOffsetSpec parses earliest, latest (case-insensitive) or an ISO-8601 timestamp such as
// 2024-05-01T12:00:00Z, 2024-05-01T12:00:00.000+02:00, 2024-05-01T12:00:00 (UTC) or 2024-05-01 (UTC midnight).
func ParseMirrorStartOffsetSpec(v string) (MirrorStartOffsetSpec, error) {
	v = strings.TrimSpace(v)
	switch strings.ToLower(v) {
	case "earliest":
		return MirrorStartOffsetSpec{Kind: Earliest}, nil
	case "latest":
		return MirrorStartOffsetSpec{Kind: Latest}, nil
	}
	// The ISO-8601 forms accepted; a time without a zone is UTC.
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return MirrorStartOffsetSpec{Kind: Timestamp, Time: t}, nil
		}
	}
	return MirrorStartOffsetSpec{}, fmt.Errorf("%q is not earliest, latest or an ISO-8601 timestamp (2024-05-01T12:00:00Z)", v)
}
