package agreement

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/hotline-net/hotline"
)

var update = flag.Bool("update", false, "rewrite the files in testdata/")

// t0 is the time every test agreement is issued at.
var t0 = time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)

// testNet is a depositary and three parties with their keys, and the
// sample agreement between them.
type testNet struct {
	keys map[string]*hotline.KeySet
	a    *Agreement
}

func mustKeys(tb testing.TB, party string) *hotline.KeySet {
	tb.Helper()
	ks, err := hotline.GenerateKeySet(party, "")
	if err != nil {
		tb.Fatal(err)
	}
	if err := ks.GenerateNextRoot(); err != nil {
		tb.Fatal(err)
	}
	return ks
}

func newTestNet(tb testing.TB) *testNet {
	tb.Helper()
	n := &testNet{keys: map[string]*hotline.KeySet{}}
	for _, p := range []string{"DEP", "BER", "CRI", "OSL"} {
		n.keys[p] = mustKeys(tb, p)
	}
	party := func(id string) SampleParty {
		return SampleParty{Keys: n.keys[id], Name: "Party " + id, Endpoints: []string{"https://" + id + ".example:8443/"}}
	}
	a, err := Sample(SampleConfig{
		Depositary: party("DEP"),
		Parties:    []SampleParty{party("BER"), party("CRI"), party("OSL")},
		Time:       t0,
		Groups:     []Group{{ID: "north", Kind: GroupClosed, Members: []string{"BER", "OSL"}}},
	})
	if err != nil {
		tb.Fatal(err)
	}
	n.a = a
	return n
}

// signRaw signs note text without any of the checks SignTerms and
// SignEntry make, to build documents that break the rules.
func signRaw(tb testing.TB, text []byte, signers ...note.Signer) []byte {
	tb.Helper()
	b, err := note.Sign(&note.Note{Text: string(text)}, signers...)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func mustText(tb testing.TB, tag string, v any) []byte {
	tb.Helper()
	b, err := documentText(tag, v)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// goldenFile writes b to testdata/name with -update, else returns the
// file's contents.
func goldenFile(tb testing.TB, name string, b []byte) []byte {
	tb.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, b, 0o644); err != nil {
			tb.Fatal(err)
		}
		return b
	}
	got, err := os.ReadFile(path)
	if err != nil {
		tb.Fatalf("%v (run go test -update to create it)", err)
	}
	return got
}
