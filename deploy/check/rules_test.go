package check

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
)

// TestAlertRules_PassPrometheusRuleCheck parses docs/alerts.yaml as `promtool check rules` does: Prometheus's rule
// file format (unknown fields refused), every expression parsed as PromQL, every label and annotation template
// parsed. That the metrics it names exist is checked in the main module (controlplane/daemon), against the
// daemon's registry.
func TestAlertRules_PassPrometheusRuleCheck(t *testing.T) {
	p := parser.NewParser(parser.Options{})
	groups, errs := rulefmt.ParseFile("../../docs/alerts.yaml", false, model.UTF8Validation, p, nil)
	for _, err := range errs {
		t.Error(err)
	}
	if len(errs) > 0 {
		return
	}
	var n int
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			n++
			if r.Alert == "" {
				t.Errorf("group %s: a rule that is not an alert (record %q): this file holds alerts only", g.Name, r.Record)
			}
			if r.Labels["severity"] == "" || r.Annotations["summary"] == "" || r.Annotations["runbook"] == "" {
				t.Errorf("alert %s: wants a severity label, a summary and a runbook annotation", r.Alert)
			}
		}
	}
	if n < 5 {
		t.Errorf("%d alerts: want at least link down, task in error, mirror FAILED, lag, offset sync stale", n)
	}
}

// TestAlertRules_Promtool runs Prometheus's own promtool (a tool of this module, `go tool promtool`, built from the
// Prometheus module at the version go.mod names): `check rules` on docs/alerts.yaml and `test rules` on
// docs/alerts_test.yaml, whose cases say which alerts a healthy daemon's series fire (none) and which each failure
// fires, with their labels and annotations. The first run builds promtool (minutes); later runs use the build cache.
func TestAlertRules_Promtool(t *testing.T) {
	for _, args := range [][]string{
		{"tool", "promtool", "check", "rules", "../../docs/alerts.yaml"},
		{"tool", "promtool", "test", "rules", "../../docs/alerts_test.yaml"},
	} {
		out, err := exec.Command("go", args...).CombinedOutput()
		if err != nil {
			t.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}
