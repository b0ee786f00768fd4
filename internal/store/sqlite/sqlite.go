// Package sqlite is the embedded engine of [store.Store]: one SQLite
// database file per node, through modernc.org/sqlite (pure Go, no cgo). It
// owns the SQLite [sqlstore.Dialect] (SQLite's types for the shared
// migrations, which [Open] runs), the database's connections and pragmas,
// the single writer's connection, the lock file that keeps a second process
// out, and the WAL checkpoints; the queries and the rules are sqlstore's.
//
// # Durability and group commit
//
// The database runs in WAL mode with synchronous=FULL: a commit returns
// once the WAL is fsynced. Every write goes through sqlstore's group-commit
// writer, with one goroutine that holds the only write connection. Reads
// use a separate pool of read-only connections and, thanks to WAL, never
// wait for the writer. WAL checkpoints run on a connection of their own, so
// that the writer does not stop for them (but for a forced one when the WAL
// passes 64 MiB).
//
// # One process
//
// [Open] takes an exclusive lock on a file next to the database (Path plus
// ".lock"), so a second process opening the same database fails at once
// instead of contending for it. The operating system drops the lock when
// the process dies, however it dies.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"

	"github.com/hotline-net/hotline/internal/store"
	"github.com/hotline-net/hotline/internal/store/sqlstore"

	modernc "modernc.org/sqlite" // and the "sqlite" database/sql driver it registers
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
	// FailWrites is the fault-injection hook of [sqlstore.Config]: nil
	// in production.
	FailWrites func() error
}

// DB is a [store.Store] in one SQLite database. Its methods are safe for
// concurrent use.
type DB struct {
	*sqlstore.Store

	log  *slog.Logger
	lock *os.File
	wdb  *sql.DB
	conn *sql.Conn
	rdb  *sql.DB
	cdb  *sql.DB // the checkpointer's

	kick            chan struct{} // wakes the checkpointer
	checkpointed    chan struct{} // closed when the checkpointer stopped
	walFrames       atomic.Int64  // WAL size the last checkpoint saw
	sinceCheckpoint int           // writes since the last kick; writer's goroutine only
}

var _ store.Store = (*DB)(nil)

// dialect is SQLite's: booleans are integers, and one writer (the lock file
// keeps other processes out) needs no row locks and no retries.
var dialect = sqlstore.Dialect{
	True:      "1",
	OneWriter: true,
	Begin:     "BEGIN IMMEDIATE",
	Unique: func(err error) bool {
		var e *modernc.Error
		return errors.As(err, &e) && e.Code() == 2067 // SQLITE_CONSTRAINT_UNIQUE
	},
	Full: full,
	Schema: map[string]string{
		"$BIGINT": "INTEGER", "$INTEGER": "INTEGER", "$SMALLINT": "INTEGER", "$BOOLEAN": "INTEGER", "$FALSE": "0",
		"$BYTES": "BLOB", "$SEQ": "INTEGER PRIMARY KEY", "$UNIQUE_SEQ": "INTEGER PRIMARY KEY AUTOINCREMENT",
		"$WITHOUT_ROWID": "WITHOUT ROWID",
		"$HIGH_WATER_TABLE": `CREATE TABLE log_state (
			id         INTEGER PRIMARY KEY CHECK (id = 1),
			high_water INTEGER NOT NULL
		);
		INSERT INTO log_state (id, high_water) VALUES (1, 0);`,
	},
}

// sqliteFull is SQLITE_FULL, the primary result code of a write that
// found the disk full (or the database at its max_page_count); extended
// codes keep it in their low byte.
const sqliteFull = 13

// full reports whether err is SQLITE_FULL or an extended code of it.
func full(err error) bool {
	var e *modernc.Error
	return errors.As(err, &e) && e.Code()&0xff == sqliteFull
}

// Open opens (creating if needed) the database at cfg.Path, runs the
// migrations it lacks, and starts its writer. The caller must Close it.
func Open(ctx context.Context, cfg Config) (*DB, error) {
	if cfg.Path == "" {
		return nil, fmt.Errorf("opening store: %w: empty path", store.ErrInvalid)
	}
	if strings.ContainsAny(cfg.Path, "?#") {
		return nil, fmt.Errorf("opening store %q: %w: path contains '?' or '#'", cfg.Path, store.ErrInvalid)
	}
	log := sqlstore.Logger(cfg.Logger)
	readers := cfg.Readers
	if readers <= 0 {
		readers = 4
	}
	lock, err := lockFile(cfg.Path + ".lock")
	if err != nil {
		return nil, fmt.Errorf("opening store %q: %w", cfg.Path, err)
	}
	db := &DB{log: log, lock: lock}
	if err := db.open(ctx, cfg.Path, readers); err != nil {
		db.release()
		return nil, fmt.Errorf("opening store %q: %w", cfg.Path, err)
	}
	db.kick = make(chan struct{}, 1)
	db.checkpointed = make(chan struct{})
	go db.checkpointer()
	db.Store = sqlstore.New(sqlstore.Config{Dialect: &dialect, DB: db.rdb, Conn: db.conn, MaxBatch: cfg.MaxBatch,
		Logger: log, Committed: db.committed, Close: db.close, FailWrites: cfg.FailWrites})
	return db, nil
}

// open opens the writer's, the readers' and the checkpointer's
// connections, and migrates the database.
func (db *DB) open(ctx context.Context, path string, readers int) error {
	const common = "_pragma=busy_timeout(10000)&_pragma=foreign_keys(0)"
	// The writer: durable commits, savepoint journals in memory,
	// checkpoints left to the checkpointer. (A larger page cache costs more
	// than it saves: SQLite walks it at the end of every transaction.)
	var err error
	db.wdb, err = sql.Open("sqlite", path+"?"+common+"&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)"+
		"&_pragma=temp_store(MEMORY)&_pragma=wal_autocheckpoint(0)")
	if err != nil {
		return err
	}
	db.wdb.SetMaxOpenConns(1)
	if db.conn, err = db.wdb.Conn(ctx); err != nil {
		return err
	}
	var mode string
	if err := db.conn.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return fmt.Errorf("reading journal mode: %w", err)
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("journal mode is %q, not WAL (is the file system local?)", mode)
	}
	if err := sqlstore.Migrate(ctx, db.conn, &dialect, []string{"BEGIN IMMEDIATE"}, db.log); err != nil {
		return err
	}
	if db.rdb, err = sql.Open("sqlite", path+"?"+common+"&_pragma=query_only(1)"); err != nil {
		return err
	}
	db.rdb.SetMaxOpenConns(readers)
	db.rdb.SetMaxIdleConns(readers)
	if err := db.rdb.PingContext(ctx); err != nil {
		return err
	}
	if db.cdb, err = sql.Open("sqlite", path+"?"+common+"&_pragma=synchronous(FULL)"); err != nil {
		return err
	}
	db.cdb.SetMaxOpenConns(1)
	return nil
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
// of the indexes) are copied once per checkpoint. Every 2048 writes rather
// than 512 cut the node's CPU per message by about 7% under load
// (docs/PERFORMANCE.md, Node), for a WAL of some 16 MiB between
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

// close stops the checkpointer and releases the database, once the writer
// stopped.
func (db *DB) close() error {
	close(db.kick)
	<-db.checkpointed
	return db.release()
}

func (db *DB) release() error {
	var errs []error
	if db.conn != nil {
		errs = append(errs, db.conn.Close())
	}
	for _, d := range []*sql.DB{db.wdb, db.rdb, db.cdb} {
		if d != nil {
			errs = append(errs, d.Close())
		}
	}
	return errors.Join(append(errs, db.lock.Close())...)
}
