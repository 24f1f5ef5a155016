package daemon

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clusterlink/clusterlink/controlplane/adminapi"
)

// testPKI is a CA with a server certificate for 127.0.0.1 and a client certificate, as PEM files.
type testPKI struct {
	caFile, serverCert, serverKey, clientCert, clientKey string
	pool                                                 *x509.CertPool
}

func newTestPKI(t *testing.T) testPKI {
	t.Helper()
	dir := t.TempDir()
	write := func(name, typ string, der []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	caKey := newKey()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"}, IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	issue := func(name string, serial int64, usage x509.ExtKeyUsage) (string, string) {
		k := newKey()
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
			ExtKeyUsage: []x509.ExtKeyUsage{usage}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kder, _ := x509.MarshalECPrivateKey(k)
		return write(name+".crt", "CERTIFICATE", der), write(name+".key", "EC PRIVATE KEY", kder)
	}
	p := testPKI{caFile: write("ca.pem", "CERTIFICATE", caDER), pool: x509.NewCertPool()}
	p.pool.AddCert(ca)
	p.serverCert, p.serverKey = issue("server", 2, x509.ExtKeyUsageServerAuth)
	p.clientCert, p.clientKey = issue("client", 3, x509.ExtKeyUsageClientAuth)
	return p
}

// status asks path of the daemon and returns the HTTP status (or -1 when the request does not get through).
func status(t *testing.T, cl *http.Client, url, token string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := cl.Do(req)
	if err != nil {
		return -1
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestDaemon_OneAuthRuleCoversEverythingItServes: with a token, the API, /metrics and pprof all need it; the probes
// do not; admin.metrics.public opens /metrics alone.
func TestDaemon_OneAuthRuleCoversEverythingItServes(t *testing.T) {
	for _, public := range []bool{false, true} {
		f := newFixture(t)
		f.cfg.Admin.Token = "s3cret"
		f.cfg.Admin.MetricsPublic = public
		f.pprof = true
		f.start(t)
		base := "http://" + f.addr
		for _, tc := range []struct {
			path string
			open bool
		}{
			{"/kafka/v3/clusters", false}, {"/debug/pprof/cmdline", false}, {"/debug/pprof/goroutine?debug=2", false},
			{"/debug/pprof/heap", false}, {"/metrics", public}, {"/healthz", true}, {"/readyz", true},
		} {
			want := http.StatusUnauthorized
			if tc.open {
				want = http.StatusOK
			}
			if got := status(t, http.DefaultClient, base+tc.path, ""); got != want {
				t.Errorf("metrics.public=%v: %s without the token: %d, want %d", public, tc.path, got, want)
			}
			if got := status(t, http.DefaultClient, base+tc.path, "s3cret"); got != http.StatusOK {
				t.Errorf("metrics.public=%v: %s with the token: %d, want 200", public, tc.path, got)
			}
		}
		f.stop()
	}
}

// TestDaemon_ServesHTTPSAndRequiresClientCertificates runs the admin listener with TLS and a client CA: plain HTTP
// and a client without a certificate get nothing but the probes; the CLI's client with the CA and a client
// certificate works.
func TestDaemon_ServesHTTPSAndRequiresClientCertificates(t *testing.T) {
	pki := newTestPKI(t)
	f := newFixture(t)
	f.cfg.Admin.TLSCertificate, f.cfg.Admin.TLSKey, f.cfg.Admin.TLSClientCA = pki.serverCert, pki.serverKey, pki.caFile
	f.start(t)
	base := "https://" + f.addr
	if got := status(t, http.DefaultClient, "http://"+f.addr+"/kafka/v3/clusters", ""); got == http.StatusOK {
		t.Error("plain HTTP was served")
	}
	noCert := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pki.pool}}}
	if got := status(t, noCert, base+"/kafka/v3/clusters", ""); got != http.StatusUnauthorized {
		t.Errorf("without a client certificate: %d, want 401", got)
	}
	if got := status(t, noCert, base+"/healthz", ""); got != http.StatusOK {
		t.Errorf("probe without a client certificate: %d, want 200", got)
	}
	cert, err := tls.LoadX509KeyPair(pki.clientCert, pki.clientKey)
	if err != nil {
		t.Fatal(err)
	}
	cl := adminapi.NewClientWith(f.addr, adminapi.ClientOptions{TLS: &tls.Config{RootCAs: pki.pool, Certificates: []tls.Certificate{cert}}})
	if _, err := cl.Links(context.Background()); err != nil {
		t.Fatalf("with a client certificate: %v", err)
	}
	// A certificate of another CA is refused by the handshake.
	other := newTestPKI(t)
	otherCert, _ := tls.LoadX509KeyPair(other.clientCert, other.clientKey)
	bad := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pki.pool, Certificates: []tls.Certificate{otherCert}}}}
	if got := status(t, bad, base+"/kafka/v3/clusters", ""); got == http.StatusOK {
		t.Error("a client certificate of another CA was accepted")
	}
}

// TestDaemon_RefusesWhatTheAPIMustNotDo: files outside admin.allowed.file.dirs, secrets the state would keep in
// clear, a body of more than one JSON value, a config given twice. Unknown fields are ignored.
func TestDaemon_RefusesWhatTheAPIMustNotDo(t *testing.T) {
	f := newFixture(t)
	allowed := t.TempDir()
	f.cfg.Admin.AllowedFileDirs = []string{allowed}
	f.start(t)
	ctx := context.Background()
	boot := adminapi.ConfigValue{Name: "bootstrap.servers", Value: strings.Join(f.src.ListenAddrs(), ",")}
	create := func(configs ...adminapi.ConfigValue) error {
		return f.client.CreateLink(ctx, "refused", adminapi.CreateLinkRequest{Configs: append([]adminapi.ConfigValue{boot}, configs...)}, true)
	}
	tlsOn := adminapi.ConfigValue{Name: "security.protocol", Value: "SSL"}
	for _, path := range []string{"/etc/passwd", filepath.Join(allowed, "..", "x.pem"), "relative.pem"} {
		err := create(tlsOn, adminapi.ConfigValue{Name: "ssl.ca.location", Value: path})
		if apiStatus(err) != http.StatusBadRequest || !strings.Contains(err.Error(), "admin.allowed.file.dirs") {
			t.Errorf("ssl.ca.location=%s: %v, want 400 naming admin.allowed.file.dirs", path, err)
		}
	}
	// Every file a config names: the Java stores and a Kerberos keytab too.
	for _, cv := range []adminapi.ConfigValue{{Name: "ssl.truststore.location", Value: "/etc/ssl/private/t.p12"},
		{Name: "ssl.keystore.location", Value: "/root/client.jks"}} {
		err := create(tlsOn, cv)
		if apiStatus(err) != http.StatusBadRequest || !strings.Contains(err.Error(), cv.Name+"="+cv.Value) || !strings.Contains(err.Error(), "admin.allowed.file.dirs") {
			t.Errorf("%s=%s: %v, want 400 naming it and admin.allowed.file.dirs", cv.Name, cv.Value, err)
		}
	}
	err := create(adminapi.ConfigValue{Name: "security.protocol", Value: "SASL_PLAINTEXT"}, adminapi.ConfigValue{Name: "sasl.mechanism", Value: "GSSAPI"},
		adminapi.ConfigValue{Name: "sasl.kerberos.service.name", Value: "kafka"}, adminapi.ConfigValue{Name: "sasl.jaas.config",
			Value: `com.sun.security.auth.module.Krb5LoginModule required useKeyTab=true keyTab="/etc/krb5.keytab" principal="root";`})
	if apiStatus(err) != http.StatusBadRequest || !strings.Contains(err.Error(), "sasl.jaas.config keyTab=/etc/krb5.keytab") {
		t.Errorf("a keytab outside admin.allowed.file.dirs: %v, want 400 naming it", err)
	}
	jaas := adminapi.ConfigValue{Name: "sasl.jaas.config", Value: `org.apache.kafka.common.security.plain.PlainLoginModule required username="u" password="p";`}
	err = create(adminapi.ConfigValue{Name: "security.protocol", Value: "SASL_PLAINTEXT"}, adminapi.ConfigValue{Name: "sasl.mechanism", Value: "PLAIN"}, jaas)
	if apiStatus(err) != http.StatusBadRequest || !strings.Contains(err.Error(), "state.encryption.key") {
		t.Errorf("a secret without a state key: %v, want 400 naming state.encryption.key", err)
	}
	post := func(body string) int {
		resp, err := http.Post("http://"+f.addr+"/kafka/v3/clusters/-/links?link_name=j&validate_only=true", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	b := `"name":"bootstrap.servers","value":"` + boot.Value + `"`
	for body, want := range map[string]int{
		`{"configs":[{` + b + `}]}`:                                            http.StatusNoContent, // as Confluent answers a create
		`{"configs":[{` + b + `}],"replication_factor":3}`:                     http.StatusNoContent, // an unknown field is ignored
		`{"configs":[{` + b + `}]} {"configs":[]}`:                             http.StatusBadRequest,
		`{"configs":[{` + b + `}]}xyz`:                                         http.StatusBadRequest,
		`{"configs":[{` + b + `},{"name":"bootstrap.servers","value":"x:1"}]}`: http.StatusBadRequest,
	} {
		if got := post(body); got != want {
			t.Errorf("body %s: %d, want %d", body, got, want)
		}
	}
}
