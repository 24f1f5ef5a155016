package config

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/clusterlink/clusterlink/internal/testpki"
)

// The parsers that handle secrets must never put one in an error: errors are logged, returned by the admin API
// and printed by the CLI. Each fuzz target plants a recognisable secret where a secret goes, surrounds it with
// whatever the fuzzer makes, and fails if an error shows it. `make fuzz` runs each target for a while; `go test`
// runs the seeds and a bounded random sample of each (TestSecretsNeverInErrors), in -short too.

// planted makes a recognisable secret of at least 8 characters from fuzzed bytes.
func planted(s string) string {
	var b strings.Builder
	b.WriteString("PLNT")
	for _, c := range []byte(s) {
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' {
			b.WriteByte(c)
		}
	}
	for b.Len() < 10 {
		b.WriteByte('x')
	}
	return b.String()
}

// oneLine keeps fuzzed surroundings on the secret's line and in its value: no line breaks, and none of the
// characters that would make the secret a YAML key or start a comment.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case '\n', '\r', ':', '#', '\u0085', '\u2028', '\u2029':
			return -1
		}
		return r
	}, s)
}

func requireNoSecret(t *testing.T, what string, err error, secret string) {
	t.Helper()
	if err != nil && strings.Contains(err.Error(), secret) {
		t.Fatalf("%s: the error shows the secret %q:\n%v", what, secret, err)
	}
}

func checkJAAS(t *testing.T, before, secret, after string) {
	s := planted(secret)
	for _, jaas := range []string{
		before + s + after,
		s + " " + after,
		`org.apache.kafka.common.security.plain.PlainLoginModule required username="u" password="` + s + after,
		`org.apache.kafka.common.security.plain.PlainLoginModule required username="u" password=` + s + after,
		`org.apache.kafka.common.security.scram.ScramLoginModule ` + before + ` password="` + s + `"` + after,
		before + ` ` + s + `="x";`,
		`org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required clientId="id" clientSecret="` + s + after,
		`org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required ` + before + `clientSecret=` + s + after,
		`org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required unsecuredLoginLifetimeSeconds="` + s + `";`,
		`com.sun.security.auth.module.Krb5LoginModule required useKeyTab=` + s + ` keyTab="/x" principal="p";`,
		`com.sun.security.auth.module.Krb5LoginModule required ` + before + s + after,
		`software.amazon.msk.auth.iam.IAMLoginModule required ` + before + `awsProfileName="` + s + after,
	} {
		for _, mech := range []string{"PLAIN", "SCRAM-SHA-256", "OAUTHBEARER", "GSSAPI", "AWS_MSK_IAM"} {
			_, err := ParseLink("l", map[string]string{"bootstrap.servers": "a:1", "security.protocol": "SASL_SSL",
				"sasl.mechanism": mech, "sasl.jaas.config": jaas})
			requireNoSecret(t, "sasl.jaas.config "+jaas, err, s)
		}
	}
}

func FuzzJAASErrorsNeverShowTheSecret(f *testing.F) {
	f.Add("", "hunter2hunter2", "")
	f.Add("org.apache.kafka.common.security.plain.PlainLoginModule required password=", "s3cr3t", ` username="u"`)
	f.Add("x", "pw", `"; y`)
	f.Add(`required `, "p", `\`)
	f.Fuzz(checkJAAS)
}

func checkLinkSecrets(t *testing.T, key, other, secret, junk string) {
	s := planted(secret)
	for _, k := range []string{"sasl.jaas.config", "ssl.key.password", "ssl.keystore.password", "ssl.truststore.password",
		"sasl.oauthbearer.client.secret", "basic.auth.user.info", "ssl.keystore.key",
		"sasl.oauthbearer.client.credentials.client.secret", key} {
		if !IsSensitive(k) {
			continue
		}
		// (${env:NAME} and ${file:/path} name a variable and a file, not a secret: errors say which is missing.)
		for _, v := range []string{s, junk + s, s + junk, "${" + s + "}", "${vault:" + s + "}", junk + "${env:x}" + s} {
			configs := map[string]string{"bootstrap.servers": "a:1", "security.protocol": other, k: v}
			_, err := ParseLink("l", configs)
			requireNoSecret(t, k+"="+v, err, s)
			_, err = ParseFileLink("l", configs)
			requireNoSecret(t, "file "+k+"="+v, err, s)
			_, err = ParseCluster(configs)
			requireNoSecret(t, "cluster "+k+"="+v, err, s)
		}
	}
}

func FuzzLinkConfigErrorsNeverShowTheSecret(f *testing.F) {
	f.Add("sasl.jaas.config", "SASL_SSL", "topsecret", "")
	f.Add("ssl.key.password", "SSL", "x", "}")
	f.Add("my.password", "PLAINTEXT", "pw", "${")
	f.Fuzz(checkLinkSecrets)
}

func checkDaemonFileSecrets(t *testing.T, before, secret, after string) {
	s := planted(secret)
	b, a := oneLine(before), oneLine(after)
	for _, place := range []string{"token", "jaas", "key", "old", "link-jaas"} {
		v := func(p string) string {
			if p == place {
				return b + s + a
			}
			return "x"
		}
		file := fmt.Sprintf(`destination:
  bootstrap.servers: d:9092
  security.protocol: SASL_SSL
  sasl.mechanism: PLAIN
  sasl.jaas.config: %s
admin:
  token: %s
state:
  encryption.key: %s
  encryption.old.keys: [%s]
links:
  - name: l
    configs:
      bootstrap.servers: s:9092
      security.protocol: SASL_SSL
      sasl.mechanism: PLAIN
      sasl.jaas.config: %s
`, v("jaas"), v("token"), v("key"), v("old"), v("link-jaas"))
		_, err := Parse([]byte(file))
		requireNoSecret(t, "daemon file with the secret at "+place, err, s)
	}
}

func FuzzDaemonFileErrorsNeverShowTheSecret(f *testing.F) {
	f.Add("", "thesecret", "")
	f.Add(`"`, "q", `"`)
	f.Add("'", "q", "")
	f.Add("[", "q", "")
	f.Add("${env:", "q", "}")
	f.Fuzz(checkDaemonFileSecrets)
}

// storeFiles are real stores, made once, that the store fuzz target opens with planted passwords and keys.
var storeFiles struct {
	once                         sync.Once
	dir                          string // removed by TestMain
	p12, jks, trustJKS, trustP12 string
	encKey, cert, props          string
}

func makeStoreFiles(t *testing.T) {
	storeFiles.once.Do(func() {
		dir, err := os.MkdirTemp("", "clusterlink-fuzz-stores-")
		if err != nil {
			t.Fatal(err)
		}
		storeFiles.dir = dir
		ca := testpki.NewCA(t)
		client := ca.Client("c")
		write := func(name string, b []byte) string {
			p := filepath.Join(dir, name)
			if err := os.WriteFile(p, b, 0o600); err != nil {
				t.Fatal(err)
			}
			return p
		}
		storeFiles.p12 = write("c.p12", client.PKCS12KeyStore("right-pw"))
		storeFiles.jks = write("c.jks", client.JKSKeyStore("right-pw", "entry-pw"))
		storeFiles.trustJKS = write("t.jks", ca.JKSTrustStore("right-pw"))
		storeFiles.trustP12 = write("t.p12", ca.PKCS12TrustStore("right-pw"))
		storeFiles.encKey = write("enc.key", client.EncryptedKeyPEM("right-pw"))
		storeFiles.cert = write("c.pem", client.CertPEM())
	})
}

// checkStoreSecrets opens real stores and keys with a planted password, and parses a planted inline key and a
// properties file holding the secret: no error may show it.
func checkStoreSecrets(t *testing.T, before, secret, after string) {
	makeStoreFiles(t)
	s := planted(secret)
	f := &storeFiles
	for _, configs := range []map[string]string{
		{"ssl.keystore.location": f.p12, "ssl.keystore.password": s},
		{"ssl.keystore.location": f.p12, "ssl.keystore.type": "PKCS12", "ssl.keystore.password": before + s + after},
		{"ssl.keystore.location": f.jks, "ssl.keystore.password": s},
		{"ssl.keystore.location": f.jks, "ssl.keystore.password": "right-pw", "ssl.key.password": s},
		{"ssl.truststore.location": f.trustJKS, "ssl.truststore.password": s + after},
		{"ssl.truststore.location": f.trustP12, "ssl.truststore.password": before + s},
		{"ssl.certificate.location": f.cert, "ssl.key.location": f.encKey, "ssl.key.password": s},
		{"ssl.keystore.type": "PEM", "ssl.keystore.key": before + s + after, "ssl.keystore.certificate.chain": before + s},
		{"ssl.keystore.type": "PEM", "ssl.keystore.key": "-----BEGIN ENCRYPTED PRIVATE KEY-----\n" + s + "\n-----END ENCRYPTED PRIVATE KEY-----\n",
			"ssl.keystore.certificate.chain": "x", "ssl.key.password": s},
		{"ssl.truststore.type": "PEM", "ssl.truststore.certificates": "-----BEGIN CERTIFICATE-----\n" + before + s + after},
	} {
		configs["security.protocol"] = "SSL"
		configs["bootstrap.servers"] = "a:1"
		_, err := ParseCluster(configs)
		requireNoSecret(t, fmt.Sprintf("stores %v", configs), err, s)
		_, err = ParseLink("l", configs)
		requireNoSecret(t, fmt.Sprintf("link stores %v", configs), err, s)
	}
	dir := t.TempDir()
	props := filepath.Join(dir, "secrets.properties")
	if err := os.WriteFile(props, []byte(before+s+after+"\n"+s+"\\u00zz"+"\nk"+before+"="+s), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{"${file:" + props + ":" + s + "}", "${file:" + props + ":k}", "${file:" + props + ":other}"} {
		_, err := resolveSecret(ref)
		if err != nil && strings.Contains(strings.ReplaceAll(err.Error(), props, ""), s) && !strings.Contains(ref, ":"+s+"}") {
			t.Fatalf("%s: the error shows the secret: %v", ref, err)
		}
	}
}

// TestMain removes the store files the fuzz targets share (made once per process, fuzz workers included).
func TestMain(m *testing.M) {
	code := m.Run()
	if storeFiles.dir != "" {
		os.RemoveAll(storeFiles.dir)
	}
	os.Exit(code)
}

func FuzzStoreErrorsNeverShowTheSecret(f *testing.F) {
	f.Add("", "storepass", "")
	f.Add("-----BEGIN PRIVATE KEY-----\n", "k", "\n-----END PRIVATE KEY-----")
	f.Add("\"", "q", "=")
	f.Fuzz(checkStoreSecrets)
}

// TestSecretsNeverInErrors runs every target above over a bounded random sample, so that plain `go test` (and
// -short) exercises more than the seeds.
func TestSecretsNeverInErrors(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []string{"\"", "'", "\\", ";", "=", " ", "{", "}", "$", "[", "]", ",", "required", "password", "username",
		"${env:", "${file:", "org.apache.kafka.common.security.plain.PlainLoginModule", "\t", "!", "&", "*", "|", "-", "a", "Z", "9"}
	pick := func() string {
		var b strings.Builder
		for range rng.IntN(6) {
			b.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
		return b.String()
	}
	keys := []string{"sasl.jaas.config", "ssl.key.password", "x.password", "bootstrap.servers"}
	protocols := []string{"SASL_SSL", "SSL", "PLAINTEXT", "bogus"}
	n := 3000
	if testing.Short() {
		n = 500
	}
	for range n {
		checkJAAS(t, pick(), pick(), pick())
		checkLinkSecrets(t, keys[rng.IntN(len(keys))], protocols[rng.IntN(len(protocols))], pick(), pick())
		checkDaemonFileSecrets(t, pick(), pick(), pick())
	}
	// Opening stores costs more: a smaller sample.
	for range n / 20 {
		checkStoreSecrets(t, pick(), pick(), pick())
	}
}
