package tlog

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/tessera/client"
	"golang.org/x/mod/sumdb/note"
)

// EquivocationTag is the first line of an equivocation proof.
const EquivocationTag = "hotline-equivocation/v1"

// Equivocation is a self-contained, offline-verifiable proof that a log
// signed two checkpoints that cannot both be true: two views of its history
// of which neither extends the other. A log that shows different histories
// to different parties is caught by it.
//
// # Format
//
// The text form, written by [Equivocation.Marshal] and read by
// [ParseEquivocation], is a sequence of newline-terminated lines:
//
//	hotline-equivocation/v1
//	prefix <m> <base64 root of B's tree at size m>   (only when the sizes differ)
//	<base64 hash>                                   (0 to 63 lines: the consistency proof)
//	<empty line>
//	<checkpoint A, verbatim: text, empty line, signature lines>
//	<empty line>
//	<checkpoint B, verbatim>
//
// A is the checkpoint of smaller size m; if both have the same size, A is
// the one whose note text sorts first. The checkpoints are C2SP
// tlog-checkpoint notes of the same origin and may carry witness
// cosignatures, which make the proof stronger (a witness saw that view) but
// are not needed to check it.
//
// # Verification
//
// With the log's public key, a verifier checks that both checkpoints carry
// a valid signature of the log and then:
//
//   - same size m = n: the root hashes differ;
//   - m < n: the consistency proof is a valid RFC 6962 consistency proof
//     from the tree of size m with root R (the prefix line) to the tree of
//     size n with B's root, and R differs from A's root. The proof binds R to
//     B's root, so under SHA-256 collision resistance R is the only root a
//     prefix of size m of B's tree can have: A's tree is not a prefix of B's.
//
// Any RFC 6962 implementation can do this; [Equivocation.Verify] does it
// with github.com/transparency-dev/merkle.
type Equivocation struct {
	// A and B are the two signed checkpoint notes, A the smaller (see
	// Format).
	A, B []byte
	// RootAtA is the root of B's tree at A's size; zero when the sizes are
	// equal.
	RootAtA [HashSize]byte
	// Proof is the consistency proof from A's size to B's size, between
	// RootAtA and B's root; empty when the sizes are equal.
	Proof [][]byte
}

// ErrNotEquivocation is returned (wrapped) when two checkpoints are
// consistent, or when a proof does not show that they are not.
var ErrNotEquivocation = errors.New("not an equivocation")

// Verify checks the proof with the log's key. It returns nil only if the
// log signed both checkpoints and they cannot both be true.
func (e *Equivocation) Verify(v note.Verifier) error {
	a, _, err := OpenCheckpoint(e.A, v)
	if err != nil {
		return fmt.Errorf("checkpoint A: %w", err)
	}
	b, _, err := OpenCheckpoint(e.B, v)
	if err != nil {
		return fmt.Errorf("checkpoint B: %w", err)
	}
	switch {
	case a.Size > b.Size:
		return fmt.Errorf("%w: checkpoint A is larger than B", ErrNotEquivocation)
	case a.Size == b.Size:
		if len(e.Proof) > 0 {
			return fmt.Errorf("%w: a proof for checkpoints of the same size", ErrNotEquivocation)
		}
		if a.Hash == b.Hash {
			return fmt.Errorf("%w: same size and same root", ErrNotEquivocation)
		}
		return nil
	}
	if err := proof.VerifyConsistency(rfc6962.DefaultHasher, a.Size, b.Size, e.Proof, e.RootAtA[:], b.Hash[:]); err != nil {
		return fmt.Errorf("%w: the proof does not bind the prefix root to B: %v", ErrNotEquivocation, err)
	}
	if e.RootAtA == a.Hash {
		return fmt.Errorf("%w: B's tree has A's root at A's size", ErrNotEquivocation)
	}
	return nil
}

// Origin returns the origin both checkpoints name.
func (e *Equivocation) Origin() string {
	o, _, _ := strings.Cut(string(e.A), "\n")
	return o
}

// Marshal returns the text form of the proof.
func (e *Equivocation) Marshal() []byte {
	var b bytes.Buffer
	b.WriteString(EquivocationTag + "\n")
	if m, n := noteSize(e.A), noteSize(e.B); m != n {
		fmt.Fprintf(&b, "prefix %d %s\n", m, base64.StdEncoding.EncodeToString(e.RootAtA[:]))
		for _, h := range e.Proof {
			b.WriteString(base64.StdEncoding.EncodeToString(h) + "\n")
		}
	}
	b.WriteByte('\n')
	b.Write(e.A)
	b.WriteByte('\n')
	b.Write(e.B)
	return b.Bytes()
}

// noteSize returns the size line of a checkpoint note, 0 if it has none.
func noteSize(signed []byte) uint64 {
	lines := strings.SplitN(string(signed), "\n", 3)
	if len(lines) < 3 {
		return 0
	}
	n, _ := parseDecimal(lines[1])
	return n
}

// maxEquivocationSize bounds a proof: two notes and 64 hash lines.
const maxEquivocationSize = 2*maxNoteSize + 8<<10

// ParseEquivocation parses the text form of an equivocation proof. It
// checks the framing and the order of the checkpoints, not the signatures:
// call [Equivocation.Verify] for that.
func ParseEquivocation(text []byte) (*Equivocation, error) {
	fail := func(format string, args ...any) (*Equivocation, error) {
		return nil, fmt.Errorf("equivocation proof: %s", fmt.Sprintf(format, args...))
	}
	if len(text) > maxEquivocationSize {
		return fail("longer than %d bytes", maxEquivocationSize)
	}
	head, rest, ok := bytes.Cut(text, []byte("\n\n"))
	if !ok {
		return fail("no empty line after the header")
	}
	lines := strings.Split(string(head), "\n")
	if lines[0] != EquivocationTag {
		return fail("first line is not %q", EquivocationTag)
	}
	e := &Equivocation{}
	var prefix uint64
	hasPrefix := len(lines) > 1
	if hasPrefix {
		f := strings.Split(lines[1], " ")
		if len(f) != 3 || f[0] != "prefix" {
			return fail("second line is not prefix <size> <root>")
		}
		var err error
		if prefix, err = parseDecimal(f[1]); err != nil {
			return fail("prefix size: %v", err)
		}
		if e.RootAtA, err = parseHash(f[2]); err != nil {
			return fail("prefix root: %v", err)
		}
		if len(lines)-2 > 63 {
			return fail("more than 63 proof lines")
		}
		for _, l := range lines[2:] {
			h, err := parseHash(l)
			if err != nil {
				return fail("proof line: %v", err)
			}
			e.Proof = append(e.Proof, h[:])
		}
	}
	// Checkpoint A: text up to its blank line, then signature lines up to
	// the blank line that separates it from B.
	i := bytes.Index(rest, []byte("\n\n"))
	if i < 0 {
		return fail("checkpoint A has no signatures")
	}
	j := bytes.Index(rest[i+2:], []byte("\n\n"))
	if j < 0 {
		return fail("no empty line between the checkpoints")
	}
	e.A, e.B = rest[:i+2+j+1], rest[i+2+j+2:]
	at, err := checkpointShape(e.A)
	if err != nil {
		return fail("checkpoint A: %v", err)
	}
	bt, err := checkpointShape(e.B)
	if err != nil {
		return fail("checkpoint B: %v", err)
	}
	ao, as, _, _, _ := parseCheckpointText(at)
	bo, bs, _, _, _ := parseCheckpointText(bt)
	switch {
	case ao != bo:
		return fail("the checkpoints have different origins")
	case as > bs:
		return fail("checkpoint A is larger than B")
	case as == bs && hasPrefix:
		return fail("a prefix line for checkpoints of the same size")
	case as == bs && bytes.Compare(at, bt) >= 0:
		return fail("checkpoints of the same size are not in order")
	case as < bs && !hasPrefix:
		return fail("no prefix line for checkpoints of different sizes")
	case as < bs && prefix != as:
		return fail("prefix size %d is not checkpoint A's size %d", prefix, as)
	}
	e.A, e.B = bytes.Clone(e.A), bytes.Clone(e.B)
	return e, nil
}

// checkpointShape checks that signed is a checkpoint note without extension
// lines, with well-formed signature lines, and returns its text.
func checkpointShape(signed []byte) ([]byte, error) {
	text, sigs, err := splitNote(signed)
	if err != nil {
		return nil, err
	}
	if _, _, _, ext, err := parseCheckpointText(text); err != nil {
		return nil, err
	} else if len(ext) > 0 {
		return nil, errors.New("extension lines")
	}
	for _, s := range sigs {
		name, b64, ok := strings.Cut(strings.TrimPrefix(s, "— "), " ")
		sig, err := base64.StdEncoding.Strict().DecodeString(b64)
		if !ok || !validName(name) || err != nil || len(sig) < 5 || base64.StdEncoding.EncodeToString(sig) != b64 {
			return nil, fmt.Errorf("malformed signature line %q", truncate(s))
		}
	}
	return text, nil
}

// proveEquivocation builds the proof that the signed checkpoints a and b,
// both signed by v, cannot both be true. read must read the tiles of the
// tree of the larger checkpoint; they are checked against its root. It
// returns an error wrapping ErrNotEquivocation if the two are consistent.
func proveEquivocation(ctx context.Context, v note.Verifier, a, b []byte, read readTileFunc) (*Equivocation, error) {
	ca, _, err := OpenCheckpoint(a, v)
	if err != nil {
		return nil, err
	}
	cb, _, err := OpenCheckpoint(b, v)
	if err != nil {
		return nil, err
	}
	if ca.Size > cb.Size || ca.Size == cb.Size && bytes.Compare(ca.Text(), cb.Text()) > 0 {
		ca, cb = cb, ca
	}
	e := &Equivocation{A: ca.Note, B: cb.Note}
	if ca.Size == cb.Size {
		if ca.Hash == cb.Hash {
			return nil, fmt.Errorf("%w: same size and same root", ErrNotEquivocation)
		}
		return e, nil
	}
	root, err := rootAt(ctx, read, cb.Size, cb.Hash, ca.Size)
	if err != nil {
		return nil, fmt.Errorf("reading the tree of the larger checkpoint: %w", err)
	}
	if root == ca.Hash {
		return nil, fmt.Errorf("%w: the checkpoints are consistent", ErrNotEquivocation)
	}
	pb, err := client.NewProofBuilder(ctx, cb.Size, client.TileFetcherFunc(read))
	if err != nil {
		return nil, err
	}
	p, err := pb.ConsistencyProof(ctx, ca.Size, cb.Size)
	if err != nil {
		return nil, fmt.Errorf("building the consistency proof: %w", err)
	}
	e.RootAtA, e.Proof = root, p
	if err := e.Verify(v); err != nil {
		return nil, fmt.Errorf("the tiles of the larger tree do not match its root: %w", err)
	}
	return e, nil
}
