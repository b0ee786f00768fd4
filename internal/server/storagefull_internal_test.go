package server

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/hotline-net/hotline/internal/store"
)

// TestStorageFullWarns: an error line whose error is a full storage is
// written at warning level, marked storage_full; other error lines, and
// lines below error, are written as they were.
func TestStorageFullWarns(t *testing.T) {
	var b bytes.Buffer
	log := slog.New(storageFullWarns{slog.NewTextHandler(&b, nil)}).With("party", "CRI")
	log.Error("recording heartbeat", "peer", "BER", "err", fmt.Errorf("recording probe: %w", fmt.Errorf("%w: beginning transaction: x", store.ErrStorageFull)))
	log.Error("store: commit failed", "err", &os.PathError{Op: "write", Path: "hotline.db-wal", Err: syscall.ENOSPC})
	log.Error("reading checkpoints to gossip", "err", errors.New("disk I/O error"))
	log.Info("delivery attempt failed", "err", store.ErrStorageFull)
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 4 {
		t.Fatalf("%d lines:\n%s", len(lines), b.String())
	}
	for i, want := range []string{"level=WARN msg=\"recording heartbeat\" party=CRI peer=BER", "level=WARN msg=\"store: commit failed\"",
		"level=ERROR msg=\"reading checkpoints to gossip\"", "level=INFO"} {
		if !strings.Contains(lines[i], want) {
			t.Errorf("line %d: %s, want %s", i, lines[i], want)
		}
		if (i < 2) != strings.Contains(lines[i], "storage_full=true") {
			t.Errorf("line %d: %s: storage_full mark wrong", i, lines[i])
		}
	}
	// Below the handler's level, a lowered line is not written.
	b.Reset()
	quiet := slog.New(storageFullWarns{slog.NewTextHandler(&b, &slog.HandlerOptions{Level: slog.LevelError})})
	quiet.Error("recording heartbeat", "err", store.ErrStorageFull)
	if b.Len() != 0 {
		t.Errorf("written below the handler's level: %s", b.String())
	}
}
