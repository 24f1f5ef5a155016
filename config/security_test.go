package config

import (
	"crypto/tls"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

const (
	plainJAAS = `org.apache.kafka.common.security.plain.PlainLoginModule required username="alice" password="s3cr3t";`
	scramJAAS = `org.apache.kafka.common.security.scram.ScramLoginModule required username="bob" password="pa\"ss";`
)

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestParseJAAS(t *testing.T) {
	tests := []struct {
		name      string
		mechanism SASLMechanism
		jaas      string
		user, pw  string
		err       string
	}{
		{name: "plain", mechanism: MechanismPlain, jaas: plainJAAS, user: "alice", pw: "s3cr3t"},
		{name: "scram with escaped quote", mechanism: MechanismScramSHA512, jaas: scramJAAS, user: "bob", pw: `pa"ss`},
		{name: "bare words and extra options", mechanism: MechanismScramSHA256,
			jaas: "org.apache.kafka.common.security.scram.ScramLoginModule required\n  username=bob password=pw tokenauth=\"false\" ;",
			user: "bob", pw: "pw"},
		{name: "wrong module for mechanism", mechanism: MechanismScramSHA256, jaas: plainJAAS,
			err: "serves the PLAIN mechanism, but sasl.mechanism is SCRAM-SHA-256"},
		{name: "scram module with plain", mechanism: MechanismPlain, jaas: scramJAAS, err: "serves the SCRAM mechanisms, but sasl.mechanism is PLAIN"},
		{name: "module of another mechanism", mechanism: MechanismPlain, jaas: `com.sun.security.auth.module.Krb5LoginModule required;`,
			err: `com.sun.security.auth.module.Krb5LoginModule serves the GSSAPI mechanism, but sasl.mechanism is PLAIN (use org.apache.kafka.common.security.plain.PlainLoginModule)`},
		{name: "unknown module", mechanism: MechanismPlain, jaas: `org.apache.kafka.common.security.Nope required;`,
			err: `login module "org.apache.kafka.common.security.Nope" is not supported: use org.apache.kafka.common.security.plain.PlainLoginModule`},
		{name: "no flag", mechanism: MechanismPlain, jaas: `org.apache.kafka.common.security.plain.PlainLoginModule username="a" password="b";`,
			err: "expected a control flag"},
		{name: "no semicolon", mechanism: MechanismPlain, jaas: `org.apache.kafka.common.security.plain.PlainLoginModule required username="a" password="b"`,
			err: "missing the ';'"},
		{name: "unterminated quote", mechanism: MechanismPlain, jaas: `org.apache.kafka.common.security.plain.PlainLoginModule required username="a" password="b;`,
			err: "the quoted value of option password has no closing quote"},
		{name: "missing password", mechanism: MechanismPlain, jaas: `org.apache.kafka.common.security.plain.PlainLoginModule required username="a";`,
			err: "has no password option"},
		{name: "two modules", mechanism: MechanismPlain, jaas: plainJAAS + " " + plainJAAS, err: "only one login module is supported"},
		{name: "not key=value", mechanism: MechanismPlain, jaas: `org.apache.kafka.common.security.plain.PlainLoginModule required username;`,
			err: "expected key=value at character 66"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var probs problems
			s := parseSecurity(map[string]string{"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": string(tt.mechanism),
				"sasl.jaas.config": tt.jaas}, &probs, true)
			err := probs.join()
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				for _, secret := range []string{"s3cr3t", `"b`} {
					if strings.Contains(err.Error(), secret) {
						t.Errorf("error %q shows the secret", err)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.Username != tt.user || s.Password != tt.pw {
				t.Errorf("got %q/%q, want %q/%q", s.Username, s.Password, tt.user, tt.pw)
			}
		})
	}
}

func TestSecurityValidation(t *testing.T) {
	dir := t.TempDir()
	notPEM := writeFile(t, dir, "not.pem", "hello")
	tests := []struct {
		name    string
		configs map[string]string
		want    []string
	}{
		{name: "plaintext by default", configs: map[string]string{}},
		{name: "protocol case-insensitive", configs: map[string]string{"security.protocol": "sasl_ssl", "sasl.mechanism": "plain", "sasl.jaas.config": plainJAAS}},
		{name: "bad protocol", configs: map[string]string{"security.protocol": "TLS"},
			want: []string{`security.protocol: "TLS" is not one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL`}},
		{name: "sasl needs mechanism and jaas", configs: map[string]string{"security.protocol": "SASL_SSL"},
			want: []string{"sasl.mechanism: required with security.protocol=SASL_SSL (one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER, GSSAPI, AWS_MSK_IAM)",
				"sasl.jaas.config: required with security.protocol=SASL_SSL"}},
		{name: "unsupported mechanism", configs: map[string]string{"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "NTLM", "sasl.jaas.config": plainJAAS},
			want: []string{`sasl.mechanism: "NTLM" is not supported: use one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER, GSSAPI, AWS_MSK_IAM`}},
		{name: "sasl keys without sasl", configs: map[string]string{"sasl.mechanism": "PLAIN", "sasl.jaas.config": plainJAAS},
			want: []string{"sasl.mechanism: set, but security.protocol=PLAINTEXT uses no SASL (use SASL_PLAINTEXT or SASL_SSL)",
				"sasl.jaas.config: set, but security.protocol=PLAINTEXT uses no SASL (use SASL_PLAINTEXT or SASL_SSL)"}},
		{name: "ssl keys without tls", configs: map[string]string{"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "PLAIN",
			"sasl.jaas.config": plainJAAS, "ssl.ca.location": "testdata/ca.pem"},
			want: []string{"ssl.ca.location: set, but security.protocol=SASL_PLAINTEXT uses no TLS (use SSL or SASL_SSL)"}},
		{name: "ssl with PEM files", configs: map[string]string{"security.protocol": "SSL", "ssl.ca.location": "testdata/ca.pem",
			"ssl.certificate.location": "testdata/client.pem", "ssl.key.location": "testdata/client-key.pem"}},
		{name: "missing CA file", configs: map[string]string{"security.protocol": "SSL", "ssl.ca.location": filepath.Join(dir, "nope.pem")},
			want: []string{fmt.Sprintf("ssl.ca.location: cannot read the CA file: open %s: no such file or directory", filepath.Join(dir, "nope.pem"))}},
		{name: "CA not PEM", configs: map[string]string{"security.protocol": "SSL", "ssl.ca.location": notPEM},
			want: []string{"ssl.ca.location: " + notPEM + " holds no PEM certificate"}},
		{name: "certificate without key", configs: map[string]string{"security.protocol": "SSL", "ssl.certificate.location": "testdata/client.pem"},
			want: []string{"ssl.key.location: required with ssl.certificate.location"}},
		{name: "key without certificate", configs: map[string]string{"security.protocol": "SSL", "ssl.key.location": "testdata/client-key.pem"},
			want: []string{"ssl.certificate.location: required with ssl.key.location"}},
		{name: "key does not match", configs: map[string]string{"security.protocol": "SSL", "ssl.certificate.location": "testdata/ca.pem",
			"ssl.key.location": "testdata/client-key.pem"},
			want: []string{"ssl.key.location: testdata/ca.pem and testdata/client-key.pem are not a matching PEM certificate and private key"}},
		{name: "hostname verification off", configs: map[string]string{"security.protocol": "SSL", "ssl.endpoint.identification.algorithm": ""}},
		{name: "bad endpoint algorithm", configs: map[string]string{"security.protocol": "SSL", "ssl.endpoint.identification.algorithm": "http"},
			want: []string{`ssl.endpoint.identification.algorithm: "http" is not https or "" (no hostname verification)`}},
		{name: "keystore without TLS", configs: map[string]string{"ssl.keystore.location": "/x.jks", "ssl.key.password": "pw"},
			want: []string{
				"ssl.key.password: set, but security.protocol=PLAINTEXT uses no TLS (use SSL or SASL_SSL)",
				"ssl.keystore.location: set, but security.protocol=PLAINTEXT uses no TLS (use SSL or SASL_SSL)"}},
		{name: "kerberos key without SASL", configs: map[string]string{"sasl.kerberos.service.name": "kafka"},
			want: []string{"sasl.kerberos.service.name: set, but security.protocol=PLAINTEXT uses no SASL (use SASL_PLAINTEXT or SASL_SSL)"}},
		{name: "kinit refused with the reason", configs: map[string]string{"sasl.kerberos.kinit.cmd": "/usr/bin/kinit"},
			want: []string{"sasl.kerberos.kinit.cmd: not supported: clusterlink's Kerberos client logs in from the keytab or " +
				"ticket cache of sasl.jaas.config itself and renews its tickets; kinit and Java's relogin settings do not apply: remove it"}},
		{name: "broker-side oauth key refused with the reason", configs: map[string]string{"sasl.oauthbearer.jwks.endpoint.url": "https://x"},
			want: []string{"sasl.oauthbearer.jwks.endpoint.url: not supported: a token validation setting (JWKS, issuer, " +
				"audience, claim names); clusterlink does not check the token it gets, the broker validates it: remove it; " +
				"the client keys are sasl.oauthbearer.token.endpoint.url, " +
				"sasl.oauthbearer.client.credentials.client.id, sasl.oauthbearer.client.credentials.client.secret, " +
				"sasl.oauthbearer.scope, sasl.oauthbearer.header.urlencode"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseCluster(withBootstrap(tt.configs))
			checkLines(t, err, tt.want)
		})
	}
}

func withBootstrap(m map[string]string) map[string]string {
	out := map[string]string{"bootstrap.servers": "localhost:9092"}
	for k, v := range m {
		out[k] = v
	}
	return out
}

func TestSecrets(t *testing.T) {
	dir := t.TempDir()
	jaasFile := writeFile(t, dir, "jaas.conf", scramJAAS+"\n")
	t.Setenv("CL_TEST_JAAS", plainJAAS)
	t.Setenv("CL_TEST_BOOTSTRAP", "src:9092")
	t.Setenv("CL_TEST_EMPTY", "")

	t.Run("env and file", func(t *testing.T) {
		l, err := ParseFileLink("l", map[string]string{
			"bootstrap.servers": "${env:CL_TEST_BOOTSTRAP}",
			"security.protocol": "SASL_PLAINTEXT",
			"sasl.mechanism":    "SCRAM-SHA-512",
			"sasl.jaas.config":  "${file:" + jaasFile + "}",
		})
		if err != nil {
			t.Fatal(err)
		}
		if l.BootstrapServers[0] != "src:9092" || l.Security.Username != "bob" || l.Security.Password != `pa"ss` {
			t.Errorf("got %v %+v", l.BootstrapServers, l.Security)
		}
		c, err := ParseCluster(map[string]string{"bootstrap.servers": "d:1", "security.protocol": "SASL_SSL",
			"sasl.mechanism": "PLAIN", "sasl.jaas.config": "${env:CL_TEST_JAAS}"})
		if err != nil || c.Security.Password != "s3cr3t" {
			t.Errorf("env jaas: %v %+v", err, c.Security)
		}
	})

	tests := []struct {
		name  string
		value string
		want  string
	}{
		{"missing env", "${env:CL_TEST_NOT_SET}", "sasl.jaas.config: environment variable CL_TEST_NOT_SET is not set"},
		{"missing file", "${file:" + filepath.Join(dir, "nope") + "}",
			"sasl.jaas.config: cannot read secret file: open " + filepath.Join(dir, "nope") + ": no such file or directory"},
		{"unknown provider", "${vault:kv/x}", `sasl.jaas.config: the ${...} reference has an unknown provider: use ${env:NAME}, ${file:/path}, ${file:/path:key} or ${directory:/dir:name}`},
		{"reference inside text", `org.apache.kafka.common.security.plain.PlainLoginModule required username="u" password="${env:CL_TEST_JAAS}";`,
			"sasl.jaas.config: holds a ${env:...}, ${file:...} or ${directory:...} reference inside other text: a reference must be the whole value"},
		{"set but empty is resolved", "${env:CL_TEST_EMPTY}", "sasl.jaas.config: required with security.protocol=SASL_PLAINTEXT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseFileLink("l", map[string]string{"bootstrap.servers": "a:1", "security.protocol": "SASL_PLAINTEXT",
				"sasl.mechanism": "PLAIN", "sasl.jaas.config": tt.value})
			checkLines(t, err, []string{tt.want})
		})
	}

	t.Run("errors never show the secret", func(t *testing.T) {
		_, err := ParseFileLink("l", map[string]string{"bootstrap.servers": "a:1", "security.protocol": "SASL_PLAINTEXT",
			"sasl.mechanism": "SCRAM-SHA-256", "sasl.jaas.config": "${env:CL_TEST_JAAS}"})
		if err == nil || strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("error %v", err)
		}
	})
}

func TestKgoOpts(t *testing.T) {
	tests := []struct {
		name    string
		s       Security
		opts    int
		tls     bool
		wantErr string
	}{
		{name: "plaintext", s: Security{Protocol: Plaintext}},
		{name: "zero value", s: Security{}},
		{name: "sasl plain", s: Security{Protocol: SASLPlaintext, SASLMechanism: MechanismPlain, Username: "u", Password: "p"}, opts: 1},
		{name: "sasl scram 256", s: Security{Protocol: SASLPlaintext, SASLMechanism: MechanismScramSHA256, Username: "u", Password: "p"}, opts: 1},
		{name: "sasl_ssl scram 512", s: Security{Protocol: SASLSSL, SASLMechanism: MechanismScramSHA512, Username: "u", Password: "p",
			CALocation: "testdata/ca.pem"}, opts: 2, tls: true},
		{name: "ssl with client cert", s: Security{Protocol: SSL, CertificateLocation: "testdata/client.pem",
			KeyLocation: "testdata/client-key.pem", SkipHostnameVerification: true}, opts: 1, tls: true},
		{name: "bad mechanism", s: Security{Protocol: SASLSSL, SASLMechanism: "NTLM"}, wantErr: `sasl.mechanism: unsupported SASL mechanism "NTLM"`},
		{name: "file gone", s: Security{Protocol: SSL, CALocation: "testdata/gone.pem"}, wantErr: "ssl.ca.location: cannot read the CA file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts, err := tt.s.KgoOpts()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(opts) != tt.opts {
				t.Errorf("got %d options, want %d", len(opts), tt.opts)
			}
			// The options must build a client (no connection is made until a request).
			cl, err := kgo.NewClient(append(opts, kgo.SeedBrokers("127.0.0.1:1"))...)
			if err != nil {
				t.Fatal(err)
			}
			cl.Close()
			if tt.tls {
				cfg, err := tt.s.tlsConfig()
				if err != nil {
					t.Fatal(err)
				}
				if cfg.MinVersion != tls.VersionTLS12 || cfg.InsecureSkipVerify != tt.s.SkipHostnameVerification ||
					(cfg.VerifyConnection != nil) != tt.s.SkipHostnameVerification {
					t.Errorf("tls config %+v", cfg)
				}
				if (cfg.RootCAs != nil) != (tt.s.CALocation != "") || (len(cfg.Certificates) == 1) != (tt.s.CertificateLocation != "") {
					t.Errorf("tls config roots %v certificates %d", cfg.RootCAs, len(cfg.Certificates))
				}
			}
		})
	}
}

func TestSecurityStringHidesPassword(t *testing.T) {
	s := Security{Protocol: SASLSSL, SASLMechanism: MechanismPlain, Username: "u", Password: "s3cr3t"}
	for _, f := range []string{"%v", "%+v", "%#v", "%s"} {
		if out := fmt.Sprintf(f, s); strings.Contains(out, "s3cr3t") {
			t.Errorf("%s shows the password: %s", f, out)
		}
	}
	all := Security{Protocol: SASLSSL, SASLMechanism: MechanismOAuthBearer, OAuth: OAuthBearer{ClientID: "id", ClientSecret: "s3cr3t-client"},
		TrustStore: TrustStore{Location: "/t", Password: "s3cr3t-trust"}, KeyStore: KeyStore{Location: "/k", Password: "s3cr3t-store",
			Key: "s3cr3t-key"}, KeyPassword: "s3cr3t-keypw"}
	for _, f := range []string{"%v", "%+v", "%#v", "%s"} {
		if out := fmt.Sprintf(f, all); strings.Contains(out, "s3cr3t") {
			t.Errorf("%s shows a secret: %s", f, out)
		}
	}
	l := Link{Security: s}
	if out := fmt.Sprintf("%+v", l); strings.Contains(out, "s3cr3t") {
		t.Errorf("a Link shows the password: %s", out)
	}
	a := Admin{Listen: "x:1", Token: "t0k3n"}
	if out := fmt.Sprintf("%+v %#v", a, a); strings.Contains(out, "t0k3n") {
		t.Errorf("Admin shows the token: %s", out)
	}
}

func TestIsSensitive(t *testing.T) {
	for key, want := range map[string]bool{"sasl.jaas.config": true, "ssl.key.password": true, "ssl.keystore.password": true,
		"ssl.key.location": true, "ssl.truststore.password": true, "bootstrap.servers": false, "ssl.ca.location": false} {
		if IsSensitive(key) != want {
			t.Errorf("IsSensitive(%q) = %v", key, !want)
		}
	}
	// The table and the predicate agree.
	for _, e := range (&Link{}).Configs() {
		if e.Sensitive != IsSensitive(e.Name) {
			t.Errorf("%s: Sensitive %v, IsSensitive %v", e.Name, e.Sensitive, IsSensitive(e.Name))
		}
	}
}

// TestParseLink_TakesValuesLiterally checks the path of the admin API and of the state topic: a reference is
// refused, never resolved, whatever key holds it.
func TestParseLink_TakesValuesLiterally(t *testing.T) {
	dir := t.TempDir()
	secret := writeFile(t, dir, "secret", "TOPSECRET-VALUE")
	t.Setenv("CL_TEST_SECRET", "TOPSECRET-ENV")
	for _, key := range []string{"bootstrap.servers", "sasl.jaas.config", "ssl.ca.location", "acl.filters"} {
		for _, ref := range []string{"${file:" + secret + "}", "${env:CL_TEST_SECRET}", "x ${file:" + secret + "} y"} {
			configs := map[string]string{"bootstrap.servers": "a:1", "security.protocol": "SASL_SSL",
				"sasl.mechanism": "PLAIN", "sasl.jaas.config": `org.apache.kafka.common.security.plain.PlainLoginModule required username="u" password="p";`}
			configs[key] = ref
			l, err := ParseLink("l", configs)
			if err == nil || l != nil {
				t.Fatalf("%s=%s: accepted", key, ref)
			}
			if !strings.Contains(err.Error(), key+": ${env:...} and ${file:...} references are only resolved in the daemon's config file") ||
				strings.Contains(err.Error(), "TOPSECRET") {
				t.Errorf("%s=%s: %v", key, ref, err)
			}
		}
	}
}
