package agreement

import (
	"bytes"
	"os"
	"testing"
	"time"

	"github.com/hotline-net/hotline"
)

// nextEntryNote signs party's entry after its latest in a, issued at.
func nextEntryNote(tb testing.TB, n *testNet, a *Agreement, party string, at time.Time, signer *hotline.SigningKey) []byte {
	tb.Helper()
	prev, err := a.Entry(party)
	if err != nil {
		tb.Fatal(err)
	}
	e, err := NextEntry(prev, EntryUpdate{Keys: n.keys[party].Public(), Issued: at, Reconfirm: true})
	if err != nil {
		tb.Fatal(err)
	}
	msg, err := SignEntry(e, signer)
	if err != nil {
		tb.Fatal(err)
	}
	return msg
}

func TestDescribeAndDocument(t *testing.T) {
	n := newTestNet(t)
	for _, h := range n.a.DocumentHashes() {
		msg, ok := n.a.Document(h)
		if !ok {
			t.Fatalf("Document(%s) of a hash DocumentHashes listed: not found", h)
		}
		d, err := Describe(msg)
		if err != nil {
			t.Fatal(err)
		}
		if d.Hash != h || d.Party == "" || d.Sequence == 0 {
			t.Errorf("Describe of %s: %+v", h, d)
		}
		if !n.a.Holds(h) {
			t.Errorf("Holds(%s) = false", h)
		}
	}
	if _, ok := n.a.Document(hotline.ID{1}); ok {
		t.Error("Document of an unknown hash found one")
	}
	for _, tc := range []struct {
		name, code string
		msg        []byte
	}{
		{"unknown tag", "malformed", []byte("hotline-other/v1\n{}\n\n— BER/root AAAA\n")},
		{"not a note", "malformed", []byte(EntryTag + "\n{}\n")},
		{"entry without a sequence", "missing_field", signRaw(t, []byte(EntryTag+"\n{\"party\":\"BER\"}\n"), n.keys["BER"].Root)},
	} {
		if _, err := Describe(tc.msg); ErrorCode(err) != tc.code {
			t.Errorf("%s: %v, want %s", tc.name, err, tc.code)
		}
	}
}

func TestDigest(t *testing.T) {
	n := newTestNet(t)
	again, err := Parse(n.a.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	if n.a.Digest() != again.Digest() {
		t.Error("one chain, two digests")
	}
	b, err := n.a.With(nextEntryNote(t, n, n.a, "BER", t0.Add(time.Hour), n.keys["BER"].Root))
	if err != nil {
		t.Fatal(err)
	}
	if b.Digest() == n.a.Digest() {
		t.Error("a chain with one more entry has the same digest")
	}
	// A draft is not part of it.
	d, err := b.NextDraft()
	if err != nil {
		t.Fatal(err)
	}
	c, err := b.WithDraft(d)
	if err != nil {
		t.Fatal(err)
	}
	if c.Digest() != b.Digest() {
		t.Error("a draft changed the digest")
	}
}

func TestEquivocation(t *testing.T) {
	n := newTestNet(t)
	e2 := nextEntryNote(t, n, n.a, "BER", t0.Add(time.Hour), n.keys["BER"].Root)
	a, err := n.a.With(e2)
	if err != nil {
		t.Fatal(err)
	}
	other := nextEntryNote(t, n, n.a, "BER", t0.Add(2*time.Hour), n.keys["BER"].Root)
	held, ok := a.Equivocation(other)
	if !ok || !bytes.Equal(held, e2) {
		t.Fatalf("a second entry BER/2 signed by BER's root: Equivocation = %v; want the held entry", ok)
	}
	if _, err := a.With(other); ErrorCode(err) != ErrFork.Code {
		t.Errorf("With of the second entry 2: %v, want fork", err)
	}
	impostor := mustKeys(t, "BER")
	for _, tc := range []struct {
		name string
		msg  []byte
	}{
		{"the held entry itself", e2},
		{"entry 3, not held yet", nextEntryNote(t, n, a, "BER", t0.Add(3*time.Hour), n.keys["BER"].Root)},
		{"entry 2 signed by another key", nextEntryNote(t, n, n.a, "BER", t0.Add(2*time.Hour), impostor.Root)},
		{"garbage", []byte("garbage")},
	} {
		if _, ok := a.Equivocation(tc.msg); ok {
			t.Errorf("%s: taken for an equivocation", tc.name)
		}
	}
	if p, ok := a.SignedBy(other); !ok || p != "BER" {
		t.Errorf("SignedBy of BER's entry: %q %v", p, ok)
	}
	if p, ok := a.SignedBy(nextEntryNote(t, n, n.a, "BER", t0.Add(2*time.Hour), impostor.Root)); ok {
		t.Errorf("SignedBy of an impostor's entry: %q", p)
	}
}

// FuzzDescribe: Describe never panics, refuses with a code, and what it
// describes has the hash of its note text.
func FuzzDescribe(f *testing.F) {
	for _, name := range []string{"testdata/chain.json", "testdata/sample.json"} {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		a, err := Parse(b)
		if err != nil {
			f.Fatal(err)
		}
		for _, h := range a.DocumentHashes() {
			msg, _ := a.Document(h)
			f.Add(msg)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := Describe(b)
		if err != nil {
			if ErrorCode(err) == "" {
				t.Fatalf("error without a code: %v", err)
			}
			return
		}
		if d.Hash != noteHash(b) {
			t.Fatalf("hash %s, note text hashes to %s", d.Hash, noteHash(b))
		}
	})
}
