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
// strictjson); inside the STIX slot, member names and null are STIX's
// business.
func checkJSON(b []byte, maxDepth int) error {
	return strictjson.Check(b, strictjson.Options{What: "body", MaxDepth: maxDepth, Free: "stix"})
}

func decodeError(err error, b []byte) error {
	var te *json.UnmarshalTypeError
	var pe *time.ParseError
	switch {
	case errors.As(err, &pe):
		return errorf(ErrInvalidValue, "body: %s: %q is not a time: want UTC with whole seconds, like 2026-01-02T15:04:05Z",
			timeField(b, pe.Value), truncate(pe.Value))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return errorf(ErrUnknownField, "body: %s", strings.TrimPrefix(err.Error(), "json: "))
	case errors.As(err, &te):
		return errorf(ErrInvalidValue, "body: field %q: want %s, got JSON %s", te.Field, te.Type, te.Value)
	}
	return errorf(ErrInvalidValue, "body: %v", err)
}

// timeField names the time field of body b whose value is v, for a
// refusal: encoding/json reports a bad time without saying where it was.
func timeField(b []byte, v string) string {
	var raw struct {
		Incident map[string]json.RawMessage `json:"incident"`
		Activity map[string]json.RawMessage `json:"activity"`
		Meeting  struct {
			Times []json.RawMessage `json:"times"`
		} `json:"meeting"`
	}
	_ = json.Unmarshal(b, &raw)
	is := func(m json.RawMessage) bool {
		var s string
		return json.Unmarshal(m, &s) == nil && s == v
	}
	for _, f := range []string{"start", "end", "detected"} {
		if m, ok := raw.Incident[f]; ok && is(m) {
			return FieldIncident + "." + f
		}
		if m, ok := raw.Activity[f]; ok && is(m) {
			return FieldActivity + "." + f
		}
	}
	for i, m := range raw.Meeting.Times {
		if is(m) {
			return fmt.Sprintf("%s.times[%d]", FieldMeeting, i)
		}
	}
	return "a time field"
}

func truncate(s string) string {
	if len(s) > 80 {
		return s[:77] + "..."
	}
	return s
}
