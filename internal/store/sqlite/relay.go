package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/internal/store"
	"github.com/hotline-net/hotline/internal/store/internal/sqlkit"
)

// unproven selects the delivered outbox rows whose inclusion is not yet
// proven; written as the outbox_unproven indexes' condition, so that
// SQLite uses them.
const unproven = "o.state = 2 AND o.included IS NULL"

// MarkIncluded implements [store.Store].
func (db *DB) MarkIncluded(ctx context.Context, id hotline.ID, recipient string, at time.Time, size uint64) error {
	if err := store.CheckParty("recipient", recipient); err != nil {
		return err
	}
	if err := store.CheckTime("included at", at); err != nil {
		return err
	}
	if err := store.CheckUint("checkpoint size", size); err != nil {
		return err
	}
	if size == 0 {
		return fmt.Errorf("%w: checkpoint size 0", store.ErrInvalid)
	}
	return db.write(ctx, func(t *wtx) error {
		var (
			state    int
			idx      sql.NullInt64
			included sql.NullInt64
		)
		err := t.queryRow(`SELECT state, receipt_idx, included FROM outbox WHERE id = ? AND recipient = ?`,
			id[:], recipient).Scan(&state, &idx, &included)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("no outbox row for %v to %q", id, recipient)
		}
		if err != nil {
			return fmt.Errorf("reading outbox row: %w", err)
		}
		if state != stateDelivered {
			return conflict("outbox row for %v to %q is %v, not delivered", id, recipient, store.OutboxState(state))
		}
		if uint64(idx.Int64) >= size {
			return conflict("a checkpoint of size %d cannot hold the leaf at index %d that %q's receipt for %v names",
				size, idx.Int64, recipient, id)
		}
		if included.Valid {
			return nil
		}
		_, err = t.exec(`UPDATE outbox SET included = ?, included_size = ? WHERE id = ? AND recipient = ?`,
			sqlkit.Time(at), int64(size), id[:], recipient)
		if err != nil {
			return fmt.Errorf("marking included: %w", err)
		}
		return nil
	})
}

// Unproven implements [store.Store].
func (db *DB) Unproven(ctx context.Context, q store.UnprovenQuery) ([]store.OutboxRow, error) {
	if err := q.Check(); err != nil {
		return nil, err
	}
	limit, err := sqlkit.PageLimit(q.Limit, 100, 10000)
	if err != nil {
		return nil, err
	}
	where, args := unproven, []any{}
	if q.Recipient != "" {
		where += " AND o.recipient = ?"
		args = append(args, q.Recipient)
	}
	_, out, err := db.outboxRows(ctx, `SELECT `+outboxCols+outboxFrom+` WHERE `+where+
		` ORDER BY o.receipt_idx, o.seq LIMIT ?`, append(args, limit)...)
	return out, err
}

// MarkRelayed implements [store.Store].
func (db *DB) MarkRelayed(ctx context.Context, d *store.RelayedDelivery) error {
	if err := d.Check(); err != nil {
		return err
	}
	return db.write(ctx, func(t *wtx) error {
		n, err := t.execN(`UPDATE outbox SET relayed = ?, relayed_via = ?, relay_receipt = ?
			WHERE id = ? AND recipient = ? AND relayed IS NULL`,
			sqlkit.Time(d.At), d.Relay, d.Receipt, d.ID[:], d.Recipient)
		if err != nil {
			return fmt.Errorf("marking relayed: %w", err)
		}
		if n == 1 {
			return nil
		}
		var (
			via     string
			receipt []byte
		)
		err = t.queryRow(`SELECT relayed_via, relay_receipt FROM outbox WHERE id = ? AND recipient = ?`,
			d.ID[:], d.Recipient).Scan(&via, &receipt)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("no outbox row for %v to %q", d.ID, d.Recipient)
		}
		if err != nil {
			return fmt.Errorf("reading outbox row: %w", err)
		}
		if via != d.Relay || !bytes.Equal(receipt, d.Receipt) {
			return conflict("%v to %q already relayed via %q with another relay receipt", d.ID, d.Recipient, via)
		}
		return nil
	})
}

// RelayPut implements [store.Store].
func (db *DB) RelayPut(ctx context.Context, r *store.Relayed) (bool, error) {
	if err := r.Check(); err != nil {
		return false, err
	}
	var existed bool
	err := db.write(ctx, func(t *wtx) error {
		existed = false
		n, err := t.execN(`INSERT INTO relay (id, from_party, to_party, received, receipt, raw)
			VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id, to_party) DO NOTHING`,
			r.ID[:], r.From, r.To, sqlkit.Time(r.Received), r.Receipt, r.Raw)
		if err != nil {
			return fmt.Errorf("storing relayed envelope: %w", err)
		}
		if n == 1 {
			return nil
		}
		var same bool
		if err := t.queryRow(`SELECT from_party = ? AND raw = ? FROM relay WHERE id = ? AND to_party = ?`,
			r.From, r.Raw, r.ID[:], r.To).Scan(&same); err != nil {
			return fmt.Errorf("comparing relayed envelope: %w", err)
		}
		if !same {
			return conflict("relayed envelope %v to %q already stored with other bytes", r.ID, r.To)
		}
		existed = true
		return nil
	})
	return existed, err
}

const relayCols = `seq, id, from_party, to_party, received, receipt, handed_on, recipient_receipt, raw`

func scanRelayed(s scanner) (int64, store.Relayed, error) {
	var (
		r             store.Relayed
		seq, received int64
		id            []byte
		handedOn      *int64
	)
	err := s.Scan(&seq, &id, &r.From, &r.To, &received, &r.Receipt, &handedOn, &r.RecipientReceipt, &r.Raw)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, r, store.ErrNotFound
	}
	if err != nil {
		return 0, r, fmt.Errorf("reading relayed envelope: %w", err)
	}
	if r.ID, err = sqlkit.ID(id); err != nil {
		return 0, r, err
	}
	r.Received = sqlkit.FromTime(received)
	r.HandedOn = sqlkit.FromOptTime(handedOn)
	return seq, r, nil
}

// RelayGet implements [store.Store].
func (db *DB) RelayGet(ctx context.Context, id hotline.ID, to string) (store.Relayed, error) {
	if err := store.CheckParty("relay recipient", to); err != nil {
		return store.Relayed{}, err
	}
	rdb, err := db.reader()
	if err != nil {
		return store.Relayed{}, err
	}
	_, r, err := scanRelayed(rdb.QueryRowContext(ctx, `SELECT `+relayCols+` FROM relay WHERE id = ? AND to_party = ?`,
		id[:], to))
	if err != nil {
		return r, fmt.Errorf("relayed envelope %v to %q: %w", id, to, err)
	}
	return r, nil
}

func relayWhere(to string, pendingOnly bool) (string, []any) {
	conds := []string{"1 = 1"}
	var args []any
	if to != "" {
		conds = append(conds, "to_party = ?")
		args = append(args, to)
	}
	if pendingOnly {
		conds = append(conds, "handed_on IS NULL")
	}
	return strings.Join(conds, " AND "), args
}

// RelayList implements [store.Store].
func (db *DB) RelayList(ctx context.Context, q store.RelayQuery) (store.RelayPage, error) {
	var page store.RelayPage
	if err := q.Check(); err != nil {
		return page, err
	}
	limit, err := sqlkit.PageLimit(q.Limit, 50, 1000)
	if err != nil {
		return page, err
	}
	after, ok, err := sqlkit.DecodeCursor(sqlkit.RelayOldest, q.Cursor)
	if err != nil {
		return page, err
	}
	where, args := relayWhere(q.To, !q.IncludeHandedOn)
	if ok {
		where += " AND seq > ?"
		args = append(args, after)
	}
	rdb, err := db.reader()
	if err != nil {
		return page, err
	}
	rows, err := rdb.QueryContext(ctx, `SELECT `+relayCols+` FROM relay WHERE `+where+` ORDER BY seq LIMIT ?`,
		append(args, limit+1)...)
	if err != nil {
		return page, fmt.Errorf("listing relayed envelopes: %w", err)
	}
	defer rows.Close()
	var last, size int64
	for rows.Next() {
		if len(page.Items) == limit {
			page.Next = sqlkit.EncodeCursor(sqlkit.RelayOldest, last)
			break
		}
		seq, r, err := scanRelayed(rows)
		if err != nil {
			return page, err
		}
		size += int64(len(r.Raw))
		if q.MaxBytes > 0 && size > q.MaxBytes && len(page.Items) > 0 {
			page.Next = sqlkit.EncodeCursor(sqlkit.RelayOldest, last)
			break
		}
		last = seq
		page.Items = append(page.Items, r)
	}
	if err := rows.Err(); err != nil {
		return page, fmt.Errorf("listing relayed envelopes: %w", err)
	}
	return page, nil
}

// RelayHandedOn implements [store.Store].
func (db *DB) RelayHandedOn(ctx context.Context, id hotline.ID, to string, at time.Time, recipientReceipt []byte) error {
	if err := store.CheckParty("relay recipient", to); err != nil {
		return err
	}
	if err := store.CheckTime("handed on at", at); err != nil {
		return err
	}
	if len(recipientReceipt) == 0 {
		return fmt.Errorf("%w: handed on without the recipient's receipt", store.ErrInvalid)
	}
	return db.write(ctx, func(t *wtx) error {
		n, err := t.execN(`UPDATE relay SET handed_on = ?, recipient_receipt = ?
			WHERE id = ? AND to_party = ? AND handed_on IS NULL`, sqlkit.Time(at), recipientReceipt, id[:], to)
		if err != nil {
			return fmt.Errorf("marking handed on: %w", err)
		}
		if n == 1 {
			return nil
		}
		var stored []byte
		err = t.queryRow(`SELECT recipient_receipt FROM relay WHERE id = ? AND to_party = ?`, id[:], to).Scan(&stored)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("no relayed envelope %v to %q", id, to)
		}
		if err != nil {
			return fmt.Errorf("reading relayed envelope: %w", err)
		}
		if !bytes.Equal(stored, recipientReceipt) {
			return conflict("relayed envelope %v to %q already handed on with another receipt", id, to)
		}
		return nil
	})
}

// RelayCount implements [store.Store].
func (db *DB) RelayCount(ctx context.Context, to string, pendingOnly bool) (int64, error) {
	if to != "" {
		if err := store.CheckParty("relay recipient", to); err != nil {
			return 0, err
		}
	}
	rdb, err := db.reader()
	if err != nil {
		return 0, err
	}
	where, args := relayWhere(to, pendingOnly)
	var n int64
	if err := rdb.QueryRowContext(ctx, `SELECT count(*) FROM relay WHERE `+where, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("counting relayed envelopes: %w", err)
	}
	return n, nil
}

// RelayPurge implements [store.Store].
func (db *DB) RelayPurge(ctx context.Context, handedOnBefore time.Time) (int, error) {
	if err := store.CheckTime("handed on before", handedOnBefore); err != nil {
		return 0, err
	}
	var n int64
	err := db.write(ctx, func(t *wtx) error {
		var err error
		n, err = t.execN(`DELETE FROM relay WHERE handed_on IS NOT NULL AND handed_on < ?`, sqlkit.Time(handedOnBefore))
		if err != nil {
			return fmt.Errorf("purging relayed envelopes: %w", err)
		}
		return nil
	})
	return int(n), err
}
