package evidence

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/hotline-net/hotline"
)

// Format is the first line of a bundle: the format and its version.
const Format = "hotline-evidence/v1"

// ConsistencyTag is the first line of a consistency proof (PROTOCOL.md §13).
const ConsistencyTag = "hotline-consistency/v1"

// MaxSize is the largest bundle [Parse] reads.
const MaxSize = 512 << 20

// Bundle is an evidence bundle: the exporter's signed statement and the
// body it signs. See docs/PROTOCOL.md §13 for the format.
type Bundle struct {
	// Party is the exporting party, whose message key signs the bundle;
	// About is the other party the bundle is about.
	Party, About string
	// Exported is when the bundle was made. It is the exporter's claim and
	// decides nothing but which of its keys must be valid.
	Exported time.Time
	// Since and Until bound, when not zero, the messages exported by their
	// creation time: [Since, Until).
	Since, Until time.Time
	Body         Body
	// signed is the statement as parsed (nil for a bundle built here);
	// raw the body's bytes as parsed.
	signed []byte
	raw    []byte
}

// Body is what a bundle carries. Every byte string is as its signer
// produced it; nothing in it is trusted because the bundle carries it.
type Body struct {
	// Agreement is the agreement file (agreement/FORMAT.md): the chain of
	// versions, ratifications, directory entries and root statements the
	// exporter held. Verify checks it from a pinned genesis.
	Agreement []byte `json:"agreement"`
	// Envelopes are envelopes with their inner headers revealed.
	Envelopes []Envelope `json:"envelopes"`
	// Receipts are hotline-receipt/v1 notes.
	Receipts [][]byte `json:"receipts"`
	// RelayReceipts are hotline-relay-receipt/v1 notes.
	RelayReceipts [][]byte `json:"relay_receipts"`
	// Refusals has a place for the signed refusals (hotline-refusal/v1) of
	// protocol version 2; a version 1 bundle carries none.
	Refusals [][]byte `json:"refusals"`
	// Checkpoints are signed checkpoint notes, each with every cosignature
	// the exporter holds.
	Checkpoints [][]byte `json:"checkpoints"`
	// Inclusion are C2SP tlog-proofs of log entries; each one's extra data
	// is the entry's direction byte and object id (33 bytes).
	Inclusion [][]byte `json:"inclusion"`
	// Consistency are consistency proofs (hotline-consistency/v1) between
	// checkpoints of one log.
	Consistency [][]byte `json:"consistency"`
}

// Envelope is an envelope as received or sent, stanzas and ciphertext
// included, with its inner header (salt included) revealed and the body
// left encrypted.
type Envelope struct {
	Envelope []byte `json:"envelope"`
	Inner    []byte `json:"inner"`
}

// ErrMalformed is a bundle that does not follow the format.
var ErrMalformed = hotline.NewError("bundle_malformed", "the evidence bundle does not follow its format")

// ErrUnverified is a bundle, or a part of one, that does not verify.
var ErrUnverified = hotline.NewError("bundle_unverified", "the evidence bundle does not verify")

func malformed(format string, args ...any) error {
	return hotline.Errorf(ErrMalformed, format, args...)
}

// statementText returns the text the exporter signs.
func (b *Bundle) statementText(bodyHash [32]byte) []byte {
	t := func(x time.Time) string {
		if x.IsZero() {
			return "-"
		}
		return hotline.FormatTime(x)
	}
	var s bytes.Buffer
	s.WriteString(Format + "\n")
	fmt.Fprintf(&s, "party %s\n", b.Party)
	fmt.Fprintf(&s, "about %s\n", b.About)
	fmt.Fprintf(&s, "exported %s\n", t(b.Exported))
	fmt.Fprintf(&s, "since %s\n", t(b.Since))
	fmt.Fprintf(&s, "until %s\n", t(b.Until))
	fmt.Fprintf(&s, "body %s\n", hex.EncodeToString(bodyHash[:]))
	return s.Bytes()
}

// Marshal returns the bundle signed by the exporter's message key:
// the statement, its signature line, then the body (JSON).
func (b *Bundle) Marshal(key note.Signer) ([]byte, error) {
	body, err := json.Marshal(&b.Body)
	if err != nil {
		return nil, err
	}
	b.Exported = b.Exported.UTC().Truncate(time.Second)
	b.Since = b.Since.UTC().Truncate(time.Second)
	b.Until = b.Until.UTC().Truncate(time.Second)
	signed, err := note.Sign(&note.Note{Text: string(b.statementText(sha256.Sum256(body)))}, key)
	if err != nil {
		return nil, fmt.Errorf("signing the bundle: %w", err)
	}
	return append(append(signed, '\n'), append(body, '\n')...), nil
}

// Statement returns the signed statement as parsed.
func (b *Bundle) Statement() []byte { return b.signed }

// Parse parses a bundle's framing and body. It checks that the body is the
// one the statement names; [Verify] checks the signature and everything
// else.
func Parse(data []byte) (*Bundle, error) {
	if len(data) > MaxSize {
		return nil, malformed("larger than %d bytes", MaxSize)
	}
	if !bytes.HasPrefix(data, []byte(Format+"\n")) {
		first, _, _ := bytes.Cut(data, []byte("\n"))
		if len(first) > 64 {
			first = first[:64]
		}
		return nil, malformed("first line is %q, want %q", first, Format)
	}
	text, rest, ok := bytes.Cut(data, []byte("\n\n"))
	if !ok {
		return nil, malformed("no blank line after the statement")
	}
	text = append(text, '\n')
	// Signature lines, then one blank line, then the body.
	sigs := rest
	i := 0
	for {
		j := bytes.IndexByte(sigs[i:], '\n')
		if j < 0 {
			return nil, malformed("no blank line after the signature")
		}
		if j == 0 {
			break
		}
		if !bytes.HasPrefix(sigs[i:], []byte("— ")) {
			return nil, malformed("the statement's signature lines are not followed by a blank line")
		}
		if err := canonicalSignature(sigs[i : i+j]); err != nil {
			return nil, err
		}
		i += j + 1
	}
	if i == 0 {
		return nil, malformed("the statement is not signed")
	}
	signed := data[:len(text)+1+i]
	body := rest[i+1:]
	if len(body) == 0 || body[len(body)-1] != '\n' {
		return nil, malformed("the body does not end in a newline")
	}
	body = body[:len(body)-1]
	b := &Bundle{signed: bytes.Clone(signed), raw: bytes.Clone(body)}
	if err := b.parseStatement(text); err != nil {
		return nil, err
	}
	if !bytes.Equal(b.statementText(sha256.Sum256(body)), text) {
		return nil, hotline.Errorf(ErrUnverified, "the body is not the one the exporter's statement names (its SHA-256 differs): the bundle was altered")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b.Body); err != nil {
		return nil, malformed("body: %v", err)
	}
	if dec.More() {
		return nil, malformed("body: data after the JSON object")
	}
	return b, nil
}

// canonicalSignature checks that a signature line's base64 is the one
// encoding of its bytes. The signed-note reader ignores the unused low
// bits of the last character, so without this check a flipped byte there
// would leave a bundle that still verifies; a bundle has one spelling.
func canonicalSignature(line []byte) error {
	f := bytes.Fields(line)
	if len(f) != 3 {
		return malformed("a signature line of the statement has %d fields, want 3", len(f))
	}
	sig, err := base64.StdEncoding.Strict().DecodeString(string(f[2]))
	if err != nil || base64.StdEncoding.EncodeToString(sig) != string(f[2]) {
		return malformed("a signature of the statement is not in canonical base64")
	}
	return nil
}

func (b *Bundle) parseStatement(text []byte) error {
	lines := strings.Split(strings.TrimSuffix(string(text), "\n"), "\n")
	keys := []string{"party", "about", "exported", "since", "until", "body"}
	if len(lines) != len(keys)+1 {
		return malformed("the statement has %d lines, want %d", len(lines), len(keys)+1)
	}
	vals := map[string]string{}
	for i, k := range keys {
		v, ok := strings.CutPrefix(lines[i+1], k+" ")
		if !ok {
			return malformed("statement line %d: want %q", i+2, k)
		}
		vals[k] = v
	}
	for _, k := range []string{"party", "about"} {
		if err := hotline.CheckPartyID(vals[k]); err != nil {
			return malformed("statement %s: %v", k, err)
		}
	}
	for k, p := range map[string]*time.Time{"exported": &b.Exported, "since": &b.Since, "until": &b.Until} {
		if vals[k] == "-" && k != "exported" {
			continue
		}
		t, err := time.Parse(hotline.TimeLayout, vals[k])
		if err != nil {
			return malformed("statement %s: %v", k, err)
		}
		*p = t
	}
	b.Party, b.About = vals["party"], vals["about"]
	return nil
}

// Consistency is a consistency proof between two checkpoints of one log,
// both of which the bundle carries (PROTOCOL.md §13).
type Consistency struct {
	Origin   string
	Old, New uint64
	Hashes   [][]byte
}

// Marshal returns the proof's text form.
func (c *Consistency) Marshal() []byte {
	var b bytes.Buffer
	b.WriteString(ConsistencyTag + "\n")
	fmt.Fprintf(&b, "origin %s\n", c.Origin)
	fmt.Fprintf(&b, "old %d\n", c.Old)
	fmt.Fprintf(&b, "new %d\n", c.New)
	for _, h := range c.Hashes {
		fmt.Fprintf(&b, "%s\n", b64(h))
	}
	return b.Bytes()
}

// ParseConsistency parses a consistency proof's text form.
func ParseConsistency(text []byte) (*Consistency, error) {
	if len(text) == 0 || text[len(text)-1] != '\n' || len(text) > 8<<10 {
		return nil, malformed("consistency proof: empty, too long or not ending in a newline")
	}
	lines := strings.Split(string(text[:len(text)-1]), "\n")
	if len(lines) < 4 || lines[0] != ConsistencyTag {
		return nil, malformed("consistency proof: want %q and the origin, old and new lines", ConsistencyTag)
	}
	c := &Consistency{}
	var ok bool
	if c.Origin, ok = strings.CutPrefix(lines[1], "origin "); !ok || c.Origin == "" {
		return nil, malformed("consistency proof: line 2 is not an origin")
	}
	for i, p := range []*uint64{&c.Old, &c.New} {
		v, ok := strings.CutPrefix(lines[2+i], []string{"old ", "new "}[i])
		n, err := strconv.ParseUint(v, 10, 64)
		if !ok || err != nil {
			return nil, malformed("consistency proof: line %d is not a size", 3+i)
		}
		*p = n
	}
	if len(lines)-4 > 64 {
		return nil, malformed("consistency proof: more than 64 hashes")
	}
	for _, l := range lines[4:] {
		h, err := unb64(l)
		if err != nil || len(h) != sha256.Size {
			return nil, malformed("consistency proof: %q is not a base64 hash", truncate(l))
		}
		c.Hashes = append(c.Hashes, h)
	}
	if !bytes.Equal(c.Marshal(), text) {
		return nil, malformed("consistency proof: not in canonical form")
	}
	if c.Old > c.New {
		return nil, malformed("consistency proof: old size %d above new size %d", c.Old, c.New)
	}
	return c, nil
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// ParseAll parses bundles on every core; the error is the first bundle's
// that fails, wrapped with its position.
func ParseAll(data [][]byte) ([]*Bundle, error) {
	bs := make([]*Bundle, len(data))
	err := parallel(len(data), func(i int) error {
		b, err := Parse(data[i])
		if err != nil {
			return fmt.Errorf("bundle %d: %w", i+1, err)
		}
		bs[i] = b
		return nil
	})
	if err != nil {
		return nil, err
	}
	return bs, nil
}
