package check

import (
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
