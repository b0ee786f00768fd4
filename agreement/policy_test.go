package agreement

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParsePolicy(t *testing.T) {
	ws := []string{"A1", "A2", "A3", "B1", "B2"}
	tests := []struct {
		name  string
		lines []string
		ok    bool
	}{
		{"none", []string{"quorum none"}, true},
		{"one witness", []string{"quorum A1"}, true},
		{"threshold", []string{"group g 2 A1 A2 A3", "quorum g"}, true},
		{"nested", []string{"group a any A1 A2 A3", "group b all B1 B2", "group ab all a b", "quorum ab"}, true},
		{"empty", nil, false},
		{"no quorum", []string{"group g 2 A1 A2 A3"}, false},
		{"quorum not last", []string{"quorum none", "group g 2 A1 A2 A3"}, false},
		{"two quorums", []string{"quorum A1", "quorum A2"}, false},
		{"unknown witness", []string{"quorum C1"}, false},
		{"group before definition", []string{"group ab all a", "group a any A1", "quorum ab"}, false},
		{"member twice", []string{"group g 1 A1 A1", "quorum g"}, false},
		{"threshold zero", []string{"group g 0 A1 A2", "quorum g"}, false},
		{"threshold too high", []string{"group g 3 A1 A2", "quorum g"}, false},
		{"threshold with a leading zero", []string{"group g 02 A1 A2", "quorum g"}, false},
		{"group named none", []string{"group none any A1", "quorum none"}, false},
		{"group shadowing a witness", []string{"group A1 any A2", "quorum A1"}, false},
		{"none as a member", []string{"group g any none A1", "quorum g"}, false},
		{"log line", []string{"log example.com/log+01234567+AAAA", "quorum none"}, false},
		{"witness line", []string{"witness A1 A1+01234567+AAAA", "quorum A1"}, false},
		{"double space", []string{"group g  any A1", "quorum g"}, false},
		{"tab", []string{"group g\tany A1", "quorum g"}, false},
		{"comment", []string{"# witnesses", "quorum none"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParsePolicy(tt.lines, ws)
			if tt.ok && err != nil {
				t.Fatal(err)
			}
			if !tt.ok && ErrorCode(err) != "bad_policy" {
				t.Fatalf("error %v, want bad_policy", err)
			}
		})
	}
}

func TestPolicySatisfied(t *testing.T) {
	p, err := ParsePolicy([]string{"group a 2 A1 A2 A3", "group b any B1 B2", "group ab all a b", "quorum ab"}, []string{"A1", "A2", "A3", "B1", "B2"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		cosigners []string
		owner     string
		want      bool
	}{
		{nil, "", false},
		{[]string{"A1", "A2"}, "", false},
		{[]string{"A1", "A2", "B2"}, "", true},
		{[]string{"A1", "A3", "B1"}, "", true},
		{[]string{"A1", "A3", "B1"}, "A1", false},
		{[]string{"A1", "A2", "A3", "B1"}, "A1", true},
		{[]string{"A1", "A2", "A3", "B1"}, "B1", false},
	}
	for _, tt := range tests {
		has := func(w string) bool { return slices.Contains(tt.cosigners, w) }
		got := p.SatisfiedWithout(tt.owner, has)
		if got != tt.want {
			t.Errorf("cosigned by %v, owner %q: got %v, want %v", tt.cosigners, tt.owner, got, tt.want)
		}
	}
	none, _ := ParsePolicy([]string{"quorum none"}, nil)
	if !none.None() || !none.Satisfied(func(string) bool { return false }) {
		t.Error(`"quorum none" needs a cosignature`)
	}
	for n, want := range map[int]int{0: 0, 1: 0, 2: 1, 3: 2, 4: 2, 5: 3, 193: 97} {
		if got := DefaultThreshold(n); got != want {
			t.Errorf("DefaultThreshold(%d) = %d, want %d", n, got, want)
		}
		ws := make([]string, n)
		for i := range ws {
			ws[i] = "W" + string(rune('A'+i%26)) + string(rune('A'+i/26))
		}
		p, err := ParsePolicy(DefaultPolicy(ws, DefaultThreshold(n)), ws)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.checkAttainable(); err != nil {
			t.Errorf("%d witnesses: the default policy cannot be met: %v", n, err)
		}
		if p.Threshold() != want {
			t.Errorf("%d witnesses: Threshold() = %d, want %d", n, p.Threshold(), want)
		}
	}
}

func TestDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		out  string
	}{
		{"90m", 90 * time.Minute, "90m"},
		{"60m", time.Hour, "1h"},
		{"24h", 24 * time.Hour, "1d"},
		{"72h", 72 * time.Hour, "3d"},
		{"12h", 12 * time.Hour, "12h"},
		{"30d", 30 * 24 * time.Hour, "30d"},
		{"0m", 0, "0m"},
	}
	for _, tt := range tests {
		d, err := ParseDuration(tt.in)
		if err != nil || time.Duration(d) != tt.want || d.String() != tt.out {
			t.Errorf("ParseDuration(%q) = %v (%s), %v; want %v (%s)", tt.in, time.Duration(d), d, err, tt.want, tt.out)
		}
	}
	for _, bad := range []string{"", "d", "1", "1s", "1w", "-1h", "01h", "1.5h", "1H", "999999d", " 1h", "+1h"} {
		if _, err := ParseDuration(bad); ErrorCode(err) != "invalid_value" {
			t.Errorf("ParseDuration(%q) error %v, want invalid_value", bad, err)
		}
	}
}

func FuzzParsePolicy(f *testing.F) {
	files, _ := filepath.Glob("testdata/policy/*.txt")
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	f.Fuzz(func(t *testing.T, text string) {
		lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
		ws := []string{"A1", "A2", "A3", "B1", "B2"}
		p, err := ParsePolicy(lines, ws)
		if err != nil {
			if ErrorCode(err) != "bad_policy" {
				t.Fatalf("error without the bad_policy code: %v", err)
			}
			return
		}
		// Round trip: the lines parse again to the same decisions.
		q, err := ParsePolicy(p.Lines(), p.Witnesses())
		if err != nil {
			t.Fatal(err)
		}
		for mask := 0; mask < 1<<len(ws); mask++ {
			has := func(w string) bool {
				i := slices.Index(ws, w)
				return i >= 0 && mask&(1<<i) != 0
			}
			if p.Satisfied(has) != q.Satisfied(has) {
				t.Fatal("the round trip changed the quorum")
			}
		}
	})
}

func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"90m", "1h", "7d", "0m", "99999d", "01h"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDuration(s)
		if err != nil {
			return
		}
		e, err := ParseDuration(d.String())
		if err != nil || e != d {
			t.Fatalf("%q → %v → %q → %v, %v", s, time.Duration(d), d.String(), time.Duration(e), err)
		}
	})
}

// TestPolicySharedGroups checks that a policy whose groups share members
// is decided in linear time: evaluated naively, this one would take about
// 2^500 steps.
func TestPolicySharedGroups(t *testing.T) {
	lines := []string{"group g0 any A1 A2", "group g1 all g0 A3"}
	for i := 2; i < 1000; i++ {
		lines = append(lines, fmt.Sprintf("group g%d all g%d g%d", i, i-1, i-2))
	}
	lines = append(lines, "quorum g999")
	p, err := ParsePolicy(lines, []string{"A1", "A2", "A3"})
	if err != nil {
		t.Fatal(err)
	}
	if !p.Satisfied(func(w string) bool { return w != "A2" }) {
		t.Error("A1 and A3 do not meet the quorum")
	}
	if p.Satisfied(func(w string) bool { return w != "A3" }) {
		t.Error("the quorum is met without A3")
	}
	if err := p.checkAttainable(); ErrorCode(err) != "bad_policy" {
		t.Errorf("checkAttainable: %v, want bad_policy (A3's log can never meet it)", err)
	}
}

// TestNeutral: a policy gives party P a neutral time on O's log only if
// the quorum is met without both O and P.
func TestNeutral(t *testing.T) {
	ws := []string{"A", "B", "C", "D"}
	for _, tt := range []struct {
		k    int
		want bool
	}{{1, true}, {2, true}, {3, false}} {
		p, err := ParsePolicy(DefaultPolicy(ws, tt.k), ws)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.Neutral("A", "B"); got != tt.want {
			t.Errorf("%d of 4: Neutral(A, B) = %v, want %v", tt.k, got, tt.want)
		}
		// A party that is not a witness takes nothing away.
		if !p.Neutral("A", "Z") {
			t.Errorf("%d of 4: Neutral(A, Z) = false", tt.k)
		}
	}
}
