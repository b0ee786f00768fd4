package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/hotline-net/hotline/internal/store"
)

// batchTx is what a [writer] needs from a database: one transaction at a time,
// with savepoints. T is the handle operations write through.
type batchTx[T any] interface {
	// Begin starts a write transaction and returns the handle operations
	// use.
	Begin(ctx context.Context) (T, error)
	// Savepoint runs one of the statements that manage the savepoint each
	// operation of a batch runs in: savepoint, release or rollbackTo.
	Savepoint(ctx context.Context, t T, stmt string) error
	// Commit makes the transaction durable; Rollback abandons it.
	Commit(ctx context.Context, t T) error
	Rollback(ctx context.Context, t T)
	// Retry reports whether an operation that failed with err may succeed
	// if run again in the same transaction (a deadlock or serialization
	// failure among several writing processes).
	Retry(err error) bool
}

// writer applies write operations, batching the operations that queue up
// while a transaction commits into the next transaction: concurrent writers
// share one transaction and one fsync. An operation that fails is undone
// alone (see commitBatch).
//
// A writer has one worker goroutine per batchTx it is given, each taking its
// batches from the same queue. SQLite has one; PostgreSQL, where a batch
// spends most of its time waiting for round trips and the server runs
// transactions side by side, has several.
//
// writer is safe for concurrent use. Close stops it after the queued
// operations.
type writer[T any] struct {
	log      *slog.Logger
	maxBatch int

	mu      sync.RWMutex // guards closing against sends on queue
	closing bool
	queue   chan *op[T]
	wg      sync.WaitGroup

	// committed, if set, is called on the writer's goroutine after each
	// commit with the number of operations it held.
	committed func(ops int)

	// Batches and Ops count the transactions committed and the operations
	// they held; Reruns counts the batches run again with savepoints
	// because an operation failed. For tests and metrics.
	Batches, Ops, Reruns atomic.Int64
}

const (
	opQueued int32 = iota
	opTaken
	opAbandoned
)

// The statements of an operation's savepoint.
const (
	savepoint  = "SAVEPOINT op"
	release    = "RELEASE SAVEPOINT op"
	rollbackTo = "ROLLBACK TO SAVEPOINT op"
)

// maxRetries bounds how often an operation is run again after a retryable
// failure.
const maxRetries = 5

type op[T any] struct {
	fn    func(T) error
	state atomic.Int32
	done  chan error
}

// newWriter starts a writer with one worker per tx, each putting at most
// maxBatch operations in one transaction. If committed is not nil, each
// worker calls it after each commit with the number of operations the
// transaction held.
func newWriter[T any](txs []batchTx[T], maxBatch int, log *slog.Logger, committed func(ops int)) *writer[T] {
	w := &writer[T]{
		log:       log,
		maxBatch:  maxBatch,
		committed: committed,
		queue:     make(chan *op[T], maxBatch*len(txs)),
	}
	for _, tx := range txs {
		w.wg.Add(1)
		go w.run(tx)
	}
	return w
}

// Do queues fn and waits until the transaction that ran it commits. fn runs
// on the writer's goroutine, in a savepoint of a transaction other
// operations share; it must only use the handle it is given, and must not
// keep results anywhere but in variables its caller reads after Do returns
// nil. fn may run more than once (see batchTx.Retry).
//
// If ctx ends while fn is still queued, Do returns the context's error and
// fn never runs. Once fn has started, Do waits for the outcome.
func (w *writer[T]) Do(ctx context.Context, fn func(T) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	o := &op[T]{fn: fn, done: make(chan error, 1)}
	w.mu.RLock()
	if w.closing {
		w.mu.RUnlock()
		return store.ErrClosed
	}
	select {
	case w.queue <- o:
	case <-ctx.Done():
		w.mu.RUnlock()
		return ctx.Err()
	}
	w.mu.RUnlock()
	select {
	case err := <-o.done:
		return err
	case <-ctx.Done():
		if o.state.CompareAndSwap(opQueued, opAbandoned) {
			return ctx.Err()
		}
		return <-o.done
	}
}

// Close waits for the queued operations to finish and stops the writer.
// Later calls to Do return store.ErrClosed.
func (w *writer[T]) Close() {
	w.mu.Lock()
	if !w.closing {
		w.closing = true
		close(w.queue)
	}
	w.mu.Unlock()
	w.wg.Wait()
}

func (w *writer[T]) run(tx batchTx[T]) {
	defer w.wg.Done()
	batch := make([]*op[T], 0, w.maxBatch)
	for {
		o, ok := <-w.queue
		if !ok {
			return
		}
		batch = append(batch[:0], o)
	fill:
		for len(batch) < w.maxBatch {
			select {
			case o, ok := <-w.queue:
				if !ok {
					break fill
				}
				batch = append(batch, o)
			default:
				break fill
			}
		}
		w.runBatch(tx, batch)
	}
}

func (w *writer[T]) runBatch(tx batchTx[T], batch []*op[T]) {
	live := batch[:0]
	for _, o := range batch {
		if o.state.CompareAndSwap(opQueued, opTaken) {
			live = append(live, o)
		}
	}
	if len(live) == 0 {
		return
	}
	// The writer's work is never cut short by one caller's context: an
	// operation that started is committed or rolled back as a whole.
	ctx := context.Background()
	errs := make([]error, len(live))
	err := w.commitBatch(ctx, tx, live, errs)
	for i, o := range live {
		if err != nil {
			o.done <- err
		} else {
			o.done <- errs[i]
		}
	}
}

// commitBatch runs the operations in one transaction and commits it. It
// returns an error when the whole batch failed; otherwise errs holds each
// operation's own outcome.
//
// A batch first runs without savepoints, which cost a statement each and a
// copy of every page an operation touches. If an operation fails, the
// transaction is rolled back and the batch runs again with a savepoint per
// operation, so that the failure is undone alone. Operations before the
// failing one find the same state the second time, so they do the same;
// operations are closures over their inputs that reset their results, so
// running them twice is safe.
func (w *writer[T]) commitBatch(ctx context.Context, tx batchTx[T], live []*op[T], errs []error) error {
	savepoints := false
	for try := 0; ; try++ {
		t, err := tx.Begin(ctx)
		if err != nil {
			return fmt.Errorf("beginning transaction: %w", err)
		}
		switch {
		case len(live) == 1:
			// Alone in its transaction, an operation needs no
			// savepoint: rolling back the transaction undoes it, and a
			// retryable failure is retried in a new transaction.
			if err := live[0].fn(t); err != nil {
				tx.Rollback(ctx, t)
				if tx.Retry(err) && try < maxRetries {
					continue
				}
				return err
			}
		case !savepoints:
			failed := false
			for _, o := range live {
				if err := o.fn(t); err != nil {
					failed = true
					break
				}
			}
			if failed {
				tx.Rollback(ctx, t)
				w.Reruns.Add(1)
				savepoints = true
				continue
			}
		default:
			for i, o := range live {
				opErr, fatal := w.runInSavepoint(ctx, tx, t, o.fn)
				if fatal != nil {
					tx.Rollback(ctx, t)
					return fatal
				}
				errs[i] = opErr
			}
		}
		if err := tx.Commit(ctx, t); err != nil {
			w.log.Error("store: commit failed", "operations", len(live), "err", err)
			tx.Rollback(ctx, t)
			return fmt.Errorf("committing: %w", err)
		}
		w.Batches.Add(1)
		w.Ops.Add(int64(len(live)))
		if w.committed != nil {
			w.committed(len(live))
		}
		return nil
	}
}

// runInSavepoint runs fn in a savepoint. opErr is fn's own failure (its
// effects undone); fatal means the transaction itself is lost and every
// operation of the batch fails.
func (w *writer[T]) runInSavepoint(ctx context.Context, tx batchTx[T], t T, fn func(T) error) (opErr, fatal error) {
	for try := 0; ; try++ {
		if err := tx.Savepoint(ctx, t, savepoint); err != nil {
			return nil, fmt.Errorf("savepoint: %w", err)
		}
		err := fn(t)
		if err == nil {
			if err := tx.Savepoint(ctx, t, release); err != nil {
				return nil, fmt.Errorf("releasing savepoint: %w", err)
			}
			return nil, nil
		}
		if rerr := tx.Savepoint(ctx, t, rollbackTo); rerr != nil {
			// The database gave up the transaction (SQLite does on
			// some I/O errors): nothing of the batch survives.
			return nil, errors.Join(err, fmt.Errorf("rolling back to savepoint: %w", rerr))
		}
		if err := tx.Savepoint(ctx, t, release); err != nil {
			return nil, fmt.Errorf("releasing savepoint: %w", err)
		}
		if !tx.Retry(err) || try >= maxRetries {
			return err, nil
		}
	}
}
