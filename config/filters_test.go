package config

import (
	"strings"
	"testing"
)

func TestTopicFiltersMatch(t *testing.T) {
	const (
		all        = `{"name":"*","patternType":"LITERAL","filterType":"INCLUDE"}`
		noInternal = `{"name":"_","patternType":"PREFIXED","filterType":"EXCLUDE"}`
	)
	tests := []struct {
		name    string
		filters string
		topic   string
		want    bool
	}{
		{"empty config matches nothing", ``, "orders", false},
		{"empty list matches nothing", `{"topicFilters":[]}`, "orders", false},
		{"star includes all", `{"topicFilters":[` + all + `]}`, "orders", true},
		{"star includes underscore topics", `{"topicFilters":[` + all + `]}`, "_internal", true},
		{"exclude wins over include", `{"topicFilters":[` + all + `,` + noInternal + `]}`, "_internal", false},
		{"exclude before include still wins", `{"topicFilters":[` + noInternal + `,` + all + `]}`, "_schemas", false},
		{"include not excluded", `{"topicFilters":[` + all + `,` + noInternal + `]}`, "orders", true},
		{"literal exact", `{"topicFilters":[{"name":"orders","patternType":"LITERAL","filterType":"INCLUDE"}]}`, "orders", true},
		{"literal is not prefix", `{"topicFilters":[{"name":"orders","patternType":"LITERAL","filterType":"INCLUDE"}]}`, "orders-eu", false},
		{"literal is case-sensitive", `{"topicFilters":[{"name":"orders","patternType":"LITERAL","filterType":"INCLUDE"}]}`, "Orders", false},
		{"prefixed", `{"topicFilters":[{"name":"ord","patternType":"PREFIXED","filterType":"INCLUDE"}]}`, "orders", true},
		{"prefixed no match", `{"topicFilters":[{"name":"ord","patternType":"PREFIXED","filterType":"INCLUDE"}]}`, "payments", false},
		{"prefixed star is a literal star prefix", `{"topicFilters":[{"name":"*","patternType":"PREFIXED","filterType":"INCLUDE"}]}`, "orders", false},
		{"only excludes match nothing", `{"topicFilters":[` + noInternal + `]}`, "orders", false},
		{"star exclude excludes all", `{"topicFilters":[` + all + `,{"name":"*","patternType":"LITERAL","filterType":"EXCLUDE"}]}`, "orders", false},
		{"enums are case-insensitive", `{"topicFilters":[{"name":"ord","patternType":"prefixed","filterType":"include"}]}`, "orders", true},
		{"no match is excluded", `{"topicFilters":[{"name":"a","patternType":"LITERAL","filterType":"INCLUDE"}]}`, "b", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := ParseTopicFilters(tt.filters)
			if err != nil {
				t.Fatalf("ParseTopicFilters: %v", err)
			}
			if got := f.Match(tt.topic); got != tt.want {
				t.Errorf("Match(%q) = %v, want %v", tt.topic, got, tt.want)
			}
		})
	}
}

func TestGroupFiltersMatch(t *testing.T) {
	f, err := ParseGroupFilters(`{"groupFilters":[{"name":"*","patternType":"LITERAL","filterType":"INCLUDE"},
		{"name":"test-","patternType":"PREFIXED","filterType":"EXCLUDE"}]}`)
	if err != nil {
		t.Fatal(err)
	}
	for group, want := range map[string]bool{"billing": true, "test-1": false, "": true} {
		if got := f.Match(group); got != want {
			t.Errorf("Match(%q) = %v, want %v", group, got, want)
		}
	}
	if _, err := ParseGroupFilters(`{"topicFilters":[]}`); err == nil || !strings.Contains(err.Error(), `unknown field "topicFilters"`) {
		t.Errorf("topicFilters in a group filter: got %v", err)
	}
}

func TestNameFiltersString(t *testing.T) {
	in := `{ "topicFilters" : [ {"name":"a","patternType":"prefixed","filterType":"exclude"} ] }`
	f, err := ParseTopicFilters(in)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"topicFilters":[{"name":"a","patternType":"PREFIXED","filterType":"EXCLUDE"}]}`
	if got := f.String(); got != want {
		t.Errorf("String() = %s, want %s", got, want)
	}
	again, err := ParseTopicFilters(f.String())
	if err != nil || again.String() != want {
		t.Errorf("round trip: %v, %s", err, again.String())
	}
	if got := (TopicFilters{}).String(); got != "" {
		t.Errorf("empty String() = %q", got)
	}
}

// TestFilterParseErrors checks that each message says what and where.
func TestFilterParseErrors(t *testing.T) {
	tests := []struct {
		name  string
		parse func(string) error
		in    string
		want  []string // substrings of the error, all required
	}{
		{
			name: "syntax error with offset, line and column",
			in:   `{"topicFilters":[}`,
			want: []string{"invalid JSON", "invalid character '}'", "offset 18", "JSON line 1, column 18"},
		},
		{
			name: "syntax error on a later line",
			in:   "{\"topicFilters\":[\n  {\"name\":\"a\",,}]}",
			want: []string{"invalid JSON", "JSON line 2, column 15, offset 33"},
		},
		{
			name: "truncated document",
			in:   `{"topicFilters":[`,
			want: []string{"invalid JSON", "unexpected end of JSON input", "offset 17"},
		},
		{
			name: "unknown field in an entry with suggestion",
			in:   `{"topicFilters":[{"nmae":"a","patternType":"LITERAL","filterType":"INCLUDE"}]}`,
			want: []string{`topicFilters[0]: unknown field "nmae"; did you mean "name"?`, "column 19, offset 18", `missing field "name"`},
		},
		{
			name: "unknown top-level field",
			in:   `{"topics":[]}`,
			want: []string{`unknown field "topics" (known fields: topicFilters)`, "column 2"},
		},
		{
			name: "bad pattern type lists the allowed values",
			in:   `{"topicFilters":[{"name":"a","patternType":"LITERAL","filterType":"INCLUDE"},{"name":"b","patternType":"PREFIX","filterType":"INCLUDE"}]}`,
			want: []string{`topicFilters[1].patternType: "PREFIX" is not one of LITERAL, PREFIXED`, "column 104, offset 103"},
		},
		{
			name: "match is not a topic filter pattern type",
			in:   `{"topicFilters":[{"name":"a","patternType":"MATCH","filterType":"INCLUDE"}]}`,
			want: []string{`"MATCH" is not one of LITERAL, PREFIXED`},
		},
		{
			name: "bad filter type",
			in:   `{"topicFilters":[{"name":"a","patternType":"LITERAL","filterType":"ALLOW"}]}`,
			want: []string{`topicFilters[0].filterType: "ALLOW" is not one of INCLUDE, EXCLUDE`},
		},
		{
			name: "wrong JSON types",
			in:   `{"topicFilters":{"name":"a"}}`,
			want: []string{"topicFilters: expected an array, got an object"},
		},
		{
			name: "number for a string",
			in:   `{"topicFilters":[{"name":5,"patternType":"LITERAL","filterType":"INCLUDE"}]}`,
			want: []string{"topicFilters[0].name: expected a string, got a number"},
		},
		{
			name: "missing fields",
			in:   `{"topicFilters":[{"name":"a"}]}`,
			want: []string{`topicFilters[0]: missing field "patternType"`, `topicFilters[0]: missing field "filterType"`},
		},
		{
			name: "empty name",
			in:   `{"topicFilters":[{"name":"","patternType":"LITERAL","filterType":"INCLUDE"}]}`,
			want: []string{"topicFilters[0].name: must not be empty"},
		},
		{
			name: "duplicate field",
			in:   `{"topicFilters":[{"name":"a","name":"b","patternType":"LITERAL","filterType":"INCLUDE"}]}`,
			want: []string{`topicFilters[0]: duplicate field "name"`},
		},
		{
			name: "every problem at once",
			in:   `{"topicFilters":[{"name":"a","patternType":"X","filterType":"Y","z":1}]}`,
			want: []string{`"X" is not one of`, `"Y" is not one of`, `unknown field "z"`},
		},
		{
			name:  "acl: bad resource type",
			parse: func(s string) error { _, err := ParseACLFilters(s); return err },
			in:    `{"aclFilters":[{"resourceFilter":{"resourceType":"topc","patternType":"any"},"accessFilter":{"operation":"any","permissionType":"any"}}]}`,
			want:  []string{`aclFilters[0].resourceFilter.resourceType: "topc" is not one of ANY, TOPIC, GROUP, CLUSTER, TRANSACTIONAL_ID, DELEGATION_TOKEN, USER`, "column 50, offset 49"},
		},
		{
			name:  "acl: bad operation and permission",
			parse: func(s string) error { _, err := ParseACLFilters(s); return err },
			in:    `{"aclFilters":[{"resourceFilter":{"resourceType":"any","patternType":"any"},"accessFilter":{"operation":"rd","permissionType":"maybe"}}]}`,
			want:  []string{`aclFilters[0].accessFilter.operation: "rd" is not one of ANY, ALL, READ,`, `aclFilters[0].accessFilter.permissionType: "maybe" is not one of ANY, DENY, ALLOW`},
		},
		{
			name:  "acl: unknown nested field and missing required ones",
			parse: func(s string) error { _, err := ParseACLFilters(s); return err },
			in:    `{"aclFilters":[{"resourceFilter":{"resourceTyp":"any"},"accessFilter":{"operation":"any","permissionType":"any"}}]}`,
			want:  []string{`aclFilters[0].resourceFilter: unknown field "resourceTyp"; did you mean "resourceType"?`, `aclFilters[0].resourceFilter: missing field "patternType"`},
		},
		{
			name:  "acl: missing accessFilter",
			parse: func(s string) error { _, err := ParseACLFilters(s); return err },
			in:    `{"aclFilters":[{"resourceFilter":{"resourceType":"any","patternType":"any"}}]}`,
			want:  []string{`aclFilters[0]: missing field "accessFilter"`},
		},
		{
			name:  "acl: principal without type",
			parse: func(s string) error { _, err := ParseACLFilters(s); return err },
			in:    `{"aclFilters":[{"resourceFilter":{"resourceType":"any","patternType":"any"},"accessFilter":{"principal":"alice","operation":"any","permissionType":"any"}}]}`,
			want:  []string{`aclFilters[0].accessFilter.principal: "alice" is not a principal of the form Type:name`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parse := tt.parse
			if parse == nil {
				parse = func(s string) error { _, err := ParseTopicFilters(s); return err }
			}
			err := parse(tt.in)
			if err == nil {
				t.Fatalf("no error for %s", tt.in)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
		})
	}
}
