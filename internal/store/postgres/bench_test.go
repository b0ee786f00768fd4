package postgres_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hotline-net/hotline/internal/store/storetest"
)

// BenchmarkInsert compares the store's durable envelope inserts with bare
// PostgreSQL inserts of rows of the same size, in the same run, against
// the same server.
func BenchmarkInsert(b *testing.B) {
	for _, writers := range []int{1, 64} {
		b.Run(fmt.Sprintf("store/writers=%d", writers), func(b *testing.B) {
			storetest.BenchmarkInsertReceived(b, newBackend(b), writers)
		})
	}
	for _, writers := range []int{1, 64} {
		b.Run(fmt.Sprintf("accept/writers=%d", writers), func(b *testing.B) {
			storetest.BenchmarkAccept(b, newBackend(b), writers)
		})
	}
	for _, writers := range []int{1, 64} {
		b.Run(fmt.Sprintf("bare-autocommit/writers=%d", writers), func(b *testing.B) {
			benchBare(b, writers)
		})
	}
}

// benchBare inserts 1 KiB rows into a one-table schema, one transaction
// per row, each writer on its own connection, as an application without
// group commit does; PostgreSQL then shares WAL flushes among the commits
// that wait at the same time.
func benchBare(b *testing.B, writers int) {
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
	defer pool.Close()
	if _, err := pool.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()); err != nil {
		b.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `CREATE TABLE bare (id bytea PRIMARY KEY, raw bytea NOT NULL)`); err != nil {
		b.Fatal(err)
	}
	raw := make([]byte, storetest.EnvelopeSize)
	b.SetBytes(storetest.EnvelopeSize)
	storetest.Parallel(b, writers, "rows", func(i uint64) error {
		id := storetest.ID(fmt.Sprint(i))
		_, err := pool.Exec(ctx, `INSERT INTO bare (id, raw) VALUES ($1, $2)`, id[:], raw)
		return err
	})
}
