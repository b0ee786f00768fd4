package hotline

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// TestPrivateGroupHeader (issue 16 finding 2): a version 2 header commits
// to each recipient's sequence number and previous id; only the
// recipient's stanza opens its commitment, so DOR, holding its view of a
// group message, learns nothing of CRI's number or predecessor, while CRI
// (or an auditor given CRI's opening) checks them.
func TestPrivateGroupHeader(t *testing.T) {
	keys := newTestKeySets(t, "BER", "CRI", "DOR")
	var prev ID
	prev[0], prev[31] = 0xab, 0xcd
	d := newTestDraft(keys, "BER", "CRI", "DOR")
	d.Version = 2
	d.To[0].Seq, d.To[0].Prev = 7, prev
	e := mustSeal(t, keys, d)
	if e.Header.Version != 2 || !bytes.HasPrefix(e.HeaderText(), []byte(EnvelopeTagV2+"\n")) {
		t.Fatalf("not a version 2 header:\n%s", e.HeaderText())
	}
	v := mustVerifier(t, keys["BER"].Message)

	dorView, err := e.View("DOR")
	if err != nil {
		t.Fatal(err)
	}
	got, err := Parse(dorView.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	if err := got.Verify(v); err != nil {
		t.Fatal(err)
	}
	head := string(got.HeaderText())
	for _, leak := range []string{prev.String(), " 7 ", string(prev[:])} {
		if strings.Contains(head, leak) {
			t.Errorf("DOR's view shows CRI's sequence (%q):\n%s", leak, head)
		}
	}
	for _, line := range strings.Split(head, "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == "to" && len(f) != 4 {
			t.Errorf("to line %q: want to, party, commitment, stanza hash", line)
		}
	}
	m, err := got.Open("DOR", keys["DOR"].Encryption)
	if err != nil {
		t.Fatal(err)
	}
	if m.Seq != 1 || !m.Prev.IsZero() || len(m.Opening) != OpeningSize {
		t.Errorf("DOR opened seq %d prev %v opening %d bytes, want 1, none, %d", m.Seq, m.Prev, len(m.Opening), OpeningSize)
	}
	// DOR's opening does not open CRI's commitment.
	if _, _, err := got.Header.Sequence("CRI", m.Opening); !errors.Is(err, ErrBadCommitment) {
		t.Errorf("DOR's opening for CRI: %v, want bad_commitment", err)
	}

	criView, _ := e.View("CRI")
	cm, err := criView.Open("CRI", keys["CRI"].Encryption)
	if err != nil {
		t.Fatal(err)
	}
	if cm.Seq != 7 || cm.Prev != prev || !bytes.Equal(cm.Opening, e.SealedOpening("CRI")) {
		t.Errorf("CRI opened seq %d prev %v, want 7 %v and the sender's opening", cm.Seq, cm.Prev, prev)
	}
	// An auditor given CRI's opening checks it; a changed one is refused.
	if seq, p, err := e.Header.Sequence("CRI", cm.Opening); err != nil || seq != 7 || p != prev {
		t.Errorf("auditor: %d %v %v", seq, p, err)
	}
	bad := bytes.Clone(cm.Opening)
	bad[7]++
	if _, _, err := e.Header.Sequence("CRI", bad); !errors.Is(err, ErrBadCommitment) {
		t.Errorf("changed opening: %v, want bad_commitment", err)
	}
	if _, _, err := e.Header.Sequence("CRI", nil); !errors.Is(err, ErrMalformed) {
		t.Errorf("no opening: %v, want malformed", err)
	}

	// A stanza built for version 1 in a version 2 envelope does not open.
	v1 := *criView
	v1.stanzas = [][]byte{bytes.Repeat([]byte{1}, StanzaSizeV2)}
	copy(v1.stanzas[0], criView.stanzas[0][:4])
	if _, err := v1.Open("CRI", keys["CRI"].Encryption); err == nil {
		t.Error("a forged stanza opened")
	}
}

// TestSequenceConflictV2: a proof over version 2 headers carries the
// recipient's openings, is self-contained, and is refused without them
// or with another recipient's.
func TestSequenceConflictV2(t *testing.T) {
	keys := newTestKeySets(t, "BER", "CRI", "DOR")
	seal := func(seq uint64, prev ID) (*Envelope, []byte) {
		d := newTestDraft(keys, "BER", "CRI", "DOR")
		d.Version = 2
		d.To[0].Seq, d.To[0].Prev = seq, prev
		e := mustSeal(t, keys, d)
		return e, e.SealedOpening("CRI")
	}
	a, ao := seal(4, ID{1})
	b, bo := seal(4, ID{2})
	c, err := NewSequenceConflict("CRI", a, ao, b, bo)
	if err != nil {
		t.Fatal(err)
	}
	text := c.Marshal()
	if !bytes.Contains(text, []byte("\na-opening ")) || !bytes.Contains(text, []byte("\nb-opening ")) {
		t.Fatalf("proof carries no openings:\n%s", text)
	}
	p, err := ParseSequenceConflict(text)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Verify(mustVerifier(t, keys["BER"].Message)); err != nil {
		t.Fatal(err)
	}
	if _, err := NewSequenceConflict("CRI", a, nil, b, bo); err == nil {
		t.Error("a proof without A's opening was made")
	}
	if _, err := NewSequenceConflict("CRI", a, a.SealedOpening("DOR"), b, bo); !errors.Is(err, ErrBadCommitment) {
		t.Errorf("DOR's opening as CRI's: %v, want bad_commitment", err)
	}
	// Without its opening lines the text is refused.
	var cut []string
	for _, l := range strings.SplitAfter(string(text), "\n") {
		if !strings.HasPrefix(l, "a-opening ") {
			cut = append(cut, l)
		}
	}
	if _, err := ParseSequenceConflict([]byte(strings.Join(cut, ""))); err == nil {
		t.Error("a proof without a-opening parsed")
	}
	// Linked version 2 envelopes do not conflict.
	n, no := seal(5, a.ID())
	if _, err := NewSequenceConflict("CRI", a, ao, n, no); err == nil {
		t.Error("linked envelopes made a proof")
	}
}
