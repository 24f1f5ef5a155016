// Package testpki makes throwaway certificate authorities, certificates and key stores (PEM, PKCS#12, JKS) for
// tests, in a test's temporary directory. Nothing it makes is ever committed: each test run has keys of its own.
package testpki

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pavlo-v-chernykh/keystore-go/v4"
	"github.com/youmark/pkcs8"
	"software.sslmate.com/src/go-pkcs12"
)

// CA is a throwaway certificate authority.
type CA struct {
	Cert *x509.Certificate
	Key  *ecdsa.PrivateKey
	dir  string
	t    testing.TB
	n    int64
}

// Leaf is a certificate the CA signed, with its key.
type Leaf struct {
	Cert *x509.Certificate
	Key  *ecdsa.PrivateKey
	ca   *CA
}

// NewCA makes a CA whose files go to a temporary directory of t.
func NewCA(t testing.TB) *CA {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "clusterlink test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &CA{Cert: cert, Key: key, dir: t.TempDir(), t: t, n: 1}
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// Server makes a server certificate for 127.0.0.1 and localhost.
func (ca *CA) Server(cn string) *Leaf {
	return ca.leaf(cn, x509.ExtKeyUsageServerAuth, []net.IP{net.ParseIP("127.0.0.1")}, []string{"localhost"})
}

// Client makes a client certificate whose subject is CN=cn (Kafka's principal User:CN=cn).
func (ca *CA) Client(cn string) *Leaf { return ca.leaf(cn, x509.ExtKeyUsageClientAuth, nil, nil) }

func (ca *CA) leaf(cn string, usage x509.ExtKeyUsage, ips []net.IP, dns []string) *Leaf {
	ca.t.Helper()
	ca.n++
	key := newKey(ca.t)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(ca.n), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage}, IPAddresses: ips, DNSNames: dns,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		ca.t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &Leaf{Cert: cert, Key: key, ca: ca}
}

// Write writes data to a file of the CA's directory and returns its path.
func (ca *CA) Write(name string, data []byte) string {
	ca.t.Helper()
	p := filepath.Join(ca.dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		ca.t.Fatal(err)
	}
	return p
}

// CertPEM is the CA certificate as PEM.
func (ca *CA) CertPEM() []byte { return certPEM(ca.Cert) }

func certPEM(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

// PKCS12TrustStore is the CA certificate in a PKCS#12 truststore (as keytool -importcert -storetype PKCS12 makes).
func (ca *CA) PKCS12TrustStore(password string) []byte {
	ca.t.Helper()
	b, err := pkcs12.Modern.EncodeTrustStore([]*x509.Certificate{ca.Cert}, password)
	if err != nil {
		ca.t.Fatal(err)
	}
	return b
}

// JKSTrustStore is the CA certificate in a JKS truststore.
func (ca *CA) JKSTrustStore(password string) []byte {
	ca.t.Helper()
	ks := keystore.New()
	if err := ks.SetTrustedCertificateEntry("ca", keystore.TrustedCertificateEntry{CreationTime: time.Now(),
		Certificate: keystore.Certificate{Type: "X509", Content: ca.Cert.Raw}}); err != nil {
		ca.t.Fatal(err)
	}
	var b bytes.Buffer
	if err := ks.Store(&b, []byte(password)); err != nil {
		ca.t.Fatal(err)
	}
	return b.Bytes()
}

// CertPEM is the certificate as PEM.
func (l *Leaf) CertPEM() []byte { return certPEM(l.Cert) }

// ChainPEM is the certificate and the CA's, as PEM.
func (l *Leaf) ChainPEM() []byte { return append(l.CertPEM(), l.ca.CertPEM()...) }

// KeyPEM is the key as unencrypted PKCS#8 PEM ("PRIVATE KEY"), the form Kafka's PEM stores take.
func (l *Leaf) KeyPEM() []byte {
	der, err := x509.MarshalPKCS8PrivateKey(l.Key)
	if err != nil {
		l.ca.t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// EncryptedKeyPEM is the key as encrypted PKCS#8 PEM ("ENCRYPTED PRIVATE KEY", PBES2 with AES-256-CBC).
func (l *Leaf) EncryptedKeyPEM(password string) []byte {
	der, err := pkcs8.MarshalPrivateKey(l.Key, []byte(password), nil)
	if err != nil {
		l.ca.t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: der})
}

// PKCS12KeyStore is the key and chain in a PKCS#12 keystore.
func (l *Leaf) PKCS12KeyStore(password string) []byte {
	b, err := pkcs12.Modern.Encode(l.Key, l.Cert, []*x509.Certificate{l.ca.Cert}, password)
	if err != nil {
		l.ca.t.Fatal(err)
	}
	return b
}

// JKSKeyStore is the key and chain in a JKS keystore, the store protected by storePassword and the key entry by
// keyPassword.
func (l *Leaf) JKSKeyStore(storePassword, keyPassword string) []byte {
	der, err := x509.MarshalPKCS8PrivateKey(l.Key)
	if err != nil {
		l.ca.t.Fatal(err)
	}
	ks := keystore.New()
	if err := ks.SetPrivateKeyEntry("client", keystore.PrivateKeyEntry{CreationTime: time.Now(), PrivateKey: der,
		CertificateChain: []keystore.Certificate{{Type: "X509", Content: l.Cert.Raw}, {Type: "X509", Content: l.ca.Cert.Raw}}},
		[]byte(keyPassword)); err != nil {
		l.ca.t.Fatal(err)
	}
	var b bytes.Buffer
	if err := ks.Store(&b, []byte(storePassword)); err != nil {
		l.ca.t.Fatal(err)
	}
	return b.Bytes()
}
