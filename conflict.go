package hotline

import (
	"bytes"
	"crypto/sha256"

	"golang.org/x/mod/sumdb/note"
)

// SequenceConflictTag is the first line of a sequence-conflict proof.
const SequenceConflictTag = "hotline-sequence-conflict/v1"

// SequenceConflict proves that a sender broke the sequence rule towards one
// recipient: two envelope headers it signed, A and B, where A and B give the
// recipient the same sequence number with different ids, or B's number is
// A's plus one and B's previous id is not A's id. It is self-contained: the
// two signed headers and the sender's message key suffice to check it.
//
// Its text form is canonical:
//
//	hotline-sequence-conflict/v1
//	from <sender>
//	to <recipient>
//	a <base64 of A's signed header: header text, blank line, signature line>
//	b <base64 of B's signed header>
//
// where A comes first: the lower sequence number, or at the same number the
// lower id (byte order).
type SequenceConflict struct {
	From, To string
	// A and B are the signed headers ([Envelope.SignedHeader]).
	A, B []byte
}

// NewSequenceConflict returns the proof that envelopes x and y, both from
// one sender to recipient to, break the sequence rule, or an error if they
// do not.
func NewSequenceConflict(to string, x, y *Envelope) (*SequenceConflict, error) {
	c := &SequenceConflict{From: x.Header.From, To: to, A: x.SignedHeader(), B: y.SignedHeader()}
	ax, ay := x.Header.Index(to), y.Header.Index(to)
	if ax < 0 || ay < 0 {
		return nil, errorf(ErrMalformed, "sequence conflict: %s is not a recipient of both envelopes", to)
	}
	rx, ry := x.Header.Recipients[ax], y.Header.Recipients[ay]
	if ry.Seq < rx.Seq || (ry.Seq == rx.Seq && lessID(y.ID(), x.ID())) {
		c.A, c.B = c.B, c.A
	}
	if _, _, err := c.check(); err != nil {
		return nil, err
	}
	return c, nil
}

// Marshal returns the proof's text form.
func (c *SequenceConflict) Marshal() []byte {
	return text(SequenceConflictTag,
		"from", c.From,
		"to", c.To,
		"a", b64(c.A),
		"b", b64(c.B))
}

// ParseSequenceConflict parses a proof's text form and checks everything
// but the signatures: both headers parse, are from From to To, are in order
// and conflict. [SequenceConflict.Verify] checks the signatures.
func ParseSequenceConflict(t []byte) (*SequenceConflict, error) {
	if len(t) > 2*(4*DefaultMaxHeader/3+8)+256 {
		return nil, errorf(ErrMalformed, "sequence conflict: too large")
	}
	l, err := splitText(t, SequenceConflictTag)
	if err != nil {
		return nil, err
	}
	c := &SequenceConflict{}
	c.From = l.party("from")
	c.To = l.party("to")
	c.A = l.blob("a")
	c.B = l.blob("b")
	l.done()
	if l.err != nil {
		return nil, l.err
	}
	if !bytes.Equal(c.Marshal(), t) {
		return nil, errorf(ErrMalformed, "sequence conflict is not in canonical form")
	}
	if _, _, err := c.check(); err != nil {
		return nil, err
	}
	return c, nil
}

// Verify checks the proof with the sender's message key v: both headers
// are signed by it, with exactly one signature line each.
func (c *SequenceConflict) Verify(v note.Verifier) error {
	if v.Name() != c.From {
		return errorf(ErrBadSignature, "sequence conflict: key %q is not %s's", truncate(v.Name()), c.From)
	}
	if _, _, err := c.check(); err != nil {
		return err
	}
	for _, h := range [][]byte{c.A, c.B} {
		n, err := note.Open(h, note.VerifierList(v))
		if err != nil || len(n.Sigs) != 1 || len(n.UnverifiedSigs) != 0 {
			return errorf(ErrBadSignature, "sequence conflict: a header is not signed by %s's message key alone", c.From)
		}
	}
	return nil
}

// check parses both headers and checks that they conflict.
func (c *SequenceConflict) check() (a, b *Header, err error) {
	if a, err = splitSignedHeader(c.A); err == nil {
		b, err = splitSignedHeader(c.B)
	}
	if err != nil {
		return nil, nil, err
	}
	if a.From != c.From || b.From != c.From {
		return nil, nil, errorf(ErrMalformed, "sequence conflict: the headers are not both from %s", c.From)
	}
	ia, ib := a.Index(c.To), b.Index(c.To)
	if ia < 0 || ib < 0 {
		return nil, nil, errorf(ErrMalformed, "sequence conflict: %s is not a recipient of both", c.To)
	}
	ra, rb := a.Recipients[ia], b.Recipients[ib]
	idA, idB := headerID(c.A), headerID(c.B)
	switch {
	case ra.Seq == rb.Seq && lessID(idA, idB):
	case rb.Seq == ra.Seq+1 && rb.Prev != idA:
	default:
		return nil, nil, errorf(ErrMalformed, "sequence conflict: the headers (%d, %d to %s) do not conflict, or are out of order", ra.Seq, rb.Seq, c.To)
	}
	return a, b, nil
}

// splitSignedHeader parses the header of a signed header: the text up to
// the blank line before the one signature line.
func splitSignedHeader(sh []byte) (*Header, error) {
	text, _, ok := cutSignedHeader(sh)
	if !ok {
		return nil, errorf(ErrMalformed, "sequence conflict: not a signed header with one signature line")
	}
	return parseHeader(text)
}

// cutSignedHeader splits a signed header into its text and signature line.
func cutSignedHeader(sh []byte) (text, sig []byte, ok bool) {
	i := bytes.LastIndex(sh, []byte("\n\n"))
	if i < 0 {
		return nil, nil, false
	}
	text, sig = sh[:i+1], sh[i+2:]
	if !bytes.HasPrefix(sig, []byte(sigLinePrefix)) || bytes.Count(sig, []byte("\n")) != 1 || !bytes.HasSuffix(sig, []byte("\n")) {
		return nil, nil, false
	}
	if _, _, err := parseSigLine(sig); err != nil {
		return nil, nil, false
	}
	return text, sig, true
}

// headerID is the message id of a signed header.
func headerID(sh []byte) ID {
	text, _, _ := cutSignedHeader(sh)
	h := sha256.New()
	h.Write([]byte(idPrefix))
	h.Write(text)
	return ID(h.Sum(nil))
}

func lessID(a, b ID) bool { return bytes.Compare(a[:], b[:]) < 0 }
