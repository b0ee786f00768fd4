package hotline

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/mod/sumdb/note"
)

// testStatements returns one of each statement, signed by the key that
// signs it in the protocol, with a verifier for that key and the parser.
func testStatements(tb testing.TB, keys map[string]*KeySet) []struct {
	name   string
	st     Statement
	signer *SigningKey
	open   func([]byte, note.Verifier) (Statement, error)
	parse  func([]byte) (Statement, error)
} {
	tb.Helper()
	id := NoteID([]byte("message"))
	type entry = struct {
		name   string
		st     Statement
		signer *SigningKey
		open   func([]byte, note.Verifier) (Statement, error)
		parse  func([]byte) (Statement, error)
	}
	return []entry{
		{"receipt", &Receipt{Message: id, Party: "CRI", Received: testTime, LogOrigin: "hotline/CRI", LogIndex: 41}, keys["CRI"].Message,
			func(b []byte, v note.Verifier) (Statement, error) { r, _, err := OpenReceipt(b, v); return r, err },
			func(b []byte) (Statement, error) { return ParseReceipt(b) }},
		{"heartbeat", &Heartbeat{From: "BER", To: "CRI", Time: testTime, Counter: 7, Sent: 41, Received: 39,
			Checkpoint: []byte("hotline/BER\n42\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n— hotline/BER AAAA\n"),
			Gossip:     [][]byte{[]byte("hotline/DOR\n7\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n")}}, keys["BER"].Message,
			func(b []byte, v note.Verifier) (Statement, error) { return OpenHeartbeat(b, v) },
			func(b []byte) (Statement, error) { return ParseHeartbeat(b) }},
		{"heartbeat, no checkpoint", &Heartbeat{From: "BER", To: "CRI", Time: testTime, Counter: 1}, keys["BER"].Message,
			func(b []byte, v note.Verifier) (Statement, error) { return OpenHeartbeat(b, v) },
			func(b []byte) (Statement, error) { return ParseHeartbeat(b) }},
		{"heartbeat, agreement digest", &Heartbeat{From: "BER", To: "CRI", Time: testTime, Counter: 2, Agreement: id}, keys["BER"].Message,
			func(b []byte, v note.Verifier) (Statement, error) { return OpenHeartbeat(b, v) },
			func(b []byte) (Statement, error) { return ParseHeartbeat(b) }},
		{"ratification", &Ratification{Party: "DOR", Agreement: id, Version: 2, Time: testTime}, keys["DOR"].Root,
			func(b []byte, v note.Verifier) (Statement, error) { return OpenRatification(b, v) },
			func(b []byte) (Statement, error) { return ParseRatification(b) }},
		{"request", &Request{From: "BER", To: "CRI", Time: testTime, Method: "POST", Path: "/v1/envelopes?x=1", Length: 4, BodyHash: sha256.Sum256([]byte("body"))}, keys["BER"].Message,
			func(b []byte, v note.Verifier) (Statement, error) { return OpenRequest(b, v) },
			func(b []byte) (Statement, error) { return ParseRequest(b) }},
		{"refusal", &Refusal{Message: id, Party: "CRI", Header: sha256.Sum256([]byte("header")), Code: "invalid_body", Time: testTime}, keys["CRI"].Message,
			func(b []byte, v note.Verifier) (Statement, error) { r, _, err := OpenRefusal(b, v); return r, err },
			func(b []byte) (Statement, error) { return ParseRefusal(b) }},
		{"relay receipt", &RelayReceipt{Message: id, From: "BER", To: "CRI", Relay: "DEP", Received: testTime}, keys["DEP"].Message,
			func(b []byte, v note.Verifier) (Statement, error) { return OpenRelayReceipt(b, v) },
			func(b []byte) (Statement, error) { return ParseRelayReceipt(b) }},
	}
}

func TestStatements(t *testing.T) {
	keys := newTestKeySets(t, "BER", "CRI", "DOR", "DEP")
	for _, tt := range testStatements(t, keys) {
		t.Run(tt.name, func(t *testing.T) {
			signed, err := Sign(tt.st, tt.signer)
			if err != nil {
				t.Fatal(err)
			}
			got, err := tt.open(signed, mustVerifier(t, tt.signer))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.st, got); diff != "" {
				t.Errorf("round trip (-want +got):\n%s", diff)
			}
			parsed, err := tt.parse(tt.st.Text())
			if err != nil || !bytes.Equal(parsed.Text(), tt.st.Text()) {
				t.Errorf("parse of the text: %v", err)
			}

			// Signed by another key: refused.
			other, err := GenerateSigningKey(tt.signer.Name(), false)
			if err != nil {
				t.Fatal(err)
			}
			forged, _ := Sign(tt.st, other)
			if _, err := tt.open(forged, mustVerifier(t, tt.signer)); !errors.Is(err, ErrBadSignature) {
				t.Errorf("forged: got %v, want bad_signature", err)
			}
			// A flipped byte in the text: refused.
			flipped := bytes.Clone(signed)
			flipped[len(tt.st.Tag())+3] ^= 1
			if _, err := tt.open(flipped, mustVerifier(t, tt.signer)); err == nil {
				t.Error("flipped byte accepted")
			}
			// The wrong tag: refused with wrong_tag, before any signature.
			wrong := append([]byte("hotline-other/v1"), signed[len(tt.st.Tag()):]...)
			if _, err := tt.open(wrong, mustVerifier(t, tt.signer)); !errors.Is(err, ErrWrongTag) {
				t.Errorf("wrong tag: got %v, want wrong_tag", err)
			}
			if _, err := tt.parse(append([]byte("hotline-other/v1"), tt.st.Text()[len(tt.st.Tag()):]...)); !errors.Is(err, ErrWrongTag) {
				t.Errorf("parse with wrong tag: got %v, want wrong_tag", err)
			}
			// Non-canonical text: an extra line, a missing line.
			if _, err := tt.parse(append(tt.st.Text(), "extra line\n"...)); !errors.Is(err, ErrMalformed) {
				t.Errorf("extra line: got %v, want malformed", err)
			}
			text := tt.st.Text()
			first := len(tt.st.Tag()) + 1
			second := first + bytes.IndexByte(text[first:], '\n') + 1
			if _, err := tt.parse(append(bytes.Clone(text[:first]), text[second:]...)); !errors.Is(err, ErrMalformed) {
				t.Errorf("missing first value line: got %v, want malformed", err)
			}
			if _, err := tt.parse(bytes.Replace(text, []byte(" "), []byte("  "), 1)); !errors.Is(err, ErrMalformed) {
				t.Errorf("double space: got %v, want malformed", err)
			}
		})
	}
}

func TestStatementSignedByWrongParty(t *testing.T) {
	keys := newTestKeySets(t, "BER", "CRI")
	// A receipt claiming to be CRI's, correctly signed by BER: the
	// signature verifies with BER's key, but BER cannot receipt for CRI.
	r := &Receipt{Message: NoteID([]byte("m")), Party: "CRI", Received: testTime, LogOrigin: "hotline/CRI", LogIndex: 1}
	signed, err := Sign(r, keys["BER"].Message)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := OpenReceipt(signed, mustVerifier(t, keys["BER"].Message)); !errors.Is(err, ErrBadSignature) {
		t.Errorf("got %v, want bad_signature", err)
	}
	// A ratification signed with the message key rather than the root key.
	rat := &Ratification{Party: "BER", Agreement: ID{1}, Version: 1, Time: testTime}
	signed, _ = Sign(rat, keys["BER"].Message)
	if _, err := OpenRatification(signed, mustVerifier(t, keys["BER"].Message)); !errors.Is(err, ErrBadSignature) {
		t.Errorf("ratification by message key: got %v, want bad_signature", err)
	}
}

// TestReceiptID: a receipt's id is SHA-256 of its text; a receipt with a
// second signature line is refused.
func TestReceiptID(t *testing.T) {
	keys := newTestKeySets(t, "CRI")
	r := &Receipt{Message: NoteID([]byte("m")), Party: "CRI", Received: testTime, LogOrigin: "hotline/CRI", LogIndex: 3}
	signed, err := Sign(r, keys["CRI"].Message)
	if err != nil {
		t.Fatal(err)
	}
	_, id, err := OpenReceipt(signed, mustVerifier(t, keys["CRI"].Message))
	if err != nil {
		t.Fatal(err)
	}
	if id != ID(sha256.Sum256(r.Text())) {
		t.Error("receipt id is not SHA-256 of the text")
	}
	// A signature line appended by anyone else (issue 16): refused, so a
	// statement has one form.
	extra, _ := GenerateSigningKey("someone", false)
	n, err := note.Open(signed, note.VerifierList(mustVerifier(t, keys["CRI"].Message)))
	if err != nil {
		t.Fatal(err)
	}
	twice, err := note.Sign(n, extra)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := OpenReceipt(twice, mustVerifier(t, keys["CRI"].Message)); ErrorCode(err) != ErrBadSignature.Code {
		t.Errorf("a receipt with a foreign signature line appended: %v, want bad_signature", err)
	}
}
