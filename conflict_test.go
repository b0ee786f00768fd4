package hotline

import (
	"bytes"
	"strings"
	"testing"
)

// TestSequenceConflict: a proof is made only from two headers that break
// the sequence rule, in one canonical order whichever comes first, parses
// back to the same bytes, verifies with the sender's key alone, and is
// refused when a header carries a second signature line, is signed by
// another key, or the two do not conflict.
func TestSequenceConflict(t *testing.T) {
	keys := newTestKeySets(t, "BER", "CRI", "DOR")
	seal := func(seq uint64, prev ID) *Envelope {
		d := newTestDraft(keys, "BER", "CRI")
		d.To[0].Seq, d.To[0].Prev = seq, prev
		return mustSeal(t, keys, d)
	}
	var other ID
	other[0] = 9
	a1, b1 := seal(1, ID{}), seal(1, ID{})
	a2 := seal(2, a1.ID())
	bad3 := seal(3, other)
	ok3 := seal(3, a2.ID())
	v := mustVerifier(t, keys["BER"].Message)

	for _, tt := range []struct {
		name string
		x, y *Envelope
		ok   bool
	}{
		{"same seq, other ids", a1, b1, true},
		{"same seq, the other order", b1, a1, true},
		{"previous id not the predecessor", a2, bad3, true},
		{"previous id not the predecessor, the other order", bad3, a2, true},
		{"linked", a2, ok3, false},
		{"the same envelope", a1, a1, false},
		{"far apart", a1, bad3, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := NewSequenceConflict("CRI", tt.x, nil, tt.y, nil)
			if !tt.ok {
				if err == nil {
					t.Fatal("a proof of envelopes that do not conflict")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			p, err := ParseSequenceConflict(c.Marshal())
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(p.Marshal(), c.Marshal()) {
				t.Error("round trip changed the proof")
			}
			if err := p.Verify(v); err != nil {
				t.Errorf("Verify: %v", err)
			}
			swapped, _ := NewSequenceConflict("CRI", tt.y, nil, tt.x, nil)
			if !bytes.Equal(swapped.Marshal(), c.Marshal()) {
				t.Error("the proof depends on the order of its envelopes")
			}
		})
	}

	c, err := NewSequenceConflict("CRI", a1, nil, b1, nil)
	if err != nil {
		t.Fatal(err)
	}
	// A foreign signature line appended to a header: refused.
	dor, err := Sign(&Receipt{Message: a1.ID(), Party: "DOR", Received: testTime, LogOrigin: "hotline/DOR"}, keys["DOR"].Message)
	if err != nil {
		t.Fatal(err)
	}
	extra := *c
	extra.A = append(bytes.Clone(c.A), dor[strings.LastIndex(string(dor), "\n—")+1:]...)
	if _, err := ParseSequenceConflict(extra.Marshal()); err == nil {
		t.Error("a header with two signature lines parsed")
	}
	if err := extra.Verify(v); err == nil {
		t.Error("a header with two signature lines verified")
	}
	// Another key named BER: refused.
	mal, err := GenerateSigningKey("BER", false)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Verify(mustVerifier(t, mal)); err == nil {
		t.Error("verified with a key that did not sign")
	}
	// Another recipient named: refused.
	wrong := *c
	wrong.To = "DOR"
	if _, err := ParseSequenceConflict(wrong.Marshal()); err == nil {
		t.Error("a proof naming a party that is no recipient parsed")
	}
}
