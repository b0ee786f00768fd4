package hotline

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/cryptotest"

	"golang.org/x/mod/sumdb/note"
)

var update = flag.Bool("update", false, "rewrite the test vectors in testdata/vectors")

const vectorDir = "testdata/vectors"

// vectorParties are the parties of the test vectors, in the order their
// keys are generated.
var vectorParties = []string{"BER", "CRI", "DOR", "ELM"}

// buildVectors regenerates every test vector from a fixed random seed. The
// output depends only on the seed and on how the standard library draws
// randomness; -update rewrites the files if the latter changes.
func buildVectors(t *testing.T) map[string][]byte {
	cryptotest.SetGlobalRandom(t, 20261127)
	keys := newTestKeySets(t, vectorParties...)
	out := map[string][]byte{}

	var kb strings.Builder
	kb.WriteString("# The fixed key set of the test vectors. Test keys: never use them.\n")
	for _, p := range vectorParties {
		ks := keys[p]
		for _, k := range []struct {
			role KeyRole
			priv string
			pub  string
		}{
			{RoleRoot, ks.Root.String(), ks.Root.VerifierKey()},
			{RoleMessage, ks.Message.String(), ks.Message.VerifierKey()},
			{RoleEncryption, ks.Encryption.String(), ks.Encryption.Public().String()},
			{RoleCheckpoint, ks.Checkpoint.String(), ks.Checkpoint.VerifierKey()},
			{RoleWitness, ks.Witness.String(), ks.Witness.VerifierKey()},
		} {
			fmt.Fprintf(&kb, "%s %s private %s\n%s %s public %s\n", p, k.role, k.priv, p, k.role, k.pub)
		}
	}
	out["keys.txt"] = []byte(kb.String())

	one := newTestDraft(keys, "BER", "CRI")
	e1 := mustSeal(t, keys, one)
	three := newTestDraft(keys, "BER", "CRI", "DOR", "ELM")
	three.Group = "all"
	three.Exercise = true
	three.Inner = Inner{Kind: "advisory", Severity: SeverityMedium, Marking: TLPGreen, Thread: e1.ID(), Refs: []ID{e1.ID()}}
	three.Body = []byte(`{"title":"Indicators of the campaign","stix":{"type":"bundle","id":"bundle--00000000-0000-4000-8000-000000000000","objects":[]}}`)
	three.To[0].Seq, three.To[0].Prev = 2, e1.ID()
	e3 := mustSeal(t, keys, three)

	out["envelope-1.bin"] = e1.Marshal()
	out["envelope-3.bin"] = e3.Marshal()
	for _, c := range []struct {
		name string
		e    *Envelope
	}{{"envelope-1", e1}, {"envelope-3", e3}} {
		for _, r := range c.e.Header.Recipients {
			v, err := c.e.View(r.Party)
			if err != nil {
				t.Fatal(err)
			}
			out[c.name+".view-"+r.Party+".bin"] = v.Marshal()
		}
	}

	// CRI receipts envelope-1 at index 0 of its log.
	rc := &Receipt{Message: e1.ID(), Party: "CRI", Received: testTime, LogOrigin: keys["CRI"].Origin(), LogIndex: 0}
	signed, err := Sign(rc, keys["CRI"].Message)
	if err != nil {
		t.Fatal(err)
	}
	out["receipt.note"] = signed
	for name, st := range map[string]struct {
		st Statement
		k  *SigningKey
	}{
		"heartbeat.note":     {&Heartbeat{From: "BER", To: "CRI", Time: testTime, Counter: 1, Sent: 2, Received: 0}, keys["BER"].Message},
		"ratification.note":  {&Ratification{Party: "DOR", Agreement: one.Agreement, Version: 1, Time: testTime}, keys["DOR"].Root},
		"request.note":       {&Request{From: "BER", To: "CRI", Time: testTime, Method: "POST", Path: "/v1/envelopes", Length: uint64(len(out["envelope-1.view-CRI.bin"])), BodyHash: sha256.Sum256(out["envelope-1.view-CRI.bin"])}, keys["BER"].Message},
		"relay-receipt.note": {&RelayReceipt{Message: e1.ID(), From: "BER", To: "CRI", Relay: "ELM", Received: testTime}, keys["ELM"].Message},
	} {
		b, err := Sign(st.st, st.k)
		if err != nil {
			t.Fatal(err)
		}
		out[name] = b
	}

	out["leaves.txt"] = []byte(leafVectors(e1.ID(), e3.ID(), NoteID(rc.Text())))

	// BER signs a second envelope to CRI at seq 1: the proof of it.
	// (Sealed last, so that the draws above stay as they were.)
	again := mustSeal(t, keys, newTestDraft(keys, "BER", "CRI"))
	sc, err := NewSequenceConflict("CRI", e1, nil, again, nil)
	if err != nil {
		t.Fatal(err)
	}
	out["sequence-conflict.txt"] = sc.Marshal()

	// CRI refuses envelope-3's view as invalid_body (a refusal's format;
	// the vector envelope is valid).
	v3, err := e3.View("CRI")
	if err != nil {
		t.Fatal(err)
	}
	ref := &Refusal{Message: e3.ID(), Party: "CRI", Header: sha256.Sum256(v3.SignedHeader()), Code: "invalid_body", Time: testTime}
	if out["refusal.note"], err = Sign(ref, keys["CRI"].Message); err != nil {
		t.Fatal(err)
	}

	// A private group header (hotline-envelope/v2): BER → CRI, DOR in the
	// thread of envelope-1, CRI at seq 3 and DOR at seq 2, both after
	// envelope-3; CRI's opening; and the proof that BER signed another
	// version 2 envelope to CRI at seq 3.
	two := newTestDraft(keys, "BER", "CRI", "DOR")
	two.Version = 2
	two.Group = "all"
	two.Inner = Inner{Kind: "advisory", Severity: SeverityHigh, Marking: TLPAmber, Thread: e1.ID(), Refs: []ID{e3.ID()}}
	two.Body = []byte(`{"title":"Update: indicators of the campaign","stix":{"type":"bundle","id":"bundle--00000000-0000-4000-8000-000000000001","objects":[]}}`)
	two.To[0].Seq, two.To[0].Prev = 3, e3.ID()
	two.To[1].Seq, two.To[1].Prev = 2, e3.ID()
	ev2 := mustSeal(t, keys, two)
	out["group-v2.bin"] = ev2.Marshal()
	for _, r := range ev2.Header.Recipients {
		v, err := ev2.View(r.Party)
		if err != nil {
			t.Fatal(err)
		}
		out["group-v2.view-"+r.Party+".bin"] = v.Marshal()
	}
	out["group-v2.opening-CRI.txt"] = openingVector(ev2, "CRI")
	other := newTestDraft(keys, "BER", "CRI")
	other.Version = 2
	other.To[0].Seq, other.To[0].Prev = 3, e3.ID()
	ev2b := mustSeal(t, keys, other)
	sc2, err := NewSequenceConflict("CRI", ev2, ev2.SealedOpening("CRI"), ev2b, ev2b.SealedOpening("CRI"))
	if err != nil {
		t.Fatal(err)
	}
	out["sequence-conflict-v2.txt"] = sc2.Marshal()

	logVectors(t, keys, out, e1.ID(), NoteID(rc.Text()), e3.ID(), ev2.ID())
	return out
}

// openingVector lists party's opening in e: the 72 bytes, what they say,
// and the commitment they open.
func openingVector(e *Envelope, party string) []byte {
	o := e.SealedOpening(party)
	r := e.Header.Recipients[e.Header.Index(party)]
	var b strings.Builder
	fmt.Fprintf(&b, "# %s's opening of its sequence commitment in group-v2.bin (docs/PROTOCOL.md §3.3):\n", party)
	b.WriteString("# the 72 bytes sealed with the content key in its stanza, then seq, previous id and salt they hold,\n")
	fmt.Fprintf(&b, "# and the commitment SHA-256(\"hotline-envelope/v2 sequence\\n\" ‖ \"%s\\n\" ‖ opening) on its to line\n", party)
	fmt.Fprintf(&b, "party %s\nopening %s\n", party, b64(o))
	fmt.Fprintf(&b, "seq %d\nprev %s\nsalt %s\ncommitment %s\n", binary.BigEndian.Uint64(o), ID(o[8:40]), b64(o[40:]), b64(r.Commitment[:]))
	return []byte(b.String())
}

// leafVectors lists entries as "origin direction id entry", one per line.
func leafVectors(e1, e3, receipt ID) string {
	var b strings.Builder
	b.WriteString("# origin, direction byte, object id, entry = SHA-256(\"hotline-leaf/v1\\n\" ‖ origin ‖ \"\\n\" ‖ dir ‖ id)\n")
	for _, l := range []struct {
		origin string
		dir    Direction
		id     ID
	}{
		{"hotline/BER", Sent, e1},
		{"hotline/CRI", Received, e1},
		{"hotline/BER", ReceiptReceived, receipt},
		{"hotline/BER", Sent, e3},
		{"hotline/CRI", Received, e3},
		{"hotline/DOR", Received, e3},
		{"hotline/ELM", Received, e3},
		{"example.org/log", Received, ID{}},
	} {
		e := LeafEntry(l.origin, l.dir, l.id)
		fmt.Fprintf(&b, "%s %02x %s %x\n", l.origin, byte(l.dir), l.id, e)
	}
	return b.String()
}

// TestVectorsReproducible regenerates the vectors and compares them byte for
// byte with testdata/vectors; with -update it rewrites them instead.
func TestVectorsReproducible(t *testing.T) {
	got := buildVectors(t)
	if *update {
		if err := os.MkdirAll(vectorDir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, b := range got {
			if err := os.WriteFile(filepath.Join(vectorDir, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		t.Logf("rewrote %d files in %s", len(got), vectorDir)
		return
	}
	files, err := os.ReadDir(vectorDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(got) {
		t.Errorf("%s holds %d files, the generator makes %d", vectorDir, len(files), len(got))
	}
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for k := range got {
			if !yield(k) {
				return
			}
		}
	}) {
		want, err := os.ReadFile(filepath.Join(vectorDir, name))
		if err != nil {
			t.Errorf("%s: %v (run go test -run TestVectors -update)", name, err)
			continue
		}
		if !bytes.Equal(got[name], want) {
			t.Errorf("%s: regenerated bytes differ from the file", name)
		}
	}
}

// vectorKeys parses testdata/vectors/keys.txt.
func vectorKeys(tb testing.TB) (priv, pub map[string]string) {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(vectorDir, "keys.txt"))
	if err != nil {
		tb.Fatal(err)
	}
	priv, pub = map[string]string{}, map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 4 {
			tb.Fatalf("keys.txt: bad line %q", line)
		}
		m := pub
		if f[2] == "private" {
			m = priv
		}
		m[f[0]+" "+f[1]] = f[3]
	}
	return priv, pub
}

func readVector(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(vectorDir, name))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// TestVectorsCheck reads the vectors as another implementation would —
// from the files alone — and checks every signature, every view and every
// leaf entry.
func TestVectorsCheck(t *testing.T) {
	priv, pub := vectorKeys(t)
	verifier := func(party string) note.Verifier {
		v, err := NewVerifier(pub[party+" message"])
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	encKey := func(party string) *EncryptionKey {
		k, err := ParseEncryptionKey(priv[party+" encryption"])
		if err != nil {
			t.Fatal(err)
		}
		if k.Public().String() != pub[party+" encryption"] {
			t.Fatalf("%s: private and public encryption keys disagree", party)
		}
		return k
	}
	for _, c := range []struct {
		file string
		to   []string
		kind string
	}{
		{"envelope-1", []string{"CRI"}, "clarification_request"},
		{"envelope-3", []string{"CRI", "DOR", "ELM"}, "advisory"},
		{"group-v2", []string{"CRI", "DOR"}, "advisory"},
	} {
		wire := readVector(t, c.file+".bin")
		e, err := Parse(wire)
		if err != nil {
			t.Fatalf("%s: %v", c.file, err)
		}
		if err := e.Verify(verifier("BER")); err != nil {
			t.Fatalf("%s: %v", c.file, err)
		}
		for _, r := range c.to {
			vb := readVector(t, c.file+".view-"+r+".bin")
			v, err := Parse(vb)
			if err != nil {
				t.Fatal(err)
			}
			if v.ID() != e.ID() || v.ViewFor() != r {
				t.Errorf("%s view for %s: id or recipient wrong", c.file, r)
			}
			if ve, _ := e.View(r); !bytes.Equal(ve.Marshal(), vb) {
				t.Errorf("%s: the view for %s is not the envelope's view", c.file, r)
			}
			if err := v.Verify(verifier("BER")); err != nil {
				t.Errorf("%s view for %s: %v", c.file, r, err)
			}
			m, err := v.Open(r, encKey(r))
			if err != nil {
				t.Fatalf("%s: open as %s: %v", c.file, r, err)
			}
			if m.Inner.Kind != c.kind {
				t.Errorf("%s: kind %q, want %q", c.file, m.Inner.Kind, c.kind)
			}
		}
	}

	e1, _ := Parse(readVector(t, "envelope-1.bin"))
	r, rid, err := OpenReceipt(readVector(t, "receipt.note"), verifier("CRI"))
	if err != nil {
		t.Fatal(err)
	}
	if r.Message != e1.ID() {
		t.Errorf("receipt names %s, want %s", r.Message, e1.ID())
	}
	if _, err := OpenHeartbeat(readVector(t, "heartbeat.note"), verifier("BER")); err != nil {
		t.Error(err)
	}
	if _, err := OpenRequest(readVector(t, "request.note"), verifier("BER")); err != nil {
		t.Error(err)
	}
	if ref, rid, err := OpenRefusal(readVector(t, "refusal.note"), verifier("CRI")); err != nil {
		t.Error(err)
	} else if e3, _ := Parse(readVector(t, "envelope-3.bin")); ref.Message != e3.ID() || ref.Header != sha256.Sum256(e3.SignedHeader()) || rid != NoteID(ref.Text()) {
		t.Error("refusal.note does not name envelope-3 and its signed header")
	}
	if sc, err := ParseSequenceConflict(readVector(t, "sequence-conflict.txt")); err != nil {
		t.Error(err)
	} else if err := sc.Verify(verifier("BER")); err != nil {
		t.Error(err)
	}
	checkV2Vectors(t, verifier("BER"), encKey("CRI"))
	checkLogVectors(t, pub)
	if _, err := OpenRelayReceipt(readVector(t, "relay-receipt.note"), verifier("ELM")); err != nil {
		t.Error(err)
	}
	root, err := NewVerifier(pub["DOR root"])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := OpenRatification(readVector(t, "ratification.note"), root); err != nil {
		t.Error(err)
	}

	// Leaf entries: recompute each from its inputs, with the receipt's id
	// taken from the receipt itself.
	lines := strings.Split(strings.TrimSpace(string(readVector(t, "leaves.txt"))), "\n")
	for _, line := range lines[1:] {
		var origin, id, entry string
		var dir byte
		if _, err := fmt.Sscanf(line, "%s %02x %s %s", &origin, &dir, &id, &entry); err != nil {
			t.Fatalf("leaves.txt: %q: %v", line, err)
		}
		pid, err := ParseID(id)
		if err != nil {
			t.Fatal(err)
		}
		got := LeafEntry(origin, Direction(dir), pid)
		if fmt.Sprintf("%x", got) != entry {
			t.Errorf("leaf %s %02x %s: got %x, want %s", origin, dir, id, got, entry)
		}
		// Independently of LeafEntry: the definition, spelled out.
		manual := sha256.Sum256(append(append([]byte("hotline-leaf/v1\n"+origin+"\n"), dir), pid[:]...))
		if manual != got {
			t.Errorf("LeafEntry disagrees with its definition for %q", line)
		}
	}
	if !strings.Contains(string(readVector(t, "leaves.txt")), "hotline/BER 03 "+rid.String()) {
		t.Error("leaves.txt has no 0x03 entry for the receipt's id")
	}
}

// checkV2Vectors checks the private group header's vectors: CRI's
// opening, as the file lists it, opens the commitment on CRI's to line and
// is what CRI's stanza seals; DOR's view holds no trace of it; the
// version 2 sequence-conflict proof verifies with BER's key alone.
func checkV2Vectors(t *testing.T, ber note.Verifier, cri *EncryptionKey) {
	e, err := Parse(readVector(t, "group-v2.bin"))
	if err != nil {
		t.Fatal(err)
	}
	fields := map[string]string{}
	for _, line := range strings.Split(string(readVector(t, "group-v2.opening-CRI.txt")), "\n") {
		if k, v, ok := strings.Cut(line, " "); ok && !strings.HasPrefix(line, "#") {
			fields[k] = v
		}
	}
	o, err := base64.StdEncoding.DecodeString(fields["opening"])
	if err != nil {
		t.Fatal(err)
	}
	seq, prev, err := e.Header.Sequence("CRI", o)
	if err != nil {
		t.Fatal(err)
	}
	e3, _ := Parse(readVector(t, "envelope-3.bin"))
	if fmt.Sprint(seq) != fields["seq"] || prev.String() != fields["prev"] || seq != 3 || prev != e3.ID() {
		t.Errorf("CRI's opening says %d after %s; the file %s after %s; want 3 after envelope-3", seq, prev, fields["seq"], fields["prev"])
	}
	// The definition, spelled out.
	c := sha256.Sum256(append([]byte("hotline-envelope/v2 sequence\nCRI\n"), o...))
	if b64(c[:]) != fields["commitment"] || c != e.Header.Recipients[e.Header.Index("CRI")].Commitment {
		t.Error("the commitment is not SHA-256 of the prefix, the party and the opening")
	}
	v, _ := Parse(readVector(t, "group-v2.view-CRI.bin"))
	m, err := v.Open("CRI", cri)
	if err != nil || !bytes.Equal(m.Opening, o) {
		t.Errorf("CRI's stanza does not seal the listed opening: %v", err)
	}
	dor := readVector(t, "group-v2.view-DOR.bin")
	if bytes.Contains(dor, o) || bytes.Contains(dor, []byte(prev.String())) || bytes.Contains(dor, prev[:]) {
		t.Error("DOR's view carries CRI's opening or previous id")
	}
	sc, err := ParseSequenceConflict(readVector(t, "sequence-conflict-v2.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if err := sc.Verify(ber); err != nil || sc.AOpening == nil || sc.BOpening == nil {
		t.Errorf("sequence-conflict-v2.txt: %v (openings %t %t)", err, sc.AOpening != nil, sc.BOpening != nil)
	}
}
