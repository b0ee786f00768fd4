package body

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hotline-net/hotline/internal/strictjson"
)

// checkJSON refuses what encoding/json would let through (see package
// strictjson; inside the STIX slot, member names and null are STIX's
// business), and lone surrogate escapes anywhere. It returns the members
// that hold times, as written, for checkTimeTexts.
func checkJSON(b []byte, maxDepth int) (timeMembers, error) {
	var tm timeMembers
	err := strictjson.Check(b, strictjson.Options{What: "body", MaxDepth: maxDepth, Free: "stix",
		Member: func(name string, value []byte) {
			switch name {
			case FieldIncident:
				tm.incident = value
			case FieldActivity:
				tm.activity = value
			case FieldMeeting:
				tm.meeting = value
			}
		}})
	if err != nil {
		return tm, err
	}
	return tm, checkSurrogates(b)
}

// timeMembers are the members of a body that hold times, as written.
type timeMembers struct{ incident, activity, meeting []byte }

func decodeError(err error, tm timeMembers) error {
	var te *json.UnmarshalTypeError
	var pe *time.ParseError
	switch {
	case errors.As(err, &pe):
		return errorf(ErrInvalidValue, "body: %s: %q is not a time: want UTC with whole seconds, like 2026-01-02T15:04:05Z",
			timeField(tm, pe.Value), truncate(pe.Value))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return errorf(ErrUnknownField, "body: %s", strings.TrimPrefix(err.Error(), "json: "))
	case errors.As(err, &te):
		return errorf(ErrInvalidValue, "body: field %q: want %s, got JSON %s", te.Field, te.Type, te.Value)
	}
	return errorf(ErrInvalidValue, "body: %v", err)
}

// timeField names the time field whose value is v, for a refusal:
// encoding/json reports a bad time without saying where it was.
func timeField(tm timeMembers, v string) string {
	for _, t := range timeTexts(tm) {
		if t.value == v {
			return t.field
		}
	}
	return "a time field"
}

// timeText is a time field of a body as it is written.
type timeText struct{ field, value string }

// timeTexts returns the time fields of a body's members as written, those
// that are strings.
func timeTexts(tm timeMembers) []timeText {
	var (
		incident struct{ Start, End, Detected json.RawMessage }
		activity struct{ Start, End json.RawMessage }
		meeting  struct{ Times []json.RawMessage }
	)
	json.Unmarshal(tm.incident, &incident)
	json.Unmarshal(tm.activity, &activity)
	json.Unmarshal(tm.meeting, &meeting)
	var out []timeText
	add := func(field string, m json.RawMessage) {
		var s string
		if m != nil && json.Unmarshal(m, &s) == nil {
			out = append(out, timeText{field, s})
		}
	}
	add(FieldIncident+".start", incident.Start)
	add(FieldIncident+".end", incident.End)
	add(FieldIncident+".detected", incident.Detected)
	add(FieldActivity+".start", activity.Start)
	add(FieldActivity+".end", activity.End)
	for i, v := range meeting.Times {
		add(fmt.Sprintf("%s.times[%d]", FieldMeeting, i), v)
	}
	return out
}

// checkTimeTexts refuses a time written otherwise than RFC 3339's
// YYYY-MM-DDTHH:MM:SS: Go's time parser takes an hour of one digit,
// which RFC 3339 (and the body's JSON Schema) does not.
func checkTimeTexts(tm timeMembers) error {
	for _, t := range timeTexts(tm) {
		if !rfc3339Prefix(t.value) {
			return errorf(ErrInvalidValue, "body: %s: %q is not a time: want UTC with whole seconds, like 2026-01-02T15:04:05Z",
				t.field, truncate(t.value))
		}
	}
	return nil
}

// rfc3339Prefix reports whether s starts with YYYY-MM-DDTHH:MM:SS.
func rfc3339Prefix(s string) bool {
	const form = "dddd-dd-ddTdd:dd:dd"
	if len(s) < len(form) {
		return false
	}
	for i := range len(form) {
		if form[i] == 'd' && (s[i] < '0' || s[i] > '9') || form[i] != 'd' && s[i] != form[i] {
			return false
		}
	}
	return true
}

func truncate(s string) string {
	if len(s) > 80 {
		return s[:77] + "..."
	}
	return s
}

// isBidiOverride reports whether r is a bidirectional embedding or
// override (U+202A to U+202E: LRE, RLE, PDF, LRO, RLO). They reorder what
// follows them until a PDF, so a title can display otherwise than its
// characters read ("Trojan Source"); text in a body refuses them. The
// isolates (U+2066 to U+2069), which Unicode recommends for
// mixed-direction text, and the marks (U+200E, U+200F, U+061C) stay
// allowed.
func isBidiOverride(r rune) bool { return r >= '\u202a' && r <= '\u202e' }

// checkSurrogates refuses a \u escape of a UTF-16 surrogate that is not
// one half of a pair: encoding/json decodes it silently to U+FFFD, so two
// readers of one body could disagree on its text. b is a JSON document
// package strictjson accepted.
func checkSurrogates(b []byte) error {
	in := false
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			in = !in
		case in && c == '\\' && i+1 < len(b) && b[i+1] == 'u' && i+5 < len(b):
			r := hex4(b[i+2 : i+6])
			switch {
			case r >= 0xd800 && r < 0xdc00:
				if i+11 < len(b) && b[i+6] == '\\' && b[i+7] == 'u' {
					if lo := hex4(b[i+8 : i+12]); lo >= 0xdc00 && lo < 0xe000 {
						i += 11
						continue
					}
				}
				return errorf(ErrInvalidValue, "body: \\u%04x at byte %d is half of a UTF-16 surrogate pair, without its other half", r, i)
			case r >= 0xdc00 && r < 0xe000:
				return errorf(ErrInvalidValue, "body: \\u%04x at byte %d is half of a UTF-16 surrogate pair, without its other half", r, i)
			}
			i += 5
		case in && c == '\\':
			i++ // the escaped character, a quote or a backslash among them
		}
	}
	return nil
}

// hex4 decodes four hexadecimal digits (checked by package strictjson).
func hex4(h []byte) rune {
	var r rune
	for _, c := range h {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c-'a') + 10
		case c >= 'A' && c <= 'F':
			r |= rune(c-'A') + 10
		}
	}
	return r
}
