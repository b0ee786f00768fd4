// Package postgres is the PostgreSQL engine of [store.Store], for nodes
// that run several replicas. It owns the PostgreSQL [sqlstore.Dialect],
// the connections (pgx, through its database/sql adapter), the schema and
// the migrations' advisory lock (so that replicas starting together apply
// each once), and the leadership between replicas ([Leader]); the queries,
// the rules and the migrations are sqlstore's.
//
// # Durability and group commit
//
// Every connection runs with synchronous_commit=on, whatever the server's
// default: a commit returns once its WAL is flushed. A PostgreSQL
// transaction spends most of its time in round trips, and the server runs
// transactions side by side and shares WAL flushes among them, so
// sqlstore's group-commit writer has several goroutines (Config.Writers),
// each taking a connection from the pool for each transaction and sending
// its BEGIN with its first statement. Reads use the pool and never wait
// for the writers.
//
// # Replicas
//
// Several processes may open the same schema. Each has its own writers;
// the conditional writes (sequence numbers, idempotent inserts, agreement
// versions, checkpoints, leaf indexes, the first inclusion proof and relay
// receipt of an outbox row, a relayed envelope handed on, a peer's latest
// probe) are single statements or row locks that stay correct between
// them, and deadlocks or serialization failures between them are retried.
// The high-water mark is not stored but derived from the leaf indexes, so
// that writers never queue on one row. One replica at a time should act as
// the leader (delivery, deadlines, log sequencing): see [Leader].
package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/hotline-net/hotline/internal/store"
	"github.com/hotline-net/hotline/internal/store/sqlstore"
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
	// FailWrites is the fault-injection hook of [sqlstore.Config]: nil
	// in production.
	FailWrites func() error
}

// DB is a [store.Store] in one PostgreSQL schema. Its methods are safe for
// concurrent use.
type DB struct {
	*sqlstore.Store
}

var _ store.Store = (*DB)(nil)

// dialect is PostgreSQL's: numbered placeholders, BEGIN sent with the
// first statement, and row locks and retries between replicas.
var dialect = sqlstore.Dialect{
	Numbered:  true,
	True:      "true",
	LockRow:   "FOR UPDATE",
	BeginWith: beginWith,
	Retry:     func(err error) bool { return hasCode(err, "40001", "40P01") },
	Unique:    func(err error) bool { return hasCode(err, "23505") },
	Full:      full,
	Schema: map[string]string{
		"$BIGINT": "bigint", "$INTEGER": "integer", "$SMALLINT": "smallint", "$BOOLEAN": "boolean", "$FALSE": "false",
		"$BYTES": "bytea", "$SEQ": "bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
		"$UNIQUE_SEQ": "bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY", "$WITHOUT_ROWID": "",
		"$HIGH_WATER_TABLE": "",
	},
}

// beginWith sends BEGIN and q in one pgx batch, on the pgx connection
// under conn: a PostgreSQL transaction spends its time in round trips.
func beginWith(ctx context.Context, conn *sql.Conn, q string, args, dest []any) (n int64, err error) {
	err = conn.Raw(func(dc any) error {
		b := &pgx.Batch{}
		b.Queue("BEGIN")
		b.Queue(q, args...)
		br := dc.(*stdlib.Conn).Conn().SendBatch(ctx, b)
		_, err := br.Exec()
		switch {
		case err == nil && len(dest) > 0:
			err = br.QueryRow().Scan(dest...)
		case err == nil:
			var tag pgconn.CommandTag
			tag, err = br.Exec()
			n = tag.RowsAffected()
		}
		if cerr := br.Close(); err == nil {
			err = cerr
		}
		return err
	})
	return n, err
}

// full reports whether err is PostgreSQL's disk_full (SQLSTATE 53100):
// the server could not extend a file or write its WAL. The other codes
// of class 53, insufficient resources — out_of_memory (53200),
// too_many_connections (53300), configuration_limit_exceeded (53400) —
// are not the storage: they would send an operator looking for disk
// space that is there, and stay internal errors (which peers retry).
func full(err error) bool { return hasCode(err, "53100") }

// hasCode reports whether err is a PostgreSQL error with one of codes.
func hasCode(err error, codes ...string) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && slices.Contains(codes, pe.Code)
}

// Open connects to the database, creates the schema and runs the
// migrations it lacks, and starts the writers. The caller must Close it.
func Open(ctx context.Context, cfg Config) (*DB, error) {
	schema := cfg.Schema
	if schema == "" {
		schema = "hotline"
	}
	log := sqlstore.Logger(cfg.Logger)
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
	cc, err := parseURL("opening store", cfg.URL)
	if err != nil {
		return nil, err
	}
	ident := pgx.Identifier{schema}.Sanitize()
	cc.RuntimeParams["search_path"] = ident
	cc.RuntimeParams["synchronous_commit"] = "on"
	cc.RuntimeParams["application_name"] = "hotline"
	pool := stdlib.OpenDB(*cc)
	pool.SetMaxOpenConns(maxConns)
	pool.SetMaxIdleConns(maxConns)
	conn, err := pool.Conn(ctx)
	if err == nil {
		err = sqlstore.Migrate(ctx, conn, &dialect, []string{"BEGIN",
			fmt.Sprintf("SELECT pg_advisory_xact_lock(%d)", lockKey("hotline migrations "+schema)),
			"CREATE SCHEMA IF NOT EXISTS " + ident}, log.With("schema", schema))
		conn.Close()
	}
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("opening store in schema %q: %w", schema, err)
	}
	return &DB{sqlstore.New(sqlstore.Config{Dialect: &dialect, DB: pool, Writers: writers, MaxBatch: cfg.MaxBatch,
		Logger: log, Close: pool.Close, FailWrites: cfg.FailWrites})}, nil
}

// parseURL parses a connection string, for what.
func parseURL(what, url string) (*pgx.ConnConfig, error) {
	if url == "" {
		return nil, fmt.Errorf("%s: %w: empty URL", what, store.ErrInvalid)
	}
	cc, err := pgx.ParseConfig(url)
	if err != nil {
		// The error may quote the URL, password included.
		return nil, fmt.Errorf("%s: %w: malformed PostgreSQL URL", what, store.ErrInvalid)
	}
	return cc, nil
}

// lockKey derives an advisory lock key from a name.
func lockKey(name string) int64 {
	h := fnv.New64a()
	h.Write([]byte(name))
	return int64(h.Sum64())
}
