package config

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/iana/etypeID"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/twmb/franz-go/pkg/kgo"
)

const (
	unsecuredJAAS = `org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required unsecuredLoginStringClaim_sub="alice";`
	oauthCCJAAS   = `org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required clientId="cl-id" clientSecret="CLIENT-SECRET-1" scope="kafka";`
)

func saslCluster(mechanism, jaas string, extra map[string]string) map[string]string {
	m := withBootstrap(map[string]string{"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": mechanism, "sasl.jaas.config": jaas})
	for k, v := range extra {
		m[k] = v
	}
	return m
}

// claimsOf decodes a JWT's claims.
func claimsOf(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q is not a JWS", tok)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestOAuthBearer_UnsecuredTokenIsKafkasUnsignedJWS: header {"alg":"none"}, claims sub, iat, exp, empty signature.
func TestOAuthBearer_UnsecuredTokenIsKafkasUnsignedJWS(t *testing.T) {
	c, err := ParseCluster(saslCluster("OAUTHBEARER", unsecuredJAAS, nil))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_700_000_000, 0)
	ts := &tokenSource{cfg: c.Security.OAuth, now: func() time.Time { return now }}
	tok, err := ts.token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	header, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
	if string(header) != `{"alg":"none"}` || !strings.HasSuffix(tok, ".") {
		t.Errorf("token %q: header %s", tok, header)
	}
	claims := claimsOf(t, tok)
	if claims["sub"] != "alice" || claims["iat"] != float64(now.Unix()) || claims["exp"] != float64(now.Add(time.Hour).Unix()) {
		t.Errorf("claims %v", claims)
	}
	opts, err := c.KgoOpts()
	if err != nil || len(opts) != 2 {
		t.Fatalf("KgoOpts: %d options, %v", len(opts), err)
	}
}

// TestOAuthBearer_ClientCredentials: the grant is POSTed with Basic auth and the scope; the token is kept until the
// refresh buffer before it expires; a refusal names the status and OAuth error code, never the secret.
func TestOAuthBearer_ClientCredentials(t *testing.T) {
	var calls atomic.Int64
	var refuse atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		id, secret, ok := r.BasicAuth()
		if err := r.ParseForm(); err != nil || r.Method != http.MethodPost || !ok || r.Form.Get("grant_type") != "client_credentials" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		if refuse.Load() || id != "cl-id" || secret != "CLIENT-SECRET-1" || r.Form.Get("scope") != "kafka" {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprintf(w, `{"error":"invalid_client","error_description":"client %s with secret %s"}`, id, secret)
			return
		}
		fmt.Fprintf(w, `{"access_token":"tok-%d","token_type":"bearer","expires_in":600}`, calls.Load())
	}))
	defer srv.Close()
	configs := saslCluster("OAUTHBEARER", oauthCCJAAS, map[string]string{
		"sasl.oauthbearer.token.endpoint.url": srv.URL,
		"sasl.login.callback.handler.class":   "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginCallbackHandler",
		"sasl.login.refresh.buffer.seconds":   "60",
	})
	c, err := ParseCluster(configs)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	ts := &tokenSource{cfg: c.Security.OAuth, now: func() time.Time { return now }}
	ctx := context.Background()
	for range 3 {
		if tok, err := ts.token(ctx); err != nil || tok != "tok-1" {
			t.Fatalf("token %q, %v", tok, err)
		}
	}
	if calls.Load() != 1 {
		t.Errorf("%d token requests, want 1 (kept)", calls.Load())
	}
	now = now.Add(541 * time.Second) // within the 60 s buffer of the 600 s lifetime
	if tok, err := ts.token(ctx); err != nil || tok != "tok-2" {
		t.Errorf("after 541 s: token %q, %v; want a new one", tok, err)
	}
	refuse.Store(true)
	now = now.Add(time.Hour)
	_, err = ts.token(ctx)
	if err == nil || !strings.Contains(err.Error(), "HTTP 401 (invalid_client)") || strings.Contains(err.Error(), "CLIENT-SECRET-1") {
		t.Errorf("refused: %v", err)
	}

	// Kafka 4.1's keys instead of the JAAS options.
	c, err = ParseCluster(saslCluster("OAUTHBEARER", `org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;`,
		map[string]string{"sasl.oauthbearer.token.endpoint.url": srv.URL, "sasl.oauthbearer.client.credentials.client.id": "cl-id",
			"sasl.oauthbearer.client.credentials.client.secret": "CLIENT-SECRET-1", "sasl.oauthbearer.scope": "kafka"}))
	if err != nil {
		t.Fatal(err)
	}
	refuse.Store(false)
	if _, err := (&tokenSource{cfg: c.Security.OAuth, now: time.Now}).token(ctx); err != nil {
		t.Errorf("with Kafka 4.1's keys: %v", err)
	}
	if s := fmt.Sprintf("%v %+v %#v", c.Security, c.Security, c.Security); strings.Contains(s, "CLIENT-SECRET-1") {
		t.Errorf("Security shows the client secret: %s", s)
	}
}

func TestOAuthBearer_FileToken(t *testing.T) {
	dir := t.TempDir()
	tok, _ := unsecuredToken("bob", time.Hour, time.Now())
	path := writeFile(t, dir, "token", tok+"\n")
	c, err := ParseCluster(saslCluster("OAUTHBEARER", `org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;`,
		map[string]string{"sasl.oauthbearer.token.endpoint.url": "file://" + path}))
	if err != nil {
		t.Fatal(err)
	}
	got, err := (&tokenSource{cfg: c.Security.OAuth, now: time.Now}).token(context.Background())
	if err != nil || got != tok {
		t.Errorf("token %q, %v", got, err)
	}
	// Over the API a file:// endpoint would make the daemon read its own files.
	_, err = ParseLink("l", map[string]string{"bootstrap.servers": "a:1", "security.protocol": "SASL_SSL", "sasl.mechanism": "OAUTHBEARER",
		"sasl.jaas.config":                    `org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;`,
		"sasl.oauthbearer.token.endpoint.url": "file://" + path})
	checkLines(t, err, []string{"sasl.oauthbearer.token.endpoint.url: a file:// token endpoint reads a file of the daemon's host: declare such a link in the daemon's file"})
	if got := FilePaths(map[string]string{"sasl.oauthbearer.token.endpoint.url": "file://" + path}); got["sasl.oauthbearer.token.endpoint.url"] != path {
		t.Errorf("FilePaths: %v", got)
	}
}

func TestOAuthBearer_Validation(t *testing.T) {
	tests := []struct {
		name  string
		jaas  string
		extra map[string]string
		want  []string
	}{
		{"neither way", `org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;`, nil,
			[]string{"sasl.jaas.config: org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule needs sasl.oauthbearer.token.endpoint.url " +
				"with options clientId and clientSecret (client credentials), or option unsecuredLoginStringClaim_sub (Kafka's unsecured tokens, for tests)"}},
		{"no secret", `org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required clientId="x";`,
			map[string]string{"sasl.oauthbearer.token.endpoint.url": "https://idp/token"},
			[]string{"sasl.jaas.config: the client credentials grant needs a client secret: option clientSecret, or sasl.oauthbearer.client.credentials.client.secret"}},
		{"not a URL", oauthCCJAAS, map[string]string{"sasl.oauthbearer.token.endpoint.url": "idp/token"},
			[]string{"sasl.oauthbearer.token.endpoint.url: is not an http://, https:// or file:// URL"}},
		{"other login handler", oauthCCJAAS, map[string]string{"sasl.oauthbearer.token.endpoint.url": "https://idp/token",
			"sasl.login.callback.handler.class": "com.example.MyHandler"},
			[]string{"sasl.login.callback.handler.class: not supported: clusterlink's OAUTHBEARER login is Kafka's " +
				"org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginCallbackHandler (client credentials against " +
				"sasl.oauthbearer.token.endpoint.url) or the unsecured login; set that class or remove the key"}},
		{"oauth key with PLAIN", plainJAAS, map[string]string{"sasl.oauthbearer.token.endpoint.url": "https://idp/token"},
			[]string{"sasl.oauthbearer.token.endpoint.url: set, but sasl.mechanism=PLAIN: it belongs to OAUTHBEARER"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mech := "OAUTHBEARER"
			if tt.jaas == plainJAAS {
				mech = "PLAIN"
			}
			_, err := ParseCluster(saslCluster(mech, tt.jaas, tt.extra))
			checkLines(t, err, tt.want)
		})
	}
}

// writeKerberos writes a krb5.conf and a keytab for clusterlink@EXAMPLE.COM and points KRB5_CONFIG at the conf.
func writeKerberos(t *testing.T) (keytabPath string) {
	t.Helper()
	dir := t.TempDir()
	conf := writeFile(t, dir, "krb5.conf", "[libdefaults]\n  default_realm = EXAMPLE.COM\n[realms]\n  EXAMPLE.COM = {\n    kdc = 127.0.0.1:1\n  }\n")
	t.Setenv("KRB5_CONFIG", conf)
	kt := keytab.New()
	if err := kt.AddEntry("clusterlink", "EXAMPLE.COM", "not-a-real-password", time.Now(), 1, etypeID.AES256_CTS_HMAC_SHA1_96); err != nil {
		t.Fatal(err)
	}
	b, err := kt.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return writeFile(t, dir, "clusterlink.keytab", string(b))
}

// TestGSSAPI_OptionsAndValidation: a keytab login builds franz-go's GSSAPI mechanism (no KDC is reachable here, so
// the login itself is not tested); each missing piece is named.
func TestGSSAPI_OptionsAndValidation(t *testing.T) {
	kt := writeKerberos(t)
	jaas := func(opts string) string { return "com.sun.security.auth.module.Krb5LoginModule required " + opts + ";" }
	good := jaas(`useKeyTab=true storeKey=true keyTab="` + kt + `" principal="clusterlink@EXAMPLE.COM"`)
	c, err := ParseCluster(saslCluster("GSSAPI", good, map[string]string{"sasl.kerberos.service.name": "kafka"}))
	if err != nil {
		t.Fatal(err)
	}
	want := Kerberos{ServiceName: "kafka", Principal: "clusterlink@EXAMPLE.COM", KeyTab: kt, Krb5Config: filepath.Join(filepath.Dir(kt), "krb5.conf")}
	if c.Security.Kerberos != want {
		t.Errorf("Kerberos %+v, want %+v", c.Security.Kerberos, want)
	}
	m, err := c.Security.saslMechanism()
	if err != nil || m.Name() != "GSSAPI" {
		t.Fatalf("mechanism %v, %v", m, err)
	}
	opts, err := c.KgoOpts()
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	cl.Close() // destroys the Kerberos client
	// The realm from krb5.conf, the service name from the JAAS options.
	if _, err := ParseCluster(saslCluster("GSSAPI", jaas(`useKeyTab=true keyTab="`+kt+`" principal="clusterlink" serviceName="kafka"`), nil)); err != nil {
		t.Errorf("realm from krb5.conf: %v", err)
	}
	if got := FilePaths(map[string]string{"sasl.jaas.config": good}); got["sasl.jaas.config keyTab"] != kt {
		t.Errorf("FilePaths: %v", got)
	}

	tests := []struct {
		name, jaas string
		extra      map[string]string
		want       []string
	}{
		{"no service name", good, nil, []string{"sasl.kerberos.service.name: required with sasl.mechanism=GSSAPI: the Kerberos name of the brokers (usually kafka)"}},
		{"no keytab or cache", jaas(`principal="clusterlink"`), map[string]string{"sasl.kerberos.service.name": "kafka"},
			[]string{"sasl.jaas.config: com.sun.security.auth.module.Krb5LoginModule needs useKeyTab=true with keyTab and principal, or useTicketCache=true: clusterlink cannot prompt for a password"}},
		{"principal not in keytab", jaas(`useKeyTab=true keyTab="` + kt + `" principal="someone@EXAMPLE.COM"`), map[string]string{"sasl.kerberos.service.name": "kafka"},
			[]string{"sasl.jaas.config: the keytab " + kt + " has no key for someone@EXAMPLE.COM"}},
		{"keytab missing", jaas(`useKeyTab=true keyTab="/nonexistent.keytab" principal="clusterlink"`), map[string]string{"sasl.kerberos.service.name": "kafka"},
			[]string{"sasl.jaas.config: cannot read the keytab: open /nonexistent.keytab: no such file or directory"}},
		{"keytab not a keytab", jaas(`useKeyTab=true keyTab="` + filepath.Join(filepath.Dir(kt), "krb5.conf") + `" principal="clusterlink"`),
			map[string]string{"sasl.kerberos.service.name": "kafka"},
			[]string{"sasl.jaas.config: " + filepath.Join(filepath.Dir(kt), "krb5.conf") + " is not a keytab file"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseCluster(saslCluster("GSSAPI", tt.jaas, tt.extra))
			checkLines(t, err, tt.want)
		})
	}
	t.Setenv("KRB5_CONFIG", "/nonexistent/krb5.conf")
	_, err = ParseCluster(saslCluster("GSSAPI", good, map[string]string{"sasl.kerberos.service.name": "kafka"}))
	checkLines(t, err, []string{"sasl.jaas.config: cannot read the Kerberos configuration /nonexistent/krb5.conf (set KRB5_CONFIG to another file): no such file"})
	// Over the API a ticket cache would be the daemon host's own login.
	_, err = ParseLink("l", map[string]string{"bootstrap.servers": "a:1", "security.protocol": "SASL_SSL", "sasl.mechanism": "GSSAPI",
		"sasl.kerberos.service.name": "kafka", "sasl.jaas.config": jaas("useTicketCache=true")})
	checkLines(t, err, []string{"sasl.jaas.config: useTicketCache=true logs in with the tickets of the daemon's host: declare such a link in the daemon's file, or use useKeyTab=true"})
}

// TestAWSMSKIAM_CredentialsAndValidation: credentials from the environment or a profile, read at each
// authentication; the mechanism is franz-go's AWS_MSK_IAM; never over the API.
func TestAWSMSKIAM_CredentialsAndValidation(t *testing.T) {
	jaas := `software.amazon.msk.auth.iam.IAMLoginModule required;`
	extra := map[string]string{"sasl.client.callback.handler.class": "software.amazon.msk.auth.iam.IAMClientCallbackHandler"}
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "AWS-SECRET-1")
	t.Setenv("AWS_SESSION_TOKEN", "")
	c, err := ParseCluster(saslCluster("AWS_MSK_IAM", jaas, extra))
	if err != nil {
		t.Fatal(err)
	}
	if a, err := c.Security.AWS.credentials(); err != nil || a.AccessKey != "AKIDEXAMPLE" || a.SecretKey != "AWS-SECRET-1" {
		t.Errorf("env credentials %v", err)
	}
	if m, err := c.Security.saslMechanism(); err != nil || m.Name() != "AWS_MSK_IAM" {
		t.Errorf("mechanism %v, %v", m, err)
	}
	creds := writeFile(t, t.TempDir(), "credentials", "[default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key = x\n\n[profile dr]\naws_access_key_id = AKIDDR\naws_secret_access_key = AWS-SECRET-2\naws_session_token = tok\n")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", creds)
	c, err = ParseCluster(saslCluster("AWS_MSK_IAM", `software.amazon.msk.auth.iam.IAMLoginModule required awsProfileName="dr";`, nil))
	if err != nil {
		t.Fatal(err)
	}
	if a, err := c.Security.AWS.credentials(); err != nil || a.AccessKey != "AKIDDR" || a.SessionToken != "tok" {
		t.Errorf("profile credentials %+v, %v", a.AccessKey, err)
	}
	_, err = ParseCluster(saslCluster("AWS_MSK_IAM", `software.amazon.msk.auth.iam.IAMLoginModule required awsProfileName="nope";`, nil))
	checkLines(t, err, []string{"sasl.jaas.config: no AWS credentials: AWS_ACCESS_KEY_ID is not set and " + creds + " has no profile nope"})
	_, err = ParseCluster(saslCluster("AWS_MSK_IAM", `software.amazon.msk.auth.iam.IAMLoginModule required awsRoleArn="arn:aws:iam::1:role/x";`, nil))
	if err == nil || !strings.Contains(err.Error(), "option awsRoleArn is not supported") {
		t.Errorf("awsRoleArn: %v", err)
	}
	_, err = ParseLink("l", map[string]string{"bootstrap.servers": "a:1", "security.protocol": "SASL_SSL", "sasl.mechanism": "AWS_MSK_IAM", "sasl.jaas.config": jaas})
	checkLines(t, err, []string{"sasl.mechanism: AWS_MSK_IAM signs with the AWS credentials of the daemon's host: declare such a link in the daemon's file"})
}

// TestConfigProviderReferences: ${file:/path:key} reads a properties key, ${directory:/dir:name} a file of a
// directory; both only in the daemon's file.
func TestConfigProviderReferences(t *testing.T) {
	dir := t.TempDir()
	props := writeFile(t, dir, "secrets.properties", "# the link's secrets\nsource.password = pa\\u0073s\\=word\nsource.jaas=org.apache.kafka.common.security.plain.PlainLoginModule required \\\n  username=\"u\" password=\"p\";\n")
	writeFile(t, dir, "token", "dir-secret\n")
	for ref, want := range map[string]string{
		"${file:" + props + ":source.password}": "pass=word",
		"${directory:" + dir + ":token}":        "dir-secret",
	} {
		got, err := resolveSecret(ref)
		if err != nil || got != want {
			t.Errorf("%s = %q, %v; want %q", ref, got, err, want)
		}
	}
	l, err := ParseFileLink("l", map[string]string{"bootstrap.servers": "a:1", "security.protocol": "SASL_PLAINTEXT",
		"sasl.mechanism": "PLAIN", "sasl.jaas.config": "${file:" + props + ":source.jaas}"})
	if err != nil || l.Security.Password != "p" {
		t.Fatalf("a JAAS from a properties key: %v", err)
	}
	for ref, want := range map[string]string{
		"${file:" + props + ":missing}":         "the properties file " + props + " has no key missing",
		"${directory:" + dir + ":../etc}":       "the ${directory:} reference's file name must be a plain name inside the directory",
		"${file:" + dir + "/nope.properties:k}": "cannot read secret file: open " + dir + "/nope.properties: no such file or directory",
	} {
		if _, err := resolveSecret(ref); err == nil || err.Error() != want {
			t.Errorf("%s: %v, want %q", ref, err, want)
		}
	}
	_, err = ParseLink("l", map[string]string{"bootstrap.servers": "a:1", "ssl.ca.location": "${directory:" + dir + ":token}"})
	checkLines(t, err, []string{"ssl.ca.location: ${env:...} and ${file:...} references are only resolved in the daemon's config file; give the value itself"})
}

// TestMechanisms_FirstMessages: the mechanisms built from the configs send what the brokers expect first: the
// OAUTHBEARER client response with the token, and an AWS_MSK_IAM request signed with the access key for the broker's
// host and region.
func TestMechanisms_FirstMessages(t *testing.T) {
	ctx := context.Background()
	c, err := ParseCluster(saslCluster("OAUTHBEARER", unsecuredJAAS, nil))
	if err != nil {
		t.Fatal(err)
	}
	m, err := c.Security.saslMechanism()
	if err != nil {
		t.Fatal(err)
	}
	_, first, err := m.Authenticate(ctx, "127.0.0.1:9092")
	if err != nil {
		t.Fatal(err)
	}
	msg := string(first)
	tok := strings.TrimSuffix(strings.TrimPrefix(msg, "n,,\x01auth=Bearer "), "\x01\x01")
	if m.Name() != "OAUTHBEARER" || tok == msg || claimsOf(t, tok)["sub"] != "alice" {
		t.Errorf("OAUTHBEARER first message %q", msg)
	}

	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "example-secret")
	c, err = ParseCluster(saslCluster("AWS_MSK_IAM", `software.amazon.msk.auth.iam.IAMLoginModule required;`, nil))
	if err != nil {
		t.Fatal(err)
	}
	m, _ = c.Security.saslMechanism()
	_, first, err = m.Authenticate(ctx, "b-1.demo.abc123.c2.kafka.eu-west-1.amazonaws.com:9098")
	if err != nil {
		t.Fatal(err)
	}
	var req map[string]string
	if err := json.Unmarshal(first, &req); err != nil {
		t.Fatalf("AWS_MSK_IAM first message %q: %v", first, err)
	}
	if req["action"] != "kafka-cluster:Connect" || !strings.HasPrefix(req["x-amz-credential"], "AKIDEXAMPLE/") ||
		!strings.Contains(req["x-amz-credential"], "/eu-west-1/kafka-cluster/") || req["x-amz-signature"] == "" ||
		strings.Contains(string(first), "example-secret") {
		t.Errorf("AWS_MSK_IAM first message %s", first)
	}
}
