package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/hotline-net/hotline/internal/store"
	"github.com/hotline-net/hotline/internal/store/sqlite"
	"github.com/hotline-net/hotline/internal/store/storetest"
)

func openAt(ctx context.Context, path string) (store.Store, error) {
	return sqlite.Open(ctx, sqlite.Config{Path: path})
}

func TestMain(m *testing.M) { storetest.CrashMain(m, openAt) }

// TestCrash kills a writing child process 20 times with SIGKILL and checks
// after each restart that every write it acknowledged is there.
func TestCrash(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hotline.db")
	open := func(ctx context.Context) (store.Store, error) { return openAt(ctx, path) }
	storetest.Crash(t, open, 20, storetest.CrashCommand(path))
}
