package recordbatch

import (
	"encoding/binary"
	"errors"
)

// errBadControlRecord is returned for a control batch whose first record cannot be read.
var errBadControlRecord = errors.New("bad control record")

// MarkerIsCommit reads the type of the transaction marker in a control batch: true for COMMIT, false for ABORT.
func MarkerIsCommit(b []byte) (bool, error) {
	if len(b) <= HeaderSize {
		return false, errBadControlRecord
	}
	rest := b[HeaderSize:]
	_, n := binary.Varint(rest) // record length
	if n <= 0 {
		return false, errBadControlRecord
	}
	rest = rest[n:]
	if len(rest) < 1 {
		return false, errBadControlRecord
	}
	rest = rest[1:] // attributes
	for range 2 {   // timestamp delta, offset delta
		_, n = binary.Varint(rest)
		if n <= 0 {
			return false, errBadControlRecord
		}
		rest = rest[n:]
	}
	keyLen, n := binary.Varint(rest)
	if n <= 0 || keyLen < 4 || int64(len(rest)-n) < keyLen {
		return false, errors.New("bad control record key")
	}
	key := rest[n:]
	return binary.BigEndian.Uint16(key[2:4]) == 1, nil
}
