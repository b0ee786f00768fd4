package hotline

import "fmt"

// Marking is a FIRST Traffic Light Protocol 2.0 label: how far the
// recipients may share a message. Nodes enforce it: a node refuses to
// forward or re-share beyond a message's marking.
type Marking string

// The TLP 2.0 labels, from least to most restrictive.
const (
	TLPClear       Marking = "CLEAR"
	TLPGreen       Marking = "GREEN"
	TLPAmber       Marking = "AMBER"
	TLPAmberStrict Marking = "AMBER+STRICT"
	TLPRed         Marking = "RED"
)

// Markings lists the TLP 2.0 labels from least to most restrictive.
var Markings = []Marking{TLPClear, TLPGreen, TLPAmber, TLPAmberStrict, TLPRed}

// ParseMarking parses a TLP 2.0 label as written in the inner header
// ("CLEAR", "GREEN", "AMBER", "AMBER+STRICT", "RED"). A "TLP:" prefix is
// accepted as people write it; nothing else is.
func ParseMarking(s string) (Marking, error) {
	if len(s) > 4 && s[:4] == "TLP:" {
		s = s[4:]
	}
	m := Marking(s)
	if m.rank() < 0 {
		return "", fmt.Errorf("marking %q: not a TLP 2.0 label (CLEAR, GREEN, AMBER, AMBER+STRICT, RED)", truncate(s))
	}
	return m, nil
}

// Valid reports whether m is one of the five TLP 2.0 labels.
func (m Marking) Valid() bool { return m.rank() >= 0 }

// String returns the label as TLP 2.0 writes it, e.g. "TLP:AMBER+STRICT".
func (m Marking) String() string { return "TLP:" + string(m) }

// StricterThan reports whether m restricts sharing more than o.
func (m Marking) StricterThan(o Marking) bool { return m.rank() > o.rank() }

func (m Marking) rank() int {
	for i, v := range Markings {
		if v == m {
			return i
		}
	}
	return -1
}

// Severity is how grave the sender judges an incident; the agreement may set
// shorter deadlines for graver ones.
type Severity string

// The severities, from least to most grave.
const (
	SeverityLow      Severity = "low"
	SeverityMedium   Severity = "medium"
	SeverityHigh     Severity = "high"
	SeverityCritical Severity = "critical"
)

// Severities lists the severities from least to most grave.
var Severities = []Severity{SeverityLow, SeverityMedium, SeverityHigh, SeverityCritical}

// ParseSeverity parses one of "low", "medium", "high", "critical".
func ParseSeverity(s string) (Severity, error) {
	v := Severity(s)
	if !v.Valid() {
		return "", fmt.Errorf("severity %q: not one of low, medium, high, critical", truncate(s))
	}
	return v, nil
}

// Valid reports whether s is one of the four severities.
func (s Severity) Valid() bool {
	for _, v := range Severities {
		if v == s {
			return true
		}
	}
	return false
}
