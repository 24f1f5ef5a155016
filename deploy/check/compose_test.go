package check

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/clusterlink/clusterlink/config"
)

// TestCompose_LoadsAndValidates loads deploy/compose/compose.yaml with compose-go (the library docker compose uses),
// which validates it against the Compose specification's schema, and checks the services it promises: two Apache
// Kafka KRaft brokers and clusterlink, whose config file the daemon accepts. Nothing is pulled or run here (no
// Docker engine on this machine).
func TestCompose_LoadsAndValidates(t *testing.T) {
	project, err := loader.LoadWithContext(context.Background(), types.ConfigDetails{
		WorkingDir:  "../compose",
		ConfigFiles: []types.ConfigFile{{Filename: "../compose/compose.yaml"}},
		Environment: types.Mapping{},
	}, func(o *loader.Options) { o.SetProjectName("clusterlink", true) })
	if err != nil {
		t.Fatalf("compose-go refuses compose.yaml: %v", err)
	}
	for _, name := range []string{"kafka-source", "kafka-destination"} {
		s, ok := project.Services[name]
		if !ok {
			t.Fatalf("no service %s", name)
		}
		if !strings.HasPrefix(s.Image, "apache/kafka:") {
			t.Errorf("%s runs %s, want the apache/kafka image", name, s.Image)
		}
		if roles := s.Environment["KAFKA_PROCESS_ROLES"]; roles == nil || *roles != "broker,controller" {
			t.Errorf("%s: KAFKA_PROCESS_ROLES %v, want broker,controller (KRaft, no ZooKeeper)", name, roles)
		}
	}
	cl, ok := project.Services["clusterlink"]
	if !ok {
		t.Fatal("no service clusterlink")
	}
	for _, dep := range []string{"kafka-source", "kafka-destination"} {
		if d, ok := cl.DependsOn[dep]; !ok || d.Condition != types.ServiceConditionHealthy {
			t.Errorf("clusterlink does not wait for %s to be healthy: %+v", dep, cl.DependsOn)
		}
	}

	file, err := os.ReadFile("../compose/clusterlink.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for name, v := range cl.Environment {
		if v != nil {
			t.Setenv(name, *v)
		}
	}
	cfg, err := config.Parse(file)
	if err != nil {
		t.Fatalf("the daemon refuses deploy/compose/clusterlink.yaml:\n%v", err)
	}
	if got := cfg.Destination.BootstrapServers; len(got) != 1 || !strings.HasPrefix(got[0], "kafka-destination:") {
		t.Errorf("destination %v, want the kafka-destination service", got)
	}
	if got := cfg.Links[0].BootstrapServers; len(got) != 1 || !strings.HasPrefix(got[0], "kafka-source:") {
		t.Errorf("source %v, want the kafka-source service", got)
	}
}
