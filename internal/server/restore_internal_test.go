package server

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"

	"github.com/hotline-net/hotline/internal/tlog"
)

// TestCheckCopy: a peer's copy of the log is taken only if, after the
// entries the restored log holds, it builds the witnessed checkpoint.
func TestCheckCopy(t *testing.T) {
	var all [][]byte
	for i := range 300 {
		e := sha256.Sum256([]byte{byte(i), byte(i >> 8)})
		all = append(all, e[:])
	}
	want := tlog.Checkpoint{Size: 300, Hash: tlog.RootOf(all)}
	held, copied := all[:100], all[100:]
	if err := checkCopy(held, copied, want); err != nil {
		t.Fatalf("a true copy: %v", err)
	}
	changed := append([][]byte{}, copied...)
	changed[150] = bytes.Repeat([]byte{7}, 32)
	heldOther := append([][]byte{}, held...)
	heldOther[3] = bytes.Repeat([]byte{7}, 32)
	for _, tc := range []struct {
		name         string
		held, copied [][]byte
		want         string
	}{
		{"an entry changed", held, changed, "witnessed checkpoint"},
		{"a log from another history", heldOther, copied, "witnessed checkpoint"},
		{"one entry short", held, copied[:199], "299 entries, want 300"},
		{"an entry of another size", held, append(append([][]byte{}, copied[:199]...), []byte{1}), "has 1 bytes"},
	} {
		err := checkCopy(tc.held, tc.copied, want)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
		if tc.want == "witnessed checkpoint" && !errors.Is(err, tlog.ErrMirrorMismatch) {
			t.Errorf("%s: %v does not wrap ErrMirrorMismatch", tc.name, err)
		}
	}
}
