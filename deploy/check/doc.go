// Package check tests the deployment files and the alert rules: the Helm chart linted, rendered and each manifest
// decoded strictly into its Kubernetes type; the compose file loaded and validated by compose-go against the
// Compose specification; the systemd unit verified by systemd-analyze; docs/alerts.yaml parsed and its PromQL checked
// by Prometheus's own rule parser (rulefmt) and by promtool itself (check rules, and test rules with
// docs/alerts_test.yaml; promtool is a tool of this module: go tool promtool). It is a Go module of its own so that
// Helm, the Kubernetes API types, compose-go and Prometheus stay out of the main module's graph.
// It needs no cluster, Docker engine or network: nothing is applied, run or pulled.
package check
