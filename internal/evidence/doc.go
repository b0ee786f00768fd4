// Package evidence makes and checks evidence bundles: what one party shows
// a third party — a state, a review meeting, a court of public opinion — to
// prove, offline, who met which obligation of the agreement, with times
// the party a time favours did not choose.
//
// [Export] reads one node's store, log and keys and gathers, for every
// obligation between its party and another, the envelopes (inner headers
// revealed, bodies still encrypted), the receipts and relay receipts, the
// witnessed checkpoints of its own log with every cosignature, inclusion
// proofs (C2SP tlog-proof) of its log entries and consistency proofs
// between the checkpoints, and the agreement chain; the exporter signs the
// bundle with its message key. docs/PROTOCOL.md §13 is the format.
//
// [Verify] checks one or more bundles against a pinned genesis (the hash
// of version 1 of the terms, or the depositary's root key) and nothing
// else: the chain, every signature, receipt, inclusion and consistency
// proof, the witness quorum of every checkpoint, and that no witness's
// timestamps go down as a log grows. From the facts that verify — the
// union over all bundles — it computes the obligations with the engine of
// package obligations (neutral time, DESIGN.md §11). Every fact is signed
// by the party it counts against or by witnesses, and no fact removes
// another: merged with the other side's bundle, a tender it shows turns a
// "missed" into met or late. A proven equivocation of a party's log makes
// the verdicts of missed or unprovable that involve it disputed.
package evidence
