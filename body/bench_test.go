package body

import (
	"encoding/json"
	"testing"

	"github.com/hotline-net/hotline"
)

// BenchmarkParse parses and validates the sample notification (with its
// STIX bundle): what a node does for every message it opens.
func BenchmarkParse(b *testing.B) {
	raw := mustSample(b, "notification")
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if _, err := Parse("notification", raw); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReferenceUnmarshal is the reference for BenchmarkParse: a bare
// json.Unmarshal of the same bytes into a map, measured in the same run.
func BenchmarkReferenceUnmarshal(b *testing.B) {
	raw := mustSample(b, "notification")
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRender renders the sample notification in Arabic.
func BenchmarkRender(b *testing.B) {
	body, err := Parse("notification", mustSample(b, "notification"))
	if err != nil {
		b.Fatal(err)
	}
	m := Meta{Severity: hotline.SeverityHigh, Marking: hotline.TLPAmber}
	for b.Loop() {
		if _, err := Render(Arabic, "notification", body, m); err != nil {
			b.Fatal(err)
		}
	}
}
