package body

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// templatesDir is where the schemas are published.
var templatesDir = filepath.Join("..", "docs", "templates")

// mustSchemas compiles every kind's schema, as Schema makes it, with
// formats asserted (a time is a date-time).
func mustSchemas(tb testing.TB) map[string]*jsonschema.Schema {
	tb.Helper()
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	out := map[string]*jsonschema.Schema{}
	for _, t := range Templates() {
		b, err := Schema(t.Kind)
		if err != nil {
			tb.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			tb.Fatal(err)
		}
		if err := c.AddResource(SchemaID(t.Kind), doc); err != nil {
			tb.Fatal(err)
		}
		if out[t.Kind], err = c.Compile(SchemaID(t.Kind)); err != nil {
			tb.Fatalf("%s: %v", t.Kind, err)
		}
	}
	return out
}

// beyondSchema names the cases of parseErrorCases that Parse refuses for a
// rule JSON Schema cannot state (see Schema's doc comment): the schema
// accepts them, or they are not one JSON value a schema could judge.
var beyondSchema = map[string]string{
	"not JSON":                               parseLevel,
	"two objects":                            parseLevel,
	"invalid UTF-8":                          parseLevel,
	"STIX that is not an object":             parseLevel,
	"too large":                              parseLevel,
	"too deep":                               parseLevel,
	"duplicate member":                       parseLevel,
	"null":                                   parseLevel, // its null is a member named twice
	"lone high surrogate":                    parseLevel, // a JSON parser reads U+FFFD, or refuses the text
	"lone low surrogate":                     parseLevel,
	"high surrogate before another escape":   parseLevel,
	"unknown kind":                           "no template",
	"sector twice":                           "a sector listed twice",
	"window ending before it starts":         "order of times",
	"detected before it started":             "order of times",
	"advance notice ending before it starts": "order of times",
}

// parseLevel marks the refusals of what is not one JSON object in UTF-8
// within the limits, without a member named twice: no schema judges them
// (a JSON parser keeps one of two members, or refuses the text).
const parseLevel = "not one JSON object within the limits"

// short cuts a validation error for a test's message.
func short(err error) string {
	s := fmt.Sprint(err)
	if len(s) > 600 {
		s = s[:600] + "..."
	}
	return s
}

// acceptCases are bodies Parse accepts besides the samples.
func acceptCases() []parseCase {
	return []parseCase{
		{"CVE with four digits", "advisory", `{"language":"en","title":"t","summary":"s","vulnerabilities":["CVE-2024-3094","CVE-2014-0160"]}`, ""},
		{"empty optional text", "ping", `{"language":"en","contacts":["technical"],"text":""}`, ""},
		{"meeting with only times", "response", `{"language":"en","answer":"time_proposed","meeting":{"times":["2026-12-01T09:00:00Z"]}}`, ""},
		{"language with subtags", "retraction", `{"language":"zh-Hans-CN","reason":"duplicate"}`, ""},
		{"line breaks in the summary", "status_update", "{\"language\":\"fr\",\"status\":\"contained\",\"summary\":\"a\\n\\tb\"}", ""},
		{"surrogate pair", "notification", `{"language":"en","title":"Pertur\ud83d\ude00bation","summary":"s","incident":{"start":"2026-11-27T02:40:00Z"}}`, ""},
		{"escaped backslash before u", "notification", `{"language":"en","title":"Pertur\\ud800bation","summary":"s","incident":{"start":"2026-11-27T02:40:00Z"}}`, ""},
		{"isolates in the title", "notification", "{\"language\":\"en\",\"title\":\"Pertur\u2067bation\u2069\",\"summary\":\"s\",\"incident\":{\"start\":\"2026-11-27T02:40:00Z\"}}", ""},
	}
}

// TestSchemasAgree checks that the published schemas and Parse agree on
// every sample (the fuzz seeds), every refusal of TestParseErrors and the
// accepted cases above: what Parse accepts the schema accepts, and what
// Parse refuses the schema refuses, but for the rules beyond JSON Schema.
func TestSchemasAgree(t *testing.T) {
	schemas := mustSchemas(t)
	cases := slices.Concat(acceptCases(), parseErrorCases(t))
	for _, tmpl := range Templates() {
		cases = append(cases, parseCase{"sample", tmpl.Kind, string(mustSample(t, tmpl.Kind)), ""})
	}
	seen := map[string]bool{}
	for _, tc := range cases {
		t.Run(tc.kind+"/"+tc.name, func(t *testing.T) {
			_, err := Parse(tc.kind, []byte(tc.body))
			if got := ErrorCode(err); got != tc.code {
				t.Fatalf("Parse: code %q, want %q (%v)", got, tc.code, err)
			}
			why, beyond := beyondSchema[tc.name]
			seen[tc.name] = beyond
			s := schemas[tc.kind]
			if s == nil {
				if _, err := Schema(tc.kind); err == nil || !beyond {
					t.Fatalf("no schema for kind %q: %v", tc.kind, err)
				}
				return
			}
			if why == parseLevel {
				return
			}
			doc, err2 := jsonschema.UnmarshalJSON(strings.NewReader(tc.body))
			if err2 != nil {
				t.Fatalf("not JSON: %v", err2)
			}
			verr := s.Validate(doc)
			switch {
			case err == nil && verr != nil:
				t.Errorf("Parse accepts, the schema refuses: %s", short(verr))
			case err != nil && !beyond && verr == nil:
				t.Errorf("Parse refuses (%v), the schema accepts", err)
			case beyond && verr != nil:
				t.Errorf("listed as beyond the schema (%s), but the schema refuses it too (remove it from beyondSchema): %s", why, short(verr))
			}
		})
	}
	for name := range beyondSchema {
		if _, ok := seen[name]; !ok {
			t.Errorf("beyondSchema names %q, which is no case", name)
		}
	}
}

// TestSchemasCommitted checks that docs/templates holds exactly the
// schemas Schema makes: run "go generate ./body" after changing a template.
func TestSchemasCommitted(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(templatesDir, "*.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, tmpl := range Templates() {
		name := filepath.Join(templatesDir, SchemaFile(tmpl.Kind))
		want = append(want, name)
		b, err := Schema(tmpl.Kind)
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(name)
		if err != nil {
			t.Errorf("%v (run go generate ./body)", err)
			continue
		}
		if !bytes.Equal(got, b) {
			t.Errorf("%s differs from what Schema makes: run go generate ./body", name)
		}
	}
	slices.Sort(want)
	if !slices.Equal(files, want) {
		t.Errorf("docs/templates holds %v, want %v", files, want)
	}
}

// FuzzSchema checks that whatever Parse accepts, the kind's schema accepts.
func FuzzSchema(f *testing.F) {
	schemas := mustSchemas(f)
	for _, tmpl := range Templates() {
		f.Add(tmpl.Kind, mustSample(f, tmpl.Kind))
	}
	f.Fuzz(func(t *testing.T, kind string, raw []byte) {
		if _, err := Parse(kind, raw); err != nil {
			return
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			t.Fatalf("Parse accepts what is not JSON: %v", err)
		}
		if err := schemas[kind].Validate(doc); err != nil {
			t.Fatalf("Parse accepts, the schema of %s refuses: %s\n%.600s", kind, short(err), raw)
		}
	})
}

// TestProtocolTable checks PROTOCOL.md §12's table of what each kind
// requires against the templates, and that it links every schema.
func TestProtocolTable(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "docs", "PROTOCOL.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	i := strings.Index(doc, "## 12. Message bodies")
	if i < 0 {
		t.Fatal("PROTOCOL.md has no section on message bodies")
	}
	doc = doc[i:]
	if j := strings.Index(doc, "\n## "); j >= 0 {
		doc = doc[:j] // §12 only: later sections have tables of their own
	}
	row := regexp.MustCompile("(?m)^\\| `([a-z_]+)` \\| (.*) \\|$")
	paren := regexp.MustCompile(`\([^)]*\)`)
	name := regexp.MustCompile("`([a-z_.]+)`")
	rows := map[string][]string{}
	for _, m := range row.FindAllStringSubmatch(doc, -1) {
		var fields []string
		for _, n := range name.FindAllStringSubmatch(paren.ReplaceAllString(m[2], ""), -1) {
			fields = append(fields, n[1])
		}
		rows[m[1]] = fields
	}
	for _, tmpl := range Templates() {
		want := slices.DeleteFunc(slices.Clone(tmpl.Required), func(f string) bool { return f == FieldLanguage })
		got, ok := rows[tmpl.Kind]
		if !ok {
			t.Errorf("PROTOCOL.md's table has no row for %s", tmpl.Kind)
			continue
		}
		if !slices.Equal(got, want) {
			t.Errorf("PROTOCOL.md says %s requires %v; its template requires %v", tmpl.Kind, got, want)
		}
		if !strings.Contains(doc, "(templates/"+SchemaFile(tmpl.Kind)+")") {
			t.Errorf("PROTOCOL.md does not link %s", SchemaFile(tmpl.Kind))
		}
	}
	if len(rows) != len(Templates()) {
		t.Errorf("PROTOCOL.md's table has %d rows, there are %d templates", len(rows), len(Templates()))
	}
}
