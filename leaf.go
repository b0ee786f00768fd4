package hotline

import (
	"crypto/sha256"
	"fmt"
)

// Direction says how a log entry relates to the node that logs it.
type Direction byte

const (
	// Sent marks an envelope this node sent.
	Sent Direction = 0x01
	// Received marks an envelope this node received.
	Received Direction = 0x02
	// ReceiptReceived marks a receipt this node received for an envelope it
	// sent; the id is [NoteID] of the receipt's note text.
	ReceiptReceived Direction = 0x03
	// AgreementDocument marks a document of the agreement (a version of the
	// terms, a ratification, a directory entry, a root statement) that the
	// depositary's node holds; the id is [NoteID] of the document's note
	// text. Only the depositary's node logs these.
	AgreementDocument Direction = 0x04
	// RefusalIssued marks a signed refusal this node issued for a peer's
	// envelope; the id is [NoteID] of the refusal's note text.
	RefusalIssued Direction = 0x05
	// RefusalReceived marks a signed refusal this node received for an
	// envelope it sent; the id is [NoteID] of the refusal's note text.
	RefusalReceived Direction = 0x06
)

func (d Direction) String() string {
	switch d {
	case Sent:
		return "sent"
	case Received:
		return "received"
	case ReceiptReceived:
		return "receipt"
	case AgreementDocument:
		return "agreement"
	case RefusalIssued:
		return "refusal issued"
	case RefusalReceived:
		return "refusal received"
	}
	return fmt.Sprintf("Direction(%#02x)", byte(d))
}

// EntrySize is the size in bytes of every entry of a node's log.
const EntrySize = 32

const leafTag = "hotline-leaf/v1\n"

// LeafEntry returns the 32-byte entry that the log with the given origin
// holds for the object id in direction dir:
//
//	SHA-256("hotline-leaf/v1\n" ‖ origin ‖ "\n" ‖ dir ‖ id)
//
// The entry says nothing to whoever reads the log; a party holding the
// envelope or receipt recomputes it and checks its inclusion. Because the
// origin is inside, one message gives unrelated entries in the sender's and
// the recipient's logs. The Merkle leaf hash over the entry is RFC 6962's.
func LeafEntry(origin string, dir Direction, id ID) [EntrySize]byte {
	h := sha256.New()
	h.Write([]byte(leafTag))
	h.Write([]byte(origin))
	h.Write([]byte{'\n', byte(dir)})
	h.Write(id[:])
	var e [EntrySize]byte
	h.Sum(e[:0])
	return e
}
