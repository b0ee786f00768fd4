package hotline

import (
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
)

// testTime is the fixed "now" of the test vectors.
var testTime = time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)

// newTestKeySets generates a key set for each party, in order.
func newTestKeySets(tb testing.TB, parties ...string) map[string]*KeySet {
	tb.Helper()
	m := make(map[string]*KeySet, len(parties))
	for _, p := range parties {
		ks, err := GenerateKeySet(p, "")
		if err != nil {
			tb.Fatal(err)
		}
		m[p] = ks
	}
	return m
}

// newTestDraft returns a draft from "from" to each of "to" (first envelopes
// to each), with a small JSON body.
func newTestDraft(keys map[string]*KeySet, from string, to ...string) *Draft {
	d := &Draft{
		Agreement: NoteID([]byte("test agreement\n")),
		From:      from,
		Created:   testTime,
		Inner: Inner{
			Kind:     "clarification_request",
			Severity: SeverityCritical,
			Marking:  TLPAmber,
		},
		Body: []byte(`{"title":"Intrusion at a grid operator","summary":"command servers in your territory"}`),
	}
	for _, p := range to {
		d.To = append(d.To, Addressee{Party: p, Key: keys[p].Encryption.Public(), Seq: 1})
	}
	return d
}

// mustSeal seals d with the sender's message key.
func mustSeal(tb testing.TB, keys map[string]*KeySet, d *Draft) *Envelope {
	tb.Helper()
	e, err := Seal(d, keys[d.From].Message)
	if err != nil {
		tb.Fatal(err)
	}
	return e
}

// mustVerifier returns the note verifier of k.
func mustVerifier(tb testing.TB, k *SigningKey) note.Verifier {
	tb.Helper()
	v, err := k.Verifier()
	if err != nil {
		tb.Fatal(err)
	}
	return v
}
