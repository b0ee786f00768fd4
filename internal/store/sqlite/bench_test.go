package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/hotline-net/hotline/internal/store/storetest"
)

// BenchmarkInsert compares the store's durable inserts of 1 KiB envelopes
// with bare SQLite inserts of 1 KiB rows into a one-table database with the
// same pragmas (WAL, synchronous=FULL), on the same file system, in turns
// within one run: one transaction per row ("bare-autocommit", writers
// sharing the one connection SQLite allows to write), and — the ceiling —
// one writer putting 1000 rows in each transaction ("bare-tx1000").
func BenchmarkInsert(b *testing.B) {
	storetest.BenchInsert(b, newBackend, func(b *testing.B, writers int) []storetest.Contender {
		if writers == 1 {
			return []storetest.Contender{bareAutocommit(b, writers)}
		}
		return []storetest.Contender{bareAutocommit(b, writers), bareBatched(b, 1000)}
	})
}

// BenchmarkAccept compares the store's share of the accept path (two
// durable writes per envelope: InsertReceived, then Sequenced with the
// receipt) with bare autocommit inserts, in turns within one run.
func BenchmarkAccept(b *testing.B) {
	storetest.BenchAccept(b, newBackend, func(b *testing.B, writers int) []storetest.Contender {
		return []storetest.Contender{bareAutocommit(b, writers)}
	})
}

func openBare(b *testing.B) *sql.DB {
	path := filepath.Join(b.TempDir(), "bare.db")
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(`CREATE TABLE bare (id BLOB PRIMARY KEY, raw BLOB NOT NULL)`); err != nil {
		b.Fatal(err)
	}
	return db
}

// bareAutocommit inserts each row in its own transaction.
func bareAutocommit(b *testing.B, writers int) storetest.Contender {
	db := openBare(b)
	raw := make([]byte, storetest.EnvelopeSize)
	return storetest.Contender{Name: "bare-autocommit", Run: func(from, to uint64) error {
		return storetest.Parallel(writers, from, to, func(i uint64) error {
			id := storetest.ID(fmt.Sprint(i))
			_, err := db.Exec(`INSERT INTO bare (id, raw) VALUES (?, ?)`, id[:], raw)
			return err
		})
	}}
}

// bareBatched inserts rows from one writer, perTx rows per transaction.
func bareBatched(b *testing.B, perTx uint64) storetest.Contender {
	db := openBare(b)
	raw := make([]byte, storetest.EnvelopeSize)
	return storetest.Contender{Name: fmt.Sprintf("bare-tx%d", perTx), Run: func(from, to uint64) error {
		ctx := context.Background()
		for start := from; start < to; start += perTx {
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				return err
			}
			for i := start; i < min(start+perTx, to); i++ {
				id := storetest.ID(fmt.Sprint(i))
				if _, err := tx.Exec(`INSERT INTO bare (id, raw) VALUES (?, ?)`, id[:], raw); err != nil {
					tx.Rollback()
					return err
				}
			}
			if err := tx.Commit(); err != nil {
				return err
			}
		}
		return nil
	}}
}
