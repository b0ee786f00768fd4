package hotline

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"strconv"
	"strings"
	"time"
)

// TimeLayout is how every time in a signed text is written: RFC 3339 in UTC
// with whole seconds, "2026-11-27T03:22:55Z".
const TimeLayout = "2006-01-02T15:04:05Z"

// FormatTime writes t in [TimeLayout], truncated to the second.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeLayout) }

// lines walks the "key value" lines of a signed text after its tag line.
// Each method records the first error; callers check err once at the end,
// then re-marshal and compare, which settles every question of canonical
// form (spacing, leading zeros, base64 padding) in one place.
type lines struct {
	rest []string
	n    int // line number of the next line, 1-based
	err  error
}

// splitText checks the tag line of text and returns the lines after it.
func splitText(text []byte, tag string) (*lines, error) {
	if !bytes.HasPrefix(text, []byte(tag+"\n")) {
		first, _, _ := bytes.Cut(text, []byte("\n"))
		return nil, errorf(ErrWrongTag, "first line is %q, want %q", truncate(string(first)), tag)
	}
	if text[len(text)-1] != '\n' {
		return nil, errorf(ErrMalformed, "%s: text does not end in a newline", tag)
	}
	var ls []string
	if rest := text[len(tag)+1:]; len(rest) > 0 {
		ls = strings.Split(string(rest[:len(rest)-1]), "\n")
	}
	return &lines{rest: ls, n: 2}, nil
}

func (l *lines) fail(format string, args ...any) {
	if l.err == nil {
		l.err = errorf(ErrMalformed, "line %d: "+format, append([]any{l.n}, args...)...)
	}
}

// peek reports whether the next line has the given key.
func (l *lines) peek(key string) bool {
	return l.err == nil && len(l.rest) > 0 && strings.HasPrefix(l.rest[0], key+" ")
}

// next returns the value of the next line, which must have the given key.
func (l *lines) next(key string) string {
	if l.err != nil {
		return ""
	}
	if len(l.rest) == 0 {
		l.fail("missing %q", key)
		return ""
	}
	k, v, ok := strings.Cut(l.rest[0], " ")
	if !ok || k != key {
		l.fail("want %q, got %q", key, truncate(l.rest[0]))
		return ""
	}
	l.rest = l.rest[1:]
	l.n++
	return v
}

// done checks that no lines are left.
func (l *lines) done() {
	if l.err == nil && len(l.rest) > 0 {
		l.fail("unexpected line %q", truncate(l.rest[0]))
	}
}

func (l *lines) id(key string) ID {
	v := l.next(key)
	if l.err != nil {
		return ID{}
	}
	id, err := ParseID(v)
	if err != nil {
		l.fail("%s: %v", key, err)
	}
	return id
}

// optID parses an id or "-" for none.
func (l *lines) optID(key, v string) ID {
	if v == "-" {
		return ID{}
	}
	id, err := ParseID(v)
	if err != nil {
		l.fail("%s: %v", key, err)
	} else if id.IsZero() {
		l.fail("%s: the zero id is written as \"-\"", key)
	}
	return id
}

func (l *lines) party(key string) string {
	v := l.next(key)
	if l.err != nil {
		return ""
	}
	if err := CheckPartyID(v); err != nil {
		l.fail("%s: %v", key, err)
	}
	return v
}

func (l *lines) time(key string) time.Time {
	v := l.next(key)
	if l.err != nil {
		return time.Time{}
	}
	return l.parseTime(key, v)
}

func (l *lines) parseTime(key, v string) time.Time {
	t, err := time.Parse(TimeLayout, v)
	if err != nil {
		l.fail("%s: %q is not a UTC time like 2006-01-02T15:04:05Z", key, truncate(v))
	}
	return t
}

// Protocols lists the versions of the protocol this implementation speaks,
// ascending: 1 (peer requests signed by hotline-request/v1, over the body
// read first) and 2 (hotline-request/v2, over the signed length and hash of
// the body, checked before it is read). A party's directory entry lists the
// versions its node speaks; a sender uses the highest both speak.
var Protocols = []uint64{1, 2}

// MaxNumber bounds every number of a signed text (sequence numbers, sizes,
// log indexes, counters, versions): 2^63−1, so that a signed 64-bit
// integer — every SQL engine's BIGINT — holds each of them. A larger one is
// malformed.
const MaxNumber = 1<<63 - 1

func (l *lines) uint(key, v string) uint64 {
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		l.fail("%s: %q is not a decimal number", key, truncate(v))
	} else if n > MaxNumber {
		l.fail("%s: %s is over 2^63-1, the largest number allowed", key, v)
	}
	return n
}

// number parses the next line's value as a number.
func (l *lines) number(key string) uint64 { return l.uint(key, l.next(key)) }

func (l *lines) b64(key, v string, size int) []byte {
	b, err := base64.StdEncoding.Strict().DecodeString(v)
	if err != nil || len(b) != size {
		l.fail("%s: want base64 of %d bytes", key, size)
		return make([]byte, size)
	}
	return b
}

func (l *lines) hash(key string) [32]byte {
	return [32]byte(l.b64(key, l.next(key), 32))
}

func (l *lines) token(key string, valid func(string) bool) string {
	v := l.next(key)
	if l.err == nil && !valid(v) {
		l.fail("%s: %q is not allowed here", key, truncate(v))
	}
	return v
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func hexID(id ID) string { return hex.EncodeToString(id[:]) }

func optIDString(id ID) string {
	if id.IsZero() {
		return "-"
	}
	return id.String()
}

// validToken reports whether s is 1 to 64 characters of letters, digits,
// '.', '_', ':', '/' or '-': the shape of kinds, group labels and origins.
func validToken(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("._:/-", c) >= 0) {
			return false
		}
	}
	return true
}

// ValidKind reports whether s has the shape of a message kind: lower-case
// letters, digits and '_', a letter first, at most 64 characters — the
// snake_case the agreement and the bodies also use for member names.
func ValidKind(s string) bool {
	if len(s) == 0 || len(s) > 64 || !('a' <= s[0] && s[0] <= 'z') {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}
