package stix

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Defaults for the zero values of [Config].
const (
	DefaultMaxSize    = 16 << 20 // the largest envelope a node accepts
	DefaultMaxDepth   = 64
	DefaultMaxObjects = 10_000
	DefaultMaxErrors  = 100
)

// Config bounds what a [Validator] accepts. Inputs beyond a bound are
// refused with their own code before any schema is applied.
type Config struct {
	// MaxSize is the largest input in bytes. Zero means DefaultMaxSize
	// (16 MiB).
	MaxSize int
	// MaxDepth is how deeply arrays and objects may nest, the document
	// itself being at depth 1. Zero means DefaultMaxDepth (64); real STIX
	// rarely exceeds 8.
	MaxDepth int
	// MaxObjects is the most objects a bundle may hold. Zero means
	// DefaultMaxObjects (10,000).
	MaxObjects int
	// MaxErrors is the most errors reported for one document; the rest are
	// summed up in one final error of code CodeTooManyErrors. Zero means
	// DefaultMaxErrors (100).
	MaxErrors int
}

// Validator checks STIX 2.1 documents against the OASIS schemas. It
// compiles them once, in [NewValidator]; it is safe for concurrent use.
//
// Each object is checked against the schema of its type, picked by its
// "type" property. An object whose type has no OASIS schema (a custom
// object such as "x-acme-widget", or a type from a later STIX version) is
// checked against the common core schema only: core.json, or
// cyber-observable-core.json when the object declares itself a new SCO
// through an extension of extension_type "new-sco". Such objects are
// accepted and flagged [Object.Custom], so that a caller can say what was
// not checked.
//
// Beyond the schemas, which OASIS notes cannot express the whole
// specification, a Validator checks that each id begins with its object's
// type, that modified is not before created, and that a marking definition
// published under a well-known TLP id defines that TLP level and no other.
type Validator struct {
	cfg Config
	s   *compiled
}

// NewValidator compiles the embedded schemas and returns a Validator with
// the limits of cfg.
func NewValidator(cfg Config) (*Validator, error) {
	if cfg.MaxSize <= 0 {
		cfg.MaxSize = DefaultMaxSize
	}
	if cfg.MaxDepth <= 0 {
		cfg.MaxDepth = DefaultMaxDepth
	}
	if cfg.MaxObjects <= 0 {
		cfg.MaxObjects = DefaultMaxObjects
	}
	if cfg.MaxErrors <= 0 {
		cfg.MaxErrors = DefaultMaxErrors
	}
	s, err := compileSchemas()
	if err != nil {
		return nil, err
	}
	return &Validator{cfg: cfg, s: s}, nil
}

// ValidateBundle parses and validates a STIX bundle. The error, if any, is
// an [*Error] (for input refused as a whole) or [Errors] (one per problem
// found).
func (v *Validator) ValidateBundle(data []byte) (*Bundle, error) {
	b, o, err := v.Validate(data)
	if err != nil {
		return nil, err
	}
	if b == nil {
		return nil, &Error{Code: CodeNotBundle, Object: o.ID, Message: fmt.Sprintf("not a bundle but a single %s object", o.Type)}
	}
	return b, nil
}

// ValidateObject parses and validates one STIX object outside a bundle.
func (v *Validator) ValidateObject(data []byte) (*Object, error) {
	b, o, err := v.Validate(data)
	if err != nil {
		return nil, err
	}
	if o == nil {
		return nil, &Error{Code: CodeNotBundle, Object: b.ID, Message: "a bundle, not a single object"}
	}
	return o, nil
}

// Validate parses and validates a STIX document that is either a bundle
// (its type is "bundle") or a single object, and returns whichever it is.
func (v *Validator) Validate(data []byte) (*Bundle, *Object, error) {
	doc, err := decode(data, &v.cfg)
	if err != nil {
		return nil, nil, err
	}
	top, ok := doc.value.(map[string]any)
	if !ok {
		return nil, nil, &Error{Code: CodeNotObject, Message: fmt.Sprintf("the document is %s, not a JSON object", kindOf(doc.value))}
	}
	c := &collector{max: v.cfg.MaxErrors}
	if t, _ := top["type"].(string); t == "bundle" {
		b := v.bundle(top, doc.objects, c)
		if err := c.err(); err != nil {
			return nil, nil, err
		}
		return b, nil, nil
	}
	o := v.object(top, -1, bytes.TrimSpace(data), c)
	if err := c.err(); err != nil {
		return nil, nil, err
	}
	return nil, o, nil
}

// bundle validates a bundle's own members against bundle.json and each of
// its objects against the schema of the object's type. (bundle.json would
// try every object against every type's schema and report why it is none
// of them.)
func (v *Validator) bundle(top map[string]any, raws [][]byte, c *collector) *Bundle {
	b := &Bundle{extra: make(map[string]json.RawMessage)}
	b.ID, _ = top["id"].(string)
	name := "bundle"
	if safeName(b.ID) {
		name = b.ID
	}

	own := make(map[string]any, len(top))
	for k, val := range top {
		if k != "objects" {
			own[k] = val
		}
	}
	if err := v.s.bundle.Validate(own); err != nil {
		c.schema(v.s, name, own, nil, err)
	}
	if refs, ok := top["object_marking_refs"]; ok {
		if err := v.s.markingRefs.Validate(refs); err != nil {
			c.schema(v.s, name, own, []string{"object_marking_refs"}, err)
		}
		b.MarkingRefs = stringsOf(refs)
	}
	for k, val := range top {
		switch k {
		case "type", "id", "objects", "object_marking_refs":
		default:
			raw, err := json.Marshal(val)
			if err != nil {
				c.add(&Error{Code: CodeInvalidProperty, Object: name, Property: k, Message: "cannot be encoded"})
				continue
			}
			b.extra[k] = raw
		}
	}

	objs, present := top["objects"]
	if !present {
		return b
	}
	arr, ok := objs.([]any)
	switch {
	case !ok:
		c.add(&Error{Code: CodeInvalidProperty, Object: name, Property: "objects", Message: fmt.Sprintf("must be an array, not %s", kindOf(objs))})
		return b
	case len(arr) == 0:
		c.add(&Error{Code: CodeInvalidProperty, Object: name, Property: "objects", Message: "must not be empty"})
		return b
	case len(arr) > v.cfg.MaxObjects:
		c.add(&Error{Code: CodeTooManyObjects, Object: name, Property: "objects", Message: fmt.Sprintf("holds %d objects, more than the limit of %d", len(arr), v.cfg.MaxObjects)})
		return b
	}
	for i, elem := range arr {
		m, ok := elem.(map[string]any)
		if !ok {
			c.add(&Error{Code: CodeNotObject, Object: fmt.Sprintf("objects[%d]", i), Message: fmt.Sprintf("%s, not a JSON object", kindOf(elem))})
			continue
		}
		if o := v.object(m, i, raws[i], c); o != nil {
			b.Objects = append(b.Objects, o)
		}
	}
	return b
}

// object validates one object, the index-th of a bundle (or -1 for a
// document that is a single object).
func (v *Validator) object(m map[string]any, index int, raw []byte, c *collector) *Object {
	o := &Object{Raw: slices.Clone(raw)}
	o.Type, _ = m["type"].(string)
	o.ID, _ = m["id"].(string)
	name := o.ID
	if !safeName(name) {
		name = "object"
		if index >= 0 {
			name = fmt.Sprintf("objects[%d]", index)
		}
	}
	before := c.count()

	schema := v.s.byType[o.Type]
	switch {
	case o.Type == "bundle":
		c.add(&Error{Code: CodeInvalidProperty, Object: name, Property: "type", Message: "a bundle cannot be one of a bundle's objects"})
		return nil
	case schema == nil && declaresNewSCO(m):
		schema, o.Custom = v.s.observableCore, true
	case schema == nil:
		schema, o.Custom = v.s.core, true
	}
	if err := schema.Validate(m); err != nil {
		c.schema(v.s, name, m, nil, err)
	}

	// What the schemas cannot say.
	idReported := c.reported(before, name, "id")
	if o.Type != "" && o.ID != "" && !strings.HasPrefix(o.ID, o.Type+"--") && !idReported {
		c.add(&Error{Code: CodeIDMismatch, Object: name, Property: "id", Message: fmt.Sprintf("must begin with %q, the object's type", truncate(o.Type, maxQuoted)+"--")})
	}
	o.SpecVersion, _ = m["spec_version"].(string)
	o.Created = timestamp(m["created"])
	o.Modified = timestamp(m["modified"])
	if !o.Created.IsZero() && !o.Modified.IsZero() && o.Modified.Before(o.Created) {
		c.add(&Error{Code: CodeModifiedBeforeCreated, Object: name, Property: "modified", Message: fmt.Sprintf("is before created (%s)", m["created"])})
	}
	o.MarkingRefs = stringsOf(m["object_marking_refs"])
	if gms, ok := m["granular_markings"].([]any); ok {
		for _, gm := range gms {
			if gm, ok := gm.(map[string]any); ok {
				if ref, ok := gm["marking_ref"].(string); ok {
					o.GranularMarkingRefs = append(o.GranularMarkingRefs, ref)
				}
			}
		}
	}
	if o.Type == "indicator" {
		o.Pattern, _ = m["pattern"].(string)
		o.PatternType, _ = m["pattern_type"].(string)
		o.ValidFrom = timestamp(m["valid_from"])
	}
	if o.Type == "marking-definition" {
		tlp, problems := definedTLP(m)
		for _, p := range problems {
			p.Object = name
			c.add(p)
		}
		o.tlp = tlp
	}
	c.sortSince(before)
	return o
}

// declaresNewSCO reports whether m carries an extension that defines it as
// a new cyber-observable type.
func declaresNewSCO(m map[string]any) bool {
	exts, _ := m["extensions"].(map[string]any)
	for _, e := range exts {
		if e, ok := e.(map[string]any); ok && e["extension_type"] == "new-sco" {
			return true
		}
	}
	return false
}

// safeName reports whether id can name an object in a one-line error as it
// is: short, and free of anything that could break or forge a line.
func safeName(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

func timestamp(v any) time.Time {
	s, ok := v.(string)
	if !ok {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t
}

func stringsOf(v any) []string {
	arr, _ := v.([]any)
	var out []string
	for _, x := range arr {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func kindOf(v any) string {
	switch v.(type) {
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", v)
}

// collector gathers the errors of one document, up to a limit.
type collector struct {
	errs    Errors
	max     int
	dropped int
}

func (c *collector) add(e *Error) {
	if len(c.errs) >= c.max {
		c.dropped++
		return
	}
	c.errs = append(c.errs, e)
}

// sortSince puts the errors added since the collector held n errors (those
// of one object) in order of property, for output that does not depend on
// the order in which the schema's keywords were evaluated.
func (c *collector) sortSince(n int) {
	if n < len(c.errs) {
		slices.SortStableFunc(c.errs[n:], func(a, b *Error) int { return strings.Compare(a.Property, b.Property) })
	}
}

func (c *collector) count() int { return len(c.errs) + c.dropped }

// reported reports whether an error about obj's property prop was added
// since the collector held n errors.
func (c *collector) reported(n int, obj, prop string) bool {
	for _, e := range c.errs[min(n, len(c.errs)):] {
		if e.Object == obj && e.Property == prop {
			return true
		}
	}
	return false
}

// schema adds the errors of a schema validation of inst (or of its value
// at prefix, when the schema applied to that value only).
func (c *collector) schema(s *compiled, obj string, inst any, prefix []string, err error) {
	var verr *jsonschema.ValidationError
	if !errors.As(err, &verr) {
		c.add(&Error{Code: CodeInvalidProperty, Object: obj, Message: err.Error()})
		return
	}
	if len(prefix) > 0 {
		prefixLocations(verr, prefix)
	}
	for _, e := range s.describe(obj, inst, verr) {
		c.add(e)
	}
}

func prefixLocations(e *jsonschema.ValidationError, prefix []string) {
	e.InstanceLocation = append(slices.Clip(prefix), e.InstanceLocation...)
	for _, c := range e.Causes {
		prefixLocations(c, prefix)
	}
}

func (c *collector) err() error {
	if len(c.errs) == 0 {
		return nil
	}
	if c.dropped > 0 {
		c.errs = append(c.errs, &Error{Code: CodeTooManyErrors, Message: fmt.Sprintf("%d more errors not shown", c.dropped)})
	}
	return c.errs
}
