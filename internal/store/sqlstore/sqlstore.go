// Package sqlstore is the one implementation of [store.Store] over
// database/sql, shared by the SQLite and PostgreSQL engines. It owns every
// query, the rules the contract states (idempotent inserts, conflicts, the
// order of leaves) and the group-commit writer's transactions; an engine
// package owns what differs: its driver and connections, its [Dialect], its
// migrations, and whatever keeps processes apart (SQLite's lock file,
// PostgreSQL's advisory locks).
//
// # Queries
//
// Queries are written once, with ? placeholders, in the SQL both engines
// accept (ON CONFLICT upserts, IN lists, CAST, RETURNING), and with a few
// words for what the engines spell differently ($LOCK_ROW, $TRUE); the
// [Dialect] spells them, and numbers the placeholders ($1, $2,
// ...) where the engine wants that. Columns are scanned through
// database/sql's conversions, so an engine's booleans may be integers and
// its small integers any width. The migrations are written once too, in
// migrations/*.sql, with words for the engines' types ([Dialect.Schema]).
//
// # Writes
//
// Every write runs through the group-commit writer (groupcommit.go): the
// writes that queue up while a transaction commits share the next one, and
// a write that fails is undone alone. The writer has one goroutine that
// keeps the one write connection, with its statements prepared (SQLite),
// or several that take a connection from the pool for each transaction
// (PostgreSQL). See [Config].
package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/hotline-net/hotline/internal/store"
)

// Dialect is what differs between the SQL engines in the queries,
// transactions and migrations of [Store].
type Dialect struct {
	// Numbered means placeholders are $1, $2, ... rather than ?.
	Numbered bool
	// True is the literal a condition on a boolean column compares with:
	// SQLite keeps booleans as integers, and uses a partial index only for
	// a condition written as in the index ("ready = 1").
	True string
	// LockRow ends a SELECT of a row the transaction goes on to update
	// ("FOR UPDATE"); empty where one writer serialises the writes.
	LockRow string
	// OneWriter means one writer writes the database, in one process: it
	// keeps the high-water mark in memory, for the leaves it inserts.
	OneWriter bool
	// Begin starts a write transaction, unless BeginWith is set.
	Begin string
	// BeginWith, if set, sends BEGIN together with a transaction's first
	// statement q, in one round trip, on conn (PostgreSQL's pipeline): it
	// scans the statement's row into dest, or returns how many rows the
	// statement changed if dest is empty.
	BeginWith func(ctx context.Context, conn *sql.Conn, q string, args, dest []any) (int64, error)
	// Retry reports whether a write that failed with err may succeed if
	// run again (a deadlock or serialization failure between processes).
	Retry func(err error) bool
	// Unique reports whether err is the violation of a unique constraint.
	// Required.
	Unique func(err error) bool
	// Full reports whether err is the engine's "the storage is full"
	// (SQLite's SQLITE_FULL, PostgreSQL's disk_full): a write fails with
	// [store.ErrStorageFull] wrapping it. ENOSPC and EDQUOT from the
	// operating system are recognised without it. Nil: only those.
	Full func(err error) bool
	// Schema spells the words of the migrations (migrations/*.sql, shared
	// by the engines) in the engine's SQL: $BIGINT, $INTEGER, $SMALLINT,
	// $BOOLEAN and $FALSE, $BYTES, $SEQ (an insertion sequence, the primary
	// key), $UNIQUE_SEQ (one that never hands out a deleted row's value
	// again), $WITHOUT_ROWID (a clause for tables keyed by their
	// primary key) and $HIGH_WATER_TABLE (the statements that created the
	// first schema's high-water row, if it had one). $TRUE is True.
	Schema map[string]string
}

//go:embed migrations/*.sql
var migrations embed.FS

// Migration returns the migration name (migrations/NNNN_name.sql) in the
// dialect's SQL.
func (d *Dialect) Migration(name string) (string, error) {
	text, err := fs.ReadFile(migrations, name)
	if err != nil {
		return "", err
	}
	words := []string{"$TRUE", d.True} // no word begins another
	for w, sql := range d.Schema {
		words = append(words, w, sql)
	}
	return strings.NewReplacer(words...).Replace(string(text)), nil
}

// spell spells q for the dialect: its words $LOCK_ROW and $TRUE, and its
// placeholders.
func (d *Dialect) spell(q string) string {
	b := strings.NewReplacer("$LOCK_ROW", d.LockRow, "$TRUE", d.True).Replace(q)
	if d.Numbered {
		parts := strings.Split(b, "?")
		for i := range parts[1:] {
			parts[i+1] = "$" + strconv.Itoa(i+1) + parts[i+1]
		}
		b = strings.Join(parts, "")
	}
	return b
}

// bind returns q spelled for the dialect. The spellings (of a fixed set of
// queries) are kept, so that the hot paths build no strings.
func (s *Store) bind(q string) string {
	if !s.d.Numbered && strings.IndexByte(q, '$') < 0 {
		return q
	}
	if b, ok := s.bound.Load(q); ok {
		return b.(string)
	}
	b := s.d.spell(q)
	s.bound.Store(q, b)
	return b
}

// Config configures [New].
type Config struct {
	Dialect *Dialect
	// DB is the pool reads use and, without Conn, the writers'.
	DB *sql.DB
	// Conn, if set, is the one write connection: a single writer keeps it
	// and its prepared statements. Otherwise Writers writers each take a
	// connection from DB for each transaction.
	Conn    *sql.Conn
	Writers int
	// MaxBatch is the most writes that share one transaction; zero means
	// 256.
	MaxBatch int
	// Logger receives the rare log lines (failed commits); nil discards
	// them.
	Logger *slog.Logger
	// Committed, if set, is called on the writer's goroutine after each
	// commit with the number of writes it held.
	Committed func(ops int)
	// FailWrites, if set, is asked as each write transaction begins (on
	// every engine, by every writer); an error from it fails the whole
	// transaction as a failing disk would, and reaches the writes as
	// [store.ErrStorageFull] if it wraps ENOSPC (see [FailWhileExists]).
	// Reads never ask it. A fault-injection hook for tests: nil in
	// production.
	FailWrites func() error
	// Close releases the engine's resources, after the writer stopped.
	// Required.
	Close func() error
}

// Store is a [store.Store] over database/sql. Its methods are safe for
// concurrent use.
type Store struct {
	d      *Dialect
	db     *sql.DB
	w      *writer[*wtx]
	close  func() error
	closed atomic.Bool
	bound  sync.Map // query -> its spelling, see bind

	failWrites func() error
	fullWrites atomic.Int64 // writes failed with store.ErrStorageFull
	full       atomic.Bool  // the last write failed with it
}

var _ store.Store = (*Store)(nil)

// New starts the writers of a store whose schema is migrated. Close stops
// them and calls cfg.Close.
func New(cfg Config) *Store {
	s := &Store{d: cfg.Dialect, db: cfg.DB, close: cfg.Close, failWrites: cfg.FailWrites}
	txs := []batchTx[*wtx]{&wtx{s: s, conn: cfg.Conn, stmts: map[string]*sql.Stmt{}, hw: -1}}
	if cfg.Conn == nil {
		txs = nil
		for range max(cfg.Writers, 1) {
			txs = append(txs, &wtx{s: s, hw: -1})
		}
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 256
	}
	s.w = newWriter(txs, cfg.MaxBatch, Logger(cfg.Logger), cfg.Committed)
	return s
}

// Logger returns log, or a logger that discards everything for nil.
func Logger(log *slog.Logger) *slog.Logger { return cmp.Or(log, slog.New(slog.DiscardHandler)) }

// Close waits for the writes in flight and closes the store. It is safe
// to call more than once.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	s.w.Close()
	return s.close() // which closes the prepared statements with their connection
}

// Batches returns how many transactions the writer committed and how many
// writes they held; their ratio is the mean group size.
func (s *Store) Batches() (batches, writes int64) {
	return s.w.Batches.Load(), s.w.Ops.Load()
}

// write runs fn as one operation of the writer's next transaction. Every
// write of the store comes through here: a failure the storage being full
// caused, wherever in the transaction it arose, is returned as
// store.ErrStorageFull (wrapping the engine's error) and counted.
func (s *Store) write(ctx context.Context, fn func(*wtx) error) error {
	if s.closed.Load() {
		return store.ErrClosed
	}
	err := s.w.Do(ctx, fn)
	switch {
	case err == nil:
		s.full.Store(false)
	case s.storageFull(err):
		s.fullWrites.Add(1)
		s.full.Store(true)
		if !errors.Is(err, store.ErrStorageFull) {
			err = fmt.Errorf("%w: %w", store.ErrStorageFull, err)
		}
	}
	return err
}

// storageFull reports whether err says the storage cannot take writes:
// the engine's own code for it, or ENOSPC or EDQUOT from the operating
// system.
func (s *Store) storageFull(err error) bool {
	return errors.Is(err, store.ErrStorageFull) || errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) ||
		(s.d.Full != nil && s.d.Full(err))
}

// StorageFull returns how many writes failed with [store.ErrStorageFull]
// since the store opened, and whether the latest write that finished
// did (it clears with the first write that succeeds).
func (s *Store) StorageFull() (failures int64, now bool) {
	return s.fullWrites.Load(), s.full.Load()
}

// query runs a read on the pool.
func (s *Store) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if s.closed.Load() {
		return nil, store.ErrClosed
	}
	return s.db.QueryContext(ctx, s.bind(q), args...)
}

// queryRow runs a read of one row on the pool.
func (s *Store) queryRow(ctx context.Context, q string, args ...any) row {
	if s.closed.Load() {
		return rowFunc(func(...any) error { return store.ErrClosed })
	}
	return s.db.QueryRowContext(ctx, s.bind(q), args...)
}

type row interface{ Scan(dest ...any) error }

// rowFunc is a row whose Scan is a function.
type rowFunc func(dest ...any) error

func (f rowFunc) Scan(dest ...any) error { return f(dest...) }

// wtx is a writer's transaction; operations write through it. It is used
// on its writer's goroutine only.
type wtx struct {
	ctx   context.Context
	s     *Store
	conn  *sql.Conn
	stmts map[string]*sql.Stmt // nil: the connection is the pool's
	begun bool                 // BEGIN went out
	hw    int64                // the high-water mark (Dialect.OneWriter), or -1 to read it
}

// wtx implements batchTx. exec and queryRow spell the statement for the
// dialect, use prepared statements on a connection kept for good, and
// send the transaction's BEGIN with its first statement if the dialect can.
var _ batchTx[*wtx] = (*wtx)(nil)

// exec runs q and returns how many rows it changed.
func (t *wtx) exec(q string, args ...any) (int64, error) {
	q = t.s.bind(q)
	if t.first() {
		return t.s.d.BeginWith(t.ctx, t.conn, q, args, nil)
	}
	st, err := t.stmt(q)
	var r sql.Result
	switch {
	case err != nil:
		return 0, err
	case st != nil:
		r, err = st.ExecContext(t.ctx, args...)
	default:
		r, err = t.conn.ExecContext(t.ctx, q, args...)
	}
	if err != nil {
		return 0, err
	}
	return r.RowsAffected()
}

func (t *wtx) queryRow(q string, args ...any) row {
	q = t.s.bind(q)
	if t.first() {
		return rowFunc(func(dest ...any) error {
			_, err := t.s.d.BeginWith(t.ctx, t.conn, q, args, dest)
			return err
		})
	}
	st, err := t.stmt(q)
	switch {
	case err != nil:
		return rowFunc(func(...any) error { return err })
	case st != nil:
		return st.QueryRowContext(t.ctx, args...)
	}
	return t.conn.QueryRowContext(t.ctx, q, args...)
}

// first reports whether the statement to run is the transaction's first,
// to go out with its BEGIN (Dialect.BeginWith).
func (t *wtx) first() bool {
	first := !t.begun && t.s.d.BeginWith != nil
	t.begun = true
	return first
}

// stmt returns q prepared on a connection kept for good, or nil on the
// pool's (whose driver keeps its own).
func (t *wtx) stmt(q string) (*sql.Stmt, error) {
	if t.stmts == nil {
		return nil, nil
	}
	if st, ok := t.stmts[q]; ok {
		return st, nil
	}
	st, err := t.conn.PrepareContext(t.ctx, q)
	if err != nil {
		return nil, err
	}
	t.stmts[q] = st
	return st, nil
}

func (t *wtx) Begin(ctx context.Context) (*wtx, error) {
	t.ctx, t.begun = ctx, false
	if t.s.failWrites != nil {
		if err := t.s.failWrites(); err != nil {
			return t, err
		}
	}
	if t.stmts == nil {
		conn, err := t.s.db.Conn(ctx)
		if err != nil {
			return t, err
		}
		t.conn = conn
	}
	if t.s.d.BeginWith != nil {
		return t, nil
	}
	_, err := t.exec(t.s.d.Begin)
	t.begun = err == nil
	if err != nil {
		t.release()
	}
	return t, err
}

// release gives a pool's connection back; one left in a transaction is
// discarded by the driver.
func (t *wtx) release() {
	if t.stmts == nil && t.conn != nil {
		t.conn.Close()
		t.conn = nil
	}
}

func (t *wtx) Savepoint(_ context.Context, _ *wtx, stmt string) error {
	if stmt == rollbackTo {
		t.hw = -1
	}
	_, err := t.exec(stmt)
	return err
}

// highWater returns the high-water mark the one writer keeps, reading it
// after a rollback.
func (t *wtx) highWater() (int64, error) {
	if t.hw < 0 {
		if err := t.queryRow(`SELECT ` + highWater).Scan(&t.hw); err != nil {
			t.hw = -1
			return 0, fmt.Errorf("reading high-water mark: %w", err)
		}
	}
	return t.hw, nil
}

func (t *wtx) Commit(context.Context, *wtx) error {
	if t.begun {
		if _, err := t.exec("COMMIT"); err != nil {
			return err
		}
	}
	t.release()
	return nil
}

func (t *wtx) Rollback(ctx context.Context, _ *wtx) {
	t.hw = -1
	if t.begun && t.conn != nil {
		// After a failed COMMIT the engine may have rolled back already;
		// the error of a second rollback says nothing new.
		t.conn.ExecContext(ctx, "ROLLBACK")
	}
	t.release()
}

func (t *wtx) Retry(err error) bool { return t.s.d.Retry != nil && t.s.d.Retry(err) }

// Migrate applies, in one transaction opened by the statements begin (which
// take whatever lock keeps two processes from migrating at once), the
// migrations the database has not applied yet: migrations/NNNN_name.sql,
// NNNN the version, so that their names sort in version order.
func Migrate(ctx context.Context, conn *sql.Conn, d *Dialect, begin []string, log *slog.Logger) (err error) {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			conn.ExecContext(context.Background(), "ROLLBACK")
		}
	}()
	for _, q := range append(begin, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY,
		name    TEXT NOT NULL
	)`) {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("migrating: %w", err)
		}
	}
	for _, name := range names {
		version, err := strconv.Atoi(strings.SplitN(strings.TrimPrefix(name, "migrations/"), "_", 2)[0])
		if err != nil {
			return fmt.Errorf("migration %s: no version number", name)
		}
		var n int
		if err := conn.QueryRowContext(ctx, d.spell(`SELECT count(*) FROM schema_migrations WHERE version = ?`),
			version).Scan(&n); err != nil {
			return fmt.Errorf("migrating: %w", err)
		}
		if n > 0 {
			continue
		}
		text, err := d.Migration(name)
		if err != nil {
			return err
		}
		if _, err := conn.ExecContext(ctx, text); err != nil {
			return fmt.Errorf("migration %s: %w", name, err)
		}
		if fill := backfills[version]; fill != nil {
			if err := fill(ctx, conn, d); err != nil {
				return fmt.Errorf("migration %s: %w", name, err)
			}
		}
		if _, err := conn.ExecContext(ctx, d.spell(`INSERT INTO schema_migrations (version, name) VALUES (?, ?)`),
			version, name); err != nil {
			return fmt.Errorf("migration %s: %w", name, err)
		}
		Logger(log).Info("store: applied migration", "migration", name)
	}
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		return fmt.Errorf("migrating: committing: %w", err)
	}
	return nil
}

// backfills are the steps of migrations written in Go, by version: each
// runs after its migration's SQL, in the same transaction.
var backfills = map[int]func(ctx context.Context, conn *sql.Conn, d *Dialect) error{
	5: backfillFacts,
}

// backfillFacts writes the message_facts row of every envelope stored
// before the table was made, a thousand at a time.
func backfillFacts(ctx context.Context, conn *sql.Conn, d *Dialect) error {
	const page = 1000
	var after int64
	for {
		// The bodies of the kinds that carry a challenge code only; raw
		// never.
		rows, err := conn.QueryContext(ctx, d.spell(`SELECT `+envCols+`, NULL, CASE WHEN kind IN (`+
			challengeKindList+`) THEN body END FROM envelopes WHERE seq > ? ORDER BY seq LIMIT ?`), after, page)
		if err != nil {
			return fmt.Errorf("reading envelopes: %w", err)
		}
		var args []any
		for rows.Next() {
			r, err := scanEnvelope(rows, true)
			if err != nil {
				rows.Close()
				return err
			}
			args = append(args, r.seq, r.v.Kind, encodeFacts(new(envelopeFacts(r.v.Direction, &r.v))))
			after = r.seq
		}
		if err := rows.Close(); err != nil {
			return fmt.Errorf("reading envelopes: %w", err)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("reading envelopes: %w", err)
		}
		if len(args) == 0 {
			return nil
		}
		q := `INSERT INTO message_facts (seq, kind, facts) VALUES (?, ?, ?)` + strings.Repeat(`, (?, ?, ?)`, len(args)/3-1)
		if _, err := conn.ExecContext(ctx, d.spell(q), args...); err != nil {
			return fmt.Errorf("writing facts: %w", err)
		}
	}
}

func conflict(format string, args ...any) error {
	return fmt.Errorf("%w: %s", store.ErrConflict, fmt.Sprintf(format, args...))
}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// wrapf wraps err with the context format says; it is nil for nil.
func wrapf(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf(format+": %w", append(args, err)...)
}

// same runs q, which compares a stored row with what the caller would have
// written, and returns nil if they are the same, or conflict.
func (t *wtx) same(conflict error, q string, args ...any) error {
	var same bool
	if err := t.queryRow(q, args...).Scan(&same); err != nil {
		return fmt.Errorf("comparing with the stored row: %w", err)
	}
	if !same {
		return conflict
	}
	return nil
}

// changed runs q and reports whether it changed exactly one row; its error
// is wrapped with what.
func (t *wtx) changed(what, q string, args ...any) (bool, error) {
	n, err := t.exec(q, args...)
	return n == 1 && err == nil, wrapf(err, "%s", what)
}
