package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	modernc "modernc.org/sqlite"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/internal/store"
	"github.com/hotline-net/hotline/internal/store/sqlite"
	"github.com/hotline-net/hotline/internal/store/storetest"
)

// TestFullClassifiesSQLITE_FULL provokes a real SQLITE_FULL (a database
// held at its max_page_count, which SQLite reports exactly as a full
// disk) and checks that the dialect recognises it, and nothing else.
func TestFullClassifiesSQLITE_FULL(t *testing.T) {
	ctx := context.Background()
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "full.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, "CREATE TABLE t (b BLOB)"); err != nil {
		t.Fatal(err)
	}
	var pages int64
	if err := db.QueryRowContext(ctx, "PRAGMA page_count").Scan(&pages); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, fmt.Sprintf("PRAGMA max_page_count = %d", pages)); err != nil {
		t.Fatal(err)
	}
	_, err = db.ExecContext(ctx, "INSERT INTO t (b) VALUES (?)", make([]byte, 64<<10))
	var e *modernc.Error
	if !errors.As(err, &e) || e.Code()&0xff != 13 {
		t.Fatalf("insert past max_page_count: %v, want SQLITE_FULL (13)", err)
	}
	if !sqlite.Full(err) || !sqlite.Full(fmt.Errorf("inserting: %w", err)) {
		t.Errorf("Full(%v) = false", err)
	}
	// A constraint violation is no full disk.
	if _, err := db.ExecContext(ctx, "PRAGMA max_page_count = 1000000"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, "CREATE UNIQUE INDEX u ON t (b)"); err != nil {
		t.Fatal(err)
	}
	db.ExecContext(ctx, "INSERT INTO t (b) VALUES (x'01')")
	_, err = db.ExecContext(ctx, "INSERT INTO t (b) VALUES (x'01')")
	if err == nil || sqlite.Full(err) {
		t.Errorf("a unique violation: Full(%v) = true, or no error", err)
	}
	if sqlite.Full(errors.New("no")) || sqlite.Full(nil) {
		t.Error("Full of a plain error or nil")
	}
}

// TestStoreOnFullDatabase fills a store's database (real SQLITE_FULL on
// the writer's connection): a write fails with store.ErrStorageFull,
// reads go on, the store counts it; once there is room again the same
// write succeeds, with no reopening.
func TestStoreOnFullDatabase(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(t.TempDir(), "hotline.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var log storetest.Log
	first := storetest.ReceivedEnvelope("BER 1", "CRI", 1, 1024)
	if _, err := storetest.Accept(ctx, db, &log, first); err != nil {
		t.Fatal(err)
	}
	if _, err := sqlite.SetMaxPageCount(db, func(now int64) int64 { return now }); err != nil {
		t.Fatal(err)
	}
	second := storetest.ReceivedEnvelope("BER 2", "CRI", 2, 256<<10)
	storetest.Chain(first, second)
	_, err = db.InsertReceived(ctx, second)
	if !errors.Is(err, store.ErrStorageFull) {
		t.Fatalf("InsertReceived on a full database: %v, want ErrStorageFull", err)
	}
	if n, now := db.StorageFull(); n != 1 || !now {
		t.Errorf("StorageFull() = %d, %v; want 1, true", n, now)
	}
	if _, err := db.Envelope(ctx, hotline.Received, first.Envelope.ID); err != nil {
		t.Errorf("reading while full: %v", err)
	}
	if _, err := db.Envelope(ctx, hotline.Received, second.Envelope.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the refused envelope: %v, want ErrNotFound", err)
	}
	if _, err := sqlite.SetMaxPageCount(db, func(int64) int64 { return 1 << 30 }); err != nil {
		t.Fatal(err)
	}
	if _, err := storetest.Accept(ctx, db, &log, second); err != nil {
		t.Fatalf("the same write with room again: %v", err)
	}
	if n, now := db.StorageFull(); n != 1 || now {
		t.Errorf("StorageFull() after recovery = %d, %v; want 1, false", n, now)
	}
}
