// Package agreement is the agreement that defines a hotline network: the
// treaty terms in their versions, the parties' ratifications, and each
// party's own directory entry. FORMAT.md in this directory describes the
// file byte for byte, for implementers in other languages.
//
// # Four kinds of signed document
//
// The treaty terms ([Terms]) say who the parties are, how they may be
// addressed together ([Group]), which message kinds exist and what each
// obliges its recipient to do by when ([Kind], [Obligation]), who witnesses
// the parties' logs and with which quorum ([Witnesses], [Policy]), who
// relays, the grace for unreceipted messages and how often contacts must be
// reconfirmed. The depositary issues them, one version after another, each
// signed with its root key and naming its predecessor's hash.
//
// A party is bound by a version once it ratified it: a
// hotline-ratification/v1 note ([hotline.Ratification]) over the version's
// hash, signed with the party's root key. The version that admits a party
// fixes its root key (and the commitment to its next, the pre-rotation
// key); no later version and no draft can change it. The party alone
// replaces it, by a hotline-root/v1 statement ([RootStatement]) signed by its
// current and new root, or by revealing the pre-rotation key. Nothing else
// of a party is in the terms.
//
// Each party's directory entry ([Entry]) lists its keys with their
// validity, its node's endpoints, its log origin and its contacts. The party
// signs it with its own root key and needs nobody's consent, so no party can
// veto another's key rotation or revocation. Entries form a chain per party
// (sequence 1, 2, 3, ..., each naming its predecessor's hash) that versions
// independently of the terms: a party rotates a key without a new version
// of the terms.
//
// # What is hashed
//
// Every document is a C2SP signed note whose text is a tag line
// ("hotline-terms/v1", "hotline-entry/v1", "hotline-ratification/v1",
// "hotline-root/v1")
// followed by the document. The hash of a document is SHA-256 of its note
// text exactly as signed — [hotline.NoteID] — never of a re-encoding. The
// hash of a version of the terms is what envelopes name and parties
// ratify. The JSON inside terms and entries must be in the one canonical
// form this package writes (two-space indentation, members in a fixed
// order, empty members left out, durations in their largest unit), so that
// a document has exactly one hash; [Parse] refuses any other form.
//
// # The file
//
// An agreement file holds all of it: the chain of versions, the
// ratifications, every party's chain of entries and of root statements, and
// possibly an unsigned draft of the next version (never a source of keys),
// as JSON with each signed note as a string.
// [Parse] checks it strictly, every refusal with its own code ([Error]);
// [Agreement.Verify] checks every signature; [Load] does both.
// [Agreement.With] and [Agreement.Merge] add documents and never drop any;
// [Agreement.Extends] tells whether a file only moves forward from another.
// A running node takes documents in one at a time: [Describe] says what a
// document is before it is checked, [Agreement.Digest] summarizes a chain
// for peers, [Agreement.Document] serves one by its hash, and
// [Agreement.Equivocation] tells a fork — a second document validly signed
// for a place the chain holds — from a mere error.
//
// # Lookups
//
// The node asks: which version does an envelope name ([Agreement.Version])
// or is in force ([Agreement.Current]), and which governs between parties
// ([Agreement.InForce]: the highest all of them ratified); is its sender a party of it
// ([Version.Party]) and bound by it ([Agreement.Ratified]); which key of a
// party was valid at a time ([Agreement.MessageKey], [Agreement.EncryptionKey],
// [Agreement.CheckpointKey], [Agreement.WitnessKey]) — a key lookup fails
// with [ErrUnknownParty] or [ErrKeyNotValid]; whom does a group expand to
// ([Version.Expand]); what does a kind oblige, by when ([Version.Kind],
// [Kind.Deadline]).
//
// Key lookups read the party's latest entry, which carries the history of
// all its keys. To verify what a party signed, [Agreement.SignedKey] takes
// the key valid when it was created: a retired key within the terms' key
// grace, a revoked one only for what was received before the revocation was
// published — a revocation never reaches back before it was known.
//
// # Building one
//
// [SampleTerms] is docs/DESIGN.md §3's table of message kinds with their default
// deadlines; [Sample] builds a complete signed and ratified agreement from
// generated key sets (tests, "hotline testnet", "hotline demo").
// [SignTerms], [NextEntry], [SignEntry] and [Ratify] are the steps the
// "hotline agreement" commands take one party at a time.
package agreement
