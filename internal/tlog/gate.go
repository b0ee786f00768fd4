package tlog

import (
	"sync"

	"github.com/transparency-dev/tessera"
)

// gate is group commit in front of Tessera's queue. Tessera cuts a batch
// when its first entry has waited BatchMaxAge, whether or not the previous
// batch is still being written; under a steady flow that makes batches of
// one or two entries, each paying the full cost of a batch (about ten
// fsyncs). The gate lets one batch at a time through: entries that arrive
// while a batch is being sequenced wait, and go to Tessera together the
// moment it is done. A lone caller passes straight through, so its wait is
// unchanged; under load, batches grow to what arrived during one write.
type gate struct {
	add  func(*tessera.Entry) tessera.IndexFuture
	done func() // called once per entry when its index (or error) is known

	mu      sync.Mutex
	busy    bool
	waiting []*gateEntry
}

type gateEntry struct {
	entry *tessera.Entry
	idx   tessera.Index
	err   error
	ready chan struct{}
}

// append queues e and returns its pending result; ready is closed once
// idx and err are set.
func (g *gate) append(e *tessera.Entry) *gateEntry {
	r := &gateEntry{entry: e, ready: make(chan struct{})}
	g.mu.Lock()
	g.waiting = append(g.waiting, r)
	start := !g.busy
	g.busy = true
	g.mu.Unlock()
	if start {
		go g.run()
	}
	return r
}

// run hands Tessera what is waiting, waits until all of it is sequenced,
// and repeats until nothing waits.
func (g *gate) run() {
	for {
		g.mu.Lock()
		batch := g.waiting
		g.waiting = nil
		if len(batch) == 0 {
			g.busy = false
			g.mu.Unlock()
			return
		}
		g.mu.Unlock()
		futures := make([]tessera.IndexFuture, len(batch))
		for i, r := range batch {
			futures[i] = g.add(r.entry)
		}
		for i, r := range batch {
			r.idx, r.err = futures[i]()
			close(r.ready)
			g.done()
		}
	}
}
