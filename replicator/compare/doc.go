// Package compare compares a mirror with its source, reading both as a consumer would and as the broker stores
// them: a range of offsets of one partition record by record (offset, key, value, headers, timestamp, markers), and
// a whole topic batch by batch where batches were copied byte for byte, falling back to records where they were
// rewritten (`mirror verify`). It only reads; it knows nothing of links or of the replicator's state.
package compare
