package adminapi

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"go.uber.org/zap"
)

// TestConfluentScript plays, in order, the calls a Confluent REST v3 cluster-linking script makes (curl -u
// key:secret against /kafka/v3): each with Confluent's verb, path, query and body, each answered with Confluent's
// status and shape, and each changing exactly what it asked (validate_only nothing, a filter only what it names).
func TestConfluentScript(t *testing.T) {
	b := newFakeBackend()
	h := RequireAuth(AuthRule{Token: "secret"}, Handler(b, zap.NewNop()))
	const c = "/kafka/v3/clusters/dst-cluster"
	const dr = c + "/links/dr-link"
	field := func(a answer, path ...string) any {
		var v any = a.body
		for _, p := range path {
			if m, ok := v.(map[string]any); ok {
				v = m[p]
			} else if s, ok := v.([]any); ok {
				var i int
				fmt.Sscan(p, &i)
				if i >= len(s) {
					return nil
				}
				v = s[i]
			}
		}
		return v
	}
	str := func(v any) string { return fmt.Sprint(v) }
	names := func(a answer) []string {
		var out []string
		for _, m := range asSlice(field(a, "data")) {
			out = append(out, str(asMap(m)["mirror_topic_name"]))
		}
		slices.Sort(out)
		return out
	}
	statusOf := func(link, topic string) string {
		for _, m := range b.mirrors[link] {
			if m.MirrorTopicName == topic {
				return m.MirrorStatus
			}
		}
		return "absent"
	}
	steps := []struct {
		name         string
		method, path string
		body         string
		status       int
		check        func(t *testing.T, a answer, changes []string)
	}{
		{"clusters list", "GET", "/kafka/v3/clusters", "", 200, func(t *testing.T, a answer, _ []string) {
			if field(a, "kind") != "KafkaClusterList" || field(a, "data", "0", "cluster_id") != "dst-cluster" {
				t.Errorf("%s", a.raw)
			}
		}},
		{"cluster get", "GET", c, "", 200, func(t *testing.T, a answer, _ []string) {
			if field(a, "kind") != "KafkaCluster" || field(a, "cluster_id") != "dst-cluster" {
				t.Errorf("%s", a.raw)
			}
		}},
		{"links list", "GET", c + "/links", "", 200, func(t *testing.T, a answer, _ []string) {
			if field(a, "kind") != "KafkaLinkDataList" || field(a, "data", "0", "link_name") != "my-link" {
				t.Errorf("%s", a.raw)
			}
		}},
		{"link create, validate only", "POST", c + "/links?link_name=dr-link&validate_only=true",
			`{"source_cluster_id":"src-cluster","configs":[{"name":"bootstrap.servers","value":"src-1:9092"}],"replication_factor":3}`, 204,
			func(t *testing.T, _ answer, changes []string) {
				if _, exists := b.links["dr-link"]; exists || !slices.Equal(changes, []string{"create-link dr-link 1 configs validate=true"}) {
					t.Errorf("validate only created the link: %v", changes)
				}
			}},
		{"link create", "POST", c + "/links?link_name=dr-link&validate_link=false",
			`{"source_cluster_id":"src-cluster","configs":[{"name":"bootstrap.servers","value":"src-1:9092"},{"name":"consumer.offset.sync.enable","value":"true"}]}`, 204, nil},
		{"link create again", "POST", c + "/links?link_name=dr-link", `{"configs":[{"name":"bootstrap.servers","value":"src-1:9092"}]}`, 409,
			func(t *testing.T, a answer, _ []string) {
				if str(field(a, "error_code")) != "409" || !strings.Contains(str(field(a, "message")), "already exists") {
					t.Errorf("%s", a.raw)
				}
			}},
		{"link describe", "GET", dr, "", 200, func(t *testing.T, a answer, _ []string) {
			if field(a, "cluster_link_id") != "id-dr-link" || field(a, "link_state") != "ACTIVE" {
				t.Errorf("%s", a.raw)
			}
		}},
		{"link describe with tasks", "GET", dr + "?include_tasks=true", "", 200, func(t *testing.T, a answer, _ []string) {
			if field(a, "tasks", "0", "task_name") == nil {
				t.Errorf("no tasks: %s", a.raw)
			}
		}},
		{"configs list", "GET", dr + "/configs", "", 200, func(t *testing.T, a answer, _ []string) {
			first := asMap(field(a, "data", "0"))
			if field(a, "kind") != "KafkaLinkConfigDataList" || first["is_default"] != true || first["is_read_only"] != false ||
				first["is_sensitive"] != false || first["link_name"] != "dr-link" || first["cluster_id"] != "dst-cluster" {
				t.Errorf("%s", a.raw)
			}
		}},
		{"config get", "GET", dr + "/configs/consumer.offset.sync.enable", "", 200, func(t *testing.T, a answer, _ []string) {
			if field(a, "name") != "consumer.offset.sync.enable" || field(a, "value") != "true" || field(a, "is_default") != false {
				t.Errorf("%s", a.raw)
			}
		}},
		{"config update", "PUT", dr + "/configs/consumer.offset.sync.ms", `{"value":"10000"}`, 204, func(t *testing.T, _ answer, changes []string) {
			if b.links["dr-link"]["consumer.offset.sync.ms"] != "10000" {
				t.Errorf("not set: %v", changes)
			}
		}},
		{"config delete", "DELETE", dr + "/configs/consumer.offset.sync.ms", "", 204, func(t *testing.T, _ answer, changes []string) {
			if _, set := b.links["dr-link"]["consumer.offset.sync.ms"]; set {
				t.Errorf("not reset: %v", changes)
			}
		}},
		{"configs alter, validate only", "PUT", dr + "/configs:alter?validate_only=true",
			`{"data":[{"name":"acl.sync.ms","value":"6000"},{"name":"consumer.offset.sync.enable","operation":"DELETE"}]}`, 204,
			func(t *testing.T, _ answer, changes []string) {
				if b.links["dr-link"]["acl.sync.ms"] != "" || !strings.HasSuffix(changes[0], "validate=true") {
					t.Errorf("validate only changed configs: %v", changes)
				}
			}},
		{"configs alter (PUT, Confluent Cloud)", "PUT", dr + "/configs:alter", `{"data":[{"name":"acl.sync.ms","value":"6000"}]}`, 204,
			func(t *testing.T, _ answer, _ []string) {
				if b.links["dr-link"]["acl.sync.ms"] != "6000" {
					t.Error("not set")
				}
			}},
		{"configs alter (POST)", "POST", dr + "/configs:alter", `{"data":[{"name":"acl.sync.ms","value":"7000","operation":"SET"}]}`, 204,
			func(t *testing.T, _ answer, _ []string) {
				if b.links["dr-link"]["acl.sync.ms"] != "7000" {
					t.Error("not set")
				}
			}},
		{"configs alter, validate_only in the body", "PUT", dr + "/configs:alter", `{"data":[{"name":"acl.sync.ms","value":"8000"}],"validate_only":true}`, 204,
			func(t *testing.T, _ answer, _ []string) {
				if b.links["dr-link"]["acl.sync.ms"] != "7000" {
					t.Error("validate only changed configs")
				}
			}},
		{"configs alter refused", "PUT", dr + "/configs:alter", `{"data":[{"name":"cluster.link.prefix","value":"x."}]}`, 400,
			func(t *testing.T, a answer, _ []string) {
				if str(field(a, "error_code")) != "400" || !strings.Contains(str(field(a, "message")), "cannot change") {
					t.Errorf("%s", a.raw)
				}
			}},
		{"mirror create (Confluent CLI body)", "POST", dr + "/mirrors", `{"source_topic_name":"orders","replication_factor":3,"configs":[]}`, 204,
			func(t *testing.T, _ answer, _ []string) {
				if statusOf("dr-link", "orders") != "PENDING_MIRROR" {
					t.Error("not created")
				}
			}},
		{"mirror create again", "POST", dr + "/mirrors", `{"source_topic_name":"orders"}`, 409, nil},
		{"mirrors of a link", "GET", dr + "/mirrors", "", 200, func(t *testing.T, a answer, _ []string) {
			if got := names(a); !slices.Equal(got, []string{"orders"}) || field(a, "kind") != "KafkaMirrorDataList" {
				t.Errorf("%v: %s", got, a.raw)
			}
		}},
		{"mirrors of every link", "GET", c + "/links/-/mirrors", "", 200, func(t *testing.T, a answer, _ []string) {
			if got := names(a); len(got) != 4 {
				t.Errorf("%v", got)
			}
		}},
		{"mirrors filtered by status", "GET", c + "/links/-/mirrors?mirror_status=STOPPED", "", 200, func(t *testing.T, a answer, _ []string) {
			if got := names(a); !slices.Equal(got, []string{"payments"}) {
				t.Errorf("mirror_status=STOPPED listed %v", got)
			}
		}},
		{"mirrors filtered by an unknown status", "GET", c + "/links/my-link/mirrors?mirror_status=BOGUS", "", 400, func(t *testing.T, a answer, _ []string) {
			if !strings.Contains(str(field(a, "message")), "PENDING_STOPPED") {
				t.Errorf("the refusal does not list the statuses: %s", a.raw)
			}
		}},
		{"mirror describe", "GET", dr + "/mirrors/orders", "", 200, func(t *testing.T, a answer, _ []string) {
			if field(a, "mirror_topic_error") != "NO_ERROR" || field(a, "mirror_status") != "PENDING_MIRROR" ||
				asSlice(field(a, "mirror_state_transition_errors")) == nil {
				t.Errorf("%s", a.raw)
			}
		}},
		{"mirror state transition errors", "GET", c + "/links/my-link/mirrors/clicks?include_state_transition_errors=true", "", 200,
			func(t *testing.T, a answer, _ []string) {
				if field(a, "mirror_topic_error") != "ILLEGAL_STATE" || field(a, "mirror_state_transition_errors", "0", "error_code") != "ILLEGAL_STATE" {
					t.Errorf("%s", a.raw)
				}
			}},
		{"pause, validate only", "POST", dr + "/mirrors:pause?validate_only=true", `{"mirror_topic_names":["orders"]}`, 200,
			func(t *testing.T, a answer, _ []string) {
				if statusOf("dr-link", "orders") != "PENDING_MIRROR" || field(a, "data", "0", "error_code") != nil {
					t.Errorf("validate only paused: %s", a.raw)
				}
			}},
		{"pause", "POST", dr + "/mirrors:pause", `{"mirror_topic_names":["orders"]}`, 200, func(t *testing.T, a answer, _ []string) {
			if statusOf("dr-link", "orders") != "PAUSED" || field(a, "data", "0", "kind") != "AlterMirrorsData" {
				t.Errorf("%s", a.raw)
			}
		}},
		{"resume", "POST", dr + "/mirrors:resume", `{"mirror_topic_names":["orders"]}`, 200, func(t *testing.T, _ answer, _ []string) {
			if statusOf("dr-link", "orders") != "ACTIVE" {
				t.Error("not resumed")
			}
		}},
		{"promote, validate only", "POST", dr + "/mirrors:promote?validate_only=true", `{"mirror_topic_names":["orders"]}`, 200,
			func(t *testing.T, _ answer, _ []string) {
				if statusOf("dr-link", "orders") != "ACTIVE" {
					t.Error("validate only promoted")
				}
			}},
		{"promote of a stopped mirror: an integer error_code in its result", "POST", c + "/links/my-link/mirrors:promote",
			`{"mirror_topic_names":["payments"]}`, 200, func(t *testing.T, a answer, _ []string) {
				if str(field(a, "data", "0", "error_code")) != "400" || !strings.Contains(str(field(a, "data", "0", "error_message")), "STOPPED") {
					t.Errorf("%s", a.raw)
				}
			}},
		{"failover by pattern", "POST", dr + "/mirrors:failover", `{"mirror_topic_name_pattern":"ord.*"}`, 200,
			func(t *testing.T, a answer, _ []string) {
				if statusOf("dr-link", "orders") != "STOPPED" || field(a, "data", "0", "mirror_topic_name") != "orders" {
					t.Errorf("%s", a.raw)
				}
			}},
		{"link delete, validate only", "DELETE", c + "/links/my-link?force=true&validate_only=true", "", 200,
			func(t *testing.T, _ answer, changes []string) {
				if _, exists := b.links["my-link"]; !exists || !slices.Equal(changes, []string{"delete-link my-link force=true validate=true"}) {
					t.Errorf("validate only deleted the link: %v", changes)
				}
			}},
		{"link delete", "DELETE", dr, "", 200, func(t *testing.T, _ answer, _ []string) {
			if _, exists := b.links["dr-link"]; exists {
				t.Error("not deleted")
			}
		}},
		{"deleted link", "GET", dr, "", 404, func(t *testing.T, a answer, _ []string) {
			if str(field(a, "error_code")) != "404" {
				t.Errorf("%s", a.raw)
			}
		}},
	}
	if len(steps) < 32 {
		t.Fatalf("%d calls, want the script's 32", len(steps))
	}
	for i, s := range steps {
		req := httptest.NewRequest(s.method, s.path, strings.NewReader(s.body))
		req.SetBasicAuth("CONFLUENT-API-KEY", "secret")
		if s.body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		a := decodeAnswer(t, rec)
		changes := b.took()
		if a.status != s.status {
			t.Errorf("call %d, %s: %s %s: %d, want %d: %s", i+1, s.name, s.method, s.path, a.status, s.status, a.raw)
			continue
		}
		if a.status == http.StatusNoContent && len(a.raw) > 0 {
			t.Errorf("call %d, %s: 204 with a body %s", i+1, s.name, a.raw)
		}
		if s.check != nil {
			t.Run(fmt.Sprintf("%02d %s", i+1, s.name), func(t *testing.T) { s.check(t, a, changes) })
		}
	}
}
