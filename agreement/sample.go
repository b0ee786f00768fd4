package agreement

import (
	_ "embed"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hotline-net/hotline"
)

//go:embed sample_terms.json
var sampleTermsJSON []byte

// SampleTerms returns the treaty terms hotline ships as a starting point,
// docs/DESIGN.md §3's table: the fourteen message kinds with their default
// obligations and deadlines, one open group "all", no witnesses, a grace of
// 6 hours and a contact reconfirmation period of 90 days. It has no
// version, depositary or parties: [Sample] and "hotline agreement new" add
// them.
func SampleTerms() *Terms {
	var t Terms
	if err := decodeStrict(sampleTermsJSON, &t, "sample terms"); err != nil {
		// The file is embedded and checked by the tests.
		panic("agreement: embedded sample terms: " + err.Error())
	}
	return &t
}

// SampleParty is one party of a [Sample] agreement.
type SampleParty struct {
	// Keys are the party's keys, root key included: Sample signs the
	// party's entry and ratification with it. If they hold a pre-rotation
	// key (NextRoot), the terms commit to it as the party's next root.
	Keys *hotline.KeySet
	// Name defaults to the party id.
	Name string
	// Kind defaults to state; the depositary's is always depositary.
	Kind PartyKind
	// Endpoints are the base URLs of the party's node. Required.
	Endpoints []string
	// Contacts default to [SampleContacts].
	Contacts []Contact
	// Protocols are the protocol versions the party's node speaks; nil
	// means [hotline.Protocols].
	Protocols []uint64
}

// SampleConfig configures [Sample].
type SampleConfig struct {
	// Depositary signs the terms and, by default, witnesses and relays.
	Depositary SampleParty
	Parties    []SampleParty
	// Time is when everything is issued, takes effect and is ratified, and
	// when every key becomes valid. Zero means time.Now().
	Time time.Time
	// Witnesses are the witnessing parties; nil means every party and the
	// depositary.
	Witnesses []string
	// Quorum is the number of witnesses other than a log's owner whose
	// cosignatures a checkpoint needs. Zero means [DefaultThreshold];
	// negative means none.
	Quorum int
	// Relays default to the depositary.
	Relays []string
	// Groups are added to the sample terms' groups.
	Groups []Group
	// Unratified lists parties that do not ratify (all others do).
	Unratified []string
}

// Sample returns a complete agreement built on [SampleTerms]: version 1
// signed by the depositary, a directory entry for every party and the
// depositary signed by its own root key, and every party's ratification.
// It is what "hotline testnet" and "hotline demo" start from, and what
// tests use.
func Sample(cfg SampleConfig) (*Agreement, error) {
	now := cfg.Time
	if now.IsZero() {
		now = time.Now()
	}
	now = now.UTC().Truncate(time.Second)
	all := append([]SampleParty{cfg.Depositary}, cfg.Parties...)
	t := SampleTerms()
	t.Version = 1
	t.Issued, t.Effective = now, now
	if cfg.Depositary.Keys == nil {
		return nil, fmt.Errorf("sample agreement: the depositary's keys are required")
	}
	t.Depositary = cfg.Depositary.Keys.Party
	var ids []string
	for i, p := range all {
		if p.Keys == nil || p.Keys.Root == nil {
			return nil, fmt.Errorf("sample agreement: party %d: keys with a root key are required", i)
		}
		kind := p.Kind
		switch {
		case i == 0:
			kind = KindDepositary
		case kind == "":
			kind = KindState
		}
		name := p.Name
		if name == "" {
			name = p.Keys.Party
		}
		party := Party{ID: p.Keys.Party, Name: name, Kind: kind, Root: p.Keys.Root.VerifierKey()}
		if p.Keys.NextRoot != nil {
			party.NextRoot = RootCommitment(p.Keys.NextRoot.VerifierKey())
		}
		t.Parties = append(t.Parties, party)
		ids = append(ids, p.Keys.Party)
	}
	t.Witnesses.Parties = cfg.Witnesses
	if t.Witnesses.Parties == nil {
		t.Witnesses.Parties = ids
	}
	k := cfg.Quorum
	if k == 0 {
		k = DefaultThreshold(len(t.Witnesses.Parties))
	}
	t.Witnesses.Policy = DefaultPolicy(t.Witnesses.Parties, k)
	t.Relays = cfg.Relays
	if t.Relays == nil {
		t.Relays = []string{t.Depositary}
	}
	t.Groups = append(t.Groups, cfg.Groups...)

	terms, err := SignTerms(t, cfg.Depositary.Keys.Root)
	if err != nil {
		return nil, fmt.Errorf("sample agreement: %w", err)
	}
	notes := [][]byte{terms}
	v, err := parseVersion(terms, "sample terms")
	if err != nil {
		return nil, err
	}
	for _, p := range all {
		contacts := p.Contacts
		if contacts == nil {
			contacts = SampleContacts(p.Keys.Party, now)
		}
		protocols := p.Protocols
		if protocols == nil {
			protocols = hotline.Protocols
		}
		e, err := NextEntry(nil, EntryUpdate{Keys: p.Keys.Public(), Issued: now, Endpoints: p.Endpoints, Contacts: contacts, Protocols: protocols})
		if err != nil {
			return nil, fmt.Errorf("sample agreement: %s: %w", p.Keys.Party, err)
		}
		n, err := SignEntry(e, p.Keys.Root)
		if err != nil {
			return nil, fmt.Errorf("sample agreement: %s: %w", p.Keys.Party, err)
		}
		notes = append(notes, n)
		if p.Keys.Party == t.Depositary || slices.Contains(cfg.Unratified, p.Keys.Party) {
			continue
		}
		r, err := Ratify(v, p.Keys.Party, now, p.Keys.Root)
		if err != nil {
			return nil, fmt.Errorf("sample agreement: %s: %w", p.Keys.Party, err)
		}
		notes = append(notes, r)
	}
	return (&Agreement{}).With(notes...)
}

// SampleContacts returns a diplomatic and a technical point of contact for
// party, reachable at example addresses around the clock, in English,
// reconfirmed at at.
func SampleContacts(party string, at time.Time) []Contact {
	domain := strings.ToLower(party) + ".example"
	at = at.UTC().Truncate(time.Second)
	return []Contact{
		{ID: "diplomatic", Role: Diplomatic, Name: party + " diplomatic point of contact", Email: "diplomatic@" + domain, Languages: []string{"en"}, Hours: "24/7", TimeZone: "UTC", Reconfirmed: at},
		{ID: "technical", Role: Technical, Name: party + " technical point of contact", Email: "cert@" + domain, Languages: []string{"en"}, Hours: "24/7", TimeZone: "UTC", Reconfirmed: at},
	}
}
