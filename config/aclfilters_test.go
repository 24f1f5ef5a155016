package config

import (
	"testing"
)

func TestACLFilterMatches(t *testing.T) {
	readOrders := ACL{ResourceType: ResourceTopic, ResourceName: "orders", PatternType: PatternLiteral,
		Principal: "User:alice", Host: "*", Operation: OperationRead, Permission: PermissionAllow}
	with := func(f func(*ACL)) ACL { a := readOrders; f(&a); return a }
	anyFilter := ACLFilter{ResourceType: ResourceAny, PatternType: PatternAny, Operation: OperationAny, Permission: PermissionAny}
	filter := func(f func(*ACLFilter)) ACLFilter { x := anyFilter; f(&x); return x }

	tests := []struct {
		name   string
		filter ACLFilter
		acl    ACL
		want   bool
	}{
		{"any matches everything", anyFilter, readOrders, true},
		{"resource type equal", filter(func(f *ACLFilter) { f.ResourceType = ResourceTopic }), readOrders, true},
		{"resource type differs", filter(func(f *ACLFilter) { f.ResourceType = ResourceGroup }), readOrders, false},
		{"name with any pattern is exact", filter(func(f *ACLFilter) { f.ResourceName = "orders" }), readOrders, true},
		{"name with any pattern is not a prefix", filter(func(f *ACLFilter) { f.ResourceName = "ord" }), readOrders, false},
		{"name with any pattern does not expand wildcard", filter(func(f *ACLFilter) { f.ResourceName = "orders" }),
			with(func(a *ACL) { a.ResourceName = "*" }), false},
		{"literal pattern only literal ACLs", filter(func(f *ACLFilter) { f.PatternType = PatternLiteral }),
			with(func(a *ACL) { a.PatternType = PatternPrefixed }), false},
		{"prefixed pattern equal", filter(func(f *ACLFilter) { f.PatternType = PatternPrefixed; f.ResourceName = "ord" }),
			with(func(a *ACL) { a.PatternType = PatternPrefixed; a.ResourceName = "ord" }), true},
		{"prefixed pattern names exactly", filter(func(f *ACLFilter) { f.PatternType = PatternPrefixed; f.ResourceName = "ord" }),
			with(func(a *ACL) { a.PatternType = PatternPrefixed; a.ResourceName = "or" }), false},
		{"match: literal same name", filter(func(f *ACLFilter) { f.PatternType = PatternMatch; f.ResourceName = "orders" }), readOrders, true},
		{"match: literal wildcard", filter(func(f *ACLFilter) { f.PatternType = PatternMatch; f.ResourceName = "orders" }),
			with(func(a *ACL) { a.ResourceName = "*" }), true},
		{"match: literal other name", filter(func(f *ACLFilter) { f.PatternType = PatternMatch; f.ResourceName = "payments" }), readOrders, false},
		{"match: prefixed ACL that starts the name", filter(func(f *ACLFilter) { f.PatternType = PatternMatch; f.ResourceName = "orders-eu" }),
			with(func(a *ACL) { a.PatternType = PatternPrefixed; a.ResourceName = "orders" }), true},
		{"match: prefixed ACL longer than the name", filter(func(f *ACLFilter) { f.PatternType = PatternMatch; f.ResourceName = "ord" }),
			with(func(a *ACL) { a.PatternType = PatternPrefixed; a.ResourceName = "orders" }), false},
		{"match without name matches all patterns", filter(func(f *ACLFilter) { f.PatternType = PatternMatch }),
			with(func(a *ACL) { a.PatternType = PatternPrefixed }), true},
		{"principal equal", filter(func(f *ACLFilter) { f.Principal = "User:alice" }), readOrders, true},
		{"principal differs", filter(func(f *ACLFilter) { f.Principal = "User:bob" }), readOrders, false},
		{"host star matches only star", filter(func(f *ACLFilter) { f.Host = "*" }), with(func(a *ACL) { a.Host = "10.0.0.1" }), false},
		{"host equal", filter(func(f *ACLFilter) { f.Host = "10.0.0.1" }), with(func(a *ACL) { a.Host = "10.0.0.1" }), true},
		{"operation equal", filter(func(f *ACLFilter) { f.Operation = OperationRead }), readOrders, true},
		{"operation differs", filter(func(f *ACLFilter) { f.Operation = OperationWrite }), readOrders, false},
		{"operation all is not a wildcard", filter(func(f *ACLFilter) { f.Operation = OperationAll }), readOrders, false},
		{"operation all matches ALL ACLs", filter(func(f *ACLFilter) { f.Operation = OperationAll }),
			with(func(a *ACL) { a.Operation = OperationAll }), true},
		{"permission equal", filter(func(f *ACLFilter) { f.Permission = PermissionAllow }), readOrders, true},
		{"permission differs", filter(func(f *ACLFilter) { f.Permission = PermissionDeny }), readOrders, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.filter.Matches(tt.acl); got != tt.want {
				t.Errorf("%+v.Matches(%v) = %v, want %v", tt.filter, tt.acl, got, tt.want)
			}
		})
	}
}

func TestParseACLFilters(t *testing.T) {
	fs, err := ParseACLFilters(`{"aclFilters":[
		{"resourceFilter":{"resourceType":"Topic","name":"orders","patternType":"match"},
		 "accessFilter":{"principal":"User:alice","host":"*","operation":"cluster_action","permissionType":"ALLOW"}},
		{"resourceFilter":{"resourceType":"transactional_id","name":null,"patternType":"any"},
		 "accessFilter":{"operation":"DescribeConfigs","permissionType":"any"}}]}`)
	if err != nil {
		t.Fatal(err)
	}
	want := []ACLFilter{
		{ResourceType: ResourceTopic, ResourceName: "orders", PatternType: PatternMatch, Principal: "User:alice", Host: "*",
			Operation: OperationClusterAction, Permission: PermissionAllow},
		{ResourceType: ResourceTransactionalID, PatternType: PatternAny, Operation: OperationDescribeConfigs, Permission: PermissionAny},
	}
	if len(fs.Filters) != len(want) {
		t.Fatalf("got %d filters, want %d", len(fs.Filters), len(want))
	}
	for i := range want {
		if fs.Filters[i] != want[i] {
			t.Errorf("filter %d = %+v, want %+v", i, fs.Filters[i], want[i])
		}
	}
	acl := ACL{ResourceType: ResourceTopic, ResourceName: "*", PatternType: PatternLiteral, Principal: "User:alice",
		Host: "*", Operation: OperationClusterAction, Permission: PermissionAllow}
	if !fs.Match(acl) {
		t.Errorf("Match(%v) = false, want true", acl)
	}
	if (ACLFilters{}).Match(acl) {
		t.Error("no filters matched an ACL")
	}
	again, err := ParseACLFilters(fs.String())
	if err != nil || again.String() != fs.String() {
		t.Errorf("round trip of %s: %v, %s", fs, err, again)
	}
}

func TestEnumStrings(t *testing.T) {
	if got := OperationIdempotentWrite.String(); got != "IDEMPOTENT_WRITE" {
		t.Errorf("got %s", got)
	}
	if got := ResourceType(42).String(); got != "UNKNOWN(42)" {
		t.Errorf("got %s", got)
	}
	// The values are Kafka's wire codes.
	if ResourceUser != 7 || PatternPrefixed != 4 || OperationDescribeTokens != 14 || PermissionAllow != 3 {
		t.Error("enum values drifted from Kafka's codes")
	}
}
