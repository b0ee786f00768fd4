// Package sqlite is the embedded implementation of [store.Store]: one
// SQLite database file per node, through modernc.org/sqlite (pure Go, no
// cgo).
//
// # Durability and group commit
//
// The database runs in WAL mode with synchronous=FULL: a commit returns
// once the WAL is fsynced. Every write goes through one writer goroutine
// that holds the only write connection; the writes that queue up while a
// transaction commits run together in the next one and share its single
// fsync. A batch first runs without savepoints; if one of its writes fails,
// the batch is rolled back and run again with a SAVEPOINT per write, so that
// the failure is undone alone. A write returns once the transaction holding
// it committed. Reads use a separate pool of read-only connections and,
// thanks to WAL, never wait for the writer. WAL checkpoints run on a
// connection of their own, so that the writer does not stop for them (but
// for a forced one when the WAL passes 64 MiB).
//
// # One process
//
// [Open] takes an exclusive lock on a file next to the database (Path plus
// ".lock"), so a second process opening the same database fails at once
// instead of contending for it. The operating system drops the lock when
// the process dies, however it dies.
//
// Migrations are embedded (migrations/*.sql) and run by Open.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/hotline-net/hotline/internal/store"
	"github.com/hotline-net/hotline/internal/store/internal/sqlkit"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// Config configures [Open].
type Config struct {
	// Path is the database file, created if it does not exist; its
	// directory must exist. SQLite keeps Path+"-wal" and Path+"-shm" next
	// to it, and Open adds Path+".lock". Required.
	Path string
	// Logger receives the store's rare log lines (failed commits,
	// migrations). Nil discards them.
	Logger *slog.Logger
	// MaxBatch is the most writes that share one transaction. Zero means
	// 256.
	MaxBatch int
	// Readers is the most read connections open at once. Zero means 4.
	Readers int
}

// DB is a [store.Store] in one SQLite database. Its methods are safe for
// concurrent use.
type DB struct {
	log    *slog.Logger
	lock   *os.File
	wdb    *sql.DB
	conn   *sql.Conn
	rdb    *sql.DB
	cdb    *sql.DB // the checkpointer's
	w      *sqlkit.Writer[*wtx]
	wt     *wtx
	closed atomic.Bool

	kick            chan struct{} // wakes the checkpointer
	checkpointed    chan struct{} // closed when the checkpointer stopped
	walFrames       atomic.Int64  // WAL size the last checkpoint saw
	sinceCheckpoint int           // writes since the last kick; writer's goroutine only
}

var _ store.Store = (*DB)(nil)

//go:embed migrations/*.sql
var migrations embed.FS

// Open opens (creating if needed) the database at cfg.Path, runs the
// migrations it lacks, and starts its writer. The caller must Close it.
func Open(ctx context.Context, cfg Config) (*DB, error) {
	if cfg.Path == "" {
		return nil, fmt.Errorf("opening store: %w: empty path", store.ErrInvalid)
	}
	if strings.ContainsAny(cfg.Path, "?#") {
		return nil, fmt.Errorf("opening store %q: %w: path contains '?' or '#'", cfg.Path, store.ErrInvalid)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	maxBatch := cfg.MaxBatch
	if maxBatch <= 0 {
		maxBatch = 256
	}
	readers := cfg.Readers
	if readers <= 0 {
		readers = 4
	}

	lock, err := lockFile(cfg.Path + ".lock")
	if err != nil {
		return nil, fmt.Errorf("opening store %q: %w", cfg.Path, err)
	}
	db := &DB{log: log, lock: lock}
	ok := false
	defer func() {
		if !ok {
			db.release()
		}
	}()

	const common = "_pragma=busy_timeout(10000)&_pragma=foreign_keys(0)"
	// The writer: durable commits, savepoint journals in memory,
	// checkpoints left to the checkpointer. (A larger page cache costs more
	// than it saves: SQLite walks it at the end of every transaction.)
	db.wdb, err = sql.Open("sqlite", cfg.Path+"?"+common+"&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)"+
		"&_pragma=temp_store(MEMORY)&_pragma=wal_autocheckpoint(0)")
	if err != nil {
		return nil, fmt.Errorf("opening store %q: %w", cfg.Path, err)
	}
	db.wdb.SetMaxOpenConns(1)
	db.conn, err = db.wdb.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("opening store %q: %w", cfg.Path, err)
	}
	var mode string
	if err := db.conn.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return nil, fmt.Errorf("opening store %q: reading journal mode: %w", cfg.Path, err)
	}
	if !strings.EqualFold(mode, "wal") {
		return nil, fmt.Errorf("opening store %q: journal mode is %q, not WAL (is the file system local?)", cfg.Path, mode)
	}
	if err := migrate(ctx, db.conn, log); err != nil {
		return nil, fmt.Errorf("opening store %q: %w", cfg.Path, err)
	}

	db.rdb, err = sql.Open("sqlite", cfg.Path+"?"+common+"&_pragma=query_only(1)")
	if err != nil {
		return nil, fmt.Errorf("opening store %q: %w", cfg.Path, err)
	}
	db.rdb.SetMaxOpenConns(readers)
	db.rdb.SetMaxIdleConns(readers)
	if err := db.rdb.PingContext(ctx); err != nil {
		return nil, fmt.Errorf("opening store %q: %w", cfg.Path, err)
	}

	db.cdb, err = sql.Open("sqlite", cfg.Path+"?"+common+"&_pragma=synchronous(FULL)")
	if err != nil {
		return nil, fmt.Errorf("opening store %q: %w", cfg.Path, err)
	}
	db.cdb.SetMaxOpenConns(1)
	db.kick = make(chan struct{}, 1)
	db.checkpointed = make(chan struct{})
	go db.checkpointer()

	db.wt = &wtx{conn: db.conn, stmts: make(map[string]*sql.Stmt)}
	db.w = sqlkit.NewWriter([]sqlkit.Tx[*wtx]{db.wt}, maxBatch, log, db.committed)
	ok = true
	return db, nil
}

// Checkpoints. SQLite's automatic checkpoint runs inside the commit that
// crosses its threshold, on the writer's connection; here the writer only
// counts, and a checkpointer goroutine copies the WAL into the database on
// its own connection while the writer goes on. Under a sustained load a
// passive checkpoint never catches up with the end of the WAL, so the WAL
// cannot restart; past walLimit frames the writer stops to checkpoint and
// restart it.
//
// A checkpoint copies each page the WAL holds once, however many times it
// was written since the last one: the pages every write touches (the ends
// of the indexes, the high-water row) are copied once per checkpoint. Every
// 2048 writes rather than 512 cut the node's CPU per message by about 7%
// under load (docs/PERFORMANCE.md, Node), for a WAL of some 16 MiB between
// checkpoints.
const (
	checkpointEvery = 2048  // writes between checkpoints
	walLimit        = 16384 // frames (64 MiB of 4 KiB pages)
)

// committed runs on the writer's goroutine after each commit.
func (db *DB) committed(ops int) {
	db.sinceCheckpoint += ops
	if db.walFrames.Load() > walLimit {
		db.walFrames.Store(0)
		var busy, frames, done int
		err := db.conn.QueryRowContext(context.Background(), "PRAGMA wal_checkpoint(RESTART)").Scan(&busy, &frames, &done)
		if err != nil {
			db.log.Error("store: checkpoint failed", "err", err)
		}
		return
	}
	if db.sinceCheckpoint >= checkpointEvery {
		db.sinceCheckpoint = 0
		select {
		case db.kick <- struct{}{}:
		default:
		}
	}
}

func (db *DB) checkpointer() {
	defer close(db.checkpointed)
	for range db.kick {
		var busy, frames, done int
		err := db.cdb.QueryRowContext(context.Background(), "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &frames, &done)
		if err != nil {
			db.log.Error("store: checkpoint failed", "err", err)
			continue
		}
		db.walFrames.Store(int64(frames))
	}
}

// Close waits for the writes in flight and closes the database. It is safe
// to call more than once.
func (db *DB) Close() error {
	if db.closed.Swap(true) {
		return nil
	}
	db.w.Close()
	close(db.kick)
	<-db.checkpointed
	return db.release()
}

func (db *DB) release() error {
	var errs []error
	if db.wt != nil {
		for _, s := range db.wt.stmts {
			errs = append(errs, s.Close())
		}
	}
	if db.conn != nil {
		errs = append(errs, db.conn.Close())
	}
	if db.wdb != nil {
		errs = append(errs, db.wdb.Close())
	}
	if db.rdb != nil {
		errs = append(errs, db.rdb.Close())
	}
	if db.cdb != nil {
		errs = append(errs, db.cdb.Close())
	}
	if db.lock != nil {
		errs = append(errs, db.lock.Close())
	}
	return errors.Join(errs...)
}

// Batches returns how many transactions the writer committed and how many
// writes they held; their ratio is the mean group size.
func (db *DB) Batches() (batches, writes int64) {
	return db.w.Batches.Load(), db.w.Ops.Load()
}

// migrate applies, in order and each in its own transaction, the embedded
// migrations the database has not applied yet.
func migrate(ctx context.Context, conn *sql.Conn, log *slog.Logger) error {
	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY,
		name    TEXT NOT NULL
	)`); err != nil {
		return fmt.Errorf("migrating: %w", err)
	}
	files, err := migrationFiles()
	if err != nil {
		return err
	}
	for _, f := range files {
		if err := applyMigration(ctx, conn, f, log); err != nil {
			return err
		}
	}
	return nil
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

func applyMigration(ctx context.Context, conn *sql.Conn, m migration, log *slog.Logger) (err error) {
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return fmt.Errorf("migrating: %w", err)
	}
	defer func() {
		if err != nil {
			conn.ExecContext(context.Background(), "ROLLBACK")
		}
	}()
	var n int
	if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM schema_migrations WHERE version = ?", m.version).Scan(&n); err != nil {
		return fmt.Errorf("migrating: %w", err)
	}
	if n > 0 {
		_, err := conn.ExecContext(ctx, "COMMIT")
		return err
	}
	text, err := migrations.ReadFile(m.name)
	if err != nil {
		return err
	}
	if _, err := conn.ExecContext(ctx, string(text)); err != nil {
		return fmt.Errorf("migration %s: %w", m.name, err)
	}
	if _, err := conn.ExecContext(ctx, "INSERT INTO schema_migrations (version, name) VALUES (?, ?)", m.version, m.name); err != nil {
		return fmt.Errorf("migration %s: %w", m.name, err)
	}
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		return fmt.Errorf("migration %s: committing: %w", m.name, err)
	}
	log.Info("store: applied migration", "migration", m.name)
	return nil
}

// wtx is the writer's connection and its prepared statements; it is only
// used on the writer's goroutine.
type wtx struct {
	ctx   context.Context
	conn  *sql.Conn
	stmts map[string]*sql.Stmt
	// hw is the high-water mark as the open transaction sees it, raised by
	// Sequenced. One process writes (the lock file) and only through this
	// connection, so it stays right from one committed transaction to the
	// next; it is read again after a rollback (hwKnown false).
	hw      int64
	hwKnown bool
}

// loadHighWater reads the high-water mark into t.hw.
func (t *wtx) loadHighWater() error {
	if err := t.queryRow(`SELECT high_water FROM log_state WHERE id = 1`).Scan(&t.hw); err != nil {
		t.hwKnown = false
		return fmt.Errorf("reading high-water mark: %w", err)
	}
	t.hwKnown = true
	return nil
}

func (t *wtx) stmt(q string) (*sql.Stmt, error) {
	if s, ok := t.stmts[q]; ok {
		return s, nil
	}
	s, err := t.conn.PrepareContext(t.ctx, q)
	if err != nil {
		return nil, err
	}
	t.stmts[q] = s
	return s, nil
}

func (t *wtx) exec(q string, args ...any) (sql.Result, error) {
	s, err := t.stmt(q)
	if err != nil {
		return nil, err
	}
	return s.ExecContext(t.ctx, args...)
}

// execN runs q and returns how many rows it changed.
func (t *wtx) execN(q string, args ...any) (int64, error) {
	r, err := t.exec(q, args...)
	if err != nil {
		return 0, err
	}
	return r.RowsAffected()
}

func (t *wtx) queryRow(q string, args ...any) *sql.Row {
	s, err := t.stmt(q)
	if err != nil {
		// A Row with an error: database/sql has no constructor for one,
		// and an unprepared statement fails the same way again.
		return t.conn.QueryRowContext(t.ctx, q, args...)
	}
	return s.QueryRowContext(t.ctx, args...)
}

func (t *wtx) Begin(ctx context.Context) (*wtx, error) {
	t.ctx = ctx
	if _, err := t.exec("BEGIN IMMEDIATE"); err != nil {
		return t, err
	}
	if !t.hwKnown {
		if err := t.loadHighWater(); err != nil {
			t.Rollback(ctx, t)
			return t, err
		}
	}
	return t, nil
}

func (t *wtx) Savepoint(ctx context.Context, _ *wtx) error {
	_, err := t.exec("SAVEPOINT op")
	return err
}

func (t *wtx) Release(ctx context.Context, _ *wtx) error {
	_, err := t.exec("RELEASE op")
	return err
}

func (t *wtx) RollbackTo(ctx context.Context, _ *wtx) error {
	if _, err := t.exec("ROLLBACK TO op"); err != nil {
		return err
	}
	return t.loadHighWater()
}

func (t *wtx) Commit(ctx context.Context, _ *wtx) error {
	_, err := t.exec("COMMIT")
	return err
}

func (t *wtx) Rollback(ctx context.Context, _ *wtx) {
	t.hwKnown = false
	// After a failed COMMIT SQLite may already have rolled back; the
	// error of a second rollback says nothing new.
	t.conn.ExecContext(ctx, "ROLLBACK")
}

// Retry reports false: with one writer connection and the file lock,
// SQLite never reports a conflict worth retrying.
func (t *wtx) Retry(error) bool { return false }

// write runs fn as one operation of the writer's next transaction.
func (db *DB) write(ctx context.Context, fn func(*wtx) error) error {
	if db.closed.Load() {
		return store.ErrClosed
	}
	return db.w.Do(ctx, fn)
}

// read returns the read pool, or ErrClosed.
func (db *DB) reader() (*sql.DB, error) {
	if db.closed.Load() {
		return nil, store.ErrClosed
	}
	return db.rdb, nil
}
