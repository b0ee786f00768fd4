package tlog

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
)

// ProofTag is the first line of a C2SP tlog-proof.
const ProofTag = "c2sp.org/tlog-proof@v1"

// Proof is a C2SP tlog-proof: an offline-verifiable proof that an entry is
// in a log, made of a checkpoint (with whatever cosignatures it carries),
// the entry's index and its RFC 6962 inclusion proof.
type Proof struct {
	// Extra is the optional opaque extra data; nil means no extra line.
	// It is not authenticated.
	Extra []byte
	// Index is the entry's zero-based index in the log.
	Index uint64
	// Hashes is the inclusion proof, from the leaf's sibling up.
	Hashes [][]byte
	// Checkpoint is the signed checkpoint note the proof is for.
	Checkpoint []byte
}

// Marshal returns the text form of the proof.
func (p *Proof) Marshal() []byte {
	var b bytes.Buffer
	b.WriteString(ProofTag + "\n")
	if p.Extra != nil {
		b.WriteString("extra " + base64.StdEncoding.EncodeToString(p.Extra) + "\n")
	}
	fmt.Fprintf(&b, "index %d\n", p.Index)
	for _, h := range p.Hashes {
		b.WriteString(base64.StdEncoding.EncodeToString(h) + "\n")
	}
	b.WriteByte('\n')
	b.Write(p.Checkpoint)
	return b.Bytes()
}

// ParseProof parses the text form of a C2SP tlog-proof. It checks the
// framing only; [Proof.Verify] checks the signatures and the inclusion.
func ParseProof(text []byte) (*Proof, error) {
	fail := func(format string, args ...any) (*Proof, error) {
		return nil, fmt.Errorf("tlog-proof: %s", fmt.Sprintf(format, args...))
	}
	if len(text) > maxNoteSize+8<<10 {
		return fail("too long")
	}
	head, cp, ok := bytes.Cut(text, []byte("\n\n"))
	if !ok {
		return fail("no empty line before the checkpoint")
	}
	lines := strings.Split(string(head), "\n")
	if lines[0] != ProofTag {
		return fail("first line is not %q", ProofTag)
	}
	lines = lines[1:]
	p := &Proof{}
	if len(lines) > 0 {
		if b64, ok := strings.CutPrefix(lines[0], "extra "); ok {
			extra, err := base64.StdEncoding.Strict().DecodeString(b64)
			if err != nil || base64.StdEncoding.EncodeToString(extra) != b64 {
				return fail("extra data is not base64")
			}
			p.Extra = extra
			lines = lines[1:]
		}
	}
	if len(lines) == 0 {
		return fail("no index line")
	}
	idx, ok := strings.CutPrefix(lines[0], "index ")
	if !ok {
		return fail("no index line")
	}
	var err error
	if p.Index, err = parseDecimal(idx); err != nil {
		return fail("index: %v", err)
	}
	if len(lines)-1 > 63 {
		return fail("more than 63 inclusion proof lines")
	}
	for _, l := range lines[1:] {
		h, err := parseHash(l)
		if err != nil {
			return fail("inclusion proof: %v", err)
		}
		p.Hashes = append(p.Hashes, h[:])
	}
	if _, err := checkpointShape(cp); err != nil {
		return fail("checkpoint: %v", err)
	}
	p.Checkpoint = bytes.Clone(cp)
	return p, nil
}

// Verify checks that the checkpoint is signed by the log key v (cosignatures
// by the keys in others are checked too if present) and that entry is at
// p.Index in the tree it commits to. Whether the cosignatures meet a quorum
// is for the caller to decide, with [Policy.VerifyCheckpoint].
func (p *Proof) Verify(entry []byte, v note.Verifier, others ...note.Verifier) (Checkpoint, error) {
	cp, _, err := OpenCheckpoint(p.Checkpoint, v, others...)
	if err != nil {
		return Checkpoint{}, err
	}
	if p.Index >= cp.Size {
		return Checkpoint{}, fmt.Errorf("index %d is not below the checkpoint size %d", p.Index, cp.Size)
	}
	if err := proof.VerifyInclusion(rfc6962.DefaultHasher, p.Index, cp.Size, leafHash(entry), p.Hashes, cp.Hash[:]); err != nil {
		return Checkpoint{}, fmt.Errorf("inclusion proof: %w", err)
	}
	return cp, nil
}
