package postgres_test

import (
	"context"
	"os"
	"testing"

	"github.com/hotline-net/hotline/internal/store"
	"github.com/hotline-net/hotline/internal/store/postgres"
	"github.com/hotline-net/hotline/internal/store/storetest"
)

// openSchema opens the store in a schema of the PostgreSQL the tests use;
// a crash child inherits HOTLINE_TEST_POSTGRES.
func openSchema(ctx context.Context, schema string) (store.Store, error) {
	return postgres.Open(ctx, postgres.Config{URL: os.Getenv("HOTLINE_TEST_POSTGRES"), Schema: schema})
}

func TestMain(m *testing.M) { storetest.CrashMain(m, openSchema) }

// TestCrash kills a writing child process 10 times with SIGKILL and checks
// after each restart that every write it acknowledged is there.
func TestCrash(t *testing.T) {
	schema := newTestSchema(t, testURL(t))
	open := func(ctx context.Context) (store.Store, error) { return openSchema(ctx, schema) }
	storetest.Crash(t, open, 10, storetest.CrashCommand(schema))
}
