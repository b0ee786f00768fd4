package body

import (
	"slices"
	"sync"
)

// The fields of a body, by their JSON names.
const (
	FieldLanguage        = "language"
	FieldTitle           = "title"
	FieldSummary         = "summary"
	FieldIncident        = "incident"
	FieldActivity        = "activity"
	FieldSectors         = "sectors"
	FieldNorms           = "norms"
	FieldActions         = "actions"
	FieldActionsTaken    = "actions_taken"
	FieldAssistance      = "assistance"
	FieldAnswer          = "answer"
	FieldFindings        = "findings"
	FieldMeeting         = "meeting"
	FieldStatus          = "status"
	FieldResolution      = "resolution"
	FieldReason          = "reason"
	FieldContacts        = "contacts"
	FieldChallenge       = "challenge"
	FieldAcknowledgedBy  = "acknowledged_by"
	FieldVulnerabilities = "vulnerabilities"
	FieldSTIX            = "stix"
	FieldAttachments     = "attachments"
	FieldText            = "text"
)

// Fields returns every field in the order a body is rendered: what the
// message is about, then the codes, then technical data, then free text.
func Fields() []string {
	return []string{
		FieldTitle, FieldAnswer, FieldStatus, FieldResolution, FieldReason, FieldSummary,
		FieldIncident, FieldActivity, FieldSectors, FieldNorms, FieldAssistance, FieldActions,
		FieldActionsTaken, FieldFindings, FieldMeeting, FieldContacts, FieldChallenge,
		FieldAcknowledgedBy, FieldVulnerabilities, FieldSTIX, FieldAttachments, FieldLanguage, FieldText,
	}
}

// Template is the template of one message kind: the fields its body
// requires, those it allows besides, and the catalogue key of the label
// of fields whose meaning the kind changes (the assistance of a response
// is offered, not requested).
type Template struct {
	Kind     string
	Required []string
	Optional []string
	// Labels maps a field to the catalogue key of its label when it is not
	// "field.<name>".
	Labels map[string]string
}

func (t *Template) allows(f string) bool {
	return slices.Contains(t.Required, f) || slices.Contains(t.Optional, f)
}

// Label returns the catalogue key of field's label in this template.
func (t *Template) Label(field string) string {
	if k, ok := t.Labels[field]; ok {
		return k
	}
	return "field." + field
}

// Templates returns the template of every kind of docs/DESIGN.md §3, in the
// order of its table.
func Templates() []Template {
	common := []string{FieldSTIX, FieldAttachments, FieldText}
	opt := func(fs ...string) []string { return append(fs, common...) }
	return []Template{
		{Kind: "notification",
			Required: []string{FieldLanguage, FieldTitle, FieldSummary, FieldIncident},
			Optional: opt(FieldSectors, FieldNorms, FieldActions, FieldVulnerabilities)},
		{Kind: "assistance_request",
			Required: []string{FieldLanguage, FieldTitle, FieldSummary, FieldSectors, FieldAssistance},
			Optional: opt(FieldIncident, FieldNorms, FieldActions)},
		{Kind: "mitigation_request",
			Required: []string{FieldLanguage, FieldTitle, FieldSummary, FieldIncident, FieldActions},
			Optional: opt(FieldSectors, FieldNorms)},
		{Kind: "clarification_request",
			Required: []string{FieldLanguage, FieldTitle, FieldSummary, FieldIncident},
			Optional: opt(FieldSectors, FieldNorms, FieldActions)},
		{Kind: "consultation_request",
			Required: []string{FieldLanguage, FieldTitle, FieldSummary, FieldMeeting},
			Optional: []string{FieldNorms, FieldAttachments, FieldText}},
		{Kind: "advance_notice",
			Required: []string{FieldLanguage, FieldTitle, FieldSummary, FieldActivity},
			Optional: opt(FieldSectors),
			Labels:   map[string]string{FieldSectors: "field.sectors_concerned"}},
		{Kind: "advisory",
			Required: []string{FieldLanguage, FieldTitle, FieldSummary},
			Optional: opt(FieldSectors, FieldActions, FieldVulnerabilities),
			Labels:   map[string]string{FieldActions: "field.recommended_actions", FieldSectors: "field.sectors_concerned"}},
		{Kind: "complaint",
			Required: []string{FieldLanguage, FieldTitle, FieldSummary, FieldNorms},
			Optional: opt(FieldIncident, FieldSectors, FieldActions)},
		{Kind: "ping",
			Required: []string{FieldLanguage, FieldContacts},
			Optional: []string{FieldChallenge, FieldText}},
		{Kind: "ack",
			Required: []string{FieldLanguage, FieldAcknowledgedBy},
			Optional: []string{FieldChallenge, FieldText}},
		{Kind: "response",
			Required: []string{FieldLanguage, FieldAnswer},
			Optional: opt(FieldSummary, FieldFindings, FieldActionsTaken, FieldAssistance, FieldMeeting),
			Labels:   map[string]string{FieldAssistance: "field.assistance_offered", FieldMeeting: "field.meeting_proposed"}},
		{Kind: "status_update",
			Required: []string{FieldLanguage, FieldStatus},
			Optional: opt(FieldSummary, FieldFindings, FieldActionsTaken)},
		{Kind: "closure",
			Required: []string{FieldLanguage, FieldResolution},
			Optional: []string{FieldSummary, FieldFindings, FieldText}},
		{Kind: "retraction",
			Required: []string{FieldLanguage, FieldReason},
			Optional: []string{FieldText}},
	}
}

// TemplateFor returns the template of kind.
func TemplateFor(kind string) (*Template, bool) {
	t, ok := templatesByKind()[kind]
	if !ok {
		return nil, false
	}
	return &t, true
}

// templatesByKind indexes Templates once: every accepted envelope looks
// its kind's template up.
var templatesByKind = sync.OnceValue(func() map[string]Template {
	m := make(map[string]Template)
	for _, t := range Templates() {
		m[t.Kind] = t
	}
	return m
})
