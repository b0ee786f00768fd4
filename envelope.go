package hotline

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
)

// Tags and fixed sizes of the envelope format (docs/PROTOCOL.md).
const (
	EnvelopeTag = "hotline-envelope/v1"
	// EnvelopeTagV2 is the tag of an envelope whose header commits to
	// each recipient's sequence number and previous id instead of
	// showing them (PROTOCOL.md §3.3).
	EnvelopeTagV2 = "hotline-envelope/v2"
	innerTag      = "hotline-inner/v1"
	idPrefix      = "hotline/v1 id\n"

	// NonceSize is the size of the random nonce in the outer header.
	NonceSize = 16
	// StanzaSize is the size of one key stanza: a 4-byte key id, the
	// 1,120-byte MLKEM768-X25519 encapsulation and the 48-byte sealed
	// content key.
	StanzaSize = 4 + 1120 + 32 + 16
	// StanzaSizeV2 is the size of a key stanza of a hotline-envelope/v2:
	// its sealed part holds the content key and the recipient's
	// [OpeningSize]-byte sequence opening.
	StanzaSizeV2 = 4 + 1120 + 32 + OpeningSize + 16
	// MaxClockSkew is how far in the future created may lie.
	MaxClockSkew = 15 * time.Minute

	sigLinePrefix = "— "   // U+2014 EM DASH and a space: a C2SP signature line
	markerPrefix  = "--- " // after the signature: "all" or the view's recipient
	markerAll     = "all"
)

// Limits bound what [Read] accepts; each is checked before the input is
// read whole. The zero value of each field means its default.
type Limits struct {
	// MaxHeader bounds the signed header text. Default 256 KiB: enough for
	// 1,024 recipient lines of the longest party ids. (64 KiB would not hold
	// 1,024 recipients at about 120 bytes a line.)
	MaxHeader int
	// MaxEnvelope bounds the whole envelope. Default 16 MiB.
	MaxEnvelope int64
	// MaxRecipients bounds the recipient list. Default 1,024.
	MaxRecipients int
}

// Default limits; see [Limits].
const (
	DefaultMaxHeader     = 256 << 10
	DefaultMaxEnvelope   = 16 << 20
	DefaultMaxRecipients = 1024
)

func (l Limits) withDefaults() Limits {
	if l.MaxHeader <= 0 {
		l.MaxHeader = DefaultMaxHeader
	}
	if l.MaxEnvelope <= 0 {
		l.MaxEnvelope = DefaultMaxEnvelope
	}
	if l.MaxRecipients <= 0 {
		l.MaxRecipients = DefaultMaxRecipients
	}
	return l
}

// Header is the signed outer header of an envelope: what relays, auditors
// and every recipient can read. Kind, severity and marking are inside the
// ciphertext, never here.
type Header struct {
	// Version is the envelope version: 1 (hotline-envelope/v1, each
	// recipient's sequence number and previous id in the clear) or 2
	// (hotline-envelope/v2, a salted commitment to them that only that
	// recipient can open). Zero means 1.
	Version   int
	Nonce     [NonceSize]byte
	Agreement ID     // hash of the agreement version the envelope is sent under
	From      string // sending party
	Group     string // optional label of the group the recipients were expanded from
	Created   time.Time
	Exercise  bool // an exercise, not a real incident

	PayloadSize     int64    // length of the ciphertext
	PayloadHash     [32]byte // SHA-256 of the ciphertext
	KeyCommitment   [32]byte // derived with the payload key from the content key
	InnerCommitment [32]byte // SHA-256(salt ‖ inner header)

	// Recipients in strictly ascending order of party id: who is obliged.
	Recipients []Recipient
}

// Recipient is one recipient's line in the header.
type Recipient struct {
	Party string
	// Seq counts the envelopes from the sender to this party, from 1; Prev
	// is the id of the previous one (zero for the first). Gaps show. In
	// a version 2 header both are zero: the header carries only their
	// Commitment, and the recipient's stanza the [Opening].
	Seq        uint64
	Prev       ID
	Commitment [32]byte // version 2 only: see [Opening]
	StanzaHash [32]byte // SHA-256 of this recipient's key stanza
}

// tag returns the header's tag line (without its newline).
func (h *Header) tag() string {
	if h.Version == 2 {
		return EnvelopeTagV2
	}
	return EnvelopeTag
}

// stanzaSize returns the size of one key stanza of the header's version.
func (h *Header) stanzaSize() int {
	if h.Version == 2 {
		return StanzaSizeV2
	}
	return StanzaSize
}

// Index returns the position of party among the recipients, or -1.
func (h *Header) Index(party string) int {
	i, ok := slices.BinarySearchFunc(h.Recipients, party, func(r Recipient, p string) int { return strings.Compare(r.Party, p) })
	if !ok {
		return -1
	}
	return i
}

// CheckCreated refuses a header created more than [MaxClockSkew] after now.
// There is no lower bound: store-and-forward can take days.
func (h *Header) CheckCreated(now time.Time) error {
	if h.Created.After(now.Add(MaxClockSkew)) {
		return errorf(ErrFutureCreated, "created %s is more than %v after %s", FormatTime(h.Created), MaxClockSkew, FormatTime(now))
	}
	return nil
}

func (h *Header) marshal() []byte {
	var b bytes.Buffer
	b.Grow(256 + 128*len(h.Recipients))
	b.WriteString(h.tag() + "\n")
	fmt.Fprintf(&b, "nonce %s\n", b64(h.Nonce[:]))
	fmt.Fprintf(&b, "agreement %s\n", hexID(h.Agreement))
	fmt.Fprintf(&b, "from %s\n", h.From)
	if h.Group != "" {
		fmt.Fprintf(&b, "group %s\n", h.Group)
	}
	fmt.Fprintf(&b, "created %s\n", FormatTime(h.Created))
	fmt.Fprintf(&b, "exercise %t\n", h.Exercise)
	fmt.Fprintf(&b, "payload %d %s\n", h.PayloadSize, b64(h.PayloadHash[:]))
	fmt.Fprintf(&b, "key %s\n", b64(h.KeyCommitment[:]))
	fmt.Fprintf(&b, "inner %s\n", b64(h.InnerCommitment[:]))
	for _, r := range h.Recipients {
		if h.Version == 2 {
			fmt.Fprintf(&b, "to %s %s %s\n", r.Party, b64(r.Commitment[:]), b64(r.StanzaHash[:]))
			continue
		}
		fmt.Fprintf(&b, "to %s %d %s %s\n", r.Party, r.Seq, optIDString(r.Prev), b64(r.StanzaHash[:]))
	}
	return b.Bytes()
}

// parseHeader parses the signed header text, checks every field, and
// refuses text that does not marshal back to itself.
func parseHeader(text []byte) (*Header, error) {
	h := &Header{Version: 1}
	if bytes.HasPrefix(text, []byte(EnvelopeTagV2+"\n")) {
		h.Version = 2
	}
	l, err := splitText(text, h.tag())
	if err != nil {
		return nil, err
	}
	h.Nonce = [NonceSize]byte(l.b64("nonce", l.next("nonce"), NonceSize))
	h.Agreement = l.id("agreement")
	h.From = l.party("from")
	if l.peek("group") {
		h.Group = l.token("group", validToken)
	}
	h.Created = l.time("created")
	switch v := l.next("exercise"); {
	case l.err != nil:
	case v == "true":
		h.Exercise = true
	case v != "false":
		l.fail("exercise: want true or false")
	}
	if v := l.next("payload"); l.err == nil {
		size, hash, _ := strings.Cut(v, " ")
		n := l.uint("payload", size)
		if l.err == nil && (n < 16 || n > 1<<40) {
			l.fail("payload: size %d out of range", n)
		}
		h.PayloadSize = int64(n)
		h.PayloadHash = [32]byte(l.b64("payload", hash, 32))
	}
	h.KeyCommitment = l.hash("key")
	h.InnerCommitment = l.hash("inner")
	for l.err == nil && len(l.rest) > 0 {
		v := l.next("to")
		f := strings.Split(v, " ")
		if l.err != nil {
			break
		}
		var r Recipient
		switch {
		case h.Version == 2 && len(f) == 3:
			r = Recipient{Party: f[0], Commitment: [32]byte(l.b64("to", f[1], 32))}
			r.StanzaHash = [32]byte(l.b64("to", f[2], 32))
		case h.Version == 2:
			l.fail("to: want party, sequence commitment and stanza hash")
		case len(f) == 4:
			r = Recipient{Party: f[0], Seq: l.uint("to", f[1]), Prev: l.optID("to", f[2])}
			r.StanzaHash = [32]byte(l.b64("to", f[3], 32))
		default:
			l.fail("to: want party, sequence number, previous id and stanza hash")
		}
		if err := CheckPartyID(r.Party); err != nil {
			l.fail("to: %v", err)
		}
		if l.err != nil {
			break
		}
		switch {
		case r.Party == h.From:
			l.fail("to: the sender %s cannot be a recipient", r.Party)
		case len(h.Recipients) > 0 && r.Party <= h.Recipients[len(h.Recipients)-1].Party:
			l.fail("to: recipients must be unique and in ascending order (%s after %s)", r.Party, h.Recipients[len(h.Recipients)-1].Party)
		case h.Version == 2:
		case r.Seq == 0:
			l.fail("to %s: sequence numbers start at 1", r.Party)
		case r.Seq == 1 && !r.Prev.IsZero():
			l.fail("to %s: the first envelope to a party has no previous id", r.Party)
		case r.Seq > 1 && r.Prev.IsZero():
			l.fail("to %s: envelope %d names no previous id", r.Party, r.Seq)
		}
		h.Recipients = append(h.Recipients, r)
	}
	if l.err == nil && len(h.Recipients) == 0 {
		l.fail("no recipients")
	}
	l.done()
	if l.err != nil {
		return nil, l.err
	}
	if !bytes.Equal(h.marshal(), text) {
		return nil, errorf(ErrMalformed, "envelope header is not in canonical form")
	}
	return h, nil
}

// Envelope is one message on the wire: the signed outer header, key stanzas
// and the ciphertext. A full envelope carries one stanza per recipient; a
// recipient's view (see [Envelope.View]) carries only that recipient's.
//
// An Envelope is immutable once built by [Seal], [Parse] or [Read] and safe
// for concurrent use.
type Envelope struct {
	Header     Header
	text       []byte // the signed header bytes
	keyName    string
	sig        []byte // key hash ‖ Ed25519 signature, as on the signature line
	view       string // "" for the full envelope
	stanzas    [][]byte
	ciphertext []byte
	// sealedInner is the inner header, salt included, of an envelope
	// this process sealed; nil for one parsed or read.
	sealedInner []byte
	// sealedOpenings are, for a version 2 envelope this process sealed,
	// each recipient's opening in the order of the recipients.
	sealedOpenings [][]byte
}

// SealedOpening returns, for a version 2 envelope returned by [Seal], the
// opening of party's sequence commitment (see [Opening]); nil for a
// version 1 envelope, one parsed or read, or a party not a recipient. The
// sender keeps it to show a third party what it committed to.
func (e *Envelope) SealedOpening(party string) []byte {
	i := e.Header.Index(party)
	if i < 0 || e.sealedOpenings == nil {
		return nil
	}
	return bytes.Clone(e.sealedOpenings[i])
}

// SealedInner returns the inner header (salt included) of an envelope
// returned by [Seal], and nil for one parsed or read: the sender keeps it
// so that it can later reveal, in an evidence bundle, what it committed to
// in the header's inner line, as a recipient can. See [Header.CheckInner].
func (e *Envelope) SealedInner() []byte { return bytes.Clone(e.sealedInner) }

// ID returns the message id: SHA-256("hotline/v1 id\n" ‖ signed header
// bytes). It covers neither the signature nor the stanzas, so a signer
// cannot mint several ids for one message.
func (e *Envelope) ID() ID {
	h := sha256.New()
	h.Write([]byte(idPrefix))
	h.Write(e.text)
	return ID(h.Sum(nil))
}

// HeaderText returns the signed header bytes: the text of the C2SP signed
// note the sender signed.
func (e *Envelope) HeaderText() []byte { return bytes.Clone(e.text) }

// SignedHeader returns the signed header as a C2SP signed note (text, blank
// line, signature line), verifiable with any signed-note implementation.
func (e *Envelope) SignedHeader() []byte {
	return append(append(bytes.Clone(e.text), '\n'), e.sigLine()...)
}

func (e *Envelope) sigLine() []byte {
	return []byte(sigLinePrefix + e.keyName + " " + base64.StdEncoding.EncodeToString(e.sig) + "\n")
}

// ViewFor returns the recipient whose view e is, or "" for a full envelope.
func (e *Envelope) ViewFor() string { return e.view }

// Ciphertext returns the ciphertext.
func (e *Envelope) Ciphertext() []byte { return e.ciphertext }

// Stanza returns the key stanza of party, or nil if e does not carry it.
func (e *Envelope) Stanza(party string) []byte {
	i := e.Header.Index(party)
	switch {
	case i < 0:
		return nil
	case e.view == "":
		return e.stanzas[i]
	case e.view == party:
		return e.stanzas[0]
	}
	return nil
}

// View returns what a node sends to party: the signed header, party's key
// stanza and the ciphertext.
func (e *Envelope) View(party string) (*Envelope, error) {
	if e.view == party {
		return e, nil
	}
	s := e.Stanza(party)
	if s == nil {
		return nil, errorf(ErrNotRecipient, "%s is not a recipient of this envelope", truncate(party))
	}
	v := *e
	v.view = party
	v.stanzas = [][]byte{s}
	return &v, nil
}

// Marshal returns the envelope's wire bytes:
//
//	signed header text ‖ "\n" ‖ signature line ‖ "--- all\n" or "--- <recipient>\n" ‖ stanzas ‖ ciphertext
func (e *Envelope) Marshal() []byte {
	marker := markerPrefix + markerAll + "\n"
	if e.view != "" {
		marker = markerPrefix + e.view + "\n"
	}
	sl := e.sigLine()
	b := make([]byte, 0, len(e.text)+1+len(sl)+len(marker)+len(e.stanzas)*e.Header.stanzaSize()+len(e.ciphertext))
	b = append(b, e.text...)
	b = append(b, '\n')
	b = append(b, sl...)
	b = append(b, marker...)
	for _, s := range e.stanzas {
		b = append(b, s...)
	}
	return append(b, e.ciphertext...)
}

// Size returns len(e.Marshal()) without building it.
func (e *Envelope) Size() int64 {
	n := len(e.text) + 1 + len(e.sigLine()) + len(markerPrefix) + 1 + len(e.stanzas)*e.Header.stanzaSize() + len(e.ciphertext)
	if e.view != "" {
		n += len(e.view)
	} else {
		n += len(markerAll)
	}
	return int64(n)
}

// Parse parses an envelope or a recipient's view from b, with default
// [Limits]. See [Read].
func Parse(b []byte) (*Envelope, error) { return Read(bytes.NewReader(b), Limits{}) }

// Read reads one envelope or recipient's view from r, which must hold
// nothing else. It checks the format, the limits, and that the bytes are
// canonical (they marshal back to themselves); it checks no signature and
// no hash — see [Envelope.Verify]. Limits are enforced as the input is read:
// a header, envelope or recipient list over its limit is refused before the
// rest is read.
func Read(r io.Reader, lim Limits) (*Envelope, error) {
	lim = lim.withDefaults()
	size := 16 << 10
	if l, ok := r.(interface{ Len() int }); ok && l.Len() < size {
		// Reading from memory (a request body already read): a buffer
		// the size of the input will do.
		size = l.Len()
	}
	br := bufio.NewReaderSize(r, size)

	tag, err := readLine(br, len(EnvelopeTag)+1)
	switch {
	case err == errLineTooLong || err == nil && string(tag) != EnvelopeTag+"\n" && string(tag) != EnvelopeTagV2+"\n":
		return nil, errorf(ErrWrongTag, "not a %s envelope", EnvelopeTag)
	case err != nil:
		return nil, readErr("envelope", err)
	}
	text := append([]byte(nil), tag...)
	recipients := 0
	for {
		line, err := readLine(br, lim.MaxHeader-len(text))
		if err == errLineTooLong {
			return nil, errorf(ErrHeaderTooLarge, "signed header is larger than %d bytes", lim.MaxHeader)
		}
		if err != nil {
			return nil, readErr("envelope header", err)
		}
		if len(line) == 1 {
			break // the blank line that ends the note text
		}
		if bytes.HasPrefix(line, []byte("to ")) {
			if recipients++; recipients > lim.MaxRecipients {
				return nil, errorf(ErrTooManyRecipients, "more than %d recipients", lim.MaxRecipients)
			}
		}
		text = append(text, line...)
	}
	sigLine, err := readLine(br, 256)
	if err != nil {
		return nil, readErr("signature line", err)
	}
	keyName, sig, err := parseSigLine(sigLine)
	if err != nil {
		return nil, err
	}
	marker, err := readLine(br, len(markerPrefix)+17)
	if err != nil || !bytes.HasPrefix(marker, []byte(markerPrefix)) {
		if bytes.HasPrefix(marker, []byte(sigLinePrefix)) {
			return nil, errorf(ErrMalformed, "envelope header carries more than one signature")
		}
		return nil, errorf(ErrMalformed, "missing %q line after the signature", markerPrefix+"all")
	}
	h, err := parseHeader(text)
	if err != nil {
		return nil, err
	}
	e := &Envelope{Header: *h, text: text, keyName: keyName, sig: sig}
	n := len(h.Recipients)
	if v := string(marker[len(markerPrefix) : len(marker)-1]); v != markerAll {
		if h.Index(v) < 0 {
			return nil, errorf(ErrMalformed, "view for %q, who is not a recipient", truncate(v))
		}
		e.view, n = v, 1
	}
	ss := h.stanzaSize()
	total := int64(len(text)+1+len(sigLine)+len(marker)) + int64(n*ss) + h.PayloadSize
	if total > lim.MaxEnvelope {
		return nil, errorf(ErrEnvelopeTooLarge, "envelope of %d bytes is larger than %d", total, lim.MaxEnvelope)
	}
	rest := make([]byte, int64(n*ss)+h.PayloadSize)
	if _, err := io.ReadFull(br, rest); err != nil {
		return nil, readErr("envelope body", err)
	}
	for i := range n {
		e.stanzas = append(e.stanzas, rest[i*ss:(i+1)*ss:(i+1)*ss])
	}
	e.ciphertext = rest[n*ss:]
	if _, err := br.ReadByte(); err != io.EOF {
		if err == nil {
			return nil, errorf(ErrTrailingData, "bytes follow the end of the envelope")
		}
		return nil, readErr("envelope", err)
	}
	return e, nil
}

var errLineTooLong = errors.New("line too long")

// readLine reads one line including its newline, refusing to buffer more
// than max bytes.
func readLine(br *bufio.Reader, max int) ([]byte, error) {
	var line []byte
	for {
		frag, err := br.ReadSlice('\n')
		if len(line)+len(frag) > max {
			return nil, errLineTooLong
		}
		line = append(line, frag...)
		switch err {
		case nil:
			return line, nil
		case bufio.ErrBufferFull:
			continue
		case io.EOF:
			return nil, io.ErrUnexpectedEOF
		default:
			return nil, err
		}
	}
}

func readErr(what string, err error) error {
	switch err {
	case io.ErrUnexpectedEOF, io.EOF:
		return errorf(ErrMalformed, "%s: truncated", what)
	case errLineTooLong:
		return errorf(ErrMalformed, "%s: line too long", what)
	}
	return fmt.Errorf("reading %s: %w", what, err)
}

// parseSigLine parses a C2SP signature line with an Ed25519 signature:
// "— <key name> <base64(key hash ‖ signature)>\n".
func parseSigLine(line []byte) (string, []byte, error) {
	s, ok := strings.CutPrefix(string(line), sigLinePrefix)
	if !ok {
		return "", nil, errorf(ErrBadSignature, "missing signature line")
	}
	name, sig64, ok := strings.Cut(strings.TrimSuffix(s, "\n"), " ")
	sig, err := base64.StdEncoding.Strict().DecodeString(sig64)
	if !ok || err != nil || len(sig) != 4+64 || !validKeyName(name) || base64.StdEncoding.EncodeToString(sig) != sig64 {
		return "", nil, errorf(ErrBadSignature, "malformed signature line")
	}
	return name, sig, nil
}

// Verify checks what can be checked without a decryption key: that the
// header is signed by v (the sender's message key, named for the sender),
// that the ciphertext is the one the header commits to, and that every
// stanza present is the one the header commits to. Relays and auditors call
// it; recipients call it before [Envelope.Open].
func (e *Envelope) Verify(v note.Verifier) error {
	if v.Name() != e.Header.From {
		return errorf(ErrBadSignature, "verifier key is %q's, the envelope is from %s", truncate(v.Name()), e.Header.From)
	}
	if e.keyName != e.Header.From || binary.BigEndian.Uint32(e.sig) != v.KeyHash() {
		return errorf(ErrBadSignature, "header is signed by key %s+%08x, not %s's message key %s+%08x",
			e.keyName, binary.BigEndian.Uint32(e.sig), e.Header.From, v.Name(), v.KeyHash())
	}
	if _, err := note.Open(e.SignedHeader(), note.VerifierList(v)); err != nil {
		return errorf(ErrBadSignature, "header signature does not verify with %s's message key", e.Header.From)
	}
	return e.checkContent()
}

// checkContent checks every stanza present, then the ciphertext, against
// the header: the order of PROTOCOL.md §11.2 step 7, the same in Verify and
// Open.
func (e *Envelope) checkContent() error {
	for _, r := range e.Header.Recipients {
		if s := e.Stanza(r.Party); s != nil && sha256.Sum256(s) != r.StanzaHash {
			return errorf(ErrBadStanza, "key stanza for %s does not match the header", r.Party)
		}
	}
	return e.checkPayload()
}

func (e *Envelope) checkPayload() error {
	if int64(len(e.ciphertext)) != e.Header.PayloadSize || sha256.Sum256(e.ciphertext) != e.Header.PayloadHash {
		return errorf(ErrBadPayload, "ciphertext does not match the header's payload commitment")
	}
	return nil
}

// Inner is the inner header: what only the recipients read.
type Inner struct {
	Kind     string // message kind, e.g. "notification"; the agreement defines them
	Severity Severity
	Marking  Marking
	Thread   ID   // zero: this message starts a thread whose id is its own id
	Refs     []ID // messages this one refers to (acknowledges, answers, retracts, …)
	Salt     [32]byte
}

// ThreadID returns the id of the thread a message with this inner header
// and id belongs to.
func (in *Inner) ThreadID(id ID) ID {
	if in.Thread.IsZero() {
		return id
	}
	return in.Thread
}

func (in *Inner) check() error {
	switch {
	case !ValidKind(in.Kind):
		return fmt.Errorf("kind %q: lower-case letters, digits and '_', a letter first", truncate(in.Kind))
	case !in.Severity.Valid():
		return fmt.Errorf("severity %q: not one of low, medium, high, critical", truncate(string(in.Severity)))
	case !in.Marking.Valid():
		return fmt.Errorf("marking %q: not a TLP 2.0 label", truncate(string(in.Marking)))
	case len(in.Refs) > 256:
		return fmt.Errorf("%d refs: at most 256", len(in.Refs))
	}
	seen := make(map[ID]bool, len(in.Refs))
	for _, r := range in.Refs {
		if r.IsZero() || seen[r] {
			return fmt.Errorf("refs: zero or repeated id %s", r)
		}
		seen[r] = true
	}
	return nil
}

func (in *Inner) marshal() []byte {
	var b bytes.Buffer
	b.WriteString(innerTag + "\n")
	fmt.Fprintf(&b, "kind %s\n", in.Kind)
	fmt.Fprintf(&b, "severity %s\n", in.Severity)
	fmt.Fprintf(&b, "marking %s\n", string(in.Marking))
	if !in.Thread.IsZero() {
		fmt.Fprintf(&b, "thread %s\n", in.Thread)
	}
	for _, r := range in.Refs {
		fmt.Fprintf(&b, "ref %s\n", r)
	}
	fmt.Fprintf(&b, "salt %s\n", b64(in.Salt[:]))
	return b.Bytes()
}

func parseInner(text []byte) (*Inner, error) {
	l, err := splitText(text, innerTag)
	if err != nil {
		return nil, err
	}
	in := &Inner{}
	in.Kind = l.token("kind", ValidKind)
	in.Severity = Severity(l.token("severity", func(s string) bool { return Severity(s).Valid() }))
	in.Marking = Marking(l.token("marking", func(s string) bool { return Marking(s).Valid() }))
	if l.peek("thread") {
		in.Thread = l.optID("thread", l.next("thread"))
	}
	for l.peek("ref") {
		in.Refs = append(in.Refs, l.optID("ref", l.next("ref")))
	}
	in.Salt = l.hash("salt")
	l.done()
	if l.err != nil {
		return nil, l.err
	}
	if err := in.check(); err != nil {
		return nil, errorf(ErrMalformed, "inner header: %v", err)
	}
	if !bytes.Equal(in.marshal(), text) {
		return nil, errorf(ErrMalformed, "inner header is not in canonical form")
	}
	return in, nil
}

// innerCommitment returns SHA-256(salt ‖ inner header).
func innerCommitment(salt [32]byte, innerHeader []byte) [32]byte {
	h := sha256.New()
	h.Write(salt[:])
	h.Write(innerHeader)
	return [32]byte(h.Sum(nil))
}

// CheckInner parses a revealed inner header (as [Message.InnerHeader] holds
// it) and checks it against the commitment in h. It is how a third party
// holding an evidence bundle learns, without the body, the kind, severity,
// marking and refs the sender committed to.
func (h *Header) CheckInner(innerHeader []byte) (*Inner, error) {
	in, err := parseInner(innerHeader)
	if err != nil {
		return nil, err
	}
	if c := innerCommitment(in.Salt, innerHeader); subtle.ConstantTimeCompare(c[:], h.InnerCommitment[:]) != 1 {
		return nil, errorf(ErrBadCommitment, "inner header does not match the header's inner commitment")
	}
	return in, nil
}
