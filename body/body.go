package body

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/hotline-net/hotline/internal/langtag"
)

// Body is the body of a message: the bytes an envelope carries after the
// inner header, as JSON. One type serves every kind; each kind's
// [Template] says which fields it requires and which it allows. Fields are
// codes wherever a code exists, so that a recipient reads the structured
// part in its own language; free text carries its language.
//
// The JSON member order is the order of the fields here; [Body.Marshal]
// writes it compact.
type Body struct {
	// Language is the BCP 47 tag of the author's text: title, summary,
	// free text ("en", "zh-Hans", "ar"). Always required.
	Language string `json:"language"`
	Title    string `json:"title,omitempty"`   // one line
	Summary  string `json:"summary,omitempty"` // a paragraph or a few
	// Incident is when the incident happened.
	Incident *Window `json:"incident,omitempty"`
	// Activity is the planned activity an advance notice announces.
	Activity *Activity `json:"activity,omitempty"`
	Sectors  []Sector  `json:"sectors,omitempty"`
	// Norms are the UN norms of responsible state behaviour concerned
	// (A/70/174 paragraph 13): "13a" to "13k".
	Norms []string `json:"norms,omitempty"`
	// Actions are requested of the recipient (recommended, in an
	// advisory); ActionsTaken were taken by the sender.
	Actions      []string `json:"actions,omitempty"`
	ActionsTaken []string `json:"actions_taken,omitempty"`
	// Assistance is the assistance requested (assistance_request) or
	// offered (response).
	Assistance []string `json:"assistance,omitempty"`
	Answer     string   `json:"answer,omitempty"` // response
	Findings   []string `json:"findings,omitempty"`
	// Meeting is the consultation asked for (consultation_request) or the
	// time proposed in answer (response).
	Meeting    *Meeting `json:"meeting,omitempty"`
	Status     string   `json:"status,omitempty"`     // status_update
	Resolution string   `json:"resolution,omitempty"` // closure
	Reason     string   `json:"reason,omitempty"`     // retraction
	// Contacts are the ids of the recipient's contacts (in its directory
	// entry) that a ping tests.
	Contacts []string `json:"contacts,omitempty"`
	// Challenge is a short code a ping carries and the acknowledging human
	// repeats, showing the ack was typed by someone who read the ping.
	Challenge string `json:"challenge,omitempty"`
	// AcknowledgedBy names the human who acknowledges (ack).
	AcknowledgedBy  string   `json:"acknowledged_by,omitempty"`
	Vulnerabilities []string `json:"vulnerabilities,omitempty"` // CVE ids
	// STIX holds a STIX 2.1 bundle as raw JSON. Parse checks only that it
	// is a JSON object of type "bundle"; validating it against the STIX
	// schemas is the node's job (package stix).
	STIX        json.RawMessage `json:"stix,omitempty"`
	Attachments []Attachment    `json:"attachments,omitempty"`
	// Text is free text in Language.
	Text string `json:"text,omitempty"`
}

// Window is when something happened: a start, an end unless it is
// ongoing, and optionally when it was detected.
type Window struct {
	Start    time.Time `json:"start"`
	End      time.Time `json:"end,omitzero"`
	Detected time.Time `json:"detected,omitzero"`
}

// Activity is a planned activity: its type (a code) and when.
type Activity struct {
	Type  string    `json:"type"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// Meeting is a consultation: its format (a code) and proposed times.
type Meeting struct {
	Format string      `json:"format,omitempty"`
	Times  []time.Time `json:"times,omitempty"`
}

// Sector is an affected sector (a code) and whether the affected part is
// critical infrastructure.
type Sector struct {
	Code                   string `json:"code"`
	CriticalInfrastructure bool   `json:"critical_infrastructure,omitempty"`
}

// Attachment is a file carried in the body.
type Attachment struct {
	Name      string `json:"name"`       // a file name, no directories
	MediaType string `json:"media_type"` // e.g. "application/pdf"
	Data      []byte `json:"data"`       // base64 in JSON
}

// Limits bound what [ParseLimits] accepts. The zero value of each field
// means its default.
type Limits struct {
	// MaxSize bounds the body in bytes. Default 15 MiB: an envelope holds
	// at most 16 MiB by default, header and stanzas included.
	MaxSize int
	// MaxDepth bounds how deep objects and arrays nest (STIX bundles
	// nest). Default 32.
	MaxDepth int
}

// Defaults of [Limits].
const (
	DefaultMaxSize  = 15 << 20
	DefaultMaxDepth = 32
)

// Limits on fields, in characters for text.
const (
	maxTitle       = 200
	maxSummary     = 4000
	maxText        = 100_000
	maxName        = 200
	maxList        = 64
	maxVulns       = 1024
	maxTimes       = 16
	maxAttachments = 64
)

// Parse parses and validates the body of a message of the given kind,
// with default [Limits].
func Parse(kind string, b []byte) (*Body, error) {
	return ParseLimits(kind, b, Limits{})
}

// ParseLimits parses b strictly — one JSON object, no unknown or repeated
// members, no null, within lim — and validates it against kind's template
// (see [Body.Validate]).
func ParseLimits(kind string, b []byte, lim Limits) (*Body, error) {
	if lim.MaxSize == 0 {
		lim.MaxSize = DefaultMaxSize
	}
	if lim.MaxDepth == 0 {
		lim.MaxDepth = DefaultMaxDepth
	}
	if _, ok := TemplateFor(kind); !ok {
		return nil, errorf(ErrUnknownKind, "body: no template for kind %q", truncate(kind))
	}
	if len(b) > lim.MaxSize {
		return nil, errorf(ErrTooLarge, "body: %d bytes, more than %d", len(b), lim.MaxSize)
	}
	times, err := checkJSON(b, lim.MaxDepth)
	if err != nil {
		return nil, err
	}
	var body Body
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		return nil, decodeError(err, times)
	}
	if err := checkTimeTexts(times); err != nil {
		return nil, err
	}
	body.dropEmptyLists()
	if err := body.Validate(kind); err != nil {
		return nil, err
	}
	return &body, nil
}

// dropEmptyLists makes every empty list of the body nil: a list written
// [] is the list left out, which Marshal leaves out, so that a body parsed
// again from what Marshal wrote is the same.
func (b *Body) dropEmptyLists() {
	for _, l := range []*[]string{&b.Norms, &b.Actions, &b.ActionsTaken, &b.Assistance, &b.Findings, &b.Contacts, &b.Vulnerabilities} {
		if len(*l) == 0 {
			*l = nil
		}
	}
	if len(b.Sectors) == 0 {
		b.Sectors = nil
	}
	if len(b.Attachments) == 0 {
		b.Attachments = nil
	}
	if b.Meeting != nil && len(b.Meeting.Times) == 0 {
		b.Meeting.Times = nil
	}
}

// Marshal returns the body as compact JSON, members in field order.
func (b *Body) Marshal() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(b); err != nil {
		return nil, fmt.Errorf("encoding body: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// CriticalInfrastructure reports whether any affected sector is critical
// infrastructure.
func (b *Body) CriticalInfrastructure() bool {
	for _, s := range b.Sectors {
		if s.CriticalInfrastructure {
			return true
		}
	}
	return false
}

// CheckContacts checks a ping's contacts against the recipient's directory
// entry: known reports whether the recipient has a contact with that id.
// Parse cannot, as it does not know the recipient.
func (b *Body) CheckContacts(known func(id string) bool) error {
	for _, c := range b.Contacts {
		if !known(c) {
			return errorf(ErrInvalidValue, "body: contacts: %q is not a contact of the recipient", truncate(c))
		}
	}
	return nil
}

// Validate checks b against kind's template: required fields present,
// no field the template lacks, every code in its vocabulary, no code
// twice, times in UTC with whole seconds, windows that end after they
// start, text within its limits and free of control characters, and the
// rules particular to a kind (a response proposing a time names one, a
// consultation request names a format and times).
func (b *Body) Validate(kind string) error {
	t, ok := TemplateFor(kind)
	if !ok {
		return errorf(ErrUnknownKind, "body: no template for kind %q", truncate(kind))
	}
	v := &validator{kind: kind}
	present := b.present()
	for _, f := range t.Required {
		if !present[f] {
			v.fail(ErrMissingField, f, "required for %s", kind)
		}
	}
	for _, f := range Fields() {
		if present[f] && !t.allows(f) {
			v.fail(ErrFieldNotAllowed, f, "a %s has no %s", kind, f)
		}
	}
	if !v.ok() {
		return v.err
	}

	if !langtag.Valid(b.Language) {
		v.fail(ErrInvalidValue, FieldLanguage, "%q is not a BCP 47 language tag", truncate(b.Language))
	}
	v.line(FieldTitle, b.Title, maxTitle)
	v.para(FieldSummary, b.Summary, maxSummary)
	v.para(FieldText, b.Text, maxText)
	v.line(FieldAcknowledgedBy, b.AcknowledgedBy, maxName)
	if b.Incident != nil {
		v.window(FieldIncident, b.Incident)
	}
	if a := b.Activity; a != nil {
		v.code(FieldActivity+".type", ActivityTypes, a.Type, true)
		v.time(FieldActivity+".start", a.Start, true)
		v.time(FieldActivity+".end", a.End, true)
		if !a.End.IsZero() && !a.End.After(a.Start) {
			v.fail(ErrInvalidValue, FieldActivity, "ends before it starts")
		}
	}
	seen := map[string]bool{}
	if len(b.Sectors) > maxList {
		v.fail(ErrInvalidValue, FieldSectors, "more than %d", maxList)
	}
	for i, s := range b.Sectors {
		v.code(fmt.Sprintf("%s[%d].code", FieldSectors, i), Sectors, s.Code, true)
		if seen[s.Code] {
			v.fail(ErrDuplicateValue, FieldSectors, "%s is listed twice", s.Code)
		}
		seen[s.Code] = true
	}
	v.codes(FieldNorms, Norms, b.Norms)
	v.codes(FieldActions, Actions, b.Actions)
	v.codes(FieldActionsTaken, Actions, b.ActionsTaken)
	v.codes(FieldAssistance, AssistanceTypes, b.Assistance)
	v.code(FieldAnswer, Answers, b.Answer, false)
	v.codes(FieldFindings, Findings, b.Findings)
	v.code(FieldStatus, Statuses, b.Status, false)
	v.code(FieldResolution, Resolutions, b.Resolution, false)
	v.code(FieldReason, Reasons, b.Reason, false)
	if m := b.Meeting; m != nil {
		v.code(FieldMeeting+".format", MeetingFormats, m.Format, false)
		if len(m.Times) > maxTimes {
			v.fail(ErrInvalidValue, FieldMeeting+".times", "more than %d", maxTimes)
		}
		tseen := map[time.Time]bool{}
		for i, tm := range m.Times {
			v.time(fmt.Sprintf("%s.times[%d]", FieldMeeting, i), tm, true)
			if tseen[tm] {
				v.fail(ErrDuplicateValue, FieldMeeting+".times", "%s is listed twice", tm.Format(time.RFC3339))
			}
			tseen[tm] = true
		}
		if m.Format == "" && len(m.Times) == 0 {
			v.fail(ErrMissingField, FieldMeeting, "a format or proposed times")
		}
	}
	if len(b.Contacts) > maxList {
		v.fail(ErrInvalidValue, FieldContacts, "more than %d", maxList)
	}
	seen = map[string]bool{}
	for _, c := range b.Contacts {
		if !validLabel(c) {
			v.fail(ErrInvalidValue, FieldContacts, "%q is not a contact id", truncate(c))
		}
		if seen[c] {
			v.fail(ErrDuplicateValue, FieldContacts, "%s is listed twice", c)
		}
		seen[c] = true
	}
	if b.Challenge != "" && !validChallenge(b.Challenge) {
		v.fail(ErrInvalidValue, FieldChallenge, "want 4 to 32 letters, digits or '-'")
	}
	if len(b.Vulnerabilities) > maxVulns {
		v.fail(ErrInvalidValue, FieldVulnerabilities, "more than %d", maxVulns)
	}
	seen = map[string]bool{}
	for _, c := range b.Vulnerabilities {
		if !validCVE(c) {
			v.fail(ErrInvalidValue, FieldVulnerabilities, "%q is not a CVE id like CVE-2024-3094", truncate(c))
		}
		if seen[c] {
			v.fail(ErrDuplicateValue, FieldVulnerabilities, "%s is listed twice", c)
		}
		seen[c] = true
	}
	if b.STIX != nil {
		if err := checkSTIX(b.STIX); err != nil {
			v.fail(ErrBadSTIX, FieldSTIX, "%v", err)
		}
	}
	if len(b.Attachments) > maxAttachments {
		v.fail(ErrInvalidValue, FieldAttachments, "more than %d", maxAttachments)
	}
	seen = map[string]bool{}
	for i, a := range b.Attachments {
		path := fmt.Sprintf("%s[%d]", FieldAttachments, i)
		if a.Name == "" || strings.ContainsAny(a.Name, `/\`) || a.Name == "." || a.Name == ".." {
			v.fail(ErrInvalidValue, path+".name", "want a file name without directories")
		}
		v.line(path+".name", a.Name, 255)
		if seen[a.Name] {
			v.fail(ErrDuplicateValue, path+".name", "two attachments named %q", truncate(a.Name))
		}
		seen[a.Name] = true
		if mt, params, err := mime.ParseMediaType(a.MediaType); err != nil || mt != a.MediaType || len(params) > 0 || !strings.Contains(strings.Trim(mt, "/"), "/") {
			v.fail(ErrInvalidValue, path+".media_type", "%q: want a media type like application/pdf", truncate(a.MediaType))
		}
		if len(a.Data) == 0 {
			v.fail(ErrMissingField, path+".data", "an attachment has content")
		}
	}

	// Rules particular to a kind.
	switch kind {
	case "consultation_request":
		if m := b.Meeting; m != nil && (m.Format == "" || len(m.Times) == 0) {
			v.fail(ErrMissingField, FieldMeeting, "a consultation request names a format and proposes times")
		}
	case "response":
		if b.Answer == "time_proposed" && (b.Meeting == nil || len(b.Meeting.Times) == 0) {
			v.fail(ErrMissingField, FieldMeeting, "an answer proposing another time proposes it")
		}
	}
	return v.err
}

// present returns which fields of b are set.
func (b *Body) present() map[string]bool {
	return map[string]bool{
		FieldLanguage:        b.Language != "",
		FieldTitle:           b.Title != "",
		FieldSummary:         b.Summary != "",
		FieldIncident:        b.Incident != nil,
		FieldActivity:        b.Activity != nil,
		FieldSectors:         len(b.Sectors) > 0,
		FieldNorms:           len(b.Norms) > 0,
		FieldActions:         len(b.Actions) > 0,
		FieldActionsTaken:    len(b.ActionsTaken) > 0,
		FieldAssistance:      len(b.Assistance) > 0,
		FieldAnswer:          b.Answer != "",
		FieldFindings:        len(b.Findings) > 0,
		FieldMeeting:         b.Meeting != nil,
		FieldStatus:          b.Status != "",
		FieldResolution:      b.Resolution != "",
		FieldReason:          b.Reason != "",
		FieldContacts:        len(b.Contacts) > 0,
		FieldChallenge:       b.Challenge != "",
		FieldAcknowledgedBy:  b.AcknowledgedBy != "",
		FieldVulnerabilities: len(b.Vulnerabilities) > 0,
		FieldSTIX:            b.STIX != nil,
		FieldAttachments:     len(b.Attachments) > 0,
		FieldText:            b.Text != "",
	}
}

type validator struct {
	kind string
	err  error
}

func (v *validator) ok() bool { return v.err == nil }

func (v *validator) fail(kind *Error, field, format string, args ...any) {
	if v.err == nil {
		v.err = errorf(kind, "body of %s: %s: %s", v.kind, field, fmt.Sprintf(format, args...))
	}
}

// line checks a single line of text.
func (v *validator) line(field, s string, max int) {
	v.text(field, s, max, false)
}

// para checks text that may span lines.
func (v *validator) para(field, s string, max int) {
	v.text(field, s, max, true)
}

func (v *validator) text(field, s string, max int, multiline bool) {
	if s == "" {
		return
	}
	if n := utf8.RuneCountInString(s); n > max {
		v.fail(ErrInvalidValue, field, "%d characters, more than %d", n, max)
		return
	}
	if strings.TrimSpace(s) == "" {
		v.fail(ErrInvalidValue, field, "only white space")
		return
	}
	for _, r := range s {
		if multiline && (r == '\n' || r == '\t') {
			continue
		}
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			v.fail(ErrInvalidValue, field, "contains the control character %U", r)
			return
		}
		if isBidiOverride(r) {
			v.fail(ErrInvalidValue, field, "contains the bidirectional embedding or override %U, which can make text read otherwise than it is; mark mixed-direction text with isolates (U+2066 to U+2069)", r)
			return
		}
	}
}

func (v *validator) time(field string, t time.Time, required bool) {
	if t.IsZero() {
		if required {
			v.fail(ErrMissingField, field, "required")
		}
		return
	}
	if t.Location() != time.UTC || t.Nanosecond() != 0 || t.Year() < 1970 || t.Year() > 9999 {
		v.fail(ErrInvalidValue, field, "%s: want UTC with whole seconds, like 2026-01-02T15:04:05Z", t.Format(time.RFC3339Nano))
	}
}

func (v *validator) window(field string, w *Window) {
	v.time(field+".start", w.Start, true)
	v.time(field+".end", w.End, false)
	v.time(field+".detected", w.Detected, false)
	if !w.End.IsZero() && w.End.Before(w.Start) {
		v.fail(ErrInvalidValue, field, "ends before it starts")
	}
	if !w.Detected.IsZero() && w.Detected.Before(w.Start) {
		v.fail(ErrInvalidValue, field, "detected before it started")
	}
}

func (v *validator) code(field string, voc Vocabulary, c string, required bool) {
	if c == "" {
		if required {
			v.fail(ErrMissingField, field, "required")
		}
		return
	}
	if !voc.Has(c) {
		v.fail(ErrInvalidCode, field, "%q is not %s %s code: want %s", truncate(c), voc.Article(), voc, voc.describeCodes())
	}
}

func (v *validator) codes(field string, voc Vocabulary, cs []string) {
	if len(cs) > maxList {
		v.fail(ErrInvalidValue, field, "more than %d", maxList)
	}
	seen := map[string]bool{}
	for _, c := range cs {
		v.code(field, voc, c, true)
		if seen[c] {
			v.fail(ErrDuplicateValue, field, "%s is listed twice", c)
		}
		seen[c] = true
	}
}

// checkSTIX checks the shape of the STIX slot: a JSON object whose type is
// "bundle" and whose objects, if any, are an array.
func checkSTIX(raw json.RawMessage) error {
	var bundle struct {
		Type    string            `json:"type"`
		Objects []json.RawMessage `json:"objects"`
	}
	if err := json.Unmarshal(raw, &bundle); err != nil {
		return fmt.Errorf("not a STIX bundle object: %v", err)
	}
	if bundle.Type != "bundle" {
		return fmt.Errorf("type is %q, want \"bundle\"", truncate(bundle.Type))
	}
	return nil
}

// stixObjects returns the number of objects of a STIX bundle.
func stixObjects(raw json.RawMessage) int {
	var bundle struct {
		Objects []json.RawMessage `json:"objects"`
	}
	_ = json.Unmarshal(raw, &bundle)
	return len(bundle.Objects)
}

func validLabel(s string) bool {
	if s == "" || len(s) > 64 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

func validChallenge(s string) bool {
	if len(s) < 4 || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// validCVE reports whether s is a CVE id: "CVE-", a year, "-", and four or
// more digits.
func validCVE(s string) bool {
	rest, ok := strings.CutPrefix(s, "CVE-")
	if !ok || len(rest) < 9 || len(rest) > 24 || rest[4] != '-' {
		return false
	}
	digits := rest[:4] + rest[5:]
	for _, c := range []byte(digits) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return rest[0] != '0' && (len(rest[5:]) == 4 || rest[5] != '0')
}
