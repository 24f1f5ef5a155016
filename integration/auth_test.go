package integration

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/clusterlink/clusterlink/config"
	"github.com/clusterlink/clusterlink/controlplane/adminapi"
	"github.com/clusterlink/clusterlink/integration/kafkatest"
	"github.com/clusterlink/clusterlink/internal/testpki"
)

// The source cluster of these tests has one client listener per way of authenticating, besides the harness's
// PLAINTEXT one (which creates topics, produces and compares):
//
//	SCRAM  SASL_SSL, SCRAM-SHA-512
//	MTLS   SSL with ssl.client.auth=required
//	OAUTH  SASL_SSL, OAUTHBEARER with Kafka's default (unsecured) validator
//
// Its certificates and every store are made in the test (internal/testpki); the broker takes its own as PEM files
// (ssl.keystore.type=PEM), so no keytool is needed.

const (
	scramUser     = "link-scram"
	scramPassword = "link-scram-secret"
)

type authSource struct {
	*kafkatest.Cluster
	ca     *testpki.CA
	caPEM  string
	client *testpki.Leaf
}

func startAuthSource(t *testing.T) *authSource {
	t.Helper()
	ca := testpki.NewCA(t)
	server := ca.Server("broker")
	serverPEM := ca.Write("broker.pem", append(server.KeyPEM(), server.ChainPEM()...))
	caPEM := ca.Write("ca.pem", ca.CertPEM())
	tlsConfigs := func(extra map[string]string) map[string]string {
		m := map[string]string{"ssl.keystore.type": "PEM", "ssl.keystore.location": serverPEM}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	c := kafkatest.StartT(t,
		kafkatest.Listener("SCRAM", "SASL_SSL", tlsConfigs(map[string]string{
			"sasl.enabled.mechanisms":        "SCRAM-SHA-512",
			"scram-sha-512.sasl.jaas.config": "org.apache.kafka.common.security.scram.ScramLoginModule required;",
		})),
		kafkatest.Listener("MTLS", "SSL", tlsConfigs(map[string]string{
			"ssl.client.auth": "required", "ssl.truststore.type": "PEM", "ssl.truststore.location": caPEM,
		})),
		kafkatest.Listener("OAUTH", "SASL_SSL", tlsConfigs(map[string]string{
			"sasl.enabled.mechanisms": "OAUTHBEARER",
			// The broker's own login module entry; with no server callback handler set, Kafka validates with its
			// unsecured validator (unsigned tokens, alg none).
			"oauthbearer.sasl.jaas.config": `org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required unsecuredLoginStringClaim_sub="broker";`,
		})),
	)
	// SCRAM credentials live in the cluster's metadata: create them over the PLAINTEXT listener.
	adm := kadm.NewClient(newClient(t, c))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := adm.AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{{User: scramUser, Mechanism: kadm.ScramSha512, Iterations: 4096, Password: scramPassword}})
	if err == nil {
		err = res.Error()
	}
	if err != nil {
		t.Fatalf("create the SCRAM user: %v", err)
	}
	return &authSource{Cluster: c, ca: ca, caPEM: caPEM, client: ca.Client("clusterlink")}
}

// writeLinkDaemonConfig writes a daemon file whose destination is reached with dstConfigs (bootstrap.servers and
// security keys) and whose one link reaches the source at bootstrap with linkConfigs (values single-quoted).
func writeLinkDaemonConfig(t *testing.T, dstConfigs map[string]string, linkName string, bootstrap []string, linkConfigs map[string]string) string {
	t.Helper()
	var b strings.Builder
	writeConfigs := func(indent string, m map[string]string) {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(&b, "%s%s: '%s'\n", indent, k, strings.ReplaceAll(m[k], "'", "''"))
		}
	}
	b.WriteString("destination:\n")
	writeConfigs("  ", dstConfigs)
	fmt.Fprintf(&b, "admin:\n  listen: 127.0.0.1:0\nstate:\n  topic: %s\n", uniqueTopic(t, "_clusterlink-state"))
	fmt.Fprintf(&b, "links:\n  - name: %s\n    configs:\n      bootstrap.servers: %s\n", linkName, strings.Join(bootstrap, ","))
	writeConfigs("      ", linkConfigs)
	path := filepath.Join(t.TempDir(), "clusterlink.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// mirrorOver runs a daemon whose link reaches src with linkConfigs, mirrors a fresh topic to the shared PLAINTEXT
// destination and compares it record by record.
func mirrorOver(t *testing.T, src *authSource, bootstrap []string, linkConfigs map[string]string) {
	t.Helper()
	dst := destination(t)
	mirrorTo(t, src, bootstrap, linkConfigs, dst, map[string]string{"bootstrap.servers": strings.Join(dst.BootstrapServers(), ",")}, "")
}

// mirrorTo is mirrorOver to the destination dst reached with dstConfigs, the mirror named prefix + topic.
func mirrorTo(t *testing.T, src *authSource, bootstrap []string, linkConfigs map[string]string, dst *kafkatest.Cluster,
	dstConfigs map[string]string, prefix string) {
	t.Helper()
	topic := strings.ReplaceAll(uniqueTopic(t, "auth"), "_", "-")
	createTopic(t, src.Cluster, topic, 2, nil)
	produceMix(t, src.Cluster, topic, 300, kgo.ZstdCompression(), 41)
	linkName := "auth-" + strings.ToLower(strings.ReplaceAll(t.Name()[strings.LastIndex(t.Name(), "/")+1:], "_", "-"))
	if prefix != "" {
		linkConfigs["cluster.link.prefix"] = prefix
	}
	d := startDaemon(t, writeLinkDaemonConfig(t, dstConfigs, linkName, bootstrap, linkConfigs))
	mirror := prefix + topic
	if err := d.client.CreateMirror(context.Background(), linkName, adminapi.CreateMirrorRequest{SourceTopicName: topic, MirrorTopicName: mirror}, false); err != nil {
		t.Fatal(err)
	}
	d.waitMirror(t, linkName, mirror, "caught up", mirrorCaughtUpTo(sourceEnds(t, src.Cluster, topic)))
	produceMix(t, src.Cluster, topic, 100, kgo.Lz4Compression(), 42)
	d.waitMirror(t, linkName, mirror, "caught up again", mirrorCaughtUpTo(sourceEnds(t, src.Cluster, topic)))
	requireMirrorEqual(t, src.Cluster, dst, topic, mirror)
}

// pingWith connects to bootstrap with the security of configs (as a daemon file's cluster) and asks for metadata.
func pingWith(t *testing.T, bootstrap []string, configs map[string]string) error {
	t.Helper()
	configs["bootstrap.servers"] = strings.Join(bootstrap, ",")
	c, err := config.ParseCluster(configs)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	opts, err := c.KgoOpts()
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(append(opts, kgo.RequestRetries(0), kgo.RetryTimeout(5*time.Second))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	return cl.Ping(ctx)
}

// TestAuth_LinksMirrorOverEachAuthentication mirrors a topic from a source reached over SASL_SSL with SCRAM and a
// PKCS#12 truststore, over SSL with a JKS keystore (mTLS), and over SASL_SSL with OAUTHBEARER (an unsecured token,
// and a token from a client-credentials endpoint), each ending with a record-by-record comparison; the secrets
// come from a properties file through ${file:/path:key}. A wrong password and a missing client certificate are
// refused by the broker, so each listener really authenticates.
func TestAuth_LinksMirrorOverEachAuthentication(t *testing.T) {
	destination(t) // the shared destination, and the CI/-short rule, before a cluster of our own starts
	src := startAuthSource(t)
	dir := t.TempDir()
	props := filepath.Join(dir, "link-secrets.properties")
	jaas := fmt.Sprintf(`org.apache.kafka.common.security.scram.ScramLoginModule required username="%s" password="%s";`, scramUser, scramPassword)
	if err := os.WriteFile(props, []byte("scram.jaas = "+jaas+"\ntruststore.password = trust-pw\nkeystore.password = store-pw\nkey.password = entry-pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ref := func(key string) string { return "${file:" + props + ":" + key + "}" }

	t.Run("SCRAM_over_SASL_SSL_with_a_PKCS12_truststore", func(t *testing.T) {
		configs := func() map[string]string {
			return map[string]string{
				"security.protocol": "SASL_SSL", "sasl.mechanism": "SCRAM-SHA-512", "sasl.jaas.config": ref("scram.jaas"),
				"ssl.truststore.type": "PKCS12", "ssl.truststore.location": src.ca.Write("truststore.p12", src.ca.PKCS12TrustStore("trust-pw")),
				"ssl.truststore.password": ref("truststore.password"),
			}
		}
		wrong := configs()
		wrong["sasl.jaas.config"] = strings.Replace(jaas, scramPassword, "not-the-password", 1)
		if err := pingWith(t, src.ListenerAddrs("SCRAM"), wrong); !errors.Is(err, kerr.SaslAuthenticationFailed) {
			t.Fatalf("a wrong SCRAM password: %v, want SASL_AUTHENTICATION_FAILED", err)
		}
		mirrorOver(t, src, src.ListenerAddrs("SCRAM"), configs())
	})

	t.Run("mTLS_with_a_JKS_keystore", func(t *testing.T) {
		configs := map[string]string{
			"security.protocol":   "SSL",
			"ssl.truststore.type": "PEM", "ssl.truststore.location": src.caPEM,
			"ssl.keystore.location": src.ca.Write("clusterlink.jks", src.client.JKSKeyStore("store-pw", "entry-pw")),
			"ssl.keystore.password": ref("keystore.password"), "ssl.key.password": ref("key.password"),
		}
		noCert := map[string]string{"security.protocol": "SSL", "ssl.ca.location": src.caPEM}
		if err := pingWith(t, src.ListenerAddrs("MTLS"), noCert); err == nil {
			t.Fatal("the mTLS listener accepted a client without a certificate")
		}
		mirrorOver(t, src, src.ListenerAddrs("MTLS"), configs)
	})

	t.Run("OAUTHBEARER_unsecured_token", func(t *testing.T) {
		mirrorOver(t, src, src.ListenerAddrs("OAUTH"), map[string]string{
			"security.protocol": "SASL_SSL", "sasl.mechanism": "OAUTHBEARER", "ssl.ca.location": src.caPEM,
			"sasl.jaas.config": `org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required unsecuredLoginStringClaim_sub="clusterlink";`,
		})
	})

	t.Run("OAUTHBEARER_client_credentials", func(t *testing.T) {
		// A token endpoint on loopback that issues unsigned tokens the broker's unsecured validator accepts.
		var issued atomic.Int64
		idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			id, secret, ok := r.BasicAuth()
			if !ok || id != "clusterlink" || secret != "idp-secret" || r.FormValue("grant_type") != "client_credentials" {
				w.WriteHeader(http.StatusUnauthorized)
				fmt.Fprint(w, `{"error":"invalid_client"}`)
				return
			}
			issued.Add(1)
			now := time.Now()
			claims := fmt.Sprintf(`{"sub":"clusterlink","iat":%d,"exp":%d}`, now.Unix(), now.Add(time.Hour).Unix())
			tok := b64(`{"alg":"none"}`) + "." + b64(claims) + "."
			fmt.Fprintf(w, `{"access_token":"%s","token_type":"bearer","expires_in":3600}`, tok)
		}))
		defer idp.Close()
		mirrorOver(t, src, src.ListenerAddrs("OAUTH"), map[string]string{
			"security.protocol": "SASL_SSL", "sasl.mechanism": "OAUTHBEARER", "ssl.ca.location": src.caPEM,
			"sasl.oauthbearer.token.endpoint.url": idp.URL,
			"sasl.login.callback.handler.class":   "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginCallbackHandler",
			"sasl.jaas.config":                    `org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required clientId="clusterlink" clientSecret="idp-secret";`,
		})
		if issued.Load() == 0 {
			t.Error("no token was issued by the endpoint")
		}
	})

	// A token file, as Kafka's FileJwtRetriever reads it: the daemon host's own file, allowed because the daemon's
	// file declares the link.
	t.Run("OAUTHBEARER_token_file", func(t *testing.T) {
		now := time.Now()
		tok := b64(`{"alg":"none"}`) + "." + b64(fmt.Sprintf(`{"sub":"clusterlink","iat":%d,"exp":%d}`, now.Unix(), now.Add(time.Hour).Unix())) + "."
		path := filepath.Join(t.TempDir(), "token.jwt")
		if err := os.WriteFile(path, []byte(tok+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		mirrorOver(t, src, src.ListenerAddrs("OAUTH"), map[string]string{
			"security.protocol": "SASL_SSL", "sasl.mechanism": "OAUTHBEARER", "ssl.ca.location": src.caPEM,
			"sasl.oauthbearer.token.endpoint.url": "file://" + path,
			"sasl.jaas.config":                    `org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;`,
		})
	})

	// Both clusters authenticated: the daemon reaches its destination (here the same cluster, so the mirror gets a
	// prefix) over mTLS with a PKCS#12 keystore, and the source over SCRAM.
	t.Run("destination_over_mTLS_source_over_SCRAM", func(t *testing.T) {
		dstConfigs := map[string]string{
			"bootstrap.servers": strings.Join(src.ListenerAddrs("MTLS"), ","), "security.protocol": "SSL",
			"ssl.truststore.type": "PEM", "ssl.truststore.location": src.caPEM,
			"ssl.keystore.type": "PKCS12", "ssl.keystore.location": src.ca.Write("daemon.p12", src.client.PKCS12KeyStore("p12-pw")),
			"ssl.keystore.password": "p12-pw",
		}
		mirrorTo(t, src, src.ListenerAddrs("SCRAM"), map[string]string{
			"security.protocol": "SASL_SSL", "sasl.mechanism": "SCRAM-SHA-512", "sasl.jaas.config": ref("scram.jaas"),
			"ssl.ca.location": src.caPEM,
		}, src.Cluster, dstConfigs, "dr.")
	})
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
