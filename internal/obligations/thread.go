package obligations

import "github.com/hotline-net/hotline"

// ThreadState is the state of a thread.
type ThreadState string

// The states of a thread, from its messages.
const (
	// ThreadOpen: nobody has acknowledged or answered yet.
	ThreadOpen ThreadState = "open"
	// ThreadAcknowledged: an ack refers to a message of the thread.
	ThreadAcknowledged ThreadState = "acknowledged"
	// ThreadResponded: a response refers to a message of the thread.
	ThreadResponded ThreadState = "responded"
	// ThreadClosed: a closure ended it.
	ThreadClosed ThreadState = "closed"
	// ThreadRetracted: its first message was retracted by its sender.
	ThreadRetracted ThreadState = "retracted"
)

// StateOf returns the state of thread given its messages (others are
// ignored): retracted if its sender retracted its first message, closed
// after a closure, else responded, acknowledged or open by the furthest
// reply it holds.
func StateOf(thread hotline.ID, msgs []Message) ThreadState {
	var first *Message
	for i := range msgs {
		if msgs[i].ID == thread {
			first = &msgs[i]
		}
	}
	st := ThreadOpen
	for i := range msgs {
		m := &msgs[i]
		if m.ThreadID() != thread {
			continue
		}
		switch m.Kind {
		case "retraction":
			for _, r := range m.Refs {
				if r == thread && first != nil && m.From == first.From {
					return ThreadRetracted
				}
			}
		case "closure":
			st = ThreadClosed
		case "response":
			if st != ThreadClosed {
				st = ThreadResponded
			}
		case "ack":
			if st == ThreadOpen {
				st = ThreadAcknowledged
			}
		}
	}
	return st
}
