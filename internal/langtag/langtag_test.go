package langtag

import (
	"strings"
	"testing"
)

var cases = []struct {
	tag  string
	want bool
}{
	{"en", true},
	{"fra", true},
	{"zh-Hans", true},
	{"es-419", true},
	{"sr-Latn-RS", true},
	{"de-CH-1996", true},
	{"", false},
	{"e", false},
	{"engl", false},
	{"EN", false},
	{"French", false},
	{"en-", false},
	{"en--GB", false},
	{"-en", false},
	{"en-G", false},
	{"en-x-private", false},
	{"en-abcdefghi", false},
	{"en_GB", false},
	{"en GB", false},
	{"sr-Latn-RS-abcdefgh-abcdefgh-abcdef", true}, // MaxLen bytes
	{"sr-Latn-RS-abcdefgh-abcdefgh-abcdefg", false},
}

func TestValid(t *testing.T) {
	for _, tt := range cases {
		t.Run(tt.tag, func(t *testing.T) {
			if got := Valid(tt.tag); got != tt.want {
				t.Errorf("Valid(%q) = %v, want %v", tt.tag, got, tt.want)
			}
		})
	}
}

// FuzzValid: whatever the input, Valid does not panic, and a tag it
// accepts is short ASCII whose subtags it accepts again when rejoined.
func FuzzValid(f *testing.F) {
	for _, tt := range cases {
		f.Add(tt.tag)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !Valid(s) {
			return
		}
		if len(s) > MaxLen {
			t.Fatalf("accepted %d bytes", len(s))
		}
		for _, c := range []byte(s) {
			if c >= 0x80 || c == ' ' {
				t.Fatalf("accepted %q", s)
			}
		}
		if !Valid(strings.Join(strings.Split(s, "-"), "-")) {
			t.Fatalf("%q not accepted again", s)
		}
	})
}
