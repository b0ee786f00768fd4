package tlog

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
)

// HashSize is the size of every Merkle tree hash (SHA-256).
const HashSize = 32

// maxNoteSize bounds every signed note this package parses: a checkpoint with
// a few hundred cosignatures fits comfortably.
const maxNoteSize = 64 << 10

// Checkpoint is a signed checkpoint of a log (C2SP tlog-checkpoint): the
// three lines of its note text, and the whole signed note.
type Checkpoint struct {
	// Origin identifies the log; it is also the name of the log's key.
	Origin string
	// Size is the number of entries the checkpoint commits to.
	Size uint64
	// Hash is the RFC 6962 root hash of the tree of that size.
	Hash [HashSize]byte
	// Note is the signed note: the text, a blank line and the signature
	// lines (the log's, and any cosignatures).
	Note []byte
}

// Text returns the checkpoint's note text, ending in a newline.
func (c Checkpoint) Text() []byte { return checkpointText(c.Origin, c.Size, c.Hash) }

func checkpointText(origin string, size uint64, hash [HashSize]byte) []byte {
	return fmt.Appendf(nil, "%s\n%d\n%s\n", origin, size, base64.StdEncoding.EncodeToString(hash[:]))
}

// emptyRoot is the RFC 6962 root of the empty tree: SHA-256 of nothing.
func emptyRoot() [HashSize]byte {
	var h [HashSize]byte
	copy(h[:], rfc6962.DefaultHasher.EmptyRoot())
	return h
}

// leafHash returns the RFC 6962 leaf hash of an entry.
func leafHash(entry []byte) []byte { return rfc6962.DefaultHasher.HashLeaf(entry) }

// ErrMalformedCheckpoint is returned (wrapped) for checkpoint text that does
// not follow C2SP tlog-checkpoint exactly.
var ErrMalformedCheckpoint = errors.New("malformed checkpoint")

// parseCheckpointText parses the text of a checkpoint note. It accepts
// exactly the canonical encoding: a non-empty origin without spaces or
// plus signs, a decimal size without leading zeroes, a standard base64 hash
// of 32 bytes, and optional non-empty extension lines, each line ending in a
// newline. Extension lines are returned, but this package never signs or
// cosigns a checkpoint that has them.
func parseCheckpointText(text []byte) (origin string, size uint64, hash [HashSize]byte, ext []string, err error) {
	fail := func(format string, args ...any) (string, uint64, [HashSize]byte, []string, error) {
		return "", 0, [HashSize]byte{}, nil, fmt.Errorf("%w: %s", ErrMalformedCheckpoint, fmt.Sprintf(format, args...))
	}
	if len(text) > maxNoteSize {
		return fail("text longer than %d bytes", maxNoteSize)
	}
	if len(text) == 0 || text[len(text)-1] != '\n' {
		return fail("text does not end in a newline")
	}
	lines := strings.Split(string(text[:len(text)-1]), "\n")
	if len(lines) < 3 {
		return fail("want at least 3 lines, got %d", len(lines))
	}
	for i, l := range lines {
		if l == "" {
			return fail("line %d is empty", i+1)
		}
		if !utf8.ValidString(l) {
			return fail("line %d is not UTF-8", i+1)
		}
		for _, r := range l {
			if r < 0x20 || r == 0x7f {
				return fail("line %d has a control character", i+1)
			}
		}
	}
	if !validName(lines[0]) {
		return fail("origin %q has a space or a plus sign", lines[0])
	}
	size, err = parseDecimal(lines[1])
	if err != nil {
		return fail("size: %v", err)
	}
	hash, err = parseHash(lines[2])
	if err != nil {
		return fail("root hash: %v", err)
	}
	return lines[0], size, hash, lines[3:], nil
}

// validName reports whether s can be a note key name or an origin: non-empty,
// UTF-8, no Unicode space and no plus sign.
func validName(s string) bool {
	return s != "" && utf8.ValidString(s) && strings.IndexFunc(s, unicode.IsSpace) < 0 && !strings.Contains(s, "+")
}

// parseDecimal parses an unsigned decimal without sign or leading zeroes.
func parseDecimal(s string) (uint64, error) {
	if s == "" {
		return 0, errors.New("empty number")
	}
	if len(s) > 1 && s[0] == '0' {
		return 0, fmt.Errorf("%q has a leading zero", truncate(s))
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("%q is not a decimal number", truncate(s))
		}
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is out of range", truncate(s))
	}
	return n, nil
}

// parseHash decodes a canonical standard-base64 SHA-256 hash.
func parseHash(s string) ([HashSize]byte, error) {
	var h [HashSize]byte
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil || len(b) != HashSize || base64.StdEncoding.EncodeToString(b) != s {
		return h, fmt.Errorf("%q is not a base64 SHA-256 hash", truncate(s))
	}
	copy(h[:], b)
	return h, nil
}

func truncate(s string) string {
	if len(s) > 80 {
		return s[:77] + "..."
	}
	return s
}

// OpenCheckpoint verifies a signed checkpoint note and parses it. The note
// must carry a valid signature by v, whose name must be the checkpoint's
// origin; signatures by keys in others are verified too (and must be valid if
// present), and signatures by unknown keys are ignored, as C2SP signed-note
// requires. Checkpoints with extension lines are refused: hotline logs never
// write them. The returned note lists the verified signatures.
func OpenCheckpoint(signed []byte, v note.Verifier, others ...note.Verifier) (Checkpoint, *note.Note, error) {
	if len(signed) > maxNoteSize {
		return Checkpoint{}, nil, fmt.Errorf("%w: note longer than %d bytes", ErrMalformedCheckpoint, maxNoteSize)
	}
	n, err := note.Open(signed, note.VerifierList(append([]note.Verifier{v}, others...)...))
	if err != nil {
		return Checkpoint{}, nil, fmt.Errorf("opening checkpoint: %w", err)
	}
	signedByLog := false
	for _, s := range n.Sigs {
		if s.Name == v.Name() && s.Hash == v.KeyHash() {
			signedByLog = true
		}
	}
	if !signedByLog {
		return Checkpoint{}, nil, fmt.Errorf("opening checkpoint: no signature by the log key %q", v.Name())
	}
	origin, size, hash, ext, err := parseCheckpointText([]byte(n.Text))
	if err != nil {
		return Checkpoint{}, nil, err
	}
	if len(ext) > 0 {
		return Checkpoint{}, nil, fmt.Errorf("%w: unexpected extension lines", ErrMalformedCheckpoint)
	}
	if origin != v.Name() {
		return Checkpoint{}, nil, fmt.Errorf("%w: origin %q is not the log key's name %q", ErrMalformedCheckpoint, origin, v.Name())
	}
	if size == 0 && hash != emptyRoot() {
		return Checkpoint{}, nil, fmt.Errorf("%w: empty tree with a root other than SHA-256 of nothing", ErrMalformedCheckpoint)
	}
	return Checkpoint{Origin: origin, Size: size, Hash: hash, Note: bytes.Clone(signed)}, n, nil
}

// splitNote splits a signed note into its text (with its final newline) and
// its signature lines (each without its newline). It checks only the
// framing, not the signatures.
func splitNote(signed []byte) (text []byte, sigs []string, err error) {
	i := bytes.LastIndex(signed, []byte("\n\n"))
	if i < 0 {
		return nil, nil, errors.New("malformed note: no blank line before the signatures")
	}
	text, rest := signed[:i+1], signed[i+2:]
	if len(rest) == 0 || rest[len(rest)-1] != '\n' {
		return nil, nil, errors.New("malformed note: no signature lines")
	}
	for _, l := range strings.Split(string(rest[:len(rest)-1]), "\n") {
		if !strings.HasPrefix(l, "— ") {
			return nil, nil, errors.New("malformed note: a signature line does not start with an em dash")
		}
		sigs = append(sigs, l)
	}
	return text, sigs, nil
}

// sigLine returns the note signature line (without newline) of sig.
func sigLine(s note.Signature) string { return "— " + s.Name + " " + s.Base64 }

// joinNote builds a signed note from a text and signature lines.
func joinNote(text []byte, sigs []string) []byte {
	var b bytes.Buffer
	b.Write(text)
	b.WriteByte('\n')
	for _, s := range sigs {
		b.WriteString(s)
		b.WriteByte('\n')
	}
	return b.Bytes()
}
