package stix

import (
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"unicode"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// schemaFS holds the OASIS STIX 2.1 JSON schemas, unmodified; see
// schemas/README.md for their origin and schemas/LICENSE for their licence.
//
//go:embed schemas
var schemaFS embed.FS

// schemaBase is the prefix of every schema's $id: the schemas refer to each
// other by relative references that resolve under it.
const schemaBase = "http://raw.githubusercontent.com/oasis-open/cti-stix2-json-schemas/stix2.1/schemas/"

// Paths of the schemas the validator uses besides the per-type ones.
const (
	bundleSchema         = "common/bundle.json"
	coreSchema           = "common/core.json"
	observableCoreSchema = "common/cyber-observable-core.json"
	// markingRefsSchema checks object_marking_refs where STIX has no
	// schema for it: at the top of a bundle, which some producers mark.
	markingRefsSchema = "common/core.json#/properties/object_marking_refs"
)

// schemaLoader serves the embedded schemas by their URL and refuses every
// other URL, so that compiling never touches the network or the disk.
type schemaLoader struct{ fsys fs.FS }

var _ jsonschema.URLLoader = schemaLoader{}

func (l schemaLoader) Load(url string) (any, error) {
	// Some producers' schemas spell the base with https; both name the
	// same documents.
	rel, ok := strings.CutPrefix(url, schemaBase)
	if !ok {
		rel, ok = strings.CutPrefix(url, "https"+strings.TrimPrefix(schemaBase, "http"))
	}
	if !ok || !fs.ValidPath(rel) {
		return nil, fmt.Errorf("schema %s is not embedded", url)
	}
	data, err := fs.ReadFile(l.fsys, path.Join("schemas", rel))
	if err != nil {
		return nil, err
	}
	return jsonschema.UnmarshalJSON(bytes.NewReader(data))
}

// compiled is the result of compiling every schema once.
type compiled struct {
	byType         map[string]*jsonschema.Schema
	bundle         *jsonschema.Schema
	core           *jsonschema.Schema
	observableCore *jsonschema.Schema
	markingRefs    *jsonschema.Schema
	// docs holds each schema document as loaded, by URL without fragment,
	// to phrase errors from what a failing keyword says.
	docs map[string]any
}

func compileSchemas() (*compiled, error) {
	loader := schemaLoader{schemaFS}
	c := jsonschema.NewCompiler()
	c.UseLoader(loader)
	c.DefaultDraft(jsonschema.Draft2020)
	// The schemas declare draft 2020-12, where "format" is only an
	// annotation unless asserted. We assert it, so that a reference's url
	// is a URI and an email address is one; idn-hostname is replaced by a
	// looser check because real indicator data holds names such as
	// "_dmarc.example.com" that are valid DNS names but not host names.
	c.AssertFormat()
	c.RegisterFormat(&jsonschema.Format{Name: "idn-hostname", Validate: validateDNSName})

	out := &compiled{byType: make(map[string]*jsonschema.Schema), docs: make(map[string]any)}
	// paths maps each object type that has a schema to the schema's path
	// under schemas/. Every file of sdos/, sros/ and observables/ is named
	// for the type it describes; the others are in common/.
	paths := map[string]string{
		"marking-definition":   "common/marking-definition.json",
		"language-content":     "common/language-content.json",
		"extension-definition": "common/extension-definition.json",
	}
	for _, dir := range []string{"sdos", "sros", "observables"} {
		entries, err := fs.ReadDir(schemaFS, "schemas/"+dir)
		if err != nil {
			return nil, fmt.Errorf("reading embedded schemas: %w", err)
		}
		for _, e := range entries {
			if typ, ok := strings.CutSuffix(e.Name(), ".json"); ok {
				paths[typ] = dir + "/" + e.Name()
			}
		}
	}
	compile := func(p string) (*jsonschema.Schema, error) {
		s, err := c.Compile(schemaBase + p)
		if err != nil {
			return nil, fmt.Errorf("compiling schema %s: %w", p, err)
		}
		return s, nil
	}
	var err error
	for typ, p := range paths {
		if out.byType[typ], err = compile(p); err != nil {
			return nil, err
		}
	}
	for _, s := range []struct {
		dst  **jsonschema.Schema
		path string
	}{
		{&out.bundle, bundleSchema},
		{&out.core, coreSchema},
		{&out.observableCore, observableCoreSchema},
		{&out.markingRefs, markingRefsSchema},
	} {
		if *s.dst, err = compile(s.path); err != nil {
			return nil, err
		}
	}
	// Keep the documents for error messages (see describeNot).
	err = fs.WalkDir(schemaFS, "schemas", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".json") {
			return err
		}
		rel := strings.TrimPrefix(p, "schemas/")
		doc, err := loader.Load(schemaBase + rel)
		if err != nil {
			return err
		}
		out.docs[schemaBase+rel] = doc
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading embedded schemas: %w", err)
	}
	return out, nil
}

// validateDNSName accepts a DNS name as found in threat intelligence: up to
// 253 bytes of dot-separated labels of 1 to 63 bytes, with no white space,
// control characters or URL delimiters. Internationalised names are
// accepted in either form.
func validateDNSName(v any) error {
	s, ok := v.(string)
	if !ok {
		return nil
	}
	name := strings.TrimSuffix(s, ".")
	if name == "" || len(name) > 253 {
		return fmt.Errorf("not a DNS name: length")
	}
	for label := range strings.SplitSeq(name, ".") {
		if label == "" || len(label) > 63 {
			return fmt.Errorf("not a DNS name: label length")
		}
		for _, r := range label {
			if unicode.IsSpace(r) || unicode.IsControl(r) || strings.ContainsRune(`/\@:?#[]<>"'%`, r) {
				return fmt.Errorf("not a DNS name: character %q", r)
			}
		}
	}
	return nil
}
