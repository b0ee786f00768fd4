// Package clock is the time source every long-running part of a node is
// given: the node, the outbox, the relay, heartbeats and the inclusion
// checker take a [Clock] in their Config and default to [System], so that
// tests and the demo can move time instead of waiting for it.
package clock

import "time"

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
