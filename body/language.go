package body

import "fmt"

// Language is one of the six official languages of the United Nations, in
// which the catalogue has every label and code name.
type Language string

// The six languages, by their ISO 639-1 codes.
const (
	Arabic  Language = "ar"
	Chinese Language = "zh"
	English Language = "en"
	French  Language = "fr"
	Russian Language = "ru"
	Spanish Language = "es"
)

// Languages returns the six languages in the order the United Nations
// lists them.
func Languages() []Language {
	return []Language{Arabic, Chinese, English, French, Russian, Spanish}
}

// ParseLanguage parses one of "ar", "zh", "en", "fr", "ru", "es".
func ParseLanguage(s string) (Language, error) {
	for _, l := range Languages() {
		if string(l) == s {
			return l, nil
		}
	}
	return "", errorf(ErrUnsupportedLanguage, "language %q: the catalogue has ar, zh, en, fr, ru and es", truncate(s))
}

// RTL reports whether l is written right to left (Arabic).
func (l Language) RTL() bool { return l == Arabic }

// typography is how a language punctuates the rendered text.
type typography struct {
	colon string // between a label and its value
	head  string // after a label that heads an indented block
	comma string // between items on one line
	space string // before a parenthesised note
	open  string // parentheses
	close string
}

func (l Language) typography() typography {
	switch l {
	case Chinese:
		return typography{colon: "：", head: "：", comma: "，", space: "", open: "（", close: "）"}
	case French:
		// French typography puts a no-break space before the colon.
		return typography{colon: "\u00a0: ", head: "\u00a0:", comma: ", ", space: " ", open: "(", close: ")"}
	case Arabic:
		return typography{colon: ": ", head: ":", comma: "، ", space: " ", open: "(", close: ")"}
	}
	return typography{colon: ": ", head: ":", comma: ", ", space: " ", open: "(", close: ")"}
}

func (l Language) String() string { return string(l) }

// in returns the string of e in l.
func (e entry) in(l Language) string {
	switch l {
	case Arabic:
		return e.ar
	case Chinese:
		return e.zh
	case English:
		return e.en
	case French:
		return e.fr
	case Russian:
		return e.ru
	case Spanish:
		return e.es
	}
	panic(fmt.Sprintf("body: language %q", string(l)))
}
