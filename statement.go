package hotline

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
)

// Tags of the signed statements.
const (
	ReceiptTag      = "hotline-receipt/v1"
	HeartbeatTag    = "hotline-heartbeat/v1"
	RatificationTag = "hotline-ratification/v1"
	RequestTag      = "hotline-request/v2"
	RequestV1Tag    = "hotline-request/v1"
	RelayReceiptTag = "hotline-relay-receipt/v1"
	RefusalTag      = "hotline-refusal/v1"
)

// MaxStatementSize bounds a signed statement, signatures included: a
// heartbeat carries checkpoints, nothing carries more.
const MaxStatementSize = 1 << 20

// Statement is a signed statement: a C2SP signed note whose text starts
// with a fixed tag line, followed by "key value" lines in a fixed order.
// Everything a statement's signature covers is the text its signer built.
type Statement interface {
	// Tag returns the statement's first line.
	Tag() string
	// Text returns the note text: the tag line and the value lines.
	Text() []byte
}

// Sign returns st as a signed note, signed by each of signers.
func Sign(st Statement, signers ...note.Signer) ([]byte, error) {
	b, err := note.Sign(&note.Note{Text: string(st.Text())}, signers...)
	if err != nil {
		return nil, fmt.Errorf("signing %s: %w", st.Tag(), err)
	}
	return b, nil
}

// openNote checks the tag and size of a signed note, verifies it against
// known, and returns its text. Signatures by keys not in known are ignored;
// at least one known key must have signed.
func openNote(msg []byte, tag string, known note.Verifiers) (*note.Note, error) {
	if len(msg) > MaxStatementSize {
		return nil, errorf(ErrMalformed, "%s: larger than %d bytes", tag, MaxStatementSize)
	}
	if !bytes.HasPrefix(msg, []byte(tag+"\n")) {
		first, _, _ := bytes.Cut(msg, []byte("\n"))
		return nil, errorf(ErrWrongTag, "first line is %q, want %q", truncate(string(first)), tag)
	}
	n, err := note.Open(msg, known)
	if err == nil && len(n.Sigs)+len(n.UnverifiedSigs) != 1 {
		// A statement has one signer; a signature line appended by anyone
		// else would make its bytes, and what it seems to attest, vary.
		return nil, errorf(ErrBadSignature, "%s: %d signature lines, want exactly one", tag, len(n.Sigs)+len(n.UnverifiedSigs))
	}
	if err != nil {
		var unverified *note.UnverifiedNoteError
		var invalid *note.InvalidSignatureError
		switch {
		case errors.As(err, &unverified):
			return nil, errorf(ErrBadSignature, "%s: not signed by any expected key", tag)
		case errors.As(err, &invalid):
			return nil, errorf(ErrBadSignature, "%s: %v", tag, err)
		}
		// x/mod/sumdb/note exports no sentinel for a malformed note.
		return nil, errorf(ErrMalformed, "%s: %v", tag, err)
	}
	return n, nil
}

// text builds a statement's note text from its tag and value lines.
func text(tag string, kv ...string) []byte {
	var b bytes.Buffer
	b.WriteString(tag + "\n")
	for i := 0; i+1 < len(kv); i += 2 {
		b.WriteString(kv[i] + " " + kv[i+1] + "\n")
	}
	return b.Bytes()
}

// finish completes a statement parser: no lines may be left, and the text
// must be exactly what the parsed value marshals to.
func finish(l *lines, st Statement, input []byte) error {
	l.done()
	if l.err != nil {
		return l.err
	}
	if !bytes.Equal(st.Text(), input) {
		return errorf(ErrMalformed, "%s is not in canonical form", st.Tag())
	}
	return nil
}

// Receipt is a recipient node's signed statement that it accepted, opened
// and durably stored an envelope, and sequenced its leaf at LogIndex in the
// log with origin LogOrigin. Signed with the receiving party's message key.
type Receipt struct {
	Message   ID
	Party     string // the receiving party
	Received  time.Time
	LogOrigin string
	LogIndex  uint64
}

// Tag implements [Statement].
func (r *Receipt) Tag() string { return ReceiptTag }

// Text implements [Statement].
func (r *Receipt) Text() []byte {
	return text(ReceiptTag,
		"message", r.Message.String(),
		"party", r.Party,
		"received", FormatTime(r.Received),
		"log", r.LogOrigin,
		"index", fmt.Sprint(r.LogIndex))
}

// ParseReceipt parses a receipt's note text (without signatures).
func ParseReceipt(t []byte) (*Receipt, error) {
	l, err := splitText(t, ReceiptTag)
	if err != nil {
		return nil, err
	}
	r := &Receipt{}
	r.Message = l.id("message")
	r.Party = l.party("party")
	r.Received = l.time("received")
	r.LogOrigin = l.token("log", validKeyName)
	r.LogIndex = l.uint("index", l.next("index"))
	if err := finish(l, r, t); err != nil {
		return nil, err
	}
	return r, nil
}

// OpenReceipt verifies a signed receipt against the receiving party's
// message key and parses it. It also returns the receipt's id, [NoteID] of
// its text: what the sender logs as a [ReceiptReceived] entry.
func OpenReceipt(msg []byte, v note.Verifier) (*Receipt, ID, error) {
	n, err := openNote(msg, ReceiptTag, note.VerifierList(v))
	if err != nil {
		return nil, ID{}, err
	}
	r, err := ParseReceipt([]byte(n.Text))
	if err != nil {
		return nil, ID{}, err
	}
	if r.Party != v.Name() {
		return nil, ID{}, errorf(ErrBadSignature, "receipt for party %s is signed by %s's key", r.Party, truncate(v.Name()))
	}
	return r, NoteID([]byte(n.Text)), nil
}

// Heartbeat is what every node sends every peer on a fixed interval:
// liveness, the sequence numbers each side has seen, and checkpoint gossip.
// Signed with the sender's message key.
type Heartbeat struct {
	From    string
	To      string
	Time    time.Time
	Counter uint64 // increases with every heartbeat From sends To
	// Sent is the sequence number of the last envelope From sent To;
	// Received the highest sequence number From received from To with no
	// gap below it. "You say you sent up to 41; I have 39."
	Sent     uint64
	Received uint64
	// Agreement is the digest of the agreement chain From holds
	// (agreement.Agreement.Digest); zero when absent. A peer whose digest
	// differs holds documents the other lacks: the nodes exchange them
	// (docs/PROTOCOL.md §11.6).
	Agreement ID
	// Checkpoint is From's latest signed checkpoint (a C2SP signed note), if
	// any; Gossip holds cosigned checkpoints of other logs From has seen.
	Checkpoint []byte
	Gossip     [][]byte
}

// Tag implements [Statement].
func (h *Heartbeat) Tag() string { return HeartbeatTag }

// Text implements [Statement]. Checkpoints are carried base64-encoded, one
// per line.
func (h *Heartbeat) Text() []byte {
	kv := []string{
		"from", h.From,
		"to", h.To,
		"time", FormatTime(h.Time),
		"counter", fmt.Sprint(h.Counter),
		"sent", fmt.Sprint(h.Sent),
		"received", fmt.Sprint(h.Received),
	}
	if !h.Agreement.IsZero() {
		kv = append(kv, "agreement", h.Agreement.String())
	}
	if h.Checkpoint != nil {
		kv = append(kv, "checkpoint", base64.StdEncoding.EncodeToString(h.Checkpoint))
	}
	for _, g := range h.Gossip {
		kv = append(kv, "gossip", base64.StdEncoding.EncodeToString(g))
	}
	return text(HeartbeatTag, kv...)
}

// ParseHeartbeat parses a heartbeat's note text.
func ParseHeartbeat(t []byte) (*Heartbeat, error) {
	l, err := splitText(t, HeartbeatTag)
	if err != nil {
		return nil, err
	}
	h := &Heartbeat{}
	h.From = l.party("from")
	h.To = l.party("to")
	h.Time = l.time("time")
	h.Counter = l.uint("counter", l.next("counter"))
	h.Sent = l.uint("sent", l.next("sent"))
	h.Received = l.uint("received", l.next("received"))
	if l.peek("agreement") {
		h.Agreement = l.id("agreement")
	}
	if l.peek("checkpoint") {
		h.Checkpoint = l.blob("checkpoint")
	}
	for l.peek("gossip") {
		h.Gossip = append(h.Gossip, l.blob("gossip"))
	}
	if err := finish(l, h, t); err != nil {
		return nil, err
	}
	return h, nil
}

func (l *lines) blob(key string) []byte {
	v := l.next(key)
	b, err := base64.StdEncoding.Strict().DecodeString(v)
	if l.err == nil && (err != nil || len(b) == 0) {
		l.fail("%s: want non-empty base64", key)
	}
	return b
}

// OpenHeartbeat verifies a heartbeat against the sender's message key and
// parses it.
func OpenHeartbeat(msg []byte, v note.Verifier) (*Heartbeat, error) {
	n, err := openNote(msg, HeartbeatTag, note.VerifierList(v))
	if err != nil {
		return nil, err
	}
	h, err := ParseHeartbeat([]byte(n.Text))
	if err != nil {
		return nil, err
	}
	if h.From != v.Name() {
		return nil, errorf(ErrBadSignature, "heartbeat from %s is signed by %s's key", h.From, truncate(v.Name()))
	}
	return h, nil
}

// Ratification is a party's statement that it is bound by a version of the
// agreement, identified by its hash. Signed with the party's root key.
type Ratification struct {
	Party     string
	Agreement ID // hash of the agreement version
	Version   uint64
	Time      time.Time
}

// Tag implements [Statement].
func (r *Ratification) Tag() string { return RatificationTag }

// Text implements [Statement].
func (r *Ratification) Text() []byte {
	return text(RatificationTag,
		"party", r.Party,
		"agreement", r.Agreement.String(),
		"version", fmt.Sprint(r.Version),
		"time", FormatTime(r.Time))
}

// ParseRatification parses a ratification's note text.
func ParseRatification(t []byte) (*Ratification, error) {
	l, err := splitText(t, RatificationTag)
	if err != nil {
		return nil, err
	}
	r := &Ratification{}
	r.Party = l.party("party")
	r.Agreement = l.id("agreement")
	r.Version = l.uint("version", l.next("version"))
	r.Time = l.time("time")
	if err := finish(l, r, t); err != nil {
		return nil, err
	}
	return r, nil
}

// OpenRatification verifies a ratification against the party's root key
// and parses it.
func OpenRatification(msg []byte, v note.Verifier) (*Ratification, error) {
	n, err := openNote(msg, RatificationTag, note.VerifierList(v))
	if err != nil {
		return nil, err
	}
	r, err := ParseRatification([]byte(n.Text))
	if err != nil {
		return nil, err
	}
	if v.Name() != KeyName(r.Party, RoleRoot) {
		return nil, errorf(ErrBadSignature, "ratification by %s is signed by key %s, not its root key", r.Party, truncate(v.Name()))
	}
	return r, nil
}

// Request authenticates one HTTP request from a peer node: the sender signs
// the method, the path (with the query), the time, the body's length and
// SHA-256, and the party the request is for, with its message key. The
// receiving node rebuilds the text from the request's headers and checks
// the signature before it reads a byte of the body, then reads exactly
// Length bytes and checks their hash; nobody signs bytes a peer supplied.
//
// V1 marks a hotline-request/v1, the version 1 statement: without the
// length, its body hash computed by the receiver from the body read. A
// node verifies one only from a party whose directory entry does not list
// protocol 2.
type Request struct {
	V1       bool
	From     string
	To       string
	Time     time.Time
	Method   string
	Path     string
	Length   uint64 // at most MaxNumber
	BodyHash [32]byte
}

// Tag implements [Statement].
func (r *Request) Tag() string {
	if r.V1 {
		return RequestV1Tag
	}
	return RequestTag
}

// Text implements [Statement].
func (r *Request) Text() []byte {
	if r.V1 {
		return text(RequestV1Tag,
			"from", r.From,
			"to", r.To,
			"time", FormatTime(r.Time),
			"method", r.Method,
			"path", r.Path,
			"body", b64(r.BodyHash[:]))
	}
	return text(RequestTag,
		"from", r.From,
		"to", r.To,
		"time", FormatTime(r.Time),
		"method", r.Method,
		"path", r.Path,
		"length", strconv.FormatUint(r.Length, 10),
		"body", b64(r.BodyHash[:]))
}

// ParseRequest parses a request's note text.
func ParseRequest(t []byte) (*Request, error) {
	r := &Request{V1: bytes.HasPrefix(t, []byte(RequestV1Tag+"\n"))}
	l, err := splitText(t, r.Tag())
	if err != nil {
		return nil, err
	}
	r.From = l.party("from")
	r.To = l.party("to")
	r.Time = l.time("time")
	r.Method = l.token("method", validMethod)
	r.Path = l.token("path", validPath)
	if !r.V1 {
		r.Length = l.number("length")
	}
	r.BodyHash = l.hash("body")
	if err := finish(l, r, t); err != nil {
		return nil, err
	}
	return r, nil
}

// OpenRequest verifies a signed request against the sending party's message
// key and parses it.
func OpenRequest(msg []byte, v note.Verifier) (*Request, error) {
	tag := RequestTag
	if bytes.HasPrefix(msg, []byte(RequestV1Tag+"\n")) {
		tag = RequestV1Tag
	}
	n, err := openNote(msg, tag, note.VerifierList(v))
	if err != nil {
		return nil, err
	}
	r, err := ParseRequest([]byte(n.Text))
	if err != nil {
		return nil, err
	}
	if r.From != v.Name() {
		return nil, errorf(ErrBadSignature, "request from %s is signed by %s's key", r.From, truncate(v.Name()))
	}
	return r, nil
}

func validMethod(s string) bool {
	if s == "" || len(s) > 16 {
		return false
	}
	return strings.Trim(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") == ""
}

// validPath accepts an origin-form request target: "/" then printable ASCII
// without spaces, at most 2,048 bytes.
func validPath(s string) bool {
	if s == "" || s[0] != '/' || len(s) > 2048 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

// RelayReceipt is a relay's signed statement that it stored an envelope for
// a recipient and will hand it on. Signed with the relay's message key.
type RelayReceipt struct {
	Message  ID
	From     string // the sender
	To       string // the recipient the relay holds it for
	Relay    string // the relay's party
	Received time.Time
}

// Tag implements [Statement].
func (r *RelayReceipt) Tag() string { return RelayReceiptTag }

// Text implements [Statement].
func (r *RelayReceipt) Text() []byte {
	return text(RelayReceiptTag,
		"message", r.Message.String(),
		"from", r.From,
		"to", r.To,
		"relay", r.Relay,
		"received", FormatTime(r.Received))
}

// ParseRelayReceipt parses a relay receipt's note text.
func ParseRelayReceipt(t []byte) (*RelayReceipt, error) {
	l, err := splitText(t, RelayReceiptTag)
	if err != nil {
		return nil, err
	}
	r := &RelayReceipt{}
	r.Message = l.id("message")
	r.From = l.party("from")
	r.To = l.party("to")
	r.Relay = l.party("relay")
	r.Received = l.time("received")
	if err := finish(l, r, t); err != nil {
		return nil, err
	}
	return r, nil
}

// OpenRelayReceipt verifies a relay receipt against the relay's message key
// and parses it.
func OpenRelayReceipt(msg []byte, v note.Verifier) (*RelayReceipt, error) {
	n, err := openNote(msg, RelayReceiptTag, note.VerifierList(v))
	if err != nil {
		return nil, err
	}
	r, err := ParseRelayReceipt([]byte(n.Text))
	if err != nil {
		return nil, err
	}
	if r.Relay != v.Name() {
		return nil, errorf(ErrBadSignature, "relay receipt by %s is signed by %s's key", r.Relay, truncate(v.Name()))
	}
	return r, nil
}

// Refusal is a node's signed statement that it refused a peer's envelope
// for a reason the sender caused (a bad stanza or payload, a commitment
// that does not hold, a stanza that does not open, an invalid body, an
// unknown kind, a sequence conflict). Header is the SHA-256 of the
// envelope's signed header ([Envelope.SignedHeader]), so the refusal names
// the very header the sender signed. Signed with the refusing party's
// message key. A node answers the same envelope with the same refusal.
type Refusal struct {
	Message ID
	Party   string // the refusing party, a recipient
	Header  [32]byte
	Code    string
	Time    time.Time
}

// Tag implements [Statement].
func (r *Refusal) Tag() string { return RefusalTag }

// Text implements [Statement].
func (r *Refusal) Text() []byte {
	return text(RefusalTag,
		"message", r.Message.String(),
		"party", r.Party,
		"header", b64(r.Header[:]),
		"code", r.Code,
		"time", FormatTime(r.Time))
}

// ParseRefusal parses a refusal's note text.
func ParseRefusal(t []byte) (*Refusal, error) {
	l, err := splitText(t, RefusalTag)
	if err != nil {
		return nil, err
	}
	r := &Refusal{}
	r.Message = l.id("message")
	r.Party = l.party("party")
	r.Header = l.hash("header")
	r.Code = l.token("code", validCode)
	r.Time = l.time("time")
	if err := finish(l, r, t); err != nil {
		return nil, err
	}
	return r, nil
}

// OpenRefusal verifies a signed refusal against the refusing party's
// message key and parses it. It also returns the refusal's id, [NoteID] of
// its text: what both sides log ([RefusalIssued], [RefusalReceived]).
func OpenRefusal(msg []byte, v note.Verifier) (*Refusal, ID, error) {
	n, err := openNote(msg, RefusalTag, note.VerifierList(v))
	if err != nil {
		return nil, ID{}, err
	}
	r, err := ParseRefusal([]byte(n.Text))
	if err != nil {
		return nil, ID{}, err
	}
	if r.Party != v.Name() {
		return nil, ID{}, errorf(ErrBadSignature, "refusal by %s is signed by %s's key", r.Party, truncate(v.Name()))
	}
	return r, NoteID([]byte(n.Text)), nil
}

// validCode accepts a refusal code: 1 to 64 of a–z, 0–9 and _, a letter
// first.
func validCode(s string) bool {
	if s == "" || len(s) > 64 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}
