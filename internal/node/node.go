// Package node is one party's hotline node: it accepts envelopes from peers,
// sends its operators' messages, and keeps every message it sent or received
// in its store and its log, in that order, so that a receipt always means
// durable.
//
// # Accept
//
// [Node.Accept] takes a recipient's view from a peer and follows DESIGN.md
// §5 step by step: parse → the agreement version the envelope names → the
// sender and its message key → created not in the future → signature → this
// node is a recipient → already have it? return the stored receipt → open →
// template check → pending row → log entry → receipt. Every refusal is a
// [*hotline.Error] with a stable code, changes nothing, and is counted.
//
// # Send
//
// [Node.Send] validates the body against its kind's template, expands the
// group, seals to each recipient's current encryption key with per-pair
// sequence numbers, and stores the envelope, its log entry and one outbox row
// per recipient before anything leaves the node. The outbox (package
// outbox) then calls [Node.RecordReceipt] with each recipient's receipt,
// or [Node.RecordRelayed] with a relay's.
//
// # Reading
//
// [Node.Counts], [Node.Messages], [Node.Message] and [Node.Equivocations]
// are what the operator API and the web UI read; they need not reach into
// the store.
//
// # Start-up
//
// [New] resolves the pending leaves a crash left behind: each one found in
// the log above the store's high-water mark is recorded at its index; the
// others are appended again. Only then does the node accept or send.
package node

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/agreement"
	"github.com/hotline-net/hotline/internal/clock"
	"github.com/hotline-net/hotline/internal/store"
	"github.com/hotline-net/hotline/internal/tlog"
)

// Clock tells the time. Tests and the demo use a clock they can move.
type Clock = clock.Clock

// BodyChecker checks a message body against its kind's template. It is
// declared here, where it is used; package body provides the templates.
type BodyChecker interface {
	// CheckBody returns an error, whose message says what is wrong, if body
	// is not a valid body of the kind under the given marking.
	CheckBody(kind string, marking hotline.Marking, body []byte) error
}

// Log is what the node needs of its log (package tlog's *Log).
type Log interface {
	Origin() string
	Append(ctx context.Context, entry [hotline.EntrySize]byte) (uint64, error)
	EntriesFrom(ctx context.Context, size uint64) iter.Seq2[tlog.Entry, error]
}

var _ Log = (*tlog.Log)(nil)

// Config configures a [Node]. Keys, Agreement, Store, Log and Bodies are
// required; every other zero value is a documented default.
type Config struct {
	// Keys are this party's keys; the root key is not needed.
	Keys *hotline.KeySet
	// OldEncryptionKeys are retired encryption keys kept until every
	// message sealed to them has been opened.
	OldEncryptionKeys []*hotline.EncryptionKey
	// Agreement is the agreement in force; see [Node.SetAgreement].
	Agreement *agreement.Agreement
	Store     store.Store
	Log       Log
	Bodies    BodyChecker
	// Clock defaults to the system clock.
	Clock Clock
	// Logger defaults to discarding.
	Logger *slog.Logger
	// Limits bound accepted envelopes; zero fields are the protocol's
	// defaults.
	Limits hotline.Limits
	// Metrics, if set, counts what the node does.
	Metrics *Metrics
	// BeforeAppend, if set, is called after an envelope's pending row is
	// stored and before its entry is appended to the log: a fault-injection
	// point for crash tests, nil in production.
	BeforeAppend func(dir hotline.Direction, id hotline.ID)
	// MaxRefusals bounds the signed refusals kept per sender; zero means
	// DefaultMaxRefusals.
	MaxRefusals int
	// OnSequenceConflict, if set, is called once for each new proof that
	// a sender broke the sequence rule (after it is stored): the alarm.
	OnSequenceConflict func(*hotline.SequenceConflict)
}

// Node is one party's node. It is safe for concurrent use.
type Node struct {
	party   string
	keys    *hotline.KeySet
	encKeys []*hotline.EncryptionKey
	agr     atomic.Pointer[agreement.Agreement]
	store   store.Store
	log     Log
	bodies  BodyChecker
	clock   Clock
	logger  *slog.Logger
	limits  hotline.Limits
	metrics *Metrics
	before  func(hotline.Direction, hotline.ID)
	onSeq   func(*hotline.SequenceConflict)

	maxRefusals int

	locks keyedMutex
	// seqMu makes this node's sends take sequence numbers one at a time.
	seqMu sync.Mutex
	// records tracks the receipts being recorded in the background;
	// retries, those whose record failed, tried again until the store
	// takes them.
	records, retries background

	// kick wakes delivery when a sent envelope is stored.
	kickMu sync.Mutex
	kicks  []chan<- struct{}
}

// New returns a node for cfg, after resolving the pending leaves a crash
// may have left behind.
func New(ctx context.Context, cfg Config) (*Node, error) {
	switch {
	case cfg.Keys == nil || cfg.Keys.Message == nil || cfg.Keys.Encryption == nil:
		return nil, errors.New("node: Keys with a message and an encryption key are required")
	case cfg.Agreement == nil:
		return nil, errors.New("node: Agreement is required")
	case cfg.Store == nil || cfg.Log == nil:
		return nil, errors.New("node: Store and Log are required")
	case cfg.Bodies == nil:
		return nil, errors.New("node: Bodies is required")
	}
	n := &Node{
		party:   cfg.Keys.Party,
		keys:    cfg.Keys,
		encKeys: append([]*hotline.EncryptionKey{cfg.Keys.Encryption}, cfg.OldEncryptionKeys...),
		store:   cfg.Store,
		log:     cfg.Log,
		bodies:  cfg.Bodies,
		clock:   cfg.Clock,
		logger:  cfg.Logger,
		limits:  cfg.Limits,
		metrics: cfg.Metrics,
		before:  cfg.BeforeAppend,
		onSeq:   cfg.OnSequenceConflict,

		maxRefusals: cfg.MaxRefusals,
	}
	n.clock = clock.Or(n.clock)
	if n.logger == nil {
		n.logger = slog.New(slog.DiscardHandler)
	}
	if n.metrics == nil {
		n.metrics = NewMetrics(nil)
	}
	if _, err := cfg.Agreement.Party(n.party); err != nil {
		return nil, fmt.Errorf("node: %s is not a party to the agreement: %w", n.party, err)
	}
	if origin, err := cfg.Agreement.LogOrigin(n.party); err != nil {
		return nil, fmt.Errorf("node: %w", err)
	} else if origin != cfg.Log.Origin() {
		return nil, fmt.Errorf("node: the log's origin is %q, the agreement says %q", cfg.Log.Origin(), origin)
	}
	n.agr.Store(cfg.Agreement)
	if err := n.reconcile(ctx); err != nil {
		return nil, fmt.Errorf("node: resolving pending log entries: %w", err)
	}
	if err := n.logRefusals(ctx); err != nil {
		return nil, fmt.Errorf("node: logging stored refusals: %w", err)
	}
	return n, nil
}

// Party returns this node's party id.
func (n *Node) Party() string { return n.party }

// Agreement returns the agreement in force.
func (n *Node) Agreement() *agreement.Agreement { return n.agr.Load() }

// SetAgreement replaces the agreement with a newer one that extends it.
func (n *Node) SetAgreement(a *agreement.Agreement) error {
	if err := a.Extends(n.agr.Load()); err != nil {
		return err
	}
	n.agr.Store(a)
	return nil
}

// Store returns the node's store.
func (n *Node) Store() store.Store { return n.store }

// Keys returns the node's keys.
func (n *Node) Keys() *hotline.KeySet { return n.keys }

// Clock returns the node's clock.
func (n *Node) Clock() Clock { return n.clock }

// Logger returns the node's logger.
func (n *Node) Logger() *slog.Logger { return n.logger }

// Metrics returns the node's metrics.
func (n *Node) Metrics() *Metrics { return n.metrics }

// Limits returns the limits on accepted envelopes.
func (n *Node) Limits() hotline.Limits { return n.limits }

// OnSent registers a channel that receives a value (without blocking) each
// time a sent envelope is stored and its outbox rows become due.
func (n *Node) OnSent(c chan<- struct{}) {
	n.kickMu.Lock()
	defer n.kickMu.Unlock()
	n.kicks = append(n.kicks, c)
}

func (n *Node) kick() {
	n.kickMu.Lock()
	defer n.kickMu.Unlock()
	for _, c := range n.kicks {
		select {
		case c <- struct{}{}:
		default:
		}
	}
}

// Close waits for the receipts being recorded in the background, stops
// trying again those whose record failed (start-up records them), and
// makes later ones be recorded before Accept returns. Call it before
// closing the store; the node keeps working otherwise.
func (n *Node) Close() {
	n.records.close()
	n.retries.close()
}

// Settle waits until every receipt Accept returned before the call is
// recorded in the store (a few milliseconds at most), so that a read after
// it lists every envelope a sender holds a receipt for. Readers that show
// the store to operators call it first. A receipt whose record failed (the
// store cannot write) is not waited for: it is tried again apart, and
// reads go on meanwhile.
func (n *Node) Settle(ctx context.Context) error { return n.records.settle(ctx) }

// background tracks the goroutines recording receipts: the store must not
// close under them, and readers may wait for those running (settle).
type background struct {
	mu      sync.Mutex
	closing bool
	stop    chan struct{}              // closed when closing starts
	running map[chan struct{}]struct{} // closed when its goroutine ends
}

// stopping returns a channel closed once the node starts closing: a
// goroutine that would wait (a retry) ends instead.
func (b *background) stopping() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.stop == nil {
		b.stop = make(chan struct{})
		if b.closing {
			close(b.stop)
		}
	}
	return b.stop
}

// start reports whether a goroutine may start; if so, it must call done
// when it ends.
func (b *background) start() (done func(), ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closing {
		return nil, false
	}
	c := make(chan struct{})
	if b.running == nil {
		b.running = make(map[chan struct{}]struct{})
	}
	b.running[c] = struct{}{}
	return func() {
		b.mu.Lock()
		delete(b.running, c)
		b.mu.Unlock()
		close(c)
	}, true
}

// settle waits for the goroutines running when it is called (not for those
// that start later: under a steady load there always are some).
func (b *background) settle(ctx context.Context) error {
	b.mu.Lock()
	waiting := make([]chan struct{}, 0, len(b.running))
	for c := range b.running {
		waiting = append(waiting, c)
	}
	b.mu.Unlock()
	for _, c := range waiting {
		select {
		case <-c:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// close lets no goroutine start and waits for those running.
func (b *background) close() {
	b.mu.Lock()
	if !b.closing {
		b.closing = true
		if b.stop != nil {
			close(b.stop)
		}
	}
	b.mu.Unlock()
	b.settle(context.Background())
}

// keyedMutex serialises work per message id: one request per id at a time.
type keyedMutex struct {
	mu sync.Mutex
	m  map[hotline.ID]*keyedEntry
}

type keyedEntry struct {
	mu   sync.Mutex
	refs int
}

func (k *keyedMutex) lock(id hotline.ID) func() {
	k.mu.Lock()
	if k.m == nil {
		k.m = make(map[hotline.ID]*keyedEntry)
	}
	e := k.m[id]
	if e == nil {
		e = &keyedEntry{}
		k.m[id] = e
	}
	e.refs++
	k.mu.Unlock()
	e.mu.Lock()
	return func() {
		e.mu.Unlock()
		k.mu.Lock()
		if e.refs--; e.refs == 0 {
			delete(k.m, id)
		}
		k.mu.Unlock()
	}
}
