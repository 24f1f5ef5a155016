package config

import (
	"encoding/json"
	"fmt"
	"strings"
)

// This file holds Confluent's acl.filters and Kafka's ACL binding filter semantics (AclBindingFilter,
// ResourcePatternFilter and AccessControlEntryFilter in org.apache.kafka.common.acl and .resource).
//
//	{"aclFilters":[{"resourceFilter":{"resourceType":"any","name":"orders","patternType":"any"},
//	                "accessFilter":{"principal":"User:a","host":"*","operation":"any","permissionType":"any"}}]}
//
// Enum values are Kafka's names, case-insensitive, with or without '_' ("cluster_action", "ClusterAction").
// resourceType, patternType, operation and permissionType are required; name, principal and host are optional and,
// when absent, match anything.
//
// The enums below have Kafka's wire codes as values, so kmsg.ACLResourceType(t) and friends convert directly.

// ResourceType is a Kafka ACL resource type.
type ResourceType int8

const (
	ResourceUnknown         ResourceType = 0
	ResourceAny             ResourceType = 1 // filters only
	ResourceTopic           ResourceType = 2
	ResourceGroup           ResourceType = 3
	ResourceCluster         ResourceType = 4
	ResourceTransactionalID ResourceType = 5
	ResourceDelegationToken ResourceType = 6
	ResourceUser            ResourceType = 7
)

func (t ResourceType) String() string {
	return enumName(int8(t), "UNKNOWN", "ANY", "TOPIC", "GROUP", "CLUSTER", "TRANSACTIONAL_ID", "DELEGATION_TOKEN", "USER")
}

// PatternType is a Kafka resource pattern type. Topic and group filters use only PatternLiteral and PatternPrefixed.
type PatternType int8

const (
	PatternUnknown  PatternType = 0
	PatternAny      PatternType = 1 // filters only: any pattern type, the filter's name matched exactly
	PatternMatch    PatternType = 2 // filters only: the patterns that would apply to the filter's name
	PatternLiteral  PatternType = 3
	PatternPrefixed PatternType = 4
)

func (t PatternType) String() string {
	return enumName(int8(t), "UNKNOWN", "ANY", "MATCH", "LITERAL", "PREFIXED")
}

// Operation is a Kafka ACL operation.
type Operation int8

const (
	OperationUnknown         Operation = 0
	OperationAny             Operation = 1 // filters only
	OperationAll             Operation = 2
	OperationRead            Operation = 3
	OperationWrite           Operation = 4
	OperationCreate          Operation = 5
	OperationDelete          Operation = 6
	OperationAlter           Operation = 7
	OperationDescribe        Operation = 8
	OperationClusterAction   Operation = 9
	OperationDescribeConfigs Operation = 10
	OperationAlterConfigs    Operation = 11
	OperationIdempotentWrite Operation = 12
	OperationCreateTokens    Operation = 13
	OperationDescribeTokens  Operation = 14
)

func (o Operation) String() string {
	return enumName(int8(o), "UNKNOWN", "ANY", "ALL", "READ", "WRITE", "CREATE", "DELETE", "ALTER", "DESCRIBE",
		"CLUSTER_ACTION", "DESCRIBE_CONFIGS", "ALTER_CONFIGS", "IDEMPOTENT_WRITE", "CREATE_TOKENS", "DESCRIBE_TOKENS")
}

// Permission is a Kafka ACL permission type.
type Permission int8

const (
	PermissionUnknown Permission = 0
	PermissionAny     Permission = 1 // filters only
	PermissionDeny    Permission = 2
	PermissionAllow   Permission = 3
)

func (p Permission) String() string { return enumName(int8(p), "UNKNOWN", "ANY", "DENY", "ALLOW") }

func enumName(v int8, names ...string) string {
	if v >= 0 && int(v) < len(names) {
		return names[v]
	}
	return fmt.Sprintf("UNKNOWN(%d)", v)
}

func aclResourceTypes() enumSpec[ResourceType] {
	return enumOf(ResourceAny, ResourceTopic, ResourceGroup, ResourceCluster, ResourceTransactionalID,
		ResourceDelegationToken, ResourceUser)
}

func aclPatternTypes() enumSpec[PatternType] {
	return enumOf(PatternAny, PatternMatch, PatternLiteral, PatternPrefixed)
}

func aclOperations() enumSpec[Operation] {
	var ops []Operation
	for o := OperationAny; o <= OperationDescribeTokens; o++ {
		ops = append(ops, o)
	}
	return enumOf(ops...)
}

func aclPermissions() enumSpec[Permission] {
	return enumOf(PermissionAny, PermissionDeny, PermissionAllow)
}

// ACL is one ACL binding as a cluster reports it: a resource pattern and an access control entry. It never holds
// the filter-only values (ResourceAny, PatternAny, PatternMatch, OperationAny, PermissionAny).
type ACL struct {
	ResourceType ResourceType
	ResourceName string
	PatternType  PatternType // PatternLiteral or PatternPrefixed
	Principal    string      // "User:alice"
	Host         string      // "*" for every host
	Operation    Operation
	Permission   Permission
}

func (a ACL) String() string {
	return fmt.Sprintf("(resource=%s:%s:%s, principal=%s, host=%s, operation=%s, permission=%s)",
		a.ResourceType, a.PatternType, a.ResourceName, a.Principal, a.Host, a.Operation, a.Permission)
}

// ACLFilter is one entry of aclFilters, Kafka's AclBindingFilter.
type ACLFilter struct {
	ResourceType ResourceType // ResourceAny matches every type
	// ResourceName is matched according to PatternType; "" (absent) matches every name.
	ResourceName string
	PatternType  PatternType // PatternAny, PatternMatch, PatternLiteral or PatternPrefixed
	Principal    string      // "" (absent) matches every principal
	Host         string      // "" (absent) matches every host; "*" matches only ACLs for host "*"
	Operation    Operation   // OperationAny matches every operation; OperationAll only ACLs for ALL
	Permission   Permission  // PermissionAny matches both
}

// Matches reports whether acl matches the filter, as Kafka's AclBindingFilter.matches does: every field is either
// a wildcard (any, or absent) or equal to the ACL's, except for a name with PatternMatch, which matches the ACLs that
// would apply to a resource of that name: the LITERAL ACL of that name, the LITERAL wildcard "*" ACL and every
// PREFIXED ACL whose prefix starts the name.
func (f ACLFilter) Matches(acl ACL) bool {
	return f.matchesResource(acl) && f.matchesEntry(acl)
}

// matchesResource is ResourcePatternFilter.matches.
func (f ACLFilter) matchesResource(acl ACL) bool {
	if f.ResourceType != ResourceAny && f.ResourceType != acl.ResourceType {
		return false
	}
	if f.PatternType != PatternAny && f.PatternType != PatternMatch && f.PatternType != acl.PatternType {
		return false
	}
	if f.ResourceName == "" {
		return true
	}
	if f.PatternType == PatternAny || f.PatternType == acl.PatternType {
		return f.ResourceName == acl.ResourceName
	}
	// PatternMatch.
	switch acl.PatternType {
	case PatternLiteral:
		return f.ResourceName == acl.ResourceName || acl.ResourceName == "*"
	case PatternPrefixed:
		return strings.HasPrefix(f.ResourceName, acl.ResourceName)
	}
	return false
}

// matchesEntry is AccessControlEntryFilter.matches.
func (f ACLFilter) matchesEntry(acl ACL) bool {
	if f.Principal != "" && f.Principal != acl.Principal {
		return false
	}
	if f.Host != "" && f.Host != acl.Host {
		return false
	}
	if f.Operation != OperationAny && f.Operation != acl.Operation {
		return false
	}
	return f.Permission == PermissionAny || f.Permission == acl.Permission
}

// ACLFilters is acl.filters.
type ACLFilters struct {
	Filters []ACLFilter
}

// Match reports whether acl matches any of the filters. No filters match nothing.
func (fs ACLFilters) Match(acl ACL) bool {
	for _, f := range fs.Filters {
		if f.Matches(acl) {
			return true
		}
	}
	return false
}

// String returns the filters as Confluent's JSON, or "" when there are none.
func (fs ACLFilters) String() string {
	if len(fs.Filters) == 0 {
		return ""
	}
	type resource struct {
		ResourceType string `json:"resourceType"`
		Name         string `json:"name,omitempty"`
		PatternType  string `json:"patternType"`
	}
	type access struct {
		Principal      string `json:"principal,omitempty"`
		Host           string `json:"host,omitempty"`
		Operation      string `json:"operation"`
		PermissionType string `json:"permissionType"`
	}
	type entry struct {
		ResourceFilter resource `json:"resourceFilter"`
		AccessFilter   access   `json:"accessFilter"`
	}
	entries := make([]entry, len(fs.Filters))
	for i, f := range fs.Filters {
		entries[i] = entry{
			resource{strings.ToLower(f.ResourceType.String()), f.ResourceName, strings.ToLower(f.PatternType.String())},
			access{f.Principal, f.Host, strings.ToLower(f.Operation.String()), strings.ToLower(f.Permission.String())},
		}
	}
	b, _ := json.Marshal(map[string][]entry{"aclFilters": entries})
	return string(b)
}

// ParseACLFilters parses {"aclFilters":[...]}; the empty string (or blanks) gives no filters.
func ParseACLFilters(s string) (ACLFilters, error) {
	if strings.TrimSpace(s) == "" {
		return ACLFilters{}, nil
	}
	var out []ACLFilter
	err := parseJSONDoc(s, func(d *jsonDoc) error {
		return d.object("", []string{"aclFilters"}, nil, func(_, path string) error {
			return d.array(path, func(_ int, path string) error {
				var f ACLFilter
				both := []string{"resourceFilter", "accessFilter"}
				err := d.object(path, both, both, func(key, path string) error {
					if key == "resourceFilter" {
						fields := []string{"resourceType", "name", "patternType"}
						return d.object(path, fields, []string{"resourceType", "patternType"}, func(key, path string) error {
							switch key {
							case "resourceType":
								return enum(d, path, aclResourceTypes(), &f.ResourceType)
							case "patternType":
								return enum(d, path, aclPatternTypes(), &f.PatternType)
							default:
								return optionalString(d, path, &f.ResourceName)
							}
						})
					}
					fields := []string{"principal", "host", "operation", "permissionType"}
					return d.object(path, fields, []string{"operation", "permissionType"}, func(key, path string) error {
						switch key {
						case "operation":
							return enum(d, path, aclOperations(), &f.Operation)
						case "permissionType":
							return enum(d, path, aclPermissions(), &f.Permission)
						case "principal":
							off := d.next()
							if err := optionalString(d, path, &f.Principal); err != nil {
								return err
							}
							if f.Principal != "" && !strings.Contains(f.Principal, ":") {
								d.problem(off, path, "%q is not a principal of the form Type:name (User:alice)", f.Principal)
							}
							return nil
						default:
							return optionalString(d, path, &f.Host)
						}
					})
				})
				out = append(out, f)
				return err
			})
		})
	})
	if err != nil {
		return ACLFilters{}, err
	}
	return ACLFilters{Filters: out}, nil
}

// optionalString reads a string or null (Kafka's "absent") into dst.
func optionalString(d *jsonDoc, path string, dst *string) error {
	off := d.next()
	tok, err := d.dec.Token()
	if err != nil {
		return err
	}
	switch t := tok.(type) {
	case nil:
		*dst = ""
	case string:
		*dst = t
	default:
		d.problem(off, path, "expected a string, got %s", kind(tok))
		return d.skip(tok)
	}
	return nil
}
