// Package strictjson checks a JSON document before encoding/json decodes
// it, refusing what encoding/json would let through but a signed document
// or a message body must not carry: invalid UTF-8, anything but one JSON
// object, a member named twice (parsers disagree on which one wins), a
// member name that is not lower-case snake_case (encoding/json matches
// names case-insensitively, so "Version" or "ſigned" would silently fill a
// field), null, and nesting deeper than a limit.
//
// Refusals are [*hotline.Error] values with the codes malformed,
// duplicate_key, unknown_field, too_large and invalid_value, shared with
// the packages that call it (agreement, body).
package strictjson

import (
	"encoding/json"
	"unicode/utf8"

	"github.com/hotline-net/hotline"
)

// The refusals of [Check].
var (
	ErrMalformed    = hotline.ErrMalformed
	ErrDuplicateKey = hotline.NewError("duplicate_key", "duplicate JSON member")
	ErrUnknownField = hotline.NewError("unknown_field", "unknown field")
	ErrTooLarge     = hotline.NewError("too_large", "nested too deep")
	ErrInvalidValue = hotline.NewError("invalid_value", "invalid value")
)

// Options say what [Check] checks.
type Options struct {
	// What names the document in messages ("body", "terms", …).
	What string
	// MaxDepth bounds how deep objects and arrays nest, the document itself
	// being at depth 1.
	MaxDepth int
	// Free, if set, names a member of the top-level object whose value is
	// another format's business: member names and null are not checked
	// inside it (a body's STIX bundle).
	Free string
	// Member, if set, is called with each member of the top-level object
	// and the raw bytes of its value, once the value is scanned: a caller
	// that needs one member's text as written reads it without scanning
	// the document again.
	Member func(name string, value []byte)
}

// Check scans b once and returns the first thing wrong with it, or nil.
// It allocates only for member names that carry escapes and for objects
// with more than a few members: it runs on every body a node accepts.
func Check(b []byte, o Options) error {
	if !utf8.Valid(b) {
		return hotline.Errorf(ErrMalformed, "%s: not valid UTF-8", o.What)
	}
	sc := scanner{b: b, o: &o}
	sc.space()
	if sc.i == len(b) {
		return hotline.Errorf(ErrMalformed, "%s: empty", o.What)
	}
	if b[sc.i] != '{' {
		return hotline.Errorf(ErrMalformed, "%s: not a JSON object", o.What)
	}
	if err := sc.value(false, 0); err != nil {
		return err
	}
	sc.space()
	if sc.i != len(b) {
		return hotline.Errorf(ErrMalformed, "%s: data after the JSON object", o.What)
	}
	return nil
}

// scanner walks a document that is valid UTF-8.
type scanner struct {
	b []byte
	i int
	o *Options
}

func (sc *scanner) malformed(what string) error {
	if sc.i >= len(sc.b) {
		return hotline.Errorf(ErrMalformed, "%s: truncated", sc.o.What)
	}
	return hotline.Errorf(ErrMalformed, "%s: invalid character %q %s at byte %d", sc.o.What, sc.b[sc.i], what, sc.i)
}

func (sc *scanner) space() {
	for sc.i < len(sc.b) {
		switch sc.b[sc.i] {
		case ' ', '\t', '\n', '\r':
			sc.i++
		default:
			return
		}
	}
}

// value scans one value at sc.i (after white space), inside depth open
// containers; free says it is inside Options.Free.
func (sc *scanner) value(free bool, depth int) error {
	if sc.i >= len(sc.b) {
		return sc.malformed("")
	}
	switch c := sc.b[sc.i]; {
	case c == '{' || c == '[':
		if depth >= sc.o.MaxDepth {
			return hotline.Errorf(ErrTooLarge, "%s: nested deeper than %d levels", sc.o.What, sc.o.MaxDepth)
		}
		sc.i++
		if c == '{' {
			return sc.object(free, depth+1)
		}
		return sc.array(free, depth+1)
	case c == '"':
		_, _, err := sc.str()
		return err
	case c == '-' || c >= '0' && c <= '9':
		return sc.number()
	case c == 't':
		return sc.literal("true")
	case c == 'f':
		return sc.literal("false")
	case c == 'n':
		if err := sc.literal("null"); err != nil {
			return err
		}
		if !free {
			return hotline.Errorf(ErrInvalidValue, "%s: null is not allowed; leave the field out", sc.o.What)
		}
		return nil
	}
	return sc.malformed("looking for the beginning of a value")
}

func (sc *scanner) literal(lit string) error {
	if len(sc.b)-sc.i < len(lit) {
		sc.i = len(sc.b)
		return sc.malformed("")
	}
	for k := 0; k < len(lit); k++ {
		if sc.b[sc.i] != lit[k] {
			return sc.malformed("in literal " + lit)
		}
		sc.i++
	}
	return nil
}

// number scans a JSON number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (sc *scanner) number() error {
	if sc.b[sc.i] == '-' {
		sc.i++
	}
	if sc.i < len(sc.b) && sc.b[sc.i] == '0' {
		sc.i++
	} else if !sc.digits() {
		return sc.malformed("in numeric literal")
	}
	if sc.i < len(sc.b) && sc.b[sc.i] == '.' {
		sc.i++
		if !sc.digits() {
			return sc.malformed("after decimal point in numeric literal")
		}
	}
	if sc.i < len(sc.b) && (sc.b[sc.i] == 'e' || sc.b[sc.i] == 'E') {
		sc.i++
		if sc.i < len(sc.b) && (sc.b[sc.i] == '+' || sc.b[sc.i] == '-') {
			sc.i++
		}
		if !sc.digits() {
			return sc.malformed("in exponent of numeric literal")
		}
	}
	return nil
}

func (sc *scanner) digits() bool {
	start := sc.i
	for sc.i < len(sc.b) && sc.b[sc.i] >= '0' && sc.b[sc.i] <= '9' {
		sc.i++
	}
	return sc.i > start
}

// str scans a string at sc.i and returns its raw contents (between the
// quotes) and whether they hold escapes.
func (sc *scanner) str() (raw []byte, escaped bool, err error) {
	sc.i++ // the opening quote
	start := sc.i
	for sc.i < len(sc.b) {
		switch c := sc.b[sc.i]; {
		case c == '"':
			raw = sc.b[start:sc.i]
			sc.i++
			return raw, escaped, nil
		case c == '\\':
			escaped = true
			sc.i++
			if sc.i >= len(sc.b) {
				return nil, false, sc.malformed("")
			}
			switch sc.b[sc.i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				sc.i++
			case 'u':
				sc.i++
				for k := 0; k < 4; k++ {
					if sc.i >= len(sc.b) {
						return nil, false, sc.malformed("")
					}
					if !isHex(sc.b[sc.i]) {
						return nil, false, sc.malformed("in \\u hexadecimal character escape")
					}
					sc.i++
				}
			default:
				return nil, false, sc.malformed("in string escape code")
			}
		case c < 0x20:
			return nil, false, sc.malformed("in string literal")
		default:
			sc.i++
		}
	}
	return nil, false, sc.malformed("")
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// object scans the members of an object whose '{' is read.
func (sc *scanner) object(free bool, depth int) error {
	var (
		small [8]string // the names seen, while few
		names []string
		set   map[string]bool // once more
	)
	names = small[:0]
	sc.space()
	if sc.i < len(sc.b) && sc.b[sc.i] == '}' {
		sc.i++
		return nil
	}
	for {
		if sc.i >= len(sc.b) || sc.b[sc.i] != '"' {
			return sc.malformed("looking for the beginning of an object key string")
		}
		raw, escaped, err := sc.str()
		if err != nil {
			return err
		}
		var name string
		if escaped {
			q := sc.b[sc.i-len(raw)-2 : sc.i]
			if err := json.Unmarshal(q, &name); err != nil {
				return hotline.Errorf(ErrMalformed, "%s: %v", sc.o.What, err)
			}
		} else {
			name = string(raw)
		}
		seen := false
		if set != nil {
			seen = set[name]
		} else {
			for _, n := range names {
				if n == name {
					seen = true
					break
				}
			}
		}
		if seen {
			return hotline.Errorf(ErrDuplicateKey, "%s: member %q appears twice in one object", sc.o.What, truncate(name))
		}
		if !free && !hotline.ValidKind(name) {
			return hotline.Errorf(ErrUnknownField, "%s: unknown field %q", sc.o.What, truncate(name))
		}
		if set == nil && len(names) < len(small) {
			names = append(names, name)
		} else {
			if set == nil {
				set = make(map[string]bool, 2*len(small))
				for _, n := range names {
					set[n] = true
				}
			}
			set[name] = true
		}
		sc.space()
		if sc.i >= len(sc.b) || sc.b[sc.i] != ':' {
			return sc.malformed("after object key")
		}
		sc.i++
		sc.space()
		// The value of Options.Free in the top-level object, and all
		// within it, is another format's.
		inner := free
		if !inner && depth == 1 && sc.o.Free != "" && name == sc.o.Free && sc.i < len(sc.b) && (sc.b[sc.i] == '{' || sc.b[sc.i] == '[') {
			inner = true
		}
		start := sc.i
		if err := sc.value(inner, depth); err != nil {
			return err
		}
		if depth == 1 && sc.o.Member != nil {
			sc.o.Member(name, sc.b[start:sc.i])
		}
		sc.space()
		if sc.i >= len(sc.b) {
			return sc.malformed("")
		}
		switch sc.b[sc.i] {
		case ',':
			sc.i++
			sc.space()
		case '}':
			sc.i++
			return nil
		default:
			return sc.malformed("after object key:value pair")
		}
	}
}

// array scans the elements of an array whose '[' is read.
func (sc *scanner) array(free bool, depth int) error {
	sc.space()
	if sc.i < len(sc.b) && sc.b[sc.i] == ']' {
		sc.i++
		return nil
	}
	for {
		if err := sc.value(free, depth); err != nil {
			return err
		}
		sc.space()
		if sc.i >= len(sc.b) {
			return sc.malformed("")
		}
		switch sc.b[sc.i] {
		case ',':
			sc.i++
			sc.space()
		case ']':
			sc.i++
			return nil
		default:
			return sc.malformed("after array element")
		}
	}
}

func truncate(s string) string {
	if len(s) > 80 {
		return s[:77] + "..."
	}
	return s
}
