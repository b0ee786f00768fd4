package hotline

import (
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"
)

func TestKeySetSaveLoad(t *testing.T) {
	ks, err := GenerateKeySet("BER", "")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "keys")
	if err := ks.Save(dir); err != nil {
		t.Fatal(err)
	}
	for _, r := range KeyRoles() {
		st, err := os.Stat(filepath.Join(dir, keyFile(r)))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s key file has mode %#o, want 0600", r, st.Mode().Perm())
		}
	}
	got, err := LoadKeySet(dir)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(ks.Public(), got.Public()); diff != "" {
		t.Errorf("public keys changed across save and load (-want +got):\n%s", diff)
	}
	if got.Origin() != "hotline/BER" {
		t.Errorf("origin %q", got.Origin())
	}
	pub, err := os.ReadFile(filepath.Join(dir, PublicKeysFile))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(pub), "message "+ks.Message.VerifierKey()+"\n") || strings.Contains(string(pub), "PRIVATE") {
		t.Errorf("public.keys:\n%s", pub)
	}
	if err := ks.Save(dir); err == nil {
		t.Error("Save overwrote existing keys")
	}

	// The root key is kept offline: a node loads without it.
	if err := os.Remove(filepath.Join(dir, keyFile(RoleRoot))); err != nil {
		t.Fatal(err)
	}
	if got, err := LoadKeySet(dir); err != nil || got.Root != nil {
		t.Errorf("without root.key: %v, root %v", err, got.Root)
	}
	// Any other key is required.
	os.Rename(filepath.Join(dir, "message.key"), filepath.Join(dir, "message.bak"))
	if _, err := LoadKeySet(dir); err == nil {
		t.Error("loaded a key set without its message key")
	}
	os.Rename(filepath.Join(dir, "message.bak"), filepath.Join(dir, "message.key"))

	// A key file others can read is refused.
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o660} {
		os.Chmod(filepath.Join(dir, "encryption.key"), mode)
		if _, err := LoadKeySet(dir); !errors.Is(err, ErrKeyFilePermissions) {
			t.Errorf("mode %#o: got %v, want ErrKeyFilePermissions", mode, err)
		}
	}
}

// TestNextRoot: the pre-rotation key is saved beside the root key, its
// commitment (not the key) goes to public.keys, and a node loads without it.
func TestNextRoot(t *testing.T) {
	ks, err := GenerateKeySet("BER", "")
	if err != nil {
		t.Fatal(err)
	}
	if err := ks.GenerateNextRoot(); err != nil {
		t.Fatal(err)
	}
	if ks.NextRoot.Name() != "BER/root" || ks.NextRoot.VerifierKey() == ks.Root.VerifierKey() {
		t.Fatalf("next root %s", ks.NextRoot.VerifierKey())
	}
	dir := filepath.Join(t.TempDir(), "keys")
	if err := ks.Save(dir); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(dir, "next-root.key"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("next-root.key: %v %v", st, err)
	}
	got, err := LoadKeySet(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got.NextRoot == nil || got.NextRoot.VerifierKey() != ks.NextRoot.VerifierKey() {
		t.Error("the next root did not survive save and load")
	}
	c := RootCommitment(ks.NextRoot.VerifierKey())
	pub, _ := os.ReadFile(filepath.Join(dir, PublicKeysFile))
	if !strings.Contains(string(pub), "next_root "+hex.EncodeToString(c[:])+"\n") || strings.Contains(string(pub), ks.NextRoot.VerifierKey()) {
		t.Errorf("public.keys:\n%s", pub)
	}
	os.Remove(filepath.Join(dir, "next-root.key"))
	if got, err := LoadKeySet(dir); err != nil || got.NextRoot != nil {
		t.Errorf("without next-root.key: %v", err)
	}
}

func TestKeyTextForms(t *testing.T) {
	ks, err := GenerateKeySet("CRI", "log.cri.example/hotline")
	if err != nil {
		t.Fatal(err)
	}
	// Note keys interoperate with golang.org/x/mod/sumdb/note.
	for _, k := range []*SigningKey{ks.Root, ks.Message, ks.Checkpoint} {
		s, err := note.NewSigner(k.String())
		if err != nil {
			t.Fatalf("%s: x/mod does not parse the private key: %v", k.Name(), err)
		}
		v, err := note.NewVerifier(k.VerifierKey())
		if err != nil {
			t.Fatalf("%s: x/mod does not parse the vkey: %v", k.Name(), err)
		}
		msg, err := note.Sign(&note.Note{Text: "hello\n"}, k)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := note.Open(msg, note.VerifierList(v)); err != nil {
			t.Errorf("%s: x/mod does not verify our signature: %v", k.Name(), err)
		}
		if s.KeyHash() != k.KeyHash() || v.KeyHash() != k.KeyHash() {
			t.Errorf("%s: key hash differs from x/mod's", k.Name())
		}
		back, err := ParseSigningKey(k.String())
		if err != nil || back.VerifierKey() != k.VerifierKey() {
			t.Errorf("%s: private key does not round-trip: %v", k.Name(), err)
		}
	}
	if ks.Checkpoint.Name() != "log.cri.example/hotline" {
		t.Errorf("checkpoint key named %q, want the origin", ks.Checkpoint.Name())
	}

	// The witness key is a cosignature/v1 key for transparency-dev/formats.
	w, err := fnote.NewSignerForCosignatureV1(ks.Witness.String())
	if err != nil {
		t.Fatal(err)
	}
	wv, err := fnote.NewVerifierForCosignatureV1(ks.Witness.VerifierKey())
	if err != nil {
		t.Fatal(err)
	}
	if w.KeyHash() != ks.Witness.KeyHash() || wv.KeyHash() != ks.Witness.KeyHash() {
		t.Errorf("witness key hash %08x, formats says %08x / %08x", ks.Witness.KeyHash(), w.KeyHash(), wv.KeyHash())
	}
	cs, err := ks.Witness.CosignatureSigner()
	if err != nil {
		t.Fatal(err)
	}
	msg, err := note.Sign(&note.Note{Text: "o\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"}, cs)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := note.Open(msg, note.VerifierList(wv)); err != nil {
		t.Errorf("cosignature does not verify with formats/note: %v", err)
	}
	if _, err := ks.Witness.Sign([]byte("x")); err == nil {
		t.Error("a cosignature key made a plain signature")
	}

	// The encryption key's text forms round-trip.
	pub, err := ParseEncryptionPublicKey(ks.Encryption.Public().String())
	if err != nil {
		t.Fatal(err)
	}
	if !pub.Equal(ks.Encryption.Public()) || pub.ID() != ks.Encryption.Public().ID() {
		t.Error("encryption public key does not round-trip")
	}
	priv, err := ParseEncryptionKey(ks.Encryption.String())
	if err != nil {
		t.Fatal(err)
	}
	if !priv.Public().Equal(ks.Encryption.Public()) {
		t.Error("encryption private key does not round-trip")
	}
}

func TestKeyParseErrors(t *testing.T) {
	ks, err := GenerateKeySet("DOR", "")
	if err != nil {
		t.Fatal(err)
	}
	msg := ks.Message.String()
	pub := ks.Encryption.Public().String()
	tests := []struct {
		name  string
		parse func() error
	}{
		{"signing: empty", func() error { _, err := ParseSigningKey(""); return err }},
		{"signing: a public key", func() error { _, err := ParseSigningKey(ks.Message.VerifierKey()); return err }},
		{"signing: wrong hash", func() error {
			_, err := ParseSigningKey(strings.Replace(msg, "+DOR+", "+DOR+0", 1)[:len(msg)])
			return err
		}},
		{"signing: bad base64", func() error { _, err := ParseSigningKey(msg[:len(msg)-2] + "!!"); return err }},
		{"signing: space in name", func() error { _, err := GenerateSigningKey("D OR", false); return err }},
		{"encryption: vkey instead", func() error { _, err := ParseEncryptionPublicKey(ks.Message.VerifierKey()); return err }},
		{"encryption: truncated", func() error { _, err := ParseEncryptionPublicKey(pub[:len(pub)-8]); return err }},
		{"encryption: wrong hash", func() error {
			_, err := ParseEncryptionPublicKey(strings.Replace(pub, "+", "+0", 1)[:len(pub)])
			return err
		}},
		{"encryption private: public form", func() error { _, err := ParseEncryptionKey(pub); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.parse(); err == nil {
				t.Error("parsed")
			}
		})
	}
}

func TestCheckPartyID(t *testing.T) {
	for _, id := range []string{"BER", "EU", "UNODA", "EU-CERT", "A1", "ABCDEFGHIJKLMNOP"} {
		if err := CheckPartyID(id); err != nil {
			t.Errorf("%q: %v", id, err)
		}
	}
	for _, id := range []string{"", "B", "ber", "1AB", "-AB", "AB CD", "ABCDEFGHIJKLMNOPQ", "BÉR", "AB/C", "AB+C"} {
		if err := CheckPartyID(id); err == nil {
			t.Errorf("%q accepted", id)
		}
	}
}
