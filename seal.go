package hotline

import (
	"bytes"
	"crypto/hkdf"
	"crypto/hpke"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"slices"
	"strings"
	"time"

	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/mod/sumdb/note"
)

// Labels of the key schedule (docs/PROTOCOL.md, "Encryption").
const (
	payloadKeyInfo    = EnvelopeTag + " payload key"
	keyCommitmentInfo = EnvelopeTag + " key commitment"
)

// Draft is what [Seal] turns into an envelope.
type Draft struct {
	// Version is the envelope version to seal: 1 (the default) or 2, whose
	// header hides each recipient's sequence number and previous id from
	// the other recipients and from relays (see [Opening]). A sender
	// seals version 2 only when every recipient's node speaks protocol 2.
	Version   int
	Agreement ID        // hash of the agreement version in force
	From      string    // the sending party; must be the signing key's name
	Group     string    // optional label of the group the recipients came from
	Created   time.Time // truncated to the second
	Exercise  bool
	To        []Addressee // explicit recipients, any order; sealed in ascending order
	Inner     Inner       // kind, severity, marking, thread, refs; Seal draws the salt
	Body      []byte
}

// Addressee is one recipient of a [Draft]: its party id, its current
// encryption key, and the per-pair sequence number and previous envelope id
// the sender's store allocated.
type Addressee struct {
	Party string
	Key   *EncryptionPublicKey
	Seq   uint64
	Prev  ID
}

// Seal encrypts and signs d with the sender's message key, returning a full
// envelope with one key stanza per recipient.
//
// A fresh 32-byte content key is wrapped for each recipient with HPKE
// (MLKEM768-X25519, HKDF-SHA256, ChaCha20-Poly1305; info binds the tag,
// sender, recipient and nonce). HKDF derives from the content key the
// payload key and a key commitment that the header carries, so that one
// envelope cannot open to different plaintexts for different recipients.
func Seal(d *Draft, key *SigningKey) (*Envelope, error) {
	if err := d.check(key); err != nil {
		return nil, fmt.Errorf("sealing: %w", err)
	}
	to := slices.Clone(d.To)
	slices.SortFunc(to, func(a, b Addressee) int { return strings.Compare(a.Party, b.Party) })

	h := Header{
		Version:   max(d.Version, 1),
		Agreement: d.Agreement,
		From:      d.From,
		Group:     d.Group,
		Created:   d.Created.UTC().Truncate(time.Second),
		Exercise:  d.Exercise,
	}
	rand.Read(h.Nonce[:])
	contentKey := make([]byte, 32)
	rand.Read(contentKey)
	inner := d.Inner
	inner.Refs = slices.Clone(d.Inner.Refs)
	rand.Read(inner.Salt[:])

	innerText := inner.marshal()
	h.InnerCommitment = innerCommitment(inner.Salt, innerText)
	payloadKey, commitment, err := deriveKeys(contentKey, h.Nonce)
	if err != nil {
		return nil, fmt.Errorf("sealing: %w", err)
	}
	h.KeyCommitment = commitment
	aead, err := chacha20poly1305.New(payloadKey)
	if err != nil {
		return nil, fmt.Errorf("sealing: %w", err)
	}
	plaintext := make([]byte, 0, len(innerText)+1+len(d.Body))
	plaintext = append(append(append(plaintext, innerText...), '\n'), d.Body...)
	ct := aead.Seal(nil, make([]byte, chacha20poly1305.NonceSize), plaintext, nil)
	h.PayloadSize = int64(len(ct))
	h.PayloadHash = sha256.Sum256(ct)

	e := &Envelope{ciphertext: ct, sealedInner: innerText}
	for _, a := range to {
		r := Recipient{Party: a.Party, Seq: a.Seq, Prev: a.Prev}
		sealed := contentKey
		if h.Version == 2 {
			o := Opening{Seq: a.Seq, Prev: a.Prev}
			rand.Read(o.Salt[:])
			r = Recipient{Party: a.Party, Commitment: o.commitment(a.Party)}
			sealed = append(slices.Clip(contentKey), o.Marshal()...)
			e.sealedOpenings = append(e.sealedOpenings, o.Marshal())
		}
		s, err := sealStanza(&h, a.Key, a.Party, sealed)
		if err != nil {
			return nil, fmt.Errorf("sealing to %s: %w", a.Party, err)
		}
		e.stanzas = append(e.stanzas, s)
		r.StanzaHash = sha256.Sum256(s)
		h.Recipients = append(h.Recipients, r)
	}
	e.Header = h
	e.text = h.marshal()
	if len(e.text) > DefaultMaxHeader {
		return nil, fmt.Errorf("sealing: header of %d bytes exceeds %d", len(e.text), DefaultMaxHeader)
	}
	signed, err := note.Sign(&note.Note{Text: string(e.text)}, key)
	if err != nil {
		return nil, fmt.Errorf("signing: %w", err)
	}
	if e.keyName, e.sig, err = parseSigLine(signed[len(e.text)+1:]); err != nil {
		return nil, fmt.Errorf("signing: %w", err)
	}
	return e, nil
}

func (d *Draft) check(key *SigningKey) error {
	if err := CheckPartyID(d.From); err != nil {
		return fmt.Errorf("from: %w", err)
	}
	if key == nil || key.Name() != d.From || key.IsCosignature() {
		return fmt.Errorf("the signing key must be %s's message key", d.From)
	}
	if d.Group != "" && !validToken(d.Group) {
		return fmt.Errorf("group label %q: 1 to 64 letters, digits, '.', '_', ':', '/' or '-'", truncate(d.Group))
	}
	if d.Created.IsZero() {
		return fmt.Errorf("created time not set")
	}
	if d.Version < 0 || d.Version > 2 {
		return fmt.Errorf("envelope version %d: want 1 or 2", d.Version)
	}
	if len(d.To) == 0 || len(d.To) > DefaultMaxRecipients {
		return fmt.Errorf("%d recipients: want 1 to %d", len(d.To), DefaultMaxRecipients)
	}
	seen := make(map[string]bool, len(d.To))
	for _, a := range d.To {
		if err := CheckPartyID(a.Party); err != nil {
			return fmt.Errorf("to: %w", err)
		}
		switch {
		case a.Party == d.From:
			return fmt.Errorf("to: %s cannot send to itself", a.Party)
		case seen[a.Party]:
			return fmt.Errorf("to: %s named twice", a.Party)
		case a.Key == nil:
			return fmt.Errorf("to %s: no encryption key", a.Party)
		case a.Seq == 0:
			return fmt.Errorf("to %s: sequence numbers start at 1", a.Party)
		case (a.Seq == 1) != a.Prev.IsZero():
			return fmt.Errorf("to %s: envelope %d must name a previous id exactly when it is not the first", a.Party, a.Seq)
		}
		seen[a.Party] = true
	}
	return d.Inner.check()
}

// stanzaInfo binds a key stanza to the header's tag, the sender, the
// recipient and the envelope's nonce.
func stanzaInfo(h *Header, to string) []byte {
	tag := h.tag()
	b := make([]byte, 0, len(tag)+len(h.From)+len(to)+3+NonceSize)
	b = append(b, tag+"\n"+h.From+"\n"+to+"\n"...)
	return append(b, h.Nonce[:]...)
}

// sealStanza seals, for recipient to, the content key (version 1) or the
// content key and to's opening (version 2).
func sealStanza(h *Header, pub *EncryptionPublicKey, to string, sealed []byte) ([]byte, error) {
	wrapped, err := hpke.Seal(pub.pub, hpke.HKDFSHA256(), hpke.ChaCha20Poly1305(), stanzaInfo(h, to), sealed)
	if err != nil {
		return nil, err
	}
	size := h.stanzaSize()
	s := make([]byte, 0, size)
	s = append(append(s, pub.id[:]...), wrapped...)
	if len(s) != size {
		return nil, fmt.Errorf("key stanza of %d bytes, want %d", len(s), size)
	}
	return s, nil
}

// deriveKeys derives the payload key and the key commitment from the
// content key, with the nonce as HKDF salt.
func deriveKeys(contentKey []byte, nonce [NonceSize]byte) (payloadKey []byte, commitment [32]byte, err error) {
	payloadKey, err = hkdf.Key(sha256.New, contentKey, nonce[:], payloadKeyInfo, chacha20poly1305.KeySize)
	if err != nil {
		return nil, commitment, err
	}
	c, err := hkdf.Key(sha256.New, contentKey, nonce[:], keyCommitmentInfo, 32)
	if err != nil {
		return nil, commitment, err
	}
	return payloadKey, [32]byte(c), nil
}

// Message is an opened envelope: the inner header and the body.
type Message struct {
	Inner Inner
	// InnerHeader is the inner header exactly as the sender committed to it;
	// revealing it (with the header) proves kind, severity, marking and refs
	// to a third party without revealing the body. See [Header.CheckInner].
	InnerHeader []byte
	Body        []byte
	// Seq and Prev are the sender's sequence number and previous id
	// towards the party that opened the message: from its "to" line in a
	// version 1 envelope, from its stanza's opening in a version 2 one.
	Seq  uint64
	Prev ID
	// Opening is, in a version 2 envelope, the opening of the party's
	// sequence commitment as its stanza carried it ([Header.Sequence]
	// checks it); nil in version 1.
	Opening []byte
}

// Open decrypts e as party, with whichever of keys the party's stanza was
// sealed to (a party keeps old encryption keys until every message sealed to
// them has been opened). It checks the stanza against the header, the
// ciphertext against the header, the key commitment, and the inner header
// against its commitment. It does not check the signature: call
// [Envelope.Verify] first.
func (e *Envelope) Open(party string, keys ...*EncryptionKey) (*Message, error) {
	// The stanzas present and the ciphertext first, as Verify checks them
	// (one order of checks, PROTOCOL.md §11.2).
	if err := e.checkContent(); err != nil {
		return nil, err
	}
	if e.Header.Index(party) < 0 {
		return nil, errorf(ErrNotRecipient, "%s is not a recipient of this envelope", truncate(party))
	}
	stanza := e.Stanza(party)
	if stanza == nil {
		return nil, errorf(ErrNotRecipient, "this is %s's view of the envelope, not %s's", e.view, party)
	}
	var key *EncryptionKey
	for _, k := range keys {
		if k != nil && bytes.Equal(k.pub.id[:], stanza[:4]) {
			key = k
			break
		}
	}
	if key == nil {
		return nil, errorf(ErrNoKey, "the stanza for %s is sealed to key id %x, which is not among the keys given", party, stanza[:4])
	}
	sealed, err := hpke.Open(key.priv, hpke.HKDFSHA256(), hpke.ChaCha20Poly1305(), stanzaInfo(&e.Header, party), stanza[4:])
	want := 32
	if e.Header.Version == 2 {
		want += OpeningSize
	}
	if err != nil || len(sealed) != want {
		return nil, errorf(ErrDecrypt, "the key stanza for %s does not open", party)
	}
	contentKey, opening := sealed[:32], sealed[32:]
	if len(opening) == 0 {
		opening = nil
	}
	payloadKey, commitment, err := deriveKeys(contentKey, e.Header.Nonce)
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare(commitment[:], e.Header.KeyCommitment[:]) != 1 {
		return nil, errorf(ErrBadCommitment, "the content key in %s's stanza does not match the header's key commitment", party)
	}
	seq, prev, err := e.Header.Sequence(party, opening)
	if err != nil {
		return nil, err
	}
	aead, err := chacha20poly1305.New(payloadKey)
	if err != nil {
		return nil, err
	}
	plaintext, err := aead.Open(nil, make([]byte, chacha20poly1305.NonceSize), e.ciphertext, nil)
	if err != nil {
		return nil, errorf(ErrDecrypt, "the ciphertext does not decrypt")
	}
	innerText, body, ok := bytes.Cut(plaintext, []byte("\n\n"))
	if !ok {
		return nil, errorf(ErrMalformed, "plaintext has no inner header")
	}
	innerText = innerText[:len(innerText)+1] // keep its final newline
	in, err := e.Header.CheckInner(innerText)
	if err != nil {
		return nil, err
	}
	return &Message{Inner: *in, InnerHeader: innerText, Body: body, Seq: seq, Prev: prev, Opening: opening}, nil
}
