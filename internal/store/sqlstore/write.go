package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/internal/store"
)

const (
	statePending   = int(store.OutboxPending)
	stateDelivered = int(store.OutboxDelivered)
	stateFailed    = int(store.OutboxFailed)
)

// highWater is the log's high-water mark: one more than the highest leaf
// index recorded, 0 before the first. The leaf indexes only grow, and their
// indexes give the highest at once, so no row keeps it (which every writer
// would update, and PostgreSQL's writers queue on).
const highWater = `(SELECT coalesce(max(i), -1) + 1 FROM (
	SELECT max(leaf_idx) AS i FROM envelopes WHERE leaf_idx IS NOT NULL
	UNION ALL SELECT max(rleaf_idx) FROM outbox WHERE rleaf_idx IS NOT NULL) m)`

// envelopeArgs returns the arguments of insertEnvelope, the last one left
// for the writer, and the envelope's facts (encodeFacts). It runs on the
// caller's goroutine, to keep encoding off the writer's.
func envelopeArgs(dir hotline.Direction, e *store.Envelope, entry [hotline.EntrySize]byte) envelopeRow {
	thread := e.ThreadID()
	return envelopeRow{[]any{int64(dir), e.ID[:], e.From, encodeParties(e.To), e.Group,
		nanos(e.Created), e.AgreementHash[:], e.Exercise, e.Kind, string(e.Severity),
		string(e.Marking), thread[:], encodeIDs(e.Refs), int64(e.PairSeq), e.PairPrev[:],
		nanos(e.At), entry[:], e.Raw, nonNil(e.Body), nil}, encodeFacts(new(envelopeFacts(dir, e)))}
}

// envelopeRow is what envelopeArgs returns.
type envelopeRow struct {
	args  []any
	facts []byte
}

const insertEnvelope = `INSERT INTO envelopes (dir, id, from_party, recipients, group_label, created, agreement,
	exercise, kind, severity, marking, thread, refs, pair_seq, pair_prev, at, entry, raw, body, leaf_after)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, `

// insertEnvelope inserts an envelope, its facts and its pending leaf,
// given envelopeArgs, and returns the leaf and whether the envelope was
// new. An envelope already there with the same bytes is not new; with
// other bytes it is ErrConflict.
func (t *wtx) insertEnvelope(dir hotline.Direction, e *store.Envelope, entry [hotline.EntrySize]byte, row envelopeRow) (store.Leaf, bool, error) {
	var after, seq int64
	var err error
	args := row.args
	if !t.s.d.OneWriter {
		// Several writers (PostgreSQL): the envelope and its facts in one
		// statement, a data-modifying WITH, so that the accept path pays
		// no second round trip.
		err = t.queryRow(`WITH e AS (`+insertEnvelope+highWater+`) ON CONFLICT (id, dir) DO NOTHING
			RETURNING leaf_after, seq), f AS (INSERT INTO message_facts (seq, kind, facts) SELECT seq, ?, ? FROM e)
			SELECT leaf_after FROM e`, append(args[:len(args)-1:len(args)-1], e.Kind, row.facts)...).Scan(&after)
	} else if after, err = t.highWater(); err == nil {
		// One writer (SQLite, which has no data-modifying WITH): a second
		// statement, prepared, on the same connection.
		args[len(args)-1] = after
		err = t.queryRow(insertEnvelope+`?) ON CONFLICT (id, dir) DO NOTHING RETURNING seq`, args...).Scan(&seq)
		if err == nil {
			if _, err := t.exec(`INSERT INTO message_facts (seq, kind, facts) VALUES (?, ?, ?)`, seq, e.Kind, row.facts); err != nil {
				return store.Leaf{}, false, fmt.Errorf("inserting the facts of envelope %v: %w", e.ID, err)
			}
		}
	}
	switch {
	case err == nil:
		return store.Leaf{Entry: entry, Direction: dir, Object: e.ID, After: uint64(after)}, true, nil
	case !errors.Is(err, sql.ErrNoRows):
		return store.Leaf{}, false, fmt.Errorf("inserting envelope %v: %w", e.ID, err)
	}
	if err := t.same(conflict("%v envelope %v already stored with other bytes", dir, e.ID),
		`SELECT raw = ? FROM envelopes WHERE id = ? AND dir = ?`, e.Raw, e.ID[:], int(dir)); err != nil {
		return store.Leaf{}, false, err
	}
	leaf, err := scanLeaf(t.queryRow(envelopeLeaf, e.ID[:], int(dir)))
	return leaf, false, err
}

// InsertReceived implements [store.Store].
func (s *Store) InsertReceived(ctx context.Context, r *store.Received) (store.Inserted, error) {
	if err := r.Check(); err != nil {
		return store.Inserted{}, err
	}
	var res store.Inserted
	e := &r.Envelope
	args := envelopeArgs(hotline.Received, e, r.Entry)
	// The envelope after this one in the sender's sequence, if any can be.
	next := int64(-1)
	if e.PairSeq < math.MaxInt64 {
		next = int64(e.PairSeq + 1)
	}
	err := s.write(ctx, func(t *wtx) error {
		leaf, fresh, err := t.insertEnvelope(hotline.Received, e, r.Entry, args)
		res = store.Inserted{Existed: !fresh, Leaf: leaf}
		if err != nil || !fresh {
			return err
		}
		// The sequence rule, checked after the insert so that an envelope
		// stored before stays idempotent; a conflict undoes the insert.
		var id, raw []byte
		err = t.queryRow(`SELECT id, raw FROM envelopes WHERE dir = 2 AND from_party = ? AND id <> ?
			AND (pair_seq = ? OR (pair_seq = ? AND id <> ?) OR (pair_seq = ? AND pair_prev <> ?))
			ORDER BY seq LIMIT 1`, e.From, e.ID[:], int64(e.PairSeq), int64(e.PairSeq)-1, e.PairPrev[:], next, e.ID[:]).Scan(&id, &raw)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return nil
		case err != nil:
			return fmt.Errorf("checking the sequence of %v: %w", e.ID, err)
		}
		return &store.SequenceConflictError{StoredID: hotline.ID(id), Stored: raw}
	})
	return res, err
}

// InsertSent implements [store.Store].
func (s *Store) InsertSent(ctx context.Context, sent *store.Sent) (store.Inserted, error) {
	if err := sent.Check(); err != nil {
		return store.Inserted{}, err
	}
	var res store.Inserted
	args := envelopeArgs(hotline.Sent, &sent.Envelope, sent.Entry)
	err := s.write(ctx, func(t *wtx) error {
		e := &sent.Envelope
		leaf, fresh, err := t.insertEnvelope(hotline.Sent, e, sent.Entry, args)
		res = store.Inserted{Existed: !fresh, Leaf: leaf}
		if err != nil || !fresh {
			return err
		}
		for _, q := range sent.Seqs {
			var n int64
			if q.Seq == 1 {
				n, err = t.exec(`INSERT INTO pair_out (party, last_seq, last_id) VALUES (?, 1, ?)
					ON CONFLICT DO NOTHING`, q.Party, e.ID[:])
			} else {
				// Between processes (PostgreSQL under READ COMMITTED), a
				// concurrent update of the row makes this one wait and
				// check the condition again: two cannot take the number.
				n, err = t.exec(`UPDATE pair_out SET last_seq = ?, last_id = ?
					WHERE party = ? AND last_seq = ? AND last_id = ?`,
					int64(q.Seq), e.ID[:], q.Party, int64(q.Seq-1), q.Prev[:])
			}
			if err != nil {
				return fmt.Errorf("advancing sequence to %q: %w", q.Party, err)
			}
			if n != 1 {
				return conflict("sequence number %d to %q (after %v) is taken or out of order", q.Seq, q.Party, q.Prev)
			}
			if _, err := t.exec(`INSERT INTO outbox (id, recipient, pair_seq, pair_prev, kind, exercise, queued, next_attempt)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, e.ID[:], q.Party, int64(q.Seq), q.Prev[:], e.Kind, e.Exercise,
				nanos(e.At), nanos(e.At)); err != nil {
				return fmt.Errorf("queuing %v to %q: %w", e.ID, q.Party, err)
			}
		}
		return nil
	})
	return res, err
}

// RaiseSequence implements [store.Store].
func (s *Store) RaiseSequence(ctx context.Context, party string, seq uint64, last hotline.ID) (bool, error) {
	if err := store.CheckParty("party", party); err != nil {
		return false, err
	}
	if seq == 0 || seq > math.MaxInt64 {
		return false, fmt.Errorf("%w: sequence number %d", store.ErrInvalid, seq)
	}
	var raised bool
	err := s.write(ctx, func(t *wtx) error {
		n, err := t.exec(`INSERT INTO pair_out (party, last_seq, last_id) VALUES (?, ?, ?)
			ON CONFLICT (party) DO UPDATE SET last_seq = excluded.last_seq, last_id = excluded.last_id
			WHERE pair_out.last_seq < excluded.last_seq`, party, int64(seq), last[:])
		raised = n == 1
		return err
	})
	return raised, wrapf(err, "raising the sequence to %q", party)
}

// indexFree is the condition that no leaf holds the index given twice.
const indexFree = `NOT EXISTS (SELECT 1 FROM envelopes WHERE leaf_idx = ?)
	AND NOT EXISTS (SELECT 1 FROM outbox WHERE rleaf_idx = ?)`

// Sequenced implements [store.Store].
func (s *Store) Sequenced(ctx context.Context, dir hotline.Direction, id hotline.ID, index uint64, issued *store.Receipt) error {
	if err := store.CheckSequenced(dir, id, index, issued); err != nil {
		return err
	}
	var party, received, note any // NULL without a receipt
	if issued != nil {
		party, received, note = issued.Party, nanos(issued.Received), issued.Note
	}
	idx := int64(index)
	return s.write(ctx, func(t *wtx) error {
		// The common case, a pending leaf and a free index, in one
		// statement; anything else changes nothing, and is sorted out
		// below.
		var n int64
		var err error
		if dir == hotline.ReceiptReceived {
			n, err = t.exec(`UPDATE outbox SET rleaf_idx = ? WHERE receipt_id = ? AND rleaf_idx IS NULL AND `+indexFree,
				idx, id[:], idx, idx)
		} else {
			n, err = t.exec(`UPDATE envelopes SET leaf_idx = ?, receipt_party = ?, receipt_received = ?, receipt_note = ?
				WHERE id = ? AND dir = ? AND leaf_idx IS NULL AND `+indexFree,
				idx, party, received, note, id[:], int(dir), idx, idx)
		}
		if err == nil && n == 1 && dir == hotline.Sent {
			_, err = t.exec(`UPDATE outbox SET ready = ? WHERE id = ?`, true, id[:])
		}
		if err == nil && n == 1 && t.hw >= 0 {
			t.hw = max(t.hw, idx+1)
		}
		if t.s.d.Unique(err) {
			// Another process took the index and committed first.
			return conflict("log index %d already holds another leaf", index)
		}
		if err != nil || n == 1 {
			return err
		}
		var leaf store.Leaf
		if dir == hotline.ReceiptReceived {
			leaf, err = scanLeaf(t.queryRow(receiptLeaf, id[:]))
		} else {
			leaf, err = scanLeaf(t.queryRow(envelopeLeaf, id[:], int(dir)))
		}
		switch {
		case err != nil:
			return fmt.Errorf("%v leaf of %v: %w", dir, id, err)
		case !leaf.Sequenced:
			return conflict("log index %d already holds another leaf", index)
		case leaf.Index != index:
			return conflict("%v leaf of %v already at index %d, not %d", dir, id, leaf.Index, index)
		case issued == nil:
			return nil
		}
		// Sequenced before, at this index: the receipt is stored once.
		if done, err := t.changed("storing receipt", `UPDATE envelopes SET receipt_party = ?, receipt_received = ?,
			receipt_note = ? WHERE id = ? AND dir = 2 AND receipt_note IS NULL`, party, received, note, id[:]); done || err != nil {
			return err
		}
		return t.same(conflict("another receipt for %v is stored", id), `SELECT receipt_party = ?
			AND receipt_received = ? AND receipt_note = ? FROM envelopes WHERE id = ? AND dir = 2`,
			party, received, note, id[:])
	})
}

// outboxState returns the state of an outbox row, locked until the end of
// the transaction, or ErrNotFound.
func (t *wtx) outboxState(id hotline.ID, recipient string) (int, error) {
	var state int
	err := t.queryRow(`SELECT state FROM outbox WHERE id = ? AND recipient = ? $LOCK_ROW`, id[:], recipient).Scan(&state)
	return state, wrapf(scanned("outbox row", err), "outbox row for %v to %q", id, recipient)
}

// RecordAttempt implements [store.Store].
func (s *Store) RecordAttempt(ctx context.Context, a *store.Attempt) error {
	if err := a.Check(); err != nil {
		return err
	}
	return s.write(ctx, func(t *wtx) error {
		if done, err := t.changed("recording attempt", `UPDATE outbox SET attempts = attempts + 1,
			first_attempt = coalesce(first_attempt, ?), last_attempt = ?,
			last_error = ?, route = ?, next_attempt = ?
			WHERE id = ? AND recipient = ? AND state = ?`,
			nanos(a.At), nanos(a.At), errorText(a.Error), a.Route, nanos(a.Next),
			a.ID[:], a.Recipient, statePending); done || err != nil {
			return err
		}
		state, err := t.outboxState(a.ID, a.Recipient)
		if err != nil {
			return err
		}
		return conflict("outbox row for %v to %q is %v, not pending", a.ID, a.Recipient, store.OutboxState(state))
	})
}

// MarkDelivered implements [store.Store].
func (s *Store) MarkDelivered(ctx context.Context, d *store.Delivered) (bool, error) {
	if err := d.Check(); err != nil {
		return false, err
	}
	var existed bool
	err := s.write(ctx, func(t *wtx) error {
		existed = false
		state, err := t.outboxState(d.ID, d.Recipient)
		if err != nil {
			return err
		}
		rc := &d.Receipt
		if state == stateDelivered {
			err := t.same(conflict("another receipt from %q for %v is stored", d.Recipient, d.ID),
				`SELECT receipt_note = ? AND receipt_received = ? AND receipt_idx = ? AND receipt_id = ?
				FROM outbox WHERE id = ? AND recipient = ?`, rc.Note, nanos(rc.Received), int64(rc.LogIndex),
				d.ReceiptID[:], d.ID[:], d.Recipient)
			existed = err == nil
			return err
		}
		_, err = t.exec(`UPDATE outbox SET state = ?, delivered = ?, route = coalesce(nullif(?, ''), route),
			first_attempt = coalesce(first_attempt, ?), last_attempt = ?,
			receipt_received = ?, receipt_idx = ?, receipt_note = ?, receipt_id = ?, rleaf_entry = ?,
			rleaf_after = `+highWater+` WHERE id = ? AND recipient = ?`,
			stateDelivered, nanos(d.At), d.Route, nanos(d.At), nanos(d.At),
			nanos(rc.Received), int64(rc.LogIndex), rc.Note, d.ReceiptID[:], d.Entry[:],
			d.ID[:], d.Recipient)
		if t.s.d.Unique(err) { // outbox_receipt
			return conflict("receipt %v already delivered another envelope", d.ReceiptID)
		}
		return wrapf(err, "marking delivered")
	})
	return existed, err
}

// MarkFailed implements [store.Store].
func (s *Store) MarkFailed(ctx context.Context, id hotline.ID, recipient string, at time.Time, reason string) error {
	if err := store.CheckTime("failed at", at); err != nil {
		return err
	}
	return s.setState(ctx, id, recipient, stateFailed, "last_error", errorText(reason))
}

// Requeue implements [store.Store].
func (s *Store) Requeue(ctx context.Context, id hotline.ID, recipient string, next time.Time) error {
	if err := store.CheckTime("next attempt", next); err != nil {
		return err
	}
	return s.setState(ctx, id, recipient, statePending, "next_attempt", nanos(next))
}

// setState moves an outbox row that is not delivered to state, setting
// column to value. A failed row stays failed as it is.
func (s *Store) setState(ctx context.Context, id hotline.ID, recipient string, state int, column string, value any) error {
	if err := store.CheckParty("recipient", recipient); err != nil {
		return err
	}
	return s.write(ctx, func(t *wtx) error {
		was, err := t.outboxState(id, recipient)
		switch {
		case err != nil:
			return err
		case was == stateDelivered:
			return conflict("outbox row for %v to %q is delivered", id, recipient)
		case was == stateFailed && state == stateFailed:
			return nil
		}
		_, err = t.exec(`UPDATE outbox SET state = ?, `+column+` = ? WHERE id = ? AND recipient = ?`,
			state, value, id[:], recipient)
		return err
	})
}

// MarkAlerted implements [store.Store].
func (s *Store) MarkAlerted(ctx context.Context, id hotline.ID, recipient string, at time.Time) error {
	if err := cmp.Or(store.CheckParty("recipient", recipient), store.CheckTime("alerted at", at)); err != nil {
		return err
	}
	return s.write(ctx, func(t *wtx) error {
		done, err := t.changed("marking alerted", `UPDATE outbox SET alerted = coalesce(alerted, ?)
			WHERE id = ? AND recipient = ?`, nanos(at), id[:], recipient)
		if err == nil && !done {
			return fmt.Errorf("%w: no outbox row for %v to %q", store.ErrNotFound, id, recipient)
		}
		return err
	})
}

// SetAgreement implements [store.Store].
func (s *Store) SetAgreement(ctx context.Context, a *store.Agreement) error {
	if err := a.Check(); err != nil {
		return err
	}
	return s.write(ctx, func(t *wtx) error {
		if done, err := t.changed("recording agreement", `INSERT INTO agreements (version, hash, raw, at) VALUES (?, ?, ?, ?)
			ON CONFLICT DO NOTHING`, int64(a.Version), a.Hash[:], a.Raw, nanos(a.At)); done || err != nil {
			return err
		}
		var hash []byte
		err := t.queryRow(`SELECT hash FROM agreements WHERE version = ?`, int64(a.Version)).Scan(&hash)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return conflict("agreement %x already recorded under another version", a.Hash[:8])
		case err != nil:
			return err
		case string(hash) != string(a.Hash[:]):
			return conflict("agreement version %d already recorded with another hash", a.Version)
		}
		return nil
	})
}

// SetCheckpoint implements [store.Store].
func (s *Store) SetCheckpoint(ctx context.Context, c *store.Checkpoint) (bool, error) {
	if err := c.Check(); err != nil {
		return false, err
	}
	var replaced bool
	err := s.write(ctx, func(t *wtx) error {
		n, err := t.exec(`INSERT INTO checkpoints (origin, size, note, at) VALUES (?, ?, ?, ?)
			ON CONFLICT (origin) DO UPDATE SET size = excluded.size, note = excluded.note, at = excluded.at
			WHERE excluded.size > checkpoints.size`, c.Origin, int64(c.Size), c.Note, nanos(c.At))
		replaced = n == 1
		return err
	})
	return replaced, err
}

// SetValue implements [store.Store].
func (s *Store) SetValue(ctx context.Context, key string, value []byte) error {
	if err := store.CheckKey(key); err != nil {
		return err
	}
	return s.write(ctx, func(t *wtx) error {
		_, err := t.exec(`INSERT INTO kv (key, value) VALUES (?, ?)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, nonNil(value))
		return err
	})
}
