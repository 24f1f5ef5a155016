package integration

import (
	"os"
	"testing"

	"github.com/clusterlink/clusterlink/integration/kafkatest"
)

// shared holds the clusters every test of this package uses: a plaintext source, a plaintext destination, and two
// SASL/PLAIN clusters with the StandardAuthorizer (a destination and a source, for ACL sync). Tests use unique topic names; tests that break brokers start
// their own clusters with kafkatest.StartT.
var shared *kafkatest.Shared

const (
	sharedSource = iota
	sharedDestination
	sharedSecure
	sharedSecureSource
)

// Users of the SASL cluster besides the super user.
var secureUsers = map[string]string{"alice": "alice-secret", "bob": "bob-secret"}

func TestMain(m *testing.M) {
	switch os.Getenv(childEnv) {
	case "replicate":
		os.Exit(runChild())
	case "daemon":
		os.Exit(runDaemonChild())
	}
	os.Exit(kafkatest.Main(m, &shared,
		nil,
		nil,
		[]kafkatest.Opt{kafkatest.SASL(), kafkatest.Users(secureUsers)},
		[]kafkatest.Opt{kafkatest.SASL(), kafkatest.Users(secureUsers)},
	))
}

func source(t *testing.T) *kafkatest.Cluster {
	shared.Require(t)
	return shared.Clusters[sharedSource]
}

func destination(t *testing.T) *kafkatest.Cluster {
	shared.Require(t)
	return shared.Clusters[sharedDestination]
}

func secure(t *testing.T) *kafkatest.Cluster {
	shared.Require(t)
	return shared.Clusters[sharedSecure]
}

func secureSource(t *testing.T) *kafkatest.Cluster {
	shared.Require(t)
	return shared.Clusters[sharedSecureSource]
}
