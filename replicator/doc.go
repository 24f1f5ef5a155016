// Package replicator is the data plane: it copies every partition of a source topic into a mirror topic on the
// destination at the same offsets, fetching raw record batches from the source leaders and producing them
// byte-for-byte to the destination leaders. The destination log end offset is its only checkpoint.
//
// It must not decode and re-encode records the broker would accept unchanged, must never write a batch twice, and
// must never let a mirror partition silently diverge from its source: any case it cannot copy exactly stops that
// partition with a status and an error that name the partition and the offsets involved.
package replicator
