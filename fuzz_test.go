package hotline

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// seedVectors adds every test vector whose name matches pattern to f.
func seedVectors(f *testing.F, pattern string) {
	f.Helper()
	names, err := filepath.Glob(filepath.Join(vectorDir, pattern))
	if err != nil || len(names) == 0 {
		f.Fatalf("no test vectors match %s", pattern)
	}
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// noteText returns the text of a signed note: everything before the blank
// line that precedes the signatures.
func noteText(b []byte) []byte {
	if i := bytes.LastIndex(b, []byte("\n\n")); i >= 0 {
		return b[:i+1]
	}
	return b
}

// FuzzParseEnvelope checks that whatever Parse accepts marshals back to the
// very same bytes (so one message has one encoding), and that its id,
// verification and opening never panic.
func FuzzParseEnvelope(f *testing.F) {
	seedVectors(f, "envelope-*.bin")
	seedVectors(f, "group-v2*.bin")
	priv, pub := vectorKeys(f)
	ber, err := NewVerifier(pub["BER message"])
	if err != nil {
		f.Fatal(err)
	}
	cri, err := ParseEncryptionKey(priv["CRI encryption"])
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := Parse(b)
		if err != nil {
			if ErrorCode(err) == "" {
				t.Fatalf("refusal without a code: %v", err)
			}
			return
		}
		out := e.Marshal()
		if !bytes.Equal(out, b) {
			t.Fatalf("parse → marshal changed the bytes:\n%q\n%q", b, out)
		}
		if int64(len(out)) != e.Size() {
			t.Fatalf("Size() = %d, len = %d", e.Size(), len(out))
		}
		again, err := Parse(out)
		if err != nil || again.ID() != e.ID() {
			t.Fatalf("re-parse: %v", err)
		}
		if err := e.Verify(ber); err == nil {
			if _, err := e.Open("CRI", cri); err != nil && ErrorCode(err) == "" {
				t.Fatalf("open: refusal without a code: %v", err)
			}
		}
	})
}

// FuzzParseInner checks the inner-header parser's round trip.
func FuzzParseInner(f *testing.F) {
	f.Add([]byte("hotline-inner/v1\nkind ack\nseverity low\nmarking CLEAR\nsalt AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"))
	f.Add([]byte("hotline-inner/v1\nkind response\nseverity high\nmarking AMBER+STRICT\nthread 0101010101010101010101010101010101010101010101010101010101010101\nref 0202020202020202020202020202020202020202020202020202020202020202\nsalt AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		in, err := parseInner(b)
		if err != nil {
			return
		}
		if !bytes.Equal(in.marshal(), b) {
			t.Fatalf("round trip changed %q", b)
		}
	})
}

// fuzzStatement checks a statement parser's round trip: what it accepts
// re-marshals to the same text.
func fuzzStatement[S Statement](f *testing.F, vector string, parse func([]byte) (S, error)) {
	f.Helper()
	b, err := os.ReadFile(filepath.Join(vectorDir, vector))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(noteText(b))
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := parse(b)
		if err != nil {
			if ErrorCode(err) == "" {
				t.Fatalf("refusal without a code: %v", err)
			}
			return
		}
		if !bytes.Equal(st.Text(), b) {
			t.Fatalf("round trip changed %q into %q", b, st.Text())
		}
	})
}

func FuzzParseReceipt(f *testing.F) { fuzzStatement(f, "receipt.note", ParseReceipt) }

func FuzzParseHeartbeat(f *testing.F) { fuzzStatement(f, "heartbeat.note", ParseHeartbeat) }

func FuzzParseRatification(f *testing.F) {
	fuzzStatement(f, "ratification.note", ParseRatification)
}

func FuzzParseRequest(f *testing.F) { fuzzStatement(f, "request.note", ParseRequest) }

func FuzzParseRefusal(f *testing.F) { fuzzStatement(f, "refusal.note", ParseRefusal) }

func FuzzParseSequenceConflict(f *testing.F) {
	seedVectors(f, "sequence-conflict*.txt")
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseSequenceConflict(b)
		if err != nil {
			if ErrorCode(err) == "" {
				t.Fatalf("refusal without a code: %v", err)
			}
			return
		}
		if !bytes.Equal(c.Marshal(), b) {
			t.Fatalf("round trip changed %q into %q", b, c.Marshal())
		}
	})
}

func FuzzParseRelayReceipt(f *testing.F) {
	fuzzStatement(f, "relay-receipt.note", ParseRelayReceipt)
}

// FuzzOpenReceipt feeds whole signed notes to OpenReceipt: nothing a peer
// sends may panic it, and what it accepts carries CRI's signature.
func FuzzOpenReceipt(f *testing.F) {
	seedVectors(f, "receipt.note")
	_, pub := vectorKeys(f)
	cri, err := NewVerifier(pub["CRI message"])
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, id, err := OpenReceipt(b, cri)
		if err != nil {
			if ErrorCode(err) == "" {
				t.Fatalf("refusal without a code: %v", err)
			}
			return
		}
		if r.Party != "CRI" || id != NoteID(r.Text()) {
			t.Fatalf("accepted receipt for %s with id %s", r.Party, id)
		}
	})
}

// FuzzParseKeys checks that the key parsers never panic and that what they
// accept round-trips.
func FuzzParseKeys(f *testing.F) {
	priv, pub := vectorKeys(f)
	for _, m := range []map[string]string{priv, pub} {
		for _, k := range m {
			f.Add(k)
		}
	}
	f.Fuzz(func(t *testing.T, s string) {
		if k, err := ParseSigningKey(s); err == nil && k.String() != s {
			t.Fatalf("signing key round trip: %q → %q", s, k.String())
		}
		if k, err := ParseEncryptionKey(s); err == nil {
			if _, err := ParseEncryptionKey(k.String()); err != nil {
				t.Fatalf("encryption key does not re-parse: %v", err)
			}
		}
		if k, err := ParseEncryptionPublicKey(s); err == nil && k.String() != s {
			t.Fatalf("encryption public key round trip: %q → %q", s, k.String())
		}
	})
}
