package strictjson

import (
	"encoding/json"
	"testing"

	"github.com/hotline-net/hotline"
)

// FuzzCheck checks that Check never panics, refuses with a code, and
// accepts only what encoding/json accepts as one object.
func FuzzCheck(f *testing.F) {
	for _, s := range []string{
		`{"language":"en","title":"t","stix":{"type":"bundle","Objects":null}}`,
		`{"a":{"b":[1,2,{"c":"d"}]}}`,
		`{"a":1,"a":2}`,
		`{"Version":1}`,
		`{"a":null}`,
		`[[[[[[]]]]]]`,
		`{} {}`,
		"{\"a\":\"\xff\"}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		err := Check(b, Options{What: "fuzz", MaxDepth: 8, Free: "stix"})
		if err != nil {
			if hotline.ErrorCode(err) == "" {
				t.Fatalf("refusal without a code: %v", err)
			}
			return
		}
		var v map[string]any
		if json.Unmarshal(b, &v) != nil {
			t.Fatalf("accepted what encoding/json refuses as an object: %q", b)
		}
	})
}

func TestCheck(t *testing.T) {
	o := Options{What: "doc", MaxDepth: 3, Free: "stix"}
	for _, tt := range []struct {
		in   string
		code string
	}{
		{`{"a":1,"b":[1,2]}`, ""},
		{`{"stix":{"Type":"bundle","x":null}}`, ""},
		{`{"a":1,"a":2}`, "duplicate_key"},
		{`{"Version":1}`, "unknown_field"},
		{`{"a":null}`, "invalid_value"},
		{`{"a":[[[1]]]}`, "too_large"},
		{`[1]`, "malformed"},
		{`{} {}`, "malformed"},
		{"{\"a\":\"\xff\"}", "malformed"},
		{``, "malformed"},
		{`{"a":[1`, "malformed"},
	} {
		err := Check([]byte(tt.in), o)
		if got := hotline.ErrorCode(err); got != tt.code {
			t.Errorf("%q: got %q (%v), want %q", tt.in, got, err, tt.code)
		}
	}
}
