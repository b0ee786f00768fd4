package agreement

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/mod/sumdb/note"

	"github.com/hotline-net/hotline"
)

func TestSampleRoundTrip(t *testing.T) {
	n := newTestNet(t)
	if err := n.a.Verify(); err != nil {
		t.Fatal(err)
	}
	b := n.a.Marshal()
	a2, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := a2.Verify(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a2.Marshal(), b) {
		t.Error("Marshal(Parse(Marshal(a))) differs from Marshal(a)")
	}
	if err := a2.Extends(n.a); err != nil {
		t.Errorf("a parsed copy does not extend the original: %v", err)
	}
}

func TestSampleTerms(t *testing.T) {
	st := SampleTerms()
	// docs/DESIGN.md §3's table, as obligations and deadlines.
	type row struct {
		kind string
		ob   ObligationType
		sev  hotline.Severity
		want time.Duration
	}
	h := time.Hour
	rows := []row{
		{"notification", Acknowledge, hotline.SeverityLow, 24 * h},
		{"notification", Acknowledge, hotline.SeverityCritical, 2 * h},
		{"assistance_request", Acknowledge, hotline.SeverityHigh, 24 * h},
		{"assistance_request", Respond, hotline.SeverityHigh, 72 * h},
		{"mitigation_request", Acknowledge, hotline.SeverityMedium, 12 * h},
		{"mitigation_request", Respond, hotline.SeverityMedium, 72 * h},
		{"clarification_request", Acknowledge, hotline.SeverityCritical, 12 * h},
		{"clarification_request", Respond, hotline.SeverityLow, 72 * h},
		{"consultation_request", Respond, hotline.SeverityLow, 7 * 24 * h},
		{"complaint", FormalResponse, hotline.SeverityHigh, 30 * 24 * h},
		{"ping", Acknowledge, hotline.SeverityLow, 24 * h},
	}
	n := newTestNet(t)
	v := n.a.Latest()
	for _, r := range rows {
		k, err := v.Kind(r.kind)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := k.Deadline(r.ob, r.sev)
		if !ok || got != r.want {
			t.Errorf("%s %s %s: got %v (%v), want %v", r.kind, r.ob, r.sev, got, ok, r.want)
		}
	}
	var names []string
	for _, k := range st.Kinds {
		names = append(names, k.Name)
	}
	want := []string{"notification", "assistance_request", "mitigation_request", "clarification_request", "consultation_request",
		"advance_notice", "advisory", "complaint", "ping", "ack", "response", "status_update", "closure", "retraction"}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("sample kinds (-want +got):\n%s", diff)
	}
	for _, name := range []string{"advance_notice", "advisory", "ack", "response", "status_update", "closure", "retraction"} {
		k, _ := v.Kind(name)
		if len(k.Obligations) != 0 {
			t.Errorf("%s obliges %v, want nothing", name, k.Obligations)
		}
	}
	ping, _ := v.Kind("ping")
	if o, _ := ping.Obligation(Acknowledge); o.Meets("response") || !o.Meets("ack") {
		t.Errorf("a ping is acknowledged by a human ack only, got met_by %v", o.MetBy)
	}
}

func TestLookups(t *testing.T) {
	n := newTestNet(t)
	a := n.a
	v := a.Latest()
	if v.Number() != 1 || a.Versions()[0] != v {
		t.Fatalf("latest is version %d", v.Number())
	}
	if got, err := a.Version(v.Hash()); err != nil || got != v {
		t.Errorf("Version(hash) = %v, %v", got, err)
	}
	if _, err := a.Version(hotline.ID{1}); !errors.Is(err, ErrNoVersion) {
		t.Errorf("Version(unknown) error = %v, want no_version", err)
	}
	if _, err := a.Current(t0.Add(-time.Second)); !errors.Is(err, ErrNoVersion) {
		t.Errorf("Current(before effective) error = %v, want no_version", err)
	}
	if got, err := a.Current(t0); err != nil || got != v {
		t.Errorf("Current(effective) = %v, %v", got, err)
	}
	for _, p := range []string{"BER", "CRI", "OSL", "DEP"} {
		if !a.Ratified(p, v.Hash()) {
			t.Errorf("%s has not ratified", p)
		}
	}
	if a.Ratified("BER", hotline.ID{1}) {
		t.Error("BER ratified an unknown hash")
	}
	all, err := v.Expand("all")
	if err != nil || !cmp.Equal(all, []string{"BER", "CRI", "OSL"}) {
		t.Errorf(`Expand("all") = %v, %v; want the parties without the depositary`, all, err)
	}
	north, err := v.Expand("north")
	if err != nil || !cmp.Equal(north, []string{"BER", "OSL"}) {
		t.Errorf(`Expand("north") = %v, %v`, north, err)
	}
	if _, err := v.Expand("south"); !errors.Is(err, ErrUnknownGroup) {
		t.Errorf("Expand(unknown) error = %v", err)
	}
	if _, err := v.Kind("gossip"); !errors.Is(err, ErrUnknownKind) {
		t.Errorf("Kind(unknown) error = %v", err)
	}
	if got := v.Relays(); !cmp.Equal(got, []string{"DEP"}) {
		t.Errorf("Relays() = %v", got)
	}
	if v.Grace() != 6*time.Hour || v.Reconfirmation() != 90*24*time.Hour {
		t.Errorf("grace %v, reconfirmation %v", v.Grace(), v.Reconfirmation())
	}
	if got := v.Policy().Threshold(); got != 2 {
		t.Errorf("default quorum for 4 witnesses = %d, want 2", got)
	}

	ks := n.keys["BER"]
	mv, err := a.MessageKey("BER", t0)
	if err != nil {
		t.Fatal(err)
	}
	msg := signRaw(t, []byte("hello\n"), ks.Message)
	if _, err := note.Open(msg, note.VerifierList(mv)); err != nil {
		t.Errorf("BER's message key does not verify BER's signature: %v", err)
	}
	ek, err := a.EncryptionKey("BER", t0)
	if err != nil || !ek.Equal(ks.Encryption.Public()) {
		t.Errorf("EncryptionKey = %v, %v", ek, err)
	}
	if eks, err := a.EncryptionKeys("BER"); err != nil || len(eks) != 1 || !eks[0].Equal(ks.Encryption.Public()) {
		t.Errorf("EncryptionKeys = %v, %v", eks, err)
	}
	cv, err := a.CheckpointKey("BER", t0)
	if err != nil || cv.Name() != "hotline/BER" {
		t.Errorf("CheckpointKey = %v, %v", cv, err)
	}
	wv, err := a.WitnessKey("BER", t0)
	if err != nil || wv.Name() != "BER/witness" || wv.KeyHash() != ks.Witness.KeyHash() {
		t.Errorf("WitnessKey = %v, %v", wv, err)
	}
	if o, err := a.LogOrigin("BER"); err != nil || o != "hotline/BER" {
		t.Errorf("LogOrigin = %q, %v", o, err)
	}
	if eps, err := a.Endpoints("CRI"); err != nil || !cmp.Equal(eps, []string{"https://CRI.example:8443/"}) {
		t.Errorf("Endpoints = %v, %v", eps, err)
	}
	if cs, err := a.Contacts("OSL"); err != nil || len(cs) != 2 || cs[0].Role != Diplomatic {
		t.Errorf("Contacts = %v, %v", cs, err)
	}
	if _, err := a.MessageKey("XYZ", t0); !errors.Is(err, ErrUnknownParty) {
		t.Errorf("MessageKey(unknown party) error = %v, want unknown_party", err)
	}
	if _, err := a.MessageKey("BER", t0.Add(-time.Hour)); !errors.Is(err, ErrKeyNotValid) {
		t.Errorf("MessageKey(before validity) error = %v, want key_not_valid", err)
	}
	pol, err := a.WitnessPolicy(v, t0)
	if err != nil {
		t.Fatal(err)
	}
	wantPol := "witness DEP " + n.keys["DEP"].Witness.VerifierKey() + "\n" +
		"witness BER " + n.keys["BER"].Witness.VerifierKey() + "\n" +
		"witness CRI " + n.keys["CRI"].Witness.VerifierKey() + "\n" +
		"witness OSL " + n.keys["OSL"].Witness.VerifierKey() + "\n" +
		"group witnesses 2 DEP BER CRI OSL\nquorum witnesses\n"
	if diff := cmp.Diff(wantPol, pol); diff != "" {
		t.Errorf("WitnessPolicy (-want +got):\n%s", diff)
	}
}

func TestUnratified(t *testing.T) {
	ks := map[string]*hotline.KeySet{"DEP": mustKeys(t, "DEP"), "BER": mustKeys(t, "BER"), "CRI": mustKeys(t, "CRI")}
	p := func(id string) SampleParty {
		return SampleParty{Keys: ks[id], Endpoints: []string{"http://127.0.0.1:1/"}}
	}
	a, err := Sample(SampleConfig{Depositary: p("DEP"), Parties: []SampleParty{p("BER"), p("CRI")}, Time: t0, Unratified: []string{"CRI"}})
	if err != nil {
		t.Fatal(err)
	}
	h := a.Latest().Hash()
	if !a.Ratified("BER", h) || a.Ratified("CRI", h) {
		t.Errorf("ratified: BER %v, CRI %v; want true, false", a.Ratified("BER", h), a.Ratified("CRI", h))
	}
	// CRI ratifies later; the result still verifies and extends the
	// original.
	r, err := Ratify(a.Latest(), "CRI", t0.Add(time.Hour), ks["CRI"].Root)
	if err != nil {
		t.Fatal(err)
	}
	b, err := a.With(r)
	if err != nil {
		t.Fatal(err)
	}
	if !b.Ratified("CRI", h) {
		t.Error("CRI's ratification was not added")
	}
	if err := b.Extends(a); err != nil {
		t.Error(err)
	}
	if err := a.Extends(b); !errors.Is(err, ErrBadRatification) {
		t.Errorf("a.Extends(b) = %v, want bad_ratification (a lacks CRI's ratification)", err)
	}
	// A ratification signed by another key under CRI's root key name is
	// refused.
	fake, _ := hotline.GenerateSigningKey("CRI/root", false)
	forged, err := hotline.Sign(&hotline.Ratification{Party: "CRI", Agreement: h, Version: 1, Time: t0.Add(time.Hour)}, fake)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.With(forged); ErrorCode(err) != "bad_signature" {
		t.Errorf("forged ratification: %v, want bad_signature", err)
	}
}

func TestMerge(t *testing.T) {
	n := newTestNet(t)
	// Two nodes learn of different entries; merging gives both, and the
	// result extends each.
	ber := n.keys["BER"].Public()
	k, _ := hotline.GenerateSigningKey("BER", false)
	ber.Message = k.VerifierKey()
	x := rotate(t, n, n.a, "BER", EntryUpdate{Keys: ber, Issued: t0.Add(time.Hour)})
	y := rotate(t, n, n.a, "CRI", EntryUpdate{Keys: n.keys["CRI"].Public(), Issued: t0.Add(time.Hour), Reconfirm: true})
	m, err := x.Merge(y)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range []*Agreement{n.a, x, y} {
		if err := m.Extends(o); err != nil {
			t.Error(err)
		}
	}
	if err := x.Extends(m); err == nil {
		t.Error("x extends the merge, which holds CRI's entry 2 that x lacks")
	}
	// BER equivocates: two different entries 2. Merging them is refused.
	k2, _ := hotline.GenerateSigningKey("BER", false)
	ber.Message = k2.VerifierKey()
	z := rotate(t, n, n.a, "BER", EntryUpdate{Keys: ber, Issued: t0.Add(time.Hour)})
	if _, err := x.Merge(z); ErrorCode(err) != "fork" {
		t.Errorf("merging two entries 2: %v, want fork", err)
	}
	if err := z.Extends(x); ErrorCode(err) != "fork" {
		t.Errorf("z.Extends(x): %v, want fork", err)
	}
	// An older agreement does not extend a newer one.
	c := buildChain(t, n)
	if err := n.a.Extends(c); ErrorCode(err) != "bad_chain" {
		t.Errorf("version 1 extends version 2: %v", err)
	}
	if err := c.Extends(n.a); err != nil {
		t.Error(err)
	}
	if v, err := c.Current(t0.Add(47 * time.Hour)); err != nil || v.Number() != 1 {
		t.Errorf("Current before version 2 takes effect: %v, %v", v, err)
	}
	if v, err := c.Current(t0.Add(48 * time.Hour)); err != nil || v.Number() != 2 {
		t.Errorf("Current once version 2 takes effect: %v, %v", v, err)
	}
	v1, _ := c.VersionNumber(1)
	v2, _ := c.VersionNumber(2)
	if !c.Ratified("BER", v2.Hash()) || c.Ratified("CRI", v2.Hash()) || !c.Ratified("CRI", v1.Hash()) {
		t.Error("ratifications of version 2: want BER and OSL, not CRI")
	}
}
