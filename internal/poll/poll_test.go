package poll

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"
)

// fakeTB records what Must reports.
type fakeTB struct{ failed string }

func (f *fakeTB) Helper() {}
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.failed = fmt.Sprintf(format, args...)
	panic(f) // as testing.TB's Fatalf ends the test's goroutine
}

func must(tb *fakeTB, cond func() (bool, error)) {
	defer func() {
		if r := recover(); r != nil && r != tb {
			panic(r)
		}
	}()
	Must(tb, "the thing", cond)
}

func TestMust(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		calls := 0
		start := time.Now()
		tb := &fakeTB{}
		must(tb, func() (bool, error) { calls++; return calls == 5, nil })
		if tb.failed != "" || calls != 5 || time.Since(start) != 4*Interval {
			t.Errorf("holding on the 5th call: failed %q, %d calls, %v", tb.failed, calls, time.Since(start))
		}

		tb = &fakeTB{}
		must(tb, func() (bool, error) { return false, nil })
		if want := "timed out after 1m0s waiting for the thing"; tb.failed != want {
			t.Errorf("never holding: %q, want %q", tb.failed, want)
		}

		tb = &fakeTB{}
		must(tb, func() (bool, error) { return false, errors.New("no store") })
		if want := "waiting for the thing: no store"; tb.failed != want {
			t.Errorf("failing: %q, want %q", tb.failed, want)
		}
	})
}

func TestUntil(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := Until(ctx, 100*time.Millisecond, func() (bool, error) { return false, nil }); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Until past the deadline: %v", err)
		}
	})
}
