package node

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/agreement"
	"github.com/hotline-net/hotline/internal/store"
	"github.com/hotline-net/hotline/internal/tlog"
)

// The fakes of this file stand in for the store and the log in the node's
// unit tests: in memory, following the store contract for the methods the
// node calls, with a fault-injection hook. The integration tests (packages
// server and e2e) run the node on the real SQLite and PostgreSQL stores
// and the real log.

type leafKey struct {
	dir hotline.Direction
	id  hotline.ID
}

type partyKey struct {
	id    hotline.ID
	party string
}

// memStore is an in-memory store. Methods the node does not call are
// those of the nil embedded Store: calling one panics, which a test would
// show at once.
type memStore struct {
	store.Store

	mu        sync.Mutex
	envs      map[leafKey]store.Envelope
	leaves    map[leafKey]*store.Leaf
	receipts  map[partyKey]store.Receipt
	outbox    map[partyKey]*store.OutboxRow
	relayed   map[partyKey][]byte
	last      map[string]store.PairSeq // per peer: the last sequence number taken
	highWater uint64
	values    map[string][]byte
	refusals  []store.Refusal
	// fail, if set, is asked before each call whether it fails.
	fail func(op string) error
}

func newMemStore() *memStore {
	return &memStore{
		envs: map[leafKey]store.Envelope{}, leaves: map[leafKey]*store.Leaf{}, receipts: map[partyKey]store.Receipt{},
		outbox: map[partyKey]*store.OutboxRow{}, relayed: map[partyKey][]byte{}, last: map[string]store.PairSeq{},
		values: map[string][]byte{},
	}
}

var _ store.Store = (*memStore)(nil)

// failing makes op fail with err from now on (nil: succeed again).
func (s *memStore) failing(op string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	prev := s.fail
	s.fail = func(o string) error {
		if o == op {
			return err
		}
		if prev != nil {
			return prev(o)
		}
		return nil
	}
}

// check is called with s.mu held.
func (s *memStore) check(op string) error {
	if s.fail == nil {
		return nil
	}
	if err := s.fail(op); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

func (s *memStore) Receipt(ctx context.Context, id hotline.ID, party string) (store.Receipt, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check("Receipt"); err != nil {
		return store.Receipt{}, err
	}
	r, ok := s.receipts[partyKey{id, party}]
	if !ok {
		return store.Receipt{}, store.ErrNotFound
	}
	return r, nil
}

func (s *memStore) insert(e store.Envelope, entry [hotline.EntrySize]byte) (store.Inserted, error) {
	k := leafKey{e.Direction, e.ID}
	if old, ok := s.envs[k]; ok {
		if !bytes.Equal(old.Raw, e.Raw) {
			return store.Inserted{}, store.ErrConflict
		}
		return store.Inserted{Existed: true, Leaf: *s.leaves[k]}, nil
	}
	s.envs[k] = e
	l := &store.Leaf{Entry: entry, Direction: e.Direction, Object: e.ID, After: s.highWater}
	s.leaves[k] = l
	return store.Inserted{Leaf: *l}, nil
}

func (s *memStore) InsertReceived(ctx context.Context, r *store.Received) (store.Inserted, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check("InsertReceived"); err != nil {
		return store.Inserted{}, err
	}
	return s.insert(r.Envelope, r.Entry)
}

func (s *memStore) NextSequences(ctx context.Context, parties []string) ([]store.PairSeq, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check("NextSequences"); err != nil {
		return nil, err
	}
	out := make([]store.PairSeq, len(parties))
	for i, p := range parties {
		l := s.last[p]
		out[i] = store.PairSeq{Party: p, Seq: l.Seq + 1, Prev: l.Prev}
	}
	return out, nil
}

func (s *memStore) RaiseSequence(ctx context.Context, party string, seq uint64, last hotline.ID) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check("RaiseSequence"); err != nil {
		return false, err
	}
	if l := s.last[party]; l.Seq >= seq {
		return false, nil
	}
	s.last[party] = store.PairSeq{Party: party, Seq: seq, Prev: last}
	return true, nil
}

func (s *memStore) InsertSent(ctx context.Context, sent *store.Sent) (store.Inserted, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check("InsertSent"); err != nil {
		return store.Inserted{}, err
	}
	if _, ok := s.envs[leafKey{hotline.Sent, sent.Envelope.ID}]; !ok {
		for _, q := range sent.Seqs {
			if s.last[q.Party].Seq+1 != q.Seq {
				return store.Inserted{}, store.ErrConflict
			}
		}
	}
	ins, err := s.insert(sent.Envelope, sent.Entry)
	if err != nil || ins.Existed {
		return ins, err
	}
	for _, q := range sent.Seqs {
		s.last[q.Party] = store.PairSeq{Party: q.Party, Seq: q.Seq, Prev: sent.Envelope.ID}
		s.outbox[partyKey{sent.Envelope.ID, q.Party}] = &store.OutboxRow{ID: sent.Envelope.ID, Recipient: q.Party, Seq: q.Seq, State: store.OutboxPending}
	}
	return ins, nil
}

func (s *memStore) Sequenced(ctx context.Context, dir hotline.Direction, id hotline.ID, index uint64, issued *store.Receipt) error {
	if err := ctx.Err(); err != nil {
		return err // as database/sql does
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check("Sequenced"); err != nil {
		return err
	}
	k := leafKey{dir, id}
	l, ok := s.leaves[k]
	if !ok {
		return store.ErrNotFound
	}
	if l.Sequenced {
		if l.Index == index {
			return nil
		}
		return store.ErrConflict
	}
	for _, o := range s.leaves {
		if o.Sequenced && o.Index == index {
			return store.ErrConflict
		}
	}
	l.Sequenced, l.Index = true, index
	s.highWater = max(s.highWater, index+1)
	if e, ok := s.envs[k]; ok {
		e.Stored = true
		s.envs[k] = e
	}
	if issued != nil {
		s.receipts[partyKey{id, issued.Party}] = *issued
	}
	return nil
}

func (s *memStore) LeafOf(ctx context.Context, dir hotline.Direction, id hotline.ID) (store.Leaf, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check("LeafOf"); err != nil {
		return store.Leaf{}, err
	}
	l, ok := s.leaves[leafKey{dir, id}]
	if !ok {
		return store.Leaf{}, store.ErrNotFound
	}
	return *l, nil
}

func (s *memStore) PendingLeaves(ctx context.Context, limit int) ([]store.Leaf, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check("PendingLeaves"); err != nil {
		return nil, err
	}
	var out []store.Leaf
	for _, l := range s.leaves {
		if !l.Sequenced {
			out = append(out, *l)
		}
	}
	slices.SortFunc(out, func(a, b store.Leaf) int { return cmp.Compare(a.After, b.After) })
	if limit <= 0 {
		limit = 1000
	}
	return out[:min(limit, len(out))], nil
}

func (s *memStore) HighWater(ctx context.Context) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.highWater, s.check("HighWater")
}

func (s *memStore) Value(ctx context.Context, key string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check("Value"); err != nil {
		return nil, err
	}
	v, ok := s.values[key]
	if !ok {
		return nil, store.ErrNotFound
	}
	return slices.Clone(v), nil
}

func (s *memStore) SetValue(ctx context.Context, key string, value []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check("SetValue"); err != nil {
		return err
	}
	s.values[key] = slices.Clone(value)
	return nil
}

// Messages lists the envelopes f selects, in one page, in no order.
func (s *memStore) Messages(ctx context.Context, q store.MessageQuery) (store.MessagePage, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check("Messages"); err != nil {
		return store.MessagePage{}, err
	}
	var page store.MessagePage
	for k, e := range s.envs {
		switch {
		case q.Direction != 0 && k.dir != q.Direction,
			q.Kind != "" && e.Kind != q.Kind,
			!q.Thread.IsZero() && e.ThreadID() != q.Thread,
			!q.IncludePending && !s.leaves[k].Sequenced:
			continue
		}
		page.Envelopes = append(page.Envelopes, e)
	}
	return page, nil
}

func (s *memStore) Envelope(ctx context.Context, dir hotline.Direction, id hotline.ID) (store.Envelope, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check("Envelope"); err != nil {
		return store.Envelope{}, err
	}
	e, ok := s.envs[leafKey{dir, id}]
	if !ok {
		return store.Envelope{}, store.ErrNotFound
	}
	return e, nil
}

func (s *memStore) MarkDelivered(ctx context.Context, d *store.Delivered) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check("MarkDelivered"); err != nil {
		return false, err
	}
	row, ok := s.outbox[partyKey{d.ID, d.Recipient}]
	if !ok {
		return false, store.ErrNotFound
	}
	if row.State == store.OutboxDelivered {
		if bytes.Equal(row.Receipt.Note, d.Receipt.Note) {
			return true, nil
		}
		return false, store.ErrConflict
	}
	rc := d.Receipt
	row.State, row.Delivered, row.Route, row.Receipt = store.OutboxDelivered, d.At, d.Route, &rc
	s.receipts[partyKey{d.ID, d.Recipient}] = rc
	s.leaves[leafKey{hotline.ReceiptReceived, d.ReceiptID}] = &store.Leaf{Entry: d.Entry, Direction: hotline.ReceiptReceived, Object: d.ReceiptID, After: s.highWater}
	return false, nil
}

func (s *memStore) MarkRelayed(ctx context.Context, d *store.RelayedDelivery) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check("MarkRelayed"); err != nil {
		return err
	}
	if _, ok := s.outbox[partyKey{d.ID, d.Recipient}]; !ok {
		return store.ErrNotFound
	}
	s.relayed[partyKey{d.ID, d.Recipient}] = d.Receipt
	return nil
}

// row returns an outbox row, for assertions.
func (s *memStore) row(id hotline.ID, to string) store.OutboxRow {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.outbox[partyKey{id, to}]; r != nil {
		return *r
	}
	return store.OutboxRow{}
}

// pending counts the leaves without an index.
func (s *memStore) pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, l := range s.leaves {
		if !l.Sequenced {
			n++
		}
	}
	return n
}

// memLog is an in-memory log with a fault-injection hook on Append.
type memLog struct {
	origin string

	mu      sync.Mutex
	entries [][hotline.EntrySize]byte
	// failAppend, if set, makes Append fail with its error; with
	// afterWrite the entry is written first (a crash after the log took
	// the entry but before the caller learned its index).
	failAppend error
	afterWrite bool
}

var _ Log = (*memLog)(nil)

func (l *memLog) Origin() string { return l.origin }

func (l *memLog) Append(ctx context.Context, e [hotline.EntrySize]byte) (uint64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return 0, err // as the real log: a cancelled append does not happen
	}
	if l.failAppend != nil && !l.afterWrite {
		return 0, l.failAppend
	}
	l.entries = append(l.entries, e)
	if l.failAppend != nil {
		return 0, l.failAppend
	}
	return uint64(len(l.entries) - 1), nil
}

func (l *memLog) EntriesFrom(ctx context.Context, size uint64) iter.Seq2[tlog.Entry, error] {
	return func(yield func(tlog.Entry, error) bool) {
		l.mu.Lock()
		entries := slices.Clone(l.entries)
		l.mu.Unlock()
		for i := size; i < uint64(len(entries)); i++ {
			if !yield(tlog.Entry{Index: i, Data: entries[i]}, nil) {
				return
			}
		}
	}
}

// fail sets Append's fault.
func (l *memLog) fail(err error, afterWrite bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.failAppend, l.afterWrite = err, afterWrite
}

// count returns how many times entry is in the log.
func (l *memLog) count(entry [hotline.EntrySize]byte) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, e := range l.entries {
		if e == entry {
			n++
		}
	}
	return n
}

// bodies accepts every body but "bad".
type bodies struct{}

func (bodies) CheckBody(kind string, marking hotline.Marking, b []byte) error {
	if string(b) == "bad" {
		return errors.New("not a body of the template")
	}
	return nil
}

// world is an agreement between DEP (the depositary), BER, CRI and DOR,
// which ratified it, and ELM, which did not; with every party's keys.
type world struct {
	agr  *agreement.Agreement
	keys map[string]*hotline.KeySet
	at   time.Time
}

var (
	worldOnce sync.Once
	theWorld  *world
	worldErr  error
)

// mustWorld returns the agreement the node tests share: generating keys
// and signing an agreement takes a while, and nothing changes them.
func mustWorld(tb testing.TB) *world {
	tb.Helper()
	worldOnce.Do(func() {
		w := &world{keys: map[string]*hotline.KeySet{}, at: time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)}
		cfg := agreement.SampleConfig{Time: w.at, Unratified: []string{"ELM"}}
		for _, p := range []string{"DEP", "BER", "CRI", "DOR", "ELM"} {
			ks, err := hotline.GenerateKeySet(p, "")
			if err != nil {
				worldErr = err
				return
			}
			w.keys[p] = ks
			sp := agreement.SampleParty{Keys: ks, Endpoints: []string{"https://" + p + ".example"}}
			if p == "DEP" {
				cfg.Depositary = sp
			} else {
				cfg.Parties = append(cfg.Parties, sp)
			}
		}
		w.agr, worldErr = agreement.Sample(cfg)
		theWorld = w
	})
	if worldErr != nil {
		tb.Fatal(worldErr)
	}
	return theWorld
}

func (s *memStore) AddRefusal(_ context.Context, r *store.Refusal, max int) (store.Refusal, bool, error) {
	if err := r.Check(); err != nil {
		return store.Refusal{}, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, x := range s.refusals {
		if x.Direction == r.Direction && x.Peer == r.Peer {
			if x.Message == r.Message {
				return x, true, nil
			}
			n++
		}
	}
	if n >= max {
		return store.Refusal{}, false, store.ErrFull
	}
	s.refusals = append(s.refusals, *r)
	return *r, false, nil
}

func (s *memStore) RefusalSequenced(_ context.Context, dir hotline.Direction, id hotline.ID, index uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, x := range s.refusals {
		if x.Direction == dir && x.ID == id {
			if x.Sequenced && x.Index != index {
				return store.ErrConflict
			}
			s.refusals[i].Index, s.refusals[i].Sequenced = index, true
			return nil
		}
	}
	return store.ErrNotFound
}

func (s *memStore) Refusals(_ context.Context, dir hotline.Direction, peer string) ([]store.Refusal, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []store.Refusal
	for _, x := range s.refusals {
		if x.Direction == dir && x.Peer == peer {
			out = append(out, x)
		}
	}
	return out, nil
}
