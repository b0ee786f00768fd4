package stix

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/hotline-net/hotline"
)

// TLP 2.0 marking definitions, as published by the OASIS CTI TC in
// cti-stix-common-objects (extension-definition-specifications/tlp-2.0):
// marking-definition objects with fixed ids, created 2022-10-01, that carry
// their level in a property extension.
const (
	// TLP2ExtensionID is the extension through which a TLP 2.0 marking
	// definition states its level ("tlp_2_0": "amber+strict").
	TLP2ExtensionID = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"

	TLPClearID       = "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487"
	TLPGreenID       = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"
	TLPAmberID       = "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"
	TLPAmberStrictID = "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003"
	TLPRedID         = "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"

	tlp2Created = "2022-10-01T00:00:00.000Z"
)

// TLP 1.0 marking definitions, predefined by STIX 2.1 itself (section
// 7.2.1.4): definition_type "tlp", created 2017-01-20. They are recognised
// when reading, WHITE as CLEAR and the others by name, and never written.
const (
	TLP1WhiteID = "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9"
	TLP1GreenID = "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"
	TLP1AmberID = "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82"
	TLP1RedID   = "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed"
)

// WellKnownTLP returns the TLP level a well-known marking definition id
// stands for, TLP 2.0 or TLP 1.0.
func WellKnownTLP(id string) (hotline.Marking, bool) {
	switch id {
	case TLPClearID, TLP1WhiteID:
		return hotline.TLPClear, true
	case TLPGreenID, TLP1GreenID:
		return hotline.TLPGreen, true
	case TLPAmberID, TLP1AmberID:
		return hotline.TLPAmber, true
	case TLPAmberStrictID:
		return hotline.TLPAmberStrict, true
	case TLPRedID, TLP1RedID:
		return hotline.TLPRed, true
	}
	return "", false
}

// MarkingDefinitionID returns the id of the TLP 2.0 marking definition for
// m, or "" if m is not a TLP 2.0 label.
func MarkingDefinitionID(m hotline.Marking) string {
	switch m {
	case hotline.TLPClear:
		return TLPClearID
	case hotline.TLPGreen:
		return TLPGreenID
	case hotline.TLPAmber:
		return TLPAmberID
	case hotline.TLPAmberStrict:
		return TLPAmberStrictID
	case hotline.TLPRed:
		return TLPRedID
	}
	return ""
}

// tlp2Value is how the TLP 2.0 extension writes a level: "amber+strict".
func tlp2Value(m hotline.Marking) string {
	switch m {
	case hotline.TLPClear:
		return "clear"
	case hotline.TLPGreen:
		return "green"
	case hotline.TLPAmber:
		return "amber"
	case hotline.TLPAmberStrict:
		return "amber+strict"
	case hotline.TLPRed:
		return "red"
	}
	return ""
}

func parseTLP2Value(s string) (hotline.Marking, bool) {
	for _, m := range hotline.Markings {
		if tlp2Value(m) == s {
			return m, true
		}
	}
	return "", false
}

func parseTLP1Value(s string) (hotline.Marking, bool) {
	switch s {
	case "white":
		return hotline.TLPClear, true
	case "green":
		return hotline.TLPGreen, true
	case "amber":
		return hotline.TLPAmber, true
	case "red":
		return hotline.TLPRed, true
	}
	return "", false
}

// MarkingDefinition returns the TLP 2.0 marking-definition object for m,
// exactly as OASIS publishes it.
func MarkingDefinition(m hotline.Marking) (*Object, error) {
	id := MarkingDefinitionID(m)
	if id == "" {
		return nil, &Error{Code: CodeBadMarking, Message: fmt.Sprintf("%q is not a TLP 2.0 label", truncate(string(m), maxQuoted))}
	}
	raw := fmt.Appendf(nil, `{"type":"marking-definition","spec_version":"2.1","id":%q,"created":%q,"name":%q,"extensions":{%q:{"extension_type":"property-extension","tlp_2_0":%q}}}`,
		id, tlp2Created, m.String(), TLP2ExtensionID, tlp2Value(m))
	created := timestamp(tlp2Created)
	return &Object{
		Type:        "marking-definition",
		ID:          id,
		SpecVersion: "2.1",
		Created:     created,
		Raw:         raw,
		tlp:         m,
	}, nil
}

// definedTLP returns the TLP level a marking-definition object defines, if
// any, and what is wrong with its definition. A definition under a
// well-known id must define that id's level: otherwise one reader would
// take an object marked with it for TLP:CLEAR and the next for TLP:RED.
func definedTLP(m map[string]any) (hotline.Marking, []*Error) {
	var (
		level    hotline.Marking
		problems []*Error
	)
	exts, _ := m["extensions"].(map[string]any)
	if ext, present := exts[TLP2ExtensionID]; present {
		prop := "extensions." + TLP2ExtensionID
		e, _ := ext.(map[string]any)
		if t, _ := e["extension_type"].(string); t != "property-extension" {
			problems = append(problems, &Error{Code: CodeTLPMismatch, Property: prop + ".extension_type", Message: fmt.Sprintf("must be %q for the TLP 2.0 extension", "property-extension")})
		}
		v, _ := e["tlp_2_0"].(string)
		if l, ok := parseTLP2Value(v); ok {
			level = l
		} else {
			problems = append(problems, &Error{Code: CodeTLPMismatch, Property: prop + ".tlp_2_0", Message: fmt.Sprintf("must be one of \"clear\", \"green\", \"amber\", \"amber+strict\", \"red\" (got %s)", quoteValue(e["tlp_2_0"]))})
		}
	} else if m["definition_type"] == "tlp" {
		def, _ := m["definition"].(map[string]any)
		v, _ := def["tlp"].(string)
		if l, ok := parseTLP1Value(v); ok {
			level = l
		} else {
			problems = append(problems, &Error{Code: CodeTLPMismatch, Property: "definition.tlp", Message: fmt.Sprintf("must be one of \"white\", \"green\", \"amber\", \"red\" (got %s)", quoteValue(def["tlp"]))})
		}
	}

	id, _ := m["id"].(string)
	want, wellKnown := WellKnownTLP(id)
	switch {
	case !wellKnown || len(problems) > 0:
	case level == "":
		problems = append(problems, &Error{Code: CodeTLPMismatch, Property: "id", Message: fmt.Sprintf("is the id of %s but the object defines no TLP level", want)})
	case level != want:
		problems = append(problems, &Error{Code: CodeTLPMismatch, Property: "id", Message: fmt.Sprintf("is the id of %s but the object defines %s", want, level)})
	case MarkingDefinitionID(want) == id:
		// TLP 2.0 names are fixed too (TLP 1.0 names are checked by the schema).
		if name, _ := m["name"].(string); name != want.String() {
			problems = append(problems, &Error{Code: CodeTLPMismatch, Property: "name", Message: fmt.Sprintf("must be %q for this id (got %s)", want.String(), quoteValue(m["name"]))})
		}
	}
	if len(problems) > 0 {
		return "", problems
	}
	return level, nil
}

// Marking returns the effective TLP marking of the bundle: the strictest
// TLP level among the object_marking_refs and granular markings of its
// objects and the bundle's own object_marking_refs. A reference is read as
// TLP when it names a well-known TLP 2.0 or TLP 1.0 marking definition, or
// a marking definition in the bundle that defines a TLP level; other
// markings (statements, unknown ids) do not change the TLP level. ok is
// false when nothing in the bundle is TLP-marked.
func (b *Bundle) Marking() (m hotline.Marking, ok bool) {
	m, _, ok = b.strictest()
	return m, ok
}

// strictest returns the bundle's effective marking and the first object
// (or the bundle) marked so.
func (b *Bundle) strictest() (hotline.Marking, string, bool) {
	defs := make(map[string]hotline.Marking)
	for _, o := range b.Objects {
		if o.tlp != "" {
			defs[o.ID] = o.tlp
		}
	}
	var (
		best  hotline.Marking
		where string
		found bool
	)
	consider := func(name string, refs ...[]string) {
		for _, rs := range refs {
			for _, r := range rs {
				l, ok := WellKnownTLP(r)
				if !ok {
					l, ok = defs[r]
				}
				if ok && (!found || l.StricterThan(best)) {
					best, where, found = l, name, true
				}
			}
		}
	}
	consider(b.ID, b.MarkingRefs)
	for _, o := range b.Objects {
		consider(o.ID, o.MarkingRefs, o.GranularMarkingRefs)
	}
	return best, where, found
}

// Marking returns the strictest well-known TLP marking among the object's
// object_marking_refs and granular markings; ok is false if there is none.
func (o *Object) Marking() (m hotline.Marking, ok bool) {
	b := &Bundle{Objects: []*Object{o}}
	return b.Marking()
}

// CheckMarking refuses a bundle whose content is marked stricter than the
// envelope that would carry it: TLP:RED indicators inside a TLP:AMBER
// message would be shared beyond what their producer allowed. The error is
// an [*Error] of code CodeMarkingTooStrict naming the first object so
// marked, or of code CodeBadMarking if envelope is not a TLP 2.0 label.
// A bundle without TLP markings passes.
func CheckMarking(b *Bundle, envelope hotline.Marking) error {
	if !envelope.Valid() {
		return &Error{Code: CodeBadMarking, Message: fmt.Sprintf("envelope marking %q is not a TLP 2.0 label", truncate(string(envelope), maxQuoted))}
	}
	m, where, ok := b.strictest()
	if ok && m.StricterThan(envelope) {
		obj := where
		if !safeName(obj) {
			obj = "bundle"
		}
		return &Error{Code: CodeMarkingTooStrict, Object: obj, Message: fmt.Sprintf("content marked %s is stricter than the envelope's %s", m, envelope)}
	}
	return nil
}

// SetMarking marks the whole bundle m: every object except TLP marking
// definitions gets m's TLP 2.0 marking definition in its
// object_marking_refs in place of any TLP marking it had (object-level and
// granular; other markings are kept), the definition object is added to
// the bundle, and TLP definitions no longer referenced are removed.
// SetMarking replaces markings, so it can lower them: a caller that must
// not declassify content checks [CheckMarking] first. Rewritten objects
// have their members in sorted order.
func (b *Bundle) SetMarking(m hotline.Marking) error {
	def, err := MarkingDefinition(m)
	if err != nil {
		return err
	}
	isTLP := make(map[string]bool)
	for _, o := range b.Objects {
		if o.tlp != "" {
			isTLP[o.ID] = true
		}
	}
	tlpRef := func(ref string) bool {
		_, ok := WellKnownTLP(ref)
		return ok || isTLP[ref]
	}

	objects := []*Object{def}
	for _, o := range b.Objects {
		if o.tlp != "" || tlpRef(o.ID) {
			continue // a TLP definition: dropped, def replaces it
		}
		if err := o.setMarking(def.ID, tlpRef); err != nil {
			return err
		}
		objects = append(objects, o)
	}
	b.Objects = objects
	b.MarkingRefs = slices.DeleteFunc(b.MarkingRefs, tlpRef)
	return nil
}

// setMarking rewrites o so that its only TLP marking is the object-level
// reference to id.
func (o *Object) setMarking(id string, tlpRef func(string) bool) error {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(o.Raw, &members); err != nil {
		return fmt.Errorf("rewriting %s: %w", o.ID, err)
	}
	refs := append(slices.DeleteFunc(slices.Clone(o.MarkingRefs), tlpRef), id)
	raw, err := json.Marshal(refs)
	if err != nil {
		return fmt.Errorf("rewriting %s: %w", o.ID, err)
	}
	members["object_marking_refs"] = raw

	var granular, refsLeft []string
	if rawGM, ok := members["granular_markings"]; ok {
		var gms []json.RawMessage
		if err := json.Unmarshal(rawGM, &gms); err != nil {
			return fmt.Errorf("rewriting %s: %w", o.ID, err)
		}
		kept := make([][]byte, 0, len(gms))
		for _, gm := range gms {
			var g struct {
				MarkingRef string `json:"marking_ref"`
			}
			if err := json.Unmarshal(gm, &g); err != nil {
				return fmt.Errorf("rewriting %s: %w", o.ID, err)
			}
			if g.MarkingRef != "" && tlpRef(g.MarkingRef) {
				continue
			}
			kept = append(kept, gm)
			if g.MarkingRef != "" {
				refsLeft = append(refsLeft, g.MarkingRef)
			}
		}
		if len(kept) == 0 {
			delete(members, "granular_markings")
		} else {
			granular = refsLeft
			members["granular_markings"] = append(append([]byte("["), bytes.Join(kept, []byte(","))...), ']')
		}
	}
	o.Raw = encodeMembers(members)
	o.MarkingRefs = refs
	o.GranularMarkingRefs = granular
	return nil
}
