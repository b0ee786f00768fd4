package sqlstore

import (
	"encoding/base64"
	"errors"
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"

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
