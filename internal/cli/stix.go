package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/hotline-net/hotline/stix"
)

func newSTIXCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "stix",
		Short: "Check STIX 2.1 content against the OASIS schemas",
	}
	cmd.AddCommand(newSTIXValidateCmd())
	return cmd
}

// stixReport is what "stix validate --json" prints for one file.
type stixReport struct {
	File string `json:"file"`
	// Valid is true if the file is a valid STIX 2.1 bundle or object.
	Valid bool `json:"valid"`
	// Kind is "bundle" or "object" for a valid file.
	Kind string `json:"kind,omitempty"`
	ID   string `json:"id,omitempty"`
	// Objects is the number of objects of a valid bundle.
	Objects int `json:"objects,omitempty"`
	// Marking is the strictest TLP marking of a valid file ("AMBER"), or
	// empty if nothing in it is TLP-marked.
	Marking string `json:"marking,omitempty"`
	// Unchecked lists objects of types without an OASIS schema, which
	// were checked against the common properties only.
	Unchecked []stixObjectRef `json:"unchecked,omitempty"`
	Errors    []stixError     `json:"errors,omitempty"`
}

type stixObjectRef struct {
	ID   string `json:"id"`
	Type string `json:"type"`
}

type stixError struct {
	Code     string `json:"code"`
	Object   string `json:"object,omitempty"`
	Property string `json:"property,omitempty"`
	Message  string `json:"message"`
}

func newSTIXValidateCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "validate FILE...",
		Short: "Validate STIX 2.1 bundles or single objects",
		Long: `Validate checks each FILE (or standard input, for "-") as a STIX 2.1 bundle
or a single STIX object, against the OASIS STIX 2.1 JSON schemas built into
hotline: each object against the schema of its type.

For a valid file it prints one line to standard output with the file's
strictest TLP marking. Objects of a type without an OASIS schema (custom
objects) are checked against the common properties only, and listed.
For an invalid file it prints one line per problem to standard error:

  FILE: OBJECT-ID: property "NAME": what is wrong

The exit status is 0 only if every file is valid.`,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError{fmt.Errorf("stix validate: no file given (see %s --help)", c.CommandPath())}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			v, err := stix.NewValidator(stix.Config{})
			if err != nil {
				return err
			}
			var reports []stixReport
			invalid := 0
			for _, name := range args {
				r := validateSTIXFile(cmd, v, name)
				if !r.Valid {
					invalid++
				}
				if asJSON {
					reports = append(reports, r)
					continue
				}
				printSTIXReport(cmd.OutOrStdout(), cmd.ErrOrStderr(), r)
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				if err := enc.Encode(reports); err != nil {
					return err
				}
			}
			if invalid > 0 {
				return fmt.Errorf("%d of %d files invalid", invalid, len(args))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON report per file to standard output")
	return cmd
}

// validateSTIXFile reads and validates one file ("-" for standard input).
func validateSTIXFile(cmd *cobra.Command, v *stix.Validator, name string) stixReport {
	r := stixReport{File: name}
	data, err := readSTIXFile(cmd, name)
	if err != nil {
		r.Errors = []stixError{{Code: "read_error", Message: err.Error()}}
		return r
	}
	b, o, err := v.Validate(data)
	if err != nil {
		var es stix.Errors
		var e *stix.Error
		switch {
		case errors.As(err, &es):
		case errors.As(err, &e):
			es = stix.Errors{e}
		default:
			r.Errors = []stixError{{Code: "internal_error", Message: err.Error()}}
			return r
		}
		for _, e := range es {
			r.Errors = append(r.Errors, stixError{Code: string(e.Code), Object: e.Object, Property: e.Property, Message: e.Message})
		}
		return r
	}
	r.Valid = true
	objects := []*stix.Object{o}
	if b != nil {
		r.Kind, r.ID, r.Objects, objects = "bundle", b.ID, len(b.Objects), b.Objects
		if m, ok := b.Marking(); ok {
			r.Marking = string(m)
		}
	} else {
		r.Kind, r.ID = "object", o.ID
		if m, ok := o.Marking(); ok {
			r.Marking = string(m)
		}
	}
	for _, o := range objects {
		if o.Custom {
			r.Unchecked = append(r.Unchecked, stixObjectRef{ID: o.ID, Type: o.Type})
		}
	}
	return r
}

// readSTIXFile reads name, or standard input for "-", refusing to read
// more than a validator accepts.
func readSTIXFile(cmd *cobra.Command, name string) ([]byte, error) {
	var r io.Reader = cmd.InOrStdin()
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	// One byte more than the limit, so that the validator sees the input
	// is too large and says so.
	return io.ReadAll(io.LimitReader(r, stix.DefaultMaxSize+1))
}

func printSTIXReport(stdout, stderr io.Writer, r stixReport) {
	if !r.Valid {
		for _, e := range r.Errors {
			line := (&stix.Error{Object: e.Object, Property: e.Property, Message: e.Message}).Error()
			fmt.Fprintf(stderr, "%s: %s\n", r.File, line)
		}
		return
	}
	marking := "no TLP marking"
	if r.Marking != "" {
		marking = "TLP:" + r.Marking
	}
	if r.Kind == "bundle" {
		plural := "s"
		if r.Objects == 1 {
			plural = ""
		}
		fmt.Fprintf(stdout, "%s: valid bundle %s, %d object%s, %s\n", r.File, r.ID, r.Objects, plural, marking)
	} else {
		fmt.Fprintf(stdout, "%s: valid object %s, %s\n", r.File, r.ID, marking)
	}
	for _, u := range r.Unchecked {
		fmt.Fprintf(stdout, "%s: %s: type %q has no OASIS schema; checked against the common properties only\n", r.File, u.ID, u.Type)
	}
}
