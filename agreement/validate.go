package agreement

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/mod/sumdb/note"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/internal/langtag"
)

// Limits of the documents, beyond which they are refused as invalid.
const (
	maxParties   = 4096
	maxGroups    = 1024
	maxKinds     = 256
	maxKeys      = 256
	maxContacts  = 64
	maxEndpoints = 16
	// maxProtocols and maxProtocolVersion bound an entry's protocol
	// versions.
	maxProtocols       = 16
	maxProtocolVersion = 1000
	maxLanguages       = 16
	maxNameLen         = 256
	maxDescLen         = 2048
)

// checker collects the first error of a validation pass, with the path of
// the field it concerns.
type checker struct {
	what string // "terms", "entry BER/2", ...
	err  error
}

func (c *checker) fail(kind *Error, path, format string, args ...any) {
	if c.err == nil {
		c.err = errorf(kind, "%s: %s: %s", c.what, path, fmt.Sprintf(format, args...))
	}
}

func (c *checker) ok() bool { return c.err == nil }

// time checks that t is set (when required) and in the form every time of
// the agreement has: UTC, whole seconds.
func (c *checker) time(path string, t time.Time, required bool) {
	if t.IsZero() {
		if required {
			c.fail(ErrMissing, path, "required")
		}
		return
	}
	if t.Location() != time.UTC || t.Nanosecond() != 0 {
		c.fail(ErrInvalid, path, "%s: want UTC with whole seconds, like 2026-01-02T15:04:05Z", t.Format(time.RFC3339Nano))
	}
	if t.Year() < 2000 || t.Year() > 9999 {
		c.fail(ErrInvalid, path, "year %d is out of range", t.Year())
	}
}

// text checks a human-readable single-line string.
func (c *checker) text(path, s string, required bool, max int) {
	switch {
	case s == "" && required:
		c.fail(ErrMissing, path, "required")
	case len(s) > max:
		c.fail(ErrInvalid, path, "longer than %d bytes", max)
	case strings.TrimSpace(s) != s:
		c.fail(ErrInvalid, path, "leading or trailing space")
	default:
		for _, r := range s {
			if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
				c.fail(ErrInvalid, path, "contains the control character %U", r)
				return
			}
		}
	}
}

func (c *checker) partyID(path, id string) {
	if id == "" {
		c.fail(ErrMissing, path, "required")
		return
	}
	if err := hotline.CheckPartyID(id); err != nil {
		c.fail(ErrInvalid, path, "%v", err)
	}
}

// validLabel reports whether s is a group or contact id: 1 to 64 lower-case
// letters, digits, '-', '_' or '.', a letter first.
func validLabel(s string) bool {
	if s == "" || len(s) > 64 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// validOrigin reports whether s can be a log origin as envelopes and
// receipts carry it: 1 to 64 letters, digits, '.', '_', ':', '/' or '-'.
func validOrigin(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("._:/-", c) >= 0) {
			return false
		}
	}
	return true
}

// validateTerms checks everything about t that needs no signature. A draft
// may lack its issue and effective times and may have a witness quorum that
// is not yet attainable.
func validateTerms(t *Terms, draft bool) error {
	c := &checker{what: fmt.Sprintf("terms version %d", t.Version)}
	if draft {
		c.what = "draft terms"
	}
	if t.Version == 0 {
		c.fail(ErrMissing, "version", "versions count from 1")
	}
	if t.Version == 1 && !t.Previous.IsZero() {
		c.fail(ErrBadChain, "previous", "version 1 has no previous version")
	}
	if t.Version > 1 && t.Previous.IsZero() {
		c.fail(ErrBadChain, "previous", "version %d must name the hash of version %d", t.Version, t.Version-1)
	}
	c.time("issued", t.Issued, !draft)
	c.time("effective", t.Effective, !draft)
	if !t.Issued.IsZero() && !t.Effective.IsZero() && t.Effective.Before(t.Issued) {
		c.fail(ErrInvalid, "effective", "a version cannot take effect before it is issued")
	}

	// Parties.
	parties := map[string]*Party{}
	roots := map[string]string{}
	if len(t.Parties) == 0 {
		c.fail(ErrMissing, "parties", "at least the depositary is a party")
	}
	if len(t.Parties) > maxParties {
		c.fail(ErrInvalid, "parties", "more than %d", maxParties)
	}
	for i := range t.Parties {
		p := &t.Parties[i]
		path := fmt.Sprintf("parties[%d]", i)
		c.partyID(path+".id", p.ID)
		if parties[p.ID] != nil {
			c.fail(ErrDuplicateID, path+".id", "party %s is listed twice", p.ID)
		}
		parties[p.ID] = p
		c.text(path+".name", p.Name, true, maxNameLen)
		switch p.Kind {
		case KindState, KindOrganization, KindDepositary:
		case "":
			c.fail(ErrMissing, path+".kind", "required")
		default:
			c.fail(ErrInvalid, path+".kind", "%q: want state, organization or depositary", truncate(string(p.Kind)))
		}
		if p.Root == "" {
			c.fail(ErrMissing, path+".root", "required")
		} else if _, err := rootVerifier(p); err != nil {
			c.fail(ErrBadKey, path+".root", "%v", err)
		} else {
			pub := vkeyPublic(p.Root)
			if other, dup := roots[pub]; dup {
				c.fail(ErrDuplicateID, path+".root", "%s has the same root key as %s", p.ID, other)
			}
			roots[pub] = p.ID
		}
	}
	c.partyID("depositary", t.Depositary)
	if c.ok() {
		d := parties[t.Depositary]
		switch {
		case d == nil:
			c.fail(ErrUnknownParty, "depositary", "%s is not listed among the parties", t.Depositary)
		case d.Kind != KindDepositary:
			c.fail(ErrInvalid, "depositary", "party %s is of kind %s, not depositary", d.ID, d.Kind)
		}
		for _, p := range t.Parties {
			if p.Kind == KindDepositary && p.ID != t.Depositary {
				c.fail(ErrInvalid, "parties", "%s is of kind depositary but the depositary is %s", p.ID, t.Depositary)
			}
		}
	}
	known := func(path, id string) {
		c.partyID(path, id)
		if c.ok() && parties[id] == nil {
			c.fail(ErrUnknownParty, path, "%s is not a party", id)
		}
	}

	// Groups.
	if len(t.Groups) > maxGroups {
		c.fail(ErrInvalid, "groups", "more than %d", maxGroups)
	}
	groups := map[string]bool{}
	for i, g := range t.Groups {
		path := fmt.Sprintf("groups[%d]", i)
		switch {
		case g.ID == "":
			c.fail(ErrMissing, path+".id", "required")
		case !validLabel(g.ID):
			c.fail(ErrInvalid, path+".id", "%q: want lower-case letters, digits, '-', '_' or '.', a letter first", truncate(g.ID))
		case groups[g.ID]:
			c.fail(ErrDuplicateID, path+".id", "group %s is defined twice", g.ID)
		}
		groups[g.ID] = true
		switch g.Kind {
		case GroupOpen:
			if len(g.Members) > 0 {
				c.fail(ErrInvalid, path+".members", "an open group has every party as member and lists none")
			}
		case GroupClosed:
			if len(g.Members) == 0 {
				c.fail(ErrMissing, path+".members", "a closed group lists its members")
			}
			seen := map[string]bool{}
			for j, m := range g.Members {
				mp := fmt.Sprintf("%s.members[%d]", path, j)
				known(mp, m)
				if seen[m] {
					c.fail(ErrDuplicateID, mp, "%s is listed twice", m)
				}
				seen[m] = true
			}
		case "":
			c.fail(ErrMissing, path+".kind", "required")
		default:
			c.fail(ErrInvalid, path+".kind", "%q: want open or closed", truncate(string(g.Kind)))
		}
	}

	// Kinds.
	if len(t.Kinds) == 0 {
		c.fail(ErrMissing, "kinds", "at least one message kind")
	}
	if len(t.Kinds) > maxKinds {
		c.fail(ErrInvalid, "kinds", "more than %d", maxKinds)
	}
	kinds := map[string]bool{}
	for i, k := range t.Kinds {
		path := fmt.Sprintf("kinds[%d]", i)
		switch {
		case k.Name == "":
			c.fail(ErrMissing, path+".name", "required")
		case !hotline.ValidKind(k.Name):
			c.fail(ErrInvalid, path+".name", "%q: want lower-case letters, digits and '_', a letter first", truncate(k.Name))
		case kinds[k.Name]:
			c.fail(ErrDuplicateID, path+".name", "kind %s is defined twice", k.Name)
		}
		kinds[k.Name] = true
		c.text(path+".description", k.Description, false, maxDescLen)
	}
	for i, k := range t.Kinds {
		types := map[ObligationType]bool{}
		for j, o := range k.Obligations {
			path := fmt.Sprintf("kinds[%d].obligations[%d]", i, j)
			if !slices.Contains(ObligationTypes(), o.Type) {
				c.fail(ErrInvalid, path+".type", "%q: want acknowledge, respond or formal_response", truncate(string(o.Type)))
			}
			if types[o.Type] {
				c.fail(ErrDuplicateID, path+".type", "kind %s has two %s obligations", k.Name, o.Type)
			}
			types[o.Type] = true
			if len(o.MetBy) == 0 {
				c.fail(ErrMissing, path+".met_by", "name the kinds of reply that meet the obligation")
			}
			seen := map[string]bool{}
			for l, m := range o.MetBy {
				mp := fmt.Sprintf("%s.met_by[%d]", path, l)
				if !kinds[m] {
					c.fail(ErrUnknownKind, mp, "%q is not a kind of this version", truncate(m))
				}
				if seen[m] {
					c.fail(ErrDuplicateID, mp, "%s is listed twice", m)
				}
				seen[m] = true
			}
			for _, s := range hotline.Severities {
				if o.Deadlines.For(s) <= 0 {
					c.fail(ErrZeroDeadline, path+".deadlines."+string(s), "kind %s: the %s deadline for severity %s must be positive", k.Name, o.Type, s)
				}
			}
		}
	}

	// Witnesses and relays.
	seen := map[string]bool{}
	for i, w := range t.Witnesses.Parties {
		path := fmt.Sprintf("witnesses.parties[%d]", i)
		known(path, w)
		if seen[w] {
			c.fail(ErrDuplicateID, path, "%s is listed twice", w)
		}
		seen[w] = true
	}
	if c.ok() {
		p, err := ParsePolicy(t.Witnesses.Policy, t.Witnesses.Parties)
		if err == nil && !draft {
			err = p.checkAttainable()
		}
		if err != nil {
			c.fail(ErrBadPolicy, "witnesses.policy", "%v", err)
		}
	}
	seen = map[string]bool{}
	for i, r := range t.Relays {
		path := fmt.Sprintf("relays[%d]", i)
		known(path, r)
		if seen[r] {
			c.fail(ErrDuplicateID, path, "%s is listed twice", r)
		}
		seen[r] = true
	}
	if t.Grace < 0 {
		c.fail(ErrInvalid, "grace", "negative")
	}
	if t.Reconfirmation <= 0 {
		c.fail(ErrMissing, "contact_reconfirmation", "must be positive")
	}
	if t.KeyGrace < 0 {
		c.fail(ErrInvalid, "key_grace", "negative")
	}
	if t.EvidencePeriod < 0 {
		c.fail(ErrInvalid, "evidence_period", "negative")
	}
	return c.err
}

// rootVerifier returns the note verifier of a party's root key, checking
// that it is an Ed25519 vkey named "<id>/root".
func rootVerifier(p *Party) (note.Verifier, error) {
	v, err := hotline.NewVerifier(p.Root)
	if err != nil {
		return nil, err
	}
	if want := hotline.KeyName(p.ID, hotline.RoleRoot); v.Name() != want {
		return nil, fmt.Errorf("root key is named %q, want %q", truncate(v.Name()), want)
	}
	return v, nil
}

// vkeyPublic returns the key material of a vkey ("<name>+<hash>+<key>"),
// so that one key under two names is recognised. Names and hashes hold no
// '+'; base64 key material may.
func vkeyPublic(vkey string) string {
	parts := strings.SplitN(vkey, "+", 3)
	return parts[len(parts)-1]
}

// requiredRoles are the roles for which every party must always have a
// valid key; a witness key is needed only by parties that witness.
var requiredRoles = [...]hotline.KeyRole{hotline.RoleMessage, hotline.RoleEncryption, hotline.RoleCheckpoint}

// validateEntry checks everything about one directory entry that needs
// neither a signature nor the entries before it.
func validateEntry(e *Entry) error {
	c := &checker{what: fmt.Sprintf("entry %s/%d", e.Party, e.Sequence)}
	c.partyID("party", e.Party)
	if e.Sequence == 0 {
		c.fail(ErrMissing, "sequence", "entries count from 1")
	}
	if e.Sequence == 1 && !e.Previous.IsZero() {
		c.fail(ErrBadChain, "previous", "entry 1 has no previous entry")
	}
	if e.Sequence > 1 && e.Previous.IsZero() {
		c.fail(ErrBadChain, "previous", "entry %d must name the hash of entry %d", e.Sequence, e.Sequence-1)
	}
	c.time("issued", e.Issued, true)
	if e.LogOrigin == "" {
		c.fail(ErrMissing, "log_origin", "required")
	} else if !validOrigin(e.LogOrigin) {
		c.fail(ErrInvalid, "log_origin", "%q: want 1 to 64 letters, digits, '.', '_', ':', '/' or '-'", truncate(e.LogOrigin))
	}

	if len(e.Endpoints) == 0 {
		c.fail(ErrMissing, "endpoints", "at least one")
	}
	if len(e.Endpoints) > maxEndpoints {
		c.fail(ErrInvalid, "endpoints", "more than %d", maxEndpoints)
	}
	seen := map[string]bool{}
	for i, ep := range e.Endpoints {
		path := fmt.Sprintf("endpoints[%d]", i)
		if err := checkEndpoint(ep); err != nil {
			c.fail(ErrInvalid, path, "%v", err)
		}
		if seen[ep] {
			c.fail(ErrDuplicateID, path, "%s is listed twice", truncate(ep))
		}
		seen[ep] = true
	}

	if len(e.Protocols) > maxProtocols {
		c.fail(ErrInvalid, "protocols", "more than %d", maxProtocols)
	}
	for i, v := range e.Protocols {
		if v == 0 || v > maxProtocolVersion || (i > 0 && v <= e.Protocols[i-1]) {
			c.fail(ErrInvalid, fmt.Sprintf("protocols[%d]", i), "%d: want versions from 1 to %d, strictly ascending", v, maxProtocolVersion)
		}
	}

	// Keys, one by one.
	if len(e.Keys) > maxKeys {
		c.fail(ErrInvalid, "keys", "more than %d", maxKeys)
	}
	seen = map[string]bool{}
	for i := range e.Keys {
		k := &e.Keys[i]
		path := fmt.Sprintf("keys[%d]", i)
		c.time(path+".valid_from", k.ValidFrom, true)
		c.time(path+".valid_until", k.ValidUntil, false)
		c.time(path+".revoked", k.Revoked, false)
		if !k.ValidUntil.IsZero() && !k.ValidUntil.After(k.ValidFrom) {
			c.fail(ErrBadKey, path+".valid_until", "not after valid_from")
		}
		if !k.Revoked.IsZero() && k.Revoked.Before(k.ValidFrom) {
			c.fail(ErrBadKey, path+".revoked", "before valid_from; a key revoked before it became valid is revoked at valid_from")
		}
		if k.Key == "" {
			c.fail(ErrMissing, path+".key", "required")
		} else if err := checkKey(e, k); err != nil {
			c.fail(ErrBadKey, path+".key", "%v", err)
		} else {
			pub := keyMaterial(k)
			if seen[pub] {
				c.fail(ErrDuplicateID, path+".key", "the same key is listed twice")
			}
			seen[pub] = true
		}
	}
	if !c.ok() {
		return c.err
	}
	// Keys together: no two keys of a role valid at once, and from the
	// entry's issue on, always one.
	for _, role := range []hotline.KeyRole{hotline.RoleMessage, hotline.RoleEncryption, hotline.RoleCheckpoint, hotline.RoleWitness} {
		var ks []*Key
		for i := range e.Keys {
			if e.Keys[i].Role == role {
				ks = append(ks, &e.Keys[i])
			}
		}
		slices.SortFunc(ks, func(a, b *Key) int { return a.ValidFrom.Compare(b.ValidFrom) })
		for i := 1; i < len(ks); i++ {
			prev := ks[i-1].End()
			if prev.IsZero() || prev.After(ks[i].ValidFrom) {
				c.fail(ErrKeyOverlap, "keys", "two %s keys are valid at %s", role, hotline.FormatTime(ks[i].ValidFrom))
			}
		}
		if !slices.Contains(requiredRoles[:], role) {
			continue
		}
		// Walk the intervals in order: the covered span must reach from
		// the issue time to the open end without a gap.
		covered := e.Issued
		for _, k := range ks {
			if k.ValidFrom.After(covered) {
				break
			}
			end := k.End()
			if end.IsZero() {
				covered = time.Time{}
				break
			}
			if end.After(covered) {
				covered = end
			}
		}
		if !covered.IsZero() {
			c.fail(ErrNoValidKey, "keys", "no %s key is valid from %s", role, hotline.FormatTime(covered))
		}
	}

	// Contacts.
	if len(e.Contacts) == 0 {
		c.fail(ErrMissing, "contacts", "at least one point of contact")
	}
	if len(e.Contacts) > maxContacts {
		c.fail(ErrInvalid, "contacts", "more than %d", maxContacts)
	}
	ids := map[string]bool{}
	for _, ct := range e.Contacts {
		ids[ct.ID] = true
	}
	seen = map[string]bool{}
	for i := range e.Contacts {
		validateContact(c, fmt.Sprintf("contacts[%d]", i), &e.Contacts[i], ids, e.Issued)
		if seen[e.Contacts[i].ID] {
			c.fail(ErrDuplicateID, fmt.Sprintf("contacts[%d].id", i), "contact %s is listed twice", e.Contacts[i].ID)
		}
		seen[e.Contacts[i].ID] = true
	}
	return c.err
}

func validateContact(c *checker, path string, ct *Contact, ids map[string]bool, issued time.Time) {
	if ct.ID == "" {
		c.fail(ErrMissing, path+".id", "required")
	} else if !validLabel(ct.ID) {
		c.fail(ErrInvalid, path+".id", "%q: want lower-case letters, digits, '-', '_' or '.', a letter first", truncate(ct.ID))
	}
	switch ct.Role {
	case Diplomatic, Technical:
	case "":
		c.fail(ErrMissing, path+".role", "required")
	default:
		c.fail(ErrInvalid, path+".role", "%q: want diplomatic or technical", truncate(string(ct.Role)))
	}
	c.text(path+".name", ct.Name, true, maxNameLen)
	if ct.Email == "" && ct.Phone == "" {
		c.fail(ErrMissing, path, "an e-mail address or a phone number")
	}
	if ct.Email != "" && !validEmail(ct.Email) {
		c.fail(ErrInvalid, path+".email", "%q is not an e-mail address", truncate(ct.Email))
	}
	if ct.Phone != "" && !validPhone(ct.Phone) {
		c.fail(ErrInvalid, path+".phone", "%q: want E.164, \"+\" and 6 to 15 digits", truncate(ct.Phone))
	}
	if len(ct.Languages) == 0 {
		c.fail(ErrMissing, path+".languages", "at least one")
	}
	if len(ct.Languages) > maxLanguages {
		c.fail(ErrInvalid, path+".languages", "more than %d", maxLanguages)
	}
	seen := map[string]bool{}
	for j, l := range ct.Languages {
		if !ValidLanguageTag(l) {
			c.fail(ErrInvalid, fmt.Sprintf("%s.languages[%d]", path, j), "%q is not a BCP 47 language tag", truncate(l))
		}
		if seen[l] {
			c.fail(ErrDuplicateID, fmt.Sprintf("%s.languages[%d]", path, j), "%s is listed twice", l)
		}
		seen[l] = true
	}
	if ct.Hours == "" {
		c.fail(ErrMissing, path+".hours", "required")
	} else if !validHours(ct.Hours) {
		c.fail(ErrInvalid, path+".hours", "%q: want 24/7, HH:MM-HH:MM or Ddd-Ddd HH:MM-HH:MM", truncate(ct.Hours))
	}
	if ct.TimeZone == "" {
		c.fail(ErrMissing, path+".time_zone", "required")
	} else if !validTimeZone(ct.TimeZone) {
		c.fail(ErrInvalid, path+".time_zone", "%q is not an IANA time zone name", truncate(ct.TimeZone))
	}
	if ct.AlternateOf != "" && (ct.AlternateOf == ct.ID || !ids[ct.AlternateOf]) {
		c.fail(ErrInvalid, path+".alternate_of", "%q is not another contact of this entry", truncate(ct.AlternateOf))
	}
	c.time(path+".reconfirmed", ct.Reconfirmed, true)
	if ct.Reconfirmed.After(issued) {
		c.fail(ErrInvalid, path+".reconfirmed", "after the entry was issued")
	}
}

// checkKey parses a key of an entry for its role and checks its name.
func checkKey(e *Entry, k *Key) error {
	var name string
	switch k.Role {
	case hotline.RoleMessage, hotline.RoleCheckpoint:
		v, err := hotline.NewVerifier(k.Key)
		if err != nil {
			return err
		}
		name = v.Name()
	case hotline.RoleWitness:
		v, err := witnessVerifier(k.Key)
		if err != nil {
			return err
		}
		name = v.Name()
	case hotline.RoleEncryption:
		pk, err := hotline.ParseEncryptionPublicKey(k.Key)
		if err != nil {
			return err
		}
		name = pk.Name()
	case hotline.RoleRoot:
		return fmt.Errorf("the root key is pinned in the treaty terms, not in the entry")
	default:
		return fmt.Errorf("unknown role %q", truncate(string(k.Role)))
	}
	want := hotline.KeyName(e.Party, k.Role)
	if k.Role == hotline.RoleCheckpoint {
		// A checkpoint key is named for its log's origin. Keys of an
		// earlier log may keep their name; the current one must be the
		// entry's origin.
		if end := k.End(); !end.IsZero() && !end.After(e.Issued) {
			return nil
		}
		want = e.LogOrigin
	}
	if name != want {
		return fmt.Errorf("%s key is named %q, want %q", k.Role, truncate(name), want)
	}
	return nil
}

// keyMaterial identifies a key regardless of its name.
func keyMaterial(k *Key) string { return string(k.Role) + " " + vkeyPublic(k.Key) }

func checkEndpoint(s string) error {
	if len(s) > 512 {
		return fmt.Errorf("longer than 512 bytes")
	}
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("%q is not a URL", truncate(s))
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return fmt.Errorf("%q: want an https:// (or, in testnets, http://) URL", truncate(s))
	}
	if u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" || strings.ContainsAny(s, " \t") {
		return fmt.Errorf("%q: want scheme://host[:port][/path] and nothing else", truncate(s))
	}
	return nil
}

func validEmail(s string) bool {
	local, domain, ok := strings.Cut(s, "@")
	if !ok || local == "" || domain == "" || len(s) > 254 || strings.Contains(domain, "@") || !strings.Contains(domain, ".") {
		return false
	}
	for _, r := range s {
		if r <= ' ' || r == 0x7f || r == '<' || r == '>' || r == ',' || r == ';' {
			return false
		}
	}
	return true
}

func validPhone(s string) bool {
	if len(s) < 7 || len(s) > 16 || s[0] != '+' || s[1] == '0' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// ValidLanguageTag reports whether s has the shape of a BCP 47 language
// tag as contacts and message bodies use them: a primary language subtag of
// two or three lower-case letters, then subtags of 2 to 8 letters or digits
// ("en", "zh-Hans", "es-419", "sr-Latn-RS"). It is the check message bodies
// use too (package internal/langtag).
func ValidLanguageTag(s string) bool { return langtag.Valid(s) }

var weekdays = []string{"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"}

func validHours(s string) bool {
	if s == "24/7" {
		return true
	}
	if days, span, ok := strings.Cut(s, " "); ok {
		d1, d2, ok := strings.Cut(days, "-")
		if !ok || !slices.Contains(weekdays, d1) || !slices.Contains(weekdays, d2) || d1 == d2 {
			return false
		}
		s = span
	}
	from, to, ok := strings.Cut(s, "-")
	return ok && validClock(from) && validClock(to) && from != to
}

func validClock(s string) bool {
	if len(s) != 5 || s[2] != ':' {
		return false
	}
	h, m := s[:2], s[3:]
	return h >= "00" && h <= "24" && m >= "00" && m <= "59" && isDigits(h) && isDigits(m) && (h != "24" || m == "00")
}

func isDigits(s string) bool {
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// validTimeZone checks the shape of an IANA time zone name ("UTC",
// "Europe/Berlin", "America/Argentina/Buenos_Aires", "Etc/GMT-3"). It does
// not consult the system's zone database, so that whether an agreement
// parses does not depend on the machine.
func validTimeZone(s string) bool {
	if s == "" || len(s) > 64 || !utf8.ValidString(s) {
		return false
	}
	for _, part := range strings.Split(s, "/") {
		if part == "" || part[0] < 'A' || part[0] > 'Z' {
			return false
		}
		for _, c := range []byte(part) {
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '+') {
				return false
			}
		}
	}
	return true
}

// checkEntryHistory checks that next may immediately follow prev in a
// party's chain of entries: every key prev listed is still
// listed with the same role and start; a key's end (valid_until) may be set
// or brought forward, but not to before next's issue; a revocation, once
// made, stays as it was; keys new in next start no earlier than next's
// issue.
func checkEntryHistory(prev, next *Entry) error {
	c := &checker{what: fmt.Sprintf("entry %s/%d", next.Party, next.Sequence)}
	if prev.Party != next.Party {
		c.fail(ErrBadChain, "party", "follows an entry of %s", prev.Party)
	}
	if next.Issued.Before(prev.Issued) {
		c.fail(ErrBadChain, "issued", "%s is before entry %d's %s", hotline.FormatTime(next.Issued), prev.Sequence, hotline.FormatTime(prev.Issued))
	}
	byKey := map[string]*Key{}
	for i := range next.Keys {
		byKey[keyMaterial(&next.Keys[i])] = &next.Keys[i]
	}
	old := map[string]bool{}
	for i := range prev.Keys {
		p := &prev.Keys[i]
		id := keyMaterial(p)
		old[id] = true
		n := byKey[id]
		short := truncate(p.Key)
		switch {
		case n == nil:
			c.fail(ErrKeyHistory, "keys", "the %s key %s of entry %d is missing; keys are ended or revoked, never removed", p.Role, short, prev.Sequence)
		case n.Key != p.Key:
			c.fail(ErrKeyHistory, "keys", "the %s key %s was renamed", p.Role, short)
		case !n.ValidFrom.Equal(p.ValidFrom):
			c.fail(ErrKeyHistory, "keys", "the %s key %s changed its valid_from", p.Role, short)
		case !p.Revoked.IsZero() && !n.Revoked.Equal(p.Revoked):
			c.fail(ErrKeyHistory, "keys", "the revocation of the %s key %s was changed or withdrawn", p.Role, short)
		case !n.ValidUntil.Equal(p.ValidUntil):
			switch {
			case n.ValidUntil.IsZero():
				c.fail(ErrKeyHistory, "keys", "the end of the %s key %s was removed", p.Role, short)
			case !p.ValidUntil.IsZero() && n.ValidUntil.After(p.ValidUntil):
				c.fail(ErrKeyHistory, "keys", "the end of the %s key %s was postponed", p.Role, short)
			case n.ValidUntil.Before(next.Issued):
				c.fail(ErrKeyHistory, "keys", "the %s key %s was ended in the past (%s); revoke it instead", p.Role, short, hotline.FormatTime(n.ValidUntil))
			}
		}
	}
	for i := range next.Keys {
		n := &next.Keys[i]
		if !old[keyMaterial(n)] && n.ValidFrom.Before(next.Issued) {
			c.fail(ErrKeyHistory, "keys", "the new %s key %s is valid from %s, before the entry was issued", n.Role, truncate(n.Key), hotline.FormatTime(n.ValidFrom))
		}
	}
	return c.err
}
