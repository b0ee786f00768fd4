package store

import (
	"time"

	"github.com/hotline-net/hotline"
)

// UnprovenQuery selects outbox rows for [Store.Unproven].
type UnprovenQuery struct {
	// Recipient selects the rows to one party; empty selects every
	// recipient.
	Recipient string
	// Limit is the most rows returned; 0 means 100, at most 10000.
	Limit int
}

// Check returns ErrInvalid unless q is a valid query.
func (q *UnprovenQuery) Check() error {
	if q.Limit < 0 {
		return invalid("unproven: negative limit %d", q.Limit)
	}
	return checkText("recipient", q.Recipient, MaxPartyLen)
}

// RelayedDelivery records, for [Store.MarkRelayed], that a relay took a
// sent envelope for one recipient.
type RelayedDelivery struct {
	ID        hotline.ID
	Recipient string
	// Relay is the relay's party (normally the depositary).
	Relay string
	// At is when the relay's receipt arrived.
	At time.Time
	// Receipt is the hotline-relay-receipt/v1 note the relay issued, as
	// received (verified by the caller).
	Receipt []byte
}

// Check returns ErrInvalid unless d can be recorded.
func (d *RelayedDelivery) Check() error {
	if d.ID.IsZero() {
		return invalid("relayed: zero id")
	}
	if err := CheckParty("relayed recipient", d.Recipient); err != nil {
		return err
	}
	if err := CheckParty("relay", d.Relay); err != nil {
		return err
	}
	if err := CheckTime("relayed at", d.At); err != nil {
		return err
	}
	if len(d.Receipt) == 0 {
		return invalid("relayed: empty relay receipt")
	}
	return nil
}

// Relayed is an envelope this node holds as a relay for a recipient that
// could not be reached directly: the recipient's view, as received from the
// sender, with the relay receipt this node issued and, once handed on, the
// recipient's receipt.
type Relayed struct {
	// ID is the message id.
	ID hotline.ID
	// From is the sending party and To the recipient the view is for.
	From, To string
	// Raw is the recipient's view of the envelope (outer header, the
	// recipient's stanza, ciphertext), as received.
	Raw []byte
	// Received is when this node took the envelope.
	Received time.Time
	// Receipt is the hotline-relay-receipt/v1 note this node issued to
	// the sender.
	Receipt []byte

	// HandedOn is when the recipient took the envelope
	// ([Store.RelayHandedOn]); zero while the envelope is pending.
	HandedOn time.Time
	// RecipientReceipt is the recipient's hotline-receipt/v1 note that
	// proved it, as received.
	RecipientReceipt []byte
}

// Check returns ErrInvalid unless r can be stored by [Store.RelayPut].
func (r *Relayed) Check() error {
	if r.ID.IsZero() {
		return invalid("relayed: zero id")
	}
	if err := CheckParty("relayed from", r.From); err != nil {
		return err
	}
	if err := CheckParty("relayed to", r.To); err != nil {
		return err
	}
	if len(r.Raw) == 0 {
		return invalid("relayed: no raw bytes")
	}
	if err := CheckTime("relayed received", r.Received); err != nil {
		return err
	}
	if len(r.Receipt) == 0 {
		return invalid("relayed: empty relay receipt")
	}
	if !r.HandedOn.IsZero() || r.RecipientReceipt != nil {
		return invalid("relayed: handed on already (RelayHandedOn records that)")
	}
	return nil
}

// RelayQuery is a page request for [Store.RelayList].
type RelayQuery struct {
	// To selects the envelopes held for one recipient; empty selects
	// every recipient.
	To string
	// IncludeHandedOn also lists envelopes already handed on; without it
	// only pending ones are listed.
	IncludeHandedOn bool
	// Cursor continues from a previous page's Next; empty starts at the
	// oldest envelope.
	Cursor Cursor
	// Limit is the most envelopes on a page; 0 means 50, at most 1000.
	Limit int
	// MaxBytes, if not zero, ends a page before the envelopes' Raw bytes
	// would pass it; a page holds at least one envelope, however large.
	MaxBytes int64
}

// Check returns ErrInvalid unless q is a valid query.
func (q *RelayQuery) Check() error {
	if q.MaxBytes < 0 {
		return invalid("relay list: negative byte limit %d", q.MaxBytes)
	}
	return checkText("relay recipient", q.To, MaxPartyLen)
}

// RelayPage is a page of relayed envelopes.
type RelayPage struct {
	Items []Relayed
	// Next continues the listing; empty when this is the last page.
	Next Cursor
}
