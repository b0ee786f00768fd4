// Package store defines what a hotline node keeps on disk and the contract
// every storage backend meets.
//
// A node keeps the envelopes it received (the recipient view, as received)
// and sent (the whole envelope), with the header fields its queries need; the
// receipts it issued and received; one outbox row per recipient of each sent
// envelope, with its delivery state, the relay that took it and the proof of
// the receipt's inclusion; a *pending leaf* row for every entry it appends to
// its log, and the log's high-water mark; as a relay, the envelopes it holds
// for recipients that cannot be reached; and node state: the agreement
// versions, the peers' last seen checkpoints, the equivocation proofs, the
// peers' channel health, the per-pair sequence counters and a few
// singletons.
//
// # Layout
//
// [Store] is the contract, with the types it takes and returns and their
// Check methods. One implementation satisfies it: package store/sqlstore,
// over database/sql, which owns every query, the rules below, the schema
// and its migrations (written once), and the group-commit writer. It runs
// on two engines, each a small package that owns what differs — a
// sqlstore.Dialect (placeholders, the spelling of a few words and of the
// schema's types, row locks, retries), its connections, and what keeps
// processes apart:
//
//   - store/sqlite, the embedded default (one database file per node): one
//     writer with prepared statements, WAL checkpoints off the writer's
//     path, and a lock file that keeps a second process out;
//   - store/postgres, for nodes that run several replicas: several writers
//     on a pool, and the advisory locks of migrations and of the leader.
//
// Package store/storetest is the conformance suite both engines pass, with
// the same assertions.
//
// # Store and log, one durable step
//
// The store and the log are two stores, so a node writes them in a fixed
// order. For an envelope it accepts:
//
//  1. [Store.Receipt]: already have it? Then return the stored receipt.
//  2. [Store.InsertReceived]: the envelope row, pending, and its pending leaf
//     row, in one transaction.
//  3. Append the leaf's entry to the log; the log returns its index.
//  4. [Store.Sequenced]: the leaf's index, the raised high-water mark, the
//     envelope marked stored and the receipt the node issues, in one
//     transaction.
//
// Sending is the same with [Store.NextSequences] and [Store.InsertSent]
// (which also writes one outbox row per recipient), and a delivered receipt
// is [Store.MarkDelivered] followed by the same steps 3 and 4. At start-up the
// node lists [Store.PendingLeaves] and resolves each against the log: every
// pending leaf that was ever appended sits at an index at or above its
// [Leaf.After], so the node scans the log's entries from the lowest After,
// matches them against the pending entries, and calls Sequenced for those
// it finds. The store keeps each leaf's entry but does not index it: entries
// are derived from (origin, direction, id), and the unique constraint is on
// (direction, id).
//
// # After delivery: inclusion and relays
//
// A receipt names the index of the envelope's leaf in the recipient's log.
// Once the recipient publishes a checkpoint past that index, the sender
// checks the leaf's inclusion and records it with [Store.MarkIncluded];
// [Store.Unproven] lists the delivered rows still waiting, lowest index
// first, so that a checker stops at the first index beyond the recipient's
// checkpoint.
//
// When a recipient cannot be reached, the sender hands the envelope to a
// relay and records the relay's receipt with [Store.MarkRelayed]; the row
// stays pending until the recipient's own receipt arrives. The relay keeps
// what it took in its relay queue ([Store.RelayPut]), lists it for the
// recipient's pulls and its own pushes ([Store.RelayList]), and records the
// recipient's receipt when it hands an envelope on
// ([Store.RelayHandedOn]). Handed-on envelopes are kept until
// [Store.RelayPurge]; pending ones are never purged.
//
// # Errors
//
// Methods return [ErrNotFound], [ErrConflict], [ErrInvalid] or [ErrClosed]
// (wrapped, test with [errors.Is]) where callers branch on the outcome, and
// the context's error when it ends first. A write the storage cannot take
// now (a full disk) returns [ErrStorageFull], wrapping the engine's own
// error; reads go on being served. Inserting what is already there is
// not an error: [Inserted.Existed] says so.
//
// # Durability
//
// When a write method returns nil, what it wrote is committed and on stable
// storage: it survives the process being killed and, as far as the operating
// system's fsync can promise, the machine losing power. When a write returns
// an error, nothing it would have written was applied — with one exception:
// if the commit itself fails (an I/O error), the outcome is unknown. Every
// write can be retried safely; a retry reports what the first attempt did.
// A write whose context ends while it waits its turn is not applied; once its
// turn has come, the call waits for the commit and reports its outcome.
//
// Each write method — InsertReceived, InsertSent, Sequenced, RecordAttempt,
// MarkDelivered, MarkFailed, Requeue, MarkAlerted, MarkIncluded,
// MarkRelayed, SetAgreement, SetCheckpoint, SetValue, RelayPut,
// RelayHandedOn, RelayPurge, AddEquivocation, RecordProbe, PurgeProbes — is
// one transaction: all it writes is applied, or none of it. Where a method
// says "in one transaction" it does several things that hold together.
//
// # Concurrency
//
// A Store is safe for concurrent use by any number of goroutines.
// Concurrent writes share transactions and fsyncs (group commit): the
// writes that queue up while one transaction commits run together in the
// next, and a write that fails is undone alone — it does not fail the
// others committed with it. A read sees every write that returned before it
// started. Several processes sharing one PostgreSQL database (the replicas
// mode) see each other's writes once committed; the conditional writes
// (sequence numbers, idempotent inserts, leaf indexes, agreement versions,
// checkpoints, the first inclusion proof and relay receipt of an outbox row,
// the relay queue, equivocation proofs, a peer's probes in time order) stay
// atomic across them.
//
// Listings are ordered by the order rows were inserted and paginated with
// opaque cursors, so that paging stays correct while rows are added (see
// [Cursor]).

package store

import (
	"context"
	"errors"
	"time"

	"github.com/hotline-net/hotline"
)

// Errors that callers branch on. Implementations wrap them with context;
// test with [errors.Is].
var (
	// ErrNotFound means the row asked for does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict means the write contradicts what is stored: another
	// envelope took the sequence number, the same id arrived with different
	// bytes, a leaf already has another index, an older agreement version.
	// Nothing was written. Where the contradiction comes from a concurrent
	// writer (sequence numbers), reading again and retrying resolves it.
	ErrConflict = errors.New("conflict")
	// ErrInvalid means an argument is malformed: a missing field, a value
	// out of range, a cursor this store did not issue. Nothing was written.
	ErrInvalid = errors.New("invalid argument")
	// ErrFull means a bounded collection holds its quota (a peer's signed
	// refusals). Nothing was written.
	ErrFull = errors.New("quota full")
	// ErrClosed means the store was closed.
	ErrClosed = errors.New("store closed")
	// ErrStorageFull means the storage cannot take writes now: the disk
	// or the database's volume is full (SQLite's SQLITE_FULL,
	// PostgreSQL's disk_full, ENOSPC, EDQUOT), or the fault-injection
	// hook says so. Nothing was written. Unlike [ErrFull] (one
	// collection's quota) it concerns every write, and clears by itself
	// once space is freed: the same write, retried later, may succeed.
	// Reads still work.
	ErrStorageFull = errors.New("storage full")
)

// Store is everything a node keeps. The package documentation states the
// guarantees every method gives: errors, durability, concurrency.
type Store interface {
	// Receipt returns the receipt that party issued for message id: the
	// node's own (party is this node's party) or a recipient's one it
	// received. It returns ErrNotFound if there is none.
	Receipt(ctx context.Context, id hotline.ID, party string) (Receipt, error)

	// InsertReceived stores an envelope this node received and opened,
	// pending, together with its pending leaf row, in one transaction. If
	// the envelope is already stored with the same bytes it writes nothing
	// and reports Existed; with other bytes it returns ErrConflict. A new
	// envelope that breaks the sequence rule against one received from the
	// same sender (see [SequenceConflictError]) is not stored: it returns a
	// *SequenceConflictError. The check is atomic within one process (its
	// writes run one after the other); processes sharing one PostgreSQL
	// database could each store one of two conflicting envelopes that
	// arrive at the same moment.
	InsertReceived(ctx context.Context, r *Received) (Inserted, error)

	// NextSequences returns, for each party in order, the sequence number
	// the next envelope to it must carry (1 for the first) and the id of
	// the last envelope sent to it. It reserves nothing: a number is
	// consumed only when InsertSent stores the envelope that carries it.
	NextSequences(ctx context.Context, parties []string) ([]PairSeq, error)

	// RaiseSequence records that the envelopes this node sent party carried
	// sequence numbers up to seq, the last of them being last — what party
	// holds, learnt when the node was restored from a backup that lacks
	// them — so that NextSequences then gives seq+1 with prev last. A
	// counter already at or above seq is left as it is and RaiseSequence
	// reports false: it never goes down. A seq of 0 is ErrInvalid.
	RaiseSequence(ctx context.Context, party string, seq uint64, last hotline.ID) (raised bool, err error)

	// InsertSent stores an envelope this node sent, pending, with its
	// pending leaf row and one pending outbox row per recipient, and
	// advances each recipient's sequence counter — all in one transaction.
	// Each counter must still be where NextSequences found it; if another
	// envelope took a number first, InsertSent returns ErrConflict and the
	// caller seals again with fresh numbers. Storing the same envelope
	// again writes nothing and reports Existed.
	InsertSent(ctx context.Context, s *Sent) (Inserted, error)

	// Sequenced records that the log holds the leaf of the object id in
	// direction dir at index, in one transaction: the leaf's index, the
	// high-water mark raised to index+1 (never lowered), the envelope the
	// leaf stands for marked stored — which makes a sent envelope's outbox
	// rows due — and, if issued is not nil, the receipt this node issues
	// for a received envelope. Recording the same index again is a no-op;
	// another index, or an index another leaf holds, is ErrConflict; an
	// unknown leaf is ErrNotFound.
	Sequenced(ctx context.Context, dir hotline.Direction, id hotline.ID, index uint64, issued *Receipt) error

	// LeafOf returns the leaf row of the object id in direction dir, or
	// ErrNotFound.
	LeafOf(ctx context.Context, dir hotline.Direction, id hotline.ID) (Leaf, error)

	// PendingLeaves returns up to limit leaves that have no index yet,
	// lowest [Leaf.After] first (limit 0 means 1000).
	PendingLeaves(ctx context.Context, limit int) ([]Leaf, error)

	// HighWater returns the log's high-water mark: one more than the
	// highest index recorded by Sequenced, 0 before the first.
	HighWater(ctx context.Context) (uint64, error)

	// DueOutbox returns up to limit pending outbox rows whose next attempt
	// is at or before now and whose envelope is sequenced in the log,
	// earliest first (limit 0 means 100).
	DueOutbox(ctx context.Context, now time.Time, limit int) ([]OutboxRow, error)

	// RecordAttempt records a failed delivery attempt on a pending outbox
	// row: attempts+1, the error, the route, the time of the next attempt.
	// It returns ErrNotFound for an unknown row and ErrConflict for a row
	// that is no longer pending.
	RecordAttempt(ctx context.Context, a *Attempt) error

	// MarkDelivered records, in one transaction, that a recipient's receipt
	// for an envelope arrived: the outbox row delivered, the receipt, and
	// the receipt's pending leaf row (direction ReceiptReceived). The same
	// receipt again reports existed and writes nothing; another receipt for
	// a delivered row is ErrConflict. A failed row can still be delivered.
	MarkDelivered(ctx context.Context, d *Delivered) (existed bool, err error)

	// MarkFailed stops retrying a pending outbox row: it becomes failed,
	// with reason as its last error, and stays listed by Undelivered.
	MarkFailed(ctx context.Context, id hotline.ID, recipient string, at time.Time, reason string) error

	// Requeue makes a failed or pending outbox row pending again with its
	// next attempt at next (an operator's "retry now"). A delivered row is
	// ErrConflict.
	Requeue(ctx context.Context, id hotline.ID, recipient string, next time.Time) error

	// MarkAlerted records that an alert was raised for an undelivered
	// outbox row, so that it is raised once.
	MarkAlerted(ctx context.Context, id hotline.ID, recipient string, at time.Time) error

	// Undelivered returns outbox rows not delivered (pending or failed)
	// that were queued before q.QueuedBefore, oldest first.
	Undelivered(ctx context.Context, q UndeliveredQuery) ([]OutboxRow, error)

	// OutboxEntry returns the outbox row of envelope id for recipient, or
	// ErrNotFound.
	OutboxEntry(ctx context.Context, id hotline.ID, recipient string) (OutboxRow, error)

	// Outbox lists outbox rows newest first (by the order they were
	// queued), filtered and paginated as q says.
	Outbox(ctx context.Context, q OutboxQuery) (OutboxPage, error)

	// CountOutbox counts the outbox rows that match f.
	CountOutbox(ctx context.Context, f OutboxFilter) (int64, error)

	// Inbound summarises the sequence numbers peer gave the envelopes this
	// node received from it: the highest, how many distinct ones, and the
	// missing ones below the highest. A peer never heard from has zeros.
	Inbound(ctx context.Context, peer string) (InboundSeqs, error)

	// Envelope returns the envelope with id in direction dir (Sent or
	// Received), with its raw bytes and body, pending or not, or
	// ErrNotFound.
	Envelope(ctx context.Context, dir hotline.Direction, id hotline.ID) (Envelope, error)

	// Messages lists envelopes, filtered and paginated as q says.
	Messages(ctx context.Context, q MessageQuery) (MessagePage, error)

	// CountMessages counts the envelopes that match f.
	CountMessages(ctx context.Context, f MessageFilter) (int64, error)

	// MessageEvidence calls fn for every envelope, sent or received, whose
	// leaf is sequenced (as Messages lists them by default), of the thread
	// q names or of every thread, in the order they were stored: the
	// header fields that say who owes whom what, and a ping's or an ack's
	// challenge code. It is the obligations engine's read, one streaming
	// query over facts the store keeps for it: fn must not call the store,
	// and an error it returns stops the listing and is returned.
	MessageEvidence(ctx context.Context, q EvidenceQuery, fn func(*MessageFacts) error) error

	// OutboxEvidence calls fn for every outbox row of the envelopes q
	// selects (every row, or those of the thread's sequenced sent
	// envelopes), in the order they were queued: the delivery state the
	// obligations engine judges by. Like MessageEvidence it is one
	// streaming query, and fn must not call the store.
	OutboxEvidence(ctx context.Context, q EvidenceQuery, fn func(*DeliveryFacts) error) error

	// Agreement returns the agreement version in force: the highest
	// version recorded. It returns ErrNotFound before the first.
	Agreement(ctx context.Context) (Agreement, error)

	// AgreementByHash returns the agreement version with that hash, or
	// ErrNotFound.
	AgreementByHash(ctx context.Context, hash [32]byte) (Agreement, error)

	// SetAgreement records an agreement version. The version in force is
	// the highest recorded, so it only moves forward; an older version
	// joins the history (envelopes name the version they were sent under)
	// without going into force. The same version with the same hash again
	// is a no-op; a recorded version with another hash, or a recorded hash
	// under another version, is ErrConflict.
	SetAgreement(ctx context.Context, a *Agreement) error

	// Checkpoint returns the last seen checkpoint of the log origin, or
	// ErrNotFound.
	Checkpoint(ctx context.Context, origin string) (Checkpoint, error)

	// Checkpoints returns the last seen checkpoint of every origin, by
	// origin.
	Checkpoints(ctx context.Context) ([]Checkpoint, error)

	// SetCheckpoint records c as origin's last seen checkpoint if it is
	// larger than the one stored, and reports whether it did. A checkpoint
	// of the same size or smaller changes nothing (the caller checks
	// consistency and keeps equivocation proofs; the store does not).
	SetCheckpoint(ctx context.Context, c *Checkpoint) (replaced bool, err error)

	// Value returns the value stored under key, or ErrNotFound.
	Value(ctx context.Context, key string) ([]byte, error)

	// SetValue stores value under key, replacing any previous value.
	SetValue(ctx context.Context, key string, value []byte) error

	// MarkIncluded records that the inclusion of the leaf a recipient's
	// receipt names was proven against a checkpoint of the recipient's log
	// of the given size, at time at. It returns ErrNotFound for no row,
	// and ErrConflict for a row that is not delivered or a size not above
	// the receipt's log index (no checkpoint that small holds the leaf).
	// The first proof is kept: recording the row again — the same or
	// another time and size — changes nothing and returns nil, so racing
	// checkers agree.
	MarkIncluded(ctx context.Context, id hotline.ID, recipient string, at time.Time, size uint64) error

	// Unproven returns up to q.Limit delivered outbox rows whose receipt's
	// inclusion is not yet proven, for one recipient or for all, lowest
	// receipt log index first, then in the order they were queued.
	Unproven(ctx context.Context, q UnprovenQuery) ([]OutboxRow, error)

	// MarkRelayed records on an outbox row that a relay took the envelope
	// for the recipient: when, which relay, and the relay receipt. It
	// changes neither the row's state nor its attempts and next attempt: a
	// pending row stays pending, due for the direct route as before, until
	// the recipient's own receipt delivers it; a failed or delivered row
	// keeps its state. The first relay receipt is kept, being the
	// earliest evidence of tender: the same relay and receipt again is a
	// no-op, another is ErrConflict; no row is ErrNotFound.
	MarkRelayed(ctx context.Context, d *RelayedDelivery) error

	// RelayPut stores an envelope this node took as a relay, pending. An
	// envelope is identified by (ID, To): if it is stored with the same
	// From and Raw, RelayPut writes nothing and reports existed — the
	// stored item and its relay receipt stay, and the caller answers with
	// them (RelayGet); with other bytes it is ErrConflict.
	RelayPut(ctx context.Context, r *Relayed) (existed bool, err error)

	// RelayGet returns the relayed envelope id for recipient to, or
	// ErrNotFound.
	RelayGet(ctx context.Context, id hotline.ID, to string) (Relayed, error)

	// RelayList lists relayed envelopes oldest first, by the order they
	// were stored, filtered and paginated as q says. Cursors stay valid
	// while envelopes are added, handed on and purged.
	RelayList(ctx context.Context, q RelayQuery) (RelayPage, error)

	// RelayHandedOn records that the recipient took a relayed envelope, at
	// time at, keeping the recipient's answer (its note bytes, required):
	// its receipt, or its signed refusal.
	// The same receipt again is a no-op (the first time is kept); another
	// receipt is ErrConflict; no envelope is ErrNotFound.
	RelayHandedOn(ctx context.Context, id hotline.ID, to string, at time.Time, recipientReceipt []byte) error

	// RelayCount counts the relayed envelopes held for recipient to (all
	// recipients if to is empty): the pending ones only, or all.
	RelayCount(ctx context.Context, to string, pendingOnly bool) (int64, error)

	// RelayPurge deletes, in one transaction, the relayed envelopes handed
	// on before handedOnBefore, and returns how many. Pending envelopes
	// are never deleted.
	RelayPurge(ctx context.Context, handedOnBefore time.Time) (int, error)

	// AddRefusal stores a signed refusal, unless one is stored for the same
	// direction, message and peer: then it writes nothing and returns the
	// stored one with existed true. A peer holding max refusals in that
	// direction already is ErrFull.
	AddRefusal(ctx context.Context, r *Refusal, max int) (stored Refusal, existed bool, err error)

	// RefusalSequenced records the log index of a stored refusal's entry.
	// Recording the same index again is a no-op; another one is
	// ErrConflict; an unknown refusal ErrNotFound.
	RefusalSequenced(ctx context.Context, dir hotline.Direction, id hotline.ID, index uint64) error

	// Refusals lists the refusals stored in direction dir for peer, oldest
	// first.
	Refusals(ctx context.Context, dir hotline.Direction, peer string) ([]Refusal, error)

	// AddEquivocation records an equivocation proof. A proof is identified
	// by the SHA-256 of its bytes: the same proof again writes nothing and
	// reports existed (the first time is kept); the same proof under
	// another origin is ErrConflict.
	AddEquivocation(ctx context.Context, e *EquivocationRecord) (existed bool, err error)

	// Equivocations returns every equivocation proof recorded, newest
	// first (the reverse of the order they were recorded).
	Equivocations(ctx context.Context) ([]EquivocationRecord, error)

	// AddWitnessed records a checkpoint of a log that met the witness
	// quorum, and each of its cosignatures with its timestamp and when
	// this node received it, in one transaction: the history neutral time
	// is computed from (see [Store.FirstCosignatures]). A checkpoint is
	// identified by (Origin, Size); recorded again with the same root it
	// keeps its first note and time and gains the cosignatures it did not
	// have, a witness's first cosignature of it being kept; with another
	// root it is ErrConflict and nothing is written (the caller holds two
	// signed checkpoints that cannot both be true). It returns how many
	// cosignatures were new. It is kept for the agreement's evidence
	// period; the store never deletes it.
	AddWitnessed(ctx context.Context, c *WitnessedCheckpoint) (added int, err error)

	// WitnessedAround returns the recorded checkpoints of origin nearest
	// to size: the largest below it and the smallest above it (either
	// absent when there is none), each with its cosignatures ordered by
	// witness. A checkpoint of exactly size is not returned.
	WitnessedAround(ctx context.Context, origin string, size uint64) (below, above *WitnessedCheckpoint, err error)

	// Witnessed returns the recorded checkpoints of origin, largest first,
	// at most limit (0: all), with their cosignatures.
	Witnessed(ctx context.Context, origin string, limit int) ([]WitnessedCheckpoint, error)

	// FirstCosignatures returns, for each witness that cosigned a recorded
	// checkpoint of origin containing entry index (one of a size above
	// index), its cosignature with the earliest timestamp among those
	// checkpoints, ordered by that timestamp, then by witness: the times
	// DESIGN.md's neutral time W(x, P) is the k-th earliest of, once the
	// witnesses P and the log's owner are left out.
	FirstCosignatures(ctx context.Context, origin string, index uint64) ([]CosignatureRecord, error)

	// RecordProbe counts a heartbeat's outcome in its peer's channel
	// health (see [ProbeBucket] for how). A peer's probes are recorded in
	// the order they were made: a probe at the time of the peer's latest
	// recorded probe is taken for a retry of it and changes nothing; an
	// earlier one is ErrConflict.
	RecordProbe(ctx context.Context, p *Probe) error

	// PeerHealth returns the channel health of peer over the probes made
	// since since (rounded down to a ProbeBucket boundary), and its last
	// values over all probes. A peer never probed has zeros.
	PeerHealth(ctx context.Context, peer string, since time.Time) (Health, error)

	// PeersHealth returns PeerHealth for every peer ever probed, by peer.
	PeersHealth(ctx context.Context, since time.Time) ([]Health, error)

	// PurgeProbes forgets, in one transaction, the probe counts of the
	// buckets that ended at or before before, and returns how many probes
	// they held. Probes at or after before are kept, and so are each
	// peer's last values.
	PurgeProbes(ctx context.Context, before time.Time) (int, error)

	// Close waits for the writes in flight, then releases the store. Calls
	// made after Close return ErrClosed.
	Close() error
}
