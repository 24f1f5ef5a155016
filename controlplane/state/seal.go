package state

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// This file seals state records: with a state key, every record's value is encrypted and authenticated with
// AES-256-GCM under that key, the record's topic and key bound in as additional data, so that a record cannot be
// read, forged, altered or moved to another key by anyone without the key. A deletion is a sealed record too (a
// bare tombstone could be written by anyone). Old keys open records during a rotation; the store seals them again
// with the current key when it opens.

// Keys are the daemon's state keys (32 bytes each). Current seals every record written; Old only open records
// sealed before a rotation.
type Keys struct {
	Current []byte
	Old     [][]byte
}

// KeyID names a key without revealing it (in errors and records).
func KeyID(key []byte) string {
	sum := sha256.Sum256(append([]byte("clusterlink state key id\x00"), key...))
	return hex.EncodeToString(sum[:6])
}

// envelope is a sealed record's value.
type envelope struct {
	Sealed string `json:"sealed"` // sealVersion
	Key    string `json:"key"`    // KeyID of the key that sealed it
	Nonce  []byte `json:"nonce"`
	Data   []byte `json:"data"`
}

const sealVersion = "clusterlink-state-v1"

// sealedContent is what a sealed record holds: the record's JSON (null for a deletion) and when it was written,
// so that an older authentic record written again over a newer one of the same key can be told apart.
type sealedContent struct {
	WrittenMs int64           `json:"written_ms"`
	Value     json.RawMessage `json:"value"`
}

type sealer struct {
	current string
	aeads   map[string]cipher.AEAD
}

func newSealer(keys Keys) (*sealer, error) {
	s := &sealer{aeads: map[string]cipher.AEAD{}}
	for i, k := range append([][]byte{keys.Current}, keys.Old...) {
		if len(k) != 32 {
			return nil, fmt.Errorf("state key %d is %d bytes, want 32", i, len(k))
		}
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		id := KeyID(k)
		s.aeads[id] = aead
		if i == 0 {
			s.current = id
		}
	}
	return s, nil
}

func additionalData(topic, key string) []byte {
	return []byte(sealVersion + "\x00" + topic + "\x00" + key)
}

// seal returns the sealed value of a record (value nil: a deletion).
func (s *sealer) seal(topic, key string, value []byte) ([]byte, error) {
	content, err := json.Marshal(sealedContent{WrittenMs: time.Now().UnixMilli(), Value: value})
	if err != nil {
		return nil, err
	}
	aead := s.aeads[s.current]
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return json.Marshal(envelope{Sealed: sealVersion, Key: s.current, Nonce: nonce,
		Data: aead.Seal(nil, nonce, content, additionalData(topic, key))})
}

// errNotSealed is a value that is not a sealed envelope.
var errNotSealed = errors.New("not sealed")

// parseEnvelope reads a sealed envelope, errNotSealed when value is not one.
func parseEnvelope(value []byte) (envelope, error) {
	var env envelope
	if len(value) == 0 || value[0] != '{' || json.Unmarshal(value, &env) != nil || env.Sealed == "" {
		return envelope{}, errNotSealed
	}
	if env.Sealed != sealVersion {
		return envelope{}, fmt.Errorf("sealed with an unknown format %q", env.Sealed)
	}
	return env, nil
}

// open authenticates and decrypts a sealed value. It returns the record's content and whether it was sealed with
// an old key (so that it is sealed again with the current one).
func (s *sealer) open(topic, key string, env envelope) (sealedContent, bool, error) {
	aead, ok := s.aeads[env.Key]
	if !ok {
		return sealedContent{}, false, fmt.Errorf("sealed with key %s, which this daemon does not hold", env.Key)
	}
	plain, err := aead.Open(nil, env.Nonce, env.Data, additionalData(topic, key))
	if err != nil {
		return sealedContent{}, false, errors.New("does not authenticate: forged, altered, or written for another key")
	}
	var c sealedContent
	if err := json.Unmarshal(plain, &c); err != nil {
		return sealedContent{}, false, fmt.Errorf("sealed content: %w", err)
	}
	return c, env.Key != s.current, nil
}
