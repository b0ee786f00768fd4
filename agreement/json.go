package agreement

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/hotline-net/hotline/internal/strictjson"
)

// maxDepth bounds how deep objects and arrays nest in any document of this
// package; the deepest legitimate path (terms → kinds → obligations →
// deadlines) is four levels down.
const maxDepth = 16

// checkJSON refuses what encoding/json would let through (see package
// strictjson).
func checkJSON(b []byte, what string) error {
	return strictjson.Check(b, strictjson.Options{What: what, MaxDepth: maxDepth})
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
		return errorf(e, "%s: %v", what, e)
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
