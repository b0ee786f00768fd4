// Package clock is the time source every long-running part of a node is
// given: the node, the outbox, the relay, heartbeats and the inclusion
// checker take a [Clock] in their Config and default to [System], so that
// tests and the demo can move time instead of waiting for it.
package clock

import (
	"sync"
	"time"
)

// Clock tells the time. Implementations are safe for concurrent use.
type Clock interface {
	Now() time.Time
}

// System is the system clock.
type System struct{}

// Now returns the current time.
func (System) Now() time.Time { return time.Now() }

// Or returns c, or the system clock if c is nil.
func Or(c Clock) Clock {
	if c == nil {
		return System{}
	}
	return c
}

// Fake is a clock that stands where it is put and moves when told: for
// tests and simulations that must not wait for time to pass. The zero
// value stands at the zero time. It is safe for concurrent use.
type Fake struct {
	mu  sync.Mutex
	now time.Time
}

// NewFake returns a fake clock standing at t.
func NewFake(t time.Time) *Fake { return &Fake{now: t} }

// Now returns the fake time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// Set puts the clock at t.
func (f *Fake) Set(t time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = t
}

// Advance moves the clock on by d.
func (f *Fake) Advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
}

// Offset is a clock that runs a fixed duration By away from Base (the
// system clock if nil): a node whose clock is wrong by By, for fault
// injection (HOTLINE_FAULT_CLOCK_OFFSET) and for tests of clock skew.
type Offset struct {
	Base Clock
	By   time.Duration
}

// Now returns Base's time moved by By.
func (o Offset) Now() time.Time { return Or(o.Base).Now().Add(o.By) }
