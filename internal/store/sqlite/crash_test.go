package sqlite_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/hotline-net/hotline/internal/store"
	"github.com/hotline-net/hotline/internal/store/sqlite"
	"github.com/hotline-net/hotline/internal/store/storetest"
)

// crashPathEnv names the database the crash child writes to.
const crashPathEnv = "HOTLINE_SQLITE_CRASH_PATH"

func TestMain(m *testing.M) {
	if os.Getenv(storetest.CrashChildEnv) != "" {
		path := os.Getenv(crashPathEnv)
		err := storetest.CrashChild(func(ctx context.Context) (store.Store, error) {
			return sqlite.Open(ctx, sqlite.Config{Path: path})
		})
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// TestCrash kills a writing child process 20 times with SIGKILL and checks
// after each restart that every write it acknowledged is there.
func TestCrash(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hotline.db")
	open := func(ctx context.Context) (store.Store, error) {
		return sqlite.Open(ctx, sqlite.Config{Path: path})
	}
	storetest.Crash(t, open, 20, func(round int) *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%d", storetest.CrashChildEnv, round), crashPathEnv+"="+path)
		return cmd
	})
}
