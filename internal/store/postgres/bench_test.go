package postgres_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hotline-net/hotline/internal/store/storetest"
)

// BenchmarkInsert compares the store's durable inserts of 1 KiB envelopes
// with bare PostgreSQL inserts of 1 KiB rows into a one-table schema, one
// transaction per row, each writer on its own connection (so PostgreSQL
// shares WAL flushes among the commits that wait together), against the
// same server, in turns within one run.
func BenchmarkInsert(b *testing.B) {
	storetest.BenchInsert(b, newBackend, bareAutocommit)
}

// BenchmarkAccept compares the store's share of the accept path (two
// durable writes per envelope: InsertReceived, then Sequenced with the
// receipt) with bare autocommit inserts, in turns within one run.
func BenchmarkAccept(b *testing.B) {
	storetest.BenchAccept(b, newBackend, bareAutocommit)
}

// bareAutocommit inserts each row in its own transaction, each writer on
// its own connection.
func bareAutocommit(b *testing.B, writers int) []storetest.Contender {
	url := testURL(b)
	schema := newTestSchema(b, url)
	ctx := context.Background()
	pc, err := pgxpool.ParseConfig(url)
	if err != nil {
		b.Fatal(err)
	}
	pc.MaxConns = int32(writers)
	pc.ConnConfig.RuntimeParams["search_path"] = pgx.Identifier{schema}.Sanitize()
	pc.ConnConfig.RuntimeParams["synchronous_commit"] = "on"
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	if _, err := pool.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()); err != nil {
		b.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `CREATE TABLE bare (id bytea PRIMARY KEY, raw bytea NOT NULL)`); err != nil {
		b.Fatal(err)
	}
	raw := make([]byte, storetest.EnvelopeSize)
	return []storetest.Contender{{Name: "bare-autocommit", Run: func(from, to uint64) error {
		return storetest.Parallel(writers, from, to, func(i uint64) error {
			id := storetest.ID(fmt.Sprint(i))
			_, err := pool.Exec(ctx, `INSERT INTO bare (id, raw) VALUES ($1, $2)`, id[:], raw)
			return err
		})
	}}}
}
