// Package tlog is a hotline node's transparency log and its witnessing,
// built on github.com/transparency-dev/tessera (POSIX driver) and the C2SP
// specifications: signed-note, tlog-checkpoint, tlog-tiles, tlog-witness,
// tlog-cosignature, tlog-policy and tlog-proof.
//
// # The log
//
// [Open] opens a node's [Log]: entries are 32 bytes (hotline.LeafEntry),
// leaf hashes are RFC 6962's. [Log.Append] returns once the entry is
// sequenced and fsynced, batching concurrent callers so that they share each
// fsync. Checkpoints are signed with the party's checkpoint key, published
// at least every CheckpointInterval while entries arrive and republished
// every RepublishInterval otherwise. [Log.InclusionProof],
// [Log.ConsistencyProof] and [Log.Prove] (a C2SP tlog-proof) serve
// evidence; [Log.EntriesFrom] reads the entries above a size, for start-up
// reconciliation. [Log.Handler] serves the C2SP tlog-tiles read API.
//
// # Witnessing
//
// A [Witness] is the server side of C2SP tlog-witness (POST add-checkpoint,
// cosignature/v1 with its own clock through [NewCosigner]); it keeps the
// latest checkpoint per origin in a [WitnessStore] and needs no log of its
// own. On the log side, a collector started by [Open] when the Config has a
// [Policy] sends each new checkpoint with its consistency proof to the
// policy's witnesses, asynchronously: absent or hostile witnesses never
// block an append, a start-up or a shutdown. [Log.Witnessed] is the latest
// checkpoint whose cosignatures meet the quorum; the log's owner never
// counts toward it.
//
// # Never rewind, never fork
//
// The largest checkpoint any witness cosigned is the log's floor: [Open]
// refuses a log below it, or one whose history differs from it, with
// [ErrRewound]; the log never signs a checkpoint below it. When a witness
// answers that a checkpoint is inconsistent with what it cosigned, the
// collector fetches the witness's view and builds an [Equivocation]: a
// self-contained proof, verifiable offline, that the log signed two
// checkpoints that cannot both be true. [Remote] reads another node's log
// and verifies inclusion, consistency and equivocation the same way.
//
// # Logging
//
// Tessera logs through klog, which is process-wide: the node's main calls
// [RouteKlog] once. Everything else logs to the *slog.Logger in each
// Config.
package tlog
