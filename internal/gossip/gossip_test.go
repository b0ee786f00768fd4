package gossip_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/mod/sumdb/note"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/agreement"
	"github.com/hotline-net/hotline/internal/clock"
	"github.com/hotline-net/hotline/internal/gossip"
	"github.com/hotline-net/hotline/internal/sim"
	"github.com/hotline-net/hotline/internal/store"
	"github.com/hotline-net/hotline/internal/store/sqlite"
	"github.com/hotline-net/hotline/internal/testnode"
	"github.com/hotline-net/hotline/internal/tlog"
)

// noLog is a node log that has published nothing yet.
type noLog struct{}

func (noLog) Checkpoint() (tlog.Checkpoint, error) {
	return tlog.Checkpoint{}, errors.New("no checkpoint yet")
}
func (noLog) Witnessed() (tlog.Checkpoint, bool) { return tlog.Checkpoint{}, false }
func (noLog) PostHeartbeat(context.Context, string, string, []byte) ([]byte, error) {
	return nil, errors.New("unreachable")
}

// heartbeats is CRI's heartbeats on a real SQLite store, with the
// testnet's agreement and keys.
type heartbeats struct {
	*gossip.Heartbeats
	agr      *agreement.Agreement
	keys     map[string]*hotline.KeySet
	st       store.Store
	clk      *clock.Fake
	mu       sync.Mutex
	proofs   []*tlog.Equivocation
	unproven []gossip.Alarm
	heard    []string
}

func newHeartbeats(t *testing.T) *heartbeats {
	tn := testnode.Start(t, testnode.Config{Testnet: sim.TestnetConfig{Parties: []string{"BER", "CRI"}}, Run: []string{}})
	h := &heartbeats{agr: tn.Agreement(t), keys: map[string]*hotline.KeySet{}}
	for _, p := range []string{"BER", "CRI", "DEP"} {
		h.keys[p] = tn.Keys(t, p)
	}
	h.clk = clock.NewFake(time.Now().Add(time.Minute).Truncate(time.Second))
	st, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(t.TempDir(), "db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h.st = st
	h.Heartbeats, err = gossip.NewHeartbeats(gossip.HeartbeatConfig{
		Key: h.keys["CRI"].Message, Agreement: func() *agreement.Agreement { return h.agr }, Store: st,
		Log: noLog{}, Transport: noLog{}, Clock: h.clk,
		OnEquivocation: func(e *tlog.Equivocation) {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.proofs = append(h.proofs, e)
		},
		OnUnproven: func(a gossip.Alarm) {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.unproven = append(h.unproven, a)
		},
		OnHeard: func(ctx context.Context, peer string) {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.heard = append(h.heard, peer)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// from signs a heartbeat of BER's.
func (h *heartbeats) from(t *testing.T, hb hotline.Heartbeat) []byte {
	t.Helper()
	if hb.From == "" {
		hb.From, hb.To = "BER", "CRI"
	}
	if hb.Time.IsZero() {
		hb.Time = h.clk.Now()
	}
	b, err := hotline.Sign(&hb, h.keys["BER"].Message)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkpoint signs a checkpoint of BER's log, cosigned by the witnesses
// named (none: unwitnessed).
func (h *heartbeats) checkpoint(t *testing.T, size uint64, root byte, witnesses ...string) []byte {
	t.Helper()
	origin, err := h.agr.LogOrigin("BER")
	if err != nil {
		t.Fatal(err)
	}
	cp := tlog.Checkpoint{Origin: origin, Size: size}
	cp.Hash[0] = root
	signers := []note.Signer{h.keys["BER"].Checkpoint}
	for _, w := range witnesses {
		s, err := tlog.NewCosigner(h.keys[w].Witness.String(), h.clk)
		if err != nil {
			t.Fatal(err)
		}
		signers = append(signers, s)
	}
	b, err := note.Sign(&note.Note{Text: string(cp.Text())}, signers...)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// stored returns the size of the checkpoint of BER's log the store
// holds, 0 for none.
func (h *heartbeats) stored(t *testing.T) uint64 {
	t.Helper()
	origin, _ := h.agr.LogOrigin("BER")
	cp, err := h.st.Checkpoint(context.Background(), origin)
	if errors.Is(err, store.ErrNotFound) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return cp.Size
}

// TestReceive: a peer's heartbeat is answered with this node's own,
// signed, to that peer; what it says is reported; one seen before, one
// out of time, and one not between these parties are refused.
func TestReceive(t *testing.T) {
	h := newHeartbeats(t)
	ctx := context.Background()
	answer, err := h.Receive(ctx, "BER", h.from(t, hotline.Heartbeat{Counter: 7, Sent: 3, Received: 2}))
	if err != nil {
		t.Fatal(err)
	}
	v, err := h.keys["CRI"].Message.Verifier()
	if err != nil {
		t.Fatal(err)
	}
	hb, err := hotline.OpenHeartbeat(answer, v)
	if err != nil {
		t.Fatal(err)
	}
	if hb.From != "CRI" || hb.To != "BER" || !hb.Time.Equal(h.clk.Now()) {
		t.Errorf("answer %+v", hb)
	}
	peers, err := h.Peers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ber gossip.PeerStatus
	for _, p := range peers {
		if p.Party == "BER" {
			ber = p
		}
	}
	if ber.TheySent != 3 || ber.TheyReceived != 2 || !ber.LastSeen.Equal(h.clk.Now()) || len(ber.Missing) != 1 || ber.Missing[0] != (store.SeqRange{From: 1, To: 3}) {
		t.Errorf("BER's status: %+v", ber)
	}

	for _, tt := range []struct {
		name string
		msg  func() []byte
		code string
	}{
		{"the same counter again", func() []byte { return h.from(t, hotline.Heartbeat{Counter: 7}) }, "heartbeat_replay"},
		{"ten minutes old", func() []byte {
			return h.from(t, hotline.Heartbeat{Counter: 8, Time: h.clk.Now().Add(-10 * time.Minute)})
		}, "stale_heartbeat"},
		{"addressed to another party", func() []byte { return h.from(t, hotline.Heartbeat{From: "BER", To: "DEP", Counter: 9}) }, "wrong_peer"},
		{"not signed by the sender", func() []byte {
			b, err := hotline.Sign(&hotline.Heartbeat{From: "BER", To: "CRI", Time: h.clk.Now(), Counter: 10}, h.keys["CRI"].Message)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}, "bad_signature"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := h.Receive(ctx, "BER", tt.msg()); hotline.ErrorCode(err) != tt.code {
				t.Errorf("Receive: %v, want %s", err, tt.code)
			}
		})
	}
}

// TestEquivocation: two checkpoints of one log with the same size and
// different roots, shown by a peer, become one stored proof and one
// alarm, however often they are shown; the larger of two consistent
// sizes is kept.
func TestEquivocation(t *testing.T) {
	h := newHeartbeats(t)
	ctx := context.Background()
	a, b := h.checkpoint(t, 5, 1, "CRI", "DEP"), h.checkpoint(t, 5, 2)
	for i := range 3 {
		if _, err := h.Receive(ctx, "BER", h.from(t, hotline.Heartbeat{Counter: uint64(10 + i), Checkpoint: a, Gossip: [][]byte{b}})); err != nil {
			t.Fatal(err)
		}
	}
	es, err := h.st.Equivocations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(es) != 1 || len(h.proofs) != 1 {
		t.Fatalf("%d proofs stored, %d alarms; want one of each", len(es), len(h.proofs))
	}
	if _, err := tlog.ParseEquivocation(es[0].Proof); err != nil {
		t.Errorf("stored proof: %v", err)
	}
	origin, _ := h.agr.LogOrigin("BER")
	if cp, err := h.st.Checkpoint(ctx, origin); err != nil || cp.Size != 5 {
		t.Errorf("stored checkpoint: %+v, %v", cp, err)
	}
}

// TestUnwitnessedNotBelieved: a peer's own signed checkpoint that no quorum
// of other witnesses cosigned — of size 1,000,000, or cosigned by the
// owner and one other witness only — is not believed; the witnessed one
// is; a later fork at the witnessed size, even unwitnessed, is caught.
func TestUnwitnessedNotBelieved(t *testing.T) {
	h := newHeartbeats(t)
	ctx := context.Background()
	counter := uint64(100)
	show := func(cp []byte) {
		t.Helper()
		counter++
		if _, err := h.Receive(ctx, "BER", h.from(t, hotline.Heartbeat{Counter: counter, Checkpoint: cp})); err != nil {
			t.Fatal(err)
		}
	}
	show(h.checkpoint(t, 1_000_000, 9))
	if n := h.stored(t); n != 0 {
		t.Fatalf("an unwitnessed checkpoint of size 1,000,000 was believed: stored size %d", n)
	}
	show(h.checkpoint(t, 2_000_000, 9, "BER", "CRI"))
	if n := h.stored(t); n != 0 {
		t.Fatalf("a checkpoint cosigned by its owner and one witness was believed: stored size %d", n)
	}
	if _, ok, err := h.Witnessed(ctx, "BER"); ok || err != nil {
		t.Fatalf("Witnessed: %v, %v; want none", ok, err)
	}
	show(h.checkpoint(t, 5, 1, "CRI", "DEP"))
	if n := h.stored(t); n != 5 {
		t.Fatalf("the witnessed checkpoint of size 5 is not believed: stored size %d", n)
	}
	if v, ok, err := h.Witnessed(ctx, "BER"); !ok || err != nil || v.Size != 5 || len(v.Cosignatures) != 2 {
		t.Fatalf("Witnessed: %+v, %v, %v", v, ok, err)
	}
	show(h.checkpoint(t, 5, 2))
	es, err := h.st.Equivocations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 1 {
		t.Fatalf("%d equivocation proofs after a fork at the witnessed size; want 1", len(es))
	}
}

// TestUnprovableConsistency: two checkpoints of one log whose consistency
// cannot be proven (here no tiles can be read) raise the alarm after the
// retries, once, with both checkpoints.
func TestUnprovableConsistency(t *testing.T) {
	h := newHeartbeats(t)
	ctx := context.Background()
	real, forged := h.checkpoint(t, 5, 1, "CRI", "DEP"), h.checkpoint(t, 1_000_000, 9)
	if _, err := h.Receive(ctx, "BER", h.from(t, hotline.Heartbeat{Counter: 1, Checkpoint: real, Gossip: [][]byte{forged}})); err != nil {
		t.Fatal(err)
	}
	alarms := func() int {
		h.mu.Lock()
		defer h.mu.Unlock()
		return len(h.unproven)
	}
	h.Recheck(ctx)
	if n := alarms(); n != 0 {
		t.Fatalf("%d alarms before the retries are spent", n)
	}
	// Retries within one round count once: a log out of reach for a few
	// seconds (a restart, a network fault) is no cause for the alarm, which
	// rechecks after every probe would otherwise raise at once.
	for range 5 {
		h.Recheck(ctx)
	}
	if n := alarms(); n != 0 {
		t.Fatalf("%d alarms after retries within one round; want none", n)
	}
	for range 3 {
		h.clk.Advance(time.Minute)
		h.Recheck(ctx)
	}
	if n := alarms(); n != 1 {
		t.Fatalf("%d alarms after the retries; want 1", n)
	}
	as := h.Alarms()
	if len(as) != 1 || as[0].Owner != "BER" || as[0].Proof != nil || string(as[0].Older) != string(real) || string(as[0].Newer) != string(forged) {
		t.Errorf("alarm: %+v", as)
	}
}

// TestCosignatureHistory: every witnessed checkpoint is kept with each
// cosignature and its timestamp, new cosignatures of a kept checkpoint are
// added, and a witness whose timestamps go down as the log grows is
// reported.
func TestCosignatureHistory(t *testing.T) {
	h := newHeartbeats(t)
	ctx := context.Background()
	origin, _ := h.agr.LogOrigin("BER")
	t0 := h.clk.Now()
	show := func(counter uint64, cp []byte) {
		t.Helper()
		if _, err := h.Receive(ctx, "BER", h.from(t, hotline.Heartbeat{Counter: counter, Time: h.clk.Now(), Checkpoint: cp})); err != nil {
			t.Fatal(err)
		}
	}
	show(1, h.checkpoint(t, 5, 1, "CRI", "DEP"))
	h.clk.Advance(time.Minute)
	show(2, h.checkpoint(t, 5, 1, "CRI", "DEP", "BER")) // BER's own cosignature arrives later
	h.clk.Advance(time.Minute)
	ten := h.checkpoint(t, 10, 2, "CRI", "DEP")
	show(3, ten)

	first, err := h.st.FirstCosignatures(ctx, origin, 4)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range first {
		got = append(got, fmt.Sprintf("%s %d %v", c.Witness, c.Size, c.Time.Sub(t0)))
	}
	if diff := cmp.Diff([]string{"CRI 5 0s", "DEP 5 0s", "BER 5 1m0s"}, got); diff != "" {
		t.Errorf("first cosignatures of index 4 (-want +got):\n%s", diff)
	}
	if len(h.Alarms()) != 0 {
		t.Fatalf("alarms before any clock went back: %+v", h.Alarms())
	}

	// DEP cosigns size 7 after it cosigned size 10, but dates it earlier
	// than 5's: its timestamps go down as the log grows.
	h.clk.Set(t0.Add(-time.Minute))
	seven := h.checkpoint(t, 7, 3, "CRI", "DEP")
	h.clk.Set(t0.Add(3 * time.Minute))
	show(4, seven)
	var witnesses []string
	for _, a := range h.Alarms() {
		if a.Witness != "" {
			witnesses = append(witnesses, a.Witness)
		}
	}
	slices.Sort(witnesses)
	if diff := cmp.Diff([]string{"CRI", "DEP"}, witnesses); diff != "" {
		t.Errorf("witnesses reported (-want +got):\n%s", diff)
	}
}

// answering is a transport whose peer answers every heartbeat with the one
// answer returns.
type answering func() []byte

func (a answering) PostHeartbeat(context.Context, string, string, []byte) ([]byte, error) {
	return a(), nil
}

// TestAgreementDigest: every heartbeat carries the digest of the chain its
// sender holds; a round whose answer names another digest calls
// SyncAgreement for that peer, one naming the same digest or none does not.
func TestAgreementDigest(t *testing.T) {
	h := newHeartbeats(t)
	ctx := context.Background()
	answer, err := h.Receive(ctx, "BER", h.from(t, hotline.Heartbeat{Counter: 1}))
	if err != nil {
		t.Fatal(err)
	}
	v, _ := h.keys["CRI"].Message.Verifier()
	hb, err := hotline.OpenHeartbeat(answer, v)
	if err != nil {
		t.Fatal(err)
	}
	if hb.Agreement != h.agr.Digest() {
		t.Errorf("the heartbeat carries digest %s, the chain's is %s", hb.Agreement, h.agr.Digest())
	}

	var counter atomic.Uint64
	counter.Store(100)
	for _, tc := range []struct {
		name   string
		digest hotline.ID
		syncs  int
	}{
		{"another digest", hotline.ID{7}, 1},
		{"the same digest", h.agr.Digest(), 0},
		{"no digest", hotline.ID{}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var (
				mu     sync.Mutex
				synced []string
			)
			hbs, err := gossip.NewHeartbeats(gossip.HeartbeatConfig{
				Key: h.keys["CRI"].Message, Agreement: func() *agreement.Agreement { return h.agr }, Store: h.st,
				Log: noLog{}, Clock: h.clk,
				Transport: answering(func() []byte {
					return h.from(t, hotline.Heartbeat{Counter: counter.Add(1), Agreement: tc.digest})
				}),
				SyncAgreement: func(_ context.Context, peer string) {
					mu.Lock()
					defer mu.Unlock()
					synced = append(synced, peer)
				},
			})
			if err != nil {
				t.Fatal(err)
			}
			hbs.Round(ctx)
			// The round asks every peer (BER, and the depositary, which
			// answers as BER here and is refused as wrong_peer).
			if len(synced) != tc.syncs || (tc.syncs > 0 && synced[0] != "BER") {
				t.Errorf("SyncAgreement called for %v; want BER %d times", synced, tc.syncs)
			}
		})
	}
}

// TestHeardAgain (issue 18 finding 3): a peer is reported heard from again
// (and its backlog made due) on its first heartbeat, on the first after a
// failed probe of it, and on the first after two intervals of silence —
// not on every heartbeat.
func TestHeardAgain(t *testing.T) {
	h := newHeartbeats(t)
	ctx := context.Background()
	heard := func() int {
		h.mu.Lock()
		defer h.mu.Unlock()
		return len(h.heard)
	}
	steps := []struct {
		name   string
		before func()
		want   int
	}{
		{"first heartbeat", func() {}, 1},
		{"the next, at once", func() {}, 1},
		{"after a failed probe", func() { h.Round(ctx) }, 2},
		{"the next, a minute later", func() { h.clk.Advance(time.Minute) }, 2},
		{"after three minutes of silence", func() { h.clk.Advance(3 * time.Minute) }, 3},
	}
	for i, st := range steps {
		st.before()
		if _, err := h.Receive(ctx, "BER", h.from(t, hotline.Heartbeat{Counter: uint64(100 + i)})); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if got := heard(); got != st.want {
			t.Errorf("%s: heard %d times, want %d", st.name, got, st.want)
		}
	}
}
