package agreement

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/hotline-net/hotline"
)

// Tags of the signed documents of an agreement: the first line of the note
// text, before the JSON document.
const (
	TermsTag = "hotline-terms/v1"
	EntryTag = "hotline-entry/v1"
)

// BundleFormat is the value of the "format" member of an agreement file.
const BundleFormat = "hotline-agreement/v1"

// maxNote bounds one signed document, signatures included.
const maxNote = hotline.MaxStatementSize

// documentText returns the note text of a signed document: the tag line,
// then v as hotline writes JSON (see marshalIndent).
func documentText(tag string, v any) ([]byte, error) {
	j, err := marshalIndent(v)
	if err != nil {
		return nil, err
	}
	return append([]byte(tag+"\n"), j...), nil
}

// SignTerms checks t as signed terms (issue and effective times set, every
// rule of [Parse] that a single version can break) and returns it as a
// C2SP signed note signed by signers: the depositary's root key, and when
// the version changes the depositary's root key, the new one as well.
func SignTerms(t *Terms, signers ...note.Signer) ([]byte, error) {
	if err := validateTerms(t, false); err != nil {
		return nil, err
	}
	text, err := documentText(TermsTag, t)
	if err != nil {
		return nil, err
	}
	if len(signers) == 0 {
		return nil, errors.New("signing terms: no signer")
	}
	return note.Sign(&note.Note{Text: string(text)}, signers...)
}

// SignEntry checks e and returns it as a C2SP signed note signed by root,
// the party's root key.
func SignEntry(e *Entry, root note.Signer) ([]byte, error) {
	if err := validateEntry(e); err != nil {
		return nil, err
	}
	if want := hotline.KeyName(e.Party, hotline.RoleRoot); root.Name() != want {
		return nil, fmt.Errorf("signing entry of %s: the signer is %q, want the root key %q", e.Party, root.Name(), want)
	}
	text, err := documentText(EntryTag, e)
	if err != nil {
		return nil, err
	}
	return note.Sign(&note.Note{Text: string(text)}, root)
}

// Ratify returns party's ratification of version v, made at time at,
// signed with the party's root key.
func Ratify(v *Version, party string, at time.Time, root note.Signer) ([]byte, error) {
	if _, err := v.Party(party); err != nil {
		return nil, err
	}
	if want := hotline.KeyName(party, hotline.RoleRoot); root.Name() != want {
		return nil, fmt.Errorf("ratifying as %s: the signer is %q, want the root key %q", party, root.Name(), want)
	}
	return hotline.Sign(&hotline.Ratification{Party: party, Agreement: v.Hash(), Version: v.Number(), Time: at.UTC().Truncate(time.Second)}, root)
}

// openUnverified parses a signed note without verifying any signature and
// returns it with its text, checking size and tag.
func openUnverified(msg []byte, tag, what string) (*note.Note, error) {
	if len(msg) > maxNote {
		return nil, errorf(ErrTooLarge, "%s: larger than %d bytes", what, maxNote)
	}
	if !bytes.HasPrefix(msg, []byte(tag+"\n")) {
		first, _, _ := bytes.Cut(msg, []byte("\n"))
		return nil, errorf(ErrMalformed, "%s: first line is %q, want %q", what, truncate(string(first)), tag)
	}
	_, err := note.Open(msg, note.VerifierList())
	var unverified *note.UnverifiedNoteError
	if !errors.As(err, &unverified) {
		return nil, errorf(ErrMalformed, "%s: not a signed note: %v", what, err)
	}
	return unverified.Note, nil
}

// parseDocument decodes the JSON of a signed document's text strictly into
// v, runs validate, and checks that the JSON is exactly what hotline would
// write for v, so that one document has one hash.
func parseDocument(text []byte, tag string, v any, validate func() error, what string) error {
	body := text[len(tag)+1:]
	if err := decodeStrict(body, v, what); err != nil {
		return err
	}
	if err := validate(); err != nil {
		return err
	}
	canon, err := documentText(tag, v)
	if err != nil {
		return errorf(ErrInvalid, "%s: %v", what, err)
	}
	if !bytes.Equal(canon, text) {
		return errorf(ErrNotCanonical, "%s: the JSON is not in the form hotline writes (two-space indentation, fields in order, empty fields left out, durations in their largest unit)", what)
	}
	return nil
}

// verifyNote checks that msg carries a valid signature by every key in
// want and no signature by any other key.
func verifyNote(msg []byte, what string, want ...note.Verifier) error {
	n, err := note.Open(msg, note.VerifierList(want...))
	if err != nil {
		return errorf(ErrBadSignature, "%s: %v", what, err)
	}
	if len(n.UnverifiedSigs) > 0 {
		return errorf(ErrBadSignature, "%s: carries a signature by %s, which is not expected here", what, truncate(n.UnverifiedSigs[0].Name))
	}
	for _, v := range want {
		found := false
		for _, s := range n.Sigs {
			if s.Name == v.Name() && s.Hash == v.KeyHash() {
				found = true
			}
		}
		if !found {
			return errorf(ErrBadSignature, "%s: not signed by %s", what, v.Name())
		}
	}
	return nil
}

// OpenEntry parses a signed directory entry on its own and verifies it
// against root, the party's root key as a vkey: what a depositary does with
// the entry a party sends it to join, and a node with an entry it fetched.
// It checks everything [Parse] checks of one entry, not its place in the
// party's chain.
func OpenEntry(msg []byte, root string) (*SignedEntry, error) {
	e, err := parseEntry(msg, "entry")
	if err != nil {
		return nil, err
	}
	rv, err := rootVerifier(&Party{ID: e.Party, Root: root})
	if err != nil {
		return nil, errorf(ErrBadKey, "entry %s/%d: %v", e.Party, e.Sequence, err)
	}
	if err := verifyNote(msg, fmt.Sprintf("entry %s/%d", e.Party, e.Sequence), rv); err != nil {
		return nil, err
	}
	return e, nil
}
