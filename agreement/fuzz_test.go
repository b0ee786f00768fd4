package agreement

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hotline-net/hotline"
)

// TestVectors checks the agreements in testdata/: each parses, verifies
// and marshals back to itself. With -update they are rebuilt (new keys).
func TestVectors(t *testing.T) {
	if *update {
		n := newTestNet(t)
		goldenFile(t, "sample.json", n.a.Marshal())
		goldenFile(t, "chain.json", buildChain(t, n).Marshal())
	}
	files, err := filepath.Glob("testdata/*.json")
	if err != nil || len(files) < 2 {
		t.Fatalf("test vectors: %v, %v", files, err)
	}
	for _, name := range files {
		t.Run(filepath.Base(name), func(t *testing.T) {
			b, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			a, err := Parse(b)
			if err != nil {
				t.Fatal(err)
			}
			if err := a.Verify(); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(a.Marshal(), b) {
				t.Error("does not marshal back to itself")
			}
		})
	}
}

// buildChain extends n's agreement with a second version (a closed group),
// ratified by two of three parties, BER's rotation of its message key,
// CRI's revocation of its encryption key, OSL's rotation of its root key and
// its next entry signed by the new root.
func buildChain(tb testing.TB, n *testNet) *Agreement {
	tb.Helper()
	d, err := n.a.NextDraft()
	if err != nil {
		tb.Fatal(err)
	}
	d.Groups = append(d.Groups, Group{ID: "south", Kind: GroupClosed, Members: []string{"BER", "CRI"}})
	d.Issued, d.Effective = t0.Add(24*time.Hour), t0.Add(48*time.Hour)
	a, err := n.a.WithDraft(d)
	if err != nil {
		tb.Fatal(err)
	}
	terms, err := SignTerms(d, n.keys["DEP"].Root)
	if err != nil {
		tb.Fatal(err)
	}
	if a, err = a.With(terms); err != nil {
		tb.Fatal(err)
	}
	if _, ok := a.Draft(); ok {
		tb.Fatal("the signed version did not replace the draft")
	}
	for _, p := range []string{"BER", "OSL"} {
		r, err := Ratify(a.Latest(), p, t0.Add(36*time.Hour), n.keys[p].Root)
		if err != nil {
			tb.Fatal(err)
		}
		if a, err = a.With(r); err != nil {
			tb.Fatal(err)
		}
	}
	ber := n.keys["BER"].Public()
	k, _ := hotline.GenerateSigningKey("BER", false)
	ber.Message = k.VerifierKey()
	a = rotate(tb, n, a, "BER", EntryUpdate{Keys: ber, Issued: t0.Add(72 * time.Hour)})
	cri := n.keys["CRI"].Public()
	ek, _ := hotline.GenerateEncryptionKey("CRI/encryption")
	cri.Encryption = ek.Public().String()
	a = rotate(tb, n, a, "CRI", EntryUpdate{Keys: cri, Issued: t0.Add(96 * time.Hour), Revoke: []hotline.KeyRole{hotline.RoleEncryption}, RevokedAt: t0.Add(80 * time.Hour)})
	osl := n.keys["OSL"]
	after, err := hotline.GenerateSigningKey("OSL/root", false)
	if err != nil {
		tb.Fatal(err)
	}
	s, err := a.NextRootStatement("OSL", RootRotation, osl.NextRoot.VerifierKey(), RootCommitment(after.VerifierKey()), t0.Add(100*time.Hour))
	if err != nil {
		tb.Fatal(err)
	}
	rs, err := SignRoot(s, osl.Root, osl.NextRoot)
	if err != nil {
		tb.Fatal(err)
	}
	if a, err = a.With(rs); err != nil {
		tb.Fatal(err)
	}
	osl.Root, osl.NextRoot = osl.NextRoot, after
	return rotate(tb, n, a, "OSL", EntryUpdate{Keys: osl.Public(), Issued: t0.Add(101 * time.Hour), Reconfirm: true})
}

// FuzzRootStatement parses one root statement on its own: a parse that
// succeeds writes back the same note text.
func FuzzRootStatement(f *testing.F) {
	b, err := os.ReadFile("testdata/chain.json")
	if err != nil {
		f.Fatal(err)
	}
	a, err := Parse(b)
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range []string{"OSL"} {
		for _, r := range a.Roots(p) {
			f.Add(r.Note)
		}
	}
	f.Add([]byte(RootTag + "\n{}\n\n— OSL/root AAAA\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := parseRoot(b, "fuzz")
		if err != nil {
			if ErrorCode(err) == "" {
				t.Fatalf("error without a code: %v", err)
			}
			return
		}
		text, err := documentText(RootTag, &r.RootStatement)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(b, text) {
			t.Fatal("the statement does not write back to its own text")
		}
	})
}

func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.json")
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"format": "hotline-agreement/v1"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := Parse(b)
		if err != nil {
			if ErrorCode(err) == "" {
				t.Fatalf("error without a code: %v", err)
			}
			return
		}
		_ = a.Verify()
		m := a.Marshal()
		a2, err := Parse(m)
		if err != nil {
			t.Fatalf("the marshalled form does not parse: %v", err)
		}
		if !bytes.Equal(a2.Marshal(), m) {
			t.Fatal("Marshal is not stable")
		}
	})
}
