// Package e2e holds the end-to-end tests of hotline: they build the
// hotline binary, make a testnet with it, and run each node as its own
// process ("hotline serve"), talking HTTP on loopback — the same code path
// an operator runs. Crash tests kill nodes with SIGKILL and restart them.
package e2e
