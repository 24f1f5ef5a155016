package config

import (
	"strings"
	"testing"
)

// TestParse_AdminAndStateSecurity: the admin listener's and the state keys' rules, each problem named.
func TestParse_AdminAndStateSecurity(t *testing.T) {
	t.Setenv("CL_TEST_EMPTY", "")
	key := strings.Repeat("ab", 32) // 32 bytes in hex
	base := "destination:\n  bootstrap.servers: d:9092\n"
	for _, tc := range []struct {
		name, file, want string
	}{
		{"empty token", "admin:\n  token: ${env:CL_TEST_EMPTY}\n", "admin.token: is empty"},
		{"empty literal token", "admin:\n  token: ''\n", "admin.token: is empty"},
		{"remote without auth", "admin:\n  listen: 0.0.0.0:8090\n", "admin.listen: 0.0.0.0:8090 is reachable beyond this host"},
		{"all interfaces without auth", "admin:\n  listen: :8090\n", "reachable beyond this host"},
		{"cert without key", "admin:\n  tls.certificate.location: /x.pem\n", "go together"},
		{"client CA without TLS", "admin:\n  tls.client.ca.location: /ca.pem\n", "client certificates need TLS"},
		{"unreadable cert", "admin:\n  tls.certificate.location: /nope.crt\n  tls.key.location: /nope.key\n", "cannot load the certificate /nope.crt"},
		{"relative allowed dir", "admin:\n  allowed.file.dirs: [certs]\n", "is not an absolute path"},
		{"bad key", "state:\n  encryption.key: short\n", "state.encryption.key: is not a 32-byte key"},
		{"old keys without a key", "state:\n  encryption.old.keys: [" + key + "]\n", "old keys need a current one"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(base + tc.file))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
	for _, ok := range []string{
		"admin:\n  listen: 0.0.0.0:8090\n  token: t\n",
		"admin:\n  listen: 0.0.0.0:8090\n  allow.unauthenticated.remote: true\n",
		"admin:\n  listen: '[::1]:8090'\n",
		"admin:\n  listen: localhost:8090\n",
		"state:\n  encryption.key: " + key + "\n  encryption.old.keys: [q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80=]\n",
	} {
		cfg, err := Parse([]byte(base + ok))
		if err != nil {
			t.Errorf("%s: %v", ok, err)
			continue
		}
		if strings.Contains(ok, "encryption") && (len(cfg.State.EncryptionKey) != 32 || len(cfg.State.OldEncryptionKeys) != 1) {
			t.Errorf("keys not read: %d, %d", len(cfg.State.EncryptionKey), len(cfg.State.OldEncryptionKeys))
		}
		if strings.Contains(cfg.State.String(), key) {
			t.Errorf("State.String shows the key")
		}
	}
}
