// Package storetest is the conformance suite of [store.Store]: every
// implementation runs [Run] in its tests, and [Crash] for crash safety.
//
// The suite checks the contract of package store, not an implementation:
// the accept, send and delivery paths, idempotent inserts, the sequence
// counters under concurrent senders, group commit under concurrent writers
// (one failing write must not fail the others), pagination while rows
// arrive, a burst of 192 parties sending at once, inclusion proofs of
// delivered receipts (racing checkers), relays on both sides (the relay
// queue under concurrent writers, cursors across purges), equivocation
// proofs, channel health, and that closing and reopening keeps everything.
package storetest

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/internal/store"
)

// Opener opens the store under test. Every call opens the same storage:
// what one store wrote and closed, the next one opened sees.
type Opener func(ctx context.Context) (store.Store, error)

// NewBackend returns an Opener over fresh, empty storage that belongs to
// tb (removed by tb.Cleanup).
type NewBackend func(tb testing.TB) Opener

// Self is the party of the node under test.
const Self = "BER"

// base is the suite's clock: times are arguments of the store, so the
// suite never needs the real time.
var base = time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)

// Run runs the conformance suite, each test on fresh storage.
func Run(t *testing.T, newBackend NewBackend) {
	tests := []struct {
		name string
		fn   func(t *testing.T, open Opener)
	}{
		{"AcceptPath", testAcceptPath},
		{"IdempotentInsert", testIdempotentInsert},
		{"ConcurrentIdempotentInsert", testConcurrentIdempotentInsert},
		{"Sequenced", testSequenced},
		{"SequenceRule", testSequenceRule},
		{"PendingLeaves", testPendingLeaves},
		{"SendPath", testSendPath},
		{"ConcurrentSenders", testConcurrentSenders},
		{"RaiseSequence", testRaiseSequence},
		{"Delivery", testDelivery},
		{"Undelivered", testUndelivered},
		{"OutboxListing", testOutboxListing},
		{"Inbound", testInbound},
		{"Messages", testMessages},
		{"Thread", testThread},
		{"Evidence", testEvidence},
		{"PaginationWhileRowsArrive", testPaginationWhileRowsArrive},
		{"ConcurrentWriters", testConcurrentWriters},
		{"FailingWriteInBatch", testFailingWriteInBatch},
		{"Burst192", testBurst192},
		{"Inclusion", testInclusion},
		{"ConcurrentMarkIncluded", testConcurrentMarkIncluded},
		{"MarkRelayed", testMarkRelayed},
		{"RelayQueue", testRelayQueue},
		{"ConcurrentRelayPut", testConcurrentRelayPut},
		{"Equivocations", testEquivocations},
		{"Refusals", testRefusals},
		{"Witnessed", testWitnessed},
		{"PeerHealth", testPeerHealth},
		{"ConcurrentProbes", testConcurrentProbes},
		{"Agreement", testAgreement},
		{"Checkpoints", testCheckpoints},
		{"Values", testValues},
		{"InvalidInput", testInvalidInput},
		{"Cancelled", testCancelled},
		{"Closed", testClosed},
		{"CloseAndReopen", testCloseAndReopen},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, newBackend(t))
		})
	}
}

// MustOpen opens a store and closes it at the end of the test.
func MustOpen(tb testing.TB, open Opener) store.Store {
	tb.Helper()
	s, err := open(context.Background())
	if err != nil {
		tb.Fatalf("opening store: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// ID returns a deterministic id named s.
func ID(s string) hotline.ID { return sha256.Sum256([]byte(s)) }

// Raw returns n deterministic bytes named s, standing in for an
// envelope's bytes.
func Raw(s string, n int) []byte {
	b := make([]byte, 0, n+32)
	for i := 0; len(b) < n; i++ {
		h := sha256.Sum256(fmt.Appendf(nil, "%s/%d", s, i))
		b = append(b, h[:]...)
	}
	return b[:n]
}

// ReceivedEnvelope returns a received envelope named name from party from,
// carrying pair sequence number seq, with raw bytes of size n. Its previous
// id is that of the envelope named "<from> <seq-1>", so that envelopes named
// "<from> <seq>" keep the sequence rule ([store.SequenceConflictError]).
func ReceivedEnvelope(name, from string, seq uint64, n int) *store.Received {
	id := ID("envelope " + name)
	e := store.Envelope{
		Direction:     hotline.Received,
		ID:            id,
		From:          from,
		To:            []string{Self, "PAR"},
		Group:         "europe",
		Created:       base.Add(time.Duration(seq) * time.Second),
		AgreementHash: ID("agreement 1"),
		Kind:          "notification",
		Severity:      hotline.SeverityHigh,
		Marking:       hotline.TLPAmber,
		Raw:           Raw("raw "+name, n),
		Body:          []byte(`{"title":"` + name + `"}`),
		At:            base.Add(time.Duration(seq)*time.Second + time.Millisecond),
		PairSeq:       seq,
	}
	if seq > 1 {
		e.PairPrev = ID(fmt.Sprintf("envelope %s %d", from, seq-1))
	}
	return &store.Received{Envelope: e, Entry: hotline.LeafEntry(Self, hotline.Received, id)}
}

// Chain links received envelopes from one sender, in sequence order: each
// names the one before it as its previous envelope.
func Chain(rs ...*store.Received) {
	for i := 1; i < len(rs); i++ {
		rs[i].Envelope.PairPrev = rs[i-1].Envelope.ID
	}
}

// SentEnvelope returns an envelope named name from Self to the recipients,
// without its sequence numbers.
func SentEnvelope(name string, to ...string) *store.Sent {
	id := ID("envelope " + name)
	return &store.Sent{
		Envelope: store.Envelope{
			Direction:     hotline.Sent,
			ID:            id,
			From:          Self,
			To:            to,
			Created:       base,
			AgreementHash: ID("agreement 1"),
			Kind:          "assistance_request",
			Severity:      hotline.SeverityCritical,
			Marking:       hotline.TLPRed,
			Raw:           Raw("raw "+name, 1024),
			Body:          []byte(`{"title":"` + name + `"}`),
			At:            base.Add(time.Second),
		},
		Entry: hotline.LeafEntry(Self, hotline.Sent, id),
	}
}

// Log stands in for the node's log: it hands out indexes.
type Log struct{ next atomic.Uint64 }

// Append returns the next index.
func (l *Log) Append() uint64 { return l.next.Add(1) - 1 }

// IssuedReceipt returns the receipt Self issues for r at index.
func IssuedReceipt(r *store.Received, index uint64) *store.Receipt {
	return &store.Receipt{
		MessageID: r.Envelope.ID,
		Party:     Self,
		Received:  r.Envelope.At,
		LogIndex:  index,
		Note:      fmt.Appendf(nil, "hotline-receipt/v1\n%v\n%d\n\n— %s sig", r.Envelope.ID, index, Self),
	}
}

// Accept runs the accept path of a node: insert, append, sequenced with a
// receipt. It returns the receipt.
func Accept(ctx context.Context, s store.Store, log *Log, r *store.Received) (*store.Receipt, error) {
	ins, err := s.InsertReceived(ctx, r)
	if err != nil {
		return nil, err
	}
	if ins.Leaf.Sequenced {
		rc, err := s.Receipt(ctx, r.Envelope.ID, Self)
		return &rc, err
	}
	index := log.Append()
	rc := IssuedReceipt(r, index)
	if err := s.Sequenced(ctx, hotline.Received, r.Envelope.ID, index, rc); err != nil {
		return nil, err
	}
	return rc, nil
}

// Send runs the send path of a node: reserve sequence numbers, "seal",
// insert — again with fresh numbers while another send takes them — then
// append and sequenced. name names the envelope; its id depends on the
// numbers it carries, as a real envelope's does.
func Send(ctx context.Context, s store.Store, log *Log, name string, to ...string) (*store.Sent, error) {
	for try := 0; ; try++ {
		seqs, err := s.NextSequences(ctx, to)
		if err != nil {
			return nil, err
		}
		sent := SentEnvelope(fmt.Sprintf("%s %v", name, seqs), to...)
		sent.Seqs = seqs
		_, err = s.InsertSent(ctx, sent)
		if errors.Is(err, store.ErrConflict) && try < 1000 {
			continue
		}
		if err != nil {
			return nil, err
		}
		return sent, s.Sequenced(ctx, hotline.Sent, sent.Envelope.ID, log.Append(), nil)
	}
}

var cmpOpts = []cmp.Option{cmpopts.EquateEmpty()}

func mustNoErr(tb testing.TB, err error, what string) {
	tb.Helper()
	if err != nil {
		tb.Fatalf("%s: %v", what, err)
	}
}

func mustErr(tb testing.TB, err, want error, what string) {
	tb.Helper()
	if !errors.Is(err, want) {
		tb.Fatalf("%s: got error %v, want %v", what, err, want)
	}
}

// stored returns e as the store returns it once sequenced.
func stored(e store.Envelope) store.Envelope {
	e.Stored = true
	return e
}

// summary returns e as listings return it without content.
func summary(e store.Envelope) store.Envelope {
	e.Raw, e.Body = nil, nil
	return e
}
