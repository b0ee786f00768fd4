package agreement

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"

	"github.com/hotline-net/hotline"
)

// witnessVerifier returns a verifier for a witness key: a C2SP vkey of
// algorithm 0x04 (cosignature/v1, Ed25519) whose key hash matches. The
// formats/note parser also takes plain Ed25519 and ML-DSA keys and does not
// check the hash; the directory holds exactly one form.
func witnessVerifier(vkey string) (note.Verifier, error) {
	bad := func(why string) error {
		return errorf(ErrBadKey, "witness key %q: %s", truncate(vkey), why)
	}
	parts := strings.SplitN(vkey, "+", 3)
	if len(parts) != 3 {
		return nil, bad("not of the form <name>+<hash>+<key>")
	}
	raw, err := base64.StdEncoding.Strict().DecodeString(parts[2])
	if err != nil || len(raw) != 33 || raw[0] != 0x04 {
		return nil, bad("not an Ed25519 cosignature/v1 key (algorithm 0x04)")
	}
	h := sha256.Sum256(append([]byte(parts[0]+"\n"), raw...))
	if hex.EncodeToString(h[:4]) != parts[1] {
		return nil, bad("the key hash does not match the key")
	}
	v, err := fnote.NewVerifierForCosignatureV1(vkey)
	if err != nil {
		return nil, bad(err.Error())
	}
	return v, nil
}

// EntryUpdate describes a party's next directory entry: its current public
// keys and what else changes.
type EntryUpdate struct {
	// Keys are the party's public keys as they should be from At on. A key
	// that differs from the one its role has at At replaces it: the old key
	// ends at At (or is revoked, see Revoke) and the new one starts at At.
	// Party names the party; Root is ignored (the root key is in the terms).
	Keys hotline.PublicKeys
	// Issued is when the entry is signed. Required.
	Issued time.Time
	// At is when replaced keys change over. Zero means Issued; it may not
	// be earlier.
	At time.Time
	// Revoke lists roles whose key is withdrawn as compromised rather than
	// ended: its revocation time is RevokedAt (zero: At), which may lie in
	// the past. A revoked role needs a new key in Keys.
	Revoke    []hotline.KeyRole
	RevokedAt time.Time
	// Endpoints and Contacts replace the previous entry's when non-nil; the
	// first entry needs both.
	Endpoints []string
	Contacts  []Contact
	// Protocols replaces the previous entry's protocol versions when
	// non-nil (see [Entry.Protocols]).
	Protocols []uint64
	// Reconfirm sets every contact's Reconfirmed to Issued: the party has
	// just checked that they answer. Contacts given without a reconfirmation
	// time get Issued as well.
	Reconfirm bool
}

// NextEntry builds the entry that follows prev (nil for the party's first
// entry), carrying over the history of its keys, its endpoints and its
// contacts, and applying u. The result is checked as [Parse] would check
// it; sign it with [SignEntry].
func NextEntry(prev *SignedEntry, u EntryUpdate) (*Entry, error) {
	if u.Issued.IsZero() {
		return nil, fmt.Errorf("next entry: the issue time is required")
	}
	issued := u.Issued.UTC().Truncate(time.Second)
	at := issued
	if !u.At.IsZero() {
		at = u.At.UTC().Truncate(time.Second)
	}
	if at.Before(issued) {
		return nil, errorf(ErrKeyHistory, "next entry: keys cannot change over at %s, before the entry is issued (%s); revoke a compromised key instead", hotline.FormatTime(at), hotline.FormatTime(issued))
	}
	revokedAt := at
	if !u.RevokedAt.IsZero() {
		revokedAt = u.RevokedAt.UTC().Truncate(time.Second)
	}
	origin, err := keyName(u.Keys.Checkpoint)
	if err != nil {
		return nil, err
	}
	e := &Entry{Party: u.Keys.Party, Sequence: 1, Issued: issued, LogOrigin: origin}
	if prev != nil {
		if prev.Party != u.Keys.Party {
			return nil, fmt.Errorf("next entry: the keys are %s's, the previous entry %s's", u.Keys.Party, prev.Party)
		}
		c := cloneEntry(&prev.Entry)
		e.Sequence = prev.Sequence + 1
		e.Previous = prev.Hash
		e.Endpoints = c.Endpoints
		e.Protocols = c.Protocols
		e.Contacts = c.Contacts
		e.Keys = c.Keys
	}
	if u.Endpoints != nil {
		e.Endpoints = slices.Clone(u.Endpoints)
	}
	if u.Protocols != nil {
		e.Protocols = slices.Clone(u.Protocols)
	}
	if u.Contacts != nil {
		e.Contacts = slices.Clone(u.Contacts)
		for i := range e.Contacts {
			e.Contacts[i].Languages = slices.Clone(e.Contacts[i].Languages)
		}
	}
	for i := range e.Contacts {
		if u.Reconfirm || e.Contacts[i].Reconfirmed.IsZero() {
			e.Contacts[i].Reconfirmed = issued
		}
	}
	for _, role := range []hotline.KeyRole{hotline.RoleMessage, hotline.RoleEncryption, hotline.RoleCheckpoint, hotline.RoleWitness} {
		text := publicKey(u.Keys, role)
		if text == "" {
			continue
		}
		revoke := slices.Contains(u.Revoke, role)
		listed := false
		for i := range e.Keys {
			if e.Keys[i].Role == role && vkeyPublic(e.Keys[i].Key) == vkeyPublic(text) {
				listed = true
			}
		}
		if listed && !revoke {
			continue
		}
		if listed && revoke {
			return nil, fmt.Errorf("next entry: revoking the %s key needs a new %s key in its place", role, role)
		}
		// The new key takes over at At from every key of the role still
		// valid then (normally one; a key pre-published for later too).
		for i := range e.Keys {
			k := &e.Keys[i]
			if k.Role != role {
				continue
			}
			end := k.End()
			if !end.IsZero() && !end.After(at) {
				continue
			}
			switch {
			case revoke:
				if k.Revoked.IsZero() {
					k.Revoked = revokedAt
					if k.Revoked.Before(k.ValidFrom) {
						k.Revoked = k.ValidFrom
					}
				}
			case !k.ValidFrom.Before(at):
				// Not yet valid at the changeover: it is superseded before
				// it starts, which only a revocation can say.
				k.Revoked = k.ValidFrom
			default:
				k.ValidUntil = at
			}
		}
		e.Keys = append(e.Keys, Key{Role: role, Key: text, ValidFrom: at})
	}
	if err := validateEntry(e); err != nil {
		return nil, err
	}
	if prev != nil {
		if err := checkEntryHistory(&prev.Entry, e); err != nil {
			return nil, err
		}
	}
	return e, nil
}

func publicKey(p hotline.PublicKeys, r hotline.KeyRole) string {
	switch r {
	case hotline.RoleMessage:
		return p.Message
	case hotline.RoleEncryption:
		return p.Encryption
	case hotline.RoleCheckpoint:
		return p.Checkpoint
	case hotline.RoleWitness:
		return p.Witness
	}
	return ""
}

func keyName(vkey string) (string, error) {
	v, err := hotline.NewVerifier(vkey)
	if err != nil {
		return "", errorf(ErrBadKey, "checkpoint key: %v", err)
	}
	return v.Name(), nil
}
