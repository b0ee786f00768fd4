package tlog

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const (
	vkLog42 = "example.com/log42+c8e15743+AXi+nSnDMwfEmMxi0t8OaqhWUwcE9A5buNYqaduOdsrr"
	vkX1    = "witness.example/X1+270f1a9d+BJv1Moa1odbSIMAH+g7eyujp/ap2/h78nrWKlP9MVPRi"
	vkX2    = "witness.example/X2+525bd8f8+BOGCzVmDNwBwCs8KomEAMrWqvCqAW4FEQc35p0NvlWdG"
	vkY1    = "witness.example/Y1+9846e015+BCjvbfq7fCXt95ilJp9ObavFbF7TQH42mlC0Ip/wXAgr"
)

func readTestdata(tb testing.TB, dir string) map[string][]byte {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", dir, "*"))
	if err != nil {
		tb.Fatal(err)
	}
	out := map[string][]byte{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		out[filepath.Base(f)] = b
	}
	if len(out) == 0 {
		tb.Fatalf("no files in testdata/%s", dir)
	}
	return out
}

func TestParsePolicySpecExample(t *testing.T) {
	p, err := ParsePolicy(readTestdata(t, "policy")["spec-example.txt"])
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Logs) != 1 || len(p.Witnesses) != 6 || len(p.Groups) != 3 || p.Quorum != "X-and-Y" {
		t.Fatalf("parsed %+v", p)
	}
	for _, tc := range []struct {
		cosigned []string
		want     bool
	}{
		{nil, false},
		{[]string{"X1", "X2"}, false},
		{[]string{"X1", "Y3"}, false},
		{[]string{"X1", "X2", "Y3"}, true},
		{[]string{"X1", "X3", "Y1", "Y2"}, true},
		{[]string{"Y1", "Y2", "Y3"}, false},
		{[]string{"X-witnesses", "Y-witnesses"}, false}, // groups are not witnesses
	} {
		set := map[string]bool{}
		for _, c := range tc.cosigned {
			set[c] = true
		}
		if got := p.Satisfied(func(w string) bool { return set[w] }); got != tc.want {
			t.Errorf("Satisfied(%v) = %v, want %v", tc.cosigned, got, tc.want)
		}
	}
}

func TestPolicyRoundTrip(t *testing.T) {
	for name, text := range readTestdata(t, "policy") {
		t.Run(name, func(t *testing.T) {
			p, err := ParsePolicy(text)
			if err != nil {
				t.Fatal(err)
			}
			q, err := ParsePolicy(p.Marshal())
			if err != nil {
				t.Fatalf("reparsing:\n%s\n%v", p.Marshal(), err)
			}
			if diff := cmp.Diff(p, q); diff != "" {
				t.Errorf("round trip (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParsePolicyErrors(t *testing.T) {
	w := func(name, key string) string { return "witness " + name + " " + key + "\n" }
	for _, tc := range []struct {
		name, text string
	}{
		{"no quorum", "log " + vkLog42 + "\n"},
		{"two quorums", "quorum none\nquorum none\n"},
		{"unknown keyword", "logs " + vkLog42 + "\nquorum none\n"},
		{"quorum before its witness", "quorum X1\n" + w("X1", vkX1)},
		{"undefined quorum", w("X1", vkX1) + "quorum X2\n"},
		{"group before its member", "group g any X1\n" + w("X1", vkX1) + "quorum g\n"},
		{"group naming itself", w("X1", vkX1) + "group g any X1 g\nquorum g\n"},
		{"member listed twice", w("X1", vkX1) + "group g any X1 X1\nquorum g\n"},
		{"threshold zero", w("X1", vkX1) + "group g 0 X1\nquorum g\n"},
		{"threshold above n", w("X1", vkX1) + "group g 2 X1\nquorum g\n"},
		{"threshold leading zero", w("X1", vkX1) + w("X2", vkX2) + "group g 01 X1 X2\nquorum g\n"},
		{"threshold word", w("X1", vkX1) + "group g some X1\nquorum g\n"},
		{"group without members", w("X1", vkX1) + "group g any\nquorum g\n"},
		{"witness named none", w("none", vkX1) + "quorum none\n"},
		{"witness defined twice", w("X1", vkX1) + w("X1", vkX2) + "quorum X1\n"},
		{"group shadows witness", w("X1", vkX1) + "group X1 any X1\nquorum X1\n"},
		{"duplicate witness key", w("X1", vkX1) + w("X2", vkX1) + "quorum X1\n"},
		{"duplicate log key", "log " + vkLog42 + "\nlog " + vkLog42 + "\nquorum none\n"},
		{"log key as witness key", w("X1", vkLog42) + "quorum X1\n"},
		{"witness key as log key", "log " + vkX1 + "\nquorum none\n"},
		{"bad vkey", w("X1", "witness.example/X1+00000000+BJv1Moa1odbSIMAH+g7eyujp/ap2/h78nrWKlP9MVPRi") + "quorum X1\n"},
		{"too many fields", w("X1", vkX1+" https://x1 extra") + "quorum X1\n"},
		{"control character", "quorum none\r\n"},
		{"NUL", "quorum\x00 none\n"},
		{"quorum with two names", w("X1", vkX1) + w("Y1", vkY1) + "quorum X1 Y1\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ParsePolicy([]byte(tc.text))
			if err == nil {
				t.Fatalf("parsed %+v", p)
			}
			if !errors.Is(err, ErrPolicy) {
				t.Errorf("error %v does not wrap ErrPolicy", err)
			}
		})
	}
}

func TestPolicyVerifyCheckpoint(t *testing.T) {
	key := newTestKey(t, "example.net/hotline/ber")
	a := newTestWitness(t, "a", key)
	b := newTestWitness(t, "b", key)
	pol := policyFor(t, key, "g", []PolicyGroup{{Name: "g", Threshold: "all", Members: []string{"a", "b"}}}, a, b)
	tree := newMemTree(key).grow("v", 5)
	cp := tree.checkpoint(t, 5)
	withA := cosign(t, a, cp)
	both := cosign(t, b, withA)
	if _, _, err := pol.VerifyCheckpoint(cp); !errors.Is(err, ErrNoQuorum) {
		t.Errorf("no cosignatures: %v", err)
	}
	if _, names, err := pol.VerifyCheckpoint(withA); !errors.Is(err, ErrNoQuorum) || !cmp.Equal(names, []string{"a"}) {
		t.Errorf("one cosignature: %v %v", names, err)
	}
	if _, names, err := pol.VerifyCheckpoint(both); err != nil || len(names) != 2 {
		t.Errorf("both: %v %v", names, err)
	}
	b.clock.Advance(time.Hour)
	both = cosign(t, b, withA)
	_, cosigs, err := pol.Cosignatures(both)
	if err != nil {
		t.Fatal(err)
	}
	_, lines, _ := splitNote(both)
	if diff := cmp.Diff([]Cosignature{{"a", a.clock.Now(), lines[1]}, {"b", b.clock.Now(), lines[2]}}, cosigs); diff != "" {
		t.Errorf("Cosignatures (-want +got):\n%s", diff)
	}
	if _, _, err := pol.VerifyCheckpoint(both, "b"); !errors.Is(err, ErrNoQuorum) {
		t.Errorf("b excluded: %v", err)
	}
	other := newMemTree(newTestKey(t, "example.net/other")).grow("v", 5).checkpoint(t, 5)
	if _, _, err := pol.VerifyCheckpoint(other); err == nil {
		t.Error("a checkpoint of a log outside the policy verified")
	}
}

// cosign has w cosign signed (which must extend what it cosigned) and
// returns signed with the cosignature appended.
func cosign(tb testing.TB, w *testWitness, signed []byte) []byte {
	tb.Helper()
	// Resubmitting the size the witness holds needs no proof.
	var old uint64
	text, _, _ := splitNote(signed)
	if prev, _ := w.store.Latest(tb.Context(), strings.SplitN(string(text), "\n", 2)[0]); prev != nil {
		old = noteSize(prev)
	}
	lines, err := w.w.AddCheckpoint(tb.Context(), FormatAddCheckpoint(old, nil, signed))
	if err != nil {
		tb.Fatal(err)
	}
	return append(append([]byte{}, signed...), lines...)
}

func FuzzParsePolicy(f *testing.F) {
	for _, b := range readTestdata(f, "policy") {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, text []byte) {
		p, err := ParsePolicy(text)
		if err != nil {
			return
		}
		q, err := ParsePolicy(p.Marshal())
		if err != nil {
			t.Fatalf("Marshal output does not parse: %v\n%s", err, p.Marshal())
		}
		if diff := cmp.Diff(p, q); diff != "" {
			t.Fatalf("round trip (-want +got):\n%s", diff)
		}
		p.Satisfied(func(string) bool { return true })
	})
}
