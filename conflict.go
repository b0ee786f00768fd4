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
// two signed headers, with the recipient's sequence opening of each that
// is a version 2 header, and the sender's message key suffice to check it.
//
// Its text form is canonical:
//
//	hotline-sequence-conflict/v1
//	from <sender>
//	to <recipient>
//	a <base64 of A's signed header: header text, blank line, signature line>
//	a-opening <base64 of the recipient's opening in A>   (only if A is hotline-envelope/v2)
//	b <base64 of B's signed header>
//	b-opening <base64 of the recipient's opening in B>   (only if B is hotline-envelope/v2)
//
// where A comes first: the lower sequence number, or at the same number the
// lower id (byte order).
type SequenceConflict struct {
	From, To string
	// A and B are the signed headers ([Envelope.SignedHeader]).
	A, B []byte
	// AOpening and BOpening are the openings of To's sequence commitment
	// in A and B ([Message.Opening]); nil for a version 1 header.
	AOpening, BOpening []byte
}

// NewSequenceConflict returns the proof that envelopes x and y, both from
// one sender to recipient to, break the sequence rule, or an error if they
// do not. xOpening and yOpening are to's openings in x and y (nil for a
// version 1 envelope).
func NewSequenceConflict(to string, x *Envelope, xOpening []byte, y *Envelope, yOpening []byte) (*SequenceConflict, error) {
	c := &SequenceConflict{From: x.Header.From, To: to, A: x.SignedHeader(), B: y.SignedHeader(), AOpening: xOpening, BOpening: yOpening}
	sx, _, err := x.Header.Sequence(to, xOpening)
	if err != nil {
		return nil, err
	}
	sy, _, err := y.Header.Sequence(to, yOpening)
	if err != nil {
		return nil, err
	}
	if sy < sx || (sy == sx && lessID(y.ID(), x.ID())) {
		c.A, c.B = c.B, c.A
		c.AOpening, c.BOpening = c.BOpening, c.AOpening
	}
	if _, _, err := c.check(); err != nil {
		return nil, err
	}
	return c, nil
}

// Marshal returns the proof's text form.
func (c *SequenceConflict) Marshal() []byte {
	kv := []string{"from", c.From, "to", c.To, "a", b64(c.A)}
	if c.AOpening != nil {
		kv = append(kv, "a-opening", b64(c.AOpening))
	}
	kv = append(kv, "b", b64(c.B))
	if c.BOpening != nil {
		kv = append(kv, "b-opening", b64(c.BOpening))
	}
	return text(SequenceConflictTag, kv...)
}

// ParseSequenceConflict parses a proof's text form and checks everything
// but the signatures: both headers parse, are from From to To, are in order
// and conflict. [SequenceConflict.Verify] checks the signatures.
func ParseSequenceConflict(t []byte) (*SequenceConflict, error) {
	if len(t) > 2*(4*DefaultMaxHeader/3+8)+512 {
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
	if l.peek("a-opening") {
		c.AOpening = l.blob("a-opening")
	}
	c.B = l.blob("b")
	if l.peek("b-opening") {
		c.BOpening = l.blob("b-opening")
	}
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
	if a.Index(c.To) < 0 || b.Index(c.To) < 0 {
		return nil, nil, errorf(ErrMalformed, "sequence conflict: %s is not a recipient of both", c.To)
	}
	seqA, _, err := a.Sequence(c.To, c.AOpening)
	if err != nil {
		return nil, nil, err
	}
	seqB, prevB, err := b.Sequence(c.To, c.BOpening)
	if err != nil {
		return nil, nil, err
	}
	idA, idB := headerID(c.A), headerID(c.B)
	switch {
	case seqA == seqB && lessID(idA, idB):
	case seqB == seqA+1 && prevB != idA:
	default:
		return nil, nil, errorf(ErrMalformed, "sequence conflict: the headers (%d, %d to %s) do not conflict, or are out of order", seqA, seqB, c.To)
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
