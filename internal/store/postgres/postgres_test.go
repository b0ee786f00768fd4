package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/hotline-net/hotline/internal/store"
	"github.com/hotline-net/hotline/internal/store/postgres"
	"github.com/hotline-net/hotline/internal/store/storetest"
)

// testURL returns the PostgreSQL the tests use, from HOTLINE_TEST_POSTGRES.
// Without it the tests are skipped, except in CI (CI=true), where they
// fail: CI must not pass by testing nothing.
func testURL(tb testing.TB) string {
	tb.Helper()
	url := os.Getenv("HOTLINE_TEST_POSTGRES")
	if url == "" {
		if os.Getenv("CI") == "true" {
			tb.Fatal("HOTLINE_TEST_POSTGRES is empty and CI=true: the PostgreSQL tests must run in CI")
		}
		tb.Skip("HOTLINE_TEST_POSTGRES is empty: skipping the PostgreSQL tests")
	}
	return url
}

// newTestSchema returns a fresh schema name, dropped with everything in it
// when the test ends.
func newTestSchema(tb testing.TB, url string) string {
	tb.Helper()
	var b [6]byte
	rand.Read(b[:])
	schema := "storetest_" + hex.EncodeToString(b[:])
	tb.Cleanup(func() {
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			tb.Errorf("dropping schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			tb.Errorf("dropping schema %s: %v", schema, err)
		}
	})
	return schema
}

func newBackend(tb testing.TB) storetest.Opener {
	url := testURL(tb)
	schema := newTestSchema(tb, url)
	return func(ctx context.Context) (store.Store, error) {
		return postgres.Open(ctx, postgres.Config{URL: url, Schema: schema})
	}
}

func TestConformance(t *testing.T) {
	storetest.Run(t, newBackend)
}
