// Package store defines what a hotline node keeps on disk and the contract
// every storage backend meets.
//
// A node keeps the envelopes it received (the recipient view, as received)
// and sent (the whole envelope), with the header fields its queries need; the
// receipts it issued and received; one outbox row per recipient of each sent
// envelope, with its delivery state; a *pending leaf* row for every entry it
// appends to its log, and the log's high-water mark; and node state: the
// agreement versions, the peers' last seen checkpoints, the per-pair sequence
// counters and a few singletons.
//
// [Store] is the contract. Two implementations satisfy it: package
// store/sqlite (the embedded default, one folder per node) and package
// store/postgres (for nodes that run several replicas). Package
// store/storetest is the conformance suite both pass.
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
// # Errors
//
// Methods return [ErrNotFound], [ErrConflict], [ErrInvalid] or [ErrClosed]
// (wrapped, test with [errors.Is]) where callers branch on the outcome, and
// the context's error when it ends first. Inserting what is already there is
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
// checkpoints) stay atomic across them.
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
	// ErrClosed means the store was closed.
	ErrClosed = errors.New("store closed")
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
	// and reports Existed; with other bytes it returns ErrConflict.
	InsertReceived(ctx context.Context, r *Received) (Inserted, error)

	// NextSequences returns, for each party in order, the sequence number
	// the next envelope to it must carry (1 for the first) and the id of
	// the last envelope sent to it. It reserves nothing: a number is
	// consumed only when InsertSent stores the envelope that carries it.
	NextSequences(ctx context.Context, parties []string) ([]PairSeq, error)

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

	// Close waits for the writes in flight, then releases the store. Calls
	// made after Close return ErrClosed.
	Close() error
}
