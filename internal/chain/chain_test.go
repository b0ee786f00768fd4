package chain_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/agreement"
	"github.com/hotline-net/hotline/internal/chain"
	"github.com/hotline-net/hotline/internal/clock"
	"github.com/hotline-net/hotline/internal/sim"
	"github.com/hotline-net/hotline/internal/store"
	"github.com/hotline-net/hotline/internal/store/sqlite"
	"github.com/hotline-net/hotline/internal/testnode"
)

// fakeNode holds the agreement as the node does.
type fakeNode struct {
	agr atomic.Pointer[agreement.Agreement]
}

func (n *fakeNode) Agreement() *agreement.Agreement { return n.agr.Load() }
func (n *fakeNode) SetAgreement(a *agreement.Agreement) error {
	if err := a.Extends(n.agr.Load()); err != nil {
		return err
	}
	n.agr.Store(a)
	return nil
}

// fakeLog counts what the depositary appends.
type fakeLog struct {
	mu      sync.Mutex
	entries [][32]byte
}

func (l *fakeLog) Origin() string { return "hotline/DEP" }
func (l *fakeLog) Append(_ context.Context, e [32]byte) (uint64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.entries = append(l.entries, e)
	return uint64(len(l.entries) - 1), nil
}

// failingStore fails SetValue when fail is set: the store write a Holder
// makes before it swaps the agreement.
type failingStore struct {
	store.Store
	fail atomic.Bool
}

func (s *failingStore) SetValue(ctx context.Context, key string, v []byte) error {
	if s.fail.Load() {
		return errors.New("disk full")
	}
	return s.Store.SetValue(ctx, key, v)
}

type fixture struct {
	nw     *sim.Network
	agr    *agreement.Agreement
	node   *fakeNode
	st     *failingStore
	log    *fakeLog
	h      *chain.Holder
	alarms atomic.Int32
}

func newFixture(t *testing.T, self string) *fixture {
	t.Helper()
	tn := testnode.Start(t, testnode.Config{Testnet: sim.TestnetConfig{Parties: []string{"BER", "CRI"}}, Run: []string{}})
	f := &fixture{nw: tn.Network, agr: tn.Agreement(t), node: &fakeNode{}, log: &fakeLog{}}
	f.node.agr.Store(f.agr)
	st, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(t.TempDir(), "db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f.st = &failingStore{Store: st}
	f.h, err = chain.New(chain.Config{Self: self, Node: f.node, Store: f.st, Log: f.log,
		Clock: clock.NewFake(time.Now()), OnAlarm: func(string) { f.alarms.Add(1) }})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) root(t *testing.T, party string) *hotline.SigningKey {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(f.nw.Dir, "root-keys", party, "root.key"))
	if err != nil {
		t.Fatal(err)
	}
	k, err := hotline.ParseSigningKey(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// entry signs the entry after prev, issued at, with a new message key.
func (f *fixture) entry(t *testing.T, prev *agreement.SignedEntry, at time.Time) []byte {
	t.Helper()
	ks, err := hotline.LoadKeySet(filepath.Join(f.nw.Dir, prev.Party, "keys"))
	if err != nil {
		t.Fatal(err)
	}
	pub := ks.Public()
	k, _ := hotline.GenerateSigningKey(prev.Party, false)
	pub.Message = k.VerifierKey()
	e, err := agreement.NextEntry(prev, agreement.EntryUpdate{Keys: pub, Issued: at})
	if err != nil {
		t.Fatal(err)
	}
	msg, err := agreement.SignEntry(e, f.root(t, prev.Party))
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

func TestAddStoresThenSwapsThenLogs(t *testing.T) {
	f := newFixture(t, "DEP")
	ctx := context.Background()
	prev, _ := f.agr.Entry("BER")
	e2 := f.entry(t, prev, prev.Issued.Add(time.Hour))

	// The store fails: nothing changes, not even the node's agreement.
	f.st.fail.Store(true)
	if _, err := f.h.Add(ctx, "operator", e2); err == nil {
		t.Fatal("Add succeeded with the store failing")
	}
	if f.node.Agreement() != f.agr {
		t.Fatal("the node's agreement changed although the store write failed")
	}
	f.st.fail.Store(false)

	a, err := f.h.Add(ctx, "operator", e2)
	if err != nil {
		t.Fatal(err)
	}
	if !a.New || a.Party != "BER" || a.Sequence != 2 {
		t.Errorf("Add = %+v", a)
	}
	if e, _ := f.node.Agreement().Entry("BER"); e.Sequence != 2 {
		t.Errorf("the node holds BER's entry %d", e.Sequence)
	}
	raw, err := f.st.Value(ctx, chain.ChainKey)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := agreement.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	if !stored.Holds(a.Hash) {
		t.Error("the stored chain lacks the entry")
	}
	logged, err := chain.LoggedDocuments(ctx, f.st)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := logged[a.Hash]; !ok || len(logged) != len(f.node.Agreement().DocumentHashes()) {
		t.Errorf("the depositary logged %d documents (the entry: %v); want all %d", len(logged), ok, len(f.node.Agreement().DocumentHashes()))
	}
	n := len(f.log.entries)

	// Again: held already, nothing written, nothing logged.
	if a, err := f.h.Add(ctx, "BER", e2); err != nil || a.New {
		t.Errorf("Add again = %+v, %v", a, err)
	}
	if len(f.log.entries) != n {
		t.Error("the depositary logged a document it held again")
	}
}

func TestAddRefusesAndKeepsForks(t *testing.T) {
	f := newFixture(t, "CRI")
	ctx := context.Background()
	prev, _ := f.agr.Entry("BER")
	e2 := f.entry(t, prev, prev.Issued.Add(time.Hour))
	if _, err := f.h.Add(ctx, "operator", e2); err != nil {
		t.Fatal(err)
	}
	other := f.entry(t, prev, prev.Issued.Add(2*time.Hour))
	before := f.node.Agreement()
	for range 2 {
		_, err := f.h.Add(ctx, "BER", other)
		if agreement.ErrorCode(err) != "fork" {
			t.Fatalf("a second entry BER/2: %v, want fork", err)
		}
	}
	if f.node.Agreement() != before {
		t.Error("a refused document changed the agreement")
	}
	eqs, err := f.st.Equivocations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(eqs) != 1 || eqs[0].Origin != "agreement:BER" {
		t.Fatalf("equivocations %+v; want one of agreement:BER", eqs)
	}
	docs, err := chain.ParseForkProof(eqs[0].Proof)
	if err != nil {
		t.Fatal(err)
	}
	if !(bytes.Equal(docs[0], e2) && bytes.Equal(docs[1], other) || bytes.Equal(docs[1], e2) && bytes.Equal(docs[0], other)) {
		t.Error("the proof does not hold both entries")
	}
	// Two refusals of one fork: the proof once, an alarm for each refusal
	// of a party-signed document, one for the fork.
	if got := f.alarms.Load(); got != 3 {
		t.Errorf("%d alarms; want 3 (the fork, and each refusal of BER's document)", got)
	}
	st, err := f.h.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Forks) != 1 || len(st.Refused) != 2 || st.Refused[0].Code != "fork" {
		t.Errorf("status forks %d, refused %+v", len(st.Forks), st.Refused)
	}

	// Garbage: refused with a code, no alarm.
	_, err = f.h.Add(ctx, "BER", []byte("hello"))
	if agreement.ErrorCode(err) != "malformed" {
		t.Errorf("garbage: %v", err)
	}
	if got := f.alarms.Load(); got != 3 {
		t.Errorf("garbage raised an alarm")
	}
}

func TestAddAllInAnyOrder(t *testing.T) {
	f := newFixture(t, "CRI")
	ctx := context.Background()
	prev, _ := f.agr.Entry("BER")
	e2 := f.entry(t, prev, prev.Issued.Add(time.Hour))
	a2, err := f.agr.With(e2)
	if err != nil {
		t.Fatal(err)
	}
	p2, _ := a2.Entry("BER")
	e3 := f.entry(t, p2, prev.Issued.Add(2*time.Hour))
	n, err := f.h.AddAll(ctx, "BER", [][]byte{e3, e2})
	if err != nil || n != 2 {
		t.Fatalf("AddAll = %d, %v", n, err)
	}
	if e, _ := f.node.Agreement().Entry("BER"); e.Sequence != 3 {
		t.Errorf("BER's entry %d", e.Sequence)
	}
}

// direct is a Transport that calls the other Holder's peer endpoints in
// process, as fedapi would.
type direct struct {
	self string
	peer *chain.Holder
}

func (d direct) Do(ctx context.Context, to, base, method, path string, body []byte) ([]byte, error) {
	switch {
	case method == "GET" && path == "/v1/agreement":
		return d.peer.HashesJSON(), nil
	case method == "GET":
		return d.peer.Document(strings.TrimPrefix(path, "/v1/agreement/"))
	default:
		return d.peer.Offer(ctx, d.self, body)
	}
}

func TestSyncBothWays(t *testing.T) {
	ber, cri := newFixture(t, "BER"), newFixture(t, "CRI")
	// Both on one network.
	cri.agr = ber.agr
	cri.node.agr.Store(ber.agr)
	cri.nw = ber.nw
	ctx := context.Background()
	ber.h, _ = chain.New(chain.Config{Self: "BER", Node: ber.node, Store: ber.st, Transport: direct{"BER", nil}})
	cri.h, _ = chain.New(chain.Config{Self: "CRI", Node: cri.node, Store: cri.st, Transport: direct{"CRI", ber.h}})
	ber.h, _ = chain.New(chain.Config{Self: "BER", Node: ber.node, Store: ber.st, Transport: direct{"BER", cri.h}})

	pb, _ := ber.agr.Entry("BER")
	pc, _ := ber.agr.Entry("CRI")
	eb := ber.entry(t, pb, pb.Issued.Add(time.Hour))
	ec := ber.entry(t, pc, pc.Issued.Add(time.Hour))
	if _, err := ber.h.Add(ctx, "operator", eb); err != nil {
		t.Fatal(err)
	}
	if _, err := cri.h.Add(ctx, "operator", ec); err != nil {
		t.Fatal(err)
	}
	got, gave, err := cri.h.Sync(ctx, "BER")
	if err != nil || got != 1 || gave != 1 {
		t.Fatalf("Sync = %d, %d, %v; want 1, 1", got, gave, err)
	}
	if ber.node.Agreement().Digest() != cri.node.Agreement().Digest() {
		t.Error("after a sync the two hold different chains")
	}
	if got, gave, _ := cri.h.Sync(ctx, "BER"); got+gave != 0 {
		t.Errorf("a second sync exchanged %d, %d", got, gave)
	}
}

func TestForkProofRoundTrip(t *testing.T) {
	a, b := []byte("hotline-entry/v1\n{}\n\n— B\n"), []byte("hotline-entry/v1\n{}\n\n— A\n")
	p := chain.ForkProof(a, b)
	if !bytes.Equal(p, chain.ForkProof(b, a)) {
		t.Error("the proof depends on the order of its documents")
	}
	docs, err := chain.ParseForkProof(p)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(chain.ForkProof(docs[0], docs[1]), p) {
		t.Error("round trip")
	}
	for _, bad := range []string{"", "hotline-agreement-fork/v1\n", "x\nYQ==\nYg==\n", "hotline-agreement-fork/v1\nYg==\nYQ==\n"} {
		if _, err := chain.ParseForkProof([]byte(bad)); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func FuzzParseForkProof(f *testing.F) {
	f.Add(chain.ForkProof([]byte("a"), []byte("b")))
	f.Add([]byte("hotline-agreement-fork/v1\n\n\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		docs, err := chain.ParseForkProof(b)
		if err != nil {
			if hotline.ErrorCode(err) == "" {
				t.Fatalf("error without a code: %v", err)
			}
			return
		}
		if !bytes.Equal(chain.ForkProof(docs[0], docs[1]), b) {
			t.Fatal("a proof that parses does not write back to itself")
		}
	})
}

// counting counts the documents fetched through a transport.
type counting struct {
	direct
	fetched atomic.Int32
}

func (c *counting) Do(ctx context.Context, to, base, method, path string, body []byte) ([]byte, error) {
	if method == "GET" && path != "/v1/agreement" {
		c.fetched.Add(1)
	}
	return c.direct.Do(ctx, to, base, method, path, body)
}

// TestSyncDoesNotRepeatRefusals: a peer holding a fork of what this node
// holds is refused once; while neither chain changes, later rounds do not
// fetch it again.
func TestSyncDoesNotRepeatRefusals(t *testing.T) {
	ber, cri := newFixture(t, "BER"), newFixture(t, "CRI")
	cri.agr, cri.nw = ber.agr, ber.nw
	cri.node.agr.Store(ber.agr)
	ctx := context.Background()
	ber.h, _ = chain.New(chain.Config{Self: "BER", Node: ber.node, Store: ber.st})
	tr := &counting{direct: direct{"CRI", ber.h}}
	cri.h, _ = chain.New(chain.Config{Self: "CRI", Node: cri.node, Store: cri.st, Transport: tr})

	pb, _ := ber.agr.Entry("BER")
	if _, err := ber.h.Add(ctx, "operator", ber.entry(t, pb, pb.Issued.Add(time.Hour))); err != nil {
		t.Fatal(err)
	}
	if _, err := cri.h.Add(ctx, "operator", ber.entry(t, pb, pb.Issued.Add(2*time.Hour))); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, _, err := cri.h.Sync(ctx, "BER"); err != nil {
			t.Fatal(err)
		}
	}
	if n := tr.fetched.Load(); n != 1 {
		t.Errorf("the forked entry was fetched %d times in three rounds; want once", n)
	}
	eqs, _ := cri.st.Equivocations(ctx)
	if len(eqs) != 1 {
		t.Errorf("%d fork proofs; want 1", len(eqs))
	}
}
