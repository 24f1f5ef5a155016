package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// jsonDoc walks one filter document token by token with a json.Decoder, so that every problem can say where it is:
// the JSON path (topicFilters[1].patternType), the line, the column and the byte offset. A struct decoded with
// DisallowUnknownFields would only say `json: unknown field "nmae"`, not in which entry nor where.
//
// The document's syntax is checked first with json.Unmarshal, whose SyntaxError.Offset counts from the start of the
// input; the walk then only meets well-formed JSON and collects every semantic problem instead of stopping.
type jsonDoc struct {
	data  string
	dec   *json.Decoder
	probs []error
}

// parseJSONDoc checks data's syntax and, when it is well formed, calls walk on a decoder positioned at its start.
// It returns the syntax error or every problem walk recorded, joined.
func parseJSONDoc(data string, walk func(d *jsonDoc) error) error {
	var v any
	if err := json.Unmarshal([]byte(data), &v); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			// Offset is the number of bytes read when the error was found: the offending byte is the one before.
			at := max(se.Offset-1, 0)
			if se.Offset >= int64(len(data)) && strings.Contains(se.Error(), "unexpected end") {
				at = int64(len(data))
			}
			line, col := lineColumn(data, at)
			return fmt.Errorf("invalid JSON: %s (JSON line %d, column %d, offset %d)", se.Error(), line, col, se.Offset)
		}
		return fmt.Errorf("invalid JSON: %w", err)
	}
	d := &jsonDoc{data: data, dec: json.NewDecoder(strings.NewReader(data))}
	d.dec.UseNumber()
	if err := walk(d); err != nil {
		return err
	}
	return errors.Join(d.probs...)
}

// lineColumn returns the 1-based line and column (in bytes) of offset off in data.
func lineColumn(data string, off int64) (line, col int) {
	off = min(max(off, 0), int64(len(data)))
	before := data[:off]
	line = 1 + strings.Count(before, "\n")
	col = int(off) - strings.LastIndexByte(before, '\n')
	return line, col
}

// where formats the position of offset off.
func (d *jsonDoc) where(off int64) string {
	line, col := lineColumn(d.data, off)
	return fmt.Sprintf("(JSON line %d, column %d, offset %d)", line, col, off)
}

// problem records a problem found at offset off under path.
func (d *jsonDoc) problem(off int64, path, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if path != "" {
		msg = path + ": " + msg
	}
	d.probs = append(d.probs, fmt.Errorf("%s %s", msg, d.where(off)))
}

// next returns the offset where the next token starts: InputOffset is the end of the previous token, which may be
// followed by blanks, a comma or a colon.
func (d *jsonDoc) next() int64 {
	off := d.dec.InputOffset()
	for off < int64(len(d.data)) && strings.IndexByte(" \t\r\n,:", d.data[off]) >= 0 {
		off++
	}
	return off
}

// skip consumes the rest of a value whose first token was tok.
func (d *jsonDoc) skip(tok json.Token) error {
	if tok != json.Delim('{') && tok != json.Delim('[') {
		return nil
	}
	for depth := 1; depth > 0; {
		t, err := d.dec.Token()
		if err != nil {
			return err
		}
		switch t {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
	}
	return nil
}

// kind names the JSON type of a value by its first token, for "expected an object, got an array".
func kind(tok json.Token) string {
	switch t := tok.(type) {
	case json.Delim:
		if t == '[' {
			return "an array"
		}
		return "an object"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", tok)
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// object reads an object whose allowed keys are fields and calls field for each key (with the key's path), which
// must consume the value. Unknown and duplicate keys are problems; so are missing keys listed in required.
func (d *jsonDoc) object(path string, fields, required []string, field func(key, path string) error) error {
	start := d.next()
	tok, err := d.dec.Token()
	if err != nil {
		return err
	}
	if tok != json.Delim('{') {
		d.problem(start, path, "expected an object, got %s", kind(tok))
		return d.skip(tok)
	}
	seen := map[string]bool{}
	for d.dec.More() {
		off := d.next()
		tok, err := d.dec.Token()
		if err != nil {
			return err
		}
		key, _ := tok.(string)
		switch {
		case !slices.Contains(fields, key):
			what := fmt.Sprintf("field %q", key)
			if s := closest(key, fields); s != "" {
				d.problem(off, path, "unknown %s; did you mean %q?", what, s)
			} else {
				d.problem(off, path, "unknown %s (known fields: %s)", what, strings.Join(fields, ", "))
			}
		case seen[key]:
			d.problem(off, path, "duplicate field %q", key)
		default:
			seen[key] = true
			if err := field(key, joinPath(path, key)); err != nil {
				return err
			}
			continue
		}
		vt, err := d.dec.Token()
		if err != nil {
			return err
		}
		if err := d.skip(vt); err != nil {
			return err
		}
	}
	if _, err := d.dec.Token(); err != nil { // '}'
		return err
	}
	for _, r := range required {
		if !seen[r] {
			d.problem(start, path, "missing field %q", r)
		}
	}
	return nil
}

// array reads an array (null counts as empty) and calls elem for each element with its index and path, which must
// consume the element.
func (d *jsonDoc) array(path string, elem func(i int, path string) error) error {
	start := d.next()
	tok, err := d.dec.Token()
	if err != nil {
		return err
	}
	if tok == nil {
		return nil
	}
	if tok != json.Delim('[') {
		d.problem(start, path, "expected an array, got %s", kind(tok))
		return d.skip(tok)
	}
	for i := 0; d.dec.More(); i++ {
		if err := elem(i, fmt.Sprintf("%s[%d]", path, i)); err != nil {
			return err
		}
	}
	_, err = d.dec.Token() // ']'
	return err
}

// str reads a string value; ok is false (and a problem recorded) when the value is not a string. off is where the
// value starts, for later problems about its content.
func (d *jsonDoc) str(path string) (s string, off int64, ok bool, err error) {
	off = d.next()
	tok, err := d.dec.Token()
	if err != nil {
		return "", off, false, err
	}
	s, ok = tok.(string)
	if !ok {
		d.problem(off, path, "expected a string, got %s", kind(tok))
		return "", off, false, d.skip(tok)
	}
	return s, off, true, nil
}

// enum reads a string value and parses it with parse, recording a problem that lists the allowed values when it is
// not one of them.
func enum[T any](d *jsonDoc, path string, e enumSpec[T], dst *T) error {
	s, off, ok, err := d.str(path)
	if err != nil || !ok {
		return err
	}
	v, ok := e.parse(s)
	if !ok {
		d.problem(off, path, "%q is not %s", s, oneOf(e.allowed()))
		return nil
	}
	*dst = v
	return nil
}
