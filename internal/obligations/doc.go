// Package obligations works out who must answer whom, by when, and who did.
//
// A message of a kind that obliges (the agreement's [agreement.Kind]
// obligations) creates one [Obligation] per recipient and obligation type:
// the recipient must acknowledge, respond or give a formal response, by the
// deadline that the agreement version the message names sets for its kind
// and severity. The package is pure: [Evaluate] takes what a node (or an
// auditor holding both sides' records) knows — the messages, the receipts
// and relay receipts with their times, the refusals, the witnesses'
// cosignature times — and the time now, and returns every obligation with
// its state. It does no I/O; the node gathers the [Input] from its store.
//
// # The rule
//
// DESIGN.md §11 states it. For a message m from A obliging B:
//
//   - the clock starts at t0, the earlier of B's receipt time for m and the
//     neutral time W(B's leaf of m, A); if B never receipted it, at the
//     relay's receipt time plus the agreement's grace;
//   - it is due at D = t0 + the deadline of the version m names;
//   - B's reply r — of a kind the obligation's met_by lists, referring to m,
//     sent by B and addressed to A, and for a ping's acknowledgement
//     carrying the ping's challenge code — was tendered at τ, the earliest
//     of A's receipt time for r, the relay's receipt time for r, and the
//     neutral times of A's leaf of r and of B's leaf of A's receipt of r;
//   - met on time if τ ≤ D, met late if τ > D; missed if no reply was
//     tendered and a checkpoint of A's log was cosigned after D by a
//     quorum of witnesses other than A; unprovable if the agreement names
//     witnesses and no such checkpoint exists — never missed on A's word
//     alone.
//
// The neutral time W(x, P) of leaf x in the log of O is the earliest time at
// which the witnesses other than O and P that had cosigned a checkpoint
// containing x met the version's quorum: with the default policy ("k of
// n"), the k-th earliest such cosignature. A version that names no
// witnesses ("quorum none") has no neutral time; its verdicts rest on the
// signed receipts alone.
//
// # Refusals, retractions
//
// A recipient that refuses m with a code a third party can check from the
// envelope alone (invalid_body, sequence_conflict, ...) leaves the
// obligation [Refused], the sender at fault. A refusal only the recipient can
// vouch for (decrypt_failed, bad_stanza, bad_commitment, ...) pauses the
// clock until the sender tenders m again; a second such refusal after that
// makes the obligation [Disputed]. A retraction by the sender, referring to
// m, withdraws the obligations not yet due or met when it was sent
// ([Withdrawn]).
//
// # Warnings and escalation
//
// An open obligation due within [Config.WarnBefore] raises a warning; an
// overdue one an alert and the escalation steps, as [Event] values the node
// acts on and records: resend the message through a relay, notify the
// obliged party's diplomatic contact, propose a consultation_request to the
// officer.
package obligations
