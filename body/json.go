package body

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"unicode/utf8"
)

// jsonFrame is one open object or array while checkJSON walks a body.
type jsonFrame struct {
	obj     bool
	wantKey bool // an object expecting a member name (or its end)
	free    bool // inside the STIX slot: member names and null are STIX's business
	keys    map[string]bool
	lastKey string
}

// checkJSON refuses what encoding/json would let through: invalid UTF-8,
// anything but one JSON object, a member named twice, nesting deeper than
// maxDepth, and — outside the STIX slot — member names that are not
// lower-case snake_case (encoding/json matches names case-insensitively)
// and null.
func checkJSON(b []byte, maxDepth int) error {
	if !utf8.Valid(b) {
		return errorf(ErrMalformed, "body: not valid UTF-8")
	}
	var stack []*jsonFrame
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
			return errorf(ErrMalformed, "body: %v", err)
		}
		if len(stack) == 0 {
			values++
			if values > 1 {
				return errorf(ErrMalformed, "body: data after the JSON object")
			}
			if d, ok := tok.(json.Delim); !ok || d != '{' {
				return errorf(ErrMalformed, "body: not a JSON object")
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
				return errorf(ErrDuplicateKey, "body: member %q appears twice in one object", truncate(key))
			}
			if !top.free && !snakeCase(key) {
				return errorf(ErrUnknownField, "body: unknown field %q", truncate(key))
			}
			top.keys[key] = true
			top.wantKey = false
			top.lastKey = key
			continue
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{', '[':
				if len(stack) >= maxDepth {
					return errorf(ErrTooLarge, "body: nested deeper than %d levels", maxDepth)
				}
				free := false
				if n := len(stack); n > 0 {
					free = stack[n-1].free || (n == 1 && stack[0].lastKey == "stix")
				}
				stack = append(stack, &jsonFrame{obj: t == '{', wantKey: t == '{', free: free, keys: map[string]bool{}})
			default:
				stack = stack[:len(stack)-1]
				valueDone()
			}
		case nil:
			if n := len(stack); n == 0 || !stack[n-1].free {
				return errorf(ErrInvalidValue, "body: null is not allowed; leave the field out")
			}
			valueDone()
		default:
			valueDone()
		}
	}
	if values == 0 {
		return errorf(ErrMalformed, "body: empty")
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

func decodeError(err error) error {
	var te *json.UnmarshalTypeError
	switch {
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return errorf(ErrUnknownField, "body: %s", strings.TrimPrefix(err.Error(), "json: "))
	case errors.As(err, &te):
		return errorf(ErrInvalidValue, "body: field %q: want %s, got JSON %s", te.Field, te.Type, te.Value)
	}
	return errorf(ErrInvalidValue, "body: %v", err)
}

func truncate(s string) string {
	if len(s) > 80 {
		return s[:77] + "..."
	}
	return s
}
