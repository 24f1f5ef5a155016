package config

import (
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"github.com/clusterlink/clusterlink/internal/testpki"
)

// mtlsServer listens on 127.0.0.1 with a certificate of ca and requires client certificates ca signed. It answers
// each connection's handshake and reports the client's CN.
func mtlsServer(t *testing.T, ca *testpki.CA) (addr string, clientCN <-chan string) {
	t.Helper()
	srv := ca.Server("broker")
	cert, err := tls.X509KeyPair(srv.CertPEM(), srv.KeyPEM())
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}, ClientCAs: pool,
		ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	cns := make(chan string, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			tc := c.(*tls.Conn)
			if tc.Handshake() == nil && len(tc.ConnectionState().PeerCertificates) > 0 {
				cns <- tc.ConnectionState().PeerCertificates[0].Subject.CommonName
			}
			c.Close()
		}
	}()
	return ln.Addr().String(), cns
}

// handshake dials addr with the TLS config of configs (parsed as a destination cluster's).
func handshake(t *testing.T, configs map[string]string, addr string) error {
	t.Helper()
	c, err := ParseCluster(withBootstrap(configs))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	cfg, err := c.Security.tlsConfig()
	if err != nil {
		t.Fatalf("tls config: %v", err)
	}
	cfg.ServerName = "127.0.0.1"
	conn, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		return err
	}
	defer conn.Close()
	// TLS 1.3 reports a refused client certificate at the first read.
	_ = conn.SetReadDeadline(timeNowPlus())
	_, err = conn.Read(make([]byte, 1))
	if err != nil && !strings.Contains(err.Error(), "EOF") {
		return err
	}
	return nil
}

// TestTLSStores_EveryFormatCompletesAnMTLSHandshake: the same CA and client key given as PEM files, inline PEM,
// an encrypted PEM key (PKCS#8 and legacy), PKCS#12 stores and JKS stores each verify a real server and are
// accepted by it.
func TestTLSStores_EveryFormatCompletesAnMTLSHandshake(t *testing.T) {
	ca := testpki.NewCA(t)
	addr, cns := mtlsServer(t, ca)
	client := ca.Client("clusterlink")
	legacy, err := x509.EncryptPEMBlock(randReader{}, "EC PRIVATE KEY", mustECDER(t, client), []byte("legacy-pw"), x509.PEMCipherAES256) //nolint:staticcheck // a legacy key to read
	if err != nil {
		t.Fatal(err)
	}
	caPEM := ca.Write("ca.pem", ca.CertPEM())
	certPEM := ca.Write("client.pem", client.ChainPEM())
	tests := []struct {
		name    string
		configs map[string]string
	}{
		{"PEM files", map[string]string{"ssl.ca.location": caPEM, "ssl.certificate.location": certPEM,
			"ssl.key.location": ca.Write("client.key", client.KeyPEM())}},
		{"encrypted PKCS#8 key file", map[string]string{"ssl.ca.location": caPEM, "ssl.certificate.location": certPEM,
			"ssl.key.location": ca.Write("client-enc.key", client.EncryptedKeyPEM("key-pw")), "ssl.key.password": "key-pw"}},
		{"legacy encrypted key file", map[string]string{"ssl.ca.location": caPEM, "ssl.certificate.location": certPEM,
			"ssl.key.location": ca.Write("client-legacy.key", pem.EncodeToMemory(legacy)), "ssl.key.password": "legacy-pw"}},
		{"PEM stores inline, encrypted key", map[string]string{"ssl.truststore.type": "PEM", "ssl.truststore.certificates": string(ca.CertPEM()),
			"ssl.keystore.type": "PEM", "ssl.keystore.key": string(client.EncryptedKeyPEM("k")),
			"ssl.keystore.certificate.chain": string(client.ChainPEM()), "ssl.key.password": "k"}},
		{"PEM store files", map[string]string{"ssl.truststore.type": "PEM", "ssl.truststore.location": caPEM,
			"ssl.keystore.type": "pem", "ssl.keystore.location": ca.Write("client-store.pem", append(client.KeyPEM(), client.ChainPEM()...))}},
		{"PKCS12 stores", map[string]string{"ssl.truststore.type": "PKCS12", "ssl.truststore.location": ca.Write("trust.p12", ca.PKCS12TrustStore("trust-pw")),
			"ssl.truststore.password": "trust-pw", "ssl.keystore.type": "PKCS12",
			"ssl.keystore.location": ca.Write("client.p12", client.PKCS12KeyStore("store-pw")), "ssl.keystore.password": "store-pw"}},
		{"JKS stores, key password of its own", map[string]string{"ssl.truststore.location": ca.Write("trust.jks", ca.JKSTrustStore("trust-pw")),
			"ssl.truststore.password": "trust-pw", "ssl.keystore.location": ca.Write("client.jks", client.JKSKeyStore("store-pw", "entry-pw")),
			"ssl.keystore.password": "store-pw", "ssl.key.password": "entry-pw"}},
		{"JKS keystore, key password defaults to the store's", map[string]string{"ssl.truststore.type": "JKS",
			"ssl.truststore.location": ca.Write("trust2.jks", ca.JKSTrustStore("trust-pw")), "ssl.truststore.password": "trust-pw",
			"ssl.keystore.location": ca.Write("client2.jks", client.JKSKeyStore("same-pw", "same-pw")), "ssl.keystore.password": "same-pw"}},
		{"type JKS reading a PKCS12 file, as Java does", map[string]string{"ssl.truststore.type": "JKS",
			"ssl.truststore.location": ca.Write("trust3.p12", ca.PKCS12TrustStore("pw")), "ssl.truststore.password": "pw",
			"ssl.keystore.location": ca.Write("client3.p12", client.PKCS12KeyStore("pw")), "ssl.keystore.password": "pw"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			configs := map[string]string{"security.protocol": "SSL"}
			for k, v := range tt.configs {
				configs[k] = v
			}
			if err := handshake(t, configs, addr); err != nil {
				t.Fatalf("handshake: %v", err)
			}
			if cn := <-cns; cn != "clusterlink" {
				t.Errorf("the server saw client %q", cn)
			}
		})
	}

	// A truststore of another CA does not verify the server.
	other := testpki.NewCA(t)
	err = handshake(t, map[string]string{"security.protocol": "SSL", "ssl.truststore.location": other.Write("other.p12", other.PKCS12TrustStore("pw")),
		"ssl.truststore.password": "pw", "ssl.keystore.location": ca.Write("c.p12", client.PKCS12KeyStore("pw")), "ssl.keystore.password": "pw"}, addr)
	if err == nil || !strings.Contains(err.Error(), "certificate signed by unknown authority") {
		t.Errorf("a foreign truststore: %v, want unknown authority", err)
	}
}

// TestTLSStores_Errors: each mistake names its key and never shows a password or key.
func TestTLSStores_Errors(t *testing.T) {
	ca := testpki.NewCA(t)
	client := ca.Client("c")
	p12 := ca.Write("client.p12", client.PKCS12KeyStore("right-pw"))
	jks := ca.Write("client.jks", client.JKSKeyStore("right-pw", "entry-pw"))
	trustJKS := ca.Write("trust.jks", ca.JKSTrustStore("right-pw"))
	encKey := ca.Write("enc.key", client.EncryptedKeyPEM("right-pw"))
	certPEM := ca.Write("c.pem", client.CertPEM())
	caPEM := ca.Write("ca.pem", ca.CertPEM())
	tests := []struct {
		name    string
		configs map[string]string
		want    []string
	}{
		{"wrong PKCS12 password", map[string]string{"ssl.keystore.location": p12, "ssl.keystore.password": "WRONGPASS1"},
			[]string{"ssl.keystore.location: cannot open the PKCS#12 keystore " + p12 + ": wrong ssl.keystore.password"}},
		{"wrong JKS store password", map[string]string{"ssl.truststore.location": trustJKS, "ssl.truststore.password": "WRONGPASS2"},
			[]string{"ssl.truststore.location: cannot open the JKS truststore " + trustJKS + ": wrong ssl.truststore.password, or the file is damaged"}},
		{"JKS without password", map[string]string{"ssl.truststore.location": trustJKS},
			[]string{"ssl.truststore.location: cannot open the JKS truststore " + trustJKS + ": ssl.truststore.password is required: a JKS store's integrity is checked with it"}},
		{"wrong JKS key password", map[string]string{"ssl.keystore.location": jks, "ssl.keystore.password": "right-pw", "ssl.key.password": "WRONGPASS3"},
			[]string{`ssl.key.password: cannot open the key entry "client" of ` + jks + ": wrong ssl.key.password (default: the keystore password)"}},
		{"encrypted key without password", map[string]string{"ssl.certificate.location": certPEM, "ssl.key.location": encKey},
			[]string{"ssl.key.location: " + encKey + ": the key is encrypted: set ssl.key.password"}},
		{"encrypted key, wrong password", map[string]string{"ssl.certificate.location": certPEM, "ssl.key.location": encKey, "ssl.key.password": "WRONGPASS4"},
			[]string{"ssl.key.location: " + encKey + ": the encrypted key does not open with ssl.key.password (wrong password, or an unsupported cipher)"}},
		{"PEM file declared PKCS12", map[string]string{"ssl.truststore.type": "PKCS12", "ssl.truststore.location": caPEM},
			[]string{"ssl.truststore.location: " + caPEM + ": the file holds PEM: set ssl.truststore.type=PEM"}},
		{"JCEKS refused", map[string]string{"ssl.keystore.type": "JCEKS", "ssl.keystore.location": jks},
			[]string{`ssl.keystore.type: "JCEKS" is not supported: use JKS, PKCS12 or PEM (keytool -importkeystore -deststoretype PKCS12 converts a store)`}},
		{"two trust settings", map[string]string{"ssl.ca.location": caPEM, "ssl.truststore.location": trustJKS, "ssl.truststore.password": "right-pw"},
			[]string{"ssl.truststore.location: set together with ssl.ca.location: give the CA certificates one way"}},
		{"inline key without PEM type", map[string]string{"ssl.keystore.key": string(client.KeyPEM()), "ssl.keystore.certificate.chain": string(client.CertPEM())},
			[]string{"ssl.keystore.key: inline keys need ssl.keystore.type=PEM"}},
		{"inline key of another certificate", map[string]string{"ssl.keystore.type": "PEM", "ssl.keystore.key": string(ca.Client("x").KeyPEM()),
			"ssl.keystore.certificate.chain": string(client.CertPEM())},
			[]string{"ssl.keystore.key: does not match the first certificate of ssl.keystore.certificate.chain"}},
		{"key password without a key", map[string]string{"ssl.key.password": "x"},
			[]string{"ssl.key.password: set, but there is no client key (set ssl.keystore.location, ssl.keystore.key or ssl.key.location)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			configs := map[string]string{"security.protocol": "SSL"}
			for k, v := range tt.configs {
				configs[k] = v
			}
			_, err := ParseCluster(withBootstrap(configs))
			checkLines(t, err, tt.want)
			if err != nil && (strings.Contains(err.Error(), "WRONGPASS") || strings.Contains(err.Error(), "right-pw") ||
				strings.Contains(err.Error(), "PRIVATE KEY")) {
				t.Errorf("the error shows a secret: %v", err)
			}
		})
	}
}

func mustECDER(t *testing.T, l *testpki.Leaf) []byte {
	der, err := x509.MarshalECPrivateKey(l.Key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

type randReader struct{}

func (randReader) Read(p []byte) (int, error) { return rand.Read(p) }

func timeNowPlus() time.Time { return time.Now().Add(2 * time.Second) }

// TestTLSVersionsAndCipherSuites: Java's ssl.protocol, ssl.enabled.protocols and ssl.cipher.suites are applied.
func TestTLSVersionsAndCipherSuites(t *testing.T) {
	c, err := ParseCluster(withBootstrap(map[string]string{"security.protocol": "SSL", "ssl.protocol": "TLSv1.3",
		"ssl.enabled.protocols": "TLSv1.2", "ssl.cipher.suites": "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"}))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := c.Security.tlsConfig()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MinVersion != tls.VersionTLS12 || cfg.MaxVersion != tls.VersionTLS12 ||
		len(cfg.CipherSuites) != 2 || cfg.CipherSuites[0] != tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 {
		t.Errorf("tls config min %x max %x suites %v", cfg.MinVersion, cfg.MaxVersion, cfg.CipherSuites)
	}
	l := &Link{Security: c.Security}
	for _, e := range l.Configs() {
		if e.Name == "ssl.enabled.protocols" && e.Value != "TLSv1.2" {
			t.Errorf("ssl.enabled.protocols shown as %q", e.Value)
		}
	}
	_, err = ParseCluster(withBootstrap(map[string]string{"security.protocol": "SSL", "ssl.enabled.protocols": "TLSv1.1,TLSv1.2",
		"ssl.cipher.suites": "TLS_RSA_WITH_RC4_128_SHA"}))
	checkLines(t, err, []string{"ssl.enabled.protocols: TLSv1.1 is not supported: clusterlink offers TLSv1.2 and TLSv1.3 only",
		`ssl.cipher.suites: "TLS_RSA_WITH_RC4_128_SHA" is not a cipher suite Go's TLS offers securely (names as IANA's, for example TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256)`})
}
