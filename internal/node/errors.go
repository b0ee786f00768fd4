package node

import (
	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/internal/refusal"
)

// The node's refusals, in the protocol's code space (docs/PROTOCOL.md lists
// the protocol's own).
var (
	// ErrUnknownAgreement: the envelope names an agreement version this
	// node does not have.
	ErrUnknownAgreement = hotline.NewError("unknown_agreement", "unknown agreement version")
	// ErrUnknownSender: the sender is not a party to that version.
	ErrUnknownSender = hotline.NewError("unknown_sender", "unknown sender")
	// ErrNotRatified: the sender or the recipient has not ratified that
	// version; or, sending, no version is ratified by the sender and all
	// its recipients.
	ErrNotRatified = hotline.NewError("not_ratified", "sender has not ratified the agreement version")
	// ErrKeyNotValid: the sender has no message key valid now.
	ErrKeyNotValid = hotline.NewError("key_not_valid", "no valid message key")
	// ErrUnknownKind: the inner header names a kind the agreement lacks.
	ErrUnknownKind = hotline.NewError("unknown_kind", "unknown message kind")
	// ErrInvalidBody: the body does not follow its kind's template.
	ErrInvalidBody = hotline.NewError("invalid_body", "invalid body")
	// ErrUnknownRecipient: a send names a party that is not in the
	// agreement, or a group that does not exist.
	ErrUnknownRecipient = hotline.NewError("unknown_recipient", "unknown recipient")
	// ErrSequenceConflict: the envelope breaks the sequence rule against one
	// this node received from the same sender before: the same sequence
	// number with another id, or a previous id that is not the known
	// predecessor (PROTOCOL §3.1). The node keeps both signed headers as a
	// proof ([hotline.SequenceConflict]) and raises an alarm.
	ErrSequenceConflict = hotline.NewError("sequence_conflict", "the envelope breaks the sender's sequence")
	// ErrNotFound: no such message.
	ErrNotFound = hotline.NewError("not_found", "not found")
	// ErrInvalidRequest: an operator request that cannot be carried out as
	// asked.
	ErrInvalidRequest = hotline.NewError("invalid_request", "invalid request")
)

// Code returns the stable code of a refusal from any layer, or "internal"
// for an error that is not a refusal: [refusal.Code].
func Code(err error) string { return refusal.Code(err) }
