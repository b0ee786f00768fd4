package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/internal/store"
	"github.com/hotline-net/hotline/internal/store/internal/sqlkit"
)

const (
	statePending   = int16(store.OutboxPending)
	stateDelivered = int16(store.OutboxDelivered)
	stateFailed    = int16(store.OutboxFailed)
)

func conflict(format string, args ...any) error {
	return fmt.Errorf("%w: %s", store.ErrConflict, fmt.Sprintf(format, args...))
}

func notFound(format string, args ...any) error {
	return fmt.Errorf("%w: %s", store.ErrNotFound, fmt.Sprintf(format, args...))
}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

const insertEnvelope = `INSERT INTO envelopes (dir, id, from_party, recipients, group_label, created,
	agreement, exercise, kind, severity, marking, thread, refs, pair_seq, pair_prev, at, entry, raw, body, leaf_after)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, ` + highWater + `)
	ON CONFLICT (id, dir) DO NOTHING RETURNING leaf_after`

// envelopeArgs returns the arguments of insertEnvelope. It runs on the
// caller's goroutine, to keep encoding off the writer's.
func envelopeArgs(dir hotline.Direction, e *store.Envelope, entry [hotline.EntrySize]byte) []any {
	thread := e.ThreadID()
	return []any{int16(dir), e.ID[:], e.From, sqlkit.Parties(e.To), e.Group,
		sqlkit.Time(e.Created), e.AgreementHash[:], e.Exercise, e.Kind, string(e.Severity),
		string(e.Marking), thread[:], sqlkit.IDs(e.Refs), int64(e.PairSeq), e.PairPrev[:],
		sqlkit.Time(e.At), entry[:], e.Raw, nonNil(e.Body)}
}

// insertEnvelope inserts an envelope and its pending leaf, given
// envelopeArgs, and returns the leaf and whether the envelope was new. An
// envelope already there with the same bytes is not new; with other bytes
// it is ErrConflict.
func (t *wtx) insertEnvelope(dir hotline.Direction, e *store.Envelope, entry [hotline.EntrySize]byte, args []any) (store.Leaf, bool, error) {
	var after int64
	err := t.queryRow(insertEnvelope, args...).Scan(&after)
	switch {
	case err == nil:
		return store.Leaf{Entry: entry, Direction: dir, Object: e.ID, After: uint64(after)}, true, nil
	case !errors.Is(err, pgx.ErrNoRows):
		return store.Leaf{}, false, fmt.Errorf("inserting envelope %v: %w", e.ID, err)
	}
	var same bool
	if err := t.queryRow(`SELECT raw = $1 FROM envelopes WHERE id = $2 AND dir = $3`, e.Raw, e.ID[:], int16(dir)).Scan(&same); err != nil {
		return store.Leaf{}, false, fmt.Errorf("comparing envelope %v: %w", e.ID, err)
	}
	if !same {
		return store.Leaf{}, false, conflict("%v envelope %v already stored with other bytes", dir, e.ID)
	}
	leaf, err := scanLeaf(t.queryRow(envelopeLeaf, e.ID[:], int16(dir)))
	return leaf, false, err
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
				n, err = t.execN(`INSERT INTO pair_out (party, last_seq, last_id) VALUES ($1, 1, $2)
					ON CONFLICT DO NOTHING`, q.Party, e.ID[:])
			} else {
				// Under READ COMMITTED a concurrent update of the row
				// makes this one wait and re-check the condition: two
				// replicas cannot both take the number.
				n, err = t.execN(`UPDATE pair_out SET last_seq = $1, last_id = $2
					WHERE party = $3 AND last_seq = $4 AND last_id = $5`,
					int64(q.Seq), e.ID[:], q.Party, int64(q.Seq-1), q.Prev[:])
			}
			if err != nil {
				return fmt.Errorf("advancing sequence to %q: %w", q.Party, err)
			}
			if n != 1 {
				return conflict("sequence number %d to %q (after %v) is taken or out of order", q.Seq, q.Party, q.Prev)
			}
			if _, err := t.exec(`INSERT INTO outbox (id, recipient, pair_seq, pair_prev, kind, exercise, queued, next_attempt)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, e.ID[:], q.Party, int64(q.Seq), q.Prev[:], e.Kind, e.Exercise,
				sqlkit.Time(e.At), sqlkit.Time(e.At)); err != nil {
				return fmt.Errorf("queuing %v to %q: %w", e.ID, q.Party, err)
			}
		}
		return nil
	})
	return res, err
}

// sequenceEnvelope records an envelope's leaf index, with the receipt
// this node issues if any, and releases a sent envelope's outbox rows, in
// one statement (one round trip) when the leaf is pending and the index
// free. It changes nothing otherwise, and Sequenced finds out why.
const sequenceEnvelope = `WITH leaf AS (
		UPDATE envelopes SET leaf_idx = $3, receipt_party = $4, receipt_received = $5, receipt_note = $6
		WHERE id = $1 AND dir = $2 AND leaf_idx IS NULL
			AND NOT EXISTS (SELECT 1 FROM envelopes WHERE leaf_idx = $3)
			AND NOT EXISTS (SELECT 1 FROM outbox WHERE rleaf_idx = $3)
		RETURNING 1
	), ready AS (
		UPDATE outbox SET ready = true WHERE $2 = 1 AND id = $1 AND EXISTS (SELECT 1 FROM leaf)
	)
	SELECT count(*) FROM leaf`

// sequenceReceipt is sequenceEnvelope for a received receipt's leaf.
const sequenceReceipt = `UPDATE outbox SET rleaf_idx = $2
	WHERE receipt_id = $1 AND rleaf_idx IS NULL
		AND NOT EXISTS (SELECT 1 FROM envelopes WHERE leaf_idx = $2)
		AND NOT EXISTS (SELECT 1 FROM outbox WHERE rleaf_idx = $2)`

// Sequenced implements [store.Store].
func (db *DB) Sequenced(ctx context.Context, dir hotline.Direction, id hotline.ID, index uint64, issued *store.Receipt) error {
	if err := store.CheckUint("log index", index); err != nil {
		return err
	}
	var party, received, note any // NULL without a receipt
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
			party, received, note = issued.Party, sqlkit.Time(issued.Received), issued.Note
		}
	default:
		return fmt.Errorf("%w: direction %v", store.ErrInvalid, dir)
	}
	return db.write(ctx, func(t *wtx) error {
		var n int64
		var err error
		if dir == hotline.ReceiptReceived {
			n, err = t.execN(sequenceReceipt, id[:], int64(index))
		} else {
			err = t.queryRow(sequenceEnvelope, id[:], int16(dir), int64(index), party, received, note).Scan(&n)
		}
		if isUniqueViolation(err) {
			// Another writer took the index and committed first.
			return conflict("log index %d already holds another leaf", index)
		}
		if err != nil {
			return fmt.Errorf("recording leaf index: %w", err)
		}
		if n == 1 {
			return nil
		}
		// Nothing changed: find out why.
		var leaf store.Leaf
		if dir == hotline.ReceiptReceived {
			leaf, err = scanLeaf(t.queryRow(receiptLeaf, id[:]))
		} else {
			leaf, err = scanLeaf(t.queryRow(envelopeLeaf, id[:], int16(dir)))
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
		n, err = t.execN(`UPDATE envelopes SET receipt_party = $1, receipt_received = $2, receipt_note = $3
			WHERE id = $4 AND dir = 2 AND receipt_note IS NULL`, party, received, note, id[:])
		if err != nil {
			return fmt.Errorf("storing receipt: %w", err)
		}
		if n == 1 {
			return nil
		}
		var same bool
		if err := t.queryRow(`SELECT receipt_party = $1 AND receipt_received = $2 AND receipt_note = $3
			FROM envelopes WHERE id = $4 AND dir = 2`, party, received, note, id[:]).Scan(&same); err != nil {
			return fmt.Errorf("comparing receipt: %w", err)
		}
		if !same {
			return conflict("another receipt for %v is stored", id)
		}
		return nil
	})
}

// outboxState returns the state of an outbox row, locked until the end of
// the transaction, or ErrNotFound.
func (t *wtx) outboxState(id hotline.ID, recipient string) (int16, error) {
	var state int16
	err := t.queryRow(`SELECT state FROM outbox WHERE id = $1 AND recipient = $2 FOR UPDATE`, id[:], recipient).Scan(&state)
	if errors.Is(err, pgx.ErrNoRows) {
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
			first_attempt = coalesce(first_attempt, $1), last_attempt = $1,
			last_error = $2, route = $3, next_attempt = $4
			WHERE id = $5 AND recipient = $6 AND state = $7`,
			sqlkit.Time(a.At), sqlkit.ErrorText(a.Error), a.Route, sqlkit.Time(a.Next),
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
			if err := t.queryRow(`SELECT receipt_note = $1 AND receipt_received = $2 AND receipt_idx = $3 AND receipt_id = $4
				FROM outbox WHERE id = $5 AND recipient = $6`, rc.Note, sqlkit.Time(rc.Received), int64(rc.LogIndex),
				d.ReceiptID[:], d.ID[:], d.Recipient).Scan(&same); err != nil {
				return fmt.Errorf("comparing receipt: %w", err)
			}
			if !same {
				return conflict("another receipt from %q for %v is stored", d.Recipient, d.ID)
			}
			existed = true
			return nil
		}
		var taken bool
		if err := t.queryRow(`SELECT EXISTS (SELECT 1 FROM outbox WHERE receipt_id = $1)`, d.ReceiptID[:]).Scan(&taken); err != nil {
			return fmt.Errorf("looking up receipt: %w", err)
		}
		if taken {
			return conflict("receipt %v already delivered another envelope", d.ReceiptID)
		}
		_, err = t.exec(`UPDATE outbox SET state = $1, delivered = $2, route = coalesce(nullif($3, ''), route),
			first_attempt = coalesce(first_attempt, $2), last_attempt = $2,
			receipt_received = $4, receipt_idx = $5, receipt_note = $6, receipt_id = $7, rleaf_entry = $8,
			rleaf_after = `+highWater+` WHERE id = $9 AND recipient = $10`,
			stateDelivered, sqlkit.Time(d.At), d.Route,
			sqlkit.Time(rc.Received), int64(rc.LogIndex), rc.Note, d.ReceiptID[:], d.Entry[:],
			d.ID[:], d.Recipient)
		if isUniqueViolation(err) {
			return conflict("receipt %v already delivered another envelope", d.ReceiptID)
		}
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
		_, err = t.exec(`UPDATE outbox SET state = $1, last_error = $2 WHERE id = $3 AND recipient = $4`,
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
		_, err = t.exec(`UPDATE outbox SET state = $1, next_attempt = $2 WHERE id = $3 AND recipient = $4`,
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
		n, err := t.execN(`UPDATE outbox SET alerted = coalesce(alerted, $1) WHERE id = $2 AND recipient = $3`,
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
		n, err := t.execN(`INSERT INTO agreements (version, hash, raw, at) VALUES ($1, $2, $3, $4)
			ON CONFLICT DO NOTHING`, int64(a.Version), a.Hash[:], a.Raw, sqlkit.Time(a.At))
		if err != nil {
			return fmt.Errorf("recording agreement: %w", err)
		}
		if n == 1 {
			return nil
		}
		var hash []byte
		err = t.queryRow(`SELECT hash FROM agreements WHERE version = $1`, int64(a.Version)).Scan(&hash)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
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
func (db *DB) SetCheckpoint(ctx context.Context, c *store.Checkpoint) (bool, error) {
	if err := c.Check(); err != nil {
		return false, err
	}
	var replaced bool
	err := db.write(ctx, func(t *wtx) error {
		n, err := t.execN(`INSERT INTO checkpoints (origin, size, note, at) VALUES ($1, $2, $3, $4)
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
		_, err := t.exec(`INSERT INTO kv (key, value) VALUES ($1, $2)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, nonNil(value))
		return err
	})
}
