package sqlstore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/internal/store"
	"github.com/hotline-net/hotline/internal/store/postgres"
	"github.com/hotline-net/hotline/internal/store/sqlite"
	"github.com/hotline-net/hotline/internal/store/storetest"
)

// forEngines runs test against a fresh store of each engine: SQLite, and
// PostgreSQL if HOTLINE_TEST_POSTGRES names one.
func forEngines(t *testing.T, test func(t *testing.T, s store.Store)) {
	forEnginesWith(t, nil, test)
}

// forEnginesWith is forEngines with the stores' FailWrites hook.
func forEnginesWith(t *testing.T, failWrites func() error, test func(t *testing.T, s store.Store)) {
	t.Run("sqlite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "hotline.db")
		test(t, storetest.MustOpen(t, func(ctx context.Context) (store.Store, error) {
			return sqlite.Open(ctx, sqlite.Config{Path: path, FailWrites: failWrites})
		}))
	})
	t.Run("postgres", func(t *testing.T) {
		url := os.Getenv("HOTLINE_TEST_POSTGRES")
		if url == "" {
			t.Skip("HOTLINE_TEST_POSTGRES is empty")
		}
		var b [6]byte
		rand.Read(b[:])
		schema := "sqlstore_" + hex.EncodeToString(b[:])
		t.Cleanup(func() {
			conn, err := pgx.Connect(context.Background(), url)
			if err != nil {
				t.Errorf("dropping schema %s: %v", schema, err)
				return
			}
			defer conn.Close(context.Background())
			conn.Exec(context.Background(), "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
		})
		test(t, storetest.MustOpen(t, func(ctx context.Context) (store.Store, error) {
			return postgres.Open(ctx, postgres.Config{URL: url, Schema: schema, FailWrites: failWrites})
		}))
	})
}

// TestReceiptDeliversOneRow checks that a recipient's receipt delivers one
// outbox row only: the unique index on receipt ids is the check, which each
// dialect's Unique must recognise.
func TestReceiptDeliversOneRow(t *testing.T) {
	forEngines(t, func(t *testing.T, s store.Store) {
		ctx := context.Background()
		var log storetest.Log
		a, err := storetest.Send(ctx, s, &log, "a", "PAR")
		if err != nil {
			t.Fatal(err)
		}
		b, err := storetest.Send(ctx, s, &log, "b", "PAR")
		if err != nil {
			t.Fatal(err)
		}
		at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		if _, err := storetest.Deliver(ctx, s, a, "PAR", at, 7); err != nil {
			t.Fatal(err)
		}
		first, err := s.OutboxEntry(ctx, a.Envelope.ID, "PAR")
		if err != nil {
			t.Fatal(err)
		}
		rid := hotline.NoteID(first.Receipt.Note)
		rc := *first.Receipt
		rc.MessageID, rc.Note = b.Envelope.ID, []byte("hotline-receipt/v1\nfor b")
		_, err = s.MarkDelivered(ctx, &store.Delivered{ID: b.Envelope.ID, Recipient: "PAR", At: at,
			Receipt: rc, ReceiptID: rid, Entry: hotline.LeafEntry(storetest.Self, hotline.ReceiptReceived, rid)})
		if !errors.Is(err, store.ErrConflict) {
			t.Fatalf("MarkDelivered of b with a's receipt: %v, want ErrConflict", err)
		}
		if row, err := s.OutboxEntry(ctx, b.Envelope.ID, "PAR"); err != nil || row.State != store.OutboxPending {
			t.Errorf("b's row after the refused receipt: %v %v, want pending", row.State, err)
		}
	})
}
