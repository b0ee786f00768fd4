package agreement

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// maxDepth bounds how deep objects and arrays nest in any document of this
// package; the deepest legitimate path (terms → kinds → obligations →
// deadlines) is four levels down.
const maxDepth = 16

// jsonFrame is one open object or array while checkJSON walks a document.
type jsonFrame struct {
	obj     bool
	wantKey bool // an object expecting a member name (or its end)
	keys    map[string]bool
}

// checkJSON refuses what encoding/json would let through: invalid UTF-8,
// anything but one JSON object, a member named twice, a member name that is
// not lower-case snake_case (encoding/json matches names case-insensitively,
// so "Version" or "ſigned" would silently fill a field), null, and nesting
// deeper than maxDepth.
func checkJSON(b []byte, what string) error {
	if !utf8.Valid(b) {
		return errorf(ErrMalformed, "%s: not valid UTF-8", what)
	}
	var stack []*jsonFrame
	// valueDone records that a value ended: the enclosing object, if any,
	// now expects a member name.
	valueDone := func() {
		if n := len(stack); n > 0 && stack[n-1].obj {
			stack[n-1].wantKey = true
		}
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	values := 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return errorf(ErrMalformed, "%s: %v", what, err)
		}
		if len(stack) == 0 {
			values++
			if values > 1 {
				return errorf(ErrMalformed, "%s: data after the JSON object", what)
			}
			if d, ok := tok.(json.Delim); !ok || d != '{' {
				return errorf(ErrMalformed, "%s: not a JSON object", what)
			}
		}
		if n := len(stack); n > 0 && stack[n-1].obj && stack[n-1].wantKey {
			top := stack[n-1]
			if d, ok := tok.(json.Delim); ok && d == '}' {
				stack = stack[:n-1]
				valueDone()
				continue
			}
			key, _ := tok.(string)
			if top.keys[key] {
				return errorf(ErrDuplicateKey, "%s: member %q appears twice in one object", what, truncate(key))
			}
			if !snakeCase(key) {
				return errorf(ErrUnknownField, "%s: unknown field %q", what, truncate(key))
			}
			top.keys[key] = true
			top.wantKey = false
			continue
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{', '[':
				if len(stack) >= maxDepth {
					return errorf(ErrTooLarge, "%s: nested deeper than %d levels", what, maxDepth)
				}
				stack = append(stack, &jsonFrame{obj: t == '{', wantKey: t == '{', keys: map[string]bool{}})
			default:
				stack = stack[:len(stack)-1]
				valueDone()
			}
		case nil:
			return errorf(ErrInvalid, "%s: null is not allowed; leave the field out", what)
		default:
			valueDone()
		}
	}
	if values == 0 {
		return errorf(ErrMalformed, "%s: empty", what)
	}
	return nil
}

func snakeCase(s string) bool {
	if s == "" || len(s) > 64 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// decodeStrict decodes the JSON object b into v after checkJSON, refusing
// unknown fields and wrong types with the matching codes.
func decodeStrict(b []byte, v any, what string) error {
	if err := checkJSON(b, what); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err, what)
	}
	return nil
}

func decodeError(err error, what string) error {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return errorf(ErrUnknownField, "%s: %s", what, strings.TrimPrefix(err.Error(), "json: "))
	case errors.As(err, &te):
		return errorf(ErrInvalid, "%s: field %q: want %s, got JSON %s", what, te.Field, te.Type, te.Value)
	case errors.As(err, &se):
		return errorf(ErrMalformed, "%s: %v", what, err)
	}
	var e *Error
	if errors.As(err, &e) {
		return &Error{Code: e.Code, msg: what + ": " + e.msg}
	}
	return errorf(ErrInvalid, "%s: %v", what, err)
}

// marshalIndent writes v as hotline writes every signed document: two-space
// indentation, members in the order of the Go struct, no HTML escaping, and
// a final newline.
func marshalIndent(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encoding: %w", err)
	}
	return buf.Bytes(), nil
}

func truncate(s string) string {
	if len(s) > 80 {
		return s[:77] + "..."
	}
	return s
}
