package stix

import (
	"errors"
	"strconv"
	"strings"

	"github.com/hotline-net/hotline"
)

// Code is the stable, machine-readable reason for a refusal. Codes never
// change meaning; metrics and API clients branch on them, people read
// [Error.Error].
type Code string

// The codes an [Error] carries.
const (
	// CodeTooLarge: the input is longer than [Config.MaxSize].
	CodeTooLarge Code = "stix_too_large"
	// CodeTooDeep: arrays and objects nest deeper than [Config.MaxDepth].
	CodeTooDeep Code = "stix_too_deep"
	// CodeTooManyObjects: a bundle holds more than [Config.MaxObjects].
	CodeTooManyObjects Code = "stix_too_many_objects"
	// CodeBadJSON: the input is not one well-formed JSON value in UTF-8
	// without duplicate member names.
	CodeBadJSON Code = "stix_bad_json"
	// CodeNotObject: a value that must be a JSON object (the document, an
	// element of a bundle's objects) is not one.
	CodeNotObject Code = "stix_not_object"
	// CodeNotBundle: a bundle was expected and the document is a bare
	// object, or the other way round.
	CodeNotBundle Code = "stix_not_bundle"
	// CodeMissingProperty: a required property is absent.
	CodeMissingProperty Code = "stix_missing_property"
	// CodePropertyNotAllowed: a property is present where the schema
	// forbids it.
	CodePropertyNotAllowed Code = "stix_property_not_allowed"
	// CodeInvalidProperty: a property's value violates its schema.
	CodeInvalidProperty Code = "stix_invalid_property"
	// CodeIDMismatch: an object's id does not begin with its type.
	CodeIDMismatch Code = "stix_id_type_mismatch"
	// CodeModifiedBeforeCreated: an object's modified time precedes its
	// created time.
	CodeModifiedBeforeCreated Code = "stix_modified_before_created"
	// CodeTLPMismatch: a marking definition under a well-known TLP id does
	// not define that TLP level, or a TLP definition is malformed.
	CodeTLPMismatch Code = "stix_tlp_mismatch"
	// CodeBadMarking: a marking given by the caller is not a TLP 2.0 label.
	CodeBadMarking Code = "stix_bad_marking"
	// CodeMarkingTooStrict: content is marked stricter than the envelope
	// that carries it.
	CodeMarkingTooStrict Code = "stix_marking_too_strict"
	// CodeTooManyErrors: more errors were found than [Config.MaxErrors];
	// the rest were not reported.
	CodeTooManyErrors Code = "stix_too_many_errors"
)

// Error is one refusal: what was wrong (Code, Message), in which object and
// at which property. Its Error method gives one line, e.g.
//
//	indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f: property "pattern": missing
type Error struct {
	Code Code
	// Object names the object: its id, or "objects[3]" when it has no
	// usable id. Empty for errors about the document as a whole.
	Object string
	// Property is the path of the offending value within the object, e.g.
	// "valid_from" or "external_references[0].url". Empty when the error is
	// about the object as a whole.
	Property string
	// Message says what is wrong, in lower case without a final period.
	Message string
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Object != "" {
		b.WriteString(e.Object)
		b.WriteString(": ")
	}
	if e.Property != "" {
		b.WriteString("property ")
		b.WriteString(strconv.Quote(e.Property))
		b.WriteString(": ")
	}
	b.WriteString(e.Message)
	return b.String()
}

// Is reports whether target is an *Error with the same code, so that
// errors.Is(err, &Error{Code: CodeTooLarge}) holds for every such refusal.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// Unwrap returns e as a [hotline.Error] with the same code, so that a
// node counts and reports refusals from this package in the one code space
// of [hotline.ErrorCode], and errors.Is matches them against hotline
// error kinds such as [ErrMarkingTooStrict].
func (e *Error) Unwrap() error { return hotline.NewError(string(e.Code), e.Error()) }

// ErrMarkingTooStrict matches, with errors.Is, the refusal of
// [CheckMarking]: content marked stricter than its envelope.
var ErrMarkingTooStrict = hotline.NewError(string(CodeMarkingTooStrict), "content marked stricter than the envelope")

// Errors is every [Error] found in one document, in document order. Its
// Error method gives one line per error.
type Errors []*Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns the errors, so that errors.As finds the first [*Error].
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// CodeOf returns the code of the first [*Error] in err's chain, or "" if
// there is none.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// maxQuoted bounds how much of an input value an error message repeats, so
// that a hostile document cannot make its refusal as long as itself.
const maxQuoted = 64

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	// Cut on a rune boundary.
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}
