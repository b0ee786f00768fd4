package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/hotline-net/hotline/body"
)

// codesKind is one kind in the output of hotline codes --json.
type codesKind struct {
	Kind   string       `json:"kind"`
	Label  labels       `json:"label"`
	Fields []codesField `json:"fields"`
}

// codesField is one field of a template that takes codes.
type codesField struct {
	Field      string      `json:"field"`
	Path       string      `json:"path"`
	Label      labels      `json:"label"`
	Vocabulary string      `json:"vocabulary,omitempty"`
	Note       string      `json:"note,omitempty"`
	Codes      []codeLabel `json:"codes,omitempty"`
}

type codeLabel struct {
	Code  string `json:"code"`
	Label labels `json:"label"`
}

// labels maps a language to a label in it.
type labels map[body.Language]string

// contactsNote explains a ping's contacts, the one field whose values are
// not codes of a vocabulary.
const contactsNote = "ids of contacts in the recipient's directory entry: see hotline agreement show --party ID"

func newCodesCmd() *cobra.Command {
	var (
		kind, language, schemas string
		asJSON                  bool
	)
	cmd := &cobra.Command{
		Use:   "codes [--kind K] [--language L] [--json] | codes --schemas DIR",
		Short: "List the codes each message kind's fields take, named in the six languages",
		Long: `Codes lists, for every message kind (or --kind's), each field of its body
template whose values are codes — sectors, norms, actions, assistance, answers,
findings, statuses, ... — with every code and its name in the six official
languages of the United Nations (or only in --language: ar, zh, en, fr, ru or
es). These are the values send --body-file, respond --answer, --findings,
--assistance and --actions-taken accept.

--schemas DIR writes instead every kind's body template as a JSON Schema
(2020-12) into DIR, one KIND.schema.json per kind; docs/templates holds them
("go generate ./body" runs it).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			w := cmd.OutOrStdout()
			if schemas != "" {
				if kind != "" || language != "" || asJSON {
					return usageError{errors.New("--schemas writes every kind's schema: it takes no other flag")}
				}
				return writeSchemas(w, schemas)
			}
			langs := body.Languages()
			if language != "" {
				l, err := body.ParseLanguage(language)
				if err != nil {
					return usageError{fmt.Errorf("--language: %w", err)}
				}
				langs = []body.Language{l}
			}
			tmpls := body.Templates()
			if kind != "" {
				t, ok := body.TemplateFor(kind)
				if !ok {
					return usageError{fmt.Errorf("--kind %q: not a message kind; the kinds are %s", kind, strings.Join(kindNames(), ", "))}
				}
				tmpls = []body.Template{*t}
			}
			var out []codesKind
			for _, t := range tmpls {
				out = append(out, listCodes(&t, langs))
			}
			if asJSON {
				return printJSON(w, out)
			}
			printCodes(w, out, langs)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&kind, "kind", "", "only this message kind")
	f.StringVar(&language, "language", "", "only this language: ar, zh, en, fr, ru or es")
	f.BoolVar(&asJSON, "json", false, "print JSON")
	f.StringVar(&schemas, "schemas", "", "write every kind's JSON Schema into this folder instead")
	return cmd
}

// kindNames returns the kinds that have a body template.
func kindNames() []string {
	var out []string
	for _, t := range body.Templates() {
		out = append(out, t.Kind)
	}
	return out
}

func labelsOf(key string, langs []body.Language) labels {
	m := labels{}
	for _, l := range langs {
		if s, ok := body.Label(l, key); ok {
			m[l] = s
		}
	}
	return m
}

func listCodes(t *body.Template, langs []body.Language) codesKind {
	k := codesKind{Kind: t.Kind, Label: labelsOf("kind."+t.Kind, langs), Fields: []codesField{}}
	for _, cf := range t.CodeFields() {
		f := codesField{Field: cf.Field, Path: cf.Path, Label: labelsOf(t.Label(cf.Field), langs), Vocabulary: string(cf.Vocabulary)}
		for _, c := range cf.Vocabulary.Codes() {
			f.Codes = append(f.Codes, codeLabel{Code: c, Label: labelsOf(string(cf.Vocabulary)+"."+c, langs)})
		}
		k.Fields = append(k.Fields, f)
	}
	if slices.Contains(t.Required, body.FieldContacts) || slices.Contains(t.Optional, body.FieldContacts) {
		k.Fields = append(k.Fields, codesField{Field: body.FieldContacts, Path: body.FieldContacts + "[]",
			Label: labelsOf(t.Label(body.FieldContacts), langs), Note: contactsNote})
	}
	return k
}

// printCodes writes the listing: per kind, per field, each code with its
// names (one line with one language, else a line per language).
func printCodes(w io.Writer, ks []codesKind, langs []body.Language) {
	head := body.English
	if len(langs) == 1 {
		head = langs[0]
	}
	for i, k := range ks {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "%s (%s)\n", k.Kind, k.Label[head])
		if len(k.Fields) == 0 {
			fmt.Fprintln(w, "  no field takes codes")
		}
		for _, f := range k.Fields {
			fmt.Fprintf(w, "  %s: %s\n", f.Path, f.Label[head])
			if f.Note != "" {
				fmt.Fprintf(w, "    %s\n", f.Note)
				continue
			}
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			for _, c := range f.Codes {
				if len(langs) == 1 {
					fmt.Fprintf(tw, "    %s\t%s\n", c.Code, c.Label[langs[0]])
					continue
				}
				fmt.Fprintf(tw, "    %s\n", c.Code)
				for _, l := range langs {
					fmt.Fprintf(tw, "      %s\t%s\n", l, c.Label[l])
				}
			}
			tw.Flush()
		}
	}
}

// writeSchemas writes every kind's JSON Schema into dir.
func writeSchemas(w io.Writer, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, t := range body.Templates() {
		b, err := body.Schema(t.Kind)
		if err != nil {
			return err
		}
		name := filepath.Join(dir, body.SchemaFile(t.Kind))
		if err := os.WriteFile(name, b, 0o644); err != nil {
			return err
		}
		fmt.Fprintln(w, name)
	}
	return nil
}

// codesHint points a refusal of a code at the command that lists them.
func codesHint(kind string) string { return "hotline codes --kind " + kind }
