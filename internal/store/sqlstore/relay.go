package sqlstore

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"time"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/internal/store"
)

// unproven selects the delivered outbox rows whose inclusion is not yet
// proven; written as the outbox_unproven indexes' condition, so that
// SQLite uses them.
const unproven = "o.state = 2 AND o.included IS NULL"

// MarkIncluded implements [store.Store].
func (s *Store) MarkIncluded(ctx context.Context, id hotline.ID, recipient string, at time.Time, size uint64) error {
	if err := cmp.Or(
		store.CheckParty("recipient", recipient),
		store.CheckTime("included at", at),
		store.CheckUint("checkpoint size", size),
	); err != nil {
		return err
	}
	if size == 0 {
		return fmt.Errorf("%w: checkpoint size 0", store.ErrInvalid)
	}
	return s.write(ctx, func(t *wtx) error {
		// The common case in one statement; concurrent writers of the
		// row wait for its lock and find it proven.
		if done, err := t.changed("marking included", `UPDATE outbox SET included = ?, included_size = ?
			WHERE id = ? AND recipient = ? AND state = 2 AND included IS NULL AND receipt_idx < ?`,
			nanos(at), int64(size), id[:], recipient, int64(size)); done || err != nil {
			return err
		}
		var state int
		var idx *int64
		err := t.queryRow(`SELECT state, receipt_idx FROM outbox WHERE id = ? AND recipient = ?`,
			id[:], recipient).Scan(&state, &idx)
		if err := scanned("outbox row", err); err != nil {
			return wrapf(err, "outbox row for %v to %q", id, recipient)
		}
		if state != stateDelivered || idx == nil {
			return conflict("outbox row for %v to %q is %v, not delivered", id, recipient, store.OutboxState(state))
		}
		if uint64(*idx) >= size {
			return conflict("a checkpoint of size %d cannot hold the leaf at index %d that %q's receipt for %v names",
				size, *idx, recipient, id)
		}
		return nil // proven before: the first proof is kept
	})
}

// Unproven implements [store.Store].
func (s *Store) Unproven(ctx context.Context, q store.UnprovenQuery) ([]store.OutboxRow, error) {
	if err := q.Check(); err != nil {
		return nil, err
	}
	limit, err := pageLimit(q.Limit, 100, 10000)
	if err != nil {
		return nil, err
	}
	w := &where{}
	w.add(unproven)
	if q.Recipient != "" {
		w.add("o.recipient = ?", q.Recipient)
	}
	return s.outboxRows(ctx, outboxCols+` WHERE `+w.String()+` ORDER BY o.receipt_idx, o.seq LIMIT ?`,
		append(w.args, limit)...)
}

// MarkRelayed implements [store.Store].
func (s *Store) MarkRelayed(ctx context.Context, d *store.RelayedDelivery) error {
	if err := d.Check(); err != nil {
		return err
	}
	return s.write(ctx, func(t *wtx) error {
		if done, err := t.changed("marking relayed", `UPDATE outbox SET relayed = ?, relayed_via = ?, relay_receipt = ?
			WHERE id = ? AND recipient = ? AND relayed IS NULL`,
			nanos(d.At), d.Relay, d.Receipt, d.ID[:], d.Recipient); done || err != nil {
			return err
		}
		var (
			via     string
			receipt []byte
		)
		err := t.queryRow(`SELECT relayed_via, relay_receipt FROM outbox WHERE id = ? AND recipient = ?`,
			d.ID[:], d.Recipient).Scan(&via, &receipt)
		if err := scanned("outbox row", err); err != nil {
			return wrapf(err, "outbox row for %v to %q", d.ID, d.Recipient)
		}
		if via != d.Relay || !bytes.Equal(receipt, d.Receipt) {
			return conflict("%v to %q already relayed via %q with another relay receipt", d.ID, d.Recipient, via)
		}
		return nil
	})
}

// RelayPut implements [store.Store].
func (s *Store) RelayPut(ctx context.Context, r *store.Relayed) (bool, error) {
	if err := r.Check(); err != nil {
		return false, err
	}
	var existed bool
	err := s.write(ctx, func(t *wtx) error {
		existed = false
		if done, err := t.changed("storing relayed envelope", `INSERT INTO relay (id, from_party, to_party, received, receipt, raw)
			VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id, to_party) DO NOTHING`,
			r.ID[:], r.From, r.To, nanos(r.Received), r.Receipt, r.Raw); done || err != nil {
			return err
		}
		err := t.same(conflict("relayed envelope %v to %q already stored with other bytes", r.ID, r.To),
			`SELECT from_party = ? AND raw = ? FROM relay WHERE id = ? AND to_party = ?`, r.From, r.Raw, r.ID[:], r.To)
		existed = err == nil
		return err
	})
	return existed, err
}

const relayCols = `SELECT seq, id, from_party, to_party, received, receipt, handed_on, recipient_receipt, raw FROM relay`

func scanRelayed(s row) (seqRow[store.Relayed], error) {
	var (
		r             store.Relayed
		seq, received int64
		id            []byte
		handedOn      *int64
	)
	err := scanned("relayed envelope", s.Scan(&seq, &id, &r.From, &r.To, &received, &r.Receipt, &handedOn,
		&r.RecipientReceipt, &r.Raw))
	if err == nil {
		r.ID, err = decodeID(id)
	}
	r.Received, r.HandedOn = fromNanos(received), fromOptNanos(handedOn)
	return seqRow[store.Relayed]{seq, r}, err
}

// RelayGet implements [store.Store].
func (s *Store) RelayGet(ctx context.Context, id hotline.ID, to string) (store.Relayed, error) {
	if err := store.CheckParty("relay recipient", to); err != nil {
		return store.Relayed{}, err
	}
	r, err := scanRelayed(s.queryRow(ctx, relayCols+` WHERE id = ? AND to_party = ?`, id[:], to))
	return r.v, wrapf(err, "relayed envelope %v to %q", id, to)
}

func relayWhere(to string, pendingOnly bool) *where {
	w := &where{}
	if to != "" {
		w.add("to_party = ?", to)
	}
	if pendingOnly {
		w.add("handed_on IS NULL")
	}
	return w
}

// RelayList implements [store.Store].
func (s *Store) RelayList(ctx context.Context, q store.RelayQuery) (store.RelayPage, error) {
	var page store.RelayPage
	if err := q.Check(); err != nil {
		return page, err
	}
	limit, err := pageLimit(q.Limit, 50, 1000)
	if err != nil {
		return page, err
	}
	after, ok, err := decodeCursor(relayOldest, q.Cursor)
	if err != nil {
		return page, err
	}
	w := relayWhere(q.To, !q.IncludeHandedOn)
	if ok {
		w.add("seq > ?", after)
	}
	rows, err := collect(ctx, s, "listing relayed envelopes", scanRelayed,
		relayCols+` WHERE `+w.String()+` ORDER BY seq LIMIT ?`, append(w.args, limit+1)...)
	if err != nil {
		return page, err
	}
	var size int64
	for i, r := range rows {
		size += int64(len(r.v.Raw))
		if i == limit || q.MaxBytes > 0 && size > q.MaxBytes && i > 0 {
			page.Next = encodeCursor(relayOldest, rows[i-1].seq)
			break
		}
		page.Items = append(page.Items, r.v)
	}
	return page, nil
}

// RelayHandedOn implements [store.Store].
func (s *Store) RelayHandedOn(ctx context.Context, id hotline.ID, to string, at time.Time, recipientReceipt []byte) error {
	if err := cmp.Or(store.CheckParty("relay recipient", to), store.CheckTime("handed on at", at)); err != nil {
		return err
	}
	if len(recipientReceipt) == 0 {
		return fmt.Errorf("%w: handed on without the recipient's receipt", store.ErrInvalid)
	}
	return s.write(ctx, func(t *wtx) error {
		if done, err := t.changed("marking handed on", `UPDATE relay SET handed_on = ?, recipient_receipt = ?
			WHERE id = ? AND to_party = ? AND handed_on IS NULL`, nanos(at), recipientReceipt, id[:], to); done || err != nil {
			return err
		}
		var stored []byte
		err := t.queryRow(`SELECT recipient_receipt FROM relay WHERE id = ? AND to_party = ?`, id[:], to).Scan(&stored)
		if err := scanned("relayed envelope", err); err != nil {
			return wrapf(err, "relayed envelope %v to %q", id, to)
		}
		if !bytes.Equal(stored, recipientReceipt) {
			return conflict("relayed envelope %v to %q already handed on with another receipt", id, to)
		}
		return nil
	})
}

// RelayCount implements [store.Store].
func (s *Store) RelayCount(ctx context.Context, to string, pendingOnly bool) (int64, error) {
	if to != "" {
		if err := store.CheckParty("relay recipient", to); err != nil {
			return 0, err
		}
	}
	return s.count(ctx, "relay", relayWhere(to, pendingOnly))
}

// RelayPurge implements [store.Store].
func (s *Store) RelayPurge(ctx context.Context, handedOnBefore time.Time) (int, error) {
	if err := store.CheckTime("handed on before", handedOnBefore); err != nil {
		return 0, err
	}
	var n int64
	err := s.write(ctx, func(t *wtx) error {
		var err error
		n, err = t.exec(`DELETE FROM relay WHERE handed_on IS NOT NULL AND handed_on < ?`, nanos(handedOnBefore))
		return wrapf(err, "purging relayed envelopes")
	})
	return int(n), err
}
