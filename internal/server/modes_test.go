package server_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/hotline-net/hotline/internal/server"
	"github.com/hotline-net/hotline/internal/sim"
	"github.com/hotline-net/hotline/internal/testnode"
)

// TestFolderModes (issue 18 finding 7): init makes the node folder 0700
// even when it reuses an existing folder, and the store holding decrypted
// bodies is 0600, as OPERATIONS.md says.
func TestFolderModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "BER")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := server.Init(dir, "BER", server.InitOptions{}); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(dir); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("a reused folder after init: %v, %v; want 0700", st.Mode(), err)
	}

	tn := testnode.Start(t, testnode.Config{Testnet: sim.TestnetConfig{Parties: []string{"BER", "CRI"}}, Run: []string{"CRI"}})
	folder := tn.Folder("CRI")
	for _, name := range []string{server.DatabaseFile, server.DatabaseFile + "-wal"} {
		st, err := os.Stat(filepath.Join(folder, name))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", name, st.Mode().Perm())
		}
	}
	if st, err := os.Stat(folder); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("node folder: %v, %v; want 0700", st.Mode(), err)
	}
}
