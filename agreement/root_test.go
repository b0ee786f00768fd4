package agreement

import (
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/hotline-net/hotline"
)

// forgedDraft is the attack of issue 14, finding 1: a draft that gives BER
// an attacker's root key, and an entry BER/2 signed by that key revoking
// BER's keys back to their start and listing the attacker's.
func forgedDraft(tb testing.TB, n *testNet) []byte {
	tb.Helper()
	attacker := mustKeys(tb, "BER")
	d, err := n.a.NextDraft()
	if err != nil {
		tb.Fatal(err)
	}
	for i := range d.Parties {
		if d.Parties[i].ID == "BER" {
			d.Parties[i].Root = attacker.Root.VerifierKey()
			d.Parties[i].NextRoot = hotline.ID{}
		}
	}
	prev, err := n.a.Entry("BER")
	if err != nil {
		tb.Fatal(err)
	}
	e, err := NextEntry(prev, EntryUpdate{
		Keys: attacker.Public(), Issued: t0.Add(time.Hour),
		Revoke:    []hotline.KeyRole{hotline.RoleMessage, hotline.RoleEncryption, hotline.RoleCheckpoint, hotline.RoleWitness},
		RevokedAt: t0,
	})
	if err != nil {
		tb.Fatal(err)
	}
	bj := n.a.bundle()
	bj.Draft = d
	bj.Entries = append(bj.Entries, string(signRaw(tb, mustText(tb, EntryTag, e), attacker.Root)))
	b, err := marshalIndent(bj)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// depositaryRootChange is finding 2: a version 2 signed by the depositary
// alone that replaces BER's root key.
func depositaryRootChange(tb testing.TB, n *testNet) []byte {
	tb.Helper()
	attacker := mustKeys(tb, "BER")
	d, err := n.a.NextDraft()
	if err != nil {
		tb.Fatal(err)
	}
	d.Issued, d.Effective = t0.Add(time.Hour), t0.Add(time.Hour)
	for i := range d.Parties {
		if d.Parties[i].ID == "BER" {
			d.Parties[i].Root = attacker.Root.VerifierKey()
		}
	}
	bj := n.a.bundle()
	bj.Terms = append(bj.Terms, string(signRaw(tb, mustText(tb, TermsTag, d), n.keys["DEP"].Root)))
	b, err := marshalIndent(bj)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func TestRootChangedRefused(t *testing.T) {
	n := newTestNet(t)
	for _, tc := range []struct {
		name string
		file []byte
		want string
	}{
		{"forged draft", forgedDraft(t, n), "the draft changes the root key of BER"},
		{"depositary-only root change", depositaryRootChange(t, n), "version 2 changes the root key of BER"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := Parse(tc.file)
			if err == nil {
				err = a.Verify()
			}
			if ErrorCode(err) != "root_changed" || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want root_changed: %s", err, tc.want)
			}
			if a, err := Parse(n.a.Marshal()); err != nil {
				t.Fatal(err)
			} else if other, err := Parse(tc.file); err == nil {
				if _, err := a.Merge(other); ErrorCode(err) != "root_changed" {
					t.Errorf("Merge: %v, want root_changed", err)
				}
			}
		})
	}

	// Even signed by both of its keys, the depositary cannot change its own
	// root through the terms.
	newRoot, _ := hotline.GenerateSigningKey("DEP/root", false)
	d, _ := n.a.NextDraft()
	d.Issued, d.Effective = t0.Add(time.Hour), t0.Add(time.Hour)
	d.Parties[0].Root = newRoot.VerifierKey()
	if _, err := n.a.With(signRaw(t, mustText(t, TermsTag, d), n.keys["DEP"].Root, newRoot)); ErrorCode(err) != "root_changed" {
		t.Errorf("depositary root changed by the terms: %v, want root_changed", err)
	}
	// A draft may not either.
	if _, err := n.a.WithDraft(d); ErrorCode(err) != "root_changed" {
		t.Errorf("draft changing the depositary's root: %v, want root_changed", err)
	}
}

// rotateRoot has party replace its root key with next by a root
// statement signed by signers, and returns the agreement with it.
func rotateRoot(tb testing.TB, a *Agreement, party string, method RootMethod, next *hotline.SigningKey, after *hotline.SigningKey, at time.Time, signers ...note.Signer) (*Agreement, error) {
	tb.Helper()
	s, err := a.NextRootStatement(party, method, next.VerifierKey(), RootCommitment(after.VerifierKey()), at)
	if err != nil {
		return nil, err
	}
	// Signed without SignRoot's checks, to try signers it would refuse.
	return a.With(signRaw(tb, mustText(tb, RootTag, s), signers...))
}

func TestRootRotation(t *testing.T) {
	n := newTestNet(t)
	ber := n.keys["BER"]
	old := ber.Root
	newRoot, _ := hotline.GenerateSigningKey("BER/root", false)
	after, _ := hotline.GenerateSigningKey("BER/root", false)

	// Anyone else's rotation is refused: the depositary's, one signed by
	// the new key alone, one by the old key alone.
	dep := n.keys["DEP"].Root
	for name, signers := range map[string][]note.Signer{
		"depositary":             {dep},
		"new key only":           {newRoot},
		"old key only":           {old},
		"depositary and new key": {dep, newRoot},
	} {
		_, err := rotateRoot(t, n.a, "BER", RootRotation, newRoot, after, t0.Add(time.Hour), signers...)
		if err == nil {
			t.Errorf("rotation signed by %s accepted", name)
		}
	}

	a, err := rotateRoot(t, n.a, "BER", RootRotation, newRoot, after, t0.Add(time.Hour), old, newRoot)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Extends(n.a); err != nil {
		t.Fatal(err)
	}
	if err := n.a.Extends(a); ErrorCode(err) != "bad_chain" {
		t.Errorf("the file without the rotation extends the one with it: %v", err)
	}
	if r, _, _ := a.Root("BER"); r != newRoot.VerifierKey() {
		t.Errorf("root after rotation %s", r)
	}
	// BER's next entry is signed by the new root; one by the old root is
	// refused.
	prev, _ := a.Entry("BER")
	e, err := NextEntry(prev, EntryUpdate{Keys: ber.Public(), Issued: t0.Add(2 * time.Hour), Reconfirm: true})
	if err != nil {
		t.Fatal(err)
	}
	byOld, _ := SignEntry(e, old)
	if _, err := a.With(byOld); ErrorCode(err) != "bad_signature" {
		t.Errorf("entry signed by the replaced root: %v, want bad_signature", err)
	}
	byNew, _ := SignEntry(e, newRoot)
	a2, err := a.With(byNew)
	if err != nil {
		t.Fatal(err)
	}
	// The depositary may list the party's new root in a later version: it
	// is one the party established.
	d, _ := a2.NextDraft()
	d.Issued, d.Effective = t0.Add(3*time.Hour), t0.Add(3*time.Hour)
	d.Parties[1].Root, d.Parties[1].NextRoot = newRoot.VerifierKey(), RootCommitment(after.VerifierKey())
	terms, err := SignTerms(d, dep)
	if err != nil {
		t.Fatal(err)
	}
	a3, err := a2.With(terms)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Ratify(a3.Latest(), "BER", t0.Add(4*time.Hour), old)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a3.With(r); ErrorCode(err) != "bad_signature" {
		t.Errorf("ratification by the replaced root: %v", err)
	}
	r, _ = Ratify(a3.Latest(), "BER", t0.Add(4*time.Hour), newRoot)
	if _, err := a3.With(r); err != nil {
		t.Errorf("ratification by the new root: %v", err)
	}
	// A root is never reused.
	if _, err := rotateRoot(t, a3, "BER", RootRotation, old, after, t0.Add(5*time.Hour), newRoot, old); err == nil {
		t.Error("rotation back to an old root accepted")
	}
}

func TestRootPreRotation(t *testing.T) {
	n := newTestNet(t)
	ber := n.keys["BER"]
	after, _ := hotline.GenerateSigningKey("BER/root", false)

	// BER lost its root key: it reveals the pre-rotation key it committed
	// to in version 1, signing with it alone.
	a, err := rotateRoot(t, n.a, "BER", RootPreRotation, ber.NextRoot, after, t0.Add(time.Hour), ber.NextRoot)
	if err != nil {
		t.Fatal(err)
	}
	if r, next, _ := a.Root("BER"); r != ber.NextRoot.VerifierKey() || next != RootCommitment(after.VerifierKey()) {
		t.Errorf("root after pre-rotation %s", r)
	}
	// The next pre-rotation must reveal the key this statement committed to.
	other, _ := hotline.GenerateSigningKey("BER/root", false)
	if _, err := rotateRoot(t, a, "BER", RootPreRotation, other, after, t0.Add(2*time.Hour), other); ErrorCode(err) != "bad_rotation" {
		t.Errorf("pre-rotation to an uncommitted key: %v, want bad_rotation", err)
	}
	// Someone who merely made up a statement for a key nobody committed to
	// is refused, whatever the method says.
	bj := n.a.bundle()
	forged := &RootStatement{Party: "BER", Sequence: 1, Issued: t0.Add(time.Hour), Method: RootPreRotation, Root: other.VerifierKey(), NextRoot: RootCommitment(after.VerifierKey())}
	bj.Roots = []string{string(signRaw(t, mustText(t, RootTag, forged), other))}
	b, _ := marshalIndent(bj)
	if _, err := Parse(b); ErrorCode(err) != "bad_rotation" {
		t.Errorf("forged pre-rotation: %v, want bad_rotation", err)
	}
	// Nor can one party reveal another's pre-rotation key: CRI's statement
	// naming BER's committed key is named for BER's root, not CRI's.
	if _, err := rotateRoot(t, n.a, "CRI", RootPreRotation, other, after, t0.Add(time.Hour), other); err == nil {
		t.Error("pre-rotation to a key CRI never committed to accepted")
	}
}

func TestAdmittedPartyMustRatify(t *testing.T) {
	n := newTestNet(t)
	atl := mustKeys(t, "ATL")
	d, _ := n.a.NextDraft()
	d.Issued, d.Effective = t0.Add(time.Hour), t0.Add(time.Hour)
	d.Parties = append(d.Parties, Party{ID: "ATL", Name: "Atlantis", Kind: KindState, Root: atl.Root.VerifierKey()})
	terms, err := SignTerms(d, n.keys["DEP"].Root)
	if err != nil {
		t.Fatal(err)
	}
	e, _ := NextEntry(nil, EntryUpdate{Keys: atl.Public(), Issued: t0.Add(time.Hour), Endpoints: []string{"https://atl.example/"}, Contacts: SampleContacts("ATL", t0)})
	en, _ := SignEntry(e, atl.Root)
	a, err := n.a.With(terms, en)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.MessageKey("ATL", t0.Add(2*time.Hour)); ErrorCode(err) != "unknown_party" {
		t.Errorf("key of a party that has not ratified the version admitting it: %v", err)
	}
	r, _ := Ratify(a.Latest(), "ATL", t0.Add(time.Hour), atl.Root)
	if a, err = a.With(r); err != nil {
		t.Fatal(err)
	}
	if _, err := a.MessageKey("ATL", t0.Add(2*time.Hour)); err != nil {
		t.Error(err)
	}
}

// TestInForce: three parties on different ratified versions. BER ratified
// 1, 2 and 3; CRI 1 and 2; OSL only 1.
func TestInForce(t *testing.T) {
	n := newTestNet(t)
	a := n.a
	for v := 2; v <= 3; v++ {
		d, _ := a.NextDraft()
		at := t0.Add(time.Duration(v) * time.Hour)
		d.Issued, d.Effective = at, at
		terms, err := SignTerms(d, n.keys["DEP"].Root)
		if err != nil {
			t.Fatal(err)
		}
		if a, err = a.With(terms); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{"BER", "CRI"}[:4-v] {
			r, _ := Ratify(a.Latest(), p, at, n.keys[p].Root)
			if a, err = a.With(r); err != nil {
				t.Fatal(err)
			}
		}
	}
	now := t0.Add(10 * time.Hour)
	for _, tc := range []struct {
		parties []string
		want    uint64
	}{
		{[]string{"BER"}, 3},
		{[]string{"BER", "DEP"}, 3},
		{[]string{"BER", "CRI"}, 2},
		{[]string{"CRI", "BER"}, 2},
		{[]string{"BER", "OSL"}, 1},
		{[]string{"BER", "CRI", "OSL"}, 1},
		{[]string{"CRI", "DEP"}, 2},
	} {
		v, err := a.InForce(now, tc.parties...)
		if err != nil {
			t.Fatal(err)
		}
		if v.Number() != tc.want {
			t.Errorf("in force between %v: version %d, want %d", tc.parties, v.Number(), tc.want)
		}
	}
	// Before version 3 takes effect, BER and DEP are under version 2.
	if v, _ := a.InForce(t0.Add(3*time.Hour-time.Second), "BER"); v.Number() != 2 {
		t.Errorf("before version 3 takes effect: %d", v.Number())
	}
	if _, err := a.InForce(now, "BER", "XYZ"); ErrorCode(err) != "no_version" {
		t.Errorf("with a stranger: %v", err)
	}
}

func TestSignedKey(t *testing.T) {
	n := newTestNet(t)
	day := 24 * time.Hour
	ber := n.keys["BER"]
	k2, _ := hotline.GenerateSigningKey("BER", false)
	pub := ber.Public()
	pub.Message = k2.VerifierKey()
	// A routine rotation at t0+10d.
	rot := t0.Add(10 * day)
	a := rotate(t, n, n.a, "BER", EntryUpdate{Keys: pub, Issued: t0.Add(day), At: rot})
	old := ber.Message.VerifierKey()
	for _, tc := range []struct {
		name              string
		created, received time.Time
		want              string // the key, or "" for a refusal
	}{
		{"before the rotation", rot.Add(-time.Hour), rot.Add(-time.Minute), old},
		{"created before, received after", rot.Add(-time.Hour), rot.Add(6 * day), old},
		{"received after the grace", rot.Add(-time.Hour), rot.Add(7 * day), ""},
		{"created after", rot.Add(time.Hour), rot.Add(2 * time.Hour), k2.VerifierKey()},
	} {
		k, err := a.SignedKey("BER", hotline.RoleMessage, tc.created, tc.received)
		switch {
		case tc.want == "" && ErrorCode(err) != "key_not_valid":
			t.Errorf("%s: %v %v, want key_not_valid", tc.name, k.Key, err)
		case tc.want != "" && (err != nil || k.Key != tc.want):
			t.Errorf("%s: %v %v", tc.name, k.Key, err)
		}
	}

	// CRI's message key is compromised; CRI revokes it at t0+5d, from
	// t0+3d (in the past), publishing a new one.
	cri := n.keys["CRI"]
	k3, _ := hotline.GenerateSigningKey("CRI", false)
	cpub := cri.Public()
	cpub.Message = k3.VerifierKey()
	published := t0.Add(5 * day)
	b := rotate(t, n, n.a, "CRI", EntryUpdate{Keys: cpub, Issued: published, Revoke: []hotline.KeyRole{hotline.RoleMessage}, RevokedAt: t0.Add(3 * day)})
	cold := cri.Message.VerifierKey()
	for _, tc := range []struct {
		name              string
		created, received time.Time
		want              string
	}{
		// What was received before the revocation was published stays
		// valid, even after the revocation time it names.
		{"received before the revocation time", t0.Add(day), t0.Add(2 * day), cold},
		{"received before publication", t0.Add(4 * day), t0.Add(4*day + time.Hour), cold},
		// Nothing signed with it is accepted after, however it is dated.
		{"backdated, received after", t0.Add(day), published.Add(time.Minute), ""},
		{"created before publication, received after", published.Add(-time.Hour), published.Add(time.Hour), ""},
		{"new key", published.Add(time.Hour), published.Add(2 * time.Hour), k3.VerifierKey()},
	} {
		k, err := b.SignedKey("CRI", hotline.RoleMessage, tc.created, tc.received)
		switch {
		case tc.want == "" && ErrorCode(err) != "key_not_valid":
			t.Errorf("%s: %v %v, want key_not_valid", tc.name, k.Key, err)
		case tc.want != "" && (err != nil || k.Key != tc.want):
			t.Errorf("%s: %v %v", tc.name, k.Key, err)
		}
	}
}

// TestReceiptKey: a receipt BER signed before its routine rotation verifies
// after it, within the grace.
func TestReceiptKey(t *testing.T) {
	n := newTestNet(t)
	ber := n.keys["BER"]
	k2, _ := hotline.GenerateSigningKey("BER", false)
	pub := ber.Public()
	pub.Message = k2.VerifierKey()
	rot := t0.Add(48 * time.Hour)
	a := rotate(t, n, n.a, "BER", EntryUpdate{Keys: pub, Issued: t0.Add(time.Hour), At: rot})
	rc, err := hotline.Sign(&hotline.Receipt{Message: hotline.ID{1}, Party: "BER", Received: rot.Add(-time.Minute), LogOrigin: ber.Origin()}, ber.Message)
	if err != nil {
		t.Fatal(err)
	}
	later := rot.Add(time.Hour)
	v, err := a.ReceiptKey("BER", rc, later)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := hotline.OpenReceipt(rc, v); err != nil {
		t.Errorf("the receipt signed before the rotation: %v", err)
	}
	if v, err := a.MessageKey("BER", later); err == nil {
		if _, _, err := hotline.OpenReceipt(rc, v); err == nil {
			t.Error("the current key verifies the old receipt: the test proves nothing")
		}
	}
	if _, err := a.ReceiptKey("BER", rc, rot.Add(8*24*time.Hour)); ErrorCode(err) != "key_not_valid" {
		t.Errorf("after the grace: %v", err)
	}
}

// A root rotated in the same second as the party ratified a version (the
// times are whole seconds) leaves the ratification, signed by the root
// replaced, verifiable: at that second both roots held.
func TestRootRotationSameSecondAsRatification(t *testing.T) {
	n := newTestNet(t)
	ber := n.keys["BER"]
	newRoot, _ := hotline.GenerateSigningKey("BER/root", false)
	after, _ := hotline.GenerateSigningKey("BER/root", false)
	a, err := rotateRoot(t, n.a, "BER", RootRotation, newRoot, after, t0, ber.Root, newRoot)
	if err != nil {
		t.Fatalf("rotation in the second of BER's ratification: %v", err)
	}
	if r, _, _ := a.Root("BER"); r != newRoot.VerifierKey() {
		t.Errorf("root after rotation %s", r)
	}
	// In that second both roots held; from the next, only the new one.
	if got := a.rootsAt("BER", t0); len(got) != 2 || got[0].root != ber.Root.VerifierKey() || got[1].root != newRoot.VerifierKey() {
		t.Errorf("roots of BER in the second of the rotation: %+v, want the old and the new", got)
	}
	if got := a.rootsAt("BER", t0.Add(time.Second)); len(got) != 1 || got[0].root != newRoot.VerifierKey() {
		t.Errorf("roots of BER a second after the rotation: %+v, want the new one only", got)
	}
	if got := a.rootsAt("BER", t0.Add(-time.Second)); len(got) != 1 || got[0].root != ber.Root.VerifierKey() {
		t.Errorf("roots of BER a second before the rotation: %+v, want the old one only", got)
	}
}
