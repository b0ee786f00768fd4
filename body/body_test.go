package body

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// mustSample returns the sample body of kind from testdata/bodies.
func mustSample(tb testing.TB, kind string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "bodies", kind+".json"))
	if err != nil {
		tb.Fatal(err)
	}
	return bytes.TrimSpace(b)
}

func TestSamples(t *testing.T) {
	for _, tmpl := range Templates() {
		t.Run(tmpl.Kind, func(t *testing.T) {
			raw := mustSample(t, tmpl.Kind)
			b, err := Parse(tmpl.Kind, raw)
			if err != nil {
				t.Fatal(err)
			}
			m, err := b.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(m, raw) {
				t.Errorf("Marshal(Parse(sample)) differs from the sample:\n%s\n%s", m, raw)
			}
			b2, err := Parse(tmpl.Kind, m)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(b, b2); diff != "" {
				t.Errorf("round trip (-first +second):\n%s", diff)
			}
			for _, f := range tmpl.Required {
				if !b.present()[f] {
					t.Errorf("the sample lacks required field %s", f)
				}
			}
		})
	}
	// A sample of one kind is not a body of another.
	if _, err := Parse("ping", mustSample(t, "notification")); ErrorCode(err) != "missing_field" && ErrorCode(err) != "field_not_allowed" {
		t.Errorf("a notification parsed as a ping: %v", err)
	}
}

// parseCase is a body that Parse refuses, and the code it refuses with.
type parseCase struct {
	name string
	kind string
	body string
	code string
}

// parseErrorCases returns the refusals TestParseErrors checks; the schema
// test checks the published schemas against the same cases.
func parseErrorCases(tb testing.TB) []parseCase {
	tb.Helper()
	notif := string(mustSample(tb, "notification"))
	sub := func(old, new string) string {
		if !strings.Contains(notif, old) {
			tb.Fatalf("the sample notification lacks %q", old)
		}
		return strings.Replace(notif, old, new, 1)
	}
	return []parseCase{
		{"not JSON", "notification", "notification", "malformed"},
		{"not an object", "notification", `["fr"]`, "malformed"},
		{"two objects", "notification", notif + notif, "malformed"},
		{"invalid UTF-8", "notification", "{\"language\":\"\xff\"}", "malformed"},
		{"too large", "notification", `{"language":"` + strings.Repeat("a", DefaultMaxSize) + `"}`, "too_large"},
		{"too deep", "notification", sub(`"stix":{`, `"stix":{"x":`+strings.Repeat("[", 40)+strings.Repeat("]", 40)+`,`), "too_large"},
		{"unknown kind", "gossip", notif, "unknown_kind"},
		{"unknown field", "notification", sub(`"title"`, `"urgency":"now","title"`), "unknown_field"},
		{"field in another case", "notification", sub(`"title"`, `"Title"`), "unknown_field"},
		{"duplicate member", "notification", sub(`"title"`, `"title":"x","title"`), "duplicate_key"},
		{"null", "notification", sub(`"title"`, `"text":null,"title"`), "invalid_value"},
		{"wrong type", "notification", sub(`"norms":["13f","13g"]`, `"norms":"13f"`), "invalid_value"},
		{"missing language", "notification", sub(`"language":"fr",`, ``), "missing_field"},
		{"missing title", "notification", sub(`"title":"Perturbation des systèmes de conduite du réseau électrique",`, ``), "missing_field"},
		{"missing incident window", "notification", sub(`"incident":{"start":"2026-11-27T02:40:00Z","detected":"2026-11-27T03:05:00Z"},`, ``), "missing_field"},
		{"field of another kind", "notification", sub(`"title"`, `"answer":"accepted","title"`), "field_not_allowed"},
		{"unknown sector", "notification", sub(`"code":"energy"`, `"code":"nuclear"`), "invalid_code"},
		{"unknown norm", "notification", sub(`"13f"`, `"13z"`), "invalid_code"},
		{"norm written otherwise", "notification", sub(`"13f"`, `"13(f)"`), "invalid_code"},
		{"unknown action", "notification", sub(`"investigate"`, `"retaliate"`), "invalid_code"},
		{"norm twice", "notification", sub(`"13g"`, `"13f"`), "duplicate_value"},
		{"sector twice", "notification", sub(`{"code":"telecommunications"}`, `{"code":"energy"}`), "duplicate_value"},
		{"bad language tag", "notification", sub(`"language":"fr"`, `"language":"French"`), "invalid_value"},
		{"time not in UTC", "notification", sub(`"2026-11-27T02:40:00Z"`, `"2026-11-27T03:40:00+01:00"`), "invalid_value"},
		{"fractional seconds", "notification", sub(`"2026-11-27T02:40:00Z"`, `"2026-11-27T02:40:00.5Z"`), "invalid_value"},
		{"not a time", "notification", sub(`"2026-11-27T02:40:00Z"`, `"yesterday"`), "invalid_value"},
		{"an hour of one digit", "notification", sub(`"2026-11-27T02:40:00Z"`, `"2026-11-27T2:40:00Z"`), "invalid_value"},
		{"window ending before it starts", "notification", sub(`"detected":"2026-11-27T03:05:00Z"`, `"end":"2026-11-27T01:00:00Z"`), "invalid_value"},
		{"detected before it started", "notification", sub(`"detected":"2026-11-27T03:05:00Z"`, `"detected":"2026-11-27T01:00:00Z"`), "invalid_value"},
		{"control character in the title", "notification", sub(`"title":"Perturbation`, `"title":"Pertur\u0007bation`), "invalid_value"},
		{"right-to-left override in the title", "notification", sub(`"title":"Perturbation`, "\"title\":\"Pertur\u202ebation"), "invalid_value"},
		{"escaped left-to-right embedding in the summary", "notification", sub(`"summary":"`, `"summary":"\u202a`), "invalid_value"},
		{"lone high surrogate", "notification", sub(`"title":"Perturbation`, `"title":"Pertur\ud800bation`), "invalid_value"},
		{"lone low surrogate", "notification", sub(`"title":"Perturbation`, `"title":"Pertur\udc00bation`), "invalid_value"},
		{"high surrogate before another escape", "notification", sub(`"title":"Perturbation`, `"title":"Pertur\ud800\u0041bation`), "invalid_value"},
		{"line break in the title", "notification", sub(`"title":"Perturbation`, `"title":"Pertur\nbation`), "invalid_value"},
		{"title too long", "notification", sub(`"title":"Perturbation`, `"title":"`+strings.Repeat("é", maxTitle)), "invalid_value"},
		{"STIX that is not a bundle", "notification", sub(`"type":"bundle"`, `"type":"indicator"`), "bad_stix"},
		{"STIX that is not an object", "notification", sub(`"stix":{`, `"stix":[{`) + "]", "malformed"},
		{"bad CVE", "advisory", strings.Replace(string(mustSample(tb, "advisory")), "CVE-2026-21345", "CVE-26-1", 1), "invalid_value"},
		{"ping without contacts", "ping", `{"language":"en","challenge":"KESTREL-7"}`, "missing_field"},
		{"ping naming a bad contact id", "ping", `{"language":"en","contacts":["Duty Officer"]}`, "invalid_value"},
		{"ping with a bad challenge", "ping", `{"language":"en","contacts":["technical"],"challenge":"a b"}`, "invalid_value"},
		{"ack without a human", "ack", `{"language":"en"}`, "missing_field"},
		{"response proposing no time", "response", `{"language":"en","answer":"time_proposed"}`, "missing_field"},
		{"unknown answer", "response", `{"language":"en","answer":"maybe"}`, "invalid_code"},
		{"consultation without a format", "consultation_request", `{"language":"en","title":"t","summary":"s","meeting":{"times":["2026-11-29T09:00:00Z"]}}`, "missing_field"},
		{"advance notice ending before it starts", "advance_notice", `{"language":"en","title":"t","summary":"s","activity":{"type":"exercise","start":"2026-12-02T00:00:00Z","end":"2026-12-01T00:00:00Z"}}`, "invalid_value"},
		{"attachment with a path", "mitigation_request", strings.Replace(string(mustSample(tb, "mitigation_request")), `"sources.csv"`, `"../sources.csv"`, 1), "invalid_value"},
		{"attachment with a bad media type", "mitigation_request", strings.Replace(string(mustSample(tb, "mitigation_request")), `"text/csv"`, `"csv"`, 1), "invalid_value"},
		{"attachment that is not base64", "mitigation_request", strings.Replace(string(mustSample(tb, "mitigation_request")), `"YWRk`, `"!!!`, 1), "invalid_value"},
		{"retraction without a reason", "retraction", `{"language":"en","text":"oops"}`, "missing_field"},
		{"time that is not one", "notification", sub(`"2026-11-27T02:40:00Z"`, `"yesterday"`), "invalid_value"},
		{"CVE with a leading zero", "advisory", strings.Replace(string(mustSample(tb, "advisory")), "CVE-2026-21345", "CVE-2026-012345", 1), "invalid_value"},
		{"ping with an empty field of another kind", "ping", `{"language":"en","contacts":["technical"],"sectors":[{"code":"energy"}]}`, "field_not_allowed"},
		{"unknown status", "status_update", `{"language":"en","status":"done"}`, "invalid_code"},
		{"meeting with neither format nor times", "response", `{"language":"en","answer":"accepted","meeting":{}}`, "missing_field"},
		{"activity of an unknown type", "advance_notice", `{"language":"en","title":"t","summary":"s","activity":{"type":"war","start":"2026-12-01T00:00:00Z","end":"2026-12-02T00:00:00Z"}}`, "invalid_code"},
		{"title of only spaces", "advisory", `{"language":"en","title":"   ","summary":"s"}`, "invalid_value"},
		{"null in a field of the kind", "advisory", `{"language":"en","title":"t","summary":"s","text":null}`, "invalid_value"},
		{"time before 1970", "notification", sub(`"2026-11-27T02:40:00Z"`, `"1969-12-31T23:59:59Z"`), "invalid_value"},
	}
}

func TestParseErrors(t *testing.T) {
	for _, tt := range parseErrorCases(t) {
		t.Run(tt.name, func(t *testing.T) {
			b, err := Parse(tt.kind, []byte(tt.body))
			if err == nil {
				t.Fatalf("accepted: %+v", b)
			}
			if got := ErrorCode(err); got != tt.code {
				t.Errorf("error code %q, want %q (%v)", got, tt.code, err)
			}
		})
	}
}

func TestLimits(t *testing.T) {
	raw := mustSample(t, "notification")
	if _, err := ParseLimits("notification", raw, Limits{MaxSize: len(raw) - 1}); ErrorCode(err) != "too_large" {
		t.Errorf("a body one byte over the limit: %v", err)
	}
	if _, err := ParseLimits("notification", raw, Limits{MaxDepth: 3}); ErrorCode(err) != "too_large" {
		t.Errorf("a STIX bundle deeper than the limit: %v", err)
	}
	if _, err := ParseLimits("notification", raw, Limits{MaxSize: len(raw), MaxDepth: 5}); err != nil {
		t.Errorf("a body at the limits: %v", err)
	}
}

func TestCheckContacts(t *testing.T) {
	b, err := Parse("ping", mustSample(t, "ping"))
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{"diplomatic": true, "technical": true}
	if err := b.CheckContacts(func(id string) bool { return known[id] }); err != nil {
		t.Error(err)
	}
	delete(known, "technical")
	if err := b.CheckContacts(func(id string) bool { return known[id] }); ErrorCode(err) != "invalid_value" {
		t.Errorf("a ping naming a contact the recipient lacks: %v", err)
	}
}
