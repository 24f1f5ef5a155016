package config

import (
	"bytes"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/pavlo-v-chernykh/keystore-go/v4"
	"github.com/youmark/pkcs8"
	"software.sslmate.com/src/go-pkcs12"
)

// This file builds a client's TLS config from what Kafka's Java client and librdkafka take:
//
//	trust (at most one)  ssl.ca.location (PEM) | ssl.truststore.location (JKS, PKCS12 or PEM) | ssl.truststore.certificates (inline PEM)
//	key (at most one)    ssl.certificate.location + ssl.key.location (PEM) | ssl.keystore.location (JKS, PKCS12 or PEM:
//	                     key and chain in one file) | ssl.keystore.key + ssl.keystore.certificate.chain (inline PEM)
//	ssl.key.password     the key entry's password in a JKS keystore (default: the keystore password), or the
//	                     password of an encrypted PEM key (PKCS#8 "ENCRYPTED PRIVATE KEY", or OpenSSL's legacy
//	                     "Proc-Type: 4,ENCRYPTED")
//
// As in Java, a store of type JKS (Kafka's default) may be a PKCS#12 file and the other way round: the file's own
// format decides. Without a trust setting the system's roots verify the brokers.
//
// JKS is read with github.com/pavlo-v-chernykh/keystore-go, PKCS#12 with software.sslmate.com/src/go-pkcs12 (which
// reads the AES/PBES2 stores of JDK 12 and later as well as the legacy 3DES/RC2 ones), encrypted PKCS#8 with
// github.com/youmark/pkcs8. No error quotes a password, a key or a library's message about them.

// jksMagic and jceksMagic start a Java keystore file.
var (
	jksMagic   = []byte{0xfe, 0xed, 0xfe, 0xed}
	jceksMagic = []byte{0xce, 0xce, 0xce, 0xce}
)

// tlsConfig builds the TLS config; its errors are FieldErrors naming the key.
func (s Security) tlsConfig() (*tls.Config, error) {
	var probs problems
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if s.MinTLSVersion != 0 {
		cfg.MinVersion = s.MinTLSVersion
	}
	cfg.MaxVersion = s.MaxTLSVersion
	for _, name := range strings.Split(s.CipherSuites, ",") {
		if id, ok := cipherSuiteID(name); ok {
			cfg.CipherSuites = append(cfg.CipherSuites, id)
		}
	}
	roots, err := s.rootCAs()
	if err != nil {
		probs = append(probs, FieldErrorsAsErrors(err)...)
	}
	cfg.RootCAs = roots
	cert, ok, err := s.clientCertificate()
	switch {
	case err != nil:
		probs = append(probs, FieldErrorsAsErrors(err)...)
	case ok:
		cfg.Certificates = []tls.Certificate{cert}
	case s.KeyPassword != "":
		probs.add(keySSLKeyPassword, "set, but there is no client key (set %s, %s or %s)", keyKeyStoreLocation, keyKeyStoreKey, keySSLKeyLocation)
	}
	if s.SkipHostnameVerification {
		// Go verifies the chain and the host name together; skip both and verify the chain alone.
		cfg.InsecureSkipVerify = true
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("the broker sent no certificate")
			}
			opts := x509.VerifyOptions{Roots: roots, Intermediates: x509.NewCertPool()}
			for _, c := range cs.PeerCertificates[1:] {
				opts.Intermediates.AddCert(c)
			}
			_, err := cs.PeerCertificates[0].Verify(opts)
			return err
		}
	}
	if len(probs) > 0 {
		return nil, probs.join()
	}
	return cfg, nil
}

// FieldErrorsAsErrors is FieldErrors as a []error, to append to problems.
func FieldErrorsAsErrors(err error) []error {
	var out []error
	for _, fe := range FieldErrors(err) {
		out = append(out, fe)
	}
	return out
}

// rootCAs returns the pool that verifies brokers, or nil for the system's roots.
func (s Security) rootCAs() (*x509.CertPool, error) {
	set := setKeys(map[string]bool{keySSLCALocation: s.CALocation != "", keyTrustStoreLocation: s.TrustStore.Location != "",
		keyTrustStoreCertificates: s.TrustStore.Certificates != ""})
	if len(set) > 1 {
		return nil, &FieldError{Key: set[1], Err: fmt.Errorf("set together with %s: give the CA certificates one way", set[0])}
	}
	ts := s.TrustStore
	if ts.Password != "" && ts.Location == "" {
		return nil, &FieldError{Key: keyTrustStorePassword, Err: fmt.Errorf("set, but %s is not", keyTrustStoreLocation)}
	}
	switch {
	case s.CALocation != "":
		data, err := os.ReadFile(s.CALocation)
		if err != nil {
			return nil, &FieldError{Key: keySSLCALocation, Err: fmt.Errorf("cannot read the CA file: %w", err)}
		}
		certs := pemCertificates(data)
		if len(certs) == 0 {
			return nil, &FieldError{Key: keySSLCALocation, Err: fmt.Errorf("%s holds no PEM certificate", s.CALocation)}
		}
		return poolOf(certs), nil
	case ts.Certificates != "":
		if ts.Type != StorePEM {
			return nil, &FieldError{Key: keyTrustStoreCertificates, Err: fmt.Errorf("needs %s=PEM", keyTrustStoreType)}
		}
		certs := pemCertificates([]byte(ts.Certificates))
		if len(certs) == 0 {
			return nil, &FieldError{Key: keyTrustStoreCertificates, Err: errors.New("holds no PEM certificate")}
		}
		return poolOf(certs), nil
	case ts.Location != "":
		certs, err := readTrustStore(ts)
		if err != nil {
			return nil, err
		}
		return poolOf(certs), nil
	}
	if ts.Type != "" {
		return nil, &FieldError{Key: keyTrustStoreType, Err: fmt.Errorf("set, but neither %s nor %s is", keyTrustStoreLocation, keyTrustStoreCertificates)}
	}
	return nil, nil
}

// readTrustStore reads the trusted certificates of a truststore file.
func readTrustStore(ts TrustStore) ([]*x509.Certificate, error) {
	fail := func(format string, args ...any) error {
		return &FieldError{Key: keyTrustStoreLocation, Err: fmt.Errorf(format, args...)}
	}
	data, err := os.ReadFile(ts.Location)
	if err != nil {
		return nil, fail("cannot read the truststore: %w", err)
	}
	format, err := storeFormat(data, ts.Type, keyTrustStoreType)
	if err != nil {
		return nil, &FieldError{Key: keyTrustStoreLocation, Err: fmt.Errorf("%s: %w", ts.Location, err)}
	}
	var certs []*x509.Certificate
	switch format {
	case StorePEM:
		certs = pemCertificates(data)
	case StorePKCS12:
		certs, err = pkcs12.DecodeTrustStore(data, ts.Password)
		if err != nil {
			return nil, fail("cannot open the PKCS#12 truststore %s: %s", ts.Location, pkcs12Reason(err, keyTrustStorePassword))
		}
	case StoreJKS:
		ks, err := loadJKS(data, ts.Password, keyTrustStorePassword)
		if err != nil {
			return nil, fail("cannot open the JKS truststore %s: %v", ts.Location, err)
		}
		for _, alias := range ks.Aliases() {
			if !ks.IsTrustedCertificateEntry(alias) {
				continue
			}
			e, err := ks.GetTrustedCertificateEntry(alias)
			if err != nil {
				continue
			}
			c, err := x509.ParseCertificate(e.Certificate.Content)
			if err != nil {
				return nil, fail("the JKS truststore %s: entry %q is not an X.509 certificate", ts.Location, alias)
			}
			certs = append(certs, c)
		}
	}
	if len(certs) == 0 {
		return nil, fail("%s holds no trusted certificate", ts.Location)
	}
	return certs, nil
}

// clientCertificate returns the client certificate and key for mTLS, if any is configured.
func (s Security) clientCertificate() (tls.Certificate, bool, error) {
	ks := s.KeyStore
	set := setKeys(map[string]bool{keySSLCertLocation: s.CertificateLocation != "" || s.KeyLocation != "",
		keyKeyStoreLocation: ks.Location != "", keyKeyStoreKey: ks.Key != "" || ks.CertificateChain != ""})
	if len(set) > 1 {
		return tls.Certificate{}, false, &FieldError{Key: set[1], Err: fmt.Errorf("set together with %s: give the client certificate and key one way", set[0])}
	}
	if ks.Password != "" && ks.Location == "" {
		return tls.Certificate{}, false, &FieldError{Key: keyKeyStorePassword, Err: fmt.Errorf("set, but %s is not", keyKeyStoreLocation)}
	}
	switch {
	case s.CertificateLocation != "" && s.KeyLocation == "":
		return tls.Certificate{}, false, &FieldError{Key: keySSLKeyLocation, Err: fmt.Errorf("required with %s", keySSLCertLocation)}
	case s.CertificateLocation == "" && s.KeyLocation != "":
		return tls.Certificate{}, false, &FieldError{Key: keySSLCertLocation, Err: fmt.Errorf("required with %s", keySSLKeyLocation)}
	case s.CertificateLocation != "":
		cert, err := loadKeyPair(s.CertificateLocation, s.KeyLocation, s.KeyPassword)
		return cert, err == nil, err
	case ks.Key != "" || ks.CertificateChain != "":
		if ks.Type != StorePEM {
			return tls.Certificate{}, false, &FieldError{Key: keyKeyStoreKey, Err: fmt.Errorf("inline keys need %s=PEM", keyKeyStoreType)}
		}
		if ks.Key == "" || ks.CertificateChain == "" {
			missing := keyKeyStoreKey
			if ks.CertificateChain == "" {
				missing = keyKeyStoreChain
			}
			return tls.Certificate{}, false, &FieldError{Key: missing, Err: fmt.Errorf("required with %s=PEM inline keys", keyKeyStoreType)}
		}
		key, err := pemPrivateKey([]byte(ks.Key), s.KeyPassword)
		if err != nil {
			return tls.Certificate{}, false, &FieldError{Key: keyKeyStoreKey, Err: err}
		}
		certs := pemCertificates([]byte(ks.CertificateChain))
		if len(certs) == 0 {
			return tls.Certificate{}, false, &FieldError{Key: keyKeyStoreChain, Err: errors.New("holds no PEM certificate")}
		}
		cert, err := keyPair(certs, key)
		if err != nil {
			return tls.Certificate{}, false, &FieldError{Key: keyKeyStoreKey, Err: fmt.Errorf("does not match the first certificate of %s", keyKeyStoreChain)}
		}
		return cert, true, nil
	case ks.Location != "":
		cert, err := readKeyStore(ks, s.KeyPassword)
		return cert, err == nil, err
	}
	if ks.Type != "" {
		return tls.Certificate{}, false, &FieldError{Key: keyKeyStoreType, Err: fmt.Errorf("set, but neither %s nor %s is", keyKeyStoreLocation, keyKeyStoreKey)}
	}
	return tls.Certificate{}, false, nil
}

// readKeyStore reads the client key and its chain from a keystore file: the first private key entry by alias.
func readKeyStore(ks KeyStore, keyPassword string) (tls.Certificate, error) {
	fail := func(format string, args ...any) error {
		return &FieldError{Key: keyKeyStoreLocation, Err: fmt.Errorf(format, args...)}
	}
	data, err := os.ReadFile(ks.Location)
	if err != nil {
		return tls.Certificate{}, fail("cannot read the keystore: %w", err)
	}
	format, err := storeFormat(data, ks.Type, keyKeyStoreType)
	if err != nil {
		return tls.Certificate{}, fail("%s: %w", ks.Location, err)
	}
	switch format {
	case StorePEM:
		key, err := pemPrivateKey(data, keyPassword)
		if err != nil {
			return tls.Certificate{}, fail("%s: %w", ks.Location, err)
		}
		certs := pemCertificates(data)
		if len(certs) == 0 {
			return tls.Certificate{}, fail("%s holds no PEM certificate besides its key", ks.Location)
		}
		cert, err := keyPair(certs, key)
		if err != nil {
			return tls.Certificate{}, fail("%s: the key does not match the first certificate", ks.Location)
		}
		return cert, nil
	case StorePKCS12:
		key, leaf, cas, err := pkcs12.DecodeChain(data, ks.Password)
		if err != nil && keyPassword != "" && keyPassword != ks.Password {
			key, leaf, cas, err = pkcs12.DecodeChain(data, keyPassword)
		}
		if err != nil {
			return tls.Certificate{}, fail("cannot open the PKCS#12 keystore %s: %s", ks.Location, pkcs12Reason(err, keyKeyStorePassword))
		}
		cert, err := keyPair(append([]*x509.Certificate{leaf}, cas...), key)
		if err != nil {
			return tls.Certificate{}, fail("%s: the key does not match its certificate", ks.Location)
		}
		return cert, nil
	}
	store, err := loadJKS(data, ks.Password, keyKeyStorePassword)
	if err != nil {
		return tls.Certificate{}, fail("cannot open the JKS keystore %s: %v", ks.Location, err)
	}
	var aliases []string
	for _, a := range store.Aliases() {
		if store.IsPrivateKeyEntry(a) {
			aliases = append(aliases, a)
		}
	}
	if len(aliases) == 0 {
		return tls.Certificate{}, fail("the JKS keystore %s holds no private key entry", ks.Location)
	}
	sort.Strings(aliases)
	pw := keyPassword
	if pw == "" {
		pw = ks.Password
	}
	entry, err := store.GetPrivateKeyEntry(aliases[0], []byte(pw))
	if err != nil {
		return tls.Certificate{}, &FieldError{Key: keySSLKeyPassword, Err: fmt.Errorf("cannot open the key entry %q of %s: wrong %s (default: the keystore password)",
			aliases[0], ks.Location, keySSLKeyPassword)}
	}
	key, err := x509.ParsePKCS8PrivateKey(entry.PrivateKey)
	if err != nil {
		return tls.Certificate{}, fail("the key entry %q of %s is not a PKCS#8 private key", aliases[0], ks.Location)
	}
	var certs []*x509.Certificate
	for _, c := range entry.CertificateChain {
		x, err := x509.ParseCertificate(c.Content)
		if err != nil {
			return tls.Certificate{}, fail("the key entry %q of %s has a certificate that is not X.509", aliases[0], ks.Location)
		}
		certs = append(certs, x)
	}
	if len(certs) == 0 {
		return tls.Certificate{}, fail("the key entry %q of %s has no certificate", aliases[0], ks.Location)
	}
	cert, err := keyPair(certs, key)
	if err != nil {
		return tls.Certificate{}, fail("the key entry %q of %s does not match its certificate", aliases[0], ks.Location)
	}
	return cert, nil
}

// storeFormat decides a store file's format from its content, checked against the declared type.
func storeFormat(data []byte, declared StoreType, typeKey string) (StoreType, error) {
	isPEM := bytes.Contains(data, []byte("-----BEGIN "))
	switch {
	case declared == StorePEM && !isPEM:
		return "", fmt.Errorf("%s=PEM, but the file holds no PEM block", typeKey)
	case declared == StorePEM:
		return StorePEM, nil
	case isPEM:
		return "", fmt.Errorf("the file holds PEM: set %s=PEM", typeKey)
	case bytes.HasPrefix(data, jceksMagic):
		return "", errors.New("a JCEKS store is not supported: convert it with keytool -importkeystore -deststoretype PKCS12")
	case bytes.HasPrefix(data, jksMagic):
		return StoreJKS, nil
	case len(data) > 0 && data[0] == 0x30: // an ASN.1 SEQUENCE: a PKCS#12 PFX
		return StorePKCS12, nil
	}
	return "", errors.New("not a JKS, PKCS#12 or PEM file")
}

// loadJKS opens a JKS store and checks its integrity with the password. Errors say which password to check.
func loadJKS(data []byte, password, passwordKey string) (keystore.KeyStore, error) {
	if password == "" {
		return keystore.KeyStore{}, fmt.Errorf("%s is required: a JKS store's integrity is checked with it", passwordKey)
	}
	ks := keystore.New(keystore.WithMinPasswordLen(0))
	if err := ks.Load(bytes.NewReader(data), []byte(password)); err != nil {
		if strings.Contains(err.Error(), "digest") {
			return keystore.KeyStore{}, fmt.Errorf("wrong %s, or the file is damaged", passwordKey)
		}
		return keystore.KeyStore{}, errors.New("not a valid JKS file")
	}
	return ks, nil
}

// pkcs12Reason says why a PKCS#12 file did not open, without the library's text.
func pkcs12Reason(err error, passwordKey string) string {
	if errors.Is(err, pkcs12.ErrIncorrectPassword) {
		return "wrong " + passwordKey
	}
	var ni pkcs12.NotImplementedError
	if errors.As(err, &ni) {
		return "it uses an algorithm that is not supported (re-export it with keytool or openssl's defaults)"
	}
	return "not a valid PKCS#12 file, or a wrong " + passwordKey
}

// loadKeyPair reads a PEM client certificate and key (the key possibly encrypted), naming the key of the file at
// fault. Neither the key's content nor a library's message about it (which may quote it) is reported.
func loadKeyPair(certFile, keyFile, password string) (tls.Certificate, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return tls.Certificate{}, &FieldError{Key: keySSLCertLocation, Err: fmt.Errorf("cannot read the certificate: %w", err)}
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return tls.Certificate{}, &FieldError{Key: keySSLKeyLocation, Err: fmt.Errorf("cannot read the key: %w", err)}
	}
	key, err := pemPrivateKey(keyPEM, password)
	if err != nil {
		return tls.Certificate{}, &FieldError{Key: keySSLKeyLocation, Err: fmt.Errorf("%s: %w", keyFile, err)}
	}
	certs := pemCertificates(certPEM)
	if len(certs) == 0 {
		return tls.Certificate{}, &FieldError{Key: keySSLCertLocation, Err: fmt.Errorf("%s holds no PEM certificate", certFile)}
	}
	cert, err := keyPair(certs, key)
	if err != nil {
		return tls.Certificate{}, &FieldError{Key: keySSLKeyLocation,
			Err: fmt.Errorf("%s and %s are not a matching PEM certificate and private key", certFile, keyFile)}
	}
	return cert, nil
}

// pemCertificates returns the certificates of the CERTIFICATE blocks in data (others are skipped).
func pemCertificates(data []byte) []*x509.Certificate {
	var out []*x509.Certificate
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return out
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		if c, err := x509.ParseCertificate(b.Bytes); err == nil {
			out = append(out, c)
		}
	}
}

// pemPrivateKey returns the first private key in data: PKCS#8 (plain or encrypted), PKCS#1 RSA or SEC 1 EC (plain
// or with OpenSSL's legacy encryption). password opens an encrypted one.
func pemPrivateKey(data []byte, password string) (crypto.Signer, error) {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return nil, errors.New("holds no PEM private key")
		}
		if !strings.HasSuffix(b.Type, "PRIVATE KEY") {
			continue
		}
		der := b.Bytes
		switch {
		case b.Type == "ENCRYPTED PRIVATE KEY":
			if password == "" {
				return nil, fmt.Errorf("the key is encrypted: set %s", keySSLKeyPassword)
			}
			k, err := pkcs8.ParsePKCS8PrivateKey(der, []byte(password))
			if err != nil {
				return nil, fmt.Errorf("the encrypted key does not open with %s (wrong password, or an unsupported cipher)", keySSLKeyPassword)
			}
			return asSigner(k)
		//nolint:staticcheck // OpenSSL's legacy PEM encryption is what older tools write; it is read only.
		case x509.IsEncryptedPEMBlock(b):
			if password == "" {
				return nil, fmt.Errorf("the key is encrypted: set %s", keySSLKeyPassword)
			}
			var err error
			//nolint:staticcheck // see above
			if der, err = x509.DecryptPEMBlock(b, []byte(password)); err != nil {
				return nil, fmt.Errorf("the encrypted key does not open with %s", keySSLKeyPassword)
			}
		}
		if k, err := x509.ParsePKCS8PrivateKey(der); err == nil {
			return asSigner(k)
		}
		if k, err := x509.ParsePKCS1PrivateKey(der); err == nil {
			return k, nil
		}
		if k, err := x509.ParseECPrivateKey(der); err == nil {
			return k, nil
		}
		return nil, errors.New("the PEM private key is not PKCS#8, PKCS#1 or SEC 1")
	}
}

func asSigner(k any) (crypto.Signer, error) {
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, errors.New("the private key cannot sign")
	}
	return s, nil
}

// keyPair makes a TLS certificate of a chain (leaf first) and its key, checking that they match.
func keyPair(chain []*x509.Certificate, key crypto.PrivateKey) (tls.Certificate, error) {
	signer, ok := key.(crypto.Signer)
	if !ok || len(chain) == 0 || chain[0] == nil {
		return tls.Certificate{}, errors.New("no key or certificate")
	}
	pub, ok := chain[0].PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(signer.Public()) {
		return tls.Certificate{}, errors.New("the key does not match the certificate")
	}
	cert := tls.Certificate{PrivateKey: key, Leaf: chain[0]}
	for _, c := range chain {
		cert.Certificate = append(cert.Certificate, c.Raw)
	}
	return cert, nil
}

func poolOf(certs []*x509.Certificate) *x509.CertPool {
	pool := x509.NewCertPool()
	for _, c := range certs {
		pool.AddCert(c)
	}
	return pool
}

// setKeys returns the keys whose flag is true, sorted.
func setKeys(flags map[string]bool) []string {
	var out []string
	for k, v := range flags {
		if v {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}
