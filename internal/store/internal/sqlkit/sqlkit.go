// Package sqlkit holds what the SQL implementations of store.Store share:
// cursors, column encodings and page limits.
package sqlkit

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"time"
	"unicode/utf8"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/internal/store"
)

// CursorKind says which listing, in which order, a cursor belongs to, so
// that a cursor of one listing is refused by another.
type CursorKind byte

// The listings.
const (
	MessagesNewest CursorKind = 'm'
	MessagesOldest CursorKind = 'M'
	OutboxNewest   CursorKind = 'o'
	RelayOldest    CursorKind = 'r'
)

const cursorVersion = 1

// EncodeCursor returns the cursor that continues listing kind after the row
// with insertion sequence seq.
func EncodeCursor(kind CursorKind, seq int64) store.Cursor {
	var b [10]byte
	b[0] = cursorVersion
	b[1] = byte(kind)
	binary.BigEndian.PutUint64(b[2:], uint64(seq))
	return store.Cursor(base64.RawURLEncoding.EncodeToString(b[:]))
}

// DecodeCursor returns the insertion sequence c continues after, or
// store.ErrInvalid if c was not issued for listing kind. An empty cursor
// decodes to ok false.
func DecodeCursor(kind CursorKind, c store.Cursor) (seq int64, ok bool, err error) {
	if c == "" {
		return 0, false, nil
	}
	// Strict: the unused bits of the last character must be zero, so
	// that each position has exactly one cursor.
	b, err := base64.RawURLEncoding.Strict().DecodeString(string(c))
	if err != nil || len(b) != 10 || b[0] != cursorVersion || b[1] != byte(kind) {
		return 0, false, fmt.Errorf("%w: cursor %q not issued for this listing", store.ErrInvalid, truncate(string(c)))
	}
	v := binary.BigEndian.Uint64(b[2:])
	if v > math.MaxInt64 {
		return 0, false, fmt.Errorf("%w: cursor %q out of range", store.ErrInvalid, truncate(string(c)))
	}
	return int64(v), true, nil
}

func truncate(s string) string {
	if len(s) > 40 {
		return s[:37] + "..."
	}
	return s
}

// PageLimit returns the page size for a requested limit: def for 0, at
// most max, or store.ErrInvalid for a negative limit.
func PageLimit(limit, def, max int) (int, error) {
	switch {
	case limit < 0:
		return 0, fmt.Errorf("%w: negative limit %d", store.ErrInvalid, limit)
	case limit == 0:
		return def, nil
	case limit > max:
		return max, nil
	}
	return limit, nil
}

// Time returns t as nanoseconds since 1970, the column encoding of times.
func Time(t time.Time) int64 { return t.UnixNano() }

// FromTime decodes a time column.
func FromTime(ns int64) time.Time { return time.Unix(0, ns).UTC() }

// FromOptTime decodes a nullable time column.
func FromOptTime(ns *int64) time.Time {
	if ns == nil {
		return time.Time{}
	}
	return FromTime(*ns)
}

// Parties encodes a list of party ids as a JSON array.
func Parties(p []string) string {
	b, err := json.Marshal(p)
	if err != nil {
		panic(err) // strings always marshal
	}
	return string(b)
}

// FromParties decodes a list of party ids.
func FromParties(s string) ([]string, error) {
	var p []string
	if err := json.Unmarshal([]byte(s), &p); err != nil {
		return nil, fmt.Errorf("decoding recipients: %w", err)
	}
	return p, nil
}

// IDs encodes a list of ids as their concatenation.
func IDs(ids []hotline.ID) []byte {
	b := make([]byte, 0, len(ids)*len(hotline.ID{}))
	for _, id := range ids {
		b = append(b, id[:]...)
	}
	return b
}

// FromIDs decodes a list of ids; nil for none.
func FromIDs(b []byte) ([]hotline.ID, error) {
	const n = len(hotline.ID{})
	if len(b)%n != 0 {
		return nil, fmt.Errorf("decoding ids: %d bytes", len(b))
	}
	if len(b) == 0 {
		return nil, nil
	}
	ids := make([]hotline.ID, len(b)/n)
	for i := range ids {
		copy(ids[i][:], b[i*n:])
	}
	return ids, nil
}

// ID decodes an id column.
func ID(b []byte) (hotline.ID, error) {
	var id hotline.ID
	if len(b) != len(id) {
		return id, fmt.Errorf("decoding id: %d bytes", len(b))
	}
	copy(id[:], b)
	return id, nil
}

// Hash decodes a 32-byte column.
func Hash(b []byte) ([32]byte, error) {
	id, err := ID(b)
	return id, err
}

// ErrorText cuts an error text to store.MaxErrorText bytes on a rune
// boundary.
func ErrorText(s string) string {
	if len(s) <= store.MaxErrorText {
		return s
	}
	s = s[:store.MaxErrorText]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}
