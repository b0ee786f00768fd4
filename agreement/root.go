package agreement

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/hotline-net/hotline"
)

// RootTag is the tag of a root statement: the first line of its note text.
const RootTag = "hotline-root/v1"

// RootMethod says how a [RootStatement] proves that the party itself
// rotated its root.
type RootMethod string

// The two ways a party replaces its root key. Nobody else can: not the
// depositary, not a version of the terms, not a draft.
const (
	// RootRotation is signed by the party's current root key and by the
	// new one: the party holds both.
	RootRotation RootMethod = "rotation"
	// RootPreRotation is signed by the new root key alone, whose
	// [RootCommitment] the current root statement (or the version that
	// admitted the party) committed to as the next root: recovery from a
	// lost root key with the pre-rotation key kept offline.
	RootPreRotation RootMethod = "pre-rotation"
)

// RootStatement is a party's statement that its root key is now Root:
// self-authenticating, needing nobody's consent. A party's statements form
// a chain (sequence 1, 2, 3, ..., each naming its predecessor's hash) that
// starts from the root the version admitting the party fixed.
//
// The JSON form is the wire form (FORMAT.md).
type RootStatement struct {
	Party    string     `json:"party"`
	Sequence uint64     `json:"sequence"`
	Previous hotline.ID `json:"previous,omitzero"`
	// Issued is when the party signed. Terms versions and ratifications
	// dated from then on are checked against the new root.
	Issued time.Time  `json:"issued"`
	Method RootMethod `json:"method"`
	// Root is the new root key, a C2SP vkey named "<party>/root".
	Root string `json:"root"`
	// NextRoot is the [RootCommitment] of the root key after this one: the
	// pre-rotation key.
	NextRoot hotline.ID `json:"next_root"`
	// AfterEntry is the sequence of the party's latest directory entry when
	// it rotated (0 if it had none): entries up to it are signed by earlier
	// roots, every later one by this root.
	AfterEntry uint64 `json:"after_entry,omitempty"`
}

// SignedRoot is a root statement with the signed note it came in.
type SignedRoot struct {
	RootStatement
	// Hash is SHA-256 of the note text, which the party's next statement
	// names as its previous.
	Hash hotline.ID
	// Note is the signed note, signature lines included.
	Note []byte
}

// RootCommitment returns the commitment to a root key that a party's terms
// entry or root statement carries as its next_root: SHA-256 of the key's
// vkey string.
func RootCommitment(vkey string) hotline.ID { return hotline.RootCommitment(vkey) }

// rootState is one root key of a party: the one the admitting version
// fixed (signed == nil) or one a root statement established.
type rootState struct {
	root       string
	next       hotline.ID
	from       time.Time // the statement's issue; zero for the admitting version's root
	afterEntry uint64
	signed     *SignedRoot
}

func validateRoot(s *RootStatement) error {
	c := &checker{what: fmt.Sprintf("root statement %s/%d", s.Party, s.Sequence)}
	c.partyID("party", s.Party)
	if s.Sequence == 0 {
		c.fail(ErrMissing, "sequence", "statements count from 1")
	}
	if s.Sequence == 1 && !s.Previous.IsZero() {
		c.fail(ErrBadChain, "previous", "statement 1 has no previous statement")
	}
	if s.Sequence > 1 && s.Previous.IsZero() {
		c.fail(ErrBadChain, "previous", "statement %d must name the hash of statement %d", s.Sequence, s.Sequence-1)
	}
	c.time("issued", s.Issued, true)
	switch s.Method {
	case RootRotation, RootPreRotation:
	case "":
		c.fail(ErrMissing, "method", "required")
	default:
		c.fail(ErrInvalid, "method", "%q: want rotation or pre-rotation", truncate(string(s.Method)))
	}
	if s.Root == "" {
		c.fail(ErrMissing, "root", "required")
	} else if c.ok() {
		if _, err := rootVerifier(&Party{ID: s.Party, Root: s.Root}); err != nil {
			c.fail(ErrBadKey, "root", "%v", err)
		}
	}
	if s.NextRoot.IsZero() {
		c.fail(ErrMissing, "next_root", "every root statement commits to the party's next root")
	}
	if s.NextRoot == RootCommitment(s.Root) {
		c.fail(ErrInvalid, "next_root", "commits to the root it names; the next root is another key")
	}
	return c.err
}

func parseRoot(msg []byte, what string) (*SignedRoot, error) {
	n, err := openUnverified(msg, RootTag, what)
	if err != nil {
		return nil, err
	}
	s := &SignedRoot{Note: slices.Clone(msg), Hash: hotline.NoteID([]byte(n.Text))}
	if err := parseDocument([]byte(n.Text), RootTag, &s.RootStatement, func() error { return validateRoot(&s.RootStatement) }, what); err != nil {
		return nil, err
	}
	return s, nil
}

// SignRoot checks s and returns it as a C2SP signed note. A rotation is
// signed by the party's current root key and the new one; a pre-rotation by
// the new one alone.
func SignRoot(s *RootStatement, signers ...note.Signer) ([]byte, error) {
	if err := validateRoot(s); err != nil {
		return nil, err
	}
	if len(signers) == 0 {
		return nil, fmt.Errorf("signing root statement: no signer")
	}
	want := hotline.KeyName(s.Party, hotline.RoleRoot)
	for _, sg := range signers {
		if sg.Name() != want {
			return nil, fmt.Errorf("signing root statement of %s: the signer is %q, want a root key %q", s.Party, sg.Name(), want)
		}
	}
	text, err := documentText(RootTag, s)
	if err != nil {
		return nil, err
	}
	return note.Sign(&note.Note{Text: string(text)}, signers...)
}

// NextRootStatement returns party's next root statement, naming root (a
// vkey) as its new root key and next as the commitment to the one after,
// issued at issued: what [SignRoot] then signs. For a pre-rotation, root
// must be the key the party's current root state committed to.
func (a *Agreement) NextRootStatement(party string, method RootMethod, root string, next hotline.ID, issued time.Time) (*RootStatement, error) {
	chain := a.roots[party]
	if len(chain) == 0 {
		return nil, errorf(ErrUnknownParty, "%s is not a party of any signed version of the agreement", truncate(party))
	}
	cur := chain[len(chain)-1]
	s := &RootStatement{
		Party:      party,
		Sequence:   uint64(len(chain)),
		Issued:     issued.UTC().Truncate(time.Second),
		Method:     method,
		Root:       root,
		NextRoot:   next,
		AfterEntry: uint64(len(a.entries[party])),
	}
	if cur.signed != nil {
		s.Previous = cur.signed.Hash
		if s.Issued.Before(cur.from) {
			return nil, errorf(ErrBadChain, "root statement %s/%d: issued before statement %d", party, s.Sequence, s.Sequence-1)
		}
	}
	if root == cur.root {
		return nil, errorf(ErrInvalid, "root statement %s/%d: %s is already the root key", party, s.Sequence, truncate(root))
	}
	if method == RootPreRotation && RootCommitment(root) != cur.next {
		return nil, errorf(ErrBadRotation, "root statement %s/%d: the key is not the one %s committed to as its next root", party, s.Sequence, party)
	}
	if err := validateRoot(s); err != nil {
		return nil, err
	}
	return s, nil
}

// chainRoots builds each party's chain of root keys from the roots the
// versions fix when they admit a party and the parties' root statements,
// and checks that no later version (and no draft) changes a root.
func (a *Agreement) chainRoots(statements []string) error {
	for _, v := range a.versions {
		for _, p := range v.terms.Parties {
			if len(a.roots[p.ID]) == 0 {
				a.roots[p.ID] = []rootState{{root: p.Root, next: p.NextRoot}}
				a.admitted[p.ID] = v
			}
		}
	}
	byParty := map[string][]*SignedRoot{}
	for i, s := range statements {
		r, err := parseRoot([]byte(s), fmt.Sprintf("roots[%d]", i))
		if err != nil {
			return err
		}
		if len(a.roots[r.Party]) == 0 {
			return errorf(ErrUnknownParty, "root statement %s/%d: %s is not a party of any signed version", r.Party, r.Sequence, r.Party)
		}
		byParty[r.Party] = append(byParty[r.Party], r)
	}
	for _, party := range sortedKeys(byParty) {
		rs := byParty[party]
		slices.SortStableFunc(rs, func(x, y *SignedRoot) int { return cmp.Compare(x.Sequence, y.Sequence) })
		for i, r := range rs {
			if i > 0 && rs[i-1].Sequence == r.Sequence {
				if rs[i-1].Hash == r.Hash {
					return errorf(ErrDuplicateID, "root statement %s/%d appears twice", party, r.Sequence)
				}
				return errorf(ErrFork, "two different root statements %s/%d: %s and %s", party, r.Sequence, rs[i-1].Hash, r.Hash)
			}
			if r.Sequence != uint64(i+1) {
				return errorf(ErrBadChain, "root statement %s/%d is missing", party, i+1)
			}
			chain := a.roots[party]
			cur := chain[len(chain)-1]
			if cur.signed != nil {
				if r.Previous != cur.signed.Hash {
					return errorf(ErrBadChain, "root statement %s/%d names %s as its previous statement, but statement %d is %s", party, r.Sequence, r.Previous, i, cur.signed.Hash)
				}
				if r.Issued.Before(cur.from) || r.AfterEntry < cur.afterEntry {
					return errorf(ErrBadChain, "root statement %s/%d goes back before statement %d", party, r.Sequence, i)
				}
			}
			for _, old := range chain {
				if vkeyPublic(old.root) == vkeyPublic(r.Root) {
					return errorf(ErrBadRotation, "root statement %s/%d: %s was already a root key of %s; a root is never reused", party, r.Sequence, truncate(r.Root), party)
				}
			}
			if r.Method == RootPreRotation && (cur.next.IsZero() || RootCommitment(r.Root) != cur.next) {
				return errorf(ErrBadRotation, "root statement %s/%d: a pre-rotation must reveal the key %s committed to as its next root, and %s is not it", party, r.Sequence, party, truncate(r.Root))
			}
			a.roots[party] = append(chain, rootState{root: r.Root, next: r.NextRoot, from: r.Issued, afterEntry: r.AfterEntry, signed: r})
		}
	}
	// No version after the one that admitted a party changes its root: it
	// may only repeat a root the party itself established.
	for _, v := range a.versions {
		for _, p := range v.terms.Parties {
			if err := a.checkRootUnchanged(p, fmt.Sprintf("version %d", v.Number())); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkRootUnchanged refuses a version or a draft that lists party p with
// a root key (or next-root commitment) the party never established itself.
func (a *Agreement) checkRootUnchanged(p Party, what string) error {
	chain := a.roots[p.ID]
	if len(chain) == 0 {
		return nil // a party this version or draft admits
	}
	for _, s := range chain {
		if s.root == p.Root && s.next == p.NextRoot {
			return nil
		}
	}
	return errorf(ErrRootChanged, "%s changes the root key of %s to %s; a party's root changes only by a root statement the party signs", what, p.ID, truncate(p.Root))
}

// rootAt returns party's root key in force at t: the last one established
// by a statement issued at or before t, else the one the admitting version
// fixed.
func (a *Agreement) rootAt(party string, t time.Time) (rootState, bool) {
	chain := a.roots[party]
	if len(chain) == 0 {
		return rootState{}, false
	}
	s := chain[0]
	for _, c := range chain[1:] {
		if !c.from.After(t) {
			s = c
		}
	}
	return s, true
}

// rootsAt returns the root keys that held for party at time t: the one
// rootAt returns and, if a statement replaced another at t itself, the one
// it replaced. Times are whole seconds, so a signature made in the second
// of a rotation may be by either root.
func (a *Agreement) rootsAt(party string, t time.Time) []rootState {
	chain := a.roots[party]
	var out []rootState
	for i, c := range chain {
		if i > 0 && c.from.After(t) {
			break
		}
		if i+1 < len(chain) && !chain[i+1].from.Equal(t) && !chain[i+1].from.After(t) {
			continue
		}
		out = append(out, c)
	}
	return out
}

// rootForEntry returns the root key that must sign party's entry seq: the
// one established by the last statement made after an earlier entry.
func (a *Agreement) rootForEntry(party string, seq uint64) (rootState, bool) {
	chain := a.roots[party]
	if len(chain) == 0 {
		return rootState{}, false
	}
	s := chain[0]
	for _, c := range chain[1:] {
		if c.afterEntry < seq {
			s = c
		}
	}
	return s, true
}

// Roots returns party's root statements, oldest first.
func (a *Agreement) Roots(party string) []*SignedRoot {
	var out []*SignedRoot
	for _, s := range a.roots[party] {
		if s.signed != nil {
			c := *s.signed
			c.Note = slices.Clone(c.Note)
			out = append(out, &c)
		}
	}
	return out
}

// Root returns party's current root key and the commitment to its next.
func (a *Agreement) Root(party string) (root string, next hotline.ID, err error) {
	chain := a.roots[party]
	if len(chain) == 0 {
		return "", hotline.ID{}, errorf(ErrUnknownParty, "%s is not a party of any signed version of the agreement", truncate(party))
	}
	s := chain[len(chain)-1]
	return s.root, s.next, nil
}
