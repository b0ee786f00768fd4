package agreement

import (
	"bytes"
	"crypto/sha256"
	"slices"

	"golang.org/x/mod/sumdb/note"

	"github.com/hotline-net/hotline"
)

// Document describes one signed document of an agreement as it came, before
// it is checked against a chain: what [Describe] reads of it.
type Document struct {
	// Tag is the note's first line: TermsTag, EntryTag, RootTag or
	// hotline.RatificationTag.
	Tag string
	// Hash is SHA-256 of the note text, the document's id.
	Hash hotline.ID
	// Party is the signing party of an entry, root statement or
	// ratification; the depositary of a version of the terms.
	Party string
	// Sequence is an entry's or a root statement's sequence number, a
	// version's number, or the number of the version a ratification
	// ratifies.
	Sequence uint64
}

// Describe parses a signed document without verifying its signatures and
// says what it is. It refuses what [Parse] would refuse of the document on
// its own (ErrMalformed, ErrTooLarge, ErrNotCanonical, ...).
func Describe(msg []byte) (Document, error) {
	first, _, _ := bytes.Cut(msg, []byte("\n"))
	d := Document{Tag: string(first)}
	switch d.Tag {
	case TermsTag:
		v, err := parseVersion(msg, "terms")
		if err != nil {
			return Document{}, err
		}
		d.Hash, d.Party, d.Sequence = v.hash, v.terms.Depositary, v.terms.Version
	case EntryTag:
		e, err := parseEntry(msg, "entry")
		if err != nil {
			return Document{}, err
		}
		d.Hash, d.Party, d.Sequence = e.Hash, e.Party, e.Sequence
	case RootTag:
		s, err := parseRoot(msg, "root statement")
		if err != nil {
			return Document{}, err
		}
		d.Hash, d.Party, d.Sequence = s.Hash, s.Party, s.Sequence
	case hotline.RatificationTag:
		n, err := openUnverified(msg, hotline.RatificationTag, "ratification")
		if err != nil {
			return Document{}, err
		}
		r, err := hotline.ParseRatification([]byte(n.Text))
		if err != nil {
			return Document{}, errorf(ErrMalformed, "ratification: %v", err)
		}
		d.Hash, d.Party, d.Sequence = hotline.NoteID([]byte(n.Text)), r.Party, r.Version
	default:
		return Document{}, errorf(ErrMalformed, "a note whose first line is %q is not part of an agreement", truncate(d.Tag))
	}
	return d, nil
}

// Holds reports whether the agreement holds the document with hash h.
func (a *Agreement) Holds(h hotline.ID) bool {
	_, ok := a.Document(h)
	return ok
}

// Document returns the signed note of the document with hash h, signature
// lines included.
func (a *Agreement) Document(h hotline.ID) ([]byte, bool) {
	if v, ok := a.byHash[h]; ok {
		return slices.Clone(v.note), true
	}
	for _, m := range a.ratifications {
		for _, r := range m {
			if noteHash(r.note) == h {
				return slices.Clone(r.note), true
			}
		}
	}
	for _, es := range a.entries {
		for _, e := range es {
			if e.Hash == h {
				return slices.Clone(e.Note), true
			}
		}
	}
	for _, chain := range a.roots {
		for _, s := range chain {
			if s.signed != nil && s.signed.Hash == h {
				return slices.Clone(s.signed.Note), true
			}
		}
	}
	return nil, false
}

// noteHash is SHA-256 of a signed note's text: the bytes before the blank
// line that precedes the signatures.
func noteHash(msg []byte) hotline.ID {
	text := msg
	if i := bytes.LastIndex(msg, []byte("\n\n")); i >= 0 {
		text = msg[:i+1]
	}
	return hotline.NoteID(text)
}

// Digest is what a node offers its peers in every heartbeat so that they
// can tell, without the list, whether they hold the same chain: SHA-256 of
// the 32-byte hashes of every signed document the agreement holds, sorted
// in ascending byte order and concatenated. The draft is not part of it.
func (a *Agreement) Digest() hotline.ID {
	hs := a.DocumentHashes()
	slices.SortFunc(hs, func(x, y hotline.ID) int { return bytes.Compare(x[:], y[:]) })
	hs = slices.Compact(hs)
	h := sha256.New()
	for _, x := range hs {
		h.Write(x[:])
	}
	var out hotline.ID
	copy(out[:], h.Sum(nil))
	return out
}

// Equivocation returns the document a holds in the place msg claims — the
// same party's entry or root statement with the same sequence — when msg is
// a different document validly signed by the key that had to sign that
// place: two such documents are proof that their signer equivocated. It
// returns false for anything else (a document a already holds, one for a
// place a does not hold yet, one signed by some other key).
func (a *Agreement) Equivocation(msg []byte) ([]byte, bool) {
	d, err := Describe(msg)
	if err != nil {
		return nil, false
	}
	switch d.Tag {
	case EntryTag:
		es := a.entries[d.Party]
		if d.Sequence == 0 || d.Sequence > uint64(len(es)) {
			return nil, false
		}
		held := es[d.Sequence-1]
		if held.Hash == d.Hash {
			return nil, false
		}
		root, ok := a.rootForEntry(d.Party, d.Sequence)
		if !ok || !signedBy(msg, d.Party, root.root) {
			return nil, false
		}
		return slices.Clone(held.Note), true
	case RootTag:
		chain := a.roots[d.Party]
		if d.Sequence == 0 || d.Sequence >= uint64(len(chain)) {
			return nil, false
		}
		held := chain[d.Sequence].signed
		if held == nil || held.Hash == d.Hash {
			return nil, false
		}
		// The party's root before the statement signs a rotation; a
		// pre-rotation is signed by the key its commitment named.
		prev := chain[d.Sequence-1]
		s, err := parseRoot(msg, "root statement")
		if err != nil {
			return nil, false
		}
		if !signedBy(msg, d.Party, prev.root) && !(RootCommitment(s.Root) == prev.next && signedBy(msg, d.Party, s.Root)) {
			return nil, false
		}
		return slices.Clone(held.Note), true
	case TermsTag:
		if d.Sequence == 0 || d.Sequence > uint64(len(a.versions)) {
			return nil, false
		}
		held := a.versions[d.Sequence-1]
		if held.hash == d.Hash {
			return nil, false
		}
		dep := held.terms.Depositary
		root, ok := a.rootAt(dep, held.terms.Issued)
		if !ok || !signedBy(msg, dep, root.root) {
			return nil, false
		}
		return slices.Clone(held.note), true
	}
	return nil, false
}

// SignedBy returns the party whose root key (any root it ever had, in
// a) signed msg: a document refused for not extending the chain is an
// alarm when a party signed it.
func (a *Agreement) SignedBy(msg []byte) (string, bool) {
	for _, party := range sortedKeys(a.roots) {
		for _, s := range a.roots[party] {
			if signedBy(msg, party, s.root) {
				return party, true
			}
		}
	}
	return "", false
}

// signedBy reports whether msg carries a valid signature by the root key
// vkey of party.
func signedBy(msg []byte, party, vkey string) bool {
	v, err := rootVerifier(&Party{ID: party, Root: vkey})
	if err != nil {
		return false
	}
	n, err := note.Open(msg, note.VerifierList(v))
	return err == nil && len(n.Sigs) > 0
}
