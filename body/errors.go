package body

import "github.com/hotline-net/hotline"

// Error is a refusal of a body with a stable code: the protocol's
// [hotline.Error]. A node answers a body that fails its template with the
// protocol code invalid_body and this error's code and message as the
// detail.
//
// Errors match with [errors.Is] by code: errors.Is(err, ErrMissingField)
// holds for every error with the code "missing_field".
type Error = hotline.Error

func newError(code, msg string) *Error { return hotline.NewError(code, msg) }

// errorf returns a refusal with kind's code and a message of its own.
func errorf(kind *Error, format string, args ...any) error {
	return hotline.Errorf(kind, format, args...)
}

// ErrorCode returns the stable code of the first [*Error] in err's chain,
// or "" if there is none.
func ErrorCode(err error) string { return hotline.ErrorCode(err) }

// The refusals of this package.
var (
	// ErrMalformed: not one JSON object in UTF-8.
	ErrMalformed = newError("malformed", "malformed body")
	// ErrTooLarge: larger than the size limit, or nested deeper than the
	// depth limit.
	ErrTooLarge = newError("too_large", "body too large")
	// ErrUnknownField: a member the format does not define.
	ErrUnknownField = newError("unknown_field", "unknown field")
	// ErrDuplicateKey: a JSON object names the same member twice.
	ErrDuplicateKey = newError("duplicate_key", "duplicate JSON member")
	// ErrUnknownKind: no template exists for the message kind.
	ErrUnknownKind = newError("unknown_kind", "no template for this kind")
	// ErrMissingField: the kind's template requires a field that is
	// absent or empty.
	ErrMissingField = newError("missing_field", "missing field")
	// ErrFieldNotAllowed: the kind's template has no such field.
	ErrFieldNotAllowed = newError("field_not_allowed", "field not allowed for this kind")
	// ErrInvalidCode: a code is not in its vocabulary (sectors, norms,
	// actions, ...).
	ErrInvalidCode = newError("invalid_code", "unknown code")
	// ErrInvalidValue: a value is not allowed: a bad time, an empty window,
	// text too long or with control characters, a bad language tag, ...
	ErrInvalidValue = newError("invalid_value", "invalid value")
	// ErrDuplicateValue: a list names the same code or item twice.
	ErrDuplicateValue = newError("duplicate_value", "duplicate value")
	// ErrBadSTIX: the STIX slot does not hold a STIX bundle object.
	ErrBadSTIX = newError("bad_stix", "STIX slot does not hold a bundle")
	// ErrUnsupportedLanguage: rendering was asked for a language outside
	// the six of the catalogue.
	ErrUnsupportedLanguage = newError("unsupported_language", "unsupported language")
)
