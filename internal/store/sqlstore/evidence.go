// The obligations engine's reads: every message and outbox row, narrow.

package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
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
	// A delivered row's state, attempts and last error decide nothing,
	// and nearly every row is delivered: a row not delivered brings them
	// in one text column (the state, the attempts, the first and last
	// attempt's times and the last error, space-separated, the error
	// last), a delivered one a NULL — six columns a row rather than ten.
	rows, err := s.query(ctx, `SELECT o.id, o.recipient, o.relayed, o.receipt_received, o.receipt_idx,
		CASE WHEN o.state <> 2 THEN CAST(o.state AS TEXT) || ' ' || CAST(o.attempts AS TEXT) || ' ' ||
			coalesce(CAST(o.first_attempt AS TEXT), '') || ' ' || coalesce(CAST(o.last_attempt AS TEXT), '') || ' ' ||
			o.last_error END
		FROM outbox o WHERE `+w.String()+` ORDER BY o.seq`, w.args...)
	if err != nil {
		return fmt.Errorf("listing outbox evidence: %w", err)
	}
	defer rows.Close()
	// The integers are scanned into interfaces, which take the driver's
	// values as they are, where an *int64 or a sql.NullInt64 would go
	// through reflection.
	var (
		d                   store.DeliveryFacts
		dec                 factsDecoder
		id, recipient, more sql.RawBytes
		relayed, rcv, ridx  any
	)
	dest := []any{&id, &recipient, &relayed, &rcv, &ridx, &more}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return fmt.Errorf("listing outbox evidence: %w", err)
		}
		var err error
		if d.ID, err = decodeID(id); err != nil {
			return fmt.Errorf("listing outbox evidence: %w", err)
		}
		d.Recipient = dec.intern(recipient)
		var ok [3]bool
		var relayedAt, received, index int64
		if relayedAt, ok[0], err = anyInt(relayed); err == nil {
			if received, ok[1], err = anyInt(rcv); err == nil {
				index, ok[2], err = anyInt(ridx)
			}
		}
		if err != nil {
			return fmt.Errorf("listing outbox evidence: %w", err)
		}
		d.Relayed, d.Receipted, d.Received, d.LogIndex = time.Time{}, ok[1], time.Time{}, uint64(index)
		if ok[0] {
			d.Relayed = fromNanos(relayedAt)
		}
		if ok[1] {
			d.Received = fromNanos(received)
		}
		d.State, d.Attempts, d.FirstAttempt, d.LastAttempt, d.LastError = store.OutboxDelivered, 0, time.Time{}, time.Time{}, ""
		if more != nil {
			if err := parseAttempts(string(more), &d); err != nil {
				return fmt.Errorf("listing outbox evidence: %w", err)
			}
		}
		if err := fn(&d); err != nil {
			return err
		}
	}
	return wrapf(rows.Err(), "listing outbox evidence")
}

// anyInt returns an integer column scanned into an interface, and whether
// it was not NULL.
func anyInt(v any) (int64, bool, error) {
	switch v := v.(type) {
	case int64:
		return v, true, nil
	case nil:
		return 0, false, nil
	}
	var n sql.NullInt64
	err := n.Scan(v)
	return n.Int64, n.Valid, err
}

// parseAttempts parses OutboxEvidence's column of a row not delivered:
// the state, the attempts, the first and last attempt's times (empty for
// none) and the last error, space-separated.
func parseAttempts(s string, d *store.DeliveryFacts) error {
	f := strings.SplitN(s, " ", 5)
	if len(f) != 5 {
		return fmt.Errorf("outbox attempts %q: not five fields", truncate(s))
	}
	var n [4]int64
	for i, x := range f[:4] {
		if x == "" && i >= 2 {
			continue
		}
		v, err := strconv.ParseInt(x, 10, 64)
		if err != nil {
			return fmt.Errorf("outbox attempts %q: %w", truncate(s), err)
		}
		n[i] = v
	}
	d.State, d.Attempts, d.LastError = store.OutboxState(n[0]), int(n[1]), f[4]
	if f[2] != "" {
		d.FirstAttempt = fromNanos(n[2])
	}
	if f[3] != "" {
		d.LastAttempt = fromNanos(n[3])
	}
	return nil
}
