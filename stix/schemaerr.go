package stix

import (
	"encoding/json"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
)

// Turning a jsonschema error tree into lines a person can act on.
//
// jsonschema reports a failure as a tree: the schema, the $refs it followed,
// allOf/anyOf/oneOf groups, and at the leaves the keywords that failed
// ("required", "pattern", ...). Only the leaves say something; the inner
// nodes say where in the schema they were found. We keep the leaves, and
// where an anyOf or oneOf failed as a whole we keep only the alternative
// that came closest (see bestAlternative), because listing why the value
// is not each of several other things is the "page of schema noise" users
// cannot read.

// leafErrors returns the leaves of e that explain it.
func leafErrors(e *jsonschema.ValidationError) []*jsonschema.ValidationError {
	switch k := e.ErrorKind.(type) {
	case *kind.Schema, *kind.Reference, *kind.AllOf, *kind.Group:
		if len(e.Causes) == 0 {
			return []*jsonschema.ValidationError{e}
		}
		var out []*jsonschema.ValidationError
		for _, c := range e.Causes {
			out = append(out, leafErrors(c)...)
		}
		return out
	case *kind.AnyOf:
		return bestAlternative(e)
	case *kind.OneOf:
		if k.Subschemas != nil || len(e.Causes) == 0 {
			return []*jsonschema.ValidationError{e} // matched more than one
		}
		return bestAlternative(e)
	default:
		return []*jsonschema.ValidationError{e}
	}
}

// bestAlternative explains why a value matched none of the alternatives of
// an anyOf or oneOf (each cause of e is one alternative's failure).
//
// When every alternative failed only for the value's JSON type, the value
// is simply of the wrong type and one error says which types would do.
// Otherwise the alternative whose failures lie deepest in the value is the
// one the author meant (it got furthest before failing); among equals, the
// one with the fewest failures.
func bestAlternative(e *jsonschema.ValidationError) []*jsonschema.ValidationError {
	alts := make([][]*jsonschema.ValidationError, len(e.Causes))
	for i, c := range e.Causes {
		alts[i] = leafErrors(c)
	}
	if want, ok := onlyTypeErrors(alts); ok {
		got := alts[0][0].ErrorKind.(*kind.Type).Got
		return []*jsonschema.ValidationError{{
			SchemaURL:        e.SchemaURL,
			InstanceLocation: alts[0][0].InstanceLocation,
			ErrorKind:        &kind.Type{Got: got, Want: want},
		}}
	}
	best, bestDepth := -1, -1
	for i, a := range alts {
		if len(a) == 0 {
			continue
		}
		d := 0
		for _, l := range a {
			d = max(d, len(l.InstanceLocation))
		}
		if d > bestDepth || (d == bestDepth && weight(a) < weight(alts[best])) {
			best, bestDepth = i, d
		}
	}
	if best < 0 {
		return []*jsonschema.ValidationError{e}
	}
	return alts[best]
}

// weight is how many problems leaves describe: a "required" leaf is one
// problem per missing property.
func weight(leaves []*jsonschema.ValidationError) int {
	n := 0
	for _, l := range leaves {
		switch k := l.ErrorKind.(type) {
		case *kind.Required:
			n += len(k.Missing)
		case *kind.AdditionalProperties:
			n += len(k.Properties)
		default:
			n++
		}
	}
	return n
}

// onlyTypeErrors reports whether each alternative failed with exactly one
// type error, all at the same place, and returns the types they want.
func onlyTypeErrors(alts [][]*jsonschema.ValidationError) ([]string, bool) {
	var want []string
	for _, a := range alts {
		if len(a) != 1 {
			return nil, false
		}
		t, ok := a[0].ErrorKind.(*kind.Type)
		if !ok || !slices.Equal(a[0].InstanceLocation, alts[0][0].InstanceLocation) {
			return nil, false
		}
		for _, w := range t.Want {
			if !slices.Contains(want, w) {
				want = append(want, w)
			}
		}
	}
	return want, len(want) > 0
}

// describe turns the schema errors about inst (one object, named obj)
// into one [Error] per problem, in a stable order without duplicates.
func (c *compiled) describe(obj string, inst any, verr *jsonschema.ValidationError) []*Error {
	var out []*Error
	seen := make(map[string]bool)
	add := func(e *Error) {
		key := e.Property + "\x00" + e.Message
		if !seen[key] {
			seen[key] = true
			out = append(out, e)
		}
	}
	leaves := leafErrors(verr)
	// A oneOf that matched several alternatives usually lacks the property
	// that tells them apart, and says so in another leaf ("is_family":
	// missing); it is worth reporting only when nothing else is.
	others := slices.DeleteFunc(slices.Clone(leaves), func(l *jsonschema.ValidationError) bool {
		k, ok := l.ErrorKind.(*kind.OneOf)
		return ok && k.Subschemas != nil
	})
	if len(others) > 0 {
		leaves = others
	}
	for _, leaf := range leaves {
		for _, e := range c.describeLeaf(inst, leaf) {
			e.Object = obj
			add(e)
		}
	}
	return out
}

func (c *compiled) describeLeaf(inst any, leaf *jsonschema.ValidationError) []*Error {
	loc := leaf.InstanceLocation
	at := func(code Code, msg string) []*Error {
		return []*Error{{Code: code, Property: propertyPath(inst, loc), Message: msg}}
	}
	child := func(code Code, name, msg string) *Error {
		return &Error{Code: code, Property: propertyPath(inst, append(slices.Clip(loc), name)), Message: msg}
	}
	switch k := leaf.ErrorKind.(type) {
	case *kind.Required:
		var out []*Error
		for _, m := range k.Missing {
			out = append(out, child(CodeMissingProperty, m, "missing"))
		}
		return out
	case *kind.Dependency:
		var out []*Error
		for _, m := range k.Missing {
			out = append(out, child(CodeMissingProperty, m, fmt.Sprintf("missing (required with %q)", k.Prop)))
		}
		return out
	case *kind.DependentRequired:
		var out []*Error
		for _, m := range k.Missing {
			out = append(out, child(CodeMissingProperty, m, fmt.Sprintf("missing (required with %q)", k.Prop)))
		}
		return out
	case *kind.AdditionalProperties:
		msg := "not allowed"
		switch {
		case len(loc) > 0 && loc[len(loc)-1] == "extensions":
			msg = "not allowed: an extension is named by its extension-definition id or ends in \"-ext\""
		case strings.Contains(leaf.SchemaURL, "common/properties.json"):
			msg = "not allowed: a custom property name is 3 to 250 lower-case letters, digits and underscores, starting with a letter"
		}
		var out []*Error
		for _, p := range k.Properties {
			out = append(out, child(CodePropertyNotAllowed, p, msg))
		}
		return out
	case *kind.FalseSchema:
		return at(CodePropertyNotAllowed, "not allowed")
	case *kind.Not:
		return c.describeNot(inst, leaf)
	case *kind.Type:
		return at(CodeInvalidProperty, fmt.Sprintf("must be %s, not %s", typeList(k.Want), article(k.Got)))
	case *kind.Enum:
		return at(CodeInvalidProperty, "must be "+oneOf(k.Want)+" (got "+quoteValue(k.Got)+")")
	case *kind.Const:
		return at(CodeInvalidProperty, "must be "+quoteValue(k.Want)+" (got "+quoteValue(k.Got)+")")
	case *kind.Pattern:
		return at(CodeInvalidProperty, describePattern(leaf.SchemaURL, k))
	case *kind.Format:
		return at(CodeInvalidProperty, fmt.Sprintf("not a valid %s (got %s)", k.Want, quoteValue(k.Got)))
	case *kind.MinItems:
		if k.Want == 1 {
			return at(CodeInvalidProperty, "must not be empty")
		}
		return at(CodeInvalidProperty, fmt.Sprintf("must have at least %d items, has %d", k.Want, k.Got))
	case *kind.MaxItems:
		return at(CodeInvalidProperty, fmt.Sprintf("must have at most %d items, has %d", k.Want, k.Got))
	case *kind.MinProperties:
		if k.Want == 1 {
			return at(CodeInvalidProperty, "must not be empty")
		}
		return at(CodeInvalidProperty, fmt.Sprintf("must have at least %d properties, has %d", k.Want, k.Got))
	case *kind.MaxProperties:
		return at(CodeInvalidProperty, fmt.Sprintf("must have at most %d properties, has %d", k.Want, k.Got))
	case *kind.MinLength:
		return at(CodeInvalidProperty, fmt.Sprintf("must be at least %d characters long, is %d", k.Want, k.Got))
	case *kind.MaxLength:
		return at(CodeInvalidProperty, fmt.Sprintf("must be at most %d characters long, is %d", k.Want, k.Got))
	case *kind.Minimum:
		return at(CodeInvalidProperty, fmt.Sprintf("must be at least %s (got %s)", ratString(k.Want), ratString(k.Got)))
	case *kind.Maximum:
		return at(CodeInvalidProperty, fmt.Sprintf("must be at most %s (got %s)", ratString(k.Want), ratString(k.Got)))
	case *kind.ExclusiveMinimum:
		return at(CodeInvalidProperty, fmt.Sprintf("must be more than %s (got %s)", ratString(k.Want), ratString(k.Got)))
	case *kind.ExclusiveMaximum:
		return at(CodeInvalidProperty, fmt.Sprintf("must be less than %s (got %s)", ratString(k.Want), ratString(k.Got)))
	case *kind.MultipleOf:
		return at(CodeInvalidProperty, fmt.Sprintf("must be a multiple of %s (got %s)", ratString(k.Want), ratString(k.Got)))
	case *kind.UniqueItems:
		return at(CodeInvalidProperty, fmt.Sprintf("items %d and %d must not be equal", k.Duplicates[0], k.Duplicates[1]))
	case *kind.Contains, *kind.MinContains:
		return at(CodeInvalidProperty, "has no item of the required form")
	case *kind.MaxContains:
		return at(CodeInvalidProperty, "has too many items of a restricted form")
	case *kind.PropertyNames:
		return []*Error{child(CodePropertyNotAllowed, k.Property, "not an allowed property name")}
	case *kind.OneOf:
		return at(CodeInvalidProperty, "is ambiguous: it matches more than one of the forms its schema allows")
	default:
		return at(CodeInvalidProperty, "violates the schema keyword "+strconv.Quote(strings.Join(leaf.ErrorKind.KeywordPath(), "/")))
	}
}

// describeNot phrases a failed "not" from what it forbids. The STIX schemas
// use "not" for three things: properties an object must not have
// (not/anyOf/required), values a property must not take (not/enum), and
// strings it must not look like (not/pattern).
func (c *compiled) describeNot(inst any, leaf *jsonschema.ValidationError) []*Error {
	prop := propertyPath(inst, leaf.InstanceLocation)
	forbidden, _ := c.lookup(leaf.SchemaURL + "/not").(map[string]any)
	var required []string
	collect := func(s any) {
		if m, ok := s.(map[string]any); ok {
			if r, ok := m["required"].([]any); ok {
				for _, p := range r {
					if p, ok := p.(string); ok {
						required = append(required, p)
					}
				}
			}
		}
	}
	collect(forbidden)
	if alts, ok := forbidden["anyOf"].([]any); ok {
		for _, a := range alts {
			collect(a)
		}
	}
	if len(required) > 0 {
		here, _ := valueAt(inst, leaf.InstanceLocation).(map[string]any)
		var out []*Error
		for _, p := range required {
			if _, ok := here[p]; ok {
				out = append(out, &Error{
					Code:     CodePropertyNotAllowed,
					Property: propertyPath(inst, append(slices.Clip(leaf.InstanceLocation), p)),
					Message:  "not allowed on this object",
				})
			}
		}
		if len(out) > 0 {
			return out
		}
	}
	got := quoteValue(valueAt(inst, leaf.InstanceLocation))
	if enum, ok := forbidden["enum"].([]any); ok {
		return []*Error{{Code: CodeInvalidProperty, Property: prop, Message: "must not be " + oneOf(enum) + " (got " + got + ")"}}
	}
	if p, ok := forbidden["pattern"].(string); ok {
		return []*Error{{Code: CodeInvalidProperty, Property: prop, Message: fmt.Sprintf("must not match %s (got %s)", strconv.Quote(truncate(p, maxQuoted)), got)}}
	}
	return []*Error{{Code: CodeInvalidProperty, Property: prop, Message: "has a form its schema forbids (got " + got + ")"}}
}

// lookup resolves an absolute schema location ("URL#/json/pointer") in the
// loaded schema documents, or returns nil.
func (c *compiled) lookup(loc string) any {
	url, ptr, _ := strings.Cut(loc, "#")
	v := c.docs[url]
	if ptr == "" {
		return v
	}
	for tok := range strings.SplitSeq(strings.TrimPrefix(ptr, "/"), "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch x := v.(type) {
		case map[string]any:
			v = x[tok]
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}

// Patterns whose meaning has a name.
const (
	millisPattern = `T\d{2}:\d{2}:\d{2}\.\d{3,}Z$`
	secondPattern = `T\d{2}:\d{2}:\d{2}Z$`
)

func describePattern(schemaURL string, k *kind.Pattern) string {
	got := quoteValue(k.Got)
	switch {
	case strings.Contains(schemaURL, "common/timestamp.json"):
		return "not a timestamp (want RFC 3339 in UTC, e.g. 2016-05-12T08:17:27.000Z; got " + got + ")"
	case k.Want == millisPattern:
		return "not a timestamp with millisecond precision (e.g. 2016-05-12T08:17:27.000Z; got " + got + ")"
	case k.Want == secondPattern:
		return "not a timestamp with second precision (e.g. 2016-05-12T08:17:27Z; got " + got + ")"
	case strings.Contains(schemaURL, "common/identifier.json"):
		return "not a STIX identifier (type--UUID; got " + got + ")"
	case strings.Contains(schemaURL, "common/hex.json"):
		return "not hexadecimal (got " + got + ")"
	case strings.Contains(schemaURL, "common/binary.json"):
		return "not base64 (got " + got + ")"
	}
	if prefix, ok := literalPrefix(k.Want); ok {
		return fmt.Sprintf("must begin with %q (got %s)", prefix, got)
	}
	return fmt.Sprintf("does not match %s (got %s)", strconv.Quote(truncate(k.Want, maxQuoted)), got)
}

// literalPrefix recognises the patterns that only fix how an id begins,
// such as "^indicator--", and returns the prefix.
func literalPrefix(pattern string) (string, bool) {
	p, ok := strings.CutPrefix(pattern, "^")
	if !ok || !strings.HasSuffix(p, "--") {
		return "", false
	}
	for _, r := range p {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' {
			return "", false
		}
	}
	return p, true
}

// propertyPath renders a location within inst as people write it:
// "external_references[0].url". Whether a step is an array index is read
// from inst itself, since a member may be named "0".
func propertyPath(inst any, loc []string) string {
	var b strings.Builder
	v := inst
	for _, tok := range loc {
		switch x := v.(type) {
		case []any:
			b.WriteString("[" + tok + "]")
			if i, err := strconv.Atoi(tok); err == nil && i >= 0 && i < len(x) {
				v = x[i]
			} else {
				v = nil
			}
		default:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(tok)
			if m, ok := x.(map[string]any); ok {
				v = m[tok]
			} else {
				v = nil
			}
		}
	}
	return truncate(b.String(), 4*maxQuoted)
}

func valueAt(inst any, loc []string) any {
	v := inst
	for _, tok := range loc {
		switch x := v.(type) {
		case map[string]any:
			v = x[tok]
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}

// quoteValue renders a value from the input, shortened.
func quoteValue(v any) string {
	switch x := v.(type) {
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case string:
		return strconv.Quote(truncate(x, maxQuoted))
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return truncate(string(b), maxQuoted)
}

func oneOf(vals []any) string {
	const most = 8
	q := make([]string, 0, min(len(vals), most))
	for i, v := range vals {
		if i == most {
			q = append(q, fmt.Sprintf("… (%d more)", len(vals)-most))
			break
		}
		q = append(q, quoteValue(v))
	}
	if len(q) == 1 {
		return q[0]
	}
	return "one of " + strings.Join(q, ", ")
}

func typeList(want []string) string {
	q := make([]string, len(want))
	for i, w := range want {
		q[i] = article(w)
	}
	switch len(q) {
	case 1:
		return q[0]
	case 2:
		return q[0] + " or " + q[1]
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}

func article(jsonType string) string {
	switch jsonType {
	case "array", "object", "integer":
		return "an " + jsonType
	case "null":
		return "null"
	}
	return "a " + jsonType
}

func ratString(r *big.Rat) string {
	if r == nil {
		return "?"
	}
	if r.IsInt() {
		return r.Num().String()
	}
	return r.FloatString(6)
}
