package body

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/bodies/*.json")
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(strings.TrimSuffix(filepath.Base(name), ".json"), bytes.TrimSpace(b))
	}
	f.Fuzz(func(t *testing.T, kind string, raw []byte) {
		b, err := Parse(kind, raw)
		if err != nil {
			if ErrorCode(err) == "" {
				t.Fatalf("error without a code: %v", err)
			}
			return
		}
		m, err := b.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		b2, err := Parse(kind, m)
		if err != nil {
			t.Fatalf("the marshalled body does not parse: %v\n%s", err, m)
		}
		if diff := cmp.Diff(b, b2); diff != "" {
			t.Fatalf("round trip (-first +second):\n%s", diff)
		}
		m2, _ := b2.Marshal()
		if !bytes.Equal(m, m2) {
			t.Fatal("Marshal is not stable")
		}
		for _, l := range Languages() {
			if _, err := Render(l, kind, b, Meta{}); err != nil {
				t.Fatal(err)
			}
		}
	})
}
