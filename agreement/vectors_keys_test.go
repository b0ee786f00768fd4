package agreement

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/cryptotest"
	"time"

	"github.com/hotline-net/hotline"
)

// vectorKeys reads the protocol's vector key sets (testdata/vectors/keys.txt
// of the repository root).
func vectorKeys(tb testing.TB) map[string]*hotline.KeySet {
	tb.Helper()
	f, err := os.Open(filepath.Join("..", "testdata", "vectors", "keys.txt"))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	out := map[string]*hotline.KeySet{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) != 4 || fs[2] != "private" {
			continue
		}
		ks := out[fs[0]]
		if ks == nil {
			ks = &hotline.KeySet{Party: fs[0]}
			out[fs[0]] = ks
		}
		var sk *hotline.SigningKey
		if fs[1] != string(hotline.RoleEncryption) {
			if sk, err = hotline.ParseSigningKey(fs[3]); err != nil {
				tb.Fatal(err)
			}
		}
		switch hotline.KeyRole(fs[1]) {
		case hotline.RoleRoot:
			ks.Root = sk
		case hotline.RoleMessage:
			ks.Message = sk
		case hotline.RoleCheckpoint:
			ks.Checkpoint = sk
		case hotline.RoleWitness:
			ks.Witness = sk
		case hotline.RoleEncryption:
			if ks.Encryption, err = hotline.ParseEncryptionKey(fs[3]); err != nil {
				tb.Fatal(err)
			}
		}
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return out
}

// TestVectorsAgreementKeys builds, from the vector keys, an agreement with
// ELM as depositary and BER, CRI, DOR as parties, issued at
// 2026-11-27T09:00:00Z, in which BER replaces its message key a day later;
// and checks byte for byte (or, with -update, writes) in
// agreement/testdata/vectors/: agreement.json (the agreement file), agreement-id.txt
// (the hash of version 1: SHA-256 of its note text) and key-validity.txt
// (the message key valid for BER at several times). docs/PROTOCOL.md §10
// lists them.
func TestVectorsAgreementKeys(t *testing.T) {
	cryptotest.SetGlobalRandom(t, 20261128)
	keys := vectorKeys(t)
	t0 := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	party := func(id string) SampleParty {
		return SampleParty{Keys: keys[id], Endpoints: []string{"https://" + strings.ToLower(id) + ".example"}}
	}
	a, err := Sample(SampleConfig{Depositary: party("ELM"), Parties: []SampleParty{party("BER"), party("CRI"), party("DOR")}, Time: t0})
	if err != nil {
		t.Fatal(err)
	}
	newKey, err := hotline.GenerateSigningKey("BER", false)
	if err != nil {
		t.Fatal(err)
	}
	pub := keys["BER"].Public()
	pub.Message = newKey.VerifierKey()
	prev, err := a.Entry("BER")
	if err != nil {
		t.Fatal(err)
	}
	e, err := NextEntry(prev, EntryUpdate{Keys: pub, Issued: t0.Add(time.Hour), At: t0.Add(24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	n, err := SignEntry(e, keys["BER"].Root)
	if err != nil {
		t.Fatal(err)
	}
	if a, err = a.With(n); err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{
		"agreement.json":   a.Marshal(),
		"agreement-id.txt": fmt.Appendf(nil, "# the hash of version 1: SHA-256 of its note text\nversion 1 %s\n", a.Latest().Hash()),
	}
	var kv bytes.Buffer
	kv.WriteString("# party, role, time, the key valid then (name+hash), or none\n")
	for _, at := range []time.Time{t0, t0.Add(24*time.Hour - time.Second), t0.Add(24 * time.Hour), t0.Add(48 * time.Hour), t0.Add(-time.Second)} {
		v, err := a.MessageKey("BER", at)
		key := "none"
		if err == nil {
			key = fmt.Sprintf("%s+%08x", v.Name(), v.KeyHash())
		}
		fmt.Fprintf(&kv, "BER message %s %s\n", hotline.FormatTime(at), key)
	}
	files["key-validity.txt"] = kv.Bytes()
	dir := filepath.Join("testdata", "vectors")
	for name, b := range files {
		path := filepath.Join(dir, name)
		if *update {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test ./agreement -run TestVectorsAgreementKeys -update)", err)
		}
		if !bytes.Equal(got, b) {
			t.Errorf("%s differs from what the generator makes (run go test ./agreement -run TestVectorsAgreementKeys -update)", name)
		}
	}
}
