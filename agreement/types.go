package agreement

import (
	"fmt"
	"strconv"
	"time"

	"github.com/hotline-net/hotline"
)

// Terms are the treaty terms of one version of the agreement, as the
// depositary issues them: who the parties are, how they may be addressed,
// which kinds of message exist and what each obliges its recipient to do by
// when, who witnesses the parties' logs and with which quorum, who relays,
// and two periods. Signed by the depositary's root key (see [SignTerms]),
// they bind each party that ratified their hash.
//
// The JSON form is the wire form: field order, names and omissions are part
// of the format (FORMAT.md).
type Terms struct {
	// Version counts from 1; version n+1 names version n's hash in Previous.
	Version  uint64     `json:"version"`
	Previous hotline.ID `json:"previous,omitzero"`
	// Issued is when the depositary signed; Effective when the version
	// takes effect. Both are set by [SignTerms] in a draft that lacks them.
	Issued    time.Time `json:"issued,omitzero"`
	Effective time.Time `json:"effective,omitzero"`
	// Depositary is the id of the party (of kind "depositary") whose root
	// key signs the terms.
	Depositary string  `json:"depositary"`
	Parties    []Party `json:"parties"`
	Groups     []Group `json:"groups,omitempty"`
	Kinds      []Kind  `json:"kinds"`
	// Witnesses names the parties that cosign other parties' checkpoints
	// and the quorum a checkpoint needs.
	Witnesses Witnesses `json:"witnesses"`
	// Relays are the parties whose nodes store and forward ciphertext for
	// recipients that cannot be reached directly, in order of preference.
	Relays []string `json:"relays,omitempty"`
	// Grace is added to a relay's receipt time to start the clock of a
	// message its recipient never receipted (docs/DESIGN.md §11).
	Grace Duration `json:"grace"`
	// Reconfirmation is how often each party must reconfirm its contacts.
	Reconfirmation Duration `json:"contact_reconfirmation"`
	// KeyGrace is how long after a key's routine retirement (its
	// valid_until) an envelope it signed before then is still accepted, so
	// that messages in outboxes and relays are not lost to a rotation.
	// Zero means [DefaultKeyGrace]. A key revoked as compromised gets none.
	KeyGrace Duration `json:"key_grace,omitzero"`
	// EvidencePeriod is how long every node keeps the evidence of what
	// happened under the agreement: among it every witnessed checkpoint of
	// its own and its peers' logs with every cosignature, from which
	// neutral times are computed (DESIGN.md §11). Zero means
	// [DefaultEvidencePeriod].
	EvidencePeriod Duration `json:"evidence_period,omitzero"`
}

// DefaultKeyGrace is the key grace of terms that set none: 7 days.
const DefaultKeyGrace = 7 * 24 * time.Hour

// DefaultEvidencePeriod is the evidence period of terms that set none: 10
// years (3,650 days), beyond the time a dispute over an incident, its
// complaint and the answers to it can be expected to take.
const DefaultEvidencePeriod = 3650 * 24 * time.Hour

// PartyKind says what a party is.
type PartyKind string

// The kinds of party.
const (
	KindState        PartyKind = "state"
	KindOrganization PartyKind = "organization" // an international organisation
	// KindDepositary is the secretariat that issues the terms. It has keys,
	// an entry and a node (normally the relay) like a party, but it is not
	// in open groups and it does not ratify: its signature is its assent.
	KindDepositary PartyKind = "depositary"
)

// Party is one party as the treaty terms list it. The version that first
// lists a party (version 1 for a founding party) fixes its root key; the
// party ratifies that version with it. No later version can change it: the
// party alone rotates its root, with a [RootStatement]. Every other key of
// the party is in its own directory entry, signed by its root key.
type Party struct {
	ID   string    `json:"id"`
	Name string    `json:"name"`
	Kind PartyKind `json:"kind"`
	// Root is the party's root key as a C2SP vkey named "<id>/root".
	Root string `json:"root"`
	// NextRoot, optional, is SHA-256 of the vkey of the party's next root
	// key ([RootCommitment]): the pre-rotation key, kept offline, whose
	// revelation in a root statement replaces a lost root.
	NextRoot hotline.ID `json:"next_root,omitzero"`
}

// GroupKind says how a group's members are determined.
type GroupKind string

// The kinds of group.
const (
	// GroupOpen is every party of the version except the depositary.
	GroupOpen GroupKind = "open"
	// GroupClosed is the parties listed as its members.
	GroupClosed GroupKind = "closed"
)

// Group is a set of parties that may be addressed together. Bilateral
// messages need no group: they name one recipient.
type Group struct {
	// ID is lower-case letters, digits, '-', '_' and '.', a letter first,
	// at most 64 characters; envelopes carry it as their group label.
	ID      string    `json:"id"`
	Kind    GroupKind `json:"kind"`
	Members []string  `json:"members,omitempty"` // closed groups only
}

// Kind is a message kind: its name (as inner headers carry it), what it is,
// whether it must refer to an earlier message, and what it obliges each
// recipient to do by when.
type Kind struct {
	Name        string       `json:"name"`
	Description string       `json:"description,omitempty"`
	RequiresRef bool         `json:"requires_ref,omitempty"`
	Obligations []Obligation `json:"obligations,omitempty"`
}

// ObligationType is what a recipient must do.
type ObligationType string

// The obligation types of docs/DESIGN.md §3.
const (
	// Acknowledge: a human at the recipient acknowledges the message.
	Acknowledge ObligationType = "acknowledge"
	// Respond: the recipient answers in substance (accept, decline,
	// propose a time, findings, ...).
	Respond ObligationType = "respond"
	// FormalResponse: the recipient answers a complaint formally.
	FormalResponse ObligationType = "formal_response"
)

// ObligationTypes lists the obligation types.
func ObligationTypes() []ObligationType {
	return []ObligationType{Acknowledge, Respond, FormalResponse}
}

// Obligation is one thing a kind obliges its recipient to do: which kinds
// of reply (referring to the message, addressed to its sender) meet it, and
// the deadline for each severity, counted from the start docs/DESIGN.md §11
// defines.
type Obligation struct {
	Type      ObligationType `json:"type"`
	MetBy     []string       `json:"met_by"`
	Deadlines Deadlines      `json:"deadlines"`
}

// Deadlines holds one deadline per severity. None may be zero.
type Deadlines struct {
	Low      Duration `json:"low"`
	Medium   Duration `json:"medium"`
	High     Duration `json:"high"`
	Critical Duration `json:"critical"`
}

// For returns the deadline for severity s, or 0 for an invalid severity.
func (d Deadlines) For(s hotline.Severity) time.Duration {
	switch s {
	case hotline.SeverityLow:
		return time.Duration(d.Low)
	case hotline.SeverityMedium:
		return time.Duration(d.Medium)
	case hotline.SeverityHigh:
		return time.Duration(d.High)
	case hotline.SeverityCritical:
		return time.Duration(d.Critical)
	}
	return 0
}

// Uniform returns deadlines of d for every severity.
func Uniform(d time.Duration) Deadlines {
	return Deadlines{Duration(d), Duration(d), Duration(d), Duration(d)}
}

// Obligation returns the kind's obligation of type t, if it has one.
func (k *Kind) Obligation(t ObligationType) (*Obligation, bool) {
	for i := range k.Obligations {
		if k.Obligations[i].Type == t {
			return &k.Obligations[i], true
		}
	}
	return nil, false
}

// Deadline returns the deadline of the kind's obligation of type t for a
// message of severity s, and whether the kind has that obligation.
func (k *Kind) Deadline(t ObligationType, s hotline.Severity) (time.Duration, bool) {
	o, ok := k.Obligation(t)
	if !ok {
		return 0, false
	}
	return o.Deadlines.For(s), true
}

// Meets reports whether a reply of kind reply meets the obligation.
func (o *Obligation) Meets(reply string) bool {
	for _, k := range o.MetBy {
		if k == reply {
			return true
		}
	}
	return false
}

// Witnesses names the parties that witness and the quorum.
type Witnesses struct {
	// Parties are the witnesses, by party id; their cosignature keys are in
	// their directory entries.
	Parties []string `json:"parties,omitempty"`
	// Policy holds the "group" and "quorum" lines of a C2SP tlog-policy
	// whose witness names are the party ids of Parties, one line per
	// element, ending with exactly one quorum line ("quorum none" when
	// nobody witnesses). The "witness" lines are not stored: they are
	// generated from the directory for the keys valid at a given time
	// (see [Agreement.WitnessPolicy]).
	Policy []string `json:"policy"`
}

// Entry is a party's directory entry: its keys with their validity, its
// node's endpoints, its log origin and its contacts. Each entry is signed by
// the party's root key (see [SignEntry]) and needs nobody else's consent;
// entry n+1 names entry n's hash and keeps every key entry n listed.
type Entry struct {
	Party    string     `json:"party"`
	Sequence uint64     `json:"sequence"`
	Previous hotline.ID `json:"previous,omitzero"`
	Issued   time.Time  `json:"issued"`
	// LogOrigin is the origin of the party's log: the name of its current
	// checkpoint key.
	LogOrigin string `json:"log_origin"`
	// Endpoints are the base URLs of the party's node, in order of
	// preference.
	Endpoints []string `json:"endpoints"`
	// Protocols are the versions of the peer protocol the party's node
	// speaks, ascending; absent means version 1 only (entries written
	// before versions were listed).
	Protocols []uint64  `json:"protocols,omitempty"`
	Keys      []Key     `json:"keys"`
	Contacts  []Contact `json:"contacts"`
}

// Key is one key of a party with its validity: valid at t when
// ValidFrom ≤ t and t is before both ValidUntil and Revoked (each when
// set). ValidUntil ends a key in the ordinary course (rotation) and is
// never set in the past; Revoked withdraws it, possibly with effect from an
// earlier time, because it was compromised.
type Key struct {
	Role       hotline.KeyRole `json:"role"`
	Key        string          `json:"key"` // C2SP vkey, or the public HPKE form for encryption keys
	ValidFrom  time.Time       `json:"valid_from"`
	ValidUntil time.Time       `json:"valid_until,omitzero"`
	Revoked    time.Time       `json:"revoked,omitzero"`
}

// End returns when the key stops being valid, or the zero time if it does
// not end.
func (k *Key) End() time.Time {
	switch {
	case k.ValidUntil.IsZero():
		return k.Revoked
	case k.Revoked.IsZero() || k.ValidUntil.Before(k.Revoked):
		return k.ValidUntil
	}
	return k.Revoked
}

// ValidAt reports whether the key is valid at t.
func (k *Key) ValidAt(t time.Time) bool {
	if t.Before(k.ValidFrom) {
		return false
	}
	end := k.End()
	return end.IsZero() || t.Before(end)
}

// ContactRole is what a contact is for.
type ContactRole string

// The contact roles of docs/DESIGN.md §2.
const (
	Diplomatic ContactRole = "diplomatic"
	Technical  ContactRole = "technical"
)

// Contact is a point of contact of a party. Ping messages name the contacts
// they test by ID.
type Contact struct {
	// ID is lower-case letters, digits, '-', '_' and '.', unique within the
	// entry.
	ID    string      `json:"id"`
	Role  ContactRole `json:"role"`
	Name  string      `json:"name"`
	Email string      `json:"email,omitempty"`
	Phone string      `json:"phone,omitempty"` // E.164: "+" and 6 to 15 digits
	// Languages the contact works in, as BCP 47 tags ("en", "zh-Hans").
	Languages []string `json:"languages"`
	// Hours when the contact answers: "24/7", "HH:MM-HH:MM" (every day),
	// or "Ddd-Ddd HH:MM-HH:MM" ("Mon-Fri 08:00-18:00"), in TimeZone.
	Hours string `json:"hours"`
	// TimeZone is an IANA time zone name ("Europe/Berlin", "UTC").
	TimeZone string `json:"time_zone"`
	// AlternateOf names the contact this one stands in for, if any.
	AlternateOf string `json:"alternate_of,omitempty"`
	// Reconfirmed is when the party last confirmed that the contact
	// answers; the terms say how often it must.
	Reconfirmed time.Time `json:"reconfirmed"`
}

// Stale reports whether the contact was last reconfirmed more than period
// before at.
func (c *Contact) Stale(period time.Duration, at time.Time) bool {
	return period > 0 && at.Sub(c.Reconfirmed) > period
}

// Duration is a length of time as the agreement writes it: a whole number
// of days, hours or minutes, "7d", "72h" is written "3d", "90m". The
// canonical form uses the largest of the three units that divides the
// duration exactly; seconds are not expressible.
type Duration time.Duration

// String returns the canonical form.
func (d Duration) String() string {
	t := time.Duration(d)
	switch {
	case t%(24*time.Hour) == 0 && t != 0:
		return strconv.FormatInt(int64(t/(24*time.Hour)), 10) + "d"
	case t%time.Hour == 0 && t != 0:
		return strconv.FormatInt(int64(t/time.Hour), 10) + "h"
	}
	return strconv.FormatInt(int64(t/time.Minute), 10) + "m"
}

// MarshalText implements [encoding.TextMarshaler].
func (d Duration) MarshalText() ([]byte, error) {
	if d < 0 || time.Duration(d)%time.Minute != 0 {
		return nil, fmt.Errorf("duration %v: not a whole, non-negative number of minutes", time.Duration(d))
	}
	return []byte(d.String()), nil
}

// UnmarshalText implements [encoding.TextUnmarshaler]. It accepts any of
// the three units; canonical form is checked where it matters (signed
// documents).
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// ParseDuration parses "<n>d", "<n>h" or "<n>m", n a decimal number without
// leading zeros of at most five digits.
func ParseDuration(s string) (Duration, error) {
	bad := errorf(ErrInvalid, "duration %q: want a whole number of days, hours or minutes, like 7d, 12h or 90m", truncate(s))
	if len(s) < 2 || len(s) > 6 {
		return 0, bad
	}
	num, unit := s[:len(s)-1], s[len(s)-1]
	if num[0] == '0' && len(num) > 1 {
		return 0, bad
	}
	n, err := strconv.ParseUint(num, 10, 32)
	if err != nil {
		return 0, bad
	}
	switch unit {
	case 'd':
		return Duration(time.Duration(n) * 24 * time.Hour), nil
	case 'h':
		return Duration(time.Duration(n) * time.Hour), nil
	case 'm':
		return Duration(time.Duration(n) * time.Minute), nil
	}
	return 0, bad
}
