package agreement

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/hotline-net/hotline"
)

// MaxSize bounds an agreement file: every version of the terms, every
// ratification and every party's chain of entries. A network of two
// hundred parties that each rotate their keys a few dozen times stays well
// below it.
const MaxSize = 64 << 20

// Agreement is a parsed agreement file: the chain of versions of the treaty
// terms, the parties' ratifications, each party's chain of directory
// entries, and possibly a draft of the next version.
//
// An Agreement is immutable and safe for concurrent use; the methods that
// add to it ([Agreement.With], [Agreement.Merge], [Agreement.WithDraft])
// return a new one.
type Agreement struct {
	versions      []*Version
	byHash        map[hotline.ID]*Version
	ratifications map[hotline.ID]map[string]*signedRatification
	entries       map[string][]*SignedEntry // by party, in sequence order
	// roots holds each party's root keys: the one the version admitting it
	// fixed, then those its own root statements established.
	roots    map[string][]rootState
	admitted map[string]*Version // the version that first lists the party
	draft    *Terms
}

// Version is one signed version of the treaty terms.
type Version struct {
	terms   Terms
	hash    hotline.ID
	note    []byte
	parties map[string]*Party
	groups  map[string]*Group
	kinds   map[string]*Kind
	policy  *Policy
}

// SignedEntry is one directory entry with the signed note it came in.
type SignedEntry struct {
	Entry
	// Hash is the entry's id: SHA-256 of the note text (tag line and JSON),
	// which the next entry names as its previous.
	Hash hotline.ID
	// Note is the signed note, signature lines included.
	Note []byte
}

type signedRatification struct {
	r    hotline.Ratification
	note []byte
}

type bundleJSON struct {
	Format        string   `json:"format"`
	Terms         []string `json:"terms,omitempty"`
	Ratifications []string `json:"ratifications,omitempty"`
	Entries       []string `json:"entries,omitempty"`
	Roots         []string `json:"roots,omitempty"`
	Draft         *Terms   `json:"draft,omitempty"`
}

// Load reads, parses and verifies the agreement file at path: what a node
// does at start.
func Load(path string) (*Agreement, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	a, err := Parse(b)
	if err != nil {
		return nil, err
	}
	if err := a.Verify(); err != nil {
		return nil, err
	}
	return a, nil
}

// Parse parses an agreement file strictly, without checking signatures
// (see [Agreement.Verify]). It refuses unknown fields, duplicate JSON
// members, signed documents not in canonical form, duplicate ids, a group,
// witness or relay naming an unknown party, an unknown kind, a zero
// deadline, keys of one role whose validity overlaps or leaves a gap,
// broken chains of versions or entries, and conflicting documents, each
// with its own error code.
func Parse(b []byte) (*Agreement, error) {
	if len(b) > MaxSize {
		return nil, errorf(ErrTooLarge, "agreement: larger than %d bytes", MaxSize)
	}
	var bj bundleJSON
	if err := decodeStrict(b, &bj, "agreement"); err != nil {
		return nil, err
	}
	if bj.Format != BundleFormat {
		return nil, errorf(ErrMalformed, "agreement: format is %q, want %q", truncate(bj.Format), BundleFormat)
	}
	return build(&bj)
}

func build(bj *bundleJSON) (*Agreement, error) {
	a := &Agreement{
		byHash:        map[hotline.ID]*Version{},
		ratifications: map[hotline.ID]map[string]*signedRatification{},
		entries:       map[string][]*SignedEntry{},
		roots:         map[string][]rootState{},
		admitted:      map[string]*Version{},
	}

	// The chain of versions.
	for i, s := range bj.Terms {
		v, err := parseVersion([]byte(s), fmt.Sprintf("terms[%d]", i))
		if err != nil {
			return nil, err
		}
		if old, dup := a.byHash[v.hash]; dup {
			return nil, errorf(ErrDuplicateID, "version %d appears twice", old.Number())
		}
		a.byHash[v.hash] = v
		a.versions = append(a.versions, v)
	}
	slices.SortStableFunc(a.versions, func(x, y *Version) int { return cmp.Compare(x.Number(), y.Number()) })
	for i, v := range a.versions {
		if i > 0 && a.versions[i-1].Number() == v.Number() {
			return nil, errorf(ErrFork, "two different versions %d: %s and %s", v.Number(), a.versions[i-1].hash, v.hash)
		}
		if v.Number() != uint64(i+1) {
			return nil, errorf(ErrBadChain, "version %d is missing", i+1)
		}
		if i > 0 {
			prev := a.versions[i-1]
			if v.terms.Previous != prev.hash {
				return nil, errorf(ErrBadChain, "version %d names %s as its previous version, but version %d is %s", v.Number(), v.terms.Previous, prev.Number(), prev.hash)
			}
			if v.terms.Effective.Before(prev.terms.Effective) || v.terms.Issued.Before(prev.terms.Issued) {
				return nil, errorf(ErrBadChain, "version %d is issued or takes effect before version %d", v.Number(), prev.Number())
			}
		}
	}

	// Each party's root keys: fixed by the version admitting it, changed
	// only by the party's own statements.
	if err := a.chainRoots(bj.Roots); err != nil {
		return nil, err
	}

	// The draft of the next version.
	if bj.Draft != nil {
		d := cloneTerms(bj.Draft)
		if err := validateTerms(d, true); err != nil {
			return nil, err
		}
		want := uint64(len(a.versions) + 1)
		var prev hotline.ID
		if l := a.Latest(); l != nil {
			prev = l.hash
		}
		if d.Version != want || d.Previous != prev {
			return nil, errorf(ErrBadChain, "the draft is version %d after %s; the chain wants version %d after %s", d.Version, d.Previous, want, prev)
		}
		// A draft is signed by nobody: it may admit a party, never change
		// the root of one a signed version admitted.
		for _, p := range d.Parties {
			if err := a.checkRootUnchanged(p, "the draft"); err != nil {
				return nil, err
			}
		}
		a.draft = d
	}

	// Ratifications.
	for i, s := range bj.Ratifications {
		what := fmt.Sprintf("ratifications[%d]", i)
		n, err := openUnverified([]byte(s), hotline.RatificationTag, what)
		if err != nil {
			return nil, err
		}
		r, err := hotline.ParseRatification([]byte(n.Text))
		if err != nil {
			return nil, errorf(ErrMalformed, "%s: %v", what, err)
		}
		v := a.byHash[r.Agreement]
		switch {
		case v == nil:
			return nil, errorf(ErrBadRatification, "%s: %s ratified %s, which is not a version of this agreement", what, r.Party, r.Agreement)
		case v.Number() != r.Version:
			return nil, errorf(ErrBadRatification, "%s: %s ratified %s as version %d, but it is version %d", what, r.Party, r.Agreement, r.Version, v.Number())
		case v.parties[r.Party] == nil:
			return nil, errorf(ErrUnknownParty, "%s: %s is not a party of version %d", what, r.Party, v.Number())
		case v.parties[r.Party].Kind == KindDepositary:
			return nil, errorf(ErrBadRatification, "%s: the depositary does not ratify; its signature on the terms is its assent", what)
		}
		m := a.ratifications[r.Agreement]
		if m == nil {
			m = map[string]*signedRatification{}
			a.ratifications[r.Agreement] = m
		}
		if m[r.Party] != nil {
			return nil, errorf(ErrBadRatification, "%s: %s ratified version %d twice", what, r.Party, v.Number())
		}
		m[r.Party] = &signedRatification{r: *r, note: []byte(s)}
	}

	// Directory entries.
	for i, s := range bj.Entries {
		e, err := parseEntry([]byte(s), fmt.Sprintf("entries[%d]", i))
		if err != nil {
			return nil, err
		}
		if len(a.roots[e.Party]) == 0 && (a.draft == nil || draftParty(a.draft, e.Party) == nil) {
			return nil, errorf(ErrUnknownParty, "entry %s/%d: %s is not a party of any version or of the draft", e.Party, e.Sequence, e.Party)
		}
		a.entries[e.Party] = append(a.entries[e.Party], e)
	}
	for party, es := range a.entries {
		slices.SortStableFunc(es, func(x, y *SignedEntry) int { return cmp.Compare(x.Sequence, y.Sequence) })
		for i, e := range es {
			if i > 0 && es[i-1].Sequence == e.Sequence {
				if es[i-1].Hash == e.Hash {
					return nil, errorf(ErrDuplicateID, "entry %s/%d appears twice", party, e.Sequence)
				}
				return nil, errorf(ErrFork, "two different entries %s/%d: %s and %s", party, e.Sequence, es[i-1].Hash, e.Hash)
			}
			if e.Sequence != uint64(i+1) {
				return nil, errorf(ErrBadChain, "entry %s/%d is missing", party, i+1)
			}
			if i > 0 {
				prev := es[i-1]
				if e.Previous != prev.Hash {
					return nil, errorf(ErrBadChain, "entry %s/%d names %s as its previous entry, but entry %d is %s", party, e.Sequence, e.Previous, prev.Sequence, prev.Hash)
				}
				if err := checkEntryHistory(&prev.Entry, &e.Entry); err != nil {
					return nil, err
				}
			}
		}
	}
	for party, chain := range a.roots {
		last := chain[len(chain)-1]
		if n := uint64(len(a.entries[party])); last.afterEntry > n {
			return nil, errorf(ErrBadChain, "root statement %s/%d follows entry %s/%d, which is missing", party, last.signed.Sequence, party, last.afterEntry)
		}
	}
	return a, nil
}

func draftParty(d *Terms, id string) *Party {
	for i := range d.Parties {
		if d.Parties[i].ID == id {
			return &d.Parties[i]
		}
	}
	return nil
}

func parseVersion(msg []byte, what string) (*Version, error) {
	n, err := openUnverified(msg, TermsTag, what)
	if err != nil {
		return nil, err
	}
	v := &Version{note: slices.Clone(msg), hash: hotline.NoteID([]byte(n.Text))}
	if err := parseDocument([]byte(n.Text), TermsTag, &v.terms, func() error { return validateTerms(&v.terms, false) }, what); err != nil {
		return nil, err
	}
	v.index()
	return v, nil
}

func (v *Version) index() {
	t := &v.terms
	v.parties = map[string]*Party{}
	for i := range t.Parties {
		v.parties[t.Parties[i].ID] = &t.Parties[i]
	}
	v.groups = map[string]*Group{}
	for i := range t.Groups {
		v.groups[t.Groups[i].ID] = &t.Groups[i]
	}
	v.kinds = map[string]*Kind{}
	for i := range t.Kinds {
		v.kinds[t.Kinds[i].Name] = &t.Kinds[i]
	}
	// validateTerms parsed the policy already.
	v.policy, _ = ParsePolicy(t.Witnesses.Policy, t.Witnesses.Parties)
}

func parseEntry(msg []byte, what string) (*SignedEntry, error) {
	n, err := openUnverified(msg, EntryTag, what)
	if err != nil {
		return nil, err
	}
	e := &SignedEntry{Note: slices.Clone(msg), Hash: hotline.NoteID([]byte(n.Text))}
	if err := parseDocument([]byte(n.Text), EntryTag, &e.Entry, func() error { return validateEntry(&e.Entry) }, what); err != nil {
		return nil, err
	}
	return e, nil
}

// New returns an agreement that holds only a draft of version 1, which
// [SignTerms] and [Agreement.With] turn into the first version.
func New(draft *Terms) (*Agreement, error) {
	return (&Agreement{}).WithDraft(draft)
}

// Verify checks every signature: each version is signed by the
// depositary's root key in force when it was issued (version 1 by the one
// it lists; a version that hands the depositary's role to another party by
// that party's root key too); each ratification by the ratifying party's
// root key in force at its time; each directory entry by the party's root
// key for its place in the chain; each root statement by the party's
// previous root and its new one (a rotation) or by the new one it had
// committed to (a pre-rotation). Root keys come only from the version that
// admitted the party and the party's own root statements, never from a
// later version or the draft (which [Parse] refuses if they try). It fails
// when there is no signed version.
//
// Verify trusts version 1 (and so the depositary's first root key): pin it
// by its hash or its depositary key out of band, and accept later files
// only if they extend the chain you hold ([Agreement.Extends]).
func (a *Agreement) Verify() error {
	if len(a.versions) == 0 {
		return errorf(ErrNoVersion, "agreement: no signed version of the terms yet")
	}
	return a.verify()
}

// rootVerifierOf returns the note verifier of a root state of party.
func rootVerifierOf(party string, s rootState, what string) (note.Verifier, error) {
	v, err := rootVerifier(&Party{ID: party, Root: s.root})
	if err != nil {
		return nil, errorf(ErrBadKey, "%s: %v", what, err)
	}
	return v, nil
}

// verify checks every signature there is, even in an agreement that has
// only a draft so far.
func (a *Agreement) verify() error {
	for i, v := range a.versions {
		what := fmt.Sprintf("version %d", v.Number())
		signer := v.terms.Depositary
		if i > 0 {
			signer = a.versions[i-1].terms.Depositary
		}
		var verifiers []note.Verifier
		for _, id := range []string{signer, v.terms.Depositary} {
			s, ok := a.rootAt(id, v.terms.Issued)
			if !ok {
				return errorf(ErrBadSignature, "%s: %s has no root key", what, id)
			}
			rv, err := rootVerifierOf(id, s, what)
			if err != nil {
				return err
			}
			if !slices.ContainsFunc(verifiers, func(x note.Verifier) bool { return x.KeyHash() == rv.KeyHash() && x.Name() == rv.Name() }) {
				verifiers = append(verifiers, rv)
			}
		}
		if err := verifyNote(v.note, what, verifiers...); err != nil {
			return err
		}
	}
	for h, m := range a.ratifications {
		v := a.byHash[h]
		for party, r := range m {
			what := fmt.Sprintf("ratification of version %d by %s", v.Number(), party)
			// Signed by the root at its time: in the second of a
			// rotation, by either (the one in force is tried first, for
			// the error).
			roots := a.rootsAt(party, r.r.Time)
			if len(roots) == 0 {
				return errorf(ErrBadSignature, "%s: %s has no root key", what, party)
			}
			var first error
			for i := len(roots) - 1; i >= 0; i-- {
				rv, err := rootVerifierOf(party, roots[i], what)
				if err == nil {
					err = verifyNote(r.note, what, rv)
				}
				if err == nil {
					first = nil
					break
				}
				if first == nil {
					first = err
				}
			}
			if first != nil {
				return first
			}
		}
	}
	for party, es := range a.entries {
		for _, e := range es {
			what := fmt.Sprintf("entry %s/%d", party, e.Sequence)
			s, ok := a.rootForEntry(party, e.Sequence)
			if !ok {
				// A party only the draft admits: its entry is checked
				// against the root it brings, and gives it nothing until a
				// signed version admits it.
				s = rootState{root: draftParty(a.draft, party).Root}
			}
			rv, err := rootVerifierOf(party, s, what)
			if err != nil {
				return err
			}
			if err := verifyNote(e.Note, what, rv); err != nil {
				return err
			}
		}
	}
	for party, chain := range a.roots {
		for i, s := range chain {
			if s.signed == nil {
				continue
			}
			what := fmt.Sprintf("root statement %s/%d", party, s.signed.Sequence)
			nv, err := rootVerifierOf(party, s, what)
			if err != nil {
				return err
			}
			want := []note.Verifier{nv}
			if s.signed.Method == RootRotation {
				pv, err := rootVerifierOf(party, chain[i-1], what)
				if err != nil {
					return err
				}
				want = []note.Verifier{pv, nv}
			}
			if err := verifyNote(s.signed.Note, what, want...); err != nil {
				return err
			}
		}
	}
	return nil
}

// Extends reports, with an error saying why not, whether a holds
// everything old holds: old's versions as a prefix of a's, old's entries
// of each party as a prefix of a's, and old's ratifications. A node
// replaces its agreement only with one that extends it: it only moves
// forward.
func (a *Agreement) Extends(old *Agreement) error {
	if len(old.versions) > len(a.versions) {
		return errorf(ErrBadChain, "this agreement ends at version %d; the one held goes to version %d", len(a.versions), len(old.versions))
	}
	for i, v := range old.versions {
		if a.versions[i].hash != v.hash {
			return errorf(ErrFork, "version %d differs: %s here, %s held", v.Number(), a.versions[i].hash, v.hash)
		}
	}
	for party, es := range old.entries {
		mine := a.entries[party]
		if len(mine) < len(es) {
			return errorf(ErrBadChain, "%s's entries end at %d here; the ones held go to %d", party, len(mine), len(es))
		}
		for i, e := range es {
			if mine[i].Hash != e.Hash {
				return errorf(ErrFork, "entry %s/%d differs: %s here, %s held", party, e.Sequence, mine[i].Hash, e.Hash)
			}
		}
	}
	for party, chain := range old.roots {
		mine := a.roots[party]
		if len(mine) < len(chain) {
			return errorf(ErrBadChain, "%s's root statements end at %d here; the ones held go to %d", party, len(mine)-1, len(chain)-1)
		}
		for i, s := range chain {
			if s.signed != nil && mine[i].signed.Hash != s.signed.Hash {
				return errorf(ErrFork, "root statement %s/%d differs: %s here, %s held", party, s.signed.Sequence, mine[i].signed.Hash, s.signed.Hash)
			}
		}
	}
	for h, m := range old.ratifications {
		for party := range m {
			if a.ratifications[h][party] == nil {
				return errorf(ErrBadRatification, "the ratification of version %d by %s is missing", old.byHash[h].Number(), party)
			}
		}
	}
	return nil
}

// With returns a new agreement holding a's documents and the given signed
// notes: versions of the terms, ratifications and directory entries, told
// apart by their tag. A version that the draft was preparing replaces the
// draft. The result is parsed and verified like a file.
func (a *Agreement) With(notes ...[]byte) (*Agreement, error) {
	bj := a.bundle()
	for _, n := range notes {
		first, _, _ := bytes.Cut(n, []byte("\n"))
		switch string(first) {
		case TermsTag:
			bj.Terms = append(bj.Terms, string(n))
		case EntryTag:
			bj.Entries = append(bj.Entries, string(n))
		case hotline.RatificationTag:
			bj.Ratifications = append(bj.Ratifications, string(n))
		case RootTag:
			bj.Roots = append(bj.Roots, string(n))
		default:
			return nil, errorf(ErrMalformed, "a note whose first line is %q is not part of an agreement", truncate(string(first)))
		}
	}
	dedupe(bj)
	if bj.Draft != nil && uint64(len(bj.Terms)) >= bj.Draft.Version {
		bj.Draft = nil
	}
	return rebuild(bj)
}

// Merge returns a new agreement holding the documents of both a and b: the
// union of their versions, ratifications and entries. Two different
// documents in one place of a chain are refused (ErrFork). a's draft is
// kept if it still follows the merged chain, else b's if that does.
func (a *Agreement) Merge(b *Agreement) (*Agreement, error) {
	bj, other := a.bundle(), b.bundle()
	bj.Terms = append(bj.Terms, other.Terms...)
	bj.Ratifications = append(bj.Ratifications, other.Ratifications...)
	bj.Entries = append(bj.Entries, other.Entries...)
	bj.Roots = append(bj.Roots, other.Roots...)
	dedupe(bj)
	bj.Draft = nil
	n := uint64(0)
	for _, v := range a.versions {
		n = max(n, v.Number())
	}
	for _, v := range b.versions {
		n = max(n, v.Number())
	}
	for _, d := range []*Terms{a.draft, b.draft} {
		if d != nil && d.Version == n+1 && bj.Draft == nil {
			bj.Draft = d
		}
	}
	m, err := rebuild(bj)
	if err != nil && bj.Draft != nil && ErrorCode(err) == ErrBadChain.Code {
		bj.Draft = nil
		m, err = rebuild(bj)
	}
	return m, err
}

// WithDraft returns a new agreement with d as the draft of the next version
// (d.Version must be the next number and d.Previous the latest hash).
func (a *Agreement) WithDraft(d *Terms) (*Agreement, error) {
	bj := a.bundle()
	bj.Draft = cloneTerms(d)
	return rebuild(bj)
}

func rebuild(bj *bundleJSON) (*Agreement, error) {
	n, err := build(bj)
	if err != nil {
		return nil, err
	}
	if err := n.verify(); err != nil {
		return nil, err
	}
	return n, nil
}

// dedupe drops documents whose note text another one has already, keeping
// the first.
func dedupe(bj *bundleJSON) {
	for _, list := range []*[]string{&bj.Terms, &bj.Ratifications, &bj.Entries, &bj.Roots} {
		seen := map[string]bool{}
		out := (*list)[:0:0]
		for _, s := range *list {
			text := s
			if i := bytes.LastIndex([]byte(s), []byte("\n\n")); i >= 0 {
				text = s[:i+1]
			}
			if !seen[text] {
				seen[text] = true
				out = append(out, s)
			}
		}
		*list = out
	}
}

func (a *Agreement) bundle() *bundleJSON {
	bj := &bundleJSON{Format: BundleFormat}
	for _, v := range a.versions {
		bj.Terms = append(bj.Terms, string(v.note))
	}
	for _, v := range a.versions {
		m := a.ratifications[v.hash]
		for _, p := range sortedKeys(m) {
			bj.Ratifications = append(bj.Ratifications, string(m[p].note))
		}
	}
	for _, p := range sortedKeys(a.entries) {
		for _, e := range a.entries[p] {
			bj.Entries = append(bj.Entries, string(e.Note))
		}
	}
	for _, p := range sortedKeys(a.roots) {
		for _, s := range a.roots[p] {
			if s.signed != nil {
				bj.Roots = append(bj.Roots, string(s.signed.Note))
			}
		}
	}
	if a.draft != nil {
		bj.Draft = cloneTerms(a.draft)
	}
	return bj
}

// Marshal returns the agreement file: JSON with the signed notes verbatim
// (as strings), versions in order, ratifications by version and party,
// entries by party and sequence, and the draft, if any.
func (a *Agreement) Marshal() []byte {
	b, err := marshalIndent(a.bundle())
	if err != nil {
		// Every value in the bundle was parsed or built by this package.
		panic("agreement: marshalling a parsed agreement: " + err.Error())
	}
	return b
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func cloneTerms(t *Terms) *Terms {
	b, err := json.Marshal(t)
	if err != nil {
		panic("agreement: cloning terms: " + err.Error())
	}
	var c Terms
	if err := json.Unmarshal(b, &c); err != nil {
		panic("agreement: cloning terms: " + err.Error())
	}
	return &c
}

func cloneEntry(e *Entry) Entry {
	b, err := json.Marshal(e)
	if err != nil {
		panic("agreement: cloning entry: " + err.Error())
	}
	var c Entry
	if err := json.Unmarshal(b, &c); err != nil {
		panic("agreement: cloning entry: " + err.Error())
	}
	return c
}

// Draft returns a copy of the draft of the next version, if there is one.
func (a *Agreement) Draft() (*Terms, bool) {
	if a.draft == nil {
		return nil, false
	}
	return cloneTerms(a.draft), true
}

// NextDraft returns the draft if there is one, else a new draft of the next
// version: a copy of the latest version's terms with the next number, the
// latest hash as previous, and no issue or effective time.
func (a *Agreement) NextDraft() (*Terms, error) {
	if d, ok := a.Draft(); ok {
		return d, nil
	}
	l := a.Latest()
	if l == nil {
		return nil, errorf(ErrNoVersion, "agreement: neither a version nor a draft to start from")
	}
	d := cloneTerms(&l.terms)
	d.Version++
	d.Previous = l.hash
	d.Issued, d.Effective = time.Time{}, time.Time{}
	return d, nil
}

// DocumentHashes returns the hash of every signed document the agreement
// holds — versions, ratifications, directory entries, root statements — in
// the order of its file: what the depositary logs.
func (a *Agreement) DocumentHashes() []hotline.ID {
	bj := a.bundle()
	var out []hotline.ID
	for _, list := range [][]string{bj.Terms, bj.Ratifications, bj.Entries, bj.Roots} {
		for _, s := range list {
			text := s
			if i := bytes.LastIndex([]byte(s), []byte("\n\n")); i >= 0 {
				text = s[:i+1]
			}
			out = append(out, hotline.NoteID([]byte(text)))
		}
	}
	return out
}

// Versions returns the signed versions, oldest first.
func (a *Agreement) Versions() []*Version { return slices.Clone(a.versions) }

// Latest returns the newest signed version, or nil if there is none.
func (a *Agreement) Latest() *Version {
	if len(a.versions) == 0 {
		return nil
	}
	return a.versions[len(a.versions)-1]
}

// Version returns the version with hash h: the one an envelope names.
func (a *Agreement) Version(h hotline.ID) (*Version, error) {
	v := a.byHash[h]
	if v == nil {
		return nil, errorf(ErrNoVersion, "no version of the agreement has hash %s", h)
	}
	return v, nil
}

// VersionNumber returns version n.
func (a *Agreement) VersionNumber(n uint64) (*Version, error) {
	if n == 0 || n > uint64(len(a.versions)) {
		return nil, errorf(ErrNoVersion, "there is no version %d (the latest is %d)", n, len(a.versions))
	}
	return a.versions[n-1], nil
}

// Current returns the version in force at t: the highest-numbered one whose
// effective time is not after t.
func (a *Agreement) Current(t time.Time) (*Version, error) {
	for i := len(a.versions) - 1; i >= 0; i-- {
		if !a.versions[i].terms.Effective.After(t) {
			return a.versions[i], nil
		}
	}
	return nil, errorf(ErrNoVersion, "no version of the agreement is in force at %s", hotline.FormatTime(t))
}

// InForce returns the version in force between parties at t: the
// highest-numbered version in effect at t that every one of them is a
// party of and bound by ([Agreement.Ratified]; the depositary's signature
// is its assent). Between two parties it is the version that governs their
// messages; for a group message the sender's node asks it of the sender and
// every recipient. It fails with ErrNoVersion when there is none.
func (a *Agreement) InForce(t time.Time, parties ...string) (*Version, error) {
	for i := len(a.versions) - 1; i >= 0; i-- {
		v := a.versions[i]
		if v.terms.Effective.After(t) {
			continue
		}
		if !slices.ContainsFunc(parties, func(p string) bool { return v.parties[p] == nil || !a.Ratified(p, v.hash) }) {
			return v, nil
		}
	}
	return nil, errorf(ErrNoVersion, "no version of the agreement in force at %s is ratified by all of %s", hotline.FormatTime(t), truncate(strings.Join(parties, ", ")))
}

// Ratified reports whether party is bound by the version with hash h: it
// ratified it, or it is that version's depositary.
func (a *Agreement) Ratified(party string, h hotline.ID) bool {
	if v := a.byHash[h]; v != nil && v.terms.Depositary == party {
		return true
	}
	return a.ratifications[h][party] != nil
}

// Ratifications returns the ratifications of the version with hash h, by
// party id.
func (a *Agreement) Ratifications(h hotline.ID) []hotline.Ratification {
	m := a.ratifications[h]
	out := make([]hotline.Ratification, 0, len(m))
	for _, p := range sortedKeys(m) {
		out = append(out, m[p].r)
	}
	return out
}

// RatificationNote returns the signed ratification of the version with
// hash h by party.
func (a *Agreement) RatificationNote(party string, h hotline.ID) ([]byte, bool) {
	r := a.ratifications[h][party]
	if r == nil {
		return nil, false
	}
	return slices.Clone(r.note), true
}

// Party returns party id as the latest version lists it.
func (a *Agreement) Party(id string) (Party, error) {
	l := a.Latest()
	if l == nil {
		return Party{}, errorf(ErrUnknownParty, "%s: the agreement has no signed version", id)
	}
	return l.Party(id)
}

// Parties returns the parties of the latest version, the depositary
// included, in the order the terms list them.
func (a *Agreement) Parties() []Party {
	l := a.Latest()
	if l == nil {
		return nil
	}
	return l.Parties()
}

// Entry returns the latest directory entry of party: the one every lookup
// of its keys, endpoints and contacts uses (it carries the whole history of
// its keys). The party must be a party of some signed version.
func (a *Agreement) Entry(party string) (*SignedEntry, error) {
	es, err := a.partyEntries(party)
	if err != nil {
		return nil, err
	}
	return copyEntry(es[len(es)-1]), nil
}

// Entries returns party's chain of entries, oldest first. Unlike the
// lookups, it also answers for a party that is only in the draft.
func (a *Agreement) Entries(party string) ([]*SignedEntry, error) {
	es := a.entries[party]
	if len(es) == 0 {
		return nil, errorf(ErrUnknownParty, "%s has no directory entry", truncate(party))
	}
	out := make([]*SignedEntry, len(es))
	for i, e := range es {
		out[i] = copyEntry(e)
	}
	return out, nil
}

func copyEntry(e *SignedEntry) *SignedEntry {
	return &SignedEntry{Entry: cloneEntry(&e.Entry), Hash: e.Hash, Note: slices.Clone(e.Note)}
}

func (a *Agreement) partyEntries(party string) ([]*SignedEntry, error) {
	if len(a.roots[party]) == 0 {
		return nil, errorf(ErrUnknownParty, "%s is not a party of any signed version of the agreement", truncate(party))
	}
	// A party a later version admits brings its root in that version and
	// ratifies it with that root; until it has, nothing of it is in force.
	if v := a.admitted[party]; v.Number() > 1 && v.terms.Depositary != party && a.ratifications[v.hash][party] == nil {
		return nil, errorf(ErrUnknownParty, "%s was admitted by version %d but has not ratified it with its root key", party, v.Number())
	}
	es := a.entries[party]
	if len(es) == 0 {
		return nil, errorf(ErrUnknownParty, "%s has no directory entry", party)
	}
	return es, nil
}

// Keys returns every key of party in role, valid or not, in order of
// their start.
func (a *Agreement) Keys(party string, role hotline.KeyRole) ([]Key, error) {
	es, err := a.partyEntries(party)
	if err != nil {
		return nil, err
	}
	var out []Key
	for _, k := range es[len(es)-1].Keys {
		if k.Role == role {
			out = append(out, k)
		}
	}
	slices.SortFunc(out, func(x, y Key) int { return x.ValidFrom.Compare(y.ValidFrom) })
	return out, nil
}

// Key returns the key of party in role that is valid at t, according to the
// party's latest entry (so a revocation applies to the past it covers).
// The error is ErrUnknownParty for a party that is not in any signed version
// or has no entry, and ErrKeyNotValid when no key in that role is valid at t.
func (a *Agreement) Key(party string, role hotline.KeyRole, t time.Time) (Key, error) {
	ks, err := a.Keys(party, role)
	if err != nil {
		return Key{}, err
	}
	for _, k := range ks {
		if k.ValidAt(t) {
			return k, nil
		}
	}
	return Key{}, errorf(ErrKeyNotValid, "%s has no %s key valid at %s", party, role, hotline.FormatTime(t))
}

// SignedKey returns the key of party in role that verifies something it
// signed at created and this node received at received: an envelope, a
// receipt. Unlike [Agreement.Key] it lets a message in flight outlive a
// rotation, and keeps a revocation from reaching back:
//
//   - the key must be valid at created, as the party's entries stood before
//     any revocation of it;
//   - a key retired in the ordinary course (valid_until) verifies until
//     valid_until plus the key grace of the version in force at received
//     ([Version.KeyGrace]);
//   - a key revoked as compromised gets no grace: it verifies only what
//     was received before the revocation was published (the issue of the
//     first entry that revokes it) and before the revocation time itself,
//     whichever is later — what was received before stays valid, nothing
//     that arrives after does.
//
// The error is ErrUnknownParty or ErrKeyNotValid, as for [Agreement.Key].
func (a *Agreement) SignedKey(party string, role hotline.KeyRole, created, received time.Time) (Key, error) {
	es, err := a.partyEntries(party)
	if err != nil {
		return Key{}, err
	}
	grace := DefaultKeyGrace
	if v, err := a.Current(received); err == nil {
		grace = v.KeyGrace()
	}
	for _, k := range es[len(es)-1].Keys {
		if k.Role != role || created.Before(k.ValidFrom) {
			continue
		}
		end := k.ValidUntil
		if !k.Revoked.IsZero() {
			cutoff := k.Revoked
			if published := revokedIn(es, &k); published.After(cutoff) {
				cutoff = published
			}
			if !received.Before(cutoff) {
				if created.Before(cutoff) && (end.IsZero() || created.Before(end)) {
					return Key{}, errorf(ErrKeyNotValid, "%s's %s key %s was revoked as compromised on %s; nothing it signed is accepted after that", party, role, truncate(k.Key), hotline.FormatTime(cutoff))
				}
				continue
			}
			if end.IsZero() || cutoff.Before(end) {
				end = cutoff
			}
		}
		if !end.IsZero() && !created.Before(end) {
			continue
		}
		if !k.ValidUntil.IsZero() && !received.Before(k.ValidUntil.Add(grace)) && k.ValidUntil.Equal(end) {
			return Key{}, errorf(ErrKeyNotValid, "%s's %s key %s was retired on %s; the %v grace for what it signed before ended on %s", party, role, truncate(k.Key), hotline.FormatTime(k.ValidUntil), grace, hotline.FormatTime(k.ValidUntil.Add(grace)))
		}
		return k, nil
	}
	return Key{}, errorf(ErrKeyNotValid, "%s has no %s key valid at %s", party, role, hotline.FormatTime(created))
}

// revokedIn returns the issue time of the first of es that revokes k.
func revokedIn(es []*SignedEntry, k *Key) time.Time {
	id := keyMaterial(k)
	for _, e := range es {
		for i := range e.Keys {
			if keyMaterial(&e.Keys[i]) == id && !e.Keys[i].Revoked.IsZero() {
				return e.Issued
			}
		}
	}
	return time.Time{}
}

// SignedMessageKey returns a verifier for the message key of party that
// verifies an envelope (or receipt) it created at created, received at
// received: see [Agreement.SignedKey].
func (a *Agreement) SignedMessageKey(party string, created, received time.Time) (note.Verifier, error) {
	k, err := a.SignedKey(party, hotline.RoleMessage, created, received)
	if err != nil {
		return nil, err
	}
	return hotline.NewVerifier(k.Key)
}

// ReceiptKey returns a verifier for party's receipt note received at
// received: the message key valid when the note says party received the
// envelope (see [Agreement.SignedKey]), read before the signature is
// checked, so that a receipt in flight across the party's key rotation is
// not lost. A note that does not parse is looked up at received, and then
// fails verification with its own error.
func (a *Agreement) ReceiptKey(party string, receipt []byte, received time.Time) (note.Verifier, error) {
	at := received
	if i := bytes.LastIndex(receipt, []byte("\n\n")); i >= 0 {
		if r, err := hotline.ParseReceipt(receipt[:i+1]); err == nil {
			at = r.Received
		}
	}
	return a.SignedMessageKey(party, at, received)
}

// MessageKey returns a verifier for the message key of party valid at t:
// the key that signs its envelopes, receipts, heartbeats and requests.
func (a *Agreement) MessageKey(party string, t time.Time) (note.Verifier, error) {
	k, err := a.Key(party, hotline.RoleMessage, t)
	if err != nil {
		return nil, err
	}
	return hotline.NewVerifier(k.Key)
}

// CheckpointKey returns a verifier for the checkpoint key of party valid
// at t: the key that signs its log's checkpoints, named for its origin.
func (a *Agreement) CheckpointKey(party string, t time.Time) (note.Verifier, error) {
	k, err := a.Key(party, hotline.RoleCheckpoint, t)
	if err != nil {
		return nil, err
	}
	return hotline.NewVerifier(k.Key)
}

// WitnessKey returns a C2SP cosignature/v1 verifier for the witness key of
// party valid at t.
func (a *Agreement) WitnessKey(party string, t time.Time) (note.Verifier, error) {
	k, err := a.Key(party, hotline.RoleWitness, t)
	if err != nil {
		return nil, err
	}
	return witnessVerifier(k.Key)
}

// EncryptionKey returns the encryption key of party valid at t: the key to
// seal to.
func (a *Agreement) EncryptionKey(party string, t time.Time) (*hotline.EncryptionPublicKey, error) {
	k, err := a.Key(party, hotline.RoleEncryption, t)
	if err != nil {
		return nil, err
	}
	return hotline.ParseEncryptionPublicKey(k.Key)
}

// EncryptionKeys returns every encryption key party has listed, expired and
// revoked ones included, oldest first: a node keeps the private halves of
// its own until every message sealed to them has been opened.
func (a *Agreement) EncryptionKeys(party string) ([]*hotline.EncryptionPublicKey, error) {
	ks, err := a.Keys(party, hotline.RoleEncryption)
	if err != nil {
		return nil, err
	}
	out := make([]*hotline.EncryptionPublicKey, 0, len(ks))
	for _, k := range ks {
		pk, err := hotline.ParseEncryptionPublicKey(k.Key)
		if err != nil {
			return nil, err
		}
		out = append(out, pk)
	}
	return out, nil
}

// Endpoints returns the base URLs of party's node, in order of preference.
func (a *Agreement) Endpoints(party string) ([]string, error) {
	es, err := a.partyEntries(party)
	if err != nil {
		return nil, err
	}
	return slices.Clone(es[len(es)-1].Endpoints), nil
}

// Protocols returns the versions of the peer protocol party's node speaks,
// ascending, from its latest directory entry: version 1 alone when the
// entry lists none.
func (a *Agreement) Protocols(party string) ([]uint64, error) {
	es, err := a.partyEntries(party)
	if err != nil {
		return nil, err
	}
	if ps := es[len(es)-1].Protocols; len(ps) > 0 {
		return slices.Clone(ps), nil
	}
	return []uint64{1}, nil
}

// LogOrigin returns the origin of party's log.
func (a *Agreement) LogOrigin(party string) (string, error) {
	es, err := a.partyEntries(party)
	if err != nil {
		return "", err
	}
	return es[len(es)-1].LogOrigin, nil
}

// Contacts returns party's points of contact.
func (a *Agreement) Contacts(party string) ([]Contact, error) {
	es, err := a.partyEntries(party)
	if err != nil {
		return nil, err
	}
	return cloneEntry(&es[len(es)-1].Entry).Contacts, nil
}

// WitnessPolicy returns the witness policy of version v at time t as a
// complete C2SP tlog-policy file: a "witness" line for each witness with
// the cosignature key valid at t, then v's group and quorum lines. A
// witness without a valid key at t fails with ErrKeyNotValid.
func (a *Agreement) WitnessPolicy(v *Version, t time.Time) (string, error) {
	var b bytes.Buffer
	for _, w := range v.terms.Witnesses.Parties {
		k, err := a.Key(w, hotline.RoleWitness, t)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "witness %s %s\n", w, k.Key)
	}
	for _, l := range v.terms.Witnesses.Policy {
		b.WriteString(l + "\n")
	}
	return b.String(), nil
}

// Hash returns the version's hash, SHA-256 of its note text: what envelopes
// name and parties ratify.
func (v *Version) Hash() hotline.ID { return v.hash }

// Number returns the version number.
func (v *Version) Number() uint64 { return v.terms.Version }

// Issued returns when the depositary signed the version.
func (v *Version) Issued() time.Time { return v.terms.Issued }

// Effective returns when the version takes effect.
func (v *Version) Effective() time.Time { return v.terms.Effective }

// Terms returns a copy of the version's terms.
func (v *Version) Terms() *Terms { return cloneTerms(&v.terms) }

// Note returns the signed note of the version, signature lines included.
func (v *Version) Note() []byte { return slices.Clone(v.note) }

// Depositary returns the version's depositary.
func (v *Version) Depositary() Party { return *v.parties[v.terms.Depositary] }

// Party returns party id, or ErrUnknownParty.
func (v *Version) Party(id string) (Party, error) {
	p := v.parties[id]
	if p == nil {
		return Party{}, errorf(ErrUnknownParty, "%s is not a party of version %d of the agreement", truncate(id), v.Number())
	}
	return *p, nil
}

// Parties returns the parties, the depositary included, in the order the
// terms list them.
func (v *Version) Parties() []Party { return slices.Clone(v.terms.Parties) }

// Groups returns the groups.
func (v *Version) Groups() []Group { return v.Terms().Groups }

// Expand returns the members of group, sorted: for an open group every
// party but the depositary, for a closed one its members.
func (v *Version) Expand(group string) ([]string, error) {
	g := v.groups[group]
	if g == nil {
		return nil, errorf(ErrUnknownGroup, "%q is not a group of version %d of the agreement", truncate(group), v.Number())
	}
	var out []string
	if g.Kind == GroupOpen {
		for _, p := range v.terms.Parties {
			if p.Kind != KindDepositary {
				out = append(out, p.ID)
			}
		}
	} else {
		out = slices.Clone(g.Members)
	}
	slices.Sort(out)
	return out, nil
}

// Kind returns the message kind name, or ErrUnknownKind.
func (v *Version) Kind(name string) (*Kind, error) {
	k := v.kinds[name]
	if k == nil {
		return nil, errorf(ErrUnknownKind, "%q is not a message kind of version %d of the agreement", truncate(name), v.Number())
	}
	c := *k
	c.Obligations = slices.Clone(k.Obligations)
	for i := range c.Obligations {
		c.Obligations[i].MetBy = slices.Clone(k.Obligations[i].MetBy)
	}
	return &c, nil
}

// Kinds returns the message kinds in the order the terms list them.
func (v *Version) Kinds() []Kind { return v.Terms().Kinds }

// Witnesses returns the witnessing parties.
func (v *Version) Witnesses() []string { return slices.Clone(v.terms.Witnesses.Parties) }

// Policy returns the witness quorum.
func (v *Version) Policy() *Policy { return v.policy }

// Relays returns the relaying parties, in order of preference.
func (v *Version) Relays() []string { return slices.Clone(v.terms.Relays) }

// Grace returns the grace added to a relay's receipt time for a message its
// recipient never receipted.
func (v *Version) Grace() time.Duration { return time.Duration(v.terms.Grace) }

// EvidencePeriod returns how long nodes keep the evidence (witnessed
// checkpoints and their cosignatures among it): the terms'
// evidence_period, or [DefaultEvidencePeriod].
func (v *Version) EvidencePeriod() time.Duration {
	if v.terms.EvidencePeriod > 0 {
		return time.Duration(v.terms.EvidencePeriod)
	}
	return DefaultEvidencePeriod
}

// KeyGrace returns how long after a key's routine retirement what it
// signed before is still accepted: the terms' key_grace, or
// [DefaultKeyGrace].
func (v *Version) KeyGrace() time.Duration {
	if v.terms.KeyGrace > 0 {
		return time.Duration(v.terms.KeyGrace)
	}
	return DefaultKeyGrace
}

// Reconfirmation returns how often contacts must be reconfirmed.
func (v *Version) Reconfirmation() time.Duration { return time.Duration(v.terms.Reconfirmation) }
