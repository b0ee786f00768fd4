// Package body defines the message templates of hotline: for every message
// kind of the sample agreement (docs/DESIGN.md §3) a typed body with its
// validation, the codes that carry its meaning, and a catalogue of labels
// and code names in the six official languages of the United Nations —
// Arabic, Chinese, English, French, Russian and Spanish — so that a
// recipient reads the structured part of a message in its own language,
// like the International Code of Signals the 1972 Incidents at Sea
// agreement relies on.
//
// # Bodies
//
// A [Body] is the JSON an envelope carries after the inner header. One
// type serves every kind; each kind's [Template] lists the fields it
// requires and allows. [Parse] refuses anything but one JSON object within
// [Limits], unknown or repeated members and null, then [Body.Validate]
// checks the template: required fields, codes in their [Vocabulary]
// (sectors with a critical-infrastructure flag, the UN norms 13(a) to
// 13(k), requested actions after IODEF, assistance, answers, findings,
// ...), incident windows that end after they start, text within its
// limits and free of control characters and bidirectional overrides, and
// no lone surrogate escape anywhere. Every refusal is an [*Error] with
// a stable code; a node answers invalid_body with it.
//
// The STIX slot holds a STIX 2.1 bundle as raw JSON; this package checks
// only that it is a bundle object and leaves schema validation to the node
// (package stix). A ping names the recipient's contacts it tests; the node
// checks them against the directory with [Body.CheckContacts].
//
// # Rendering
//
// [Render] writes a body as plain text in one of the six languages. Arabic
// is written right to left: every line of an Arabic rendering starts with
// U+200F RIGHT-TO-LEFT MARK, codes, times and numbers are wrapped in
// left-to-right isolates (U+2066 … U+2069) and free text in first-strong
// isolates (U+2068 … U+2069), so that plain-text viewers lay each line out
// correctly and a title in another script cannot disturb the line around
// it. Free text is shown as its author wrote it, with its language named.
package body
