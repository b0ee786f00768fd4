// Package postgres is the implementation of [store.Store] on PostgreSQL,
// through pgx, for nodes that run several replicas.
//
// # Durability and group commit
//
// Every connection runs with synchronous_commit=on, whatever the server's
// default: a commit returns once its WAL is flushed. As in the SQLite store,
// the writes that queue up while a transaction commits run together in the
// next one, each in its own savepoint when one of them fails, and share one
// commit and one WAL flush. Because a PostgreSQL transaction spends most of
// its time waiting for round trips, and the server runs transactions side
// by side and shares WAL flushes among them, a process has several writer
// goroutines (Config.Writers), each with its own connection, taking batches
// from one queue. A write returns once the transaction holding it
// committed. Reads use the connection pool and never wait for the writers.
//
// # Replicas
//
// Several processes may open the same schema. Each has its own writer; the
// conditional writes (sequence numbers, idempotent inserts, agreement
// versions, checkpoints, the high-water mark, the first inclusion proof and
// relay receipt of an outbox row, a relayed envelope handed on, a peer's
// latest probe) are single statements or row locks that stay correct
// between them, and deadlocks or serialization failures between them are
// retried. One replica at a time should act as
// the leader (delivery, deadlines, log sequencing): see [Leader].
//
// Migrations are embedded (migrations/*.sql) and run by Open, under an
// advisory lock so that replicas starting together apply each once.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hotline-net/hotline/internal/store"
	"github.com/hotline-net/hotline/internal/store/internal/sqlkit"
)

// Config configures [Open].
type Config struct {
	// URL is the PostgreSQL connection string (a postgres:// URL or
	// key=value pairs). Required.
	URL string
	// Schema holds the node's tables; Open creates it if needed. Empty
	// means "hotline".
	Schema string
	// Logger receives the store's rare log lines (failed commits,
	// migrations). Nil discards them.
	Logger *slog.Logger
	// MaxBatch is the most writes that share one transaction. Zero means
	// 256.
	MaxBatch int
	// Writers is how many transactions of batched writes run side by side,
	// each on its own connection. Zero means 4.
	Writers int
	// MaxConns is the most connections open at once, the writers'
	// included. Zero means Writers + 4.
	MaxConns int
}

// DB is a [store.Store] in one PostgreSQL schema. Its methods are safe for
// concurrent use.
type DB struct {
	log    *slog.Logger
	pool   *pgxpool.Pool
	w      *sqlkit.Writer[*wtx]
	closed atomic.Bool
}

var _ store.Store = (*DB)(nil)

//go:embed migrations/*.sql
var migrations embed.FS

// Open connects to the database, creates the schema and runs the
// migrations it lacks, and starts the writer. The caller must Close it.
func Open(ctx context.Context, cfg Config) (*DB, error) {
	if cfg.URL == "" {
		return nil, fmt.Errorf("opening store: %w: empty URL", store.ErrInvalid)
	}
	schema := cfg.Schema
	if schema == "" {
		schema = "hotline"
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	maxBatch := cfg.MaxBatch
	if maxBatch <= 0 {
		maxBatch = 256
	}
	writers := cfg.Writers
	if writers <= 0 {
		writers = 4
	}
	maxConns := cfg.MaxConns
	if maxConns <= 0 {
		maxConns = writers + 4
	}
	if maxConns <= writers {
		return nil, fmt.Errorf("opening store: %w: MaxConns %d leaves no connection to read with %d writers", store.ErrInvalid, maxConns, writers)
	}
	pc, err := pgxpool.ParseConfig(cfg.URL)
	if err != nil {
		// The error may quote the URL, password included.
		return nil, fmt.Errorf("opening store: %w: malformed PostgreSQL URL", store.ErrInvalid)
	}
	pc.MaxConns = int32(maxConns)
	if pc.ConnConfig.RuntimeParams == nil {
		pc.ConnConfig.RuntimeParams = map[string]string{}
	}
	pc.ConnConfig.RuntimeParams["search_path"] = pgx.Identifier{schema}.Sanitize()
	pc.ConnConfig.RuntimeParams["synchronous_commit"] = "on"
	pc.ConnConfig.RuntimeParams["application_name"] = "hotline"
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("opening store: %w", err)
	}
	if err := migrate(ctx, pool, schema, log); err != nil {
		pool.Close()
		return nil, fmt.Errorf("opening store in schema %q: %w", schema, err)
	}
	db := &DB{log: log, pool: pool}
	txs := make([]sqlkit.Tx[*wtx], writers)
	for i := range txs {
		txs[i] = &wtx{pool: pool}
	}
	db.w = sqlkit.NewWriter(txs, maxBatch, log, nil)
	return db, nil
}

// Close waits for the writes in flight and closes the connections. It is
// safe to call more than once.
func (db *DB) Close() error {
	if db.closed.Swap(true) {
		return nil
	}
	db.w.Close()
	db.pool.Close()
	return nil
}

// Batches returns how many transactions the writer committed and how many
// writes they held; their ratio is the mean group size.
func (db *DB) Batches() (batches, writes int64) {
	return db.w.Batches.Load(), db.w.Ops.Load()
}

type migration struct {
	version int
	name    string
}

func migrationFiles() ([]migration, error) {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, n := range names {
		base := strings.TrimPrefix(n, "migrations/")
		v, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil {
			return nil, fmt.Errorf("migration %s: no version number", n)
		}
		ms = append(ms, migration{v, n})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	return ms, nil
}

// lockKey derives an advisory lock key from a name.
func lockKey(name string) int64 {
	h := fnv.New64a()
	h.Write([]byte(name))
	return int64(h.Sum64())
}

// migrate creates the schema and applies the embedded migrations it has
// not applied yet, in one transaction that holds an advisory lock, so that
// replicas starting together apply each migration once.
func migrate(ctx context.Context, pool *pgxpool.Pool, schema string, log *slog.Logger) error {
	files, err := migrationFiles()
	if err != nil {
		return err
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("migrating: %w", err)
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, lockKey("hotline migrations "+schema)); err != nil {
		return fmt.Errorf("migrating: locking: %w", err)
	}
	if _, err := tx.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+pgx.Identifier{schema}.Sanitize()); err != nil {
		return fmt.Errorf("migrating: creating schema: %w", err)
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version integer PRIMARY KEY,
		name    text NOT NULL
	)`); err != nil {
		return fmt.Errorf("migrating: %w", err)
	}
	for _, m := range files {
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM schema_migrations WHERE version = $1`, m.version).Scan(&n); err != nil {
			return fmt.Errorf("migrating: %w", err)
		}
		if n > 0 {
			continue
		}
		text, err := migrations.ReadFile(m.name)
		if err != nil {
			return err
		}
		// The simple protocol runs a file of several statements.
		if _, err := tx.Exec(ctx, string(text), pgx.QueryExecModeSimpleProtocol); err != nil {
			return fmt.Errorf("migration %s: %w", m.name, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.version, m.name); err != nil {
			return fmt.Errorf("migration %s: %w", m.name, err)
		}
		log.Info("store: applied migration", "migration", m.name, "schema", schema)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("migrating: committing: %w", err)
	}
	return nil
}

// wtx is the writer's transaction: a pooled connection held from Begin to
// Commit or Rollback. BEGIN goes out in one round trip with the
// transaction's first statement. It is only used on the writer's goroutine.
type wtx struct {
	pool  *pgxpool.Pool
	conn  *pgxpool.Conn
	ctx   context.Context
	begun bool
}

// highWater is the log's high-water mark: one more than the highest index
// recorded. Committed indexes are never removed, so it never goes down.
const highWater = `coalesce(greatest((SELECT max(leaf_idx) FROM envelopes), (SELECT max(rleaf_idx) FROM outbox)) + 1, 0)`

func (t *wtx) exec(q string, args ...any) (pgconn.CommandTag, error) {
	if t.begun {
		return t.conn.Exec(t.ctx, q, args...)
	}
	br := t.sendWithBegin(q, args)
	defer br.Close()
	if _, err := br.Exec(); err != nil {
		return pgconn.CommandTag{}, err
	}
	t.begun = true
	return br.Exec()
}

// execN runs q and returns how many rows it changed.
func (t *wtx) execN(q string, args ...any) (int64, error) {
	tag, err := t.exec(q, args...)
	return tag.RowsAffected(), err
}

func (t *wtx) queryRow(q string, args ...any) pgx.Row {
	if t.begun {
		return t.conn.QueryRow(t.ctx, q, args...)
	}
	br := t.sendWithBegin(q, args)
	if _, err := br.Exec(); err != nil {
		br.Close()
		return errRow{err}
	}
	t.begun = true
	return batchRow{br.QueryRow(), br}
}

// sendWithBegin sends BEGIN and q in one round trip.
func (t *wtx) sendWithBegin(q string, args []any) pgx.BatchResults {
	b := &pgx.Batch{}
	b.Queue("BEGIN")
	b.Queue(q, args...)
	return t.conn.SendBatch(t.ctx, b)
}

// batchRow is the row of a query sent with BEGIN; scanning it ends the
// batch.
type batchRow struct {
	row pgx.Row
	br  pgx.BatchResults
}

func (r batchRow) Scan(dest ...any) error {
	err := r.row.Scan(dest...)
	if cerr := r.br.Close(); err == nil {
		err = cerr
	}
	return err
}

type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

func (t *wtx) Begin(ctx context.Context) (*wtx, error) {
	t.ctx = ctx
	conn, err := t.pool.Acquire(ctx)
	if err != nil {
		return t, err
	}
	t.conn, t.begun = conn, false
	return t, nil
}

func (t *wtx) Savepoint(ctx context.Context, _ *wtx) error {
	_, err := t.exec("SAVEPOINT op")
	return err
}

func (t *wtx) Release(ctx context.Context, _ *wtx) error {
	_, err := t.exec("RELEASE SAVEPOINT op")
	return err
}

func (t *wtx) RollbackTo(ctx context.Context, _ *wtx) error {
	_, err := t.exec("ROLLBACK TO SAVEPOINT op")
	return err
}

func (t *wtx) Commit(ctx context.Context, _ *wtx) error {
	if t.begun {
		if _, err := t.conn.Exec(ctx, "COMMIT"); err != nil {
			return err
		}
	}
	t.conn.Release()
	t.conn, t.begun = nil, false
	return nil
}

func (t *wtx) Rollback(ctx context.Context, _ *wtx) {
	if t.conn == nil {
		return
	}
	if t.begun {
		if _, err := t.conn.Exec(ctx, "ROLLBACK"); err != nil {
			// A connection whose transaction state is unknown must not
			// go back to the pool.
			t.conn.Conn().Close(ctx)
		}
	}
	t.conn.Release()
	t.conn, t.begun = nil, false
}

// Retry reports whether err is a deadlock or a serialization failure,
// which happen between replicas writing the same rows and go away when
// the operation runs again.
func (t *wtx) Retry(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01")
}

// isUniqueViolation reports whether err is a unique constraint violation.
func isUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

// write runs fn as one operation of the writer's next transaction.
func (db *DB) write(ctx context.Context, fn func(*wtx) error) error {
	if db.closed.Load() {
		return store.ErrClosed
	}
	return db.w.Do(ctx, fn)
}

// reader returns the pool, or ErrClosed.
func (db *DB) reader() (*pgxpool.Pool, error) {
	if db.closed.Load() {
		return nil, store.ErrClosed
	}
	return db.pool, nil
}
