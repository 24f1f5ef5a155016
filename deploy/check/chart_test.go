package check

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/common/util"
	"helm.sh/helm/v4/pkg/chart/v2/lint"
	"helm.sh/helm/v4/pkg/chart/v2/lint/support"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/engine"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/yaml"

	"github.com/clusterlink/clusterlink/config"
)

const chartDir = "../helm/clusterlink"

// testSecrets are what an installer passes with --set secrets.admin-token=... (the chart requires them when it
// creates the Secret).
var testSecrets = map[string]any{"secrets": map[string]any{
	"admin-token": "t0ken",
	"state-key":   "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
}}

func render(t *testing.T, vals map[string]any) (map[string]string, error) {
	t.Helper()
	chrt, err := loader.Load(chartDir)
	if err != nil {
		t.Fatalf("load the chart: %v", err)
	}
	rv, err := util.ToRenderValues(chrt, vals, common.ReleaseOptions{Name: "cl", Namespace: "kafka", IsInstall: true, Revision: 1},
		common.DefaultCapabilities)
	if err != nil {
		t.Fatalf("values: %v", err)
	}
	return engine.Render(chrt, rv)
}

// TestChart_Lints: what `helm lint` reports, with the secrets an install gives.
func TestChart_Lints(t *testing.T) {
	l := lint.RunAll(chartDir, testSecrets, "kafka")
	for _, m := range l.Messages {
		if m.Severity >= support.WarningSev {
			t.Errorf("helm lint: %s", m)
		}
	}
}

// manifests are the rendered templates by kind, each decoded strictly (an unknown or misspelt field is an error)
// into its Kubernetes type.
type manifests struct {
	deployment *appsv1.Deployment
	configMap  *corev1.ConfigMap
	secret     *corev1.Secret
	service    *corev1.Service
	pdb        *policyv1.PodDisruptionBudget
}

func decode(t *testing.T, out map[string]string) manifests {
	t.Helper()
	var m manifests
	for name, doc := range out {
		if strings.HasSuffix(name, "NOTES.txt") || strings.TrimSpace(doc) == "" {
			continue
		}
		var head struct{ Kind string }
		if err := yaml.Unmarshal([]byte(doc), &head); err != nil {
			t.Fatalf("%s is not YAML: %v\n%s", name, err, doc)
		}
		var obj any
		switch head.Kind {
		case "Deployment":
			m.deployment = &appsv1.Deployment{}
			obj = m.deployment
		case "ConfigMap":
			m.configMap = &corev1.ConfigMap{}
			obj = m.configMap
		case "Secret":
			m.secret = &corev1.Secret{}
			obj = m.secret
		case "Service":
			m.service = &corev1.Service{}
			obj = m.service
		case "PodDisruptionBudget":
			m.pdb = &policyv1.PodDisruptionBudget{}
			obj = m.pdb
		default:
			t.Fatalf("%s: unexpected kind %q", name, head.Kind)
		}
		if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
			t.Errorf("%s does not decode strictly as a %s: %v", name, head.Kind, err)
		}
	}
	return m
}

// TestChart_RendersValidManifests renders the chart with its defaults and checks what the issue asks of it: the
// daemon's file in a ConfigMap that the daemon itself accepts, secrets from a Secret, probes on /healthz and /readyz,
// scrape annotations, Recreate, and a PodDisruptionBudget selecting the pods.
func TestChart_RendersValidManifests(t *testing.T) {
	out, err := render(t, testSecrets)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	m := decode(t, out)
	if m.deployment == nil || m.configMap == nil || m.secret == nil || m.service == nil || m.pdb == nil {
		t.Fatalf("want a Deployment, ConfigMap, Secret, Service and PodDisruptionBudget, got %+v", m)
	}
	d := m.deployment
	if d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
		t.Errorf("strategy %q, want Recreate (several daemons cannot share a link yet)", d.Spec.Strategy.Type)
	}
	if *d.Spec.Replicas != 1 {
		t.Errorf("replicas %d, want 1", *d.Spec.Replicas)
	}
	pod := d.Spec.Template
	for k, v := range map[string]string{"prometheus.io/scrape": "true", "prometheus.io/port": "8090", "prometheus.io/path": "/metrics"} {
		if pod.Annotations[k] != v {
			t.Errorf("pod annotation %s = %q, want %q", k, pod.Annotations[k], v)
		}
	}
	c := pod.Spec.Containers[0]
	if c.LivenessProbe == nil || c.LivenessProbe.HTTPGet.Path != "/healthz" {
		t.Errorf("liveness probe %+v, want GET /healthz", c.LivenessProbe)
	}
	if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz" {
		t.Errorf("readiness probe %+v, want GET /readyz", c.ReadinessProbe)
	}
	for k, v := range m.pdb.Spec.Selector.MatchLabels {
		if pod.Labels[k] != v {
			t.Errorf("the PodDisruptionBudget selects %s=%s, which the pods do not have", k, v)
		}
	}
	for k, v := range m.service.Spec.Selector {
		if pod.Labels[k] != v {
			t.Errorf("the Service selects %s=%s, which the pods do not have", k, v)
		}
	}

	// The daemon accepts the rendered file, with the environment the Deployment gives it from the Secret.
	file, ok := m.configMap.Data["clusterlink.yaml"]
	if !ok {
		t.Fatalf("the ConfigMap has no clusterlink.yaml: %v", m.configMap.Data)
	}
	env := map[string]string{}
	for _, e := range c.Env {
		ref := e.ValueFrom.SecretKeyRef
		if ref == nil || ref.Name != m.secret.Name {
			t.Errorf("env %s is not from the chart's Secret: %+v", e.Name, e.ValueFrom)
			continue
		}
		v, ok := m.secret.StringData[ref.Key]
		if !ok {
			t.Errorf("env %s refers to key %q, which the Secret lacks", e.Name, ref.Key)
		}
		env[e.Name] = v
	}
	for _, ref := range regexp.MustCompile(`\$\{env:([A-Za-z0-9_]+)\}`).FindAllStringSubmatch(file, -1) {
		v, ok := env[ref[1]]
		if !ok {
			t.Errorf("the config refers to ${env:%s}, which the Deployment does not set", ref[1])
		}
		t.Setenv(ref[1], v)
	}
	cfg, err := config.Parse([]byte(file))
	if err != nil {
		t.Fatalf("the daemon refuses the chart's config:\n%v\n%s", err, file)
	}
	if cfg.Admin.Token != "t0ken" || len(cfg.State.EncryptionKey) != 32 || len(cfg.Links) != 1 {
		t.Errorf("config parsed as admin %v, state %v, %d links", cfg.Admin, cfg.State, len(cfg.Links))
	}
	var mounted bool
	for _, vm := range c.VolumeMounts {
		mounted = mounted || vm.MountPath == "/etc/clusterlink/clusterlink.yaml"
	}
	if !mounted || c.Args[2] != "/etc/clusterlink/clusterlink.yaml" {
		t.Errorf("the container runs %v with mounts %+v: the config is not where it reads it", c.Args, c.VolumeMounts)
	}
}

// TestChart_RefusesWhatItCannotRun: more than one replica (several daemons cannot share a link yet), and a
// chart-made Secret without its values.
func TestChart_RefusesWhatItCannotRun(t *testing.T) {
	withReplicas := map[string]any{"replicaCount": 2}
	for k, v := range testSecrets {
		withReplicas[k] = v
	}
	if _, err := render(t, withReplicas); err == nil || !strings.Contains(err.Error(), "cannot share a link") {
		t.Errorf("replicaCount 2 rendered (err %v); want it refused", err)
	}
	if _, err := render(t, nil); err == nil || !strings.Contains(err.Error(), "secrets.") {
		t.Errorf("no secrets rendered (err %v); want it refused", err)
	}
	out, err := render(t, map[string]any{"existingSecret": "mine"})
	if err != nil {
		t.Fatalf("existingSecret: %v", err)
	}
	m := decode(t, out)
	if m.secret != nil {
		t.Error("with existingSecret the chart still creates a Secret")
	}
	if got := m.deployment.Spec.Template.Spec.Volumes[1].Secret.SecretName; got != "mine" {
		t.Errorf("secret volume from %q, want mine", got)
	}
}

func TestChart_ValuesFileIsYAML(t *testing.T) {
	data, err := os.ReadFile(chartDir + "/values.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := yaml.UnmarshalStrict(data, &v); err != nil {
		t.Fatal(err)
	}
}
