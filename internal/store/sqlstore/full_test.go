package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/internal/poll"
	"github.com/hotline-net/hotline/internal/store"
	"github.com/hotline-net/hotline/internal/store/sqlstore"
	"github.com/hotline-net/hotline/internal/store/storetest"
)

// storageFull is what the engines' stores report of full storage.
type storageFull interface{ StorageFull() (int64, bool) }

// TestFullDiskErrorsClassify: the operating system's "no space" errors,
// as os and syscall return them (a *PathError wrapping ENOSPC or EDQUOT),
// reaching the writer however deep they are wrapped, fail the write with
// store.ErrStorageFull, keeping the cause; other errors do not.
func TestFullDiskErrorsClassify(t *testing.T) {
	var fail atomic.Pointer[error]
	hook := func() error {
		if p := fail.Load(); p != nil {
			return *p
		}
		return nil
	}
	forEnginesWith(t, hook, func(t *testing.T, s store.Store) {
		defer fail.Store(nil)
		ctx := context.Background()
		for _, tt := range []struct {
			err  error
			full bool
		}{
			{&os.PathError{Op: "write", Path: "hotline.db-wal", Err: syscall.ENOSPC}, true},
			{fmt.Errorf("fsync: %w", &os.PathError{Op: "write", Path: "hotline.db", Err: syscall.EDQUOT}), true},
			{syscall.ENOSPC, true},
			{&os.PathError{Op: "write", Path: "hotline.db", Err: syscall.EIO}, false},
			{errors.New("no space left on device"), false}, // a message is not a cause
		} {
			fail.Store(&tt.err)
			err := s.SetValue(ctx, "k", []byte("v"))
			if err == nil || errors.Is(err, store.ErrStorageFull) != tt.full {
				t.Errorf("a write failing with %v: %v, want ErrStorageFull %v", tt.err, err, tt.full)
			}
			if !errors.Is(err, tt.err) {
				t.Errorf("a write failing with %v: %v lost the cause", tt.err, err)
			}
		}
		fail.Store(nil)
		if err := s.SetValue(ctx, "k", []byte("v")); err != nil {
			t.Fatal(err)
		}
	})
}

// TestFailWhileExists: with the fault-injection hook, every write fails
// with store.ErrStorageFull while its file exists — alone, in a batch of
// concurrent writes, on the accept and send paths — and reads are served;
// once the file is removed, the same writes succeed with no reopening.
func TestFailWhileExists(t *testing.T) {
	file := filepath.Join(t.TempDir(), "store-full")
	forEnginesWith(t, sqlstore.FailWhileExists(file), func(t *testing.T, s store.Store) {
		ctx := context.Background()
		defer os.Remove(file)
		var log storetest.Log
		first := storetest.ReceivedEnvelope("CRI 1", "CRI", 1, 512)
		if _, err := storetest.Accept(ctx, s, &log, first); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		// The hook looks at the file every 100 ms.
		poll.Must(t, "writes failing", func() (bool, error) {
			err := s.SetValue(ctx, "probe", []byte("x"))
			return errors.Is(err, store.ErrStorageFull), nil
		})
		second := storetest.ReceivedEnvelope("CRI 2", "CRI", 2, 512)
		storetest.Chain(first, second)
		if _, err := s.InsertReceived(ctx, second); !errors.Is(err, store.ErrStorageFull) || !errors.Is(err, syscall.ENOSPC) {
			t.Errorf("InsertReceived: %v, want ErrStorageFull wrapping ENOSPC", err)
		}
		if _, err := storetest.Send(ctx, s, &log, "sent", "CRI"); !errors.Is(err, store.ErrStorageFull) {
			t.Errorf("the send path: %v, want ErrStorageFull", err)
		}
		var wg sync.WaitGroup
		errs := make([]error, 16)
		for i := range errs {
			wg.Go(func() { errs[i] = s.SetValue(ctx, fmt.Sprint("k", i), []byte("v")) })
		}
		wg.Wait()
		for i, err := range errs {
			if !errors.Is(err, store.ErrStorageFull) {
				t.Errorf("concurrent write %d: %v, want ErrStorageFull", i, err)
			}
		}
		// Reads are served.
		if _, err := s.Envelope(ctx, hotline.Received, first.Envelope.ID); err != nil {
			t.Errorf("reading an envelope: %v", err)
		}
		if _, err := s.Receipt(ctx, first.Envelope.ID, storetest.Self); err != nil {
			t.Errorf("reading a receipt: %v", err)
		}
		if _, err := s.HighWater(ctx); err != nil {
			t.Errorf("reading the high-water mark: %v", err)
		}
		if _, err := s.Envelope(ctx, hotline.Received, second.Envelope.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("the refused envelope: %v, want ErrNotFound", err)
		}
		if n, now := s.(storageFull).StorageFull(); n < 19 || !now {
			t.Errorf("StorageFull() = %d, %v; want at least 19, true", n, now)
		}

		if err := os.Remove(file); err != nil {
			t.Fatal(err)
		}
		poll.Must(t, "writes succeeding", func() (bool, error) {
			err := s.SetValue(ctx, "probe", []byte("x"))
			if errors.Is(err, store.ErrStorageFull) {
				return false, nil
			}
			return err == nil, err
		})
		if _, err := storetest.Accept(ctx, s, &log, second); err != nil {
			t.Errorf("accepting the refused envelope again: %v", err)
		}
		if _, err := storetest.Send(ctx, s, &log, "sent", "CRI"); err != nil {
			t.Errorf("sending again: %v", err)
		}
		if _, now := s.(storageFull).StorageFull(); now {
			t.Error("StorageFull() still reports full after writes succeeded")
		}
	})
}
