package hotline

import (
	"errors"
	"fmt"
)

// Error is a refusal with a stable code. Every way in which this package
// refuses input has its own code, so that a node can answer a peer with it
// and count it; the message says what was wrong in one sentence.
//
// Errors match with [errors.Is] by code: errors.Is(err, ErrBadSignature)
// holds for every refusal with the code "bad_signature".
type Error struct {
	Code string
	msg  string
}

func (e *Error) Error() string { return e.msg }

// Is reports whether target is an *Error with the same code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

func newError(code, msg string) *Error { return &Error{Code: code, msg: msg} }

// NewError returns a refusal kind with its own code, for the layers above
// the protocol (a node's agreement and template checks) that extend the
// code space.
func NewError(code, msg string) *Error { return newError(code, msg) }

// Errorf returns a refusal with kind's code and a message of its own.
func Errorf(kind *Error, format string, args ...any) error { return errorf(kind, format, args...) }

// errorf returns a refusal with kind's code and a message of its own.
func errorf(kind *Error, format string, args ...any) error {
	return &Error{Code: kind.Code, msg: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the stable code of the first [*Error] in err's chain,
// or "" if there is none.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// The refusals of this package. The codes are part of the protocol: nodes
// send them to peers and operators, and docs/PROTOCOL.md lists them.
var (
	// ErrMalformed: the bytes do not follow the format, or do not marshal
	// back to themselves.
	ErrMalformed = newError("malformed", "malformed input")
	// ErrWrongTag: the first line is not the tag the parser expects.
	ErrWrongTag = newError("wrong_tag", "wrong tag")
	// ErrHeaderTooLarge: the signed header is larger than the limit.
	ErrHeaderTooLarge = newError("header_too_large", "signed header too large")
	// ErrEnvelopeTooLarge: the envelope is larger than the limit.
	ErrEnvelopeTooLarge = newError("envelope_too_large", "envelope too large")
	// ErrTooManyRecipients: the header names more recipients than the limit.
	ErrTooManyRecipients = newError("too_many_recipients", "too many recipients")
	// ErrTrailingData: bytes follow the end of the envelope or statement.
	ErrTrailingData = newError("trailing_data", "trailing data")
	// ErrBadSignature: the signature is missing, by another key, or wrong.
	ErrBadSignature = newError("bad_signature", "bad signature")
	// ErrBadStanza: a key stanza does not hash to what the header commits.
	ErrBadStanza = newError("bad_stanza", "key stanza does not match the header")
	// ErrBadPayload: the ciphertext does not hash to what the header commits.
	ErrBadPayload = newError("bad_payload", "ciphertext does not match the header")
	// ErrBadCommitment: the content key or the inner header does not match
	// the commitment the header carries.
	ErrBadCommitment = newError("bad_commitment", "commitment mismatch")
	// ErrNotRecipient: the party is not among the envelope's recipients, or
	// the view is for another party.
	ErrNotRecipient = newError("not_a_recipient", "not a recipient")
	// ErrNoKey: none of the given encryption keys is the one the stanza was
	// sealed to.
	ErrNoKey = newError("no_matching_key", "no matching encryption key")
	// ErrDecrypt: the stanza or the ciphertext does not decrypt.
	ErrDecrypt = newError("decrypt_failed", "decryption failed")
	// ErrFutureCreated: created lies more than MaxClockSkew in the future.
	ErrFutureCreated = newError("future_created", "created in the future")
)
