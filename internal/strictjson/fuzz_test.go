package strictjson

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/hotline-net/hotline"
)

// FuzzCheck checks that Check never panics, refuses with a code, accepts
// only what encoding/json accepts as one object, and refuses with the
// code the first implementation, on encoding/json's tokenizer, gives.
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
		`{"a\u0062":1,"ab":2}`,
		`{"stix":[{"A":null,"B":[1.5e-3,-0,true,false]}],"x":"\ud800\n"}`,
		`{"a":01}`,
		` {"a" : [ ] , "b":{ }} `,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		o := Options{What: "fuzz", MaxDepth: 8, Free: "stix"}
		err := Check(b, o)
		if got, want := hotline.ErrorCode(err), hotline.ErrorCode(checkTokens(b, o)); got != want {
			t.Fatalf("%q: code %q (%v), the reference says %q (%v)", b, got, err, want, checkTokens(b, o))
		}
		if err != nil {
			if hotline.ErrorCode(err) == "" {
				t.Fatalf("refusal without a code: %v", err)
			}
			return
		}
		// Numbers are JSON's, of any size: a document's own decoder
		// decides what fits.
		var v map[string]any
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		if dec.Decode(&v) != nil {
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

// benchBody is a notification body like the ones hotline bench sends.
const benchBody = `{"language":"en","title":"Ransomware at a regional hospital group","summary":"Encryption of patient-record servers since 02:10 UTC; command-and-control traffic to addresses in your territory.","incident":{"start":"2026-11-26T22:00:00Z","end":"2026-11-27T01:00:00Z"},"sectors":[{"code":"health","critical_infrastructure":true},{"code":"energy"}],"norms":["13c","13f"],"actions":["investigate","block","share_indicators"],"text":"Indicators follow in the attachment."}`

// BenchmarkCheck is the scanner on a message body; BenchmarkCheckTokens
// the first implementation, on encoding/json's tokenizer, for reference.
func BenchmarkCheck(b *testing.B) {
	o := Options{What: "body", MaxDepth: 16, Free: "stix"}
	b.SetBytes(int64(len(benchBody)))
	for b.Loop() {
		if err := Check([]byte(benchBody), o); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCheckTokens(b *testing.B) {
	o := Options{What: "body", MaxDepth: 16, Free: "stix"}
	b.SetBytes(int64(len(benchBody)))
	for b.Loop() {
		if err := checkTokens([]byte(benchBody), o); err != nil {
			b.Fatal(err)
		}
	}
}
