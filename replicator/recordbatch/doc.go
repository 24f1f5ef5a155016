// Package recordbatch is Kafka's record batch (magic v2) wire format, as the data plane needs it: reading a batch
// header, splitting a fetch response into CRC-checked batches, the header edits the project makes (base offset,
// producer fields, with the CRC recomputed), filler batches, splitting a compacted batch into contiguous runs, and
// reading a transaction marker. It does no I/O and knows nothing of partitions or clusters.
package recordbatch
