package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"runtime"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/hotline-net/hotline/internal/store"
)

// fakeTx is a key-value "database" with transactions and savepoints, and
// faults to inject.
type fakeTx struct {
	mu        sync.Mutex
	committed map[string]int
	work      map[string]int
	saved     map[string]int

	commitGate chan struct{} // if set, Commit waits for it
	inCommit   chan struct{} // if set, Commit signals it first
	failCommit error
	failSave   error
	retryable  error

	batches [][]string // the keys each committed transaction wrote, in order
	pending []string
}

func newFakeTx() *fakeTx { return &fakeTx{committed: map[string]int{}} }

func (f *fakeTx) Begin(ctx context.Context) (*fakeTx, error) {
	f.work = maps.Clone(f.committed)
	f.pending = nil
	return f, nil
}

func (f *fakeTx) Savepoint(ctx context.Context, _ *fakeTx, stmt string) error {
	switch stmt {
	case savepoint:
		if f.failSave != nil {
			return f.failSave
		}
		f.saved = maps.Clone(f.work)
	case rollbackTo:
		f.work = maps.Clone(f.saved)
	}
	return nil
}

func (f *fakeTx) Commit(ctx context.Context, _ *fakeTx) error {
	if f.inCommit != nil {
		f.inCommit <- struct{}{}
	}
	if f.commitGate != nil {
		<-f.commitGate
	}
	if f.failCommit != nil {
		return f.failCommit
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.committed = f.work
	var keys []string
	for _, k := range f.pending {
		if _, ok := f.work[k]; ok {
			keys = append(keys, k)
		}
	}
	f.batches = append(f.batches, keys)
	return nil
}

func (f *fakeTx) Rollback(ctx context.Context, _ *fakeTx) { f.work = nil }

func (f *fakeTx) Retry(err error) bool { return f.retryable != nil && errors.Is(err, f.retryable) }

func (f *fakeTx) set(k string, v int) {
	f.work[k] = v
	f.pending = append(f.pending, k)
}

func (f *fakeTx) state() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return maps.Clone(f.committed)
}

func newTestWriter(tb testing.TB, f *fakeTx, maxBatch int) *writer[*fakeTx] {
	tb.Helper()
	w := newWriter[*fakeTx]([]batchTx[*fakeTx]{f}, maxBatch, slog.New(slog.DiscardHandler), nil)
	tb.Cleanup(w.Close)
	return w
}

// holdFirstBatch starts a write and waits until its transaction is
// committing, so that the writes queued next form one batch. release lets
// the first commit finish.
func holdFirstBatch(t *testing.T, f *fakeTx, w *writer[*fakeTx]) (release func(), done <-chan error) {
	t.Helper()
	f.commitGate = make(chan struct{})
	f.inCommit = make(chan struct{}, 1)
	errc := make(chan error, 1)
	go func() {
		errc <- w.Do(context.Background(), func(t *fakeTx) error { t.set("first", 1); return nil })
	}()
	<-f.inCommit
	return func() {
		f.inCommit = nil
		close(f.commitGate)
	}, errc
}

// queue starts n writes and waits until they are queued.
func queue(w *writer[*fakeTx], n int, fn func(i int) func(*fakeTx) error) []chan error {
	out := make([]chan error, n)
	for i := range n {
		out[i] = make(chan error, 1)
		go func() { out[i] <- w.Do(context.Background(), fn(i)) }()
	}
	for len(w.queue) < n {
		// The writer is held in Commit; the queue fills as the
		// goroutines reach Do. Yield until it has.
		waitABit()
	}
	return out
}

func TestWriterGroupsConcurrentWrites(t *testing.T) {
	f := newFakeTx()
	w := newTestWriter(t, f, 64)
	release, first := holdFirstBatch(t, f, w)
	results := queue(w, 10, func(i int) func(*fakeTx) error {
		return func(t *fakeTx) error { t.set(fmt.Sprint("k", i), i); return nil }
	})
	release()
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	for i, r := range results {
		if err := <-r; err != nil {
			t.Errorf("write %d: %v", i, err)
		}
	}
	if len(f.batches) != 2 || len(f.batches[1]) != 10 {
		t.Errorf("batches = %v, want the first write alone, then the ten together", f.batches)
	}
	if got := w.Batches.Load(); got != 2 {
		t.Errorf("Batches = %d, want 2", got)
	}
}

func TestWriterFailingWriteLeavesTheOthers(t *testing.T) {
	f := newFakeTx()
	w := newTestWriter(t, f, 64)
	release, first := holdFirstBatch(t, f, w)
	boom := errors.New("boom")
	results := queue(w, 5, func(i int) func(*fakeTx) error {
		return func(t *fakeTx) error {
			t.set(fmt.Sprint("k", i), i)
			if i == 2 {
				return boom // after writing: its write must be undone
			}
			return nil
		}
	})
	release()
	<-first
	for i, r := range results {
		err := <-r
		if i == 2 && !errors.Is(err, boom) {
			t.Errorf("failing write: %v, want %v", err, boom)
		}
		if i != 2 && err != nil {
			t.Errorf("write %d: %v", i, err)
		}
	}
	want := map[string]int{"first": 1, "k0": 0, "k1": 1, "k3": 3, "k4": 4}
	if diff := cmp.Diff(want, f.state()); diff != "" {
		t.Errorf("state (-want +got):\n%s", diff)
	}
	if got := w.Reruns.Load(); got != 1 {
		t.Errorf("Reruns = %d, want 1", got)
	}
}

func TestWriterFailedCommitFailsTheBatch(t *testing.T) {
	f := newFakeTx()
	w := newTestWriter(t, f, 64)
	release, first := holdFirstBatch(t, f, w)
	results := queue(w, 4, func(i int) func(*fakeTx) error {
		return func(t *fakeTx) error { t.set(fmt.Sprint("k", i), i); return nil }
	})
	diskFull := errors.New("disk full")
	f.failCommit = diskFull
	release()
	<-first // committed before the fault... or not: either way, nothing after it may claim success
	for i, r := range results {
		if err := <-r; !errors.Is(err, diskFull) {
			t.Errorf("write %d: %v, want %v", i, err, diskFull)
		}
	}
	for k := range f.state() {
		if k != "first" {
			t.Errorf("%s committed by a failed commit", k)
		}
	}
}

func TestWriterFailedSavepointFailsTheBatch(t *testing.T) {
	f := newFakeTx()
	w := newTestWriter(t, f, 64)
	release, first := holdFirstBatch(t, f, w)
	results := queue(w, 3, func(i int) func(*fakeTx) error {
		return func(t *fakeTx) error {
			t.set(fmt.Sprint("k", i), i)
			if i == 0 {
				return errors.New("conflict")
			}
			return nil
		}
	})
	ioErr := errors.New("I/O error")
	f.failSave = ioErr
	release()
	<-first
	for i, r := range results {
		if err := <-r; !errors.Is(err, ioErr) {
			t.Errorf("write %d: %v, want %v", i, err, ioErr)
		}
	}
	if diff := cmp.Diff(map[string]int{"first": 1}, f.state()); diff != "" {
		t.Errorf("state (-want +got):\n%s", diff)
	}
}

func TestWriterRetriesRetryableFailures(t *testing.T) {
	f := newFakeTx()
	f.retryable = errors.New("deadlock")
	w := newTestWriter(t, f, 64)
	tries := 0
	err := w.Do(context.Background(), func(t *fakeTx) error {
		tries++
		t.set("k", tries)
		if tries < 3 {
			return f.retryable
		}
		return nil
	})
	if err != nil || tries != 3 {
		t.Fatalf("Do = %v after %d tries, want success after 3", err, tries)
	}
	if diff := cmp.Diff(map[string]int{"k": 3}, f.state()); diff != "" {
		t.Errorf("state (-want +got):\n%s", diff)
	}
	err = w.Do(context.Background(), func(t *fakeTx) error { return f.retryable })
	if !errors.Is(err, f.retryable) {
		t.Errorf("Do with a lasting retryable failure = %v, want it returned", err)
	}
}

func TestWriterCancelledWhileQueuedNeverRuns(t *testing.T) {
	f := newFakeTx()
	w := newTestWriter(t, f, 64)
	release, first := holdFirstBatch(t, f, w)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		errc <- w.Do(ctx, func(t *fakeTx) error { t.set("cancelled", 1); return nil })
	}()
	for len(w.queue) < 1 {
		waitABit()
	}
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("Do = %v, want %v", err, context.Canceled)
	}
	release()
	<-first
	if err := w.Do(context.Background(), func(t *fakeTx) error { t.set("after", 1); return nil }); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]int{"first": 1, "after": 1}, f.state()); diff != "" {
		t.Errorf("state (-want +got):\n%s", diff)
	}
	if err := w.Do(ctx, func(*fakeTx) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("Do with a cancelled context = %v, want %v", err, context.Canceled)
	}
}

func TestWriterCloseFinishesQueuedWrites(t *testing.T) {
	f := newFakeTx()
	w := newWriter[*fakeTx]([]batchTx[*fakeTx]{f}, 64, slog.New(slog.DiscardHandler), nil)
	release, first := holdFirstBatch(t, f, w)
	results := queue(w, 3, func(i int) func(*fakeTx) error {
		return func(t *fakeTx) error { t.set(fmt.Sprint("k", i), i); return nil }
	})
	closed := make(chan struct{})
	go func() { w.Close(); close(closed) }()
	release()
	<-first
	<-closed
	for i, r := range results {
		if err := <-r; err != nil {
			t.Errorf("queued write %d: %v", i, err)
		}
	}
	if err := w.Do(context.Background(), func(*fakeTx) error { return nil }); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Do after Close = %v, want %v", err, store.ErrClosed)
	}
	w.Close() // twice is fine
}

// waitABit lets other goroutines run while a test polls for a condition.
func waitABit() { runtime.Gosched() }
