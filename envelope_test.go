package hotline

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/mod/sumdb/note"
)

func TestSealOpenRoundTrip(t *testing.T) {
	keys := newTestKeySets(t, "BER", "CRI", "DOR", "ELM")
	d := newTestDraft(keys, "BER", "ELM", "CRI", "DOR") // out of order on purpose
	d.Group = "all"
	d.Inner.Refs = []ID{NoteID([]byte("a")), NoteID([]byte("b"))}
	d.Inner.Thread = NoteID([]byte("thread"))
	e := mustSeal(t, keys, d)

	if got := []string{e.Header.Recipients[0].Party, e.Header.Recipients[1].Party, e.Header.Recipients[2].Party}; !cmp.Equal(got, []string{"CRI", "DOR", "ELM"}) {
		t.Errorf("recipients %v, want ascending order", got)
	}
	wire := e.Marshal()
	if int64(len(wire)) != e.Size() {
		t.Errorf("Size() = %d, len(Marshal()) = %d", e.Size(), len(wire))
	}
	p, err := Parse(wire)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(p.Marshal(), wire) {
		t.Fatal("parse → marshal changed the bytes")
	}
	if p.ID() != e.ID() {
		t.Fatal("id changed across parse")
	}
	if err := p.Verify(mustVerifier(t, keys["BER"].Message)); err != nil {
		t.Fatal(err)
	}
	// The signed header is an ordinary C2SP signed note.
	if _, err := note.Open(p.SignedHeader(), note.VerifierList(mustVerifier(t, keys["BER"].Message))); err != nil {
		t.Errorf("signed header does not open as a note: %v", err)
	}
	for _, r := range []string{"CRI", "DOR", "ELM"} {
		t.Run(r, func(t *testing.T) {
			v, err := p.View(r)
			if err != nil {
				t.Fatal(err)
			}
			vb := v.Marshal()
			pv, err := Parse(vb)
			if err != nil {
				t.Fatal(err)
			}
			if pv.ViewFor() != r || pv.ID() != e.ID() || !bytes.Equal(pv.Marshal(), vb) {
				t.Fatal("view does not round-trip")
			}
			if err := pv.Verify(mustVerifier(t, keys["BER"].Message)); err != nil {
				t.Fatal(err)
			}
			m, err := pv.Open(r, keys[r].Encryption)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(m.Body, d.Body) {
				t.Errorf("body %q, want %q", m.Body, d.Body)
			}
			want := d.Inner
			want.Salt = m.Inner.Salt
			if diff := cmp.Diff(want, m.Inner); diff != "" {
				t.Errorf("inner header (-want +got):\n%s", diff)
			}
			if _, err := pv.Header.CheckInner(m.InnerHeader); err != nil {
				t.Errorf("revealed inner header: %v", err)
			}
		})
	}
}

func TestViewSize(t *testing.T) {
	keys := newTestKeySets(t, "BER", "CRI", "DOR")
	e := mustSeal(t, keys, newTestDraft(keys, "BER", "CRI", "DOR"))
	v, _ := e.View("DOR")
	if int64(len(v.Marshal())) != v.Size() {
		t.Errorf("view Size() = %d, len(Marshal()) = %d", v.Size(), len(v.Marshal()))
	}
	if got, want := len(v.Marshal()), len(e.Marshal())-StanzaSize-len("all")+len("DOR"); got != want {
		t.Errorf("view is %d bytes, want %d", got, want)
	}
}

func TestSealRefusesBadDrafts(t *testing.T) {
	keys := newTestKeySets(t, "BER", "CRI")
	tests := []struct {
		name   string
		change func(d *Draft)
		want   string
	}{
		{"no recipients", func(d *Draft) { d.To = nil }, "recipients"},
		{"to itself", func(d *Draft) { d.To[0].Party = "BER" }, "itself"},
		{"twice", func(d *Draft) { d.To = append(d.To, d.To[0]) }, "twice"},
		{"seq zero", func(d *Draft) { d.To[0].Seq = 0 }, "start at 1"},
		{"seq 2 without prev", func(d *Draft) { d.To[0].Seq = 2 }, "previous id"},
		{"bad kind", func(d *Draft) { d.Inner.Kind = "Notification" }, "kind"},
		{"bad severity", func(d *Draft) { d.Inner.Severity = "urgent" }, "severity"},
		{"bad marking", func(d *Draft) { d.Inner.Marking = "WHITE" }, "marking"},
		{"bad group", func(d *Draft) { d.Group = "two words" }, "group"},
		{"no time", func(d *Draft) { d.Created = time.Time{} }, "created"},
		{"bad from", func(d *Draft) { d.From = "ber" }, "party id"},
		{"repeated ref", func(d *Draft) { d.Inner.Refs = []ID{{1}, {1}} }, "refs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newTestDraft(keys, "BER", "CRI")
			tt.change(d)
			_, err := Seal(d, keys["BER"].Message)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Seal: %v, want an error about %q", err, tt.want)
			}
		})
	}
	if _, err := Seal(newTestDraft(keys, "BER", "CRI"), keys["CRI"].Message); err == nil {
		t.Error("Seal with another party's key succeeded")
	}
}

// TestRefusals checks that each way an envelope can be wrong is refused with
// its own error.
func TestRefusals(t *testing.T) {
	keys := newTestKeySets(t, "BER", "CRI", "DOR", "ELM", "MAL")
	e := mustSeal(t, keys, newTestDraft(keys, "BER", "CRI", "DOR"))
	wire := e.Marshal()
	other := mustSeal(t, keys, newTestDraft(keys, "BER", "CRI", "DOR"))
	berKey := mustVerifier(t, keys["BER"].Message)

	headerEnd := len(e.text)
	sigStart := headerEnd + 1
	stanzaStart := len(wire) - 2*StanzaSize - len(e.ciphertext)
	ctStart := len(wire) - len(e.ciphertext)

	flip := func(i int) []byte {
		b := bytes.Clone(wire)
		b[i] ^= 0x01
		return b
	}
	// check parses b and runs verify and open as CRI, returning the first
	// error.
	check := func(b []byte, as string) error {
		p, err := Parse(b)
		if err != nil {
			return err
		}
		if err := p.Verify(berKey); err != nil {
			return err
		}
		_, err = p.Open(as, keys[as].Encryption)
		return err
	}
	// openOnly skips the signature check, as a recipient that forgot it
	// would, to show Open's own checks.
	openOnly := func(b []byte, as string) error {
		p, err := Parse(b)
		if err != nil {
			return err
		}
		_, err = p.Open(as, keys[as].Encryption)
		return err
	}

	swappedStanzas := bytes.Clone(wire)
	copy(swappedStanzas[stanzaStart:], wire[stanzaStart+StanzaSize:stanzaStart+2*StanzaSize])
	copy(swappedStanzas[stanzaStart+StanzaSize:], wire[stanzaStart:stanzaStart+StanzaSize])

	swappedCiphertext := append(bytes.Clone(wire[:ctStart]), other.ciphertext...)

	resigned := func() []byte {
		// MAL's key, named BER, signs BER's header.
		mal, err := GenerateSigningKey("BER", false)
		if err != nil {
			t.Fatal(err)
		}
		signed, err := note.Sign(&note.Note{Text: string(e.text)}, mal)
		if err != nil {
			t.Fatal(err)
		}
		return append(signed, wire[sigStart+len(e.sigLine()):]...)
	}()

	future := newTestDraft(keys, "BER", "CRI")
	future.Created = testTime.Add(MaxClockSkew + time.Second)
	futureEnv := mustSeal(t, keys, future)

	tests := []struct {
		name string
		err  func() error
		want *Error
	}{
		{"flipped byte in header", func() error { return check(flip(bytes.Index(wire, []byte("T09:00:00Z"))+7), "CRI") }, ErrBadSignature},
		{"flipped byte in header, breaking it", func() error { return check(flip(headerEnd-3), "CRI") }, ErrMalformed},
		{"flipped byte in signature", func() error { return check(flip(len(wire)-len(e.ciphertext)-2*StanzaSize-12), "CRI") }, ErrBadSignature},
		{"flipped byte in own stanza", func() error { return check(flip(stanzaStart+100), "CRI") }, ErrBadStanza},
		{"flipped byte in other's stanza", func() error { return check(flip(stanzaStart+StanzaSize+100), "CRI") }, ErrBadStanza},
		{"flipped byte in stanza, open only", func() error { return openOnly(flip(stanzaStart+100), "CRI") }, ErrBadStanza},
		{"flipped byte in ciphertext", func() error { return check(flip(ctStart+5), "CRI") }, ErrBadPayload},
		{"flipped byte in ciphertext, open only", func() error { return openOnly(flip(len(wire)-1), "CRI") }, ErrBadPayload},
		{"stanzas swapped between recipients", func() error { return check(swappedStanzas, "CRI") }, ErrBadStanza},
		{"stanzas swapped, open only", func() error { return openOnly(swappedStanzas, "DOR") }, ErrBadStanza},
		{"ciphertext swapped under a valid header", func() error { return check(swappedCiphertext, "CRI") }, ErrBadPayload},
		{"header re-signed by another key", func() error { return check(resigned, "CRI") }, ErrBadSignature},
		{"verified with another party's key", func() error { p, _ := Parse(wire); return p.Verify(mustVerifier(t, keys["CRI"].Message)) }, ErrBadSignature},
		{"opened by a non-recipient", func() error { return check(wire, "ELM") }, ErrNotRecipient},
		{"opened by a recipient holding another's view", func() error {
			v, _ := e.View("DOR")
			_, err := v.Open("CRI", keys["CRI"].Encryption)
			return err
		}, ErrNotRecipient},
		{"opened with the wrong key", func() error { _, err := e.Open("CRI", keys["DOR"].Encryption); return err }, ErrNoKey},
		{"created more than 15 minutes ahead", func() error { return futureEnv.Header.CheckCreated(testTime) }, ErrFutureCreated},
		{"trailing bytes", func() error { return check(append(bytes.Clone(wire), 0), "CRI") }, ErrTrailingData},
		{"truncated", func() error { return check(wire[:len(wire)-1], "CRI") }, ErrMalformed},
		{"wrong tag", func() error { return check(append([]byte("hotline-envelope/v9"), wire[len(EnvelopeTag):]...), "CRI") }, ErrWrongTag},
		{"not canonical: upper-case hex", func() error {
			return check(bytes.Replace(wire, []byte("agreement "+e.Header.Agreement.String()), []byte("agreement "+strings.ToUpper(e.Header.Agreement.String())), 1), "CRI")
		}, ErrMalformed},
		{"not canonical: leading zero", func() error { return check(bytes.Replace(wire, []byte(" 1 - "), []byte(" 01 - "), 1), "CRI") }, ErrMalformed},
		{"two signature lines", func() error {
			sl := e.sigLine()
			return check(bytes.Replace(wire, sl, append(bytes.Clone(sl), sl...), 1), "CRI")
		}, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.err()
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v (code %q), want code %q", err, ErrorCode(err), tt.want.Code)
			}
		})
	}
	// Whatever byte is flipped, the envelope is refused by someone: the
	// parser, the signature, the stanza or payload hashes, or the open.
	for i := range wire {
		if err := check(flip(i), "CRI"); err == nil || ErrorCode(err) == "" {
			t.Errorf("byte %d flipped: got %v, want a refusal with a code", i, err)
		}
	}
	// Created in the past is fine, however far.
	if err := e.Header.CheckCreated(testTime.Add(30 * 24 * time.Hour)); err != nil {
		t.Errorf("an old envelope was refused: %v", err)
	}
}

// TestKeyCommitment shows what the key commitment is for: a sender that
// wraps a different content key for one recipient cannot make the envelope
// open to another plaintext for it, even with a valid signature.
func TestKeyCommitment(t *testing.T) {
	keys := newTestKeySets(t, "BER", "CRI", "DOR")
	e := mustSeal(t, keys, newTestDraft(keys, "BER", "CRI", "DOR"))
	// Re-wrap a different content key for DOR and re-sign the header with
	// the new stanza hash, as a malicious sender could.
	bad := *e
	bad.stanzas = [][]byte{e.stanzas[0], nil}
	evil := bytes.Repeat([]byte{7}, 32)
	s, err := sealStanza(&e.Header, keys["DOR"].Encryption.Public(), "DOR", evil)
	if err != nil {
		t.Fatal(err)
	}
	bad.stanzas[1] = s
	bad.Header.Recipients = append([]Recipient(nil), e.Header.Recipients...)
	bad.Header.Recipients[1].StanzaHash = sha256.Sum256(s)
	bad.text = bad.Header.marshal()
	signed, err := note.Sign(&note.Note{Text: string(bad.text)}, keys["BER"].Message)
	if err != nil {
		t.Fatal(err)
	}
	bad.keyName, bad.sig, _ = parseSigLine(signed[len(bad.text)+1:])
	p, err := Parse(bad.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Verify(mustVerifier(t, keys["BER"].Message)); err != nil {
		t.Fatalf("a validly signed envelope did not verify: %v", err)
	}
	if _, err := p.Open("CRI", keys["CRI"].Encryption); err != nil {
		t.Errorf("CRI's honest stanza: %v", err)
	}
	if _, err := p.Open("DOR", keys["DOR"].Encryption); !errors.Is(err, ErrBadCommitment) {
		t.Errorf("DOR's forged stanza: got %v, want %s", err, ErrBadCommitment.Code)
	}
}

// countingReader fails the test if more than max bytes are read.
type countingReader struct {
	r    io.Reader
	n    int64
	max  int64
	over bool
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.n > c.max {
		c.over = true
	}
	return n, err
}

// endless yields a prefix, then the same line forever.
type endless struct {
	prefix []byte
	line   []byte
	off    int
}

func (e *endless) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if len(e.prefix) > 0 {
			c := copy(p[n:], e.prefix)
			e.prefix = e.prefix[c:]
			n += c
			continue
		}
		c := copy(p[n:], e.line[e.off:])
		e.off = (e.off + c) % len(e.line)
		n += c
	}
	return n, nil
}

// TestLimitsBeforeReadingWhole feeds endless or huge inputs and checks that
// each limit is enforced with its own error after reading little more than
// the limit.
func TestLimitsBeforeReadingWhole(t *testing.T) {
	keys := newTestKeySets(t, "BER", "CRI")
	e := mustSeal(t, keys, newTestDraft(keys, "BER", "CRI"))
	lim := Limits{MaxHeader: 4096, MaxEnvelope: 64 << 10, MaxRecipients: 8}
	headerStart := []byte(strings.Join(strings.SplitAfter(string(e.text), "\n")[:9], ""))

	hugePayload := bytes.Replace(e.Marshal(), []byte(fmt.Sprintf("payload %d ", e.Header.PayloadSize)), []byte("payload 1000000000000 "), 1)

	tests := []struct {
		name string
		r    io.Reader
		want *Error
	}{
		{"endless header line", &endless{prefix: []byte(EnvelopeTag + "\nnonce "), line: []byte("A")}, ErrHeaderTooLarge},
		{"endless header lines", &endless{prefix: []byte(EnvelopeTag + "\n"), line: []byte("x y\n")}, ErrHeaderTooLarge},
		{"endless recipients", &endless{prefix: headerStart, line: []byte("to CRI 1 - AAAA\n")}, ErrTooManyRecipients},
		{"payload larger than the envelope limit", io.MultiReader(bytes.NewReader(hugePayload), &endless{line: []byte{0}}), ErrEnvelopeTooLarge},
		{"endless tag line", &endless{line: []byte("h")}, ErrWrongTag},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cr := &countingReader{r: tt.r, max: int64(lim.MaxHeader) + 64<<10}
			_, err := Read(cr, lim)
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %s", err, tt.want.Code)
			}
			if cr.over {
				t.Errorf("read %d bytes before refusing", cr.n)
			}
		})
	}
	// Within limits, the same envelope reads fine.
	if _, err := Read(bytes.NewReader(e.Marshal()), lim); err != nil {
		t.Errorf("envelope within limits refused: %v", err)
	}
}

func TestDefaultLimitsFitMaxRecipients(t *testing.T) {
	// The longest header the default limits allow: 1,024 recipients with
	// 16-character ids and large sequence numbers.
	h := Header{From: "SENDER", Created: testTime, PayloadSize: 16}
	for i := range DefaultMaxRecipients {
		h.Recipients = append(h.Recipients, Recipient{Party: fmt.Sprintf("P%015d", i), Seq: 1<<63 + 1, Prev: ID{1}})
	}
	if n := len(h.marshal()); n > DefaultMaxHeader {
		t.Errorf("a header with %d recipients is %d bytes, over the %d-byte default limit", DefaultMaxRecipients, n, DefaultMaxHeader)
	}
}

func TestIDCoversHeaderOnly(t *testing.T) {
	keys := newTestKeySets(t, "BER", "CRI")
	e := mustSeal(t, keys, newTestDraft(keys, "BER", "CRI"))
	want := sha256.Sum256(append([]byte("hotline/v1 id\n"), e.HeaderText()...))
	if e.ID() != ID(want) {
		t.Errorf("ID() = %s, want SHA-256 over the prefix and the signed header", e.ID())
	}
	v, _ := e.View("CRI")
	if v.ID() != e.ID() {
		t.Error("a view has another id than its envelope")
	}
}
