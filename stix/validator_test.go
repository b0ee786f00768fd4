package stix

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// newTestValidator returns a Validator with the limits of cfg.
func newTestValidator(tb testing.TB, cfg Config) *Validator {
	tb.Helper()
	v, err := NewValidator(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

func mustRead(tb testing.TB, name string) []byte {
	tb.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

// oasisExamples lists the OASIS example files copied into testdata.
func oasisExamples(tb testing.TB) []string {
	tb.Helper()
	files, err := filepath.Glob("testdata/oasis/*.json")
	if err != nil || len(files) == 0 {
		tb.Fatalf("no examples in testdata/oasis: %v", err)
	}
	return files
}

func TestOASISExamplesValidate(t *testing.T) {
	v := newTestValidator(t, Config{})
	for _, f := range oasisExamples(t) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data := mustRead(t, f)
			b, o, err := v.Validate(data)
			if err != nil {
				t.Fatalf("Validate: %v", err)
			}
			var generic map[string]any
			if err := json.Unmarshal(data, &generic); err != nil {
				t.Fatal(err)
			}
			if generic["type"] != "bundle" {
				if o == nil || o.ID != generic["id"] {
					t.Fatalf("bare object not returned as one: %+v", o)
				}
				return
			}
			objs := generic["objects"].([]any)
			if len(b.Objects) != len(objs) {
				t.Fatalf("got %d objects, want %d", len(b.Objects), len(objs))
			}
			for i, o := range b.Objects {
				want := objs[i].(map[string]any)
				if o.ID != want["id"] || o.Type != want["type"] {
					t.Errorf("object %d is %s %s, want %s %s", i, o.Type, o.ID, want["type"], want["id"])
				}
				var raw map[string]any
				if err := json.Unmarshal(o.Raw, &raw); err != nil {
					t.Fatalf("object %d raw: %v", i, err)
				}
				if diff := cmp.Diff(want, raw); diff != "" {
					t.Errorf("object %d raw differs (-want +got):\n%s", i, diff)
				}
				if o.Custom {
					t.Errorf("%s: flagged custom", o.ID)
				}
				if o.Type == "indicator" && (o.Pattern == "" || o.PatternType == "" || o.ValidFrom.IsZero()) {
					t.Errorf("%s: pattern, pattern_type or valid_from not extracted", o.ID)
				}
			}
		})
	}
}

func TestOASISBareObject(t *testing.T) {
	v := newTestValidator(t, Config{})
	o, err := v.ValidateObject(mustRead(t, "testdata/oasis/interop-objectmarking-test.json"))
	if err != nil {
		t.Fatal(err)
	}
	if o.Type != "campaign" || o.ID != "campaign--0c7b5b88-8ff7-4a4d-aa9d-feb398cd0061" {
		t.Fatalf("got %s %s", o.Type, o.ID)
	}
	// It refers to TLP 1.0 RED and to an undefined marking, which is not TLP.
	if m, ok := o.Marking(); !ok || m != "RED" {
		t.Errorf("Marking() = %v, %v; want RED", m, ok)
	}
	if _, err := v.ValidateBundle(mustRead(t, "testdata/oasis/interop-objectmarking-test.json")); CodeOf(err) != CodeNotBundle {
		t.Errorf("ValidateBundle on a bare object: %v, want code %s", err, CodeNotBundle)
	}
	if _, err := v.ValidateObject(mustRead(t, "testdata/oasis/apt1.json")); CodeOf(err) != CodeNotBundle {
		t.Errorf("ValidateObject on a bundle: %v, want code %s", err, CodeNotBundle)
	}
}

// requiredProperties returns the properties the schema of typ requires
// unconditionally: its own "required" and those of the schemas it
// includes through allOf, such as core.json.
func requiredProperties(tb testing.TB, typ string) []string {
	tb.Helper()
	var file string
	for _, dir := range []string{"sdos", "sros", "observables", "common"} {
		if _, err := fs.Stat(schemaFS, "schemas/"+dir+"/"+typ+".json"); err == nil {
			file = dir + "/" + typ + ".json"
		}
	}
	if file == "" {
		tb.Fatalf("no schema for %s", typ)
	}
	var walk func(file string, schema map[string]any) []string
	walk = func(file string, schema map[string]any) []string {
		var out []string
		required, _ := schema["required"].([]any)
		for _, r := range required {
			out = append(out, r.(string))
		}
		if ref, ok := schema["$ref"].(string); ok {
			ref = path.Join(path.Dir(file), ref)
			var doc map[string]any
			data, err := fs.ReadFile(schemaFS, "schemas/"+ref)
			if err != nil {
				tb.Fatal(err)
			}
			if err := json.Unmarshal(data, &doc); err != nil {
				tb.Fatal(err)
			}
			out = append(out, walk(ref, doc)...)
		}
		if all, ok := schema["allOf"].([]any); ok {
			for _, s := range all {
				out = append(out, walk(file, s.(map[string]any))...)
			}
		}
		return out
	}
	data, err := fs.ReadFile(schemaFS, "schemas/"+file)
	if err != nil {
		tb.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		tb.Fatal(err)
	}
	seen := make(map[string]bool)
	var out []string
	for _, r := range walk(file, doc) {
		if !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	return out
}

// TestRequiredPropertyRemoved removes, from every object of every OASIS
// example in turn, each property its type's schema requires, and checks
// that the object is refused with a message naming that property.
func TestRequiredPropertyRemoved(t *testing.T) {
	v := newTestValidator(t, Config{})
	for _, f := range oasisExamples(t) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			var generic map[string]any
			if err := json.Unmarshal(mustRead(t, f), &generic); err != nil {
				t.Fatal(err)
			}
			objs := []any{generic}
			if generic["type"] == "bundle" {
				objs = generic["objects"].([]any)
			}
			checked := 0
			for _, x := range objs {
				obj := x.(map[string]any)
				id := obj["id"].(string)
				for _, prop := range requiredProperties(t, obj["type"].(string)) {
					if _, ok := obj[prop]; !ok {
						t.Fatalf("%s lacks required %q to begin with", id, prop)
					}
					mutated := make(map[string]any)
					for k, v := range obj {
						if k != prop {
							mutated[k] = v
						}
					}
					data, _ := json.Marshal(mutated)
					_, err := v.ValidateObject(data)
					wantObj := id
					if prop == "id" {
						wantObj = "object"
					}
					want := fmt.Sprintf("%s: property %q: missing", wantObj, prop)
					if err == nil || !strings.Contains(err.Error()+"\n", want+"\n") {
						t.Errorf("without %q: got %v\nwant a line %q", prop, err, want)
					}
					checked++
				}
			}
			if checked == 0 {
				t.Fatal("nothing checked")
			}
		})
	}
}

// TestRequiredPropertyRemovedFromFile does the same to whole files, as the
// CLI reads them: the first object of each loses its first type-specific
// required property, and the error names it and the object.
func TestRequiredPropertyRemovedFromFile(t *testing.T) {
	v := newTestValidator(t, Config{})
	for _, f := range oasisExamples(t) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			var generic map[string]any
			if err := json.Unmarshal(mustRead(t, f), &generic); err != nil {
				t.Fatal(err)
			}
			obj := generic
			if generic["type"] == "bundle" {
				obj = generic["objects"].([]any)[0].(map[string]any)
			}
			req := requiredProperties(t, obj["type"].(string))
			prop := req[0] // the type's own, listed before core's
			delete(obj, prop)
			data, _ := json.Marshal(generic)
			_, _, err := v.Validate(data)
			var es Errors
			if !errors.As(err, &es) {
				t.Fatalf("Validate without %q: %v, want Errors", prop, err)
			}
			want := &Error{Code: CodeMissingProperty, Object: obj["id"].(string), Property: prop, Message: "missing"}
			if diff := cmp.Diff(Errors{want}, es); diff != "" {
				t.Errorf("without %q (-want +got):\n%s", prop, diff)
			}
		})
	}
}

func TestErrorMessages(t *testing.T) {
	v := newTestValidator(t, Config{})
	const (
		ind = `"type":"indicator","spec_version":"2.1","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","created":"2024-03-01T10:00:00.000Z","modified":"2024-03-01T10:00:00.000Z","pattern_type":"stix"`
		id  = "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"
	)
	bundle := func(objs ...string) string {
		return `{"type":"bundle","id":"bundle--44af6c39-c09b-49c5-9de2-394224b04982","objects":[` + strings.Join(objs, ",") + `]}`
	}
	tests := []struct {
		name string
		doc  string
		want []string
	}{
		{
			name: "missing pattern",
			doc:  bundle(`{` + ind + `,"valid_from":"2024-03-01T10:00:00Z"}`),
			want: []string{id + `: property "pattern": missing`},
		},
		{
			name: "bad timestamp",
			doc:  bundle(`{` + ind + `,"pattern":"[x:y = 'z']","valid_from":"yesterday"}`),
			want: []string{id + `: property "valid_from": not a timestamp (want RFC 3339 in UTC, e.g. 2016-05-12T08:17:27.000Z; got "yesterday")`},
		},
		{
			name: "created without milliseconds",
			doc:  bundle(`{"type":"campaign","spec_version":"2.1","id":"campaign--0c7b5b88-8ff7-4a4d-aa9d-feb398cd0061","created":"2016-05-12T08:17:27Z","modified":"2016-05-12T08:17:27.000Z","name":"x"}`),
			want: []string{`campaign--0c7b5b88-8ff7-4a4d-aa9d-feb398cd0061: property "created": not a timestamp with millisecond precision (e.g. 2016-05-12T08:17:27.000Z; got "2016-05-12T08:17:27Z")`},
		},
		{
			name: "wrong type of value, nested",
			doc:  bundle(`{` + ind + `,"pattern":"[x:y = 'z']","valid_from":"2024-03-01T10:00:00Z","indicator_types":"malicious-activity","kill_chain_phases":[{"kill_chain_name":"lockheed"}]}`),
			want: []string{
				id + `: property "indicator_types": must be an array, not a string`,
				id + `: property "kill_chain_phases[0].phase_name": missing`,
			},
		},
		{
			name: "forbidden and badly named properties",
			doc:  bundle(`{` + ind + `,"pattern":"[x:y = 'z']","valid_from":"2024-03-01T10:00:00Z","severity":"high","Extra":1}`),
			want: []string{
				id + `: property "Extra": not allowed: a custom property name is 3 to 250 lower-case letters, digits and underscores, starting with a letter`,
				id + `: property "severity": not allowed on this object`,
			},
		},
		{
			name: "enum, id prefix, identifier",
			doc:  bundle(`{"type":"relationship","spec_version":"2.1","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","created":"2024-03-01T10:00:00.000Z","modified":"2024-03-01T10:00:00.000Z","relationship_type":"uses","source_ref":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","target_ref":"nothing"}`),
			want: []string{
				id + `: property "id": must begin with "relationship--" (got "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f")`,
				id + `: property "target_ref": not a STIX identifier (type--UUID; got "nothing")`,
			},
		},
		{
			name: "external reference: the closest alternative",
			doc:  bundle(`{` + ind + `,"pattern":"[x:y = 'z']","valid_from":"2024-03-01T10:00:00Z","external_references":[{"url":"https://example.org/"},{"source_name":"cve","external_id":"CVE-20-1"}]}`),
			want: []string{
				id + `: property "external_references[0].source_name": missing`,
				id + `: property "external_references[1].external_id": does not match "^CVE-\\d{4}-(0\\d{3}|[1-9]\\d{3,})$" (got "CVE-20-1")`,
			},
		},
		{
			name: "format",
			doc:  bundle(`{` + ind + `,"pattern":"[x:y = 'z']","valid_from":"2024-03-01T10:00:00Z","external_references":[{"source_name":"x","url":"not a url"}]}`),
			want: []string{id + `: property "external_references[0].url": not a valid uri (got "not a url")`},
		},
		{
			name: "range",
			doc:  bundle(`{` + ind + `,"pattern":"[x:y = 'z']","valid_from":"2024-03-01T10:00:00Z","confidence":101}`),
			want: []string{id + `: property "confidence": must be at most 100 (got 101)`},
		},
		{
			name: "modified before created",
			doc:  bundle(`{"type":"campaign","spec_version":"2.1","id":"campaign--0c7b5b88-8ff7-4a4d-aa9d-feb398cd0061","created":"2016-05-12T08:17:27.000Z","modified":"2016-05-11T08:17:27.000Z","name":"x"}`),
			want: []string{`campaign--0c7b5b88-8ff7-4a4d-aa9d-feb398cd0061: property "modified": is before created (2016-05-12T08:17:27.000Z)`},
		},
		{
			name: "custom type checked against the core",
			doc:  bundle(`{"type":"x-acme-widget","spec_version":"2.1","id":"x-acme-widget--0c7b5b88-8ff7-4a4d-aa9d-feb398cd0061","created":"2016-05-12T08:17:27.000Z"}`),
			want: []string{`x-acme-widget--0c7b5b88-8ff7-4a4d-aa9d-feb398cd0061: property "modified": missing`},
		},
		{
			name: "custom type whose id names another type",
			doc:  bundle(`{"type":"x-acme-widget","spec_version":"2.1","id":"campaign--0c7b5b88-8ff7-4a4d-aa9d-feb398cd0061","created":"2016-05-12T08:17:27.000Z","modified":"2016-05-12T08:17:27.000Z"}`),
			want: []string{`campaign--0c7b5b88-8ff7-4a4d-aa9d-feb398cd0061: property "id": must begin with "x-acme-widget--", the object's type`},
		},
		{
			name: "observable",
			doc:  bundle(`{"type":"ipv4-addr","spec_version":"2.1","id":"ipv4-addr--1e2d3c4b-5a69-4788-9a0b-1c2d3e4f5a6b","value":7}`),
			want: []string{`ipv4-addr--1e2d3c4b-5a69-4788-9a0b-1c2d3e4f5a6b: property "value": must be a string, not a number`},
		},
		{
			name: "objects without a usable id are named by position",
			doc:  bundle(`{"type":"campaign","spec_version":"2.1","id":"campaign--0c7b5b88\n: forged line","created":"2016-05-12T08:17:27.000Z","modified":"2016-05-12T08:17:27.000Z","name":"x"}`, `7`),
			want: []string{
				`objects[0]: property "id": not a STIX identifier (type--UUID; got "campaign--0c7b5b88\n: forged line")`,
				`objects[1]: a number, not a JSON object`,
			},
		},
		{
			name: "bundle members",
			doc:  `{"type":"bundle","id":"bundle-44af6c39","objects":{}}`,
			want: []string{
				`bundle-44af6c39: property "id": not a STIX identifier (type--UUID; got "bundle-44af6c39")`,
				`bundle-44af6c39: property "id": must begin with "bundle--" (got "bundle-44af6c39")`,
				`bundle-44af6c39: property "objects": must be an array, not an object`,
			},
		},
		{
			name: "a bundle in a bundle",
			doc:  bundle(`{"type":"bundle","id":"bundle--44af6c39-c09b-49c5-9de2-394224b04982"}`),
			want: []string{`bundle--44af6c39-c09b-49c5-9de2-394224b04982: property "type": a bundle cannot be one of a bundle's objects`},
		},
		{
			name: "well-known TLP id with another level",
			doc:  bundle(`{"type":"marking-definition","spec_version":"2.1","id":"marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487","created":"2022-10-01T00:00:00.000Z","name":"TLP:CLEAR","extensions":{"extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d":{"extension_type":"property-extension","tlp_2_0":"red"}}}`),
			want: []string{`marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487: property "id": is the id of TLP:CLEAR but the object defines TLP:RED`},
		},
		{
			name: "TLP 2.0 extension with an unknown level",
			doc:  bundle(`{"type":"marking-definition","spec_version":"2.1","id":"marking-definition--d0a2b7c4-5e6f-4a1b-8c9d-0e1f2a3b4c5d","created":"2022-10-01T00:00:00.000Z","name":"TLP:PURPLE","extensions":{"extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d":{"extension_type":"property-extension","tlp_2_0":"purple"}}}`),
			want: []string{`marking-definition--d0a2b7c4-5e6f-4a1b-8c9d-0e1f2a3b4c5d: property "extensions.extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d.tlp_2_0": must be one of "clear", "green", "amber", "amber+strict", "red" (got "purple")`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := v.Validate([]byte(tt.doc))
			if err == nil {
				t.Fatal("accepted")
			}
			if diff := cmp.Diff(tt.want, strings.Split(err.Error(), "\n")); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
			var es Errors
			if !errors.As(err, &es) {
				t.Fatalf("%T, want Errors", err)
			}
			for _, e := range es {
				if e.Code == "" {
					t.Errorf("%v: no code", e)
				}
			}
		})
	}
}

func TestCustomObjects(t *testing.T) {
	v := newTestValidator(t, Config{})
	tests := []struct {
		name   string
		obj    string
		custom bool
	}{
		{"custom SDO", `{"type":"x-acme-widget","spec_version":"2.1","id":"x-acme-widget--0c7b5b88-8ff7-4a4d-aa9d-feb398cd0061","created":"2016-05-12T08:17:27.000Z","modified":"2016-05-12T08:17:27.000Z","x_size":3}`, true},
		{"custom SCO declared by extension", `{"type":"x-acme-socket","spec_version":"2.1","id":"x-acme-socket--0c7b5b88-8ff7-4a4d-aa9d-feb398cd0061","extensions":{"extension-definition--0c7b5b88-8ff7-4a4d-aa9d-feb398cd0061":{"extension_type":"new-sco"}},"port":3}`, true},
		{"known type", `{"type":"campaign","spec_version":"2.1","id":"campaign--0c7b5b88-8ff7-4a4d-aa9d-feb398cd0061","created":"2016-05-12T08:17:27.000Z","modified":"2016-05-12T08:17:27.000Z","name":"x"}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := v.ValidateObject([]byte(tt.obj))
			if err != nil {
				t.Fatal(err)
			}
			if o.Custom != tt.custom {
				t.Errorf("Custom = %v, want %v", o.Custom, tt.custom)
			}
		})
	}
}

func TestLimits(t *testing.T) {
	small := newTestValidator(t, Config{MaxSize: 1024, MaxDepth: 8, MaxObjects: 3, MaxErrors: 4})
	campaign := func(i int) string {
		return fmt.Sprintf(`{"type":"campaign","spec_version":"2.1","id":"campaign--0c7b5b88-8ff7-4a4d-aa9d-feb398cd006%d","created":"2016-05-12T08:17:27.000Z","modified":"2016-05-12T08:17:27.000Z","name":"x"}`, i)
	}
	objects := func(objs ...string) string {
		return `{"type":"bundle","id":"bundle--44af6c39-c09b-49c5-9de2-394224b04982","objects":[` + strings.Join(objs, ",") + `]}`
	}
	tests := []struct {
		name string
		doc  string
		code Code
	}{
		{"too large", `{"type":"bundle","x":"` + strings.Repeat("a", 1024) + `"}`, CodeTooLarge},
		{"too deep", `{"type":"bundle","x":[[[[[[[[[1]]]]]]]]]}`, CodeTooDeep},
		{"too many objects", objects(campaign(1), campaign(2), campaign(3), campaign(4)), CodeTooManyObjects},
		{"elements not objects", objects(`1`, `2`, `3`), CodeNotObject},
		{"empty", ``, CodeBadJSON},
		{"syntax", `{"type":"bundle",}`, CodeBadJSON},
		{"truncated", `{"type":"bundle"`, CodeBadJSON},
		{"trailing data", `{"type":"bundle"} {}`, CodeBadJSON},
		{"duplicate member", `{"type":"bundle","type":"indicator"}`, CodeBadJSON},
		{"invalid UTF-8", "{\"type\":\"bundle\",\"id\":\"\xff\"}", CodeBadJSON},
		{"not an object", `["bundle"]`, CodeNotObject},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := small.Validate([]byte(tt.doc))
			if got := CodeOf(err); got != tt.code {
				t.Errorf("code %q (%v), want %q", got, err, tt.code)
			}
			if err != nil && strings.Contains(err.Error(), "\n") && CodeOf(err) != CodeNotObject {
				t.Errorf("multi-line error: %q", err)
			}
		})
	}

	// At the limit of depth: accepted as JSON (then refused by the schema
	// for other reasons, not for depth).
	_, _, err := small.Validate([]byte(`{"type":"bundle","x":[[[[[[1]]]]]]}`))
	if CodeOf(err) == CodeTooDeep {
		t.Errorf("depth 7 refused as too deep: %v", err)
	}

	// Errors beyond MaxErrors are summed up.
	_, _, err = small.Validate([]byte(objects(`1`, `2`, `3`)))
	_, _, err2 := newTestValidator(t, Config{MaxErrors: 2}).Validate([]byte(objects(`1`, `2`, `3`)))
	var es Errors
	if !errors.As(err2, &es) || len(es) != 3 || es[2].Code != CodeTooManyErrors || es[2].Message != "1 more errors not shown" {
		t.Errorf("MaxErrors 2: %v", err2)
	}
	if err == nil {
		t.Error("accepted")
	}
}

// TestRoundTrip checks that a bundle written back with Bytes validates to
// the same objects.
func TestRoundTrip(t *testing.T) {
	v := newTestValidator(t, Config{})
	files := append(oasisExamples(t), "testdata/marked-bundle.json", "testdata/tlp2-markings.json", "testdata/tlp1-markings.json")
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			b, _, err := v.Validate(mustRead(t, f))
			if err != nil {
				t.Fatal(err)
			}
			if b == nil {
				t.Skip("a bare object")
			}
			b2, err := v.ValidateBundle(b.Bytes())
			if err != nil {
				t.Fatalf("Bytes() does not validate: %v", err)
			}
			if diff := cmp.Diff(b, b2, cmp.AllowUnexported(Bundle{}, Object{}), cmp.Comparer(func(a, b json.RawMessage) bool {
				var ca, cb bytes.Buffer
				return json.Compact(&ca, a) == nil && json.Compact(&cb, b) == nil && bytes.Equal(ca.Bytes(), cb.Bytes())
			})); diff != "" {
				t.Errorf("round trip (-first +second):\n%s", diff)
			}
		})
	}
}

func TestConcurrentUse(t *testing.T) {
	v := newTestValidator(t, Config{})
	data := mustRead(t, "testdata/oasis/indicators-for-C2-with-COA.json")
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			_, err := v.ValidateBundle(data)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

func BenchmarkNewValidator(b *testing.B) {
	for b.Loop() {
		if _, err := NewValidator(Config{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkValidateBundle(b *testing.B) {
	v := newTestValidator(b, Config{})
	data := mustRead(b, "testdata/oasis/poisonivy.json")
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := v.ValidateBundle(data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecode is the reference for BenchmarkValidateBundle: parsing
// the same bundle with encoding/json alone.
func BenchmarkDecode(b *testing.B) {
	data := mustRead(b, "testdata/oasis/poisonivy.json")
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		var v any
		if err := json.Unmarshal(data, &v); err != nil {
			b.Fatal(err)
		}
	}
}
