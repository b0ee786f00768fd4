package outbox

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/internal/clock"
	"github.com/hotline-net/hotline/internal/poll"
	"github.com/hotline-net/hotline/internal/store"
	"github.com/hotline-net/hotline/internal/store/sqlite"
)

// faultyTransport fails every endpoint in down and answers the others with
// a receipt note, recording each attempt.
type faultyTransport struct {
	mu       sync.Mutex
	down     map[string]bool
	attempts []string
}

func (f *faultyTransport) PostEnvelope(ctx context.Context, to, endpoint string, view []byte) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.attempts = append(f.attempts, endpoint)
	if f.down[endpoint] {
		return nil, errors.New("connection refused")
	}
	// One receipt per envelope: the store keeps receipts by their id.
	return fmt.Appendf(nil, "receipt from %s for %x", endpoint, sha256.Sum256(view)), nil
}

func (f *faultyTransport) setDown(ep string, down bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down[ep] = down
}

func (f *faultyTransport) tried() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.attempts...)
}

// storeRecorder records deliveries straight into the store, as the node
// does after verifying the receipt.
type storeRecorder struct {
	st  store.Store
	clk *clock.Fake
}

func (r *storeRecorder) RecordReceipt(ctx context.Context, id hotline.ID, recipient string, note []byte, route string) (*hotline.Receipt, error) {
	rid := hotline.NoteID(note)
	_, err := r.st.MarkDelivered(ctx, &store.Delivered{
		ID: id, Recipient: recipient, At: r.clk.Now(), Route: route,
		Receipt:   store.Receipt{MessageID: id, Party: recipient, Received: r.clk.Now(), LogIndex: 0, Note: note},
		ReceiptID: rid, Entry: hotline.LeafEntry("hotline/BER", hotline.ReceiptReceived, rid),
	})
	return &hotline.Receipt{Message: id, Party: recipient}, err
}

func (r *storeRecorder) RecordRelayed(ctx context.Context, id hotline.ID, recipient, relay string, note []byte) error {
	return r.st.MarkRelayed(ctx, &store.RelayedDelivery{ID: id, Recipient: recipient, Relay: relay, At: r.clk.Now(), Receipt: note})
}

func (r *storeRecorder) RecordRefusal(ctx context.Context, id hotline.ID, recipient string, note []byte) error {
	return r.st.MarkFailed(ctx, id, recipient, r.clk.Now(), "refused, signed")
}

type harness struct {
	st   store.Store
	clk  *clock.Fake
	tr   *faultyTransport
	keys map[string]*hotline.KeySet
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	st, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(t.TempDir(), "db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h := &harness{st: st, clk: clock.NewFake(time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)), tr: &faultyTransport{down: map[string]bool{}}, keys: map[string]*hotline.KeySet{}}
	for _, p := range []string{"BER", "CRI"} {
		if h.keys[p], err = hotline.GenerateKeySet(p, ""); err != nil {
			t.Fatal(err)
		}
	}
	return h
}

// queue stores a sealed envelope from BER to CRI, logged, so that its
// outbox row is due.
func (h *harness) queue(t *testing.T) hotline.ID {
	t.Helper()
	ctx := context.Background()
	seqs, err := h.st.NextSequences(ctx, []string{"CRI"})
	if err != nil {
		t.Fatal(err)
	}
	e, err := hotline.Seal(&hotline.Draft{
		From: "BER", Created: h.clk.Now(),
		To:    []hotline.Addressee{{Party: "CRI", Key: h.keys["CRI"].Encryption.Public(), Seq: seqs[0].Seq, Prev: seqs[0].Prev}},
		Inner: hotline.Inner{Kind: "notification", Severity: hotline.SeverityLow, Marking: hotline.TLPClear},
		Body:  []byte("{}"),
	}, h.keys["BER"].Message)
	if err != nil {
		t.Fatal(err)
	}
	id := e.ID()
	if _, err := h.st.InsertSent(ctx, &store.Sent{
		Envelope: store.Envelope{ID: id, From: "BER", To: []string{"CRI"}, Created: e.Header.Created, Kind: "notification",
			Severity: hotline.SeverityLow, Marking: hotline.TLPClear, Raw: e.Marshal(), Body: []byte("{}"), At: h.clk.Now()},
		Seqs:  seqs,
		Entry: hotline.LeafEntry("hotline/BER", hotline.Sent, id),
	}); err != nil {
		t.Fatal(err)
	}
	hw, _ := h.st.HighWater(ctx)
	if err := h.st.Sequenced(ctx, hotline.Sent, id, hw, nil); err != nil {
		t.Fatal(err)
	}
	return id
}

func (h *harness) run(t *testing.T, cfg Config) *Deliverer {
	t.Helper()
	kick := make(chan struct{}, 1)
	cfg.Store, cfg.Recorder, cfg.Transport, cfg.Clock, cfg.Kick = h.st, &storeRecorder{st: h.st, clk: h.clk}, h.tr, h.clk, kick
	if cfg.Endpoints == nil {
		cfg.Endpoints = func(string) ([]string, error) { return []string{"https://a.example", "https://b.example"}, nil }
	}
	cfg.Poll = 10 * time.Millisecond
	d, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		d.Run(ctx)
		close(done)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return d
}

// idle waits until the dispatcher completed three more rounds: long enough
// for anything due to have been handed out.
func idle(t *testing.T, d *Deliverer) {
	t.Helper()
	n := d.rounds.Load()
	poll.MustTrue(t, "three dispatcher rounds", func() bool { return d.rounds.Load() >= n+3 })
}

func (h *harness) row(t *testing.T, id hotline.ID) store.OutboxRow {
	t.Helper()
	r, err := h.st.OutboxEntry(context.Background(), id, "CRI")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestEndpointsInOrder(t *testing.T) {
	h := newHarness(t)
	h.tr.setDown("https://a.example", true)
	id := h.queue(t)
	h.run(t, Config{})
	poll.MustTrue(t, "delivery", func() bool { return h.row(t, id).State == store.OutboxDelivered })
	if got := h.tr.tried(); len(got) != 2 || got[0] != "https://a.example" || got[1] != "https://b.example" {
		t.Errorf("tried %v, want a then b", got)
	}
	if r := h.row(t, id); r.Route != "direct https://b.example" {
		t.Errorf("route %q", r.Route)
	}
}

func TestBackoffAndRetry(t *testing.T) {
	h := newHarness(t)
	h.tr.setDown("https://a.example", true)
	h.tr.setDown("https://b.example", true)
	id := h.queue(t)
	d := h.run(t, Config{MinBackoff: time.Minute, MaxBackoff: 10 * time.Minute})

	// Each failed round doubles the wait, within ±20% jitter, up to the cap;
	// the row is not retried before its time.
	want := []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 10 * time.Minute, 10 * time.Minute}
	for i, w := range want {
		poll.MustTrue(t, "attempt", func() bool { return h.row(t, id).Attempts == i+1 })
		r := h.row(t, id)
		wait := r.NextAttempt.Sub(h.clk.Now())
		if wait < w*8/10 || wait > w*12/10 {
			t.Errorf("after attempt %d: next in %v, want %v ± 20%%", i+1, wait, w)
		}
		if r.State != store.OutboxPending || r.LastError == "" {
			t.Errorf("after attempt %d: state %v, last error %q", i+1, r.State, r.LastError)
		}
		tried := len(h.tr.tried())
		idle(t, d) // nothing is due yet
		if got := len(h.tr.tried()); got != tried {
			t.Fatalf("retried %d times before the next attempt was due", got-tried)
		}
		h.clk.Advance(wait)
	}
	h.tr.setDown("https://b.example", false)
	poll.MustTrue(t, "delivery once the endpoint is back", func() bool { return h.row(t, id).State == store.OutboxDelivered })
}

func TestAlertOnce(t *testing.T) {
	h := newHarness(t)
	h.tr.setDown("https://a.example", true)
	h.tr.setDown("https://b.example", true)
	id := h.queue(t)
	var mu sync.Mutex
	var alerts []hotline.ID
	d := h.run(t, Config{MinBackoff: time.Minute, AlertAfter: time.Hour, OnAlert: func(r store.OutboxRow) {
		mu.Lock()
		defer mu.Unlock()
		alerts = append(alerts, r.ID)
	}})
	poll.MustTrue(t, "the first attempt", func() bool { return h.row(t, id).Attempts >= 1 })
	h.clk.Advance(59 * time.Minute)
	idle(t, d)
	mu.Lock()
	if len(alerts) != 0 {
		t.Error("alert raised before AlertAfter")
	}
	mu.Unlock()
	h.clk.Advance(2 * time.Minute)
	poll.MustTrue(t, "the alert", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(alerts) == 1
	})
	idle(t, d)
	mu.Lock()
	defer mu.Unlock()
	if len(alerts) != 1 || alerts[0] != id {
		t.Errorf("alerts %v, want one for %s", alerts, id)
	}
	if r := h.row(t, id); r.Alerted.IsZero() || r.State != store.OutboxPending {
		t.Errorf("row after the alert: alerted %v, state %v (it must stay pending)", r.Alerted, r.State)
	}
}

// TestHeardMakesBacklogDue (issue 18 finding 3): rows to a recipient that
// was down wait out their backoff; once the recipient is heard from again
// they are all due at once, with the clock not moved at all.
func TestHeardMakesBacklogDue(t *testing.T) {
	h := newHarness(t)
	h.tr.setDown("https://a.example", true)
	h.tr.setDown("https://b.example", true)
	ids := []hotline.ID{h.queue(t), h.queue(t), h.queue(t)}
	d := h.run(t, Config{MinBackoff: 5 * time.Minute, MaxBackoff: 5 * time.Minute})
	for _, id := range ids {
		poll.MustTrue(t, "the first attempt", func() bool { return h.row(t, id).Attempts == 1 })
	}
	h.tr.setDown("https://a.example", false)
	idle(t, d)
	for _, id := range ids {
		if r := h.row(t, id); r.State != store.OutboxPending {
			t.Fatalf("delivered before its backoff expired: %+v", r)
		}
	}
	n, err := d.Heard(context.Background(), "CRI")
	if err != nil || n != len(ids) {
		t.Fatalf("Heard: %d rows due, %v; want %d", n, err, len(ids))
	}
	for _, id := range ids {
		poll.MustTrue(t, "delivery of the backlog", func() bool { return h.row(t, id).State == store.OutboxDelivered })
	}
}

// TestDeliveryAfterFailureFlushesBacklog (issue 18 finding 3): one row
// delivered after failing shows the recipient is back; its other rows are
// due at once.
func TestDeliveryAfterFailureFlushesBacklog(t *testing.T) {
	h := newHarness(t)
	h.tr.setDown("https://a.example", true)
	h.tr.setDown("https://b.example", true)
	first := h.queue(t)
	h.run(t, Config{MinBackoff: time.Minute, MaxBackoff: time.Minute})
	poll.MustTrue(t, "the first attempt", func() bool { return h.row(t, first).Attempts == 1 })
	h.clk.Advance(30 * time.Second)
	later := []hotline.ID{h.queue(t), h.queue(t)}
	for _, id := range later {
		poll.MustTrue(t, "a failed attempt", func() bool { return h.row(t, id).Attempts == 1 })
	}
	h.tr.setDown("https://a.example", false)
	// The first row's backoff expires; the later rows' (a minute from
	// their own attempts) does not.
	h.clk.Advance(45 * time.Second)
	for _, id := range append(later, first) {
		poll.MustTrue(t, "delivery", func() bool { return h.row(t, id).State == store.OutboxDelivered })
	}
}
