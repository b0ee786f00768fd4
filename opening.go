package hotline

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
)

// OpeningSize is the size of a sequence opening: the sequence number (8
// bytes, big-endian), the previous id (32 bytes, zero for none) and a
// 32-byte salt.
const OpeningSize = 8 + 32 + 32

// openingPrefix separates the sequence commitment from every other hash.
const openingPrefix = EnvelopeTagV2 + " sequence\n"

// Opening is what a version 2 header's "to" line commits to for one
// recipient: the sender's sequence number and previous id towards that
// recipient, and a random salt that hides them from everyone who does not
// hold the opening. The opening travels inside the recipient's key stanza,
// so only that recipient (and whoever it shows the opening to) learns them.
//
//	commitment = SHA-256("hotline-envelope/v2 sequence\n" ‖ party ‖ "\n" ‖ opening)
//	opening    = seq (8 bytes, big-endian) ‖ previous id (32 bytes) ‖ salt (32 bytes)
type Opening struct {
	Seq  uint64
	Prev ID
	Salt [32]byte
}

// Marshal returns the opening's [OpeningSize] bytes.
func (o *Opening) Marshal() []byte {
	b := make([]byte, 0, OpeningSize)
	b = binary.BigEndian.AppendUint64(b, o.Seq)
	b = append(b, o.Prev[:]...)
	return append(b, o.Salt[:]...)
}

// commitment returns the commitment to o for party.
func (o *Opening) commitment(party string) [32]byte {
	h := sha256.New()
	h.Write([]byte(openingPrefix + party + "\n"))
	h.Write(o.Marshal())
	return [32]byte(h.Sum(nil))
}

// parseOpening parses an opening's bytes and checks its numbers as a
// version 1 "to" line's are checked.
func parseOpening(b []byte) (*Opening, error) {
	if len(b) != OpeningSize {
		return nil, errorf(ErrMalformed, "sequence opening of %d bytes, want %d", len(b), OpeningSize)
	}
	o := &Opening{Seq: binary.BigEndian.Uint64(b), Prev: ID(b[8:40]), Salt: [32]byte(b[40:])}
	switch {
	case o.Seq == 0:
		return nil, errorf(ErrMalformed, "sequence opening: sequence numbers start at 1")
	case o.Seq > MaxNumber:
		return nil, errorf(ErrMalformed, "sequence opening: sequence number %d is larger than %d", o.Seq, uint64(MaxNumber))
	case o.Seq == 1 && !o.Prev.IsZero():
		return nil, errorf(ErrMalformed, "sequence opening: the first envelope to a party has no previous id")
	case o.Seq > 1 && o.Prev.IsZero():
		return nil, errorf(ErrMalformed, "sequence opening: envelope %d names no previous id", o.Seq)
	}
	return o, nil
}

// Sequence returns party's sequence number and previous id in h. For a
// version 1 header they are on party's "to" line and opening must be
// empty; for a version 2 header, opening (from the party's key stanza, see
// [Message.Opening], or from the sender, see [Envelope.SealedOpening]) must
// be the opening of the commitment on that line (bad_commitment if not).
// It is how a recipient, or an auditor given the opening, checks them.
func (h *Header) Sequence(party string, opening []byte) (seq uint64, prev ID, err error) {
	i := h.Index(party)
	if i < 0 {
		return 0, ID{}, errorf(ErrNotRecipient, "%s is not a recipient of this envelope", truncate(party))
	}
	r := h.Recipients[i]
	if h.Version != 2 {
		if len(opening) != 0 {
			return 0, ID{}, errorf(ErrMalformed, "a version 1 header has no sequence openings")
		}
		return r.Seq, r.Prev, nil
	}
	o, err := parseOpening(opening)
	if err != nil {
		return 0, ID{}, err
	}
	if c := o.commitment(party); subtle.ConstantTimeCompare(c[:], r.Commitment[:]) != 1 {
		return 0, ID{}, errorf(ErrBadCommitment, "the sequence opening for %s does not match the header's commitment", party)
	}
	return o.Seq, o.Prev, nil
}
