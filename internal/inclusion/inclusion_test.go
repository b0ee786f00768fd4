package inclusion_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/agreement"
	"github.com/hotline-net/hotline/internal/clock"
	"github.com/hotline-net/hotline/internal/gossip"
	"github.com/hotline-net/hotline/internal/inclusion"
	"github.com/hotline-net/hotline/internal/poll"
	"github.com/hotline-net/hotline/internal/sim"
	"github.com/hotline-net/hotline/internal/store"
	"github.com/hotline-net/hotline/internal/store/sqlite"
	"github.com/hotline-net/hotline/internal/store/storetest"
	"github.com/hotline-net/hotline/internal/testnode"
	"github.com/hotline-net/hotline/internal/tlog"
)

// noPeers is heartbeats' transport and own log where the test sends no
// heartbeat.
type noPeers struct{}

func (noPeers) Checkpoint() (tlog.Checkpoint, error) {
	return tlog.Checkpoint{}, errors.New("no checkpoint")
}
func (noPeers) Witnessed() (tlog.Checkpoint, bool) { return tlog.Checkpoint{}, false }
func (noPeers) PostHeartbeat(context.Context, string, string, []byte) ([]byte, error) {
	return nil, errors.New("unreachable")
}

// TestFakeLogNotBelieved: a node holding CRI's checkpoint key serves a
// one-entry log, never witnessed, that holds the entry of BER's message;
// CRI's receipt names it. BER's checker does not mark the message
// included: it believes only the witnessed checkpoint of CRI's log, which
// does not hold the entry, so it raises the failure; and the fake
// checkpoint it fetched, handed to gossip, is caught as an equivocation.
func TestFakeLogNotBelieved(t *testing.T) {
	ctx := context.Background()
	tn := testnode.Start(t, testnode.Config{Testnet: sim.TestnetConfig{Parties: []string{"BER", "CRI"}}, Run: []string{}})
	agr := tn.Agreement(t)
	keys := map[string]*hotline.KeySet{}
	for _, p := range []string{"BER", "CRI", "DEP"} {
		keys[p] = tn.Keys(t, p)
	}
	clk := clock.NewFake(time.Now().Truncate(time.Second))
	st, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(t.TempDir(), "db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })

	// BER sent a message to CRI, and CRI's receipt names index 0.
	var log storetest.Log
	sent, err := storetest.Send(ctx, st, &log, "m", "CRI")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := storetest.Deliver(ctx, st, sent, "CRI", clk.Now(), 0); err != nil {
		t.Fatal(err)
	}

	// The fake: CRI's checkpoint key, one entry, the message's.
	cv, err := keys["CRI"].Checkpoint.Verifier()
	if err != nil {
		t.Fatal(err)
	}
	fake, err := tlog.Open(ctx, tlog.Config{
		Dir: t.TempDir(), Signer: keys["CRI"].Checkpoint, Verifier: cv,
		CheckpointInterval: 100 * time.Millisecond, RepublishInterval: time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fake.Close() })
	origin := keys["CRI"].Origin()
	if _, err := fake.Append(ctx, hotline.LeafEntry(origin, hotline.Received, sent.Envelope.ID)); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.StripPrefix("/log", fake.Handler()))
	t.Cleanup(srv.Close)
	remote, err := tlog.NewRemote(tlog.RemoteConfig{URL: srv.URL + "/log", Verifier: cv})
	if err != nil {
		t.Fatal(err)
	}
	remoteOf := func(string) (*tlog.Remote, error) { return remote, nil }
	poll.MustTrue(t, "the fake log's checkpoint of size 1", func() bool { cp, err := fake.Checkpoint(); return err == nil && cp.Size == 1 })

	// The real, witnessed checkpoint of CRI's log at size 1 holds
	// another entry.
	other := hotline.LeafEntry(origin, hotline.Sent, storetest.ID("another"))
	cp := tlog.Checkpoint{Origin: origin, Size: 1}
	copy(cp.Hash[:], rfc6962.DefaultHasher.HashLeaf(other[:]))
	signers := []note.Signer{keys["CRI"].Checkpoint}
	for _, w := range []string{"BER", "DEP"} {
		s, err := tlog.NewCosigner(keys[w].Witness.String(), clk)
		if err != nil {
			t.Fatal(err)
		}
		signers = append(signers, s)
	}
	witnessed, err := note.Sign(&note.Note{Text: string(cp.Text())}, signers...)
	if err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	var equivocations int
	var failures []error
	hb, err := gossip.NewHeartbeats(gossip.HeartbeatConfig{
		Key: keys["BER"].Message, Agreement: func() *agreement.Agreement { return agr }, Store: st,
		Log: noPeers{}, Transport: noPeers{}, Clock: clk, RemoteLog: remoteOf,
		OnEquivocation: func(*tlog.Equivocation) { mu.Lock(); equivocations++; mu.Unlock() },
	})
	if err != nil {
		t.Fatal(err)
	}
	hb.Observe(ctx, witnessed)
	c, err := inclusion.New(inclusion.Config{
		Store: st, Agreement: func() *agreement.Agreement { return agr }, Remote: remoteOf, Clock: clk,
		Witnessed: func(ctx context.Context, party string) (tlog.Checkpoint, bool, error) {
			v, ok, err := hb.Witnessed(ctx, party)
			return v.Checkpoint, ok, err
		},
		Observe:   hb.Observe,
		OnFailure: func(_ store.OutboxRow, err error) { mu.Lock(); failures = append(failures, err); mu.Unlock() },
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := c.Check(ctx); n != 0 {
		t.Errorf("Check proved %d inclusions in a log nobody witnessed", n)
	}
	rows, err := st.Unproven(ctx, store.UnprovenQuery{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 {
		t.Errorf("%d unproven rows, want the message still unproven", len(rows))
	}
	mu.Lock()
	defer mu.Unlock()
	if len(failures) != 1 || hotline.ErrorCode(failures[0]) != "not_included" {
		t.Errorf("failures raised: %v; want one not_included", failures)
	}
	if equivocations != 1 {
		t.Errorf("%d equivocations raised; want the fake checkpoint caught", equivocations)
	}
}

// TestUnreadableLogNoFailure: the recipient's log cannot be read for the
// moment (its node restarting, a network fault): the receipt stays
// unproven and is tried again, and no "not included" failure is raised — a
// log out of reach shows nothing against the receipt.
func TestUnreadableLogNoFailure(t *testing.T) {
	ctx := context.Background()
	tn := testnode.Start(t, testnode.Config{Testnet: sim.TestnetConfig{Parties: []string{"BER", "CRI"}}, Run: []string{}})
	agr := tn.Agreement(t)
	keys := map[string]*hotline.KeySet{}
	for _, p := range []string{"BER", "CRI", "DEP"} {
		keys[p] = tn.Keys(t, p)
	}
	clk := clock.NewFake(time.Now().Truncate(time.Second))
	st, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(t.TempDir(), "db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	var log storetest.Log
	sent, err := storetest.Send(ctx, st, &log, "m", "CRI")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := storetest.Deliver(ctx, st, sent, "CRI", clk.Now(), 0); err != nil {
		t.Fatal(err)
	}
	cv, err := keys["CRI"].Checkpoint.Verifier()
	if err != nil {
		t.Fatal(err)
	}
	// A log that answers nothing: its server is gone.
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	remote, err := tlog.NewRemote(tlog.RemoteConfig{URL: srv.URL + "/log", Verifier: cv})
	if err != nil {
		t.Fatal(err)
	}
	remoteOf := func(string) (*tlog.Remote, error) { return remote, nil }
	// A witnessed checkpoint of CRI's log past the receipt's index, of two
	// entries (a proof of one needs the other's hash, from the log).
	origin := keys["CRI"].Origin()
	entry := hotline.LeafEntry(origin, hotline.Received, sent.Envelope.ID)
	other := hotline.LeafEntry(origin, hotline.Sent, storetest.ID("another"))
	h := rfc6962.DefaultHasher
	cp := tlog.Checkpoint{Origin: origin, Size: 2}
	copy(cp.Hash[:], h.HashChildren(h.HashLeaf(entry[:]), h.HashLeaf(other[:])))
	signers := []note.Signer{keys["CRI"].Checkpoint}
	for _, w := range []string{"BER", "DEP"} {
		s, err := tlog.NewCosigner(keys[w].Witness.String(), clk)
		if err != nil {
			t.Fatal(err)
		}
		signers = append(signers, s)
	}
	witnessed, err := note.Sign(&note.Note{Text: string(cp.Text())}, signers...)
	if err != nil {
		t.Fatal(err)
	}
	hb, err := gossip.NewHeartbeats(gossip.HeartbeatConfig{
		Key: keys["BER"].Message, Agreement: func() *agreement.Agreement { return agr }, Store: st,
		Log: noPeers{}, Transport: noPeers{}, Clock: clk, RemoteLog: remoteOf,
		OnEquivocation: func(*tlog.Equivocation) {},
	})
	if err != nil {
		t.Fatal(err)
	}
	hb.Observe(ctx, witnessed)
	var failures []error
	c, err := inclusion.New(inclusion.Config{
		Store: st, Agreement: func() *agreement.Agreement { return agr }, Remote: remoteOf, Clock: clk,
		Witnessed: func(ctx context.Context, party string) (tlog.Checkpoint, bool, error) {
			v, ok, err := hb.Witnessed(ctx, party)
			return v.Checkpoint, ok, err
		},
		Observe:   hb.Observe,
		OnFailure: func(_ store.OutboxRow, err error) { failures = append(failures, err) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := c.Check(ctx); n != 0 {
		t.Errorf("Check proved %d inclusions in a log it could not read", n)
	}
	if len(failures) != 0 {
		t.Errorf("failures raised for a log out of reach: %v", failures)
	}
	rows, err := st.Unproven(ctx, store.UnprovenQuery{Limit: 10})
	if err != nil || len(rows) != 1 {
		t.Errorf("%d unproven rows (%v), want the message still unproven", len(rows), err)
	}
}
