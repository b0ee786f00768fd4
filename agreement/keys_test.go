package agreement

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/hotline-net/hotline"
)

// rotate returns party's next entry with pub as its keys, changing over at
// at, signed by the party's root key, and the agreement with it.
func rotate(tb testing.TB, n *testNet, a *Agreement, party string, u EntryUpdate) *Agreement {
	tb.Helper()
	prev, err := a.Entry(party)
	if err != nil {
		tb.Fatal(err)
	}
	e, err := NextEntry(prev, u)
	if err != nil {
		tb.Fatal(err)
	}
	note, err := SignEntry(e, n.keys[party].Root)
	if err != nil {
		tb.Fatal(err)
	}
	b, err := a.With(note)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func TestKeyValidity(t *testing.T) {
	n := newTestNet(t)
	day := 24 * time.Hour
	k1 := n.keys["BER"].Message
	k2, _ := hotline.GenerateSigningKey("BER", false)
	k3, _ := hotline.GenerateSigningKey("BER", false)

	// Entry 2, issued a day in, pre-publishes k2 to take over on day 2.
	pub := n.keys["BER"].Public()
	pub.Message = k2.VerifierKey()
	rotated := rotate(t, n, n.a, "BER", EntryUpdate{Keys: pub, Issued: t0.Add(day), At: t0.Add(2 * day)})
	// Entry 3, issued on day 10, revokes k2 as compromised since day 5 and
	// installs k3 at once.
	pub.Message = k3.VerifierKey()
	revoked := rotate(t, n, rotated, "BER", EntryUpdate{Keys: pub, Issued: t0.Add(10 * day), Revoke: []hotline.KeyRole{hotline.RoleMessage}, RevokedAt: t0.Add(5 * day)})
	if err := revoked.Verify(); err != nil {
		t.Fatal(err)
	}
	if err := revoked.Extends(rotated); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		a    *Agreement
		at   time.Duration // after t0
		want *hotline.SigningKey
	}{
		{"before the first key", n.a, -time.Second, nil},
		{"first key, at its start", n.a, 0, k1},
		{"first key, no rotation announced", n.a, 30 * day, k1},
		{"rotation: before it is announced", rotated, day / 2, k1},
		{"rotation: announced, not yet in effect", rotated, 2*day - time.Second, k1},
		{"rotation: at the changeover", rotated, 2 * day, k2},
		{"rotation: after", rotated, 30 * day, k2},
		{"revocation: before the rotation", revoked, day, k1},
		{"revocation: before the compromise", revoked, 5*day - time.Second, k2},
		{"revocation: at the compromise", revoked, 5 * day, nil},
		{"revocation: inside, before it was announced", revoked, 7 * day, nil},
		{"revocation: the replacement", revoked, 10 * day, k3},
		{"revocation: long after", revoked, 365 * day, k3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			at := t0.Add(tt.at)
			v, err := tt.a.MessageKey("BER", at)
			if tt.want == nil {
				if !errors.Is(err, ErrKeyNotValid) {
					t.Fatalf("MessageKey = %v, %v; want key_not_valid", v, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if v.KeyHash() != tt.want.KeyHash() {
				t.Errorf("MessageKey at %s is %08x, want %08x", hotline.FormatTime(at), v.KeyHash(), tt.want.KeyHash())
			}
			// The other roles did not change.
			if ek, err := tt.a.EncryptionKey("BER", at); (err != nil) != (tt.at < 0) || (err == nil && !ek.Equal(n.keys["BER"].Encryption.Public())) {
				t.Errorf("EncryptionKey = %v, %v", ek, err)
			}
		})
	}
	ks, _ := revoked.Keys("BER", hotline.RoleMessage)
	if len(ks) != 3 || !ks[0].ValidUntil.Equal(t0.Add(2*day)) || !ks[1].Revoked.Equal(t0.Add(5*day)) || !ks[2].End().IsZero() {
		t.Errorf("message key history: %+v", ks)
	}
	es, _ := revoked.Entries("BER")
	if len(es) != 3 || es[2].Previous != es[1].Hash {
		t.Errorf("entries: %d", len(es))
	}
}

func TestNextEntryRefusals(t *testing.T) {
	n := newTestNet(t)
	prev, err := n.a.Entry("BER")
	if err != nil {
		t.Fatal(err)
	}
	pub := n.keys["BER"].Public()
	later := t0.Add(time.Hour)
	tests := []struct {
		name string
		u    EntryUpdate
		code string
	}{
		{"change over before the issue", EntryUpdate{Keys: pub, Issued: later, At: t0}, "key_history"},
		{"revoke without a replacement", EntryUpdate{Keys: pub, Issued: later, Revoke: []hotline.KeyRole{hotline.RoleEncryption}}, ""},
		{"before the previous entry", EntryUpdate{Keys: pub, Issued: t0.Add(-time.Second)}, ""},
		{"bad endpoint", EntryUpdate{Keys: pub, Issued: later, Endpoints: []string{"mailto:x@y.z"}}, "invalid_value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NextEntry(prev, tt.u)
			if err == nil {
				t.Fatal("accepted")
			}
			if tt.code != "" && ErrorCode(err) != tt.code {
				t.Errorf("error %v, want code %s", err, tt.code)
			}
		})
	}
	// An entry that changes nothing but reconfirms the contacts is fine,
	// and needs nobody but the party.
	e, err := NextEntry(prev, EntryUpdate{Keys: pub, Issued: later, Reconfirm: true})
	if err != nil {
		t.Fatal(err)
	}
	if !e.Contacts[0].Reconfirmed.Equal(later) || len(e.Keys) != len(prev.Keys) {
		t.Errorf("reconfirmation entry: %+v", e)
	}
	note, err := SignEntry(e, n.keys["BER"].Root)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.a.With(note); err != nil {
		t.Fatal(err)
	}
	// Another party's root key cannot sign it.
	if _, err := SignEntry(e, n.keys["CRI"].Root); err == nil {
		t.Error("SignEntry with another party's root key succeeded")
	}
	forged := signRaw(t, mustText(t, EntryTag, e), n.keys["CRI"].Root)
	if _, err := n.a.With(forged); ErrorCode(err) != "bad_signature" {
		t.Errorf("an entry signed by another party's root key: %v, want bad_signature", err)
	}
}

func TestStaleContacts(t *testing.T) {
	c := Contact{Reconfirmed: t0}
	if c.Stale(90*24*time.Hour, t0.Add(90*24*time.Hour)) {
		t.Error("stale on the last day of the period")
	}
	if !c.Stale(90*24*time.Hour, t0.Add(91*24*time.Hour)) {
		t.Error("not stale after the period")
	}
}

func TestOpenEntryAndDraft(t *testing.T) {
	n := newTestNet(t)
	e, err := n.a.Entry("BER")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := OpenEntry(e.Note, n.keys["BER"].Root.VerifierKey()); err != nil {
		t.Fatal(err)
	}
	fake, _ := hotline.GenerateSigningKey("BER/root", false)
	if _, err := OpenEntry(e.Note, fake.VerifierKey()); ErrorCode(err) != "bad_signature" {
		t.Errorf("OpenEntry with another root key: %v, want bad_signature", err)
	}
	if _, err := OpenEntry(e.Note, n.keys["CRI"].Root.VerifierKey()); ErrorCode(err) != "bad_key" {
		t.Errorf("OpenEntry with a root key named for another party: %v, want bad_key", err)
	}

	// While only a draft exists, entries are checked against the draft's
	// root keys all the same.
	d := SampleTerms()
	d.Version, d.Depositary = 1, "DEP"
	d.Parties = []Party{
		{ID: "DEP", Name: "Depositary", Kind: KindDepositary, Root: n.keys["DEP"].Root.VerifierKey()},
		{ID: "BER", Name: "Berlin", Kind: KindState, Root: n.keys["BER"].Root.VerifierKey()},
	}
	a, err := New(d)
	if err != nil {
		t.Fatal(err)
	}
	forged := signRaw(t, mustText(t, EntryTag, &e.Entry), fake)
	if _, err := a.With(forged); ErrorCode(err) != "bad_signature" {
		t.Errorf("a forged entry added to a draft: %v, want bad_signature", err)
	}
	b, err := a.With(e.Note)
	if err != nil {
		t.Fatal(err)
	}
	if es, err := b.Entries("BER"); err != nil || len(es) != 1 {
		t.Errorf("Entries of a party in the draft: %v, %v", es, err)
	}
	if _, err := b.Entry("BER"); ErrorCode(err) != "unknown_party" {
		t.Errorf("Entry of a party not yet in a signed version: %v, want unknown_party", err)
	}
	if err := b.Verify(); ErrorCode(err) != "no_version" {
		t.Errorf("Verify of a draft: %v, want no_version", err)
	}
}

func TestVkeyPublic(t *testing.T) {
	// Base64 key material holds '+': only the first two separate fields.
	a := "P090/root+0123abcd+AX/+abc+def"
	b := "P180/root+89abcdef+AQ/+xyz+def"
	if vkeyPublic(a) == vkeyPublic(b) {
		t.Errorf("two different keys compare equal: %q", vkeyPublic(a))
	}
	if got := vkeyPublic(a); got != "AX/+abc+def" {
		t.Errorf("vkeyPublic(%q) = %q", a, got)
	}
	if vkeyPublic("X/root+0123abcd+AX/+abc+def") != vkeyPublic(a) {
		t.Error("one key under two names is not recognised")
	}
}

// TestProtocols: an entry lists the protocol versions its party's node
// speaks, carried over to the next entry unless replaced; a list that is
// not strictly ascending within 1..1000 is refused; an entry without one
// means version 1.
func TestProtocols(t *testing.T) {
	n := newTestNet(t)
	pub := n.keys["BER"].Public()
	got, err := n.a.Protocols("BER")
	if err != nil || !slices.Equal(got, hotline.Protocols) {
		t.Errorf("Protocols of a sample entry: %v, %v; want %v", got, err, hotline.Protocols)
	}
	a := rotate(t, n, n.a, "BER", EntryUpdate{Keys: pub, Issued: t0.Add(time.Hour), Protocols: []uint64{1}})
	if got, _ := a.Protocols("BER"); !slices.Equal(got, []uint64{1}) {
		t.Errorf("Protocols after an entry listing 1: %v", got)
	}
	a = rotate(t, n, a, "BER", EntryUpdate{Keys: pub, Issued: t0.Add(2 * time.Hour)})
	if got, _ := a.Protocols("BER"); !slices.Equal(got, []uint64{1}) {
		t.Errorf("Protocols not carried over: %v", got)
	}
	prev, err := a.Entry("BER")
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range [][]uint64{{2, 1}, {1, 1}, {0, 1}, {1, 1001}} {
		if _, err := NextEntry(prev, EntryUpdate{Keys: pub, Issued: t0.Add(3 * time.Hour), Protocols: bad}); ErrorCode(err) != ErrInvalid.Code {
			t.Errorf("protocols %v: %v, want %s", bad, err, ErrInvalid.Code)
		}
	}
	if _, err := a.Protocols("ZZZ"); err == nil {
		t.Error("Protocols of no party")
	}
}
