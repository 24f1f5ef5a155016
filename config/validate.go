package config

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// FieldError is one problem with one key. Every parser in this package returns its problems as FieldErrors joined
// with errors.Join, so a caller can list them all at once or map them back to the keys the user wrote (for example
// to answer an admin API request with one entry per key).
type FieldError struct {
	// File is the daemon file's path when the problem came from Load.
	File string
	// Line is the 1-based line in the daemon file, or 0 when the problem did not come from a file.
	Line int
	// Key is the full path of the key: "acl.sync.ms" from ParseLink, "links[0].configs.acl.sync.ms" from Parse.
	Key string
	// Err says what is wrong. It never contains the value of a sensitive key.
	Err error
}

// Error formats the problem as "key: message", preceded by "file:line: " or "line N: " when it has a line, the way
// compilers do, so that editors jump to it.
func (e *FieldError) Error() string {
	var b strings.Builder
	switch {
	case e.File != "" && e.Line > 0:
		fmt.Fprintf(&b, "%s:%d: ", e.File, e.Line)
	case e.File != "":
		fmt.Fprintf(&b, "%s: ", e.File)
	case e.Line > 0:
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	if e.Key != "" {
		b.WriteString(e.Key + ": ")
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *FieldError) Unwrap() error { return e.Err }

// problems collects FieldErrors in the order they are found.
type problems []error

func (p *problems) add(key string, format string, args ...any) {
	*p = append(*p, &FieldError{Key: key, Err: fmt.Errorf(format, args...)})
}

func (p *problems) addErr(key string, err error) {
	*p = append(*p, &FieldError{Key: key, Err: err})
}

func (p problems) join() error { return errors.Join(p...) }

// FieldErrors flattens an error returned by this package into its FieldErrors; an error that is not one (or does
// not hold one) is returned as a FieldError with an empty Key.
func FieldErrors(err error) []*FieldError {
	if err == nil {
		return nil
	}
	var out []*FieldError
	var walk func(error)
	walk = func(err error) {
		if fe, ok := err.(*FieldError); ok {
			out = append(out, fe)
			return
		}
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
			return
		}
		out = append(out, &FieldError{Err: err})
	}
	walk(err)
	return out
}

// prefixed returns err's FieldErrors with prefix put before each key and the line looked up by the original key.
func prefixed(err error, prefix string, line func(key string) int) []error {
	var out []error
	for _, fe := range FieldErrors(err) {
		n := *fe
		if line != nil && n.Line == 0 {
			n.Line = line(fe.Key)
		}
		if n.Key == "" {
			n.Key = strings.TrimSuffix(prefix, ".")
		} else {
			n.Key = prefix + fe.Key
		}
		out = append(out, &n)
	}
	return out
}

// maxSuggestionDistance is how far (in Levenshtein edits) an unknown key may be from a known one to be suggested.
const maxSuggestionDistance = 3

// unknownKey describes an unknown key, suggesting the closest known key when one is near enough.
func unknownKey(what, key string, known []string) error {
	if s := closest(key, known); s != "" {
		return fmt.Errorf("unknown %s; did you mean %q?", what, s)
	}
	return fmt.Errorf("unknown %s", what)
}

// closest returns the known key nearest to key within maxSuggestionDistance (ties go to the alphabetically first),
// or "".
func closest(key string, known []string) string {
	sorted := append([]string(nil), known...)
	sort.Strings(sorted)
	best, bestDist := "", maxSuggestionDistance+1
	for _, k := range sorted {
		if d := levenshtein(key, k); d < bestDist {
			best, bestDist = k, d
		}
	}
	return best
}

// levenshtein is the edit distance between a and b (insertions, deletions and substitutions of bytes).
func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// oneOf formats the allowed values of an enum for an error message.
func oneOf(values []string) string { return "one of " + strings.Join(values, ", ") }
