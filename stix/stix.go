// Package stix reads, validates and marks the STIX 2.1 content that hotline
// messages carry as technical data: indicators, observables and the rest of
// a STIX bundle, and their TLP markings.
//
// # Validation
//
// A [Validator] checks a bundle or a single object against the OASIS STIX
// 2.1 JSON schemas, which are embedded in the binary (see schemas/README.md
// and schemas/LICENSE) and compiled once per Validator. Each object is
// checked against the schema of its own type, so that an error names the
// object and the property at fault in one line:
//
//	indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f: property "pattern": missing
//	indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f: property "valid_from": not a timestamp (…)
//
// rather than the schema's chain of alternatives. Every refusal is an
// [*Error] with a stable [Code]; a document with several problems yields
// [Errors]. Input is bounded before any schema runs (size, nesting depth,
// number of objects: see [Config]), and JSON that parsers would read
// differently (duplicate member names, invalid UTF-8, trailing data) is
// refused.
//
// A validated [Bundle] keeps each [Object]'s JSON as received together with
// the properties hotline acts on: type, id, spec_version, created and
// modified, markings, and an indicator's pattern.
//
// # TLP markings
//
// hotline marks messages with TLP 2.0 ([hotline.Marking]). In STIX 2.1,
// TLP 2.0 levels are marking-definition objects with fixed ids published by
// OASIS ([TLPClearID] … [TLPRedID], through the extension
// [TLP2ExtensionID]); STIX 2.1 also predefines the older TLP 1.0 ones
// ([TLP1WhiteID] …), which are read as their TLP 2.0 namesakes, WHITE as
// CLEAR. [Bundle.Marking] reads the strictest TLP level in a bundle,
// [Bundle.SetMarking] marks a whole bundle with one level, and
// [CheckMarking] refuses a bundle whose content is marked stricter than
// the envelope that would carry it.
package stix
