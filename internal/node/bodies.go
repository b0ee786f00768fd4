package node

import (
	"fmt"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/body"
	"github.com/hotline-net/hotline/stix"
)

// Templates checks bodies against the templates of package body, and a
// body's STIX bundle against the OASIS schemas and the envelope's marking.
// It is the [BodyChecker] nodes use.
type Templates struct {
	stix *stix.Validator
}

var _ BodyChecker = (*Templates)(nil)

// NewTemplates compiles the STIX schemas once (about 70 ms) and returns the
// checker; it is safe for concurrent use.
func NewTemplates() (*Templates, error) {
	v, err := stix.NewValidator(stix.Config{})
	if err != nil {
		return nil, err
	}
	return &Templates{stix: v}, nil
}

// CheckBody implements [BodyChecker]: the body parses strictly, follows its
// kind's template, and any STIX bundle it carries is valid STIX 2.1 marked
// no stricter than the envelope.
func (t *Templates) CheckBody(kind string, marking hotline.Marking, b []byte) error {
	bd, err := body.Parse(kind, b) // parses strictly and validates against the template
	if err != nil {
		return err
	}
	if len(bd.STIX) > 0 {
		bundle, err := t.stix.ValidateBundle(bd.STIX)
		if err != nil {
			return fmt.Errorf("stix: %w", err)
		}
		if err := stix.CheckMarking(bundle, marking); err != nil {
			return err
		}
	}
	return nil
}

// invalidBody is the refusal of a body that does not follow its template.
// The template's own code (missing_field, stix_marking_too_strict, …) is
// kept in the message, in brackets, since the refusal's code is
// invalid_body.
func invalidBody(kind string, err error) error {
	detail := body.ErrorCode(err)
	if detail == "" {
		detail = hotline.ErrorCode(err)
	}
	if detail == "" {
		return hotline.Errorf(ErrInvalidBody, "%s body: %v", kind, err)
	}
	return hotline.Errorf(ErrInvalidBody, "%s body [%s]: %v", kind, detail, err)
}
