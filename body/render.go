package body

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/hotline-net/hotline"
)

// Meta is what the inner header says about a message and a rendering
// shows above its body. Zero fields are left out.
type Meta struct {
	Severity hotline.Severity
	Marking  hotline.Marking
	// Exercise puts a banner on top: the message is part of an exercise,
	// not a real incident.
	Exercise bool
}

// Unicode directional formatting characters (UAX #9).
const (
	rlm = "\u200f" // RIGHT-TO-LEFT MARK
	lri = "\u2066" // LEFT-TO-RIGHT ISOLATE
	fsi = "\u2068" // FIRST STRONG ISOLATE
	pdi = "\u2069" // POP DIRECTIONAL ISOLATE
)

// Render returns b, the body of a message of kind, as plain text in lang:
// the kind's name, then m, then each field the body has, labelled from the
// catalogue, codes by their names in lang, times in UTC as
// "2006-01-02 15:04 UTC". Free text (title, summary, text, names) is shown
// as written, in the author's language.
//
// Arabic is written right to left. So that a plain-text viewer lays it out
// correctly whatever it assumes, every line of an Arabic rendering begins
// with U+200F RIGHT-TO-LEFT MARK; codes, times and numbers are wrapped in
// U+2066 LEFT-TO-RIGHT ISOLATE … U+2069 POP DIRECTIONAL ISOLATE; and free
// text is wrapped in U+2068 FIRST STRONG ISOLATE … U+2069, so that a Latin
// or Chinese title keeps its own direction and cannot disturb the line
// around it. Free text that contains right-to-left characters is isolated
// the same way in every language.
func Render(lang Language, kind string, b *Body, m Meta) (string, error) {
	if !lang.known() {
		return "", errorf(ErrUnsupportedLanguage, "render: language %q: the catalogue has ar, zh, en, fr, ru and es", truncate(string(lang)))
	}
	t, ok := TemplateFor(kind)
	if !ok {
		return "", errorf(ErrUnknownKind, "render: no template for kind %q", truncate(kind))
	}
	r := &renderer{lang: lang, typo: lang.typography()}
	if m.Exercise {
		r.line(r.label("label.exercise"))
	}
	r.line(r.label("kind." + kind))
	if m.Severity.Valid() {
		r.field("label.severity", r.label("severity."+string(m.Severity)))
	}
	if m.Marking.Valid() {
		r.field("label.marking", r.ltr(m.Marking.String()))
	}
	r.line("")
	present := b.present()
	for _, f := range Fields() {
		if present[f] {
			r.render(t, f, b)
		}
	}
	return r.b.String(), nil
}

type renderer struct {
	lang Language
	typo typography
	b    strings.Builder
}

func (r *renderer) line(s string) {
	if r.lang.RTL() {
		r.b.WriteString(rlm)
	}
	r.b.WriteString(s)
	r.b.WriteString("\n")
}

func (r *renderer) label(key string) string {
	s, ok := Label(r.lang, key)
	if !ok {
		// Every key Render uses is in the catalogue (the tests check);
		// show the key rather than nothing.
		return key
	}
	return s
}

// field writes "Label: value".
func (r *renderer) field(key, value string) { r.line(r.label(key) + r.typo.colon + value) }

// head writes "Label:" over an indented block.
func (r *renderer) head(key string) { r.line(r.label(key) + r.typo.head) }

// sub writes an indented "Label: value".
func (r *renderer) sub(key, value string) { r.line("  " + r.label(key) + r.typo.colon + value) }

func (r *renderer) item(s string) { r.line("  - " + s) }

// ltr isolates a code, time or number in a right-to-left rendering.
func (r *renderer) ltr(s string) string {
	if r.lang.RTL() {
		return lri + s + pdi
	}
	return s
}

// user isolates free text in a right-to-left rendering, or when it holds
// right-to-left characters.
func (r *renderer) user(s string) string {
	if r.lang.RTL() || hasRTL(s) {
		return fsi + s + pdi
	}
	return s
}

func hasRTL(s string) bool {
	for _, c := range s {
		if unicode.In(c, unicode.Arabic, unicode.Hebrew, unicode.Syriac, unicode.Thaana, unicode.Nko) {
			return true
		}
	}
	return false
}

func (r *renderer) time(t time.Time) string {
	layout := "2006-01-02 15:04 UTC"
	if t.Second() != 0 {
		layout = "2006-01-02 15:04:05 UTC"
	}
	return r.ltr(t.UTC().Format(layout))
}

func (r *renderer) code(v Vocabulary, c string) string {
	if name, ok := CodeName(r.lang, v, c); ok {
		return name
	}
	return r.ltr(c)
}

func (r *renderer) codes(key string, v Vocabulary, cs []string) {
	r.head(key)
	for _, c := range cs {
		r.item(r.code(v, c))
	}
}

func (r *renderer) text(key, s string) {
	r.head(key)
	for _, l := range strings.Split(s, "\n") {
		if strings.TrimSpace(l) == "" {
			r.line("")
			continue
		}
		r.line("  " + r.user(l))
	}
}

func (r *renderer) render(t *Template, f string, b *Body) {
	key := t.Label(f)
	switch f {
	case FieldTitle:
		r.field(key, r.user(b.Title))
	case FieldSummary:
		r.text(key, b.Summary)
	case FieldText:
		r.text(key, b.Text)
	case FieldAnswer:
		r.field(key, r.code(Answers, b.Answer))
	case FieldStatus:
		r.field(key, r.code(Statuses, b.Status))
	case FieldResolution:
		r.field(key, r.code(Resolutions, b.Resolution))
	case FieldReason:
		r.field(key, r.code(Reasons, b.Reason))
	case FieldIncident:
		w := b.Incident
		r.head(key)
		r.sub("label.start", r.time(w.Start))
		if w.End.IsZero() {
			r.sub("label.end", r.label("label.ongoing"))
		} else {
			r.sub("label.end", r.time(w.End))
		}
		if !w.Detected.IsZero() {
			r.sub("label.detected", r.time(w.Detected))
		}
	case FieldActivity:
		a := b.Activity
		r.head(key)
		r.sub("label.type", r.code(ActivityTypes, a.Type))
		r.sub("label.start", r.time(a.Start))
		r.sub("label.end", r.time(a.End))
	case FieldSectors:
		r.head(key)
		for _, s := range b.Sectors {
			name := r.code(Sectors, s.Code)
			if s.CriticalInfrastructure {
				name += r.typo.space + r.label("label.critical_infrastructure")
			}
			r.item(name)
		}
	case FieldNorms:
		r.head(key)
		for _, n := range b.Norms {
			name, _ := CodeName(r.lang, Norms, n)
			r.item(r.ltr(n[:2]+"("+n[2:]+")") + " " + name)
		}
	case FieldAssistance:
		r.codes(key, AssistanceTypes, b.Assistance)
	case FieldActions:
		r.codes(key, Actions, b.Actions)
	case FieldActionsTaken:
		r.codes(key, Actions, b.ActionsTaken)
	case FieldFindings:
		r.codes(key, Findings, b.Findings)
	case FieldMeeting:
		m := b.Meeting
		r.head(key)
		if m.Format != "" {
			r.sub("label.format", r.code(MeetingFormats, m.Format))
		}
		if len(m.Times) > 0 {
			r.line("  " + r.label("label.proposed_times") + r.typo.head)
			for _, tm := range m.Times {
				r.line("    - " + r.time(tm))
			}
		}
	case FieldContacts:
		r.head(key)
		for _, c := range b.Contacts {
			r.item(r.ltr(c))
		}
	case FieldChallenge:
		r.field(key, r.ltr(b.Challenge))
	case FieldAcknowledgedBy:
		r.field(key, r.user(b.AcknowledgedBy))
	case FieldVulnerabilities:
		r.head(key)
		for _, v := range b.Vulnerabilities {
			r.item(r.ltr(v))
		}
	case FieldSTIX:
		r.head(key)
		r.sub("label.objects", r.ltr(strconv.Itoa(stixObjects(b.STIX))))
	case FieldAttachments:
		r.head(key)
		for _, a := range b.Attachments {
			sum := sha256.Sum256(a.Data)
			r.item(r.user(a.Name) + r.typo.comma + r.ltr(a.MediaType) + r.typo.comma +
				r.ltr(strconv.Itoa(len(a.Data))) + " " + r.label("label.bytes") + r.typo.comma +
				r.ltr("SHA-256 "+hex.EncodeToString(sum[:8])))
		}
	case FieldLanguage:
		// "zh-Hans" is named for its primary subtag: Chinese (zh-Hans).
		primary, _, _ := strings.Cut(b.Language, "-")
		name := r.ltr(b.Language)
		if l, err := ParseLanguage(primary); err == nil {
			name = r.label("language."+string(l)) + r.typo.space + r.typo.open + r.ltr(b.Language) + r.typo.close
		}
		r.field(key, name)
	}
}
