package body

import (
	"encoding/json"
	"errors"
	"strings"

	"github.com/hotline-net/hotline/internal/strictjson"
)

// checkJSON refuses what encoding/json would let through (see package
// strictjson); inside the STIX slot, member names and null are STIX's
// business.
func checkJSON(b []byte, maxDepth int) error {
	return strictjson.Check(b, strictjson.Options{What: "body", MaxDepth: maxDepth, Free: "stix"})
}

func decodeError(err error) error {
	var te *json.UnmarshalTypeError
	switch {
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return errorf(ErrUnknownField, "body: %s", strings.TrimPrefix(err.Error(), "json: "))
	case errors.As(err, &te):
		return errorf(ErrInvalidValue, "body: field %q: want %s, got JSON %s", te.Field, te.Type, te.Value)
	}
	return errorf(ErrInvalidValue, "body: %v", err)
}

func truncate(s string) string {
	if len(s) > 80 {
		return s[:77] + "..."
	}
	return s
}
