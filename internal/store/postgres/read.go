package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/internal/store"
	"github.com/hotline-net/hotline/internal/store/internal/sqlkit"
)

// envelopeLeaf and receiptLeaf select a leaf row: the leaf of an envelope
// (by id and direction) and of a received receipt (by receipt id).
const (
	envelopeLeaf = `SELECT entry, dir, id, leaf_idx, leaf_after FROM envelopes WHERE id = $1 AND dir = $2`
	receiptLeaf  = `SELECT rleaf_entry, 3::smallint, receipt_id, rleaf_idx, rleaf_after FROM outbox WHERE receipt_id = $1`
)

func scanLeaf(s pgx.Row) (store.Leaf, error) {
	var (
		l             store.Leaf
		entry, object []byte
		dir           int16
		idx           *int64
		after         int64
	)
	err := s.Scan(&entry, &dir, &object, &idx, &after)
	if errors.Is(err, pgx.ErrNoRows) {
		return l, store.ErrNotFound
	}
	if err != nil {
		return l, fmt.Errorf("reading leaf: %w", err)
	}
	if len(entry) != len(l.Entry) {
		return l, fmt.Errorf("reading leaf: entry of %d bytes", len(entry))
	}
	copy(l.Entry[:], entry)
	l.Direction = hotline.Direction(dir)
	if l.Object, err = sqlkit.ID(object); err != nil {
		return l, err
	}
	if idx != nil {
		l.Sequenced, l.Index = true, uint64(*idx)
	}
	l.After = uint64(after)
	return l, nil
}

// params numbers the arguments of a query built piece by piece.
type params struct{ args []any }

func (p *params) add(v any) string {
	p.args = append(p.args, v)
	return "$" + strconv.Itoa(len(p.args))
}

// Receipt implements [store.Store].
func (db *DB) Receipt(ctx context.Context, id hotline.ID, party string) (store.Receipt, error) {
	r := store.Receipt{MessageID: id, Party: party}
	if err := store.CheckParty("party", party); err != nil {
		return r, err
	}
	pool, err := db.reader()
	if err != nil {
		return r, err
	}
	var received, idx int64
	err = pool.QueryRow(ctx, `SELECT receipt_received, leaf_idx, receipt_note FROM envelopes
			WHERE id = $1 AND dir = 2 AND receipt_party = $2
		UNION ALL
		SELECT receipt_received, receipt_idx, receipt_note FROM outbox
			WHERE id = $1 AND recipient = $2 AND receipt_note IS NOT NULL
		LIMIT 1`, id[:], party).Scan(&received, &idx, &r.Note)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, fmt.Errorf("receipt from %q for %v: %w", party, id, store.ErrNotFound)
	}
	if err != nil {
		return r, fmt.Errorf("reading receipt: %w", err)
	}
	r.Received = sqlkit.FromTime(received)
	r.LogIndex = uint64(idx)
	return r, nil
}

// NextSequences implements [store.Store].
func (db *DB) NextSequences(ctx context.Context, parties []string) ([]store.PairSeq, error) {
	for _, p := range parties {
		if err := store.CheckParty("party", p); err != nil {
			return nil, err
		}
	}
	pool, err := db.reader()
	if err != nil {
		return nil, err
	}
	out := make([]store.PairSeq, len(parties))
	pos := make(map[string][]int, len(parties))
	for i, p := range parties {
		out[i] = store.PairSeq{Party: p, Seq: 1}
		pos[p] = append(pos[p], i)
	}
	rows, err := pool.Query(ctx, `SELECT party, last_seq, last_id FROM pair_out WHERE party = ANY($1)`, parties)
	if err != nil {
		return nil, fmt.Errorf("reading sequence numbers: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			party string
			last  int64
			id    []byte
		)
		if err := rows.Scan(&party, &last, &id); err != nil {
			return nil, fmt.Errorf("reading sequence numbers: %w", err)
		}
		prev, err := sqlkit.ID(id)
		if err != nil {
			return nil, err
		}
		for _, i := range pos[party] {
			out[i].Seq = uint64(last) + 1
			out[i].Prev = prev
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading sequence numbers: %w", err)
	}
	return out, nil
}

// LeafOf implements [store.Store].
func (db *DB) LeafOf(ctx context.Context, dir hotline.Direction, id hotline.ID) (store.Leaf, error) {
	pool, err := db.reader()
	if err != nil {
		return store.Leaf{}, err
	}
	var row pgx.Row
	switch dir {
	case hotline.Sent, hotline.Received:
		row = pool.QueryRow(ctx, envelopeLeaf, id[:], int16(dir))
	case hotline.ReceiptReceived:
		row = pool.QueryRow(ctx, receiptLeaf, id[:])
	default:
		return store.Leaf{}, fmt.Errorf("%w: direction %v", store.ErrInvalid, dir)
	}
	l, err := scanLeaf(row)
	if err != nil {
		return l, fmt.Errorf("%v leaf of %v: %w", dir, id, err)
	}
	return l, nil
}

// PendingLeaves implements [store.Store].
func (db *DB) PendingLeaves(ctx context.Context, limit int) ([]store.Leaf, error) {
	limit, err := sqlkit.PageLimit(limit, 1000, 100000)
	if err != nil {
		return nil, err
	}
	pool, err := db.reader()
	if err != nil {
		return nil, err
	}
	rows, err := pool.Query(ctx, `SELECT entry, dir, id, leaf_idx, leaf_after FROM envelopes WHERE leaf_idx IS NULL
		UNION ALL
		SELECT rleaf_entry, 3::smallint, receipt_id, rleaf_idx, rleaf_after FROM outbox WHERE receipt_id IS NOT NULL AND rleaf_idx IS NULL
		ORDER BY 5, 1 LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("listing pending leaves: %w", err)
	}
	defer rows.Close()
	var out []store.Leaf
	for rows.Next() {
		l, err := scanLeaf(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing pending leaves: %w", err)
	}
	return out, nil
}

// HighWater implements [store.Store].
func (db *DB) HighWater(ctx context.Context) (uint64, error) {
	pool, err := db.reader()
	if err != nil {
		return 0, err
	}
	var hw int64
	if err := pool.QueryRow(ctx, `SELECT `+highWater).Scan(&hw); err != nil {
		return 0, fmt.Errorf("reading high-water mark: %w", err)
	}
	return uint64(hw), nil
}

const outboxCols = `seq, id, recipient, pair_seq, pair_prev, kind, exercise, state, queued,
	attempts, next_attempt, first_attempt, last_attempt, last_error, route, delivered, alerted,
	receipt_received, receipt_idx, receipt_note, included, included_size, relayed, relayed_via, relay_receipt`

func scanOutbox(s pgx.Row) (int64, store.OutboxRow, error) {
	var (
		o                                    store.OutboxRow
		seq, pairSeq, queued, next           int64
		id, prev, note                       []byte
		state                                int16
		attempts                             int32
		first, last, delivered, alerted, rcv *int64
		ridx, included, size, relayed        *int64
	)
	err := s.Scan(&seq, &id, &o.Recipient, &pairSeq, &prev, &o.Kind, &o.Exercise, &state, &queued,
		&attempts, &next, &first, &last, &o.LastError, &o.Route, &delivered, &alerted, &rcv, &ridx, &note,
		&included, &size, &relayed, &o.RelayedVia, &o.RelayReceipt)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, o, store.ErrNotFound
	}
	if err != nil {
		return 0, o, fmt.Errorf("reading outbox row: %w", err)
	}
	if o.ID, err = sqlkit.ID(id); err != nil {
		return 0, o, err
	}
	if o.Prev, err = sqlkit.ID(prev); err != nil {
		return 0, o, err
	}
	o.Seq = uint64(pairSeq)
	o.State = store.OutboxState(state)
	o.Attempts = int(attempts)
	o.Queued = sqlkit.FromTime(queued)
	o.NextAttempt = sqlkit.FromTime(next)
	o.FirstAttempt = sqlkit.FromOptTime(first)
	o.LastAttempt = sqlkit.FromOptTime(last)
	o.Delivered = sqlkit.FromOptTime(delivered)
	o.Alerted = sqlkit.FromOptTime(alerted)
	o.Included = sqlkit.FromOptTime(included)
	if size != nil {
		o.IncludedSize = uint64(*size)
	}
	o.Relayed = sqlkit.FromOptTime(relayed)
	if rcv != nil {
		o.Receipt = &store.Receipt{MessageID: o.ID, Party: o.Recipient, Received: sqlkit.FromTime(*rcv),
			LogIndex: uint64(*ridx), Note: note}
	}
	return seq, o, nil
}

func (db *DB) outboxRows(ctx context.Context, query string, args ...any) ([]int64, []store.OutboxRow, error) {
	pool, err := db.reader()
	if err != nil {
		return nil, nil, err
	}
	rows, err := pool.Query(ctx, query, args...)
	if err != nil {
		return nil, nil, fmt.Errorf("listing outbox: %w", err)
	}
	defer rows.Close()
	var (
		seqs []int64
		out  []store.OutboxRow
	)
	for rows.Next() {
		seq, o, err := scanOutbox(rows)
		if err != nil {
			return nil, nil, err
		}
		seqs = append(seqs, seq)
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("listing outbox: %w", err)
	}
	return seqs, out, nil
}

// DueOutbox implements [store.Store].
func (db *DB) DueOutbox(ctx context.Context, now time.Time, limit int) ([]store.OutboxRow, error) {
	if err := store.CheckTime("now", now); err != nil {
		return nil, err
	}
	limit, err := sqlkit.PageLimit(limit, 100, 10000)
	if err != nil {
		return nil, err
	}
	_, out, err := db.outboxRows(ctx, `SELECT `+outboxCols+` FROM outbox
		WHERE state = 1 AND ready AND next_attempt <= $1 ORDER BY next_attempt, seq LIMIT $2`,
		sqlkit.Time(now), limit)
	return out, err
}

// Undelivered implements [store.Store].
func (db *DB) Undelivered(ctx context.Context, q store.UndeliveredQuery) ([]store.OutboxRow, error) {
	if err := store.CheckTime("queued before", q.QueuedBefore); err != nil {
		return nil, err
	}
	limit, err := sqlkit.PageLimit(q.Limit, 100, 10000)
	if err != nil {
		return nil, err
	}
	cond := ""
	if q.Unalerted {
		cond = " AND alerted IS NULL"
	}
	_, out, err := db.outboxRows(ctx, `SELECT `+outboxCols+` FROM outbox
		WHERE state <> 2 AND queued < $1`+cond+` ORDER BY queued, seq LIMIT $2`,
		sqlkit.Time(q.QueuedBefore), limit)
	return out, err
}

// OutboxEntry implements [store.Store].
func (db *DB) OutboxEntry(ctx context.Context, id hotline.ID, recipient string) (store.OutboxRow, error) {
	if err := store.CheckParty("recipient", recipient); err != nil {
		return store.OutboxRow{}, err
	}
	pool, err := db.reader()
	if err != nil {
		return store.OutboxRow{}, err
	}
	_, o, err := scanOutbox(pool.QueryRow(ctx, `SELECT `+outboxCols+` FROM outbox
		WHERE id = $1 AND recipient = $2`, id[:], recipient))
	if err != nil {
		return o, fmt.Errorf("outbox row for %v to %q: %w", id, recipient, err)
	}
	return o, nil
}

func outboxWhere(f *store.OutboxFilter, p *params) string {
	conds := []string{"true"}
	if !f.ID.IsZero() {
		conds = append(conds, "id = "+p.add(f.ID[:]))
	}
	if f.Recipient != "" {
		conds = append(conds, "recipient = "+p.add(f.Recipient))
	}
	if f.State != 0 {
		conds = append(conds, "state = "+p.add(int16(f.State)))
	}
	if f.Unproven {
		conds = append(conds, unproven)
	}
	if f.Relayed {
		conds = append(conds, "relayed IS NOT NULL")
	}
	return strings.Join(conds, " AND ")
}

// Outbox implements [store.Store].
func (db *DB) Outbox(ctx context.Context, q store.OutboxQuery) (store.OutboxPage, error) {
	var page store.OutboxPage
	if err := q.Check(); err != nil {
		return page, err
	}
	limit, err := sqlkit.PageLimit(q.Limit, 50, 1000)
	if err != nil {
		return page, err
	}
	before, ok, err := sqlkit.DecodeCursor(sqlkit.OutboxNewest, q.Cursor)
	if err != nil {
		return page, err
	}
	var p params
	where := outboxWhere(&q.OutboxFilter, &p)
	if ok {
		where += " AND seq < " + p.add(before)
	}
	lim := p.add(limit + 1)
	seqs, rows, err := db.outboxRows(ctx, `SELECT `+outboxCols+` FROM outbox WHERE `+where+
		` ORDER BY seq DESC LIMIT `+lim, p.args...)
	if err != nil {
		return page, err
	}
	if len(rows) > limit {
		rows = rows[:limit]
		page.Next = sqlkit.EncodeCursor(sqlkit.OutboxNewest, seqs[limit-1])
	}
	page.Rows = rows
	return page, nil
}

// CountOutbox implements [store.Store].
func (db *DB) CountOutbox(ctx context.Context, f store.OutboxFilter) (int64, error) {
	if err := f.Check(); err != nil {
		return 0, err
	}
	pool, err := db.reader()
	if err != nil {
		return 0, err
	}
	var p params
	where := outboxWhere(&f, &p)
	var n int64
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM outbox WHERE `+where, p.args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("counting outbox: %w", err)
	}
	return n, nil
}

// Inbound implements [store.Store].
func (db *DB) Inbound(ctx context.Context, peer string) (in store.InboundSeqs, err error) {
	in.Peer = peer
	if err := store.CheckParty("peer", peer); err != nil {
		return in, err
	}
	pool, err := db.reader()
	if err != nil {
		return in, err
	}
	// One snapshot, so that the summary and the gaps agree.
	tx, err := pool.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly, IsoLevel: pgx.RepeatableRead})
	if err != nil {
		return in, fmt.Errorf("reading sequence numbers of %q: %w", peer, err)
	}
	defer tx.Rollback(context.Background())
	var highest, count int64
	if err := tx.QueryRow(ctx, `SELECT coalesce(max(pair_seq), 0), count(DISTINCT pair_seq)
		FROM envelopes WHERE dir = 2 AND from_party = $1`, peer).Scan(&highest, &count); err != nil {
		return in, fmt.Errorf("reading sequence numbers of %q: %w", peer, err)
	}
	in.Highest, in.Count, in.Missing = uint64(highest), uint64(count), uint64(highest-count)
	if in.Missing == 0 {
		return in, nil
	}
	rows, err := tx.Query(ctx, `SELECT prev + 1, seq - 1 FROM (
			SELECT seq, lag(seq, 1, 0::bigint) OVER (ORDER BY seq) AS prev
			FROM (SELECT DISTINCT pair_seq AS seq FROM envelopes WHERE dir = 2 AND from_party = $1) s) g
		WHERE seq > prev + 1 ORDER BY seq LIMIT $2`, peer, store.MaxGaps)
	if err != nil {
		return in, fmt.Errorf("reading sequence gaps of %q: %w", peer, err)
	}
	defer rows.Close()
	for rows.Next() {
		var from, to int64
		if err := rows.Scan(&from, &to); err != nil {
			return in, fmt.Errorf("reading sequence gaps of %q: %w", peer, err)
		}
		in.Gaps = append(in.Gaps, store.SeqRange{From: uint64(from), To: uint64(to)})
	}
	if err := rows.Err(); err != nil {
		return in, fmt.Errorf("reading sequence gaps of %q: %w", peer, err)
	}
	return in, nil
}

const envCols = `seq, dir, id, from_party, recipients, group_label, created, agreement, exercise, kind,
	severity, marking, thread, refs, pair_seq, pair_prev, at, leaf_idx IS NOT NULL`

func scanEnvelope(s pgx.Row, content bool) (int64, store.Envelope, error) {
	var (
		e                                     store.Envelope
		seq, created, pairSeq, at             int64
		dir                                   int16
		id, agreement, thread, refs, pairPrev []byte
		recipients, severity, marking         string
	)
	dest := []any{&seq, &dir, &id, &e.From, &recipients, &e.Group, &created, &agreement, &e.Exercise, &e.Kind,
		&severity, &marking, &thread, &refs, &pairSeq, &pairPrev, &at, &e.Stored}
	if content {
		dest = append(dest, &e.Raw, &e.Body)
	}
	err := s.Scan(dest...)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, e, store.ErrNotFound
	}
	if err != nil {
		return 0, e, fmt.Errorf("reading envelope: %w", err)
	}
	e.Direction = hotline.Direction(dir)
	e.Severity = hotline.Severity(severity)
	e.Marking = hotline.Marking(marking)
	e.Created = sqlkit.FromTime(created)
	e.At = sqlkit.FromTime(at)
	e.PairSeq = uint64(pairSeq)
	if e.ID, err = sqlkit.ID(id); err != nil {
		return 0, e, err
	}
	if e.AgreementHash, err = sqlkit.Hash(agreement); err != nil {
		return 0, e, err
	}
	if e.Thread, err = sqlkit.ID(thread); err != nil {
		return 0, e, err
	}
	if e.Thread == e.ID {
		e.Thread = hotline.ID{}
	}
	if e.PairPrev, err = sqlkit.ID(pairPrev); err != nil {
		return 0, e, err
	}
	if e.Refs, err = sqlkit.FromIDs(refs); err != nil {
		return 0, e, err
	}
	if e.To, err = sqlkit.FromParties(recipients); err != nil {
		return 0, e, err
	}
	return seq, e, nil
}

// Envelope implements [store.Store].
func (db *DB) Envelope(ctx context.Context, dir hotline.Direction, id hotline.ID) (store.Envelope, error) {
	if err := store.CheckDirection(dir); err != nil {
		return store.Envelope{}, err
	}
	pool, err := db.reader()
	if err != nil {
		return store.Envelope{}, err
	}
	_, e, err := scanEnvelope(pool.QueryRow(ctx, `SELECT `+envCols+`, raw, body FROM envelopes
		WHERE id = $1 AND dir = $2`, id[:], int16(dir)), true)
	if err != nil {
		return e, fmt.Errorf("%v envelope %v: %w", dir, id, err)
	}
	return e, nil
}

func messageWhere(f *store.MessageFilter, p *params) string {
	conds := []string{"true"}
	if !f.IncludePending {
		conds = append(conds, "leaf_idx IS NOT NULL")
	}
	if f.Direction != 0 {
		conds = append(conds, "dir = "+p.add(int16(f.Direction)))
	}
	if f.Kind != "" {
		conds = append(conds, "kind = "+p.add(f.Kind))
	}
	if !f.Thread.IsZero() {
		// The thread's first message by its id; replies by the partial
		// index on thread, which holds only replies.
		t := p.add(f.Thread[:])
		conds = append(conds, "(id = "+t+" OR (thread = "+t+" AND thread <> id))")
	}
	if f.Party != "" {
		party := p.add(f.Party)
		sentTo := "EXISTS (SELECT 1 FROM outbox o WHERE o.id = envelopes.id AND o.recipient = " + party + ")"
		switch f.Direction {
		case hotline.Received:
			conds = append(conds, "dir = 2 AND from_party = "+party)
		case hotline.Sent:
			conds = append(conds, sentTo)
		default:
			conds = append(conds, "((dir = 2 AND from_party = "+party+") OR (dir = 1 AND "+sentTo+"))")
		}
	}
	return strings.Join(conds, " AND ")
}

// Messages implements [store.Store].
func (db *DB) Messages(ctx context.Context, q store.MessageQuery) (store.MessagePage, error) {
	var page store.MessagePage
	if err := q.Check(); err != nil {
		return page, err
	}
	limit, err := sqlkit.PageLimit(q.Limit, 50, 1000)
	if err != nil {
		return page, err
	}
	kind, cmp, order := sqlkit.MessagesNewest, "<", "DESC"
	if q.Oldest {
		kind, cmp, order = sqlkit.MessagesOldest, ">", "ASC"
	}
	pos, ok, err := sqlkit.DecodeCursor(kind, q.Cursor)
	if err != nil {
		return page, err
	}
	var p params
	where := messageWhere(&q.MessageFilter, &p)
	if ok {
		where += " AND seq " + cmp + " " + p.add(pos)
	}
	cols := envCols
	if q.Content {
		cols += ", raw, body"
	}
	pool, err := db.reader()
	if err != nil {
		return page, err
	}
	lim := p.add(limit + 1)
	rows, err := pool.Query(ctx, `SELECT `+cols+` FROM envelopes WHERE `+where+
		` ORDER BY seq `+order+` LIMIT `+lim, p.args...)
	if err != nil {
		return page, fmt.Errorf("listing messages: %w", err)
	}
	defer rows.Close()
	var last int64
	for rows.Next() {
		if len(page.Envelopes) == limit {
			page.Next = sqlkit.EncodeCursor(kind, last)
			break
		}
		seq, e, err := scanEnvelope(rows, q.Content)
		if err != nil {
			return page, err
		}
		last = seq
		page.Envelopes = append(page.Envelopes, e)
	}
	if err := rows.Err(); err != nil {
		return page, fmt.Errorf("listing messages: %w", err)
	}
	return page, nil
}

// CountMessages implements [store.Store].
func (db *DB) CountMessages(ctx context.Context, f store.MessageFilter) (int64, error) {
	if err := f.Check(); err != nil {
		return 0, err
	}
	pool, err := db.reader()
	if err != nil {
		return 0, err
	}
	var p params
	where := messageWhere(&f, &p)
	var n int64
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM envelopes WHERE `+where, p.args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("counting messages: %w", err)
	}
	return n, nil
}

func scanAgreement(s pgx.Row) (store.Agreement, error) {
	var (
		a           store.Agreement
		version, at int64
		hash        []byte
	)
	err := s.Scan(&version, &hash, &a.Raw, &at)
	if errors.Is(err, pgx.ErrNoRows) {
		return a, store.ErrNotFound
	}
	if err != nil {
		return a, fmt.Errorf("reading agreement: %w", err)
	}
	a.Version = uint64(version)
	a.At = sqlkit.FromTime(at)
	a.Hash, err = sqlkit.Hash(hash)
	return a, err
}

// Agreement implements [store.Store].
func (db *DB) Agreement(ctx context.Context) (store.Agreement, error) {
	pool, err := db.reader()
	if err != nil {
		return store.Agreement{}, err
	}
	a, err := scanAgreement(pool.QueryRow(ctx, `SELECT version, hash, raw, at FROM agreements ORDER BY version DESC LIMIT 1`))
	if err != nil {
		return a, fmt.Errorf("agreement in force: %w", err)
	}
	return a, nil
}

// AgreementByHash implements [store.Store].
func (db *DB) AgreementByHash(ctx context.Context, hash [32]byte) (store.Agreement, error) {
	pool, err := db.reader()
	if err != nil {
		return store.Agreement{}, err
	}
	a, err := scanAgreement(pool.QueryRow(ctx, `SELECT version, hash, raw, at FROM agreements WHERE hash = $1`, hash[:]))
	if err != nil {
		return a, fmt.Errorf("agreement %x: %w", hash[:8], err)
	}
	return a, nil
}

func scanCheckpoint(s pgx.Row) (store.Checkpoint, error) {
	var (
		c        store.Checkpoint
		size, at int64
	)
	err := s.Scan(&c.Origin, &size, &c.Note, &at)
	if errors.Is(err, pgx.ErrNoRows) {
		return c, store.ErrNotFound
	}
	if err != nil {
		return c, fmt.Errorf("reading checkpoint: %w", err)
	}
	c.Size = uint64(size)
	c.At = sqlkit.FromTime(at)
	return c, nil
}

// Checkpoint implements [store.Store].
func (db *DB) Checkpoint(ctx context.Context, origin string) (store.Checkpoint, error) {
	pool, err := db.reader()
	if err != nil {
		return store.Checkpoint{}, err
	}
	if err := store.CheckKey(origin); err != nil {
		return store.Checkpoint{}, err
	}
	c, err := scanCheckpoint(pool.QueryRow(ctx, `SELECT origin, size, note, at FROM checkpoints WHERE origin = $1`, origin))
	if err != nil {
		return c, fmt.Errorf("checkpoint of %q: %w", origin, err)
	}
	return c, nil
}

// Checkpoints implements [store.Store].
func (db *DB) Checkpoints(ctx context.Context) ([]store.Checkpoint, error) {
	pool, err := db.reader()
	if err != nil {
		return nil, err
	}
	rows, err := pool.Query(ctx, `SELECT origin, size, note, at FROM checkpoints ORDER BY origin COLLATE "C"`)
	if err != nil {
		return nil, fmt.Errorf("listing checkpoints: %w", err)
	}
	defer rows.Close()
	var out []store.Checkpoint
	for rows.Next() {
		c, err := scanCheckpoint(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing checkpoints: %w", err)
	}
	return out, nil
}

// Value implements [store.Store].
func (db *DB) Value(ctx context.Context, key string) ([]byte, error) {
	pool, err := db.reader()
	if err != nil {
		return nil, err
	}
	if err := store.CheckKey(key); err != nil {
		return nil, err
	}
	var v []byte
	err = pool.QueryRow(ctx, `SELECT value FROM kv WHERE key = $1`, key).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("value %q: %w", key, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("reading value %q: %w", key, err)
	}
	if v == nil {
		v = []byte{}
	}
	return v, nil
}
