package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/internal/store"
)

// collect runs a read and scans each of its rows with scan.
func collect[T any](ctx context.Context, s *Store, what string, scan func(row) (T, error), q string, args ...any) ([]T, error) {
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, wrapf(rows.Err(), "%s", what)
}

// scanned wraps a scan error: ErrNotFound for no row.
func scanned(what string, err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	return wrapf(err, "reading %s", what)
}

// envelopeLeaf and receiptLeaf select a leaf row: the leaf of an envelope
// (by id and direction) and of a received receipt (by receipt id).
const (
	envelopeLeaf = `SELECT entry, dir, id, leaf_idx, leaf_after FROM envelopes WHERE id = ? AND dir = ?`
	receiptLeaf  = `SELECT rleaf_entry, 3, receipt_id, rleaf_idx, rleaf_after FROM outbox WHERE receipt_id = ?`
)

func scanLeaf(s row) (store.Leaf, error) {
	var (
		l             store.Leaf
		entry, object []byte
		dir           int
		idx           *int64
		after         int64
	)
	if err := scanned("leaf", s.Scan(&entry, &dir, &object, &idx, &after)); err != nil {
		return l, err
	}
	if len(entry) != len(l.Entry) {
		return l, fmt.Errorf("reading leaf: entry of %d bytes", len(entry))
	}
	copy(l.Entry[:], entry)
	l.Direction, l.After = hotline.Direction(dir), uint64(after)
	if idx != nil {
		l.Sequenced, l.Index = true, uint64(*idx)
	}
	var err error
	l.Object, err = decodeID(object)
	return l, err
}

// Receipt implements [store.Store].
func (s *Store) Receipt(ctx context.Context, id hotline.ID, party string) (store.Receipt, error) {
	r := store.Receipt{MessageID: id, Party: party}
	if err := store.CheckParty("party", party); err != nil {
		return r, err
	}
	var received, idx int64
	err := s.queryRow(ctx, `SELECT receipt_received, leaf_idx, receipt_note FROM envelopes
			WHERE id = ? AND dir = 2 AND receipt_party = ?
		UNION ALL
		SELECT receipt_received, receipt_idx, receipt_note FROM outbox
			WHERE id = ? AND recipient = ? AND receipt_note IS NOT NULL
		LIMIT 1`, id[:], party, id[:], party).Scan(&received, &idx, &r.Note)
	r.Received, r.LogIndex = fromNanos(received), uint64(idx)
	return r, wrapf(scanned("receipt", err), "receipt from %q for %v", party, id)
}

// NextSequences implements [store.Store].
func (s *Store) NextSequences(ctx context.Context, parties []string) ([]store.PairSeq, error) {
	out := make([]store.PairSeq, len(parties))
	pos := make(map[string][]int, len(parties))
	args := make([]any, len(parties))
	for i, p := range parties {
		if err := store.CheckParty("party", p); err != nil {
			return nil, err
		}
		out[i], args[i] = store.PairSeq{Party: p, Seq: 1}, p
		pos[p] = append(pos[p], i)
	}
	// Parties come in envelopes of at most store.MaxRecipients, but chunk
	// anyway: SQLite allows 32766 parameters.
	for start := 0; start < len(parties); start += 1000 {
		chunk := args[start:min(start+1000, len(parties))]
		_, err := collect(ctx, s, "reading sequence numbers", func(r row) (prev hotline.ID, err error) {
			var (
				party string
				last  int64
				id    []byte
			)
			if err := r.Scan(&party, &last, &id); err != nil {
				return prev, fmt.Errorf("reading sequence numbers: %w", err)
			}
			prev, err = decodeID(id)
			for _, i := range pos[party] {
				out[i].Seq, out[i].Prev = uint64(last)+1, prev
			}
			return prev, err
		}, `SELECT party, last_seq, last_id FROM pair_out WHERE party IN (?`+strings.Repeat(", ?", len(chunk)-1)+`)`, chunk...)
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// LeafOf implements [store.Store].
func (s *Store) LeafOf(ctx context.Context, dir hotline.Direction, id hotline.ID) (store.Leaf, error) {
	var r row
	switch dir {
	case hotline.Sent, hotline.Received:
		r = s.queryRow(ctx, envelopeLeaf, id[:], int(dir))
	case hotline.ReceiptReceived:
		r = s.queryRow(ctx, receiptLeaf, id[:])
	default:
		return store.Leaf{}, fmt.Errorf("%w: direction %v", store.ErrInvalid, dir)
	}
	l, err := scanLeaf(r)
	return l, wrapf(err, "%v leaf of %v", dir, id)
}

// PendingLeaves implements [store.Store].
func (s *Store) PendingLeaves(ctx context.Context, limit int) ([]store.Leaf, error) {
	limit, err := pageLimit(limit, 1000, 100000)
	if err != nil {
		return nil, err
	}
	return collect(ctx, s, "listing pending leaves", scanLeaf, `SELECT entry, dir, id, leaf_idx, leaf_after
		FROM envelopes WHERE leaf_idx IS NULL
		UNION ALL
		SELECT rleaf_entry, 3, receipt_id, rleaf_idx, rleaf_after FROM outbox WHERE receipt_id IS NOT NULL AND rleaf_idx IS NULL
		ORDER BY 5, 1 LIMIT ?`, limit)
}

// HighWater implements [store.Store].
func (s *Store) HighWater(ctx context.Context) (uint64, error) {
	var hw int64
	err := s.queryRow(ctx, `SELECT `+highWater).Scan(&hw)
	return uint64(hw), wrapf(err, "reading high-water mark")
}

const outboxCols = `SELECT o.seq, o.id, o.recipient, o.pair_seq, o.pair_prev, o.kind, o.exercise, o.state,
	o.queued, o.attempts, o.next_attempt, o.first_attempt, o.last_attempt, o.last_error, o.route, o.delivered,
	o.alerted, o.receipt_received, o.receipt_idx, o.receipt_note, o.included, o.included_size, o.relayed,
	o.relayed_via, o.relay_receipt FROM outbox o`

// seqRow is a listed row with its insertion sequence, for cursors.
type seqRow[T any] struct {
	seq int64
	v   T
}

func scanOutbox(s row) (seqRow[store.OutboxRow], error) {
	var (
		o                                    store.OutboxRow
		seq, pairSeq, queued, next           int64
		id, prev, note                       []byte
		state                                int
		first, last, delivered, alerted, rcv *int64
		ridx, included, size, relayed        *int64
	)
	err := s.Scan(&seq, &id, &o.Recipient, &pairSeq, &prev, &o.Kind, &o.Exercise, &state, &queued,
		&o.Attempts, &next, &first, &last, &o.LastError, &o.Route, &delivered, &alerted, &rcv, &ridx, &note,
		&included, &size, &relayed, &o.RelayedVia, &o.RelayReceipt)
	if err := scanned("outbox row", err); err != nil {
		return seqRow[store.OutboxRow]{}, err
	}
	var errs [2]error
	o.ID, errs[0] = decodeID(id)
	o.Prev, errs[1] = decodeID(prev)
	o.Seq = uint64(pairSeq)
	o.State = store.OutboxState(state)
	o.Queued = fromNanos(queued)
	o.NextAttempt = fromNanos(next)
	o.FirstAttempt = fromOptNanos(first)
	o.LastAttempt = fromOptNanos(last)
	o.Delivered = fromOptNanos(delivered)
	o.Alerted = fromOptNanos(alerted)
	o.Included = fromOptNanos(included)
	if size != nil {
		o.IncludedSize = uint64(*size)
	}
	o.Relayed = fromOptNanos(relayed)
	if rcv != nil {
		o.Receipt = &store.Receipt{MessageID: o.ID, Party: o.Recipient, Received: fromNanos(*rcv),
			LogIndex: uint64(*ridx), Note: note}
	}
	return seqRow[store.OutboxRow]{seq, o}, errors.Join(errs[:]...)
}

// pageOf returns the first limit of rows, fetched one more than a page
// holds, and the cursor to the next page if there is one.
func pageOf[T any](rows []seqRow[T], limit int, kind cursorKind) ([]T, store.Cursor) {
	var out []T
	for _, r := range rows[:min(limit, len(rows))] {
		out = append(out, r.v)
	}
	if len(rows) > limit {
		return out, encodeCursor(kind, rows[limit-1].seq)
	}
	return out, ""
}

// outboxRows lists outbox rows, without their insertion sequences.
func (s *Store) outboxRows(ctx context.Context, query string, args ...any) ([]store.OutboxRow, error) {
	rows, err := collect(ctx, s, "listing outbox", scanOutbox, query, args...)
	out, _ := pageOf(rows, len(rows), 0)
	return out, err
}

// DueOutbox implements [store.Store].
func (s *Store) DueOutbox(ctx context.Context, now time.Time, limit int) ([]store.OutboxRow, error) {
	if err := store.CheckTime("now", now); err != nil {
		return nil, err
	}
	limit, err := pageLimit(limit, 100, 10000)
	if err != nil {
		return nil, err
	}
	return s.outboxRows(ctx, outboxCols+` WHERE o.state = 1 AND o.ready = $TRUE AND o.next_attempt <= ?
		ORDER BY o.next_attempt, o.seq LIMIT ?`, nanos(now), limit)
}

// Undelivered implements [store.Store].
func (s *Store) Undelivered(ctx context.Context, q store.UndeliveredQuery) ([]store.OutboxRow, error) {
	if err := store.CheckTime("queued before", q.QueuedBefore); err != nil {
		return nil, err
	}
	limit, err := pageLimit(q.Limit, 100, 10000)
	if err != nil {
		return nil, err
	}
	cond := ""
	if q.Unalerted {
		cond = " AND o.alerted IS NULL"
	}
	return s.outboxRows(ctx, outboxCols+` WHERE o.state <> 2 AND o.queued < ?`+cond+
		` ORDER BY o.queued, o.seq LIMIT ?`, nanos(q.QueuedBefore), limit)
}

// OutboxEntry implements [store.Store].
func (s *Store) OutboxEntry(ctx context.Context, id hotline.ID, recipient string) (store.OutboxRow, error) {
	if err := store.CheckParty("recipient", recipient); err != nil {
		return store.OutboxRow{}, err
	}
	o, err := scanOutbox(s.queryRow(ctx, outboxCols+` WHERE o.id = ? AND o.recipient = ?`, id[:], recipient))
	return o.v, wrapf(err, "outbox row for %v to %q", id, recipient)
}

// where builds a condition and its arguments.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, args ...any) {
	w.conds = append(w.conds, cond)
	w.args = append(w.args, args...)
}

func (w *where) String() string { return strings.Join(append(w.conds, "1 = 1"), " AND ") }

func outboxWhere(f *store.OutboxFilter) *where {
	w := &where{}
	if !f.ID.IsZero() {
		w.add("o.id = ?", f.ID[:])
	}
	if f.Recipient != "" {
		w.add("o.recipient = ?", f.Recipient)
	}
	if f.State != 0 {
		w.add("o.state = ?", int(f.State))
	}
	if f.Unproven {
		w.add(unproven)
	}
	if f.Relayed {
		w.add("o.relayed IS NOT NULL")
	}
	return w
}

// Outbox implements [store.Store].
func (s *Store) Outbox(ctx context.Context, q store.OutboxQuery) (store.OutboxPage, error) {
	var page store.OutboxPage
	if err := q.Check(); err != nil {
		return page, err
	}
	limit, err := pageLimit(q.Limit, 50, 1000)
	if err != nil {
		return page, err
	}
	before, ok, err := decodeCursor(outboxNewest, q.Cursor)
	if err != nil {
		return page, err
	}
	w := outboxWhere(&q.OutboxFilter)
	if ok {
		w.add("o.seq < ?", before)
	}
	rows, err := collect(ctx, s, "listing outbox", scanOutbox, outboxCols+` WHERE `+w.String()+
		` ORDER BY o.seq DESC LIMIT ?`, append(w.args, limit+1)...)
	if err != nil {
		return page, err
	}
	page.Rows, page.Next = pageOf(rows, limit, outboxNewest)
	return page, nil
}

// count counts the rows of table that match w.
func (s *Store) count(ctx context.Context, table string, w *where) (int64, error) {
	var n int64
	err := s.queryRow(ctx, `SELECT count(*) FROM `+table+` WHERE `+w.String(), w.args...).Scan(&n)
	return n, wrapf(err, "counting %s", table)
}

// CountOutbox implements [store.Store].
func (s *Store) CountOutbox(ctx context.Context, f store.OutboxFilter) (int64, error) {
	if err := f.Check(); err != nil {
		return 0, err
	}
	return s.count(ctx, "outbox o", outboxWhere(&f))
}

// inbound selects, in one statement (so that they agree), a peer's
// sequence numbers: a row (0, highest, distinct count), then a row (1,
// from, to) for each of the first gaps.
const inbound = `SELECT 0, coalesce(max(pair_seq), 0), count(DISTINCT pair_seq)
		FROM envelopes WHERE dir = 2 AND from_party = ?
	UNION ALL SELECT * FROM (SELECT 1, prev + 1, seq - 1 FROM (
			SELECT seq, lag(seq, 1, CAST(0 AS BIGINT)) OVER (ORDER BY seq) AS prev
			FROM (SELECT DISTINCT pair_seq AS seq FROM envelopes WHERE dir = 2 AND from_party = ?) s) g
		WHERE seq > prev + 1 ORDER BY seq LIMIT ?) gaps
	ORDER BY 1, 2`

// Inbound implements [store.Store].
func (s *Store) Inbound(ctx context.Context, peer string) (store.InboundSeqs, error) {
	in := store.InboundSeqs{Peer: peer}
	if err := store.CheckParty("peer", peer); err != nil {
		return in, err
	}
	rows, err := collect(ctx, s, "reading sequence numbers", func(r row) (v [3]int64, err error) {
		return v, r.Scan(&v[0], &v[1], &v[2])
	}, inbound, peer, peer, store.MaxGaps)
	if err != nil || len(rows) == 0 {
		return in, wrapf(cmp.Or(err, errors.New("no summary row")), "sequence numbers of %q", peer)
	}
	in.Highest, in.Count = uint64(rows[0][1]), uint64(rows[0][2])
	in.Missing = in.Highest - in.Count
	for _, g := range rows[1:] {
		in.Gaps = append(in.Gaps, store.SeqRange{From: uint64(g[1]), To: uint64(g[2])})
	}
	return in, nil
}

const envCols = `seq, dir, id, from_party, recipients, group_label, created, agreement, exercise, kind,
	severity, marking, thread, refs, pair_seq, pair_prev, at, leaf_idx IS NOT NULL`

func scanEnvelope(s row, content bool) (seqRow[store.Envelope], error) {
	var (
		e                                     store.Envelope
		seq, created, pairSeq, at             int64
		dir                                   int
		id, agreement, thread, refs, pairPrev []byte
		recipients, severity, marking         string
	)
	dest := []any{&seq, &dir, &id, &e.From, &recipients, &e.Group, &created, &agreement, &e.Exercise, &e.Kind,
		&severity, &marking, &thread, &refs, &pairSeq, &pairPrev, &at, &e.Stored}
	if content {
		dest = append(dest, &e.Raw, &e.Body)
	}
	if err := scanned("envelope", s.Scan(dest...)); err != nil {
		return seqRow[store.Envelope]{}, err
	}
	e.Direction, e.Severity, e.Marking = hotline.Direction(dir), hotline.Severity(severity), hotline.Marking(marking)
	e.Created, e.At, e.PairSeq = fromNanos(created), fromNanos(at), uint64(pairSeq)
	var errs [6]error
	e.ID, errs[0] = decodeID(id)
	e.AgreementHash, errs[1] = decodeID(agreement)
	e.Thread, errs[2] = decodeID(thread)
	e.PairPrev, errs[3] = decodeID(pairPrev)
	e.Refs, errs[4] = decodeIDs(refs)
	e.To, errs[5] = decodeParties(recipients)
	if e.Thread == e.ID {
		e.Thread = hotline.ID{}
	}
	return seqRow[store.Envelope]{seq, e}, errors.Join(errs[:]...)
}

// Envelope implements [store.Store].
func (s *Store) Envelope(ctx context.Context, dir hotline.Direction, id hotline.ID) (store.Envelope, error) {
	if err := store.CheckDirection(dir); err != nil {
		return store.Envelope{}, err
	}
	e, err := scanEnvelope(s.queryRow(ctx, `SELECT `+envCols+`, raw, body FROM envelopes
		WHERE id = ? AND dir = ?`, id[:], int(dir)), true)
	return e.v, wrapf(err, "%v envelope %v", dir, id)
}

const sentTo = `EXISTS (SELECT 1 FROM outbox o WHERE o.id = envelopes.id AND o.recipient = ?)`

func messageWhere(f *store.MessageFilter) *where {
	w := &where{}
	if !f.IncludePending {
		w.add("leaf_idx IS NOT NULL")
	}
	if f.Direction != 0 {
		w.add("dir = ?", int(f.Direction))
	}
	if f.Kind != "" {
		w.add("kind = ?", f.Kind)
	}
	if !f.Thread.IsZero() {
		// The thread's first message by its id; replies by the partial
		// index on thread, which holds only replies.
		w.add("(id = ? OR (thread = ? AND thread <> id))", f.Thread[:], f.Thread[:])
	}
	if f.Party != "" {
		switch f.Direction {
		case hotline.Received:
			w.add("dir = 2 AND from_party = ?", f.Party)
		case hotline.Sent:
			w.add(sentTo, f.Party)
		default:
			w.add("((dir = 2 AND from_party = ?) OR (dir = 1 AND "+sentTo+"))", f.Party, f.Party)
		}
	}
	return w
}

// Messages implements [store.Store].
func (s *Store) Messages(ctx context.Context, q store.MessageQuery) (store.MessagePage, error) {
	var page store.MessagePage
	if err := q.Check(); err != nil {
		return page, err
	}
	limit, err := pageLimit(q.Limit, 50, 1000)
	if err != nil {
		return page, err
	}
	kind, cmp, order := messagesNewest, "<", "DESC"
	if q.Oldest {
		kind, cmp, order = messagesOldest, ">", "ASC"
	}
	pos, ok, err := decodeCursor(kind, q.Cursor)
	if err != nil {
		return page, err
	}
	w := messageWhere(&q.MessageFilter)
	if ok {
		w.add("seq "+cmp+" ?", pos)
	}
	cols := envCols
	if q.Content {
		cols += ", raw, body"
	}
	scan := func(r row) (seqRow[store.Envelope], error) { return scanEnvelope(r, q.Content) }
	rows, err := collect(ctx, s, "listing messages", scan, `SELECT `+cols+` FROM envelopes WHERE `+w.String()+
		` ORDER BY seq `+order+` LIMIT ?`, append(w.args, limit+1)...)
	if err != nil {
		return page, err
	}
	page.Envelopes, page.Next = pageOf(rows, limit, kind)
	return page, nil
}

// CountMessages implements [store.Store].
func (s *Store) CountMessages(ctx context.Context, f store.MessageFilter) (int64, error) {
	if err := f.Check(); err != nil {
		return 0, err
	}
	return s.count(ctx, "envelopes", messageWhere(&f))
}

func scanAgreement(s row) (store.Agreement, error) {
	var (
		a           store.Agreement
		version, at int64
		hash        []byte
	)
	if err := scanned("agreement", s.Scan(&version, &hash, &a.Raw, &at)); err != nil {
		return a, err
	}
	a.Version, a.At = uint64(version), fromNanos(at)
	var err error
	a.Hash, err = decodeID(hash)
	return a, err
}

// Agreement implements [store.Store].
func (s *Store) Agreement(ctx context.Context) (store.Agreement, error) {
	a, err := scanAgreement(s.queryRow(ctx, `SELECT version, hash, raw, at FROM agreements ORDER BY version DESC LIMIT 1`))
	return a, wrapf(err, "agreement in force")
}

// AgreementByHash implements [store.Store].
func (s *Store) AgreementByHash(ctx context.Context, hash [32]byte) (store.Agreement, error) {
	a, err := scanAgreement(s.queryRow(ctx, `SELECT version, hash, raw, at FROM agreements WHERE hash = ?`, hash[:]))
	return a, wrapf(err, "agreement %x", hash[:8])
}

func scanCheckpoint(s row) (store.Checkpoint, error) {
	var (
		c        store.Checkpoint
		size, at int64
	)
	if err := scanned("checkpoint", s.Scan(&c.Origin, &size, &c.Note, &at)); err != nil {
		return c, err
	}
	c.Size, c.At = uint64(size), fromNanos(at)
	return c, nil
}

// Checkpoint implements [store.Store].
func (s *Store) Checkpoint(ctx context.Context, origin string) (store.Checkpoint, error) {
	if err := store.CheckKey(origin); err != nil {
		return store.Checkpoint{}, err
	}
	c, err := scanCheckpoint(s.queryRow(ctx, `SELECT origin, size, note, at FROM checkpoints WHERE origin = ?`, origin))
	return c, wrapf(err, "checkpoint of %q", origin)
}

// Checkpoints implements [store.Store].
func (s *Store) Checkpoints(ctx context.Context) ([]store.Checkpoint, error) {
	cs, err := collect(ctx, s, "listing checkpoints", scanCheckpoint, `SELECT origin, size, note, at FROM checkpoints`)
	// Sorted here, bytewise, whatever the database's collation.
	slices.SortFunc(cs, func(a, b store.Checkpoint) int { return strings.Compare(a.Origin, b.Origin) })
	return cs, err
}

// Value implements [store.Store].
func (s *Store) Value(ctx context.Context, key string) ([]byte, error) {
	if err := store.CheckKey(key); err != nil {
		return nil, err
	}
	var v []byte
	if err := scanned("value", s.queryRow(ctx, `SELECT value FROM kv WHERE key = ?`, key).Scan(&v)); err != nil {
		return nil, fmt.Errorf("value %q: %w", key, err)
	}
	return nonNil(v), nil
}
