package replicator

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/clusterlink/clusterlink/replicator/recordbatch"
)

// This file is the link's own producer for the batches that have none (written by a non-idempotent source producer,
// or an idempotent one whose sequence the destination refused): each such batch is written with the link's producer
// id, epoch 0 and the next sequence of that producer on the mirror partition, its records byte for byte. Two
// writers of the same source batch at the same position (a daemon paused past its session and the member that took
// its partition over) send the same producer id, epoch and sequence, so the destination broker de-duplicates the
// second copy (it answers with the first copy's offset) or refuses it as out of sequence: it can never land twice or
// at another offset. Each resolve reads the sequence back from the destination (DescribeProducers) between two
// reads of the log end offset that must agree, so the sequence is the one at that position: a writer that resumes
// after another wrote starts from what the destination holds. (The broker de-duplicates by producer, epoch and
// first and last sequence only, so a sequence read after another writer's batch but used at the offset before it
// would make a different batch of the same size look like a duplicate.)

// linkProducerID is the producer id of a link's batches: recordbatch.LinkProducerIDBase plus 40 bits of a hash of
// the link's transactional id prefix (stable across restarts, the same on every daemon of the link).
func linkProducerID(prefix string) int64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(prefix))
	return recordbatch.LinkProducerIDBase | int64(h.Sum64()&(1<<40-1))
}

// readLinkSequence reads the sequence the link's producer continues with on a mirror partition: one past the last
// sequence the destination holds of it, 0 when it holds none (never written, or expired after
// producer.id.expiration.ms). An answer without producer state (a broker before 2.8) turns the link's producer off
// for the partition: its batches without a producer id are written as they are.
func (r *Replicator) readLinkSequence(ctx context.Context, p *partition, gen uint64, topic string, id int32, dstEpoch int32, logEnd int64) error {
	producers, err := r.producerStates(ctx, r.dst, topic, id)
	seq, known := int32(0), true
	if err != nil {
		if !isUnsupported(err) {
			return fmt.Errorf("mirror %s[%d] producer state: %w", topic, id, err)
		}
		known = false
	}
	// Nothing may have been written since logEnd was read, or the sequence belongs to a later position.
	again, err := r.destinationLogEnd(ctx, topic, id, dstEpoch)
	if err != nil {
		return err
	}
	if again != logEnd {
		return fmt.Errorf("mirror %s[%d] was written while its position was read (log end %d, then %d): reading it again",
			topic, id, logEnd, again)
	}
	pid := linkProducerID(r.opts.transactionalIDPrefix)
	if ap, ok := producers[pid]; ok && ap.ProducerEpoch == 0 && ap.LastSequence >= 0 {
		seq = nextSequence(ap.LastSequence, 1)
	}
	r.mu.Lock()
	if p.gen == gen {
		p.linkSeq, p.linkSeqKnown = seq, known
	}
	r.mu.Unlock()
	return nil
}

// nextSequence is the sequence after last plus n-1 more: sequences wrap from MaxInt32 to 0, as the broker's do.
func nextSequence(last int32, n int64) int32 {
	return int32((int64(last) + n) % (int64(math.MaxInt32) + 1))
}

// withLinkProducerLocked gives a batch without producer fields the link's producer and the partition's next
// sequence; false when the partition has no sequence to continue (see readLinkSequence). r.mu is held.
func (r *Replicator) withLinkProducerLocked(p *partition, batch []byte) ([]byte, bool) {
	if !p.linkSeqKnown {
		return batch, false
	}
	return recordbatch.WithProducer(batch, linkProducerID(r.opts.transactionalIDPrefix), 0, p.linkSeq), true
}

// isUnsupported: the destination broker does not know the request (DescribeProducers needs Kafka 2.8).
func isUnsupported(err error) bool {
	return errors.Is(err, kerr.UnsupportedVersion)
}

// destinationLogEnd reads a mirror partition's log end offset from its leader (as resolve does: by leader epoch when
// it is known, else the high watermark).
func (r *Replicator) destinationLogEnd(ctx context.Context, topic string, id int32, dstEpoch int32) (int64, error) {
	if dstEpoch >= 0 {
		leo, err := r.logEndOffset(ctx, r.dst, topic, id, dstEpoch)
		if err != nil {
			return 0, fmt.Errorf("mirror %s[%d] log end offset: %w", topic, id, err)
		}
		return leo, nil
	}
	_, hwm, err := r.offsetBounds(ctx, r.dst, topic, id)
	if err != nil {
		return 0, fmt.Errorf("mirror %s[%d] offsets: %w", topic, id, err)
	}
	return hwm, nil
}
