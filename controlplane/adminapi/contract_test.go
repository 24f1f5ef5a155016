package adminapi

import (
	"encoding/json"
	"strings"
	"testing"
)

// The contract tests: Confluent's published OpenAPI documents (testdata/confluent, their source in its README) drive
// the server. Every Confluent operation clusterlink supports is served at the same path and verb with Confluent's
// status and an answer Confluent's schema admits; Confluent's example request bodies are accepted; the operations
// clusterlink does not run are refused with Confluent's error body.

// unsupportedOp says which of Confluent's operations clusterlink refuses (promoting the local side and starting the
// remote one in one call).
func unsupportedOp(path string) bool {
	return strings.Contains(path, ":promote-local-")
}

// unsupportedExamples are Confluent's example bodies for links clusterlink does not run (source-initiated and
// bidirectional): refused with a 400 that says what is supported.
var unsupportedExamples = map[string]bool{
	"source_initiated_link_at_source_cluster":      true,
	"source_initiated_link_at_destination_cluster": true,
	"bidirectional_link_east":                      true,
	"bidirectional_link_west":                      true,
}

func confluentDocs(t *testing.T) []apiDoc {
	return []apiDoc{loadDoc(t, "testdata/confluent/cluster-linking.yaml"), loadDoc(t, "testdata/confluent/clusters.yaml")}
}

func TestContract_EveryConfluentOperationIsServedAsConfluentDocumentsIt(t *testing.T) {
	served := 0
	for _, doc := range confluentDocs(t) {
		errSchema := map[string]any{"$ref": "#/components/schemas/Error"}
		for _, op := range doc.operations() {
			t.Run(op.method+" "+op.path, func(t *testing.T) {
				_, h := newTestHandler()
				query, body := requestFor(op.method, op.path)
				a := call(t, h, op.method, concrete(op.path)+query, body)
				if unsupportedOp(op.path) {
					if a.status != 400 || !strings.Contains(string(a.raw), "the mirror operations are promote") {
						t.Errorf("unsupported operation: %d %s, want 400 naming the supported operations", a.status, a.raw)
					}
					for _, bad := range doc.check(errSchema, a.body, "body") {
						t.Error(bad)
					}
					return
				}
				served++
				status, schema := doc.success(op)
				if a.status != status {
					t.Fatalf("status %d, Confluent documents %d: %s", a.status, status, a.raw)
				}
				if schema == nil && len(a.raw) > 0 {
					t.Errorf("Confluent documents no content, answered %s", a.raw)
				}
				for _, bad := range doc.check(schema, a.body, "body") {
					t.Error(bad)
				}
			})
		}
	}
	if served < 17 {
		t.Errorf("%d of Confluent's operations served, want every cluster-linking one (17)", served)
	}
}

func TestContract_ConfluentsExampleBodiesAreAccepted(t *testing.T) {
	doc := confluentDocs(t)[0]
	examples := 0
	for _, op := range doc.operations() {
		if unsupportedOp(op.path) {
			continue
		}
		for name, ex := range doc.requestExamples(op) {
			examples++
			t.Run(op.method+" "+op.path+" "+name, func(t *testing.T) {
				b, h := newTestHandler()
				query, _ := requestFor(op.method, op.path)
				a := call(t, h, op.method, concrete(op.path)+query, ex)
				status, _ := doc.success(op)
				if unsupportedExamples[name] {
					if a.status != 400 || !strings.Contains(string(a.raw), "destination-initiated") {
						t.Errorf("%d %s, want 400 saying clusterlink runs destination-initiated links", a.status, a.raw)
					}
					return
				}
				if a.status != status {
					t.Fatalf("status %d, Confluent documents %d: %s", a.status, status, a.raw)
				}
				if len(b.took()) == 0 && op.method != "GET" {
					t.Errorf("nothing reached the backend")
				}
				if strings.HasSuffix(op.path, "/mirrors") && op.method == "POST" {
					// Every field of Confluent's body reaches the backend, which decides (the daemon takes the
					// destination's replication factor and refuses topic configs, saying why).
					want := asMap(ex)
					if b.lastMirror.ReplicationFactor == 0 || len(b.lastMirror.Configs) != len(asSlice(want["configs"])) ||
						b.lastMirror.SourceTopicName != want["source_topic_name"] {
						t.Errorf("the backend got %+v from %v", b.lastMirror, ex)
					}
				}
			})
		}
	}
	if examples < 10 {
		t.Errorf("%d examples found in Confluent's document", examples)
	}
}

// TestContract_ConfluentsQueryParametersAreAccepted sends every documented query parameter of a supported operation.
func TestContract_ConfluentsQueryParametersAreAccepted(t *testing.T) {
	doc := confluentDocs(t)[0]
	for _, op := range doc.operations() {
		if unsupportedOp(op.path) {
			continue
		}
		for _, p := range asSlice(op.op["parameters"]) {
			param := doc.resolve(asMap(p))
			if param["in"] != "query" || param["name"] == "link_name" {
				continue
			}
			name := param["name"].(string)
			value := "false"
			if name == "mirror_status" {
				value = "ACTIVE"
			}
			_, h := newTestHandler()
			query, body := requestFor(op.method, op.path)
			sep := "?"
			if query != "" {
				sep = "&"
			}
			a := call(t, h, op.method, concrete(op.path)+query+sep+name+"="+value, body)
			if status, _ := doc.success(op); a.status != status {
				t.Errorf("%s %s?%s=%s: %d %s, want %d", op.method, op.path, name, value, a.status, a.raw, status)
			}
		}
	}
}

// TestContract_CheckerCatchesMismatches keeps the schema checker honest: a wrong type, a missing required field, a
// value outside an enum and a string error_code are each reported.
func TestContract_CheckerCatchesMismatches(t *testing.T) {
	doc := confluentDocs(t)[0]
	decode := func(s string) any {
		dec := json.NewDecoder(strings.NewReader(s))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	mirror := map[string]any{"$ref": "#/components/schemas/ListMirrorTopicsResponseData"}
	good := `{"kind":"KafkaMirrorData","metadata":{"self":"x"},"link_name":"l","mirror_topic_name":"t","source_topic_name":"t",
		"num_partitions":1,"mirror_lags":[{"partition":0,"lag":0,"last_source_fetch_offset":0}],"mirror_status":"ACTIVE","state_time_ms":1}`
	if bad := doc.check(mirror, decode(good), "m"); len(bad) > 0 {
		t.Fatalf("a valid mirror: %v", bad)
	}
	for _, tc := range []struct{ from, to string }{
		{`"num_partitions":1`, `"num_partitions":"1"`},
		{`"link_name":"l",`, ``},
		{`"mirror_status":"ACTIVE"`, `"mirror_status":"RUNNING"`},
		{`"lag":0`, `"lag":0.5`},
	} {
		if bad := doc.check(mirror, decode(strings.Replace(good, tc.from, tc.to, 1)), "m"); len(bad) == 0 {
			t.Errorf("%s -> %s not caught", tc.from, tc.to)
		}
	}
	result := map[string]any{"$ref": "#/components/schemas/AlterMirrorStatusResponseData"}
	bad := doc.check(result, decode(`{"kind":"k","metadata":{"self":"x"},"mirror_topic_name":"t","error_code":"INVALID","error_message":null,
		"mirror_lags":[],"messages_truncated":null,"partition_level_truncation_data":[]}`), "r")
	if len(bad) != 1 || !strings.Contains(bad[0], "error_code") {
		t.Errorf("a string error_code: %v", bad)
	}
}
