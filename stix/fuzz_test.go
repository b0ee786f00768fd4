package stix

import (
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hotline-net/hotline"
)

// FuzzValidate feeds arbitrary input to the validator, seeded with every
// document in testdata/. Whatever the input, Validate must not panic, and
// it must either refuse it with one-line errors that carry a code, or
// accept it; an accepted bundle must survive being written back and being
// marked.
func FuzzValidate(f *testing.F) {
	err := filepath.WalkDir("testdata", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".json") {
			f.Add(mustRead(f, p))
		}
		return err
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(`{"type":"bundle","id":"bundle--44af6c39-c09b-49c5-9de2-394224b04982","objects":[1,{"type":"x"}]}`))
	v := newTestValidator(f, Config{MaxSize: 1 << 20, MaxObjects: 200})

	f.Fuzz(func(t *testing.T, data []byte) {
		b, o, err := v.Validate(data)
		if err != nil {
			if b != nil || o != nil {
				t.Fatal("a result with an error")
			}
			for line := range strings.SplitSeq(err.Error(), "\n") {
				if line == "" {
					t.Fatalf("empty error line in %q", err)
				}
			}
			var es Errors
			switch e := err.(type) {
			case *Error:
				es = Errors{e}
			case Errors:
				es = e
			default:
				t.Fatalf("error of type %T", err)
			}
			for _, e := range es {
				if e.Code == "" || strings.Contains(e.Error(), "\n") {
					t.Fatalf("bad error %#v", e)
				}
			}
			return
		}
		if o != nil {
			if b != nil {
				t.Fatal("both a bundle and an object")
			}
			o.Marking()
			return
		}

		// Round trip: Bytes validates to the same objects.
		b2, err := v.ValidateBundle(b.Bytes())
		if err != nil {
			t.Fatalf("Bytes() of an accepted bundle is refused: %v\n%s", err, b.Bytes())
		}
		if !slices.EqualFunc(b.Objects, b2.Objects, func(x, y *Object) bool { return x.ID == y.ID && x.Type == y.Type }) {
			t.Fatal("round trip changed the objects")
		}
		m1, ok1 := b.Marking()
		m2, ok2 := b2.Marking()
		if m1 != m2 || ok1 != ok2 {
			t.Fatalf("round trip changed the marking: %v %v -> %v %v", m1, ok1, m2, ok2)
		}
		if ok1 && CheckMarking(b, m1) != nil {
			t.Fatal("a bundle does not fit an envelope of its own marking")
		}

		// Marking: the result validates and reads back as the marking set,
		// unless the bundle held nothing but TLP definitions to mark.
		content := slices.ContainsFunc(b.Objects, func(o *Object) bool { return o.tlp == "" })
		if err := b.SetMarking(hotline.TLPAmber); err != nil {
			t.Fatalf("SetMarking: %v", err)
		}
		b3, err := v.ValidateBundle(b.Bytes())
		if err != nil {
			t.Fatalf("marked bundle refused: %v\n%s", err, b.Bytes())
		}
		if m, ok := b3.Marking(); content && (!ok || m != hotline.TLPAmber) {
			t.Fatalf("marked AMBER, reads %v %v", m, ok)
		}
	})
}
