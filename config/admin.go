package config

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
)

// This file parses the daemon file's admin listener security and state keys. Errors name the key and the file,
// never a secret.

// parseAdminSecurity validates TLS, mTLS, the metrics rule, the remote-listener rule and the allowed directories.
func parseAdminSecurity(a *Admin, f adminFile, idx yamlIndex, probs *problems) {
	fail := func(key string, err error) {
		*probs = append(*probs, &FieldError{Key: "admin." + key, Line: idx.lineOf("admin." + key), Err: err})
	}
	resolve := func(key, v string) string {
		r, err := resolveSecret(strings.TrimSpace(v))
		if err != nil {
			fail(key, err)
		}
		return r
	}
	a.TLSCertificate = resolve("tls.certificate.location", f.TLSCertificate)
	a.TLSKey = resolve("tls.key.location", f.TLSKey)
	a.TLSClientCA = resolve("tls.client.ca.location", f.TLSClientCA)
	switch {
	case (a.TLSCertificate == "") != (a.TLSKey == ""):
		fail("tls.certificate.location", errors.New("tls.certificate.location and tls.key.location go together: set both to serve HTTPS"))
	case a.TLSCertificate != "":
		if _, err := tls.LoadX509KeyPair(a.TLSCertificate, a.TLSKey); err != nil {
			fail("tls.certificate.location", fmt.Errorf("cannot load the certificate %s with the key %s: %s", a.TLSCertificate, a.TLSKey, tlsLoadReason(err)))
		}
	}
	if a.TLSClientCA != "" {
		if a.TLSCertificate == "" {
			fail("tls.client.ca.location", errors.New("client certificates need TLS: set tls.certificate.location and tls.key.location"))
		} else if _, err := LoadCertPool(a.TLSClientCA); err != nil {
			fail("tls.client.ca.location", err)
		}
	}
	var err error
	if a.MetricsPublic, err = optionalBool(f.MetricsPublic); err != nil {
		fail("metrics.public", err)
	}
	if a.AllowUnauthenticatedRemote, err = optionalBool(f.AllowUnauthenticatedRemote); err != nil {
		fail("allow.unauthenticated.remote", err)
	}
	for i, d := range f.AllowedFileDirs {
		d = resolve(fmt.Sprintf("allowed.file.dirs[%d]", i), d)
		if !filepath.IsAbs(d) {
			fail(fmt.Sprintf("allowed.file.dirs[%d]", i), fmt.Errorf("%q is not an absolute path", d))
			continue
		}
		a.AllowedFileDirs = append(a.AllowedFileDirs, filepath.Clean(d))
	}
	_, _, listenErr := net.SplitHostPort(a.Listen)
	if f.Token == nil && a.TLSClientCA == "" && !a.AllowUnauthenticatedRemote && listenErr == nil && !IsLoopback(a.Listen) {
		fail("listen", fmt.Errorf("%s is reachable beyond this host, but the admin API has neither a token nor client certificates: set admin.token (or admin.tls.client.ca.location), or allow.unauthenticated.remote: true if that is intended", a.Listen))
	}
}

// tlsLoadReason is the part of a key pair error that names no key material.
func tlsLoadReason(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return "not a PEM certificate and a matching unencrypted PEM private key"
}

// LoadCertPool reads a PEM bundle of CA certificates.
func LoadCertPool(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read the CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	return pool, nil
}

func optionalBool(v string) (bool, error) {
	if strings.TrimSpace(v) == "" {
		return false, nil
	}
	return parseBool(v)
}

// IsLoopback reports whether a listen address (host:port) only accepts connections from this host.
func IsLoopback(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// parseStateKeys reads the state encryption keys: 32 bytes each, as base64 or hex.
func parseStateKeys(st *State, f stateFile, idx yamlIndex, probs *problems) {
	parse := func(key, v string) []byte {
		r, err := resolveSecret(strings.TrimSpace(v))
		if err == nil {
			var k []byte
			if k, err = decodeStateKey(r); err == nil {
				return k
			}
		}
		*probs = append(*probs, &FieldError{Key: "state." + key, Line: idx.lineOf("state." + key), Err: err})
		return nil
	}
	if f.EncryptionKey != "" {
		st.EncryptionKey = parse("encryption.key", f.EncryptionKey)
	}
	for i, v := range f.OldKeys {
		if k := parse(fmt.Sprintf("encryption.old.keys[%d]", i), v); k != nil {
			st.OldEncryptionKeys = append(st.OldEncryptionKeys, k)
		}
	}
	if len(f.OldKeys) > 0 && f.EncryptionKey == "" {
		*probs = append(*probs, &FieldError{Key: "state.encryption.old.keys", Line: idx.lineOf("state.encryption.old.keys"),
			Err: errors.New("old keys need a current one: set state.encryption.key")})
	}
}

// decodeStateKey decodes a 32-byte key written as base64 (standard or URL, padded or not) or hex.
func decodeStateKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if b, err := hex.DecodeString(s); err == nil && len(b) == 32 {
		return b, nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil && len(b) == 32 {
			return b, nil
		}
	}
	return nil, errors.New("is not a 32-byte key in base64 or hex (make one with `openssl rand -base64 32`)")
}
