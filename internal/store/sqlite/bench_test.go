package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/hotline-net/hotline/internal/store/storetest"
)

// BenchmarkInsert compares the store's durable envelope inserts with bare
// SQLite inserts of rows of the same size, in the same run, on the same
// file system, with the same pragmas (WAL, synchronous=FULL).
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
			benchBare(b, writers, 1)
		})
	}
	b.Run("bare-tx1000/writers=1", func(b *testing.B) { benchBare(b, 1, 1000) })
}

// benchBare inserts 1 KiB rows into a one-table database, perTx rows per
// transaction. Writers share one connection, as they must in SQLite: each
// transaction waits for the one before it and its fsync.
func benchBare(b *testing.B, writers, perTx int) {
	path := filepath.Join(b.TempDir(), "bare.db")
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(`CREATE TABLE bare (id BLOB PRIMARY KEY, raw BLOB NOT NULL)`); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	raw := make([]byte, storetest.EnvelopeSize)
	b.SetBytes(storetest.EnvelopeSize)
	if perTx == 1 {
		storetest.Parallel(b, writers, "rows", func(i uint64) error {
			id := storetest.ID(fmt.Sprint(i))
			_, err := db.ExecContext(ctx, `INSERT INTO bare (id, raw) VALUES (?, ?)`, id[:], raw)
			return err
		})
		return
	}
	var tx *sql.Tx
	storetest.Parallel(b, writers, "rows", func(i uint64) error {
		var err error
		if i%uint64(perTx) == 0 {
			if tx, err = db.BeginTx(ctx, nil); err != nil {
				return err
			}
		}
		id := storetest.ID(fmt.Sprint(i))
		if _, err := tx.ExecContext(ctx, `INSERT INTO bare (id, raw) VALUES (?, ?)`, id[:], raw); err != nil {
			return err
		}
		if i%uint64(perTx) == uint64(perTx-1) || i == uint64(b.N-1) {
			return tx.Commit()
		}
		return nil
	})
}
