package body

import (
	"slices"
	"strings"
	"testing"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/agreement"
)

// TestCatalogueComplete checks that every label and code name exists in
// all six languages, and that the catalogue holds nothing else.
func TestCatalogueComplete(t *testing.T) {
	want := map[string]bool{}
	for _, tmpl := range Templates() {
		want["kind."+tmpl.Kind] = true
		for _, f := range append(slices.Clone(tmpl.Required), tmpl.Optional...) {
			want[tmpl.Label(f)] = true
		}
	}
	for _, f := range Fields() {
		want["field."+f] = true
	}
	for _, s := range hotline.Severities {
		want["severity."+string(s)] = true
	}
	for _, l := range Languages() {
		want["language."+string(l)] = true
	}
	for _, v := range Vocabularies() {
		if len(v.Codes()) == 0 {
			t.Errorf("vocabulary %s has no codes", v)
		}
		for _, c := range v.Codes() {
			want[string(v)+"."+c] = true
		}
	}
	for _, l := range []string{"severity", "marking", "exercise", "critical_infrastructure", "start", "end", "detected",
		"ongoing", "type", "format", "proposed_times", "objects", "bytes"} {
		want["label."+l] = true
	}
	for key := range want {
		e, ok := catalogue[key]
		if !ok {
			t.Errorf("%s: not in the catalogue", key)
			continue
		}
		for _, l := range Languages() {
			s := e.in(l)
			if strings.TrimSpace(s) == "" {
				t.Errorf("%s: no %s", key, l)
			}
			if s != strings.TrimSpace(s) {
				t.Errorf("%s (%s): leading or trailing space", key, l)
			}
		}
		if e.ar == e.en || e.zh == e.en || e.ru == e.en {
			t.Errorf("%s: an Arabic, Chinese or Russian string is the English one (%q)", key, e.en)
		}
		if !hasRTL(e.ar) {
			t.Errorf("%s: the Arabic string %q has no Arabic letters", key, e.ar)
		}
	}
	for key := range catalogue {
		if !want[key] {
			t.Errorf("%s: in the catalogue but never used", key)
		}
	}
}

// TestCodeNamesDistinct checks that no two codes of one vocabulary share a
// name in any language: a reader must be able to tell them apart.
func TestCodeNamesDistinct(t *testing.T) {
	for _, v := range Vocabularies() {
		for _, l := range Languages() {
			seen := map[string]string{}
			for _, c := range v.Codes() {
				name, ok := CodeName(l, v, c)
				if !ok {
					t.Fatalf("%s.%s: no name in %s", v, c, l)
				}
				if other, dup := seen[name]; dup {
					t.Errorf("%s: %s and %s are both %q in %s", v, other, c, name, l)
				}
				seen[name] = c
			}
		}
	}
}

// TestSampleKindsHaveTemplates checks that every kind of the sample
// agreement has a body template, and every template a kind.
func TestSampleKindsHaveTemplates(t *testing.T) {
	var kinds []string
	for _, k := range agreement.SampleTerms().Kinds {
		kinds = append(kinds, k.Name)
		if _, ok := TemplateFor(k.Name); !ok {
			t.Errorf("kind %s of the sample agreement has no template", k.Name)
		}
	}
	for _, tmpl := range Templates() {
		if !slices.Contains(kinds, tmpl.Kind) {
			t.Errorf("template %s is not a kind of the sample agreement", tmpl.Kind)
		}
	}
}

func TestLabelLookups(t *testing.T) {
	if s, ok := Label(French, "kind.ping"); !ok || s != "Test de contact" {
		t.Errorf("Label(fr, kind.ping) = %q, %v", s, ok)
	}
	if _, ok := Label("de", "kind.ping"); ok {
		t.Error("a label in German")
	}
	if s, ok := CodeName(Chinese, Sectors, "energy"); !ok || s != "能源" {
		t.Errorf("CodeName(zh, sector, energy) = %q, %v", s, ok)
	}
	if _, ok := CodeName(English, Sectors, "13f"); ok {
		t.Error("a norm named as a sector")
	}
	if _, err := ParseLanguage("de"); ErrorCode(err) != "unsupported_language" {
		t.Errorf("ParseLanguage(de) = %v", err)
	}
	if !Arabic.RTL() || English.RTL() {
		t.Error("RTL")
	}
}
