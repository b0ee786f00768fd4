package postgres_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"testing"

	"github.com/hotline-net/hotline/internal/store"
	"github.com/hotline-net/hotline/internal/store/postgres"
	"github.com/hotline-net/hotline/internal/store/storetest"
)

// crashSchemaEnv names the schema the crash child writes to; the URL comes
// from HOTLINE_TEST_POSTGRES, which the child inherits.
const crashSchemaEnv = "HOTLINE_POSTGRES_CRASH_SCHEMA"

func TestMain(m *testing.M) {
	if os.Getenv(storetest.CrashChildEnv) != "" {
		url, schema := os.Getenv("HOTLINE_TEST_POSTGRES"), os.Getenv(crashSchemaEnv)
		err := storetest.CrashChild(func(ctx context.Context) (store.Store, error) {
			return postgres.Open(ctx, postgres.Config{URL: url, Schema: schema})
		})
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// TestCrash kills a writing child process 10 times with SIGKILL and checks
// after each restart that every write it acknowledged is there.
func TestCrash(t *testing.T) {
	url := testURL(t)
	schema := newTestSchema(t, url)
	open := func(ctx context.Context) (store.Store, error) {
		return postgres.Open(ctx, postgres.Config{URL: url, Schema: schema})
	}
	storetest.Crash(t, open, 10, func(round int) *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%d", storetest.CrashChildEnv, round), crashSchemaEnv+"="+schema)
		return cmd
	})
}
