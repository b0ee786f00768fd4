package stix

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/hotline-net/hotline"
)

// TestMarkingDefinitions checks the TLP 2.0 definitions we write against
// the ones OASIS publishes (transcribed in testdata/tlp2-markings.json),
// and that both validate.
func TestMarkingDefinitions(t *testing.T) {
	v := newTestValidator(t, Config{})
	published, err := v.ValidateBundle(mustRead(t, "testdata/tlp2-markings.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(published.Objects) != len(hotline.Markings) {
		t.Fatalf("%d published definitions, want %d", len(published.Objects), len(hotline.Markings))
	}
	for i, m := range hotline.Markings {
		t.Run(string(m), func(t *testing.T) {
			def, err := MarkingDefinition(m)
			if err != nil {
				t.Fatal(err)
			}
			pub := published.Objects[i]
			if def.ID != pub.ID || def.ID != MarkingDefinitionID(m) {
				t.Errorf("id %s, published %s", def.ID, pub.ID)
			}
			var got, want any
			if err := json.Unmarshal(def.Raw, &got); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(pub.Raw, &want); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("definition differs from the published one (-published +ours):\n%s", diff)
			}
			o, err := v.ValidateObject(def.Raw)
			if err != nil {
				t.Fatalf("our definition does not validate: %v", err)
			}
			if diff := cmp.Diff(def, o, cmp.AllowUnexported(Object{})); diff != "" {
				t.Errorf("MarkingDefinition vs validated (-ours +validated):\n%s", diff)
			}
			if l, ok := WellKnownTLP(def.ID); !ok || l != m {
				t.Errorf("WellKnownTLP(%s) = %v, %v", def.ID, l, ok)
			}
		})
	}
	if _, err := MarkingDefinition("PURPLE"); CodeOf(err) != CodeBadMarking {
		t.Errorf("MarkingDefinition(PURPLE): %v", err)
	}
}

func TestTLP1Definitions(t *testing.T) {
	v := newTestValidator(t, Config{})
	b, err := v.ValidateBundle(mustRead(t, "testdata/tlp1-markings.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := []hotline.Marking{hotline.TLPClear, hotline.TLPGreen, hotline.TLPAmber, hotline.TLPRed}
	for i, o := range b.Objects {
		if o.tlp != want[i] {
			t.Errorf("%s defines %q, want %q", o.ID, o.tlp, want[i])
		}
		if l, ok := WellKnownTLP(o.ID); !ok || l != want[i] {
			t.Errorf("WellKnownTLP(%s) = %v, %v", o.ID, l, ok)
		}
	}
}

// markedBundle builds a bundle whose one campaign has the given markings,
// with extra objects (JSON) before it.
func markedBundle(refs []string, granular []string, extra ...string) string {
	campaign := map[string]any{
		"type": "campaign", "spec_version": "2.1", "id": "campaign--0c7b5b88-8ff7-4a4d-aa9d-feb398cd0061",
		"created": "2016-05-12T08:17:27.000Z", "modified": "2016-05-12T08:17:27.000Z", "name": "x",
	}
	if len(refs) > 0 {
		campaign["object_marking_refs"] = refs
	}
	var gms []any
	for _, g := range granular {
		gms = append(gms, map[string]any{"marking_ref": g, "selectors": []string{"name"}})
	}
	if len(gms) > 0 {
		campaign["granular_markings"] = gms
	}
	c, _ := json.Marshal(campaign)
	return `{"type":"bundle","id":"bundle--44af6c39-c09b-49c5-9de2-394224b04982","objects":[` + strings.Join(append(extra, string(c)), ",") + `]}`
}

const customRedDef = `{"type":"marking-definition","spec_version":"2.1","id":"marking-definition--d0a2b7c4-5e6f-4a1b-8c9d-0e1f2a3b4c5d","created":"2024-03-01T00:00:00.000Z","name":"our red","extensions":{"extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d":{"extension_type":"property-extension","tlp_2_0":"red"}}}`

func TestBundleMarking(t *testing.T) {
	v := newTestValidator(t, Config{})
	const statement = "marking-definition--0c7b5b88-8ff7-4a4d-aa9d-feb398cd0062"
	tests := []struct {
		name string
		doc  string
		want hotline.Marking // "" for unmarked
	}{
		{"unmarked", markedBundle(nil, nil), ""},
		{"a statement is not TLP", markedBundle([]string{statement}, nil), ""},
		{"TLP 2.0", markedBundle([]string{TLPAmberStrictID}, nil), hotline.TLPAmberStrict},
		{"TLP 1.0 white is CLEAR", markedBundle([]string{TLP1WhiteID}, nil), hotline.TLPClear},
		{"TLP 1.0 amber", markedBundle([]string{TLP1AmberID, statement}, nil), hotline.TLPAmber},
		{"strictest wins", markedBundle([]string{TLPGreenID, TLP1RedID, TLPAmberID}, nil), hotline.TLPRed},
		{"granular counts", markedBundle([]string{TLPGreenID}, []string{TLPAmberID}), hotline.TLPAmber},
		{"definition in the bundle", markedBundle([]string{"marking-definition--d0a2b7c4-5e6f-4a1b-8c9d-0e1f2a3b4c5d"}, nil, customRedDef), hotline.TLPRed},
		{"bundle-level marking", strings.Replace(markedBundle([]string{TLPGreenID}, nil), `"type":"bundle",`, `"type":"bundle","object_marking_refs":["`+TLPAmberStrictID+`"],`, 1), hotline.TLPAmberStrict},
		{"a definition alone marks nothing", markedBundle(nil, nil, customRedDef), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := v.ValidateBundle([]byte(tt.doc))
			if err != nil {
				t.Fatal(err)
			}
			m, ok := b.Marking()
			if ok != (tt.want != "") || m != tt.want {
				t.Errorf("Marking() = %q, %v; want %q", m, ok, tt.want)
			}
		})
	}
	b, err := v.ValidateBundle(mustRead(t, "testdata/marked-bundle.json"))
	if err != nil {
		t.Fatal(err)
	}
	if m, _ := b.Marking(); m != hotline.TLPRed {
		t.Errorf("marked-bundle.json: %q, want RED (granular on the indicator's description)", m)
	}
}

func TestCheckMarking(t *testing.T) {
	v := newTestValidator(t, Config{})
	amber, err := v.ValidateBundle([]byte(markedBundle([]string{TLPAmberID}, nil)))
	if err != nil {
		t.Fatal(err)
	}
	unmarked, err := v.ValidateBundle([]byte(markedBundle(nil, nil)))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		b        *Bundle
		envelope hotline.Marking
		want     *Error
	}{
		{"same", amber, hotline.TLPAmber, nil},
		{"envelope stricter", amber, hotline.TLPRed, nil},
		{"envelope looser", amber, hotline.TLPGreen, &Error{Code: CodeMarkingTooStrict, Object: "campaign--0c7b5b88-8ff7-4a4d-aa9d-feb398cd0061", Message: "content marked TLP:AMBER is stricter than the envelope's TLP:GREEN"}},
		{"AMBER+STRICT is stricter than AMBER", amber, hotline.TLPAmberStrict, nil},
		{"unmarked passes", unmarked, hotline.TLPClear, nil},
		{"bad envelope marking", amber, "WHITE", &Error{Code: CodeBadMarking, Message: `envelope marking "WHITE" is not a TLP 2.0 label`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckMarking(tt.b, tt.envelope)
			var got *Error
			if err != nil {
				got = err.(*Error)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("CheckMarking (-want +got):\n%s", diff)
			}
		})
	}
	if got := CheckMarking(amber, hotline.TLPGreen).Error(); got != "campaign--0c7b5b88-8ff7-4a4d-aa9d-feb398cd0061: content marked TLP:AMBER is stricter than the envelope's TLP:GREEN" {
		t.Errorf("message %q", got)
	}
}

func TestSetMarking(t *testing.T) {
	v := newTestValidator(t, Config{})
	for _, file := range []string{"testdata/oasis/apt1.json", "testdata/marked-bundle.json"} {
		for _, m := range hotline.Markings {
			t.Run(file+"/"+string(m), func(t *testing.T) {
				b, err := v.ValidateBundle(mustRead(t, file))
				if err != nil {
					t.Fatal(err)
				}
				before := b.Objects
				if err := b.SetMarking(m); err != nil {
					t.Fatal(err)
				}
				// What SetMarking produced is valid STIX and reads back as m.
				b2, err := v.ValidateBundle(b.Bytes())
				if err != nil {
					t.Fatalf("marked bundle does not validate: %v", err)
				}
				for _, bb := range []*Bundle{b, b2} {
					if got, ok := bb.Marking(); !ok || got != m {
						t.Errorf("Marking() = %q, %v; want %q", got, ok, m)
					}
					if err := CheckMarking(bb, m); err != nil {
						t.Error(err)
					}
				}
				// One TLP definition, m's, first; every other object marked
				// with it and nothing else TLP.
				defs := 0
				for _, o := range b2.Objects {
					if o.tlp != "" {
						defs++
						if o.ID != MarkingDefinitionID(m) {
							t.Errorf("TLP definition %s left in the bundle", o.ID)
						}
						continue
					}
					if !slices.Contains(o.MarkingRefs, MarkingDefinitionID(m)) {
						t.Errorf("%s not marked: %v", o.ID, o.MarkingRefs)
					}
					for _, r := range append(slices.Clone(o.MarkingRefs), o.GranularMarkingRefs...) {
						if _, tlp := WellKnownTLP(r); tlp && r != MarkingDefinitionID(m) {
							t.Errorf("%s keeps TLP reference %s", o.ID, r)
						}
					}
				}
				if defs != 1 || b2.Objects[0].ID != MarkingDefinitionID(m) {
					t.Errorf("%d TLP definitions, first object %s", defs, b2.Objects[0].ID)
				}
				// Objects other than TLP definitions are all kept, in order.
				var wantIDs, gotIDs []string
				for _, o := range before {
					if o.tlp == "" {
						wantIDs = append(wantIDs, o.ID)
					}
				}
				for _, o := range b2.Objects[1:] {
					gotIDs = append(gotIDs, o.ID)
				}
				if diff := cmp.Diff(wantIDs, gotIDs); diff != "" {
					t.Errorf("objects (-want +got):\n%s", diff)
				}
			})
		}
	}
}

func TestSetMarkingKeepsOtherMarkings(t *testing.T) {
	v := newTestValidator(t, Config{})
	b, err := v.ValidateBundle(mustRead(t, "testdata/marked-bundle.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := b.SetMarking(hotline.TLPGreen); err != nil {
		t.Fatal(err)
	}
	const statement = "marking-definition--d0a2b7c4-5e6f-4a1b-8c9d-0e1f2a3b4c5d"
	var ind *Object
	for _, o := range b.Objects {
		if o.Type == "indicator" {
			ind = o
		}
	}
	if diff := cmp.Diff([]string{statement, TLPGreenID}, ind.MarkingRefs); diff != "" {
		t.Errorf("object_marking_refs (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{statement}, ind.GranularMarkingRefs); diff != "" {
		t.Errorf("granular markings (-want +got):\n%s", diff)
	}
	// The statement's definition stays; its text with HTML-like characters
	// is not escaped.
	if !strings.Contains(string(b.Bytes()), `"description":"Beacons to <redacted> every 60 s & retries"`) {
		t.Errorf("description rewritten: %s", b.Bytes())
	}
	found := false
	for _, o := range b.Objects {
		found = found || o.ID == statement
	}
	if !found {
		t.Error("statement marking definition dropped")
	}
	if err := b.SetMarking("WHITE"); CodeOf(err) != CodeBadMarking {
		t.Errorf("SetMarking(WHITE): %v", err)
	}
}

func TestErrorCodeSpace(t *testing.T) {
	v := newTestValidator(t, Config{})
	b, err := v.ValidateBundle([]byte(markedBundle([]string{TLPRedID}, nil)))
	if err != nil {
		t.Fatal(err)
	}
	err = fmt.Errorf("sealing: %w", CheckMarking(b, hotline.TLPAmber))
	if !errors.Is(err, ErrMarkingTooStrict) {
		t.Errorf("errors.Is(%v, ErrMarkingTooStrict) is false", err)
	}
	if !errors.Is(err, &Error{Code: CodeMarkingTooStrict}) {
		t.Errorf("errors.Is by *Error code is false")
	}
	if got := hotline.ErrorCode(err); got != string(CodeMarkingTooStrict) {
		t.Errorf("hotline.ErrorCode = %q", got)
	}
	_, err = v.ValidateBundle([]byte(`{"type":"bundle","id":"bundle--44af6c39-c09b-49c5-9de2-394224b04982","objects":[1,2]}`))
	if got := hotline.ErrorCode(err); got != string(CodeNotObject) {
		t.Errorf("hotline.ErrorCode of Errors = %q", got)
	}
	if errors.Is(err, ErrMarkingTooStrict) {
		t.Error("a schema error matches ErrMarkingTooStrict")
	}
}
