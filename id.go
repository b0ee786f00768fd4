package hotline

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
)

// ID identifies a message or a signed statement: 32 bytes, written as 64
// lower-case hex digits.
type ID [32]byte

// String returns the id as 64 lower-case hex digits.
func (id ID) String() string { return hex.EncodeToString(id[:]) }

// IsZero reports whether id is the zero value, which stands for "none".
func (id ID) IsZero() bool { return id == ID{} }

// MarshalText implements [encoding.TextMarshaler].
func (id ID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText implements [encoding.TextUnmarshaler]; it accepts exactly
// 64 lower-case hex digits.
func (id *ID) UnmarshalText(b []byte) error {
	v, err := ParseID(string(b))
	if err != nil {
		return err
	}
	*id = v
	return nil
}

// ParseID parses 64 lower-case hex digits. Upper-case digits are refused so
// that every id has exactly one text form.
func ParseID(s string) (ID, error) {
	var id ID
	if len(s) != 64 {
		return id, fmt.Errorf("id %q: want 64 hex digits, got %d characters", truncate(s), len(s))
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return id, fmt.Errorf("id %q: not lower-case hex", truncate(s))
		}
	}
	hex.Decode(id[:], []byte(s))
	return id, nil
}

// NoteID returns the id of a signed statement: SHA-256 of its note text,
// without the signature lines (which can be appended to a note, so a note's
// full bytes are not canonical).
func NoteID(text []byte) ID { return sha256.Sum256(text) }

func truncate(s string) string {
	if len(s) > 80 {
		return s[:77] + "..."
	}
	return s
}
