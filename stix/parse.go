package stix

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// document is a JSON text decoded by [decode]: the value tree in the form
// jsonschema expects (map[string]any, []any, string, json.Number, bool,
// nil), and, when the text is an object with an "objects" array, the exact
// bytes of each element of that array.
type document struct {
	value   any
	objects [][]byte // raw elements of the top-level "objects" array, if any
}

// decode parses data as one JSON value under the limits of cfg. It refuses
// what encoding/json would silently accept and a STIX consumer must not:
// invalid UTF-8 (which encoding/json replaces), duplicate member names
// (where parsers disagree on which one wins, so a marking could be read
// differently by the next hop) and anything after the value.
func decode(data []byte, cfg *Config) (*document, error) {
	if len(data) > cfg.MaxSize {
		return nil, &Error{Code: CodeTooLarge, Message: fmt.Sprintf("input is %d bytes, more than the limit of %d", len(data), cfg.MaxSize)}
	}
	if !utf8.Valid(data) {
		return nil, &Error{Code: CodeBadJSON, Message: fmt.Sprintf("invalid JSON: invalid UTF-8 at byte %d", invalidUTF8At(data))}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	p := &parser{dec: dec, data: data, maxDepth: cfg.MaxDepth}
	doc := &document{}
	tok, err := dec.Token()
	if err != nil {
		return nil, p.syntaxError(err)
	}
	if d, ok := tok.(json.Delim); ok && d == '{' {
		doc.value, err = p.topObject(doc)
	} else {
		doc.value, err = p.valueFrom(tok, 1)
	}
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, &Error{Code: CodeBadJSON, Message: fmt.Sprintf("invalid JSON: data after the top-level value at byte %d", p.offset())}
	}
	return doc, nil
}

type parser struct {
	dec      *json.Decoder
	data     []byte
	maxDepth int
}

// topObject parses the members of the top-level object (its '{' already
// read), recording the bytes of each element of an "objects" array so
// that a bundle's objects keep the form their producer gave them.
func (p *parser) topObject(doc *document) (any, error) {
	m := make(map[string]any)
	for p.dec.More() {
		k, err := p.key(m)
		if err != nil {
			return nil, err
		}
		tok, err := p.dec.Token()
		if err != nil {
			return nil, p.syntaxError(err)
		}
		if d, ok := tok.(json.Delim); ok && d == '[' && k == "objects" {
			arr, raws, err := p.arrayWithRaw(2)
			if err != nil {
				return nil, err
			}
			m[k], doc.objects = arr, raws
			continue
		}
		v, err := p.valueFrom(tok, 2)
		if err != nil {
			return nil, err
		}
		m[k] = v
	}
	if _, err := p.dec.Token(); err != nil {
		return nil, p.syntaxError(err)
	}
	return m, nil
}

// arrayWithRaw parses an array (its '[' already read) at depth, returning
// each element's value and its bytes.
func (p *parser) arrayWithRaw(depth int) ([]any, [][]byte, error) {
	if depth > p.maxDepth {
		return nil, nil, p.tooDeep()
	}
	arr := []any{}
	var raws [][]byte
	for p.dec.More() {
		start := p.offset()
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, nil, err
		}
		// The decoder reads the separating comma lazily, so the span since
		// the previous element may begin with a comma and white space.
		raw := bytes.TrimLeft(p.data[start:p.offset()], ", \t\r\n")
		arr = append(arr, v)
		raws = append(raws, raw)
	}
	if _, err := p.dec.Token(); err != nil {
		return nil, nil, p.syntaxError(err)
	}
	return arr, raws, nil
}

func (p *parser) value(depth int) (any, error) {
	tok, err := p.dec.Token()
	if err != nil {
		return nil, p.syntaxError(err)
	}
	return p.valueFrom(tok, depth)
}

// valueFrom parses the value that begins with tok, at depth (the
// top-level value is at depth 1).
func (p *parser) valueFrom(tok json.Token, depth int) (any, error) {
	d, ok := tok.(json.Delim)
	if !ok {
		return tok, nil // string, json.Number, bool or nil
	}
	if depth > p.maxDepth {
		return nil, p.tooDeep()
	}
	switch d {
	case '{':
		m := make(map[string]any)
		for p.dec.More() {
			k, err := p.key(m)
			if err != nil {
				return nil, err
			}
			v, err := p.value(depth + 1)
			if err != nil {
				return nil, err
			}
			m[k] = v
		}
		if _, err := p.dec.Token(); err != nil {
			return nil, p.syntaxError(err)
		}
		return m, nil
	case '[':
		arr := []any{}
		for p.dec.More() {
			v, err := p.value(depth + 1)
			if err != nil {
				return nil, err
			}
			arr = append(arr, v)
		}
		if _, err := p.dec.Token(); err != nil {
			return nil, p.syntaxError(err)
		}
		return arr, nil
	}
	// The decoder never returns a closing delimiter here: it reports a
	// syntax error instead.
	return nil, &Error{Code: CodeBadJSON, Message: fmt.Sprintf("invalid JSON: unexpected %q at byte %d", rune(d), p.offset())}
}

// key reads a member name of an object being built into m and refuses a
// name m already has.
func (p *parser) key(m map[string]any) (string, error) {
	tok, err := p.dec.Token()
	if err != nil {
		return "", p.syntaxError(err)
	}
	k, ok := tok.(string)
	if !ok {
		return "", &Error{Code: CodeBadJSON, Message: fmt.Sprintf("invalid JSON: member name expected at byte %d", p.offset())}
	}
	if _, dup := m[k]; dup {
		return "", &Error{Code: CodeBadJSON, Message: fmt.Sprintf("invalid JSON: duplicate member %q at byte %d", truncate(k, maxQuoted), p.offset())}
	}
	return k, nil
}

func (p *parser) offset() int64 { return p.dec.InputOffset() }

func (p *parser) tooDeep() error {
	return &Error{Code: CodeTooDeep, Message: fmt.Sprintf("input nests deeper than the limit of %d at byte %d", p.maxDepth, p.offset())}
}

func (p *parser) syntaxError(err error) error {
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		return &Error{Code: CodeBadJSON, Message: fmt.Sprintf("invalid JSON at byte %d: %s", se.Offset, se.Error())}
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return &Error{Code: CodeBadJSON, Message: "invalid JSON: unexpected end of input"}
	default:
		return &Error{Code: CodeBadJSON, Message: fmt.Sprintf("invalid JSON at byte %d: %v", p.offset(), err)}
	}
}

func invalidUTF8At(data []byte) int {
	for i := 0; i < len(data); {
		r, n := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return len(data)
}
