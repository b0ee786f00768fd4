package body

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
)

//go:generate go run ../cmd/hotline codes --schemas ../docs/templates

// SchemaDialect is the JSON Schema dialect of [Schema]'s documents.
const SchemaDialect = "https://json-schema.org/draft/2020-12/schema"

// SchemaID returns the $id of kind's schema.
func SchemaID(kind string) string {
	return "https://github.com/hotline-net/hotline/blob/main/docs/templates/" + SchemaFile(kind)
}

// SchemaFile returns the name of the file that holds kind's schema in
// docs/templates.
func SchemaFile(kind string) string { return kind + ".schema.json" }

// Schema returns the template of kind as a JSON Schema (2020-12), indented,
// for implementers: the fields the kind requires and allows, their types,
// limits and codes. A body that [Parse] accepts is valid against it.
//
// A few rules of [Body.Validate] are beyond JSON Schema and are named in
// the schema's description instead: a window ends after it starts; an
// activity ends after it starts; a sector is listed once whatever its
// critical_infrastructure flag; and, before any of it, the body is one JSON
// object in UTF-8 within [Limits], without a member named twice. Fields of
// other kinds are listed with a schema that accepts only their empty value
// (the same as leaving them out, as [Body.Marshal] does).
func Schema(kind string) ([]byte, error) {
	t, ok := TemplateFor(kind)
	if !ok {
		return nil, errorf(ErrUnknownKind, "body: no template for kind %q", truncate(kind))
	}
	props := obj{}
	for _, f := range Fields() {
		if t.allows(f) {
			props[f] = fieldSchema(t, f, slices.Contains(t.Required, f))
		} else {
			props[f] = absentSchema(f, kind)
		}
	}
	title, _ := Label(English, "kind."+kind)
	s := obj{
		"$schema": SchemaDialect,
		"$id":     SchemaID(kind),
		"title":   fmt.Sprintf("hotline %s body (%s)", kind, title),
		"description": fmt.Sprintf("The body of a hotline message of kind %s: JSON, after the inner header. "+
			"Required: %s. Also allowed: %s. Members not listed here are refused. "+
			"Beyond this schema the node also refuses: a body that is not one JSON object in UTF-8, "+
			"larger than 15 MiB or nested deeper than 32, or that names a member twice; "+
			"a window or activity that ends before it starts, or detected before it started; "+
			"a sector listed twice.", kind, joinFields(t.Required), joinFields(t.Optional)),
		"type":                 "object",
		"required":             t.Required,
		"properties":           props,
		"additionalProperties": false,
	}
	var rules []obj
	switch kind {
	case "consultation_request":
		rules = append(rules, obj{
			"description": "A consultation request names a format and proposes times.",
			"properties": obj{FieldMeeting: obj{
				"required":   []string{"format", "times"},
				"properties": obj{"format": obj{"minLength": 1}, "times": obj{"minItems": 1}},
			}},
		})
	case "response":
		rules = append(rules, obj{
			"description": "An answer proposing another time proposes it.",
			"if":          obj{"properties": obj{FieldAnswer: obj{"const": "time_proposed"}}, "required": []string{FieldAnswer}},
			"then": obj{
				"required": []string{FieldMeeting},
				"properties": obj{FieldMeeting: obj{
					"required":   []string{"times"},
					"properties": obj{"times": obj{"minItems": 1}},
				}},
			},
		})
	}
	if len(rules) > 0 {
		s["allOf"] = rules
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(s); err != nil {
		return nil, fmt.Errorf("encoding the schema of %s: %w", kind, err)
	}
	// The bidirectional controls of the text patterns are written as JSON
	// escapes: raw, they would reorder the file as it displays.
	out := buf.Bytes()
	for r := '\u202a'; r <= '\u202e'; r++ {
		out = bytes.ReplaceAll(out, []byte(string(r)), fmt.Appendf(nil, `\u%04x`, r))
	}
	return out, nil
}

// obj is a JSON object of a schema; encoding/json writes its members
// sorted, so that a schema is the same bytes every time.
type obj = map[string]any

func joinFields(fs []string) string {
	if len(fs) == 0 {
		return "nothing else"
	}
	var b bytes.Buffer
	for i, f := range fs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(f)
	}
	return b.String()
}

// Patterns of the schemas. A JSON string holds them, so \n, \t, \u2028 and
// \u2029 below are the characters themselves; \p{Cc} (control characters)
// and \p{Z} (separators) are Unicode property escapes, as ECMA-262 with the
// "u" flag and Go's regexp both read them.
const (
	// lineChars: no control characters, no line or paragraph separators,
	// no bidirectional embeddings or overrides (U+202A to U+202E).
	lineChars = "^[^\\p{Cc}\u2028\u2029\u202a-\u202e]*$"
	// paraChars: the same, but line breaks and tabs.
	paraChars = "^(?:[^\\p{Cc}\u2028\u2029\u202a-\u202e]|[\n\t])*$"
	// notBlank: at least one character that is not white space (as Go's
	// unicode.IsSpace has it).
	notBlank    = "[^\t\n\v\f\r \u0085\u00a0\\p{Z}]"
	timePattern = "^(?:19[7-9][0-9]|[2-9][0-9]{3})-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]Z$"
)

func textSchema(desc string, max int, multiline, required bool) obj {
	chars := lineChars
	if multiline {
		chars = paraChars
	}
	s := obj{"type": "string", "description": desc, "maxLength": max,
		"pattern": chars}
	if required {
		s["minLength"] = 1
		s["allOf"] = []obj{{"pattern": notBlank}}
	} else {
		s["anyOf"] = []obj{{"maxLength": 0}, {"pattern": notBlank}}
	}
	return s
}

func timeSchema(desc string) obj {
	return obj{"type": "string", "format": "date-time", "pattern": timePattern,
		"description": desc + " In UTC with whole seconds, like 2026-01-02T15:04:05Z; not before 1970."}
}

func codeSchema(v Vocabulary, desc string) obj {
	return obj{"type": "string", "enum": v.Codes(), "description": desc + " A code of the vocabulary " + string(v) + " (hotline codes)."}
}

func codeListSchema(v Vocabulary, desc string, required bool) obj {
	s := obj{"type": "array", "items": obj{"type": "string", "enum": v.Codes()}, "uniqueItems": true, "maxItems": maxList,
		"description": desc + " Codes of the vocabulary " + string(v) + " (hotline codes), each at most once."}
	if required {
		s["minItems"] = 1
	}
	return s
}

func listMin(s obj, required bool) obj {
	if required {
		s["minItems"] = 1
	}
	return s
}

// fieldSchema is the schema of field f of template t.
func fieldSchema(t *Template, f string, required bool) obj {
	label, _ := Label(English, t.Label(f))
	switch f {
	case FieldLanguage:
		return obj{"type": "string", "minLength": 2, "maxLength": 35, "pattern": "^[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})*$",
			"description": label + ": the BCP 47 tag of the author's text (title, summary, free text), e.g. en, zh-Hans, ar."}
	case FieldTitle:
		return textSchema(label+": one line.", maxTitle, false, required)
	case FieldSummary:
		return textSchema(label+".", maxSummary, true, required)
	case FieldText:
		return textSchema(label+": free text in the body's language.", maxText, true, required)
	case FieldAcknowledgedBy:
		return textSchema(label+": the human who acknowledges.", maxName, false, required)
	case FieldIncident:
		return obj{"type": "object", "description": label + ": when the incident happened; no end while it goes on.",
			"required": []string{"start"}, "additionalProperties": false,
			"properties": obj{
				"start":    timeSchema("Start."),
				"end":      timeSchema("End, if it ended; not before the start."),
				"detected": timeSchema("When it was detected; not before the start."),
			}}
	case FieldActivity:
		return obj{"type": "object", "description": label + ": the activity announced, and when.",
			"required": []string{"type", "start", "end"}, "additionalProperties": false,
			"properties": obj{
				"type":  codeSchema(ActivityTypes, "Type."),
				"start": timeSchema("Start."),
				"end":   timeSchema("End, after the start."),
			}}
	case FieldSectors:
		return listMin(obj{"type": "array", "maxItems": maxList, "description": label + ": sectors, each at most once.",
			"items": obj{"type": "object", "required": []string{"code"}, "additionalProperties": false,
				"properties": obj{
					"code":                    codeSchema(Sectors, "Sector."),
					"critical_infrastructure": obj{"type": "boolean", "description": "Whether the part concerned is critical infrastructure."},
				}}}, required)
	case FieldNorms:
		return codeListSchema(Norms, label+": the norms of A/70/174 paragraph 13, (a) to (k).", required)
	case FieldActions:
		return codeListSchema(Actions, label+".", required)
	case FieldActionsTaken:
		return codeListSchema(Actions, label+".", required)
	case FieldAssistance:
		return codeListSchema(AssistanceTypes, label+".", required)
	case FieldFindings:
		return codeListSchema(Findings, label+".", required)
	case FieldAnswer:
		return codeSchema(Answers, label+".")
	case FieldStatus:
		return codeSchema(Statuses, label+".")
	case FieldResolution:
		return codeSchema(Resolutions, label+".")
	case FieldReason:
		return codeSchema(Reasons, label+".")
	case FieldMeeting:
		format := codeSchema(MeetingFormats, "Format.")
		format["enum"] = append([]string{""}, MeetingFormats.Codes()...)
		return obj{"type": "object", "description": label + ": a format, proposed times, or both.",
			"additionalProperties": false,
			"anyOf": []obj{
				{"required": []string{"format"}, "properties": obj{"format": obj{"minLength": 1}}},
				{"required": []string{"times"}, "properties": obj{"times": obj{"minItems": 1}}},
			},
			"properties": obj{
				"format": format,
				"times": obj{"type": "array", "maxItems": maxTimes, "uniqueItems": true,
					"items": timeSchema("A proposed time."), "description": "Proposed times, each at most once."},
			}}
	case FieldContacts:
		return listMin(obj{"type": "array", "maxItems": maxList, "uniqueItems": true,
			"items":       obj{"type": "string", "pattern": "^[a-z][a-z0-9._-]{0,63}$"},
			"description": label + ": ids of contacts in the recipient's directory entry (hotline agreement show); the recipient's node refuses an id its entry lacks."}, required)
	case FieldChallenge:
		return obj{"type": "string", "pattern": "^(?:[A-Za-z0-9-]{4,32})?$",
			"description": label + ": 4 to 32 letters, digits or '-', repeated by the acknowledging human."}
	case FieldVulnerabilities:
		return listMin(obj{"type": "array", "maxItems": maxVulns, "uniqueItems": true,
			"items":       obj{"type": "string", "pattern": "^CVE-[1-9][0-9]{3}-(?:[0-9]{4}|[1-9][0-9]{4,18})$"},
			"description": label + ": CVE ids like CVE-2024-3094, each at most once."}, required)
	case FieldSTIX:
		return obj{"type": "object", "required": []string{"type"},
			"properties":  obj{"type": obj{"const": "bundle"}, "objects": obj{"type": "array"}},
			"description": label + ": a STIX 2.1 bundle, validated by the recipient's node against the OASIS STIX 2.1 schemas; its markings may not be stricter than the envelope's."}
	case FieldAttachments:
		return listMin(obj{"type": "array", "maxItems": maxAttachments, "description": label + ": files, each named once.",
			"items": obj{"type": "object", "required": []string{"name", "media_type", "data"}, "additionalProperties": false,
				"properties": obj{
					"name": obj{"type": "string", "minLength": 1, "maxLength": 255,
						"allOf":       []obj{{"pattern": lineChars}, {"pattern": notBlank}, {"pattern": "^[^/\\\\]*$"}, {"not": obj{"enum": []string{".", ".."}}}},
						"description": "A file name without directories."},
					"media_type": obj{"type": "string", "pattern": "^[!#$%&'*+.^_`|~0-9a-z-]+/[!#$%&'*+.^_`|~0-9a-z-]+$",
						"description": "A media type in lower case without parameters, like application/pdf."},
					"data": obj{"type": "string", "minLength": 1, "contentEncoding": "base64",
						"pattern":     "^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$",
						"description": "The content, in standard base64 with padding."},
				}}}, required)
	}
	panic("body: no schema for field " + f)
}

// absentSchema is the schema of a field kind's template lacks: only its
// empty value, which Parse reads as absent, is accepted.
func absentSchema(f, kind string) any {
	desc := fmt.Sprintf("Not a field of %s: only an empty value, the same as leaving it out, is accepted.", kind)
	switch f {
	case FieldTitle, FieldSummary, FieldText, FieldAcknowledgedBy, FieldAnswer, FieldStatus,
		FieldResolution, FieldReason, FieldChallenge, FieldLanguage:
		return obj{"type": "string", "maxLength": 0, "description": desc}
	case FieldSectors, FieldNorms, FieldActions, FieldActionsTaken, FieldAssistance, FieldFindings,
		FieldContacts, FieldVulnerabilities, FieldAttachments:
		return obj{"type": "array", "maxItems": 0, "description": desc}
	}
	return false
}
