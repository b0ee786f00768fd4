package body

import (
	"strings"
	"sync"
)

// Vocabulary names a list of codes. A code's name in each language is in
// the catalogue under "<vocabulary>.<code>".
type Vocabulary string

// The vocabularies of a body.
const (
	// Sectors are the sectors an incident affects, after the critical
	// infrastructure sectors of common national and regional lists (EU
	// NIS2, US CISA) and the UN norms' concerns (electoral infrastructure,
	// emergency services).
	Sectors Vocabulary = "sector"
	// Norms are the eleven norms of responsible state behaviour in the use
	// of ICTs, A/70/174 paragraph 13 (a) to (k), endorsed by General
	// Assembly resolution 70/237.
	Norms Vocabulary = "norm"
	// Actions are what a sender asks of (or reports to) a recipient, after
	// the IODEF (RFC 7970) Expectation actions.
	Actions Vocabulary = "action"
	// AssistanceTypes are the kinds of assistance requested or offered.
	AssistanceTypes Vocabulary = "assistance"
	// Answers are a response's answer to a request.
	Answers Vocabulary = "answer"
	// Findings are what an investigation found.
	Findings Vocabulary = "finding"
	// MeetingFormats are how consultations are held.
	MeetingFormats Vocabulary = "meeting_format"
	// ActivityTypes are the planned activities an advance notice announces.
	ActivityTypes Vocabulary = "activity"
	// Statuses are the states a status update reports.
	Statuses Vocabulary = "status"
	// Resolutions are how a thread was closed.
	Resolutions Vocabulary = "resolution"
	// Reasons are why a message was retracted.
	Reasons Vocabulary = "reason"
)

// Vocabularies lists every vocabulary.
func Vocabularies() []Vocabulary {
	return []Vocabulary{Sectors, Norms, Actions, AssistanceTypes, Answers, Findings, MeetingFormats, ActivityTypes, Statuses, Resolutions, Reasons}
}

// Codes returns the codes of v, in their order of presentation.
func (v Vocabulary) Codes() []string {
	switch v {
	case Sectors:
		return []string{"energy", "transport", "finance", "health", "water", "food", "chemicals", "manufacturing",
			"digital_infrastructure", "telecommunications", "space", "government", "defence", "emergency_services",
			"elections", "research_education", "media"}
	case Norms:
		return []string{"13a", "13b", "13c", "13d", "13e", "13f", "13g", "13h", "13i", "13j", "13k"}
	case Actions:
		return []string{"investigate", "block", "mitigate", "contact", "report_back", "preserve_evidence",
			"share_indicators", "takedown", "monitor", "patch"}
	case AssistanceTypes:
		return []string{"incident_response", "forensic_analysis", "malware_analysis", "threat_information",
			"network_mitigation", "law_enforcement", "coordination"}
	case Answers:
		return []string{"accepted", "accepted_in_part", "declined", "time_proposed", "information_provided"}
	case Findings:
		return []string{"activity_confirmed", "activity_stopped", "not_observed", "infrastructure_misused",
			"source_outside_territory", "insufficient_information", "investigation_ongoing"}
	case MeetingFormats:
		return []string{"video", "in_person", "telephone", "written"}
	case ActivityTypes:
		return []string{"exercise", "security_testing", "research_scanning", "network_maintenance", "law_enforcement_operation"}
	case Statuses:
		return []string{"investigating", "contained", "mitigated", "monitoring", "escalated", "awaiting_information"}
	case Resolutions:
		return []string{"resolved", "unresolved", "no_further_action", "referred", "withdrawn"}
	case Reasons:
		return []string{"error", "duplicate", "superseded", "wrong_recipient", "false_positive"}
	}
	return nil
}

// Has reports whether code is a code of v.
func (v Vocabulary) Has(code string) bool { return codeSets()[v][code] }

// codeSets holds every vocabulary's codes as a set, built once: bodies are
// checked against them on every accepted envelope.
var codeSets = sync.OnceValue(func() map[Vocabulary]map[string]bool {
	m := make(map[Vocabulary]map[string]bool)
	for _, v := range Vocabularies() {
		m[v] = make(map[string]bool)
		for _, c := range v.Codes() {
			m[v][c] = true
		}
	}
	return m
})

// CodeField is a field of a template whose values are codes of a
// vocabulary.
type CodeField struct {
	// Field is the body field, e.g. "sectors".
	Field string
	// Path is where the codes sit in the field's JSON: "sectors[].code",
	// "norms[]", "activity.type", "answer".
	Path       string
	Vocabulary Vocabulary
}

// codeFields maps each field that takes codes to where they sit and their
// vocabulary.
func codeFields() []CodeField {
	return []CodeField{
		{FieldAnswer, FieldAnswer, Answers},
		{FieldStatus, FieldStatus, Statuses},
		{FieldResolution, FieldResolution, Resolutions},
		{FieldReason, FieldReason, Reasons},
		{FieldActivity, FieldActivity + ".type", ActivityTypes},
		{FieldSectors, FieldSectors + "[].code", Sectors},
		{FieldNorms, FieldNorms + "[]", Norms},
		{FieldAssistance, FieldAssistance + "[]", AssistanceTypes},
		{FieldActions, FieldActions + "[]", Actions},
		{FieldActionsTaken, FieldActionsTaken + "[]", Actions},
		{FieldFindings, FieldFindings + "[]", Findings},
		{FieldMeeting, FieldMeeting + ".format", MeetingFormats},
	}
}

// CodeFields returns the fields of t whose values are codes, in the order
// a body is rendered. A ping's contacts are not among them: they are ids
// of the recipient's contacts in its directory entry, not a vocabulary.
func (t *Template) CodeFields() []CodeField {
	var out []CodeField
	for _, f := range Fields() {
		if !t.allows(f) {
			continue
		}
		for _, cf := range codeFields() {
			if cf.Field == f {
				out = append(out, cf)
			}
		}
	}
	return out
}

// Article returns "a" or "an", as English writes it before the
// vocabulary's name ("an answer code", "a sector code").
func (v Vocabulary) Article() string {
	if strings.ContainsRune("aeiou", rune(v[0])) {
		return "an"
	}
	return "a"
}

// describeCodes lists v's codes for a refusal: "accepted, declined or
// time_proposed".
func (v Vocabulary) describeCodes() string {
	cs := v.Codes()
	if len(cs) == 1 {
		return cs[0]
	}
	return strings.Join(cs[:len(cs)-1], ", ") + " or " + cs[len(cs)-1]
}
