// Package offsets syncs consumer group offsets from the source cluster to the destination for the partitions of a
// link's mirror topics. Offsets are identical on both sides, so committed offsets are copied as they are, never
// beyond a mirror partition's high watermark and never for groups that are active on the destination.
//
// It does not move data and does not decide which topics are mirrored.
package offsets
