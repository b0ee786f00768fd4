package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/hotline-net/hotline/internal/store"
	"github.com/hotline-net/hotline/internal/store/sqlite"
	"github.com/hotline-net/hotline/internal/store/storetest"
)

func newBackend(tb testing.TB) storetest.Opener {
	path := filepath.Join(tb.TempDir(), "hotline.db")
	return func(ctx context.Context) (store.Store, error) {
		return sqlite.Open(ctx, sqlite.Config{Path: path})
	}
}

func TestConformance(t *testing.T) {
	storetest.Run(t, newBackend)
}
