package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/internal/store"
	"github.com/hotline-net/hotline/internal/store/internal/sqlkit"
)

const (
	statePending   = int(store.OutboxPending)
	stateDelivered = int(store.OutboxDelivered)
	stateFailed    = int(store.OutboxFailed)
)

func conflict(format string, args ...any) error {
	return fmt.Errorf("%w: %s", store.ErrConflict, fmt.Sprintf(format, args...))
}

func notFound(format string, args ...any) error {
	return fmt.Errorf("%w: %s", store.ErrNotFound, fmt.Sprintf(format, args...))
}

const insertEnvelope = `INSERT INTO envelopes (dir, id, from_party, recipients, group_label, created,
	agreement, exercise, kind, severity, marking, thread, refs, pair_seq, pair_prev, at, raw, body)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
	ON CONFLICT (id, dir) DO NOTHING`

// insertEnvelope inserts e in direction dir and reports whether it was
// new. An envelope already there with the same bytes is not new; with
// other bytes it is ErrConflict.
func (t *wtx) insertEnvelope(dir hotline.Direction, e *store.Envelope) (bool, error) {
	thread := e.ThreadID()
	n, err := t.execN(insertEnvelope, int(dir), e.ID[:], e.From, sqlkit.Parties(e.To), e.Group,
		sqlkit.Time(e.Created), e.AgreementHash[:], e.Exercise, e.Kind, string(e.Severity),
		string(e.Marking), thread[:], sqlkit.IDs(e.Refs), int64(e.PairSeq), e.PairPrev[:],
		sqlkit.Time(e.At), e.Raw, nonNil(e.Body))
	if err != nil {
		return false, fmt.Errorf("inserting envelope %v: %w", e.ID, err)
	}
	if n == 1 {
		return true, nil
	}
	var same bool
	if err := t.queryRow(`SELECT raw = ? FROM envelopes WHERE id = ? AND dir = ?`, e.Raw, e.ID[:], int(dir)).Scan(&same); err != nil {
		return false, fmt.Errorf("comparing envelope %v: %w", e.ID, err)
	}
	if !same {
		return false, conflict("%v envelope %v already stored with other bytes", dir, e.ID)
	}
	return false, nil
}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// insertLeaf inserts a pending leaf row, its After the current high-water
// mark. If the entry is already there for the same object it returns the
// row as it is; for another object, ErrConflict.
func (t *wtx) insertLeaf(entry [hotline.EntrySize]byte, dir hotline.Direction, object hotline.ID) (store.Leaf, error) {
	leaf := store.Leaf{Entry: entry, Direction: dir, Object: object}
	var after int64
	err := t.queryRow(`INSERT INTO leaves (entry, dir, object, after)
		SELECT ?, ?, ?, high_water FROM log_state WHERE id = 1
		ON CONFLICT DO NOTHING RETURNING after`, entry[:], int(dir), object[:]).Scan(&after)
	switch {
	case err == nil:
		leaf.After = uint64(after)
		return leaf, nil
	case !errors.Is(err, sql.ErrNoRows):
		return leaf, fmt.Errorf("inserting leaf: %w", err)
	}
	old, err := scanLeaf(t.queryRow(`SELECT `+leafCols+` FROM leaves WHERE entry = ?`, entry[:]))
	if errors.Is(err, store.ErrNotFound) {
		// The entry is free, so the object's leaf exists under another
		// entry (another origin).
		return leaf, conflict("%v %v already has a leaf with another entry", dir, object)
	}
	if err != nil {
		return leaf, err
	}
	if old.Direction != dir || old.Object != object {
		return leaf, conflict("leaf entry %x already stands for %v %v", entry[:8], old.Direction, old.Object)
	}
	return old, nil
}

func (t *wtx) leafOf(dir hotline.Direction, id hotline.ID) (store.Leaf, error) {
	return scanLeaf(t.queryRow(`SELECT `+leafCols+` FROM leaves WHERE dir = ? AND object = ?`, int(dir), id[:]))
}

// InsertReceived implements [store.Store].
func (db *DB) InsertReceived(ctx context.Context, r *store.Received) (store.Inserted, error) {
	if err := r.Check(); err != nil {
		return store.Inserted{}, err
	}
	var res store.Inserted
	err := db.write(ctx, func(t *wtx) error {
		res = store.Inserted{}
		e := &r.Envelope
		fresh, err := t.insertEnvelope(hotline.Received, e)
		if err != nil {
			return err
		}
		if !fresh {
			res.Existed = true
			res.Leaf, err = t.leafOf(hotline.Received, e.ID)
			return err
		}
		res.Leaf, err = t.insertLeaf(r.Entry, hotline.Received, e.ID)
		return err
	})
	return res, err
}

// InsertSent implements [store.Store].
func (db *DB) InsertSent(ctx context.Context, s *store.Sent) (store.Inserted, error) {
	if err := s.Check(); err != nil {
		return store.Inserted{}, err
	}
	var res store.Inserted
	err := db.write(ctx, func(t *wtx) error {
		res = store.Inserted{}
		e := &s.Envelope
		fresh, err := t.insertEnvelope(hotline.Sent, e)
		if err != nil {
			return err
		}
		if !fresh {
			res.Existed = true
			res.Leaf, err = t.leafOf(hotline.Sent, e.ID)
			return err
		}
		for _, q := range s.Seqs {
			var n int64
			if q.Seq == 1 {
				n, err = t.execN(`INSERT INTO pair_out (party, last_seq, last_id) VALUES (?, 1, ?)
					ON CONFLICT DO NOTHING`, q.Party, e.ID[:])
			} else {
				n, err = t.execN(`UPDATE pair_out SET last_seq = ?, last_id = ?
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
				sqlkit.Time(e.At), sqlkit.Time(e.At)); err != nil {
				return fmt.Errorf("queuing %v to %q: %w", e.ID, q.Party, err)
			}
		}
		res.Leaf, err = t.insertLeaf(s.Entry, hotline.Sent, e.ID)
		return err
	})
	return res, err
}

// Sequenced implements [store.Store].
func (db *DB) Sequenced(ctx context.Context, entry [hotline.EntrySize]byte, index uint64, issued *store.Receipt) error {
	if err := store.CheckUint("log index", index); err != nil {
		return err
	}
	if issued != nil {
		if err := issued.Check(); err != nil {
			return err
		}
		if issued.LogIndex != index {
			return fmt.Errorf("%w: receipt names index %d, leaf is at %d", store.ErrInvalid, issued.LogIndex, index)
		}
	}
	return db.write(ctx, func(t *wtx) error {
		leaf, err := scanLeaf(t.queryRow(`SELECT `+leafCols+` FROM leaves WHERE entry = ?`, entry[:]))
		if err != nil {
			return fmt.Errorf("leaf %x: %w", entry[:8], err)
		}
		if issued != nil && (leaf.Direction != hotline.Received || leaf.Object != issued.MessageID) {
			return fmt.Errorf("%w: receipt for %v on the %v leaf of %v", store.ErrInvalid, issued.MessageID, leaf.Direction, leaf.Object)
		}
		if leaf.Sequenced && leaf.Index != index {
			return conflict("leaf %x already at index %d, not %d", entry[:8], leaf.Index, index)
		}
		if !leaf.Sequenced {
			n, err := t.execN(`UPDATE leaves SET idx = ? WHERE entry = ?
				AND NOT EXISTS (SELECT 1 FROM leaves WHERE idx = ?)`, int64(index), entry[:], int64(index))
			if err != nil {
				return fmt.Errorf("recording leaf index: %w", err)
			}
			if n != 1 {
				return conflict("log index %d already holds another leaf", index)
			}
			if _, err := t.exec(`UPDATE log_state SET high_water = max(high_water, ?) WHERE id = 1`, int64(index)+1); err != nil {
				return fmt.Errorf("raising high-water mark: %w", err)
			}
			switch leaf.Direction {
			case hotline.Sent, hotline.Received:
				if _, err := t.exec(`UPDATE envelopes SET stored = 1 WHERE id = ? AND dir = ?`, leaf.Object[:], int(leaf.Direction)); err != nil {
					return fmt.Errorf("marking envelope stored: %w", err)
				}
			}
			if leaf.Direction == hotline.Sent {
				if _, err := t.exec(`UPDATE outbox SET ready = 1 WHERE id = ?`, leaf.Object[:]); err != nil {
					return fmt.Errorf("releasing outbox rows: %w", err)
				}
			}
		}
		if issued != nil {
			return t.insertReceipt(issued)
		}
		return nil
	})
}

// insertReceipt stores r; the same receipt again is a no-op, another one
// for the same message and party ErrConflict.
func (t *wtx) insertReceipt(r *store.Receipt) error {
	n, err := t.execN(`INSERT INTO receipts (id, party, received, idx, note) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT DO NOTHING`, r.MessageID[:], r.Party, sqlkit.Time(r.Received), int64(r.LogIndex), r.Note)
	if err != nil {
		return fmt.Errorf("storing receipt: %w", err)
	}
	if n == 1 {
		return nil
	}
	var same bool
	if err := t.queryRow(`SELECT note = ? FROM receipts WHERE id = ? AND party = ?`, r.Note, r.MessageID[:], r.Party).Scan(&same); err != nil {
		return fmt.Errorf("comparing receipt: %w", err)
	}
	if !same {
		return conflict("another receipt from %q for %v is stored", r.Party, r.MessageID)
	}
	return nil
}

// outboxState returns the state of an outbox row, or ErrNotFound.
func (t *wtx) outboxState(id hotline.ID, recipient string) (int, error) {
	var state int
	err := t.queryRow(`SELECT state FROM outbox WHERE id = ? AND recipient = ?`, id[:], recipient).Scan(&state)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, notFound("no outbox row for %v to %q", id, recipient)
	}
	return state, err
}

// RecordAttempt implements [store.Store].
func (db *DB) RecordAttempt(ctx context.Context, a *store.Attempt) error {
	if err := a.Check(); err != nil {
		return err
	}
	return db.write(ctx, func(t *wtx) error {
		n, err := t.execN(`UPDATE outbox SET attempts = attempts + 1,
			first_attempt = coalesce(first_attempt, ?), last_attempt = ?,
			last_error = ?, route = ?, next_attempt = ?
			WHERE id = ? AND recipient = ? AND state = ?`,
			sqlkit.Time(a.At), sqlkit.Time(a.At), sqlkit.ErrorText(a.Error), a.Route, sqlkit.Time(a.Next),
			a.ID[:], a.Recipient, statePending)
		if err != nil {
			return fmt.Errorf("recording attempt: %w", err)
		}
		if n == 1 {
			return nil
		}
		state, err := t.outboxState(a.ID, a.Recipient)
		if err != nil {
			return err
		}
		return conflict("outbox row for %v to %q is %v, not pending", a.ID, a.Recipient, store.OutboxState(state))
	})
}

// MarkDelivered implements [store.Store].
func (db *DB) MarkDelivered(ctx context.Context, d *store.Delivered) (bool, error) {
	if err := d.Check(); err != nil {
		return false, err
	}
	var existed bool
	err := db.write(ctx, func(t *wtx) error {
		existed = false
		state, err := t.outboxState(d.ID, d.Recipient)
		if err != nil {
			return err
		}
		if err := t.insertReceipt(&d.Receipt); err != nil {
			return err
		}
		if state == stateDelivered {
			existed = true
			return nil
		}
		if _, err := t.insertLeaf(d.Entry, hotline.ReceiptReceived, d.ReceiptID); err != nil {
			return err
		}
		_, err = t.exec(`UPDATE outbox SET state = ?, delivered = ?, route = coalesce(nullif(?, ''), route), first_attempt = coalesce(first_attempt, ?),
			last_attempt = ? WHERE id = ? AND recipient = ?`,
			stateDelivered, sqlkit.Time(d.At), d.Route, sqlkit.Time(d.At), sqlkit.Time(d.At), d.ID[:], d.Recipient)
		if err != nil {
			return fmt.Errorf("marking delivered: %w", err)
		}
		return nil
	})
	return existed, err
}

// MarkFailed implements [store.Store].
func (db *DB) MarkFailed(ctx context.Context, id hotline.ID, recipient string, at time.Time, reason string) error {
	if err := store.CheckParty("recipient", recipient); err != nil {
		return err
	}
	if err := store.CheckTime("failed at", at); err != nil {
		return err
	}
	return db.write(ctx, func(t *wtx) error {
		state, err := t.outboxState(id, recipient)
		if err != nil {
			return err
		}
		switch state {
		case stateFailed:
			return nil
		case stateDelivered:
			return conflict("outbox row for %v to %q is delivered", id, recipient)
		}
		_, err = t.exec(`UPDATE outbox SET state = ?, last_error = ? WHERE id = ? AND recipient = ?`,
			stateFailed, sqlkit.ErrorText(reason), id[:], recipient)
		return err
	})
}

// Requeue implements [store.Store].
func (db *DB) Requeue(ctx context.Context, id hotline.ID, recipient string, next time.Time) error {
	if err := store.CheckParty("recipient", recipient); err != nil {
		return err
	}
	if err := store.CheckTime("next attempt", next); err != nil {
		return err
	}
	return db.write(ctx, func(t *wtx) error {
		state, err := t.outboxState(id, recipient)
		if err != nil {
			return err
		}
		if state == stateDelivered {
			return conflict("outbox row for %v to %q is delivered", id, recipient)
		}
		_, err = t.exec(`UPDATE outbox SET state = ?, next_attempt = ? WHERE id = ? AND recipient = ?`,
			statePending, sqlkit.Time(next), id[:], recipient)
		return err
	})
}

// MarkAlerted implements [store.Store].
func (db *DB) MarkAlerted(ctx context.Context, id hotline.ID, recipient string, at time.Time) error {
	if err := store.CheckParty("recipient", recipient); err != nil {
		return err
	}
	if err := store.CheckTime("alerted at", at); err != nil {
		return err
	}
	return db.write(ctx, func(t *wtx) error {
		n, err := t.execN(`UPDATE outbox SET alerted = coalesce(alerted, ?) WHERE id = ? AND recipient = ?`,
			sqlkit.Time(at), id[:], recipient)
		if err != nil {
			return err
		}
		if n != 1 {
			return notFound("no outbox row for %v to %q", id, recipient)
		}
		return nil
	})
}

// SetAgreement implements [store.Store].
func (db *DB) SetAgreement(ctx context.Context, a *store.Agreement) error {
	if err := a.Check(); err != nil {
		return err
	}
	return db.write(ctx, func(t *wtx) error {
		var hash []byte
		err := t.queryRow(`SELECT hash FROM agreements WHERE version = ?`, int64(a.Version)).Scan(&hash)
		switch {
		case err == nil:
			if string(hash) != string(a.Hash[:]) {
				return conflict("agreement version %d already recorded with another hash", a.Version)
			}
			return nil
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		n, err := t.execN(`INSERT INTO agreements (version, hash, raw, at) VALUES (?, ?, ?, ?)
			ON CONFLICT DO NOTHING`, int64(a.Version), a.Hash[:], a.Raw, sqlkit.Time(a.At))
		if err != nil {
			return fmt.Errorf("recording agreement: %w", err)
		}
		if n != 1 {
			return conflict("agreement %x already recorded under another version", a.Hash[:8])
		}
		return nil
	})
}

// SetCheckpoint implements [store.Store].
func (db *DB) SetCheckpoint(ctx context.Context, c *store.Checkpoint) (bool, error) {
	if err := c.Check(); err != nil {
		return false, err
	}
	var replaced bool
	err := db.write(ctx, func(t *wtx) error {
		n, err := t.execN(`INSERT INTO checkpoints (origin, size, note, at) VALUES (?, ?, ?, ?)
			ON CONFLICT (origin) DO UPDATE SET size = excluded.size, note = excluded.note, at = excluded.at
			WHERE excluded.size > checkpoints.size`, c.Origin, int64(c.Size), c.Note, sqlkit.Time(c.At))
		replaced = n == 1
		return err
	})
	return replaced, err
}

// SetValue implements [store.Store].
func (db *DB) SetValue(ctx context.Context, key string, value []byte) error {
	if err := store.CheckKey(key); err != nil {
		return err
	}
	return db.write(ctx, func(t *wtx) error {
		_, err := t.exec(`INSERT INTO kv (key, value) VALUES (?, ?)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, nonNil(value))
		return err
	})
}
