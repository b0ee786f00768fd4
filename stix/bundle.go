package stix

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/hotline-net/hotline"
)

// Object is one validated STIX object: the few properties hotline acts on,
// and the object itself as its producer wrote it.
type Object struct {
	Type        string
	ID          string
	SpecVersion string
	// Created and Modified are zero for objects without them (cyber
	// observables) and for timestamps Go cannot represent (a leap second).
	Created  time.Time
	Modified time.Time
	// MarkingRefs is object_marking_refs; GranularMarkingRefs the
	// marking_ref of each of granular_markings.
	MarkingRefs         []string
	GranularMarkingRefs []string
	// Pattern, PatternType and ValidFrom are set for indicators.
	Pattern     string
	PatternType string
	ValidFrom   time.Time
	// Custom is set for an object whose type has no OASIS schema: it was
	// checked against the common properties only (see [Validator]).
	Custom bool
	// Raw is the object's JSON as received (or as rewritten by
	// [Bundle.SetMarking]). It must not be modified.
	Raw json.RawMessage

	// tlp is the TLP level this object defines, for a marking definition
	// that defines one.
	tlp hotline.Marking
}

// Bundle is a validated STIX 2.1 bundle.
type Bundle struct {
	ID      string
	Objects []*Object
	// MarkingRefs is object_marking_refs at the top of the bundle. STIX 2.1
	// does not define it there, but some producers mark a bundle so; it is
	// honoured when reading a bundle's marking.
	MarkingRefs []string

	// extra holds the bundle's other top-level members, so that writing
	// the bundle back loses nothing.
	extra map[string]json.RawMessage
}

// MarshalJSON returns b.Bytes().
func (b *Bundle) MarshalJSON() ([]byte, error) { return b.Bytes(), nil }

// Bytes returns the bundle as compact JSON: type and id first, the objects
// last, each object's members as received. It is what [Validator.ValidateBundle]
// accepts back.
func (b *Bundle) Bytes() []byte {
	var buf bytes.Buffer
	buf.WriteString(`{"type":"bundle","id":`)
	writeString(&buf, b.ID)
	keys := make([]string, 0, len(b.extra))
	for k := range b.extra {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		buf.WriteByte(',')
		writeString(&buf, k)
		buf.WriteByte(':')
		compactInto(&buf, b.extra[k])
	}
	if len(b.MarkingRefs) > 0 {
		buf.WriteString(`,"object_marking_refs":`)
		writeStrings(&buf, b.MarkingRefs)
	}
	if len(b.Objects) > 0 {
		buf.WriteString(`,"objects":[`)
		for i, o := range b.Objects {
			if i > 0 {
				buf.WriteByte(',')
			}
			compactInto(&buf, o.Raw)
		}
		buf.WriteByte(']')
	}
	buf.WriteByte('}')
	return buf.Bytes()
}

// Indicators returns the bundle's indicator objects.
func (b *Bundle) Indicators() []*Object {
	var out []*Object
	for _, o := range b.Objects {
		if o.Type == "indicator" {
			out = append(out, o)
		}
	}
	return out
}

// writeString writes s as a JSON string without escaping HTML characters,
// which encoding/json would do and which changes the bytes of data that
// may be signed or hashed downstream.
func writeString(buf *bytes.Buffer, s string) {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	buf.WriteString(strings.TrimSuffix(b.String(), "\n"))
}

func writeStrings(buf *bytes.Buffer, ss []string) {
	buf.WriteByte('[')
	for i, s := range ss {
		if i > 0 {
			buf.WriteByte(',')
		}
		writeString(buf, s)
	}
	buf.WriteByte(']')
}

// compactInto appends raw, compacted; raw is known to be valid JSON.
func compactInto(buf *bytes.Buffer, raw []byte) {
	if err := json.Compact(buf, raw); err != nil {
		buf.Write(raw) // unreachable for validated input
	}
}

// encodeMembers writes an object from its members, sorted by name.
func encodeMembers(members map[string]json.RawMessage) json.RawMessage {
	keys := make([]string, 0, len(members))
	for k := range members {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			buf.WriteByte(',')
		}
		writeString(&buf, k)
		buf.WriteByte(':')
		compactInto(&buf, members[k])
	}
	buf.WriteByte('}')
	return buf.Bytes()
}
