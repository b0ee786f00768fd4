// Cursors, column encodings and page limits.

package sqlstore

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

// cursorKind says which listing, in which order, a cursor belongs to, so
// that a cursor of one listing is refused by another.
type cursorKind byte

// The listings.
const (
	messagesNewest cursorKind = 'm'
	messagesOldest cursorKind = 'M'
	outboxNewest   cursorKind = 'o'
	relayOldest    cursorKind = 'r'
)

const cursorVersion = 1

// encodeCursor returns the cursor that continues listing kind after the row
// with insertion sequence seq.
func encodeCursor(kind cursorKind, seq int64) store.Cursor {
	var b [10]byte
	b[0] = cursorVersion
	b[1] = byte(kind)
	binary.BigEndian.PutUint64(b[2:], uint64(seq))
	return store.Cursor(base64.RawURLEncoding.EncodeToString(b[:]))
}

// decodeCursor returns the insertion sequence c continues after, or
// store.ErrInvalid if c was not issued for listing kind. An empty cursor
// decodes to ok false.
func decodeCursor(kind cursorKind, c store.Cursor) (seq int64, ok bool, err error) {
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

// pageLimit returns the page size for a requested limit: def for 0, at
// most max, or store.ErrInvalid for a negative limit.
func pageLimit(limit, def, max int) (int, error) {
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

// nanos returns t as nanoseconds since 1970, the column encoding of times.
func nanos(t time.Time) int64 { return t.UnixNano() }

// fromNanos decodes a time column.
func fromNanos(ns int64) time.Time { return time.Unix(0, ns).UTC() }

// fromOptNanos decodes a nullable time column.
func fromOptNanos(ns *int64) time.Time {
	if ns == nil {
		return time.Time{}
	}
	return fromNanos(*ns)
}

// encodeParties encodes a list of party ids as a JSON array.
func encodeParties(p []string) string {
	b, err := json.Marshal(p)
	if err != nil {
		panic(err) // strings always marshal
	}
	return string(b)
}

// decodeParties decodes a list of party ids.
func decodeParties(s string) ([]string, error) {
	var p []string
	if err := json.Unmarshal([]byte(s), &p); err != nil {
		return nil, fmt.Errorf("decoding recipients: %w", err)
	}
	return p, nil
}

// encodeIDs encodes a list of ids as their concatenation.
func encodeIDs(ids []hotline.ID) []byte {
	b := make([]byte, 0, len(ids)*len(hotline.ID{}))
	for _, id := range ids {
		b = append(b, id[:]...)
	}
	return b
}

// decodeIDs decodes a list of ids; nil for none.
func decodeIDs(b []byte) ([]hotline.ID, error) {
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

// decodeID decodes an id column.
func decodeID(b []byte) (hotline.ID, error) {
	var id hotline.ID
	if len(b) != len(id) {
		return id, fmt.Errorf("decoding id: %d bytes", len(b))
	}
	copy(id[:], b)
	return id, nil
}

// errorText cuts an error text to store.MaxErrorText bytes on a rune
// boundary.
func errorText(s string) string {
	if len(s) <= store.MaxErrorText {
		return s
	}
	s = s[:store.MaxErrorText]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}
