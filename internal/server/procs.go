package server

import (
	"os"
	"runtime"
	"runtime/debug"
)

// SyncWriters is how many goroutines of a node spend most of their time
// blocked in synchronous disk writes: the log's sequencer (Tessera writes
// every file of a batch with O_SYNC and fsyncs its directory) and the
// store's single SQLite writer (one fsync per commit).
const SyncWriters = 2

// TuneProcs raises GOMAXPROCS by SyncWriters, unless the GOMAXPROCS
// environment variable sets it, and returns the value in force.
//
// A goroutine blocked in a system call keeps its P until the runtime's
// monitor takes it back, which under load can take milliseconds: with
// GOMAXPROCS at the number of cores, a node whose two writers sit in fsync
// leaves cores idle while dozens of requests wait to verify and open
// envelopes. Two more Ps keep every core busy (docs/PERFORMANCE.md, Node:
// +25% messages/s on 2 cores).
func TuneProcs() int {
	if os.Getenv("GOMAXPROCS") != "" {
		return runtime.GOMAXPROCS(0)
	}
	n := runtime.GOMAXPROCS(0) + SyncWriters
	runtime.GOMAXPROCS(n)
	return n
}

// GCPercent is the garbage collector's target heap growth for a serving
// node, unless the GOGC environment variable sets one. A node's live heap
// is small (tens of MB: envelopes live in the store, not in memory), and
// every accepted envelope allocates about 50 KB of short-lived buffers
// (HTTP, parsing, HPKE's key schedule), so the default of 100 spends 7% of
// the node's CPU collecting; 400 trades a few tens of MB for most of it
// (+8% messages/s, docs/PERFORMANCE.md).
const GCPercent = 400

// TuneGC sets the garbage collector's target to GCPercent unless the GOGC
// environment variable sets it, and returns the value in force.
func TuneGC() int {
	if os.Getenv("GOGC") != "" {
		current := debug.SetGCPercent(100) // reads it; set back below
		debug.SetGCPercent(current)
		return current
	}
	debug.SetGCPercent(GCPercent)
	return GCPercent
}
