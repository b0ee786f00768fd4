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
	agreement, exercise, kind, severity, marking, thread, refs, pair_seq, pair_prev, at, entry, raw, body, leaf_after)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
	ON CONFLICT (id, dir) DO NOTHING`

// envelopeArgs returns the arguments of insertEnvelope but the last, which
// the writer fills in. It runs on the caller's goroutine, to keep encoding
// off the writer's.
func envelopeArgs(dir hotline.Direction, e *store.Envelope, entry [hotline.EntrySize]byte) []any {
	thread := e.ThreadID()
	return []any{int64(dir), e.ID[:], e.From, sqlkit.Parties(e.To), e.Group,
		sqlkit.Time(e.Created), e.AgreementHash[:], e.Exercise, e.Kind, string(e.Severity),
		string(e.Marking), thread[:], sqlkit.IDs(e.Refs), int64(e.PairSeq), e.PairPrev[:],
		sqlkit.Time(e.At), entry[:], e.Raw, nonNil(e.Body), nil}
}

// insertEnvelope inserts an envelope and its pending leaf, given
// envelopeArgs, and returns the leaf and whether the envelope was new. An
// envelope already there with the same bytes is not new; with other bytes
// it is ErrConflict.
func (t *wtx) insertEnvelope(dir hotline.Direction, e *store.Envelope, entry [hotline.EntrySize]byte, args []any) (store.Leaf, bool, error) {
	args[len(args)-1] = t.hw
	n, err := t.execN(insertEnvelope, args...)
	if err != nil {
		return store.Leaf{}, false, fmt.Errorf("inserting envelope %v: %w", e.ID, err)
	}
	if n == 1 {
		return store.Leaf{Entry: entry, Direction: dir, Object: e.ID, After: uint64(t.hw)}, true, nil
	}
	var same bool
	if err := t.queryRow(`SELECT raw = ? FROM envelopes WHERE id = ? AND dir = ?`, e.Raw, e.ID[:], int(dir)).Scan(&same); err != nil {
		return store.Leaf{}, false, fmt.Errorf("comparing envelope %v: %w", e.ID, err)
	}
	if !same {
		return store.Leaf{}, false, conflict("%v envelope %v already stored with other bytes", dir, e.ID)
	}
	leaf, err := scanLeaf(t.queryRow(envelopeLeaf, e.ID[:], int(dir)))
	return leaf, false, err
}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// InsertReceived implements [store.Store].
func (db *DB) InsertReceived(ctx context.Context, r *store.Received) (store.Inserted, error) {
	if err := r.Check(); err != nil {
		return store.Inserted{}, err
	}
	var res store.Inserted
	args := envelopeArgs(hotline.Received, &r.Envelope, r.Entry)
	err := db.write(ctx, func(t *wtx) error {
		leaf, fresh, err := t.insertEnvelope(hotline.Received, &r.Envelope, r.Entry, args)
		res = store.Inserted{Existed: !fresh, Leaf: leaf}
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
	args := envelopeArgs(hotline.Sent, &s.Envelope, s.Entry)
	err := db.write(ctx, func(t *wtx) error {
		e := &s.Envelope
		leaf, fresh, err := t.insertEnvelope(hotline.Sent, e, s.Entry, args)
		res = store.Inserted{Existed: !fresh, Leaf: leaf}
		if err != nil || !fresh {
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
		return nil
	})
	return res, err
}

// indexTaken reports whether a leaf holds log index idx.
func (t *wtx) indexTaken(idx uint64) (bool, error) {
	var n int
	err := t.queryRow(`SELECT (SELECT count(*) FROM envelopes WHERE leaf_idx = ?) +
		(SELECT count(*) FROM outbox WHERE rleaf_idx = ?)`, int64(idx), int64(idx)).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("looking up log index %d: %w", idx, err)
	}
	return n > 0, nil
}

// Sequenced implements [store.Store].
func (db *DB) Sequenced(ctx context.Context, dir hotline.Direction, id hotline.ID, index uint64, issued *store.Receipt) error {
	if err := store.CheckUint("log index", index); err != nil {
		return err
	}
	switch dir {
	case hotline.Sent, hotline.ReceiptReceived:
		if issued != nil {
			return fmt.Errorf("%w: a receipt is issued only for a received envelope", store.ErrInvalid)
		}
	case hotline.Received:
		if issued != nil {
			if err := issued.Check(); err != nil {
				return err
			}
			if issued.LogIndex != index || issued.MessageID != id {
				return fmt.Errorf("%w: receipt for %v at %d on the leaf of %v at %d", store.ErrInvalid,
					issued.MessageID, issued.LogIndex, id, index)
			}
		}
	default:
		return fmt.Errorf("%w: direction %v", store.ErrInvalid, dir)
	}
	return db.write(ctx, func(t *wtx) error {
		if dir == hotline.Received && issued != nil {
			// The accept path's case, once per received envelope: a
			// pending leaf gets its index and receipt in one statement.
			// Anything else (already recorded, not found, a conflict)
			// takes the general path below.
			done, err := t.sequenceReceived(id, index, issued)
			if err != nil || done {
				return err
			}
		}
		var leaf store.Leaf
		var err error
		if dir == hotline.ReceiptReceived {
			leaf, err = scanLeaf(t.queryRow(receiptLeaf, id[:]))
		} else {
			leaf, err = scanLeaf(t.queryRow(envelopeLeaf, id[:], int(dir)))
		}
		if err != nil {
			return fmt.Errorf("%v leaf of %v: %w", dir, id, err)
		}
		if leaf.Sequenced && leaf.Index != index {
			return conflict("%v leaf of %v already at index %d, not %d", dir, id, leaf.Index, index)
		}
		if !leaf.Sequenced {
			taken, err := t.indexTaken(index)
			if err != nil {
				return err
			}
			if taken {
				return conflict("log index %d already holds another leaf", index)
			}
			switch dir {
			case hotline.ReceiptReceived:
				_, err = t.exec(`UPDATE outbox SET rleaf_idx = ? WHERE receipt_id = ?`, int64(index), id[:])
			default:
				_, err = t.exec(`UPDATE envelopes SET leaf_idx = ? WHERE id = ? AND dir = ?`, int64(index), id[:], int(dir))
			}
			if err != nil {
				return fmt.Errorf("recording leaf index: %w", err)
			}
			if err := t.raiseHighWater(index); err != nil {
				return err
			}
			if dir == hotline.Sent {
				if _, err := t.exec(`UPDATE outbox SET ready = 1 WHERE id = ?`, id[:]); err != nil {
					return fmt.Errorf("releasing outbox rows: %w", err)
				}
			}
		}
		if issued == nil {
			return nil
		}
		n, err := t.execN(`UPDATE envelopes SET receipt_party = ?, receipt_received = ?, receipt_note = ?
			WHERE id = ? AND dir = 2 AND receipt_note IS NULL`,
			issued.Party, sqlkit.Time(issued.Received), issued.Note, id[:])
		if err != nil {
			return fmt.Errorf("storing receipt: %w", err)
		}
		if n == 1 {
			return nil
		}
		var same bool
		if err := t.queryRow(`SELECT receipt_party = ? AND receipt_received = ? AND receipt_note = ?
			FROM envelopes WHERE id = ? AND dir = 2`, issued.Party, sqlkit.Time(issued.Received), issued.Note, id[:]).Scan(&same); err != nil {
			return fmt.Errorf("comparing receipt: %w", err)
		}
		if !same {
			return conflict("another receipt for %v is stored", id)
		}
		return nil
	})
}

// sequenceReceived records the index and receipt of a received envelope
// whose leaf is pending, if it is and the index is free; done reports
// whether it did.
func (t *wtx) sequenceReceived(id hotline.ID, index uint64, issued *store.Receipt) (done bool, err error) {
	taken, err := t.indexTaken(index)
	if err != nil || taken {
		return false, err
	}
	n, err := t.execN(`UPDATE envelopes SET leaf_idx = ?, receipt_party = ?, receipt_received = ?, receipt_note = ?
		WHERE id = ? AND dir = 2 AND leaf_idx IS NULL AND receipt_note IS NULL`,
		int64(index), issued.Party, sqlkit.Time(issued.Received), issued.Note, id[:])
	if err != nil {
		return false, fmt.Errorf("recording leaf index and receipt: %w", err)
	}
	if n == 0 {
		return false, nil
	}
	return true, t.raiseHighWater(index)
}

// raiseHighWater records that index holds a leaf: the high-water mark
// becomes index+1 if it was not above it already.
func (t *wtx) raiseHighWater(index uint64) error {
	if int64(index) < t.hw {
		return nil
	}
	if _, err := t.exec(`UPDATE log_state SET high_water = ? WHERE id = 1`, int64(index)+1); err != nil {
		return fmt.Errorf("raising high-water mark: %w", err)
	}
	t.hw = int64(index) + 1
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
		rc := &d.Receipt
		if state == stateDelivered {
			var same bool
			if err := t.queryRow(`SELECT receipt_note = ? AND receipt_received = ? AND receipt_idx = ? AND receipt_id = ?
				FROM outbox WHERE id = ? AND recipient = ?`, rc.Note, sqlkit.Time(rc.Received), int64(rc.LogIndex),
				d.ReceiptID[:], d.ID[:], d.Recipient).Scan(&same); err != nil {
				return fmt.Errorf("comparing receipt: %w", err)
			}
			if !same {
				return conflict("another receipt from %q for %v is stored", d.Recipient, d.ID)
			}
			existed = true
			return nil
		}
		var n int
		if err := t.queryRow(`SELECT count(*) FROM outbox WHERE receipt_id = ?`, d.ReceiptID[:]).Scan(&n); err != nil {
			return fmt.Errorf("looking up receipt: %w", err)
		}
		if n > 0 {
			return conflict("receipt %v already delivered another envelope", d.ReceiptID)
		}
		_, err = t.exec(`UPDATE outbox SET state = ?, delivered = ?, route = coalesce(nullif(?, ''), route),
			first_attempt = coalesce(first_attempt, ?), last_attempt = ?,
			receipt_received = ?, receipt_idx = ?, receipt_note = ?, receipt_id = ?, rleaf_entry = ?,
			rleaf_after = ? WHERE id = ? AND recipient = ?`,
			stateDelivered, sqlkit.Time(d.At), d.Route, sqlkit.Time(d.At), sqlkit.Time(d.At),
			sqlkit.Time(rc.Received), int64(rc.LogIndex), rc.Note, d.ReceiptID[:], d.Entry[:], t.hw,
			d.ID[:], d.Recipient)
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
