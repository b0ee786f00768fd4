// The obligations engine's reads: every message and outbox row, narrow.

package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/hotline-net/hotline/internal/store"
)

// A compliance report reads every envelope and outbox row a node holds, a
// million or more. So these reads are one query each, not pages; the
// envelopes' facts come from message_facts, one column a row (each column
// a row returns costs about as much as the row itself, and the table holds
// none of the envelopes' bytes); the outbox's columns are
// those the engine judges by, the attempts' only for rows not delivered;
// and the rows are scanned into reused buffers, keeping one copy of each
// party, kind and recipient list however many rows repeat it.

// MessageEvidence implements [store.Store].
func (s *Store) MessageEvidence(ctx context.Context, q store.EvidenceQuery, fn func(*store.MessageFacts) error) error {
	// Every envelope but the pending ones, which are few: their partial
	// index lists them.
	query := `SELECT f.facts FROM message_facts f
		WHERE f.seq NOT IN (SELECT seq FROM envelopes WHERE leaf_idx IS NULL) ORDER BY f.seq`
	var args []any
	if !q.Thread.IsZero() {
		query = `SELECT f.facts FROM envelopes e JOIN message_facts f ON f.seq = e.seq
			WHERE e.leaf_idx IS NOT NULL AND (e.id = ? OR (e.thread = ? AND e.thread <> e.id)) ORDER BY e.seq`
		args = append(args, q.Thread[:], q.Thread[:])
	}
	rows, err := s.query(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("listing message evidence: %w", err)
	}
	defer rows.Close()
	var (
		m     store.MessageFacts
		dec   factsDecoder
		facts sql.RawBytes
	)
	for rows.Next() {
		if err := rows.Scan(&facts); err != nil {
			return fmt.Errorf("listing message evidence: %w", err)
		}
		if err := dec.decode(facts, &m); err != nil {
			return fmt.Errorf("listing message evidence: %w", err)
		}
		if err := fn(&m); err != nil {
			return err
		}
	}
	return wrapf(rows.Err(), "listing message evidence")
}

// OutboxEvidence implements [store.Store].
func (s *Store) OutboxEvidence(ctx context.Context, q store.EvidenceQuery, fn func(*store.DeliveryFacts) error) error {
	w := &where{}
	if !q.Thread.IsZero() {
		w.add(`o.id IN (SELECT id FROM envelopes WHERE dir = 1 AND leaf_idx IS NOT NULL
			AND (id = ? OR (thread = ? AND thread <> id)))`, q.Thread[:], q.Thread[:])
	}
	// A delivered row's attempts and last error decide nothing: NULL
	// columns cost less to return.
	rows, err := s.query(ctx, `SELECT o.id, o.recipient, o.state, o.relayed, o.receipt_received, o.receipt_idx,
		CASE WHEN o.state <> 2 THEN o.attempts END, CASE WHEN o.state <> 2 THEN o.first_attempt END,
		CASE WHEN o.state <> 2 THEN o.last_attempt END, CASE WHEN o.state <> 2 THEN o.last_error END
		FROM outbox o WHERE `+w.String()+` ORDER BY o.seq`, w.args...)
	if err != nil {
		return fmt.Errorf("listing outbox evidence: %w", err)
	}
	defer rows.Close()
	// The integers are scanned into interfaces, which take the driver's
	// values as they are, where an *int64 or a sql.NullInt64 would go
	// through reflection.
	var (
		d                        store.DeliveryFacts
		dec                      factsDecoder
		id, recipient, lastError sql.RawBytes
		ints                     [7]any // state, relayed, receipt_received, receipt_idx, attempts, first_attempt, last_attempt
	)
	dest := []any{&id, &recipient, &ints[0], &ints[1], &ints[2], &ints[3], &ints[4], &ints[5], &ints[6], &lastError}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return fmt.Errorf("listing outbox evidence: %w", err)
		}
		var n [len(ints)]int64
		var null [len(ints)]bool
		for i, v := range ints {
			switch v := v.(type) {
			case int64:
				n[i] = v
			case nil:
				null[i] = true
			default:
				var x sql.NullInt64
				if err := x.Scan(v); err != nil {
					return fmt.Errorf("listing outbox evidence: %w", err)
				}
				n[i], null[i] = x.Int64, !x.Valid
			}
		}
		at := func(i int) time.Time {
			if null[i] {
				return time.Time{}
			}
			return fromNanos(n[i])
		}
		var err error
		if d.ID, err = decodeID(id); err != nil {
			return fmt.Errorf("listing outbox evidence: %w", err)
		}
		d.Recipient = dec.intern(recipient)
		d.State, d.Attempts = store.OutboxState(n[0]), int(n[4])
		d.Relayed, d.Receipted, d.Received, d.LogIndex = at(1), !null[2], at(2), uint64(n[3])
		d.FirstAttempt, d.LastAttempt = at(5), at(6)
		d.LastError = string(lastError)
		if err := fn(&d); err != nil {
			return err
		}
	}
	return wrapf(rows.Err(), "listing outbox evidence")
}
