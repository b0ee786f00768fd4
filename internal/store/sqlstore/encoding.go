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

// factsVersion is the first byte of an envelope's facts.
const factsVersion = 1

// envelopeFacts returns the facts of envelope e, stored in direction dir.
func envelopeFacts(dir hotline.Direction, e *store.Envelope) store.MessageFacts {
	f := store.MessageFacts{
		Direction: dir, ID: e.ID, From: e.From, To: e.To, Kind: e.Kind, Severity: e.Severity,
		Thread: e.Thread, Refs: e.Refs, AgreementHash: e.AgreementHash, Created: e.Created, At: e.At,
		Challenge: challengeOf(e.Kind, e.Body),
	}
	if f.Thread == f.ID {
		f.Thread = hotline.ID{}
	}
	return f
}

// encodeFacts encodes an envelope's facts for the message_facts table: a
// version byte, the direction, the id, the agreement hash and the thread
// (zero for a thread's first message), 32 bytes each, the creation and
// storage times (varints of nanoseconds since 1970), the kind, the
// severity, the sender, the recipients (as the envelopes table keeps
// them, a JSON array) and the challenge code, each a uvarint length and
// the bytes, and the refs, a uvarint count and 32 bytes each.
func encodeFacts(f *store.MessageFacts) []byte {
	to := encodeParties(f.To)
	b := make([]byte, 0, 2+3*32+2*binary.MaxVarintLen64+5*binary.MaxVarintLen16+
		len(f.Kind)+len(f.Severity)+len(f.From)+len(to)+len(f.Challenge)+binary.MaxVarintLen16+32*len(f.Refs))
	b = append(b, factsVersion, byte(f.Direction))
	b = append(b, f.ID[:]...)
	b = append(b, f.AgreementHash[:]...)
	b = append(b, f.Thread[:]...)
	b = binary.AppendVarint(b, nanos(f.Created))
	b = binary.AppendVarint(b, nanos(f.At))
	for _, s := range []string{f.Kind, string(f.Severity), f.From, to, f.Challenge} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	b = binary.AppendUvarint(b, uint64(len(f.Refs)))
	for _, r := range f.Refs {
		b = append(b, r[:]...)
	}
	return b
}

// challengeKinds are the kinds whose bodies carry a challenge code: a
// ping's, and the one an ack of a ping repeats; challengeKindList lists
// them in SQL.
var challengeKinds = map[string]bool{"ping": true, "ack": true}

const challengeKindList = `'ack', 'ping'`

// challengeOf returns the challenge code of a body of kind: the string
// member "challenge" of a ping's or an ack's JSON body, or "".
func challengeOf(kind string, body []byte) string {
	if !challengeKinds[kind] {
		return ""
	}
	var b struct {
		Challenge string `json:"challenge"`
	}
	if json.Unmarshal(body, &b) != nil {
		return ""
	}
	return b.Challenge
}

// factsDecoder decodes facts, keeping one copy of each string and
// recipient list however many envelopes repeat it.
type factsDecoder struct {
	strings map[string]string
	parties map[string][]string
}

// decode decodes b into m.
func (d *factsDecoder) decode(b []byte, m *store.MessageFacts) error {
	bad := func(what string) error { return fmt.Errorf("decoding facts: %s", what) }
	if len(b) < 2+3*32 || b[0] != factsVersion {
		return bad("not version 1 facts")
	}
	m.Direction = hotline.Direction(b[1])
	b = b[2:]
	copy(m.ID[:], b)
	copy(m.AgreementHash[:], b[32:])
	copy(m.Thread[:], b[64:])
	b = b[96:]
	var ts [2]int64
	for i := range ts {
		v, n := binary.Varint(b)
		if n <= 0 {
			return bad("time")
		}
		ts[i], b = v, b[n:]
	}
	m.Created, m.At = fromNanos(ts[0]), fromNanos(ts[1])
	var texts [5][]byte
	for i := range texts {
		l, n := binary.Uvarint(b)
		if n <= 0 || l > uint64(len(b)-n) {
			return bad("text")
		}
		texts[i], b = b[n:n+int(l)], b[n+int(l):]
	}
	m.Kind, m.From = d.intern(texts[0]), d.intern(texts[2])
	m.Severity = hotline.Severity(d.intern(texts[1]))
	m.Challenge = ""
	if len(texts[4]) > 0 {
		m.Challenge = string(texts[4])
	}
	to, ok := d.parties[string(texts[3])]
	if !ok {
		if d.parties == nil {
			d.parties = map[string][]string{}
		}
		var err error
		if to, err = decodeParties(string(texts[3])); err != nil {
			return err
		}
		for i := range to {
			to[i] = d.intern([]byte(to[i]))
		}
		d.parties[string(texts[3])] = to
	}
	m.To = to
	refs, n := binary.Uvarint(b)
	if n <= 0 || refs > uint64(len(b))/32 || refs*32 != uint64(len(b)-n) {
		return bad("refs")
	}
	m.Refs = nil
	if refs > 0 {
		m.Refs = make([]hotline.ID, refs)
		for i := range m.Refs {
			copy(m.Refs[i][:], b[n+32*i:])
		}
	}
	return nil
}

// intern returns b as a string, without a copy if it was seen before.
func (d *factsDecoder) intern(b []byte) string {
	if s, ok := d.strings[string(b)]; ok {
		return s
	}
	s := string(b)
	if d.strings == nil {
		d.strings = map[string]string{}
	}
	d.strings[s] = s
	return s
}
