package body

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/hotline-net/hotline"
)

// TestRenderGolden renders every sample body in every language and
// compares with testdata/golden/<kind>.<lang>.txt (go test -update
// rewrites them).
func TestRenderGolden(t *testing.T) {
	for _, tmpl := range Templates() {
		b, err := Parse(tmpl.Kind, mustSample(t, tmpl.Kind))
		if err != nil {
			t.Fatal(err)
		}
		m := Meta{Severity: hotline.SeverityHigh, Marking: hotline.TLPAmber}
		if tmpl.Kind == "ping" || tmpl.Kind == "ack" {
			m = Meta{Severity: hotline.SeverityLow, Marking: hotline.TLPGreen, Exercise: true}
		}
		for _, lang := range Languages() {
			t.Run(fmt.Sprintf("%s.%s", tmpl.Kind, lang), func(t *testing.T) {
				got, err := Render(lang, tmpl.Kind, b, m)
				if err != nil {
					t.Fatal(err)
				}
				path := filepath.Join("testdata", "golden", fmt.Sprintf("%s.%s.txt", tmpl.Kind, lang))
				if *update {
					if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (go test -update writes it)", err)
				}
				if diff := cmp.Diff(string(want), got); diff != "" {
					t.Errorf("rendering differs from %s (-want +got):\n%s", path, diff)
				}
				checkDirection(t, lang, got)
			})
		}
	}
}

// checkDirection checks the directional marks: every Arabic line starts
// with RLM and every isolate is closed on its line; other languages have
// no RLM.
func checkDirection(t *testing.T, lang Language, s string) {
	t.Helper()
	for i, line := range strings.Split(strings.TrimSuffix(s, "\n"), "\n") {
		if lang.RTL() != strings.HasPrefix(line, rlm) {
			t.Errorf("line %d %q: starts with RLM: %v, want %v", i+1, line, !lang.RTL(), lang.RTL())
		}
		open := strings.Count(line, lri) + strings.Count(line, fsi)
		if closed := strings.Count(line, pdi); open != closed {
			t.Errorf("line %d %q: %d isolates opened, %d closed", i+1, line, open, closed)
		}
	}
}

func TestRenderRefusals(t *testing.T) {
	b, err := Parse("ping", mustSample(t, "ping"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Render("de", "ping", b, Meta{}); ErrorCode(err) != "unsupported_language" {
		t.Errorf("rendering in German: %v", err)
	}
	if _, err := Render(English, "gossip", b, Meta{}); ErrorCode(err) != "unknown_kind" {
		t.Errorf("rendering an unknown kind: %v", err)
	}
}

func TestRenderIsolatesRTLText(t *testing.T) {
	b := &Body{Language: "ar", Reason: "error", Text: "أرسلت خطأ"}
	got, err := Render(English, "retraction", b, Meta{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got, fsi+"أرسلت خطأ"+pdi) {
		t.Errorf("Arabic text in an English rendering is not isolated:\n%q", got)
	}
	b = &Body{Language: "en", Reason: "error", Text: "Sent by mistake"}
	got, _ = Render(English, "retraction", b, Meta{})
	if strings.ContainsAny(got, fsi+lri+pdi+rlm) {
		t.Errorf("an English rendering of English text carries directional marks:\n%q", got)
	}
}
