// Package langtag checks language tags, the one check that agreement
// contacts' languages and message bodies' language share, so that a tag
// one accepts the other does too.
package langtag

import "strings"

// MaxLen is the longest tag accepted, in bytes.
const MaxLen = 35

// Valid reports whether s has the shape of a BCP 47 language tag as
// contacts and message bodies use them: at most [MaxLen] bytes; a primary
// language subtag of two or three lower-case letters; then any number of
// subtags of 2 to 8 ASCII letters or digits, each after one hyphen ("en",
// "zh-Hans", "es-419", "sr-Latn-RS"). The empty string, an empty subtag
// ("en-", "en--GB"), upper-case primary subtags ("EN") and single-letter
// subtags (extensions, "x-" private use) are refused. It checks the shape,
// not the IANA registry.
func Valid(s string) bool {
	if s == "" || len(s) > MaxLen {
		return false
	}
	parts := strings.Split(s, "-")
	if len(parts[0]) < 2 || len(parts[0]) > 3 {
		return false
	}
	for _, c := range []byte(parts[0]) {
		if c < 'a' || c > 'z' {
			return false
		}
	}
	for _, p := range parts[1:] {
		if len(p) < 2 || len(p) > 8 {
			return false
		}
		for _, c := range []byte(p) {
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
				return false
			}
		}
	}
	return true
}
