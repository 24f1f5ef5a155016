package daemon

import (
	"strings"
	"testing"

	"github.com/clusterlink/clusterlink/controlplane/state"
)

// TestParseStoredLink_HostCredentialsOnlyAsTheFileChoseThem: a link the daemon's file declares with AWS_MSK_IAM
// (the daemon host's AWS credentials) runs; the same configs given over the API, or a file link whose
// authentication keys the API changed, are refused.
func TestParseStoredLink_HostCredentialsOnlyAsTheFileChoseThem(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "example-secret")
	raw := map[string]string{"bootstrap.servers": "b-1.msk.example:9098", "security.protocol": "SASL_SSL",
		"sasl.mechanism": "AWS_MSK_IAM", "sasl.jaas.config": "software.amazon.msk.auth.iam.IAMLoginModule required;"}
	file := state.Link{Name: "msk", Origin: state.OriginFile}
	if _, err := parseStoredLink(file, nil, nil)("msk", raw); err != nil {
		t.Errorf("the file's link: %v", err)
	}
	// An unrelated API change keeps the file's choice.
	if _, err := parseStoredLink(state.Link{Name: "msk", Origin: state.OriginFile, Configs: map[string]string{"acl.sync.ms": "2000"}},
		map[string]string{"topic.config.sync.ms": "9000"}, nil)("msk", raw); err != nil {
		t.Errorf("after an unrelated change: %v", err)
	}
	for name, p := range map[string]func(string, map[string]string) (any, error){
		"an API link": func(n string, c map[string]string) (any, error) {
			return parseStoredLink(state.Link{Name: n, Origin: state.OriginAPI}, nil, nil)(n, c)
		},
		"a file link whose JAAS the API changed": func(n string, c map[string]string) (any, error) {
			return parseStoredLink(state.Link{Name: n, Origin: state.OriginFile, Configs: map[string]string{"sasl.jaas.config": "x"}}, nil, nil)(n, c)
		},
		"a file link whose mechanism is being set": func(n string, c map[string]string) (any, error) {
			return parseStoredLink(file, map[string]string{"sasl.mechanism": "AWS_MSK_IAM"}, nil)(n, c)
		},
		"a file link whose protocol was reset": func(n string, c map[string]string) (any, error) {
			return parseStoredLink(state.Link{Name: n, Origin: state.OriginFile, Reset: []string{"security.protocol"}}, nil, nil)(n, c)
		},
	} {
		if _, err := p("msk", raw); err == nil || !strings.Contains(err.Error(), "declare such a link in the daemon's file") {
			t.Errorf("%s: %v, want refused", name, err)
		}
	}
}
