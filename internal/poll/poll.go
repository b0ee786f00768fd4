// Package poll waits for a condition that real time makes true: a log's
// timer publishing a checkpoint, a node in another process answering, a
// delivery going through. It is the one polling helper of the tests (and
// fits a program's own waits too: [Until]): they poll until a deadline
// and never sleep a fixed time, and a deadline that passes fails the test
// with what it waited for.
package poll

import (
	"context"
	"time"
)

// Timeout is how long [Must] and [MustTrue] wait: far longer than a
// condition takes on a loaded machine, so that only a failing test
// reaches it.
const Timeout = time.Minute

// Interval is how often [Must] and [MustTrue] ask.
const Interval = 10 * time.Millisecond

// Until asks cond every interval until it holds (nil), fails (its error),
// or ctx ends (ctx's error).
func Until(ctx context.Context, interval time.Duration, cond func() (bool, error)) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		ok, err := cond()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// TB is what Must needs of a test: testing.TB has it.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
}

// Must polls cond until it holds; it fails tb if cond returns an error or
// Timeout passes first. what says what the test waits for.
func Must(tb TB, what string, cond func() (bool, error)) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	if err := Until(ctx, Interval, cond); err != nil {
		if ctx.Err() != nil {
			tb.Fatalf("timed out after %v waiting for %s", Timeout, what)
		}
		tb.Fatalf("waiting for %s: %v", what, err)
	}
}

// MustTrue is [Must] for a condition that cannot fail.
func MustTrue(tb TB, what string, cond func() bool) {
	tb.Helper()
	Must(tb, what, func() (bool, error) { return cond(), nil })
}
