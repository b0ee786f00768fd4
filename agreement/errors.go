package agreement

import "github.com/hotline-net/hotline"

// Error is a refusal with a stable code: the protocol's [hotline.Error],
// so that agreement, template and protocol refusals share one code space.
// Every way in which this package refuses an agreement, or answers a lookup
// in the negative, has its own code, so that a node can count it and tell
// an operator or a peer what was wrong; the message says it in one
// sentence.
//
// Errors match with [errors.Is] by code: errors.Is(err, ErrKeyNotValid)
// holds for every error with the code "key_not_valid".
type Error = hotline.Error

func newError(code, msg string) *Error { return hotline.NewError(code, msg) }

// errorf returns a refusal with kind's code and a message of its own.
func errorf(kind *Error, format string, args ...any) error {
	return hotline.Errorf(kind, format, args...)
}

// ErrorCode returns the stable code of the first [*Error] in err's chain,
// or "" if there is none.
func ErrorCode(err error) string { return hotline.ErrorCode(err) }

// The refusals of this package. FORMAT.md lists the same codes.
var (
	// ErrMalformed: the input is not JSON, not a signed note, or not of
	// the shape the format requires.
	ErrMalformed = newError("malformed", "malformed agreement")
	// ErrTooLarge: the input is larger than the limit, or nests too deep.
	ErrTooLarge = newError("too_large", "agreement too large")
	// ErrUnknownField: a JSON object has a member the format does not define.
	ErrUnknownField = newError("unknown_field", "unknown field")
	// ErrDuplicateKey: a JSON object names the same member twice.
	ErrDuplicateKey = newError("duplicate_key", "duplicate JSON member")
	// ErrNotCanonical: a signed document is not in the canonical form
	// hotline writes, so it would not have exactly one hash.
	ErrNotCanonical = newError("not_canonical", "not in canonical form")
	// ErrMissing: a required field is absent or empty.
	ErrMissing = newError("missing_field", "missing field")
	// ErrInvalid: a field's value is not allowed (a bad id, time, URL,
	// language, ...).
	ErrInvalid = newError("invalid_value", "invalid value")
	// ErrDuplicateID: two parties, groups, kinds, contacts, keys, members,
	// witnesses or relays have the same id.
	ErrDuplicateID = newError("duplicate_id", "duplicate id")
	// ErrUnknownParty: a party id is not a party of the agreement (a group
	// member, a witness, a relay, an entry's or ratification's party, or the
	// subject of a lookup).
	ErrUnknownParty = newError("unknown_party", "unknown party")
	// ErrUnknownKind: a message kind is not defined by the agreement.
	ErrUnknownKind = newError("unknown_kind", "unknown message kind")
	// ErrUnknownGroup: a group is not defined by the agreement.
	ErrUnknownGroup = newError("unknown_group", "unknown group")
	// ErrZeroDeadline: an obligation has a zero (or absent) deadline for a
	// severity.
	ErrZeroDeadline = newError("zero_deadline", "zero deadline")
	// ErrBadKey: a key does not parse, has the wrong algorithm for its role,
	// or the wrong name, or its validity interval is empty.
	ErrBadKey = newError("bad_key", "bad key")
	// ErrKeyOverlap: two keys of the same role of one party are valid at the
	// same instant.
	ErrKeyOverlap = newError("key_overlap", "overlapping key validity")
	// ErrNoValidKey: from the time a directory entry is issued on, some
	// instant has no valid key for a role every party needs (message,
	// encryption, checkpoint).
	ErrNoValidKey = newError("no_valid_key", "no valid key")
	// ErrKeyHistory: a directory entry drops or alters a key an earlier
	// entry listed, other than by ending or revoking it.
	ErrKeyHistory = newError("key_history", "key history rewritten")
	// ErrBadChain: versions or entries are not numbered 1, 2, 3, ..., do
	// not name their predecessor's hash, or their times go backwards.
	ErrBadChain = newError("bad_chain", "broken chain")
	// ErrFork: two different documents claim the same place in a chain
	// (two version 3s, two entries 5 of one party). A signer equivocated.
	ErrFork = newError("fork", "conflicting documents")
	// ErrBadPolicy: the witness quorum is not a valid C2SP tlog-policy
	// quorum over the agreement's witnesses, or cannot be met without the
	// log owner's own witness.
	ErrBadPolicy = newError("bad_policy", "bad witness policy")
	// ErrBadSignature: a signature is missing, by the wrong key, or wrong.
	ErrBadSignature = newError("bad_signature", "bad signature")
	// ErrBadRatification: a ratification names a version that is not in
	// the chain, under the wrong number, or is duplicated.
	ErrBadRatification = newError("bad_ratification", "bad ratification")
	// ErrRootChanged: a version of the terms, or a draft, lists a party
	// with a root key the party never established: only the version that
	// admits a party fixes its root, and only the party changes it after,
	// by a root statement.
	ErrRootChanged = newError("root_changed", "root key changed by someone other than its party")
	// ErrBadRotation: a root statement reuses an old root, or reveals a
	// key the party did not commit to as its next root.
	ErrBadRotation = newError("bad_rotation", "bad root rotation")
	// ErrNoVersion: there is no signed version (yet), none in force at the
	// time asked, or none with the hash asked.
	ErrNoVersion = newError("no_version", "no such version")
	// ErrKeyNotValid: the party is known, but none of its keys in the
	// requested role is valid at the time asked.
	ErrKeyNotValid = newError("key_not_valid", "no key valid at that time")
)
