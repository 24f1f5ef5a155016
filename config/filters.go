package config

import (
	"encoding/json"
	"fmt"
	"strings"
)

// This file holds Confluent's topic and consumer group filters: auto.create.mirror.topics.filters and
// consumer.offset.group.filters.
//
//	{"topicFilters":[{"name":"*","patternType":"LITERAL","filterType":"INCLUDE"},
//	                 {"name":"_","patternType":"PREFIXED","filterType":"EXCLUDE"}]}
//	{"groupFilters":[{"name":"*","patternType":"LITERAL","filterType":"INCLUDE"}]}
//
// A name matching no filter is excluded, an EXCLUDE match wins over an INCLUDE match, and the LITERAL name "*" matches
// every name. The empty config has no filters and matches nothing.

// FilterType says whether a name filter includes or excludes the names it matches.
type FilterType int8

const (
	Include FilterType = iota + 1
	Exclude
)

func (t FilterType) String() string {
	switch t {
	case Include:
		return "INCLUDE"
	case Exclude:
		return "EXCLUDE"
	}
	return fmt.Sprintf("FilterType(%d)", int8(t))
}

func filterTypes() enumSpec[FilterType] { return enumOf(Include, Exclude) }

// namePatternTypes are the pattern types a topic or group filter may have.
func namePatternTypes() enumSpec[PatternType] { return enumOf(PatternLiteral, PatternPrefixed) }

// NameFilter is one entry of topicFilters or groupFilters.
type NameFilter struct {
	// Name is the topic or group name, or its prefix; the LITERAL name "*" matches every name.
	Name string
	// PatternType is PatternLiteral or PatternPrefixed.
	PatternType PatternType
	FilterType  FilterType
}

// Matches reports whether name matches the filter's name and pattern type, whatever its filter type.
func (f NameFilter) Matches(name string) bool {
	switch f.PatternType {
	case PatternLiteral:
		return f.Name == "*" || f.Name == name
	case PatternPrefixed:
		return strings.HasPrefix(name, f.Name)
	}
	return false
}

// matchNames applies the include/exclude rule to filters.
func matchNames(filters []NameFilter, name string) bool {
	included := false
	for _, f := range filters {
		if !f.Matches(name) {
			continue
		}
		if f.FilterType == Exclude {
			return false
		}
		included = included || f.FilterType == Include
	}
	return included
}

// TopicFilters is auto.create.mirror.topics.filters.
type TopicFilters struct {
	Filters []NameFilter
}

// Match reports whether the topic is included: it matches an INCLUDE filter and no EXCLUDE filter.
func (f TopicFilters) Match(topic string) bool { return matchNames(f.Filters, topic) }

// NamesLiterally reports whether an INCLUDE filter names topic exactly (LITERAL, not "*"): internal topics are
// mirrored only when named so.
func (f TopicFilters) NamesLiterally(topic string) bool {
	for _, nf := range f.Filters {
		if nf.FilterType == Include && nf.PatternType == PatternLiteral && nf.Name == topic {
			return true
		}
	}
	return false
}

// String returns the filters as Confluent's JSON, or "" when there are none.
func (f TopicFilters) String() string { return formatNameFilters("topicFilters", f.Filters) }

// ParseTopicFilters parses {"topicFilters":[...]}; the empty string (or blanks) gives no filters.
func ParseTopicFilters(s string) (TopicFilters, error) {
	fs, err := parseNameFilters("topicFilters", s)
	return TopicFilters{Filters: fs}, err
}

// GroupFilters is consumer.offset.group.filters.
type GroupFilters struct {
	Filters []NameFilter
}

// Match reports whether the consumer group is included: it matches an INCLUDE filter and no EXCLUDE filter.
func (f GroupFilters) Match(group string) bool { return matchNames(f.Filters, group) }

// String returns the filters as Confluent's JSON, or "" when there are none.
func (f GroupFilters) String() string { return formatNameFilters("groupFilters", f.Filters) }

// ParseGroupFilters parses {"groupFilters":[...]}; the empty string (or blanks) gives no filters.
func ParseGroupFilters(s string) (GroupFilters, error) {
	fs, err := parseNameFilters("groupFilters", s)
	return GroupFilters{Filters: fs}, err
}

func parseNameFilters(top, s string) ([]NameFilter, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []NameFilter
	err := parseJSONDoc(s, func(d *jsonDoc) error {
		return d.object("", []string{top}, nil, func(_, path string) error {
			return d.array(path, func(_ int, path string) error {
				var f NameFilter
				fields := []string{"name", "patternType", "filterType"}
				err := d.object(path, fields, fields, func(key, path string) error {
					switch key {
					case "name":
						s, off, ok, err := d.str(path)
						if ok && s == "" {
							d.problem(off, path, "must not be empty")
						}
						f.Name = s
						return err
					case "patternType":
						return enum(d, path, namePatternTypes(), &f.PatternType)
					default:
						return enum(d, path, filterTypes(), &f.FilterType)
					}
				})
				out = append(out, f)
				return err
			})
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func formatNameFilters(top string, fs []NameFilter) string {
	if len(fs) == 0 {
		return ""
	}
	type entry struct {
		Name        string `json:"name"`
		PatternType string `json:"patternType"`
		FilterType  string `json:"filterType"`
	}
	entries := make([]entry, len(fs))
	for i, f := range fs {
		entries[i] = entry{f.Name, f.PatternType.String(), f.FilterType.String()}
	}
	b, _ := json.Marshal(map[string][]entry{top: entries})
	return string(b)
}

// enumSpec lists the values an enum may take in some place, with their canonical (Kafka) names.
type enumSpec[T any] struct {
	values []T
	names  []string
}

func enumOf[T fmt.Stringer](values ...T) enumSpec[T] {
	e := enumSpec[T]{values: values}
	for _, v := range values {
		e.names = append(e.names, v.String())
	}
	return e
}

// normalEnum folds case and drops '_' and '-', so that "cluster_action", "CLUSTER_ACTION" and Kafka's CLI spelling
// "ClusterAction" all name the same value.
func normalEnum(s string) string {
	return strings.NewReplacer("_", "", "-", "").Replace(strings.ToLower(strings.TrimSpace(s)))
}

func (e enumSpec[T]) parse(s string) (T, bool) {
	n := normalEnum(s)
	for i, name := range e.names {
		if normalEnum(name) == n {
			return e.values[i], true
		}
	}
	var zero T
	return zero, false
}

func (e enumSpec[T]) allowed() []string { return e.names }
