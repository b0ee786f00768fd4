package hotline

import (
	"bytes"
	"testing"
)

// TestSealedInner: the sender of an envelope it sealed holds the inner
// header a recipient opens, and a third party checks it against the
// header; an envelope parsed from bytes holds none.
func TestSealedInner(t *testing.T) {
	keys := newTestKeySets(t, "BER", "CRI")
	e := mustSeal(t, keys, newTestDraft(keys, "BER", "CRI"))
	inner := e.SealedInner()
	if _, err := e.Header.CheckInner(inner); err != nil {
		t.Fatal(err)
	}
	m, err := e.Open("CRI", keys["CRI"].Encryption)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(m.InnerHeader, inner) {
		t.Errorf("the sender's inner header\n%q\nis not the one the recipient opens\n%q", inner, m.InnerHeader)
	}
	p, err := Parse(e.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	if p.SealedInner() != nil {
		t.Error("a parsed envelope holds a sealed inner header")
	}
}
