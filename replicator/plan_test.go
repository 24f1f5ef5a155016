package replicator

import (
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/clusterlink/clusterlink/replicator/recordbatch"
)

// batchAt is a batch header (and the bytes plan may read) for the plan tables.
func batchAt(base int64, records int32, attrs int16, pid int64) recordbatch.Batch {
	return recordbatch.Batch{Header: recordbatch.Header{BaseOffset: base, LastOffsetDelta: records - 1, NumRecords: records,
		Attributes: attrs, ProducerID: pid}}
}

const (
	attrTransactional = 0x10
	attrControl       = 0x20
)

// controlBatch is a control batch at base holding one COMMIT or ABORT marker of producer pid.
func controlBatch(base, pid int64, commit bool) recordbatch.Batch {
	b := make([]byte, recordbatch.HeaderSize)
	kind := byte(0)
	if commit {
		kind = 1
	}
	body := []byte{0, 0, 0}               // attributes, timestamp delta, offset delta
	body = binary.AppendVarint(body, 4)   // key length
	body = append(body, 0, 0, 0, kind)    // version 0, type
	body = binary.AppendVarint(body, 6)   // value length
	body = append(body, 0, 0, 0, 0, 0, 0) // version, coordinator epoch
	body = binary.AppendVarint(body, 0)   // no headers
	b = binary.AppendVarint(b, int64(len(body)))
	b = append(b, body...)
	cb := batchAt(base, 1, attrControl|attrTransactional, pid)
	cb.Bytes = b
	return cb
}

// compactedBatch is a batch of two filler records at offsets base and base+3 (compaction took base+1 and base+2).
func compactedBatch(base int64) recordbatch.Batch {
	b := recordbatch.BuildFiller(2, 1000)
	// The second record's offset delta (zigzag 1 -> 3), after the first record (length byte + 6 bytes), its length
	// byte, attributes and timestamp delta.
	b[recordbatch.HeaderSize+10] = 6
	binary.BigEndian.PutUint32(b[23:], 3) // lastOffsetDelta
	recordbatch.SetBaseOffset(b, base)
	return recordbatch.Batch{Header: recordbatch.ParseHeader(b), Bytes: b}
}

func TestPlan_EveryKindOfWriteAndEveryFailure(t *testing.T) {
	open := map[int64]bool{7: true}
	pos := func(next, fillBelow int64) planPosition {
		return planPosition{next: next, fillBelow: fillBelow,
			stripped: func(pid int64) bool { return pid == 9 }, openTxn: func(pid int64) bool { return open[pid] }}
	}
	plain := batchAt(10, 5, 0, -1)
	idem := batchAt(10, 5, 0, 3)
	stripped := batchAt(10, 5, 0, 9)
	txnData := batchAt(10, 5, attrTransactional, 7)
	badControl := controlBatch(10, 7, true)
	badControl.Bytes = badControl.Bytes[:recordbatch.HeaderSize+2]
	broken := batchAt(10, 2, 0, -1)
	broken.Header.LastOffsetDelta = 4 // holes, but no records to read
	broken.Bytes = make([]byte, recordbatch.HeaderSize)
	tests := []struct {
		name     string
		pos      planPosition
		items    []writeItem
		want     write
		wantLeft int // items left in the queue
		wantCode string
	}{
		{"nothing queued", pos(10, 0), nil, nil, 0, ""},
		{"a batch the mirror has is popped", pos(15, 0), []writeItem{{batch: plain}}, nil, 0, ""},
		{"a plain batch as fetched", pos(10, 0), []writeItem{{batch: plain}}, rawWrite{batch: plain}, 1, ""},
		{"an idempotent batch as fetched", pos(10, 0), []writeItem{{batch: idem}}, rawWrite{batch: idem}, 1, ""},
		{"a refused producer's batch without producer fields", pos(10, 0), []writeItem{{batch: stripped}}, rawWrite{batch: stripped, strip: true}, 1, ""},
		{"a legitimate gap takes fillers", pos(4, 10), []writeItem{{batch: plain}}, fillerWrite{to: 10}, 1, ""},
		{"a compacted gap takes markers", pos(4, 2), []writeItem{{batch: plain}}, markerWrite{to: 10}, 1, ""},
		{"a fill item", pos(4, 0), []writeItem{{fillTo: 8}, {batch: plain}}, fillerWrite{to: 8}, 2, ""},
		{"a fill item already done", pos(8, 0), []writeItem{{fillTo: 8}}, nil, 0, ""},
		{"a marker item", pos(4, 0), []writeItem{{markTo: 8}}, markerWrite{to: 8}, 1, ""},
		{"a marker item already done, then a batch", pos(10, 0), []writeItem{{markTo: 10}, {batch: plain}}, rawWrite{batch: plain}, 1, ""},
		{"transactional data", pos(10, 0), []writeItem{{batch: txnData}}, txnDataWrite{batch: txnData, sourcePID: 7}, 1, ""},
		{"the commit of a replayed transaction", pos(10, 0), []writeItem{{batch: controlBatch(10, 7, true)}}, txnEndWrite{sourcePID: 7, commit: true, offset: 10}, 1, ""},
		{"the abort of a replayed transaction", pos(10, 0), []writeItem{{batch: controlBatch(10, 7, false)}}, txnEndWrite{sourcePID: 7, commit: false, offset: 10}, 1, ""},
		{"a marker of a transaction not replayed", pos(10, 0), []writeItem{{batch: controlBatch(10, 8, true)}}, markerWrite{to: 11}, 1, ""},
		{"the mirror ends inside a source batch", pos(12, 0), []writeItem{{batch: plain}}, nil, 1, CodeIllegalState},
		{"an unreadable marker", pos(10, 0), []writeItem{{batch: badControl}}, nil, 1, CodeIllegalState},
		{"a compacted batch that cannot be split", pos(10, 0), []writeItem{{batch: broken}}, nil, 1, CodeUnsupportedBatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, left, failure := plan(tt.pos, tt.items, kgo.DefaultDecompressor(), "m", "s", 0)
			switch {
			case tt.wantCode != "":
				if failure == nil || failure.code != tt.wantCode || got != nil {
					t.Fatalf("got %#v, %v; want the failure %s", got, failure, tt.wantCode)
				}
			case failure != nil:
				t.Fatalf("failure %v", failure)
			case !reflect.DeepEqual(got, tt.want):
				t.Fatalf("got %#v, want %#v", got, tt.want)
			}
			if len(left) != tt.wantLeft {
				t.Fatalf("%d items left, want %d", len(left), tt.wantLeft)
			}
		})
	}

	t.Run("a compacted batch becomes its runs and holes", func(t *testing.T) {
		got, left, failure := plan(pos(20, 0), []writeItem{{batch: compactedBatch(20)}}, kgo.DefaultDecompressor(), "m", "s", 0)
		if failure != nil {
			t.Fatal(failure)
		}
		raw, ok := got.(rawWrite)
		if !ok || !raw.reencoded || raw.batch.Header.BaseOffset != 20 || raw.batch.Header.NumRecords != 1 {
			t.Fatalf("got %#v, want the re-encoded run at 20", got)
		}
		if len(left) != 3 || left[1].batch.Header.BaseOffset != 23 || left[2].markTo != 24 {
			t.Fatalf("queue left %+v, want the runs at 20 and 23 and a hole up to 24", left)
		}
		next, _, _ := plan(pos(21, 0), left, kgo.DefaultDecompressor(), "m", "s", 0)
		if next != (markerWrite{to: 23}) {
			t.Fatalf("after the first run: %#v, want markers up to 23", next)
		}
	})
}

func TestClassify_DecidesByTypeNeverByText(t *testing.T) {
	raw := rawWrite{batch: batchAt(0, 1, 0, 3)}
	tests := []struct {
		name string
		w    write
		err  error
		want failureClass
	}{
		{"the request failed as a whole", raw, requestFailed("produce request", errors.New("connection reset")), resync},
		{"a Kafka error inside a failed request", raw, requestFailed("produce request", kerr.MessageTooLarge), resync},
		{"the producer's sequence refused", raw, kerr.OutOfOrderSequenceNumber, stripProducer},
		{"an unknown producer", raw, fmt.Errorf("wrapped: %w", kerr.UnknownProducerID), stripProducer},
		{"refused again once stripped", rawWrite{batch: raw.batch, strip: true}, kerr.OutOfOrderSequenceNumber, resync},
		{"a re-encoded run", rawWrite{batch: raw.batch, reencoded: true}, kerr.OutOfOrderSequenceNumber, resync},
		{"a batch without a producer", rawWrite{batch: batchAt(0, 1, 0, -1)}, kerr.OutOfOrderSequenceNumber, resync},
		{"a replayed transaction fenced", txnDataWrite{}, kerr.InvalidProducerEpoch, resync},
		{"refused for good", raw, kerr.MessageTooLarge, failPartition},
		{"refused for good, wrapped", txnEndWrite{}, fmt.Errorf("end transaction x: %w", kerr.TransactionalIDAuthorizationFailed), failPartition},
		{"a retriable Kafka error", markerWrite{}, kerr.NotLeaderForPartition, resync},
		{"no usable answer", fillerWrite{}, errors.New("no answer for m[0] in the produce response"), resync},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := classify(tt.w, tt.err); got != tt.want {
				t.Fatalf("classify = %v, want %v", got, tt.want)
			}
		})
	}
}
