package sqlstore

import (
	"encoding/base64"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/internal/store"
)

func TestCursorRoundTrip(t *testing.T) {
	for _, seq := range []int64{0, 1, 41, math.MaxInt64} {
		for _, kind := range []cursorKind{messagesNewest, messagesOldest, outboxNewest, relayOldest} {
			c := encodeCursor(kind, seq)
			got, ok, err := decodeCursor(kind, c)
			if err != nil || !ok || got != seq {
				t.Errorf("decodeCursor(%c, encodeCursor(%d)) = %d, %v, %v", kind, seq, got, ok, err)
			}
		}
	}
}

func TestDecodeCursorRefuses(t *testing.T) {
	outbox := encodeCursor(outboxNewest, 7)
	tests := []struct {
		name   string
		cursor store.Cursor
	}{
		{"not base64", "!!!"},
		{"padded base64", encodeCursor(messagesNewest, 7) + "=="},
		{"short", encodeCursor(messagesNewest, 7)[:8]},
		{"long", encodeCursor(messagesNewest, 7) + "AA"},
		{"another listing", outbox},
		{"another version", store.Cursor(base64.RawURLEncoding.EncodeToString([]byte{2, 'm', 0, 0, 0, 0, 0, 0, 0, 7}))},
		{"negative position", encodeCursor(messagesNewest, -1)},
		{"non-zero trailing bits", "AW0AAAAAAAAAB3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := decodeCursor(messagesNewest, tt.cursor)
			if !errors.Is(err, store.ErrInvalid) {
				t.Errorf("decodeCursor(%q) = %v, want %v", tt.cursor, err, store.ErrInvalid)
			}
		})
	}
	if _, ok, err := decodeCursor(messagesNewest, ""); ok || err != nil {
		t.Errorf("decodeCursor(\"\") = %v, %v; want the start", ok, err)
	}
}

func TestColumnEncodings(t *testing.T) {
	parties := []string{"BER", "PAR", "Côte d'Ivoire", `"quoted"`}
	got, err := decodeParties(encodeParties(parties))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(parties, got); diff != "" {
		t.Errorf("parties (-want +got):\n%s", diff)
	}
	ids := []hotline.ID{{1}, {2, 3}}
	gotIDs, err := decodeIDs(encodeIDs(ids))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(ids, gotIDs); diff != "" {
		t.Errorf("ids (-want +got):\n%s", diff)
	}
	if _, err := decodeIDs(make([]byte, 33)); err == nil {
		t.Errorf("decodeIDs of 33 bytes: no error")
	}
	if _, err := decodeID(make([]byte, 31)); err == nil {
		t.Errorf("decodeID of 31 bytes: no error")
	}
	long := string(make([]byte, store.MaxErrorText-1)) + "é" + "tail"
	if cut := errorText(long); len(cut) > store.MaxErrorText || cut != long[:store.MaxErrorText-1] {
		t.Errorf("errorText cut to %d bytes, not on the rune boundary", len(cut))
	}
}

// FuzzDecodeCursor checks that decodeCursor never panics, refuses what it
// did not issue with ErrInvalid, and that whatever it accepts encodes back
// to the same cursor.
func FuzzDecodeCursor(f *testing.F) {
	f.Add(byte(messagesNewest), string(encodeCursor(messagesNewest, 12)))
	f.Add(byte(outboxNewest), string(encodeCursor(messagesOldest, 12)))
	f.Fuzz(func(t *testing.T, kind byte, c string) {
		seq, ok, err := decodeCursor(cursorKind(kind), store.Cursor(c))
		if err != nil {
			if !errors.Is(err, store.ErrInvalid) {
				t.Fatalf("decodeCursor(%q) = %v, not ErrInvalid", c, err)
			}
			return
		}
		if !ok {
			if c != "" {
				t.Fatalf("decodeCursor(%q) accepted nothing without an error", c)
			}
			return
		}
		if again := encodeCursor(cursorKind(kind), seq); again != store.Cursor(c) {
			t.Fatalf("decodeCursor(%q) = %d, which encodes to %q", c, seq, again)
		}
	})
}

func TestFactsRoundTrip(t *testing.T) {
	id := func(s string) hotline.ID { return hotline.NoteID([]byte(s)) }
	e := store.Envelope{
		ID: id("ack"), From: "BER", To: []string{"PAR", "ROM \"quoted\""}, Kind: "ack", Severity: hotline.SeverityHigh,
		Thread: id("ping"), Refs: []hotline.ID{id("ping"), id("other")}, AgreementHash: id("agreement"),
		Created: time.Unix(0, -5).UTC(), At: time.Unix(1_800_000_000, 7).UTC(),
		Body: []byte(`{"Challenge":"C-1","title":"x"}`),
	}
	want := envelopeFacts(hotline.Sent, &e)
	if want.Challenge != "C-1" {
		t.Errorf("challenge of an ack = %q, want C-1 (JSON's keys match whatever their case)", want.Challenge)
	}
	var d factsDecoder
	var got store.MessageFacts
	if err := d.decode(encodeFacts(&want), &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("facts round trip (-want +got):\n%s", diff)
	}
	first := e
	first.Thread, first.Refs = first.ID, nil
	if f := envelopeFacts(hotline.Received, &first); !f.Thread.IsZero() {
		t.Errorf("a first message's facts name thread %v, want zero", f.Thread)
	}
	for _, c := range []struct {
		kind, body, want string
	}{
		{"ping", `{"challenge":"7391"}`, "7391"},
		{"ack", `{"challenge":"7391","note":"seen"}`, "7391"},
		{"notification", `{"challenge":"7391"}`, ""},
		{"ping", `{"challenge":7391}`, ""},
		{"ping", `not json`, ""},
		{"ping", ``, ""},
	} {
		if got := challengeOf(c.kind, []byte(c.body)); got != c.want {
			t.Errorf("challengeOf(%s, %s) = %q, want %q", c.kind, c.body, got, c.want)
		}
	}
}

// FuzzDecodeFacts checks that decoding refuses malformed facts with an
// error, never a panic, and that what it accepts encodes to facts that
// decode the same.
func FuzzDecodeFacts(f *testing.F) {
	e := store.Envelope{ID: hotline.NoteID([]byte("x")), From: "BER", To: []string{"PAR"}, Kind: "ping",
		Severity: hotline.SeverityLow, Refs: []hotline.ID{{1}}, Body: []byte(`{"challenge":"c"}`)}
	f.Add(encodeFacts(new(envelopeFacts(hotline.Received, &e))))
	e.Refs, e.To = nil, nil
	f.Add(encodeFacts(new(envelopeFacts(hotline.Sent, &e))))
	f.Add([]byte{factsVersion, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		var d factsDecoder
		var m store.MessageFacts
		if err := d.decode(b, &m); err != nil {
			return
		}
		var again store.MessageFacts
		if err := d.decode(encodeFacts(&m), &again); err != nil {
			t.Fatalf("decode(encodeFacts(%+v)): %v", m, err)
		}
		if diff := cmp.Diff(m, again, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("facts decoded, encoded and decoded again (-first +again):\n%s", diff)
		}
	})
}

// FuzzParseAttempts checks that OutboxEvidence's column of a row not
// delivered is parsed or refused with an error, never a panic, and that
// the last error keeps its spaces.
func FuzzParseAttempts(f *testing.F) {
	f.Add("1 2 1772366400000000000 1772366460000000000 peer refused (422 decrypt_failed)")
	f.Add("3 0   gave up")
	f.Add("1 0   ")
	f.Add("x 0   ")
	f.Fuzz(func(t *testing.T, s string) {
		var d store.DeliveryFacts
		if err := parseAttempts(s, &d); err != nil {
			return
		}
		if !strings.HasSuffix(s, d.LastError) {
			t.Fatalf("parseAttempts(%q): last error %q is not the tail", s, d.LastError)
		}
	})
}
