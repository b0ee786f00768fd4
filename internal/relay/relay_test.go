package relay_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/agreement"
	"github.com/hotline-net/hotline/internal/clock"
	"github.com/hotline-net/hotline/internal/fedapi"
	"github.com/hotline-net/hotline/internal/poll"
	"github.com/hotline-net/hotline/internal/refusal"
	"github.com/hotline-net/hotline/internal/relay"
	"github.com/hotline-net/hotline/internal/sim"
	"github.com/hotline-net/hotline/internal/store/sqlite"
	"github.com/hotline-net/hotline/internal/testnode"
)

// parties are a testnet's agreement (DEP, the depositary, is its relay)
// and keys.
type parties struct {
	agr  *agreement.Agreement
	keys map[string]*hotline.KeySet
	clk  *clock.Fake
}

func newParties(t *testing.T) *parties {
	tn := testnode.Start(t, testnode.Config{Testnet: sim.TestnetConfig{Parties: []string{"BER", "CRI", "DOR"}}, Run: []string{}})
	p := &parties{agr: tn.Agreement(t), keys: map[string]*hotline.KeySet{}, clk: clock.NewFake(time.Now().Add(time.Minute).Truncate(time.Second))}
	for _, party := range []string{"DEP", "BER", "CRI", "DOR"} {
		p.keys[party] = tn.Keys(t, party)
	}
	return p
}

// relayOf is party's relay side on a fresh SQLite store.
func (p *parties) relayOf(t *testing.T, party string) *relay.Relay {
	t.Helper()
	st, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(t.TempDir(), "db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	r, err := relay.New(relay.Config{Key: p.keys[party].Message, Agreement: func() *agreement.Agreement { return p.agr }, Store: st, Clock: p.clk})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// seal seals a notification from BER to the parties in to.
func (p *parties) seal(t *testing.T, to ...string) *hotline.Envelope {
	t.Helper()
	d := &hotline.Draft{
		Agreement: p.agr.Latest().Hash(), From: "BER", Created: p.clk.Now(),
		Inner: hotline.Inner{Kind: "notification", Severity: hotline.SeverityHigh, Marking: hotline.TLPAmber},
		Body:  []byte(`{}`),
	}
	for _, party := range to {
		d.To = append(d.To, hotline.Addressee{Party: party, Key: p.keys[party].Encryption.Public(), Seq: 1})
	}
	e, err := hotline.Seal(d, p.keys["BER"].Message)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func mustView(t *testing.T, e *hotline.Envelope, party string) []byte {
	t.Helper()
	v, err := e.View(party)
	if err != nil {
		t.Fatal(err)
	}
	return v.Marshal()
}

func (p *parties) verifier(t *testing.T, party string) note.Verifier {
	t.Helper()
	v, err := p.keys[party].Message.Verifier()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestRelay: the relay takes a view from its sender and answers with its
// signed relay receipt, the same again for the same view; the recipient
// pulls it and hands its receipt back, which the sender's next attempt
// gets.
func TestRelay(t *testing.T) {
	p := newParties(t)
	r := p.relayOf(t, "DEP")
	ctx := context.Background()
	e := p.seal(t, "CRI")
	view := mustView(t, e, "CRI")

	raw, err := r.Put(ctx, "BER", view)
	if err != nil {
		t.Fatal(err)
	}
	var ans relay.Answer
	if err := json.Unmarshal(raw, &ans); err != nil {
		t.Fatal(err)
	}
	rr, err := hotline.OpenRelayReceipt(ans.RelayReceipt, p.verifier(t, "DEP"))
	if err != nil {
		t.Fatal(err)
	}
	if rr.Message != e.ID() || rr.From != "BER" || rr.To != "CRI" || rr.Relay != "DEP" || ans.RecipientReceipt != nil {
		t.Errorf("answer: %+v, recipient receipt %q", rr, ans.RecipientReceipt)
	}
	if again, err := r.Put(ctx, "BER", view); err != nil || !bytes.Equal(again, raw) {
		t.Errorf("the same view again: %v, same answer %v", err, bytes.Equal(again, raw))
	}

	raw, err = r.List(ctx, "CRI", "")
	if err != nil {
		t.Fatal(err)
	}
	var page relay.Page
	if err := json.Unmarshal(raw, &page); err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 1 || page.Items[0].ID != e.ID().String() || page.Items[0].From != "BER" || !bytes.Equal(page.Items[0].View, view) {
		t.Fatalf("CRI's pull: %+v", page)
	}
	if raw, err := r.List(ctx, "DOR", ""); err != nil || !bytes.Contains(raw, []byte(`"items":[]`)) {
		t.Errorf("DOR's pull: %s, %v", raw, err)
	}

	receipt, err := hotline.Sign(&hotline.Receipt{Message: e.ID(), Party: "CRI", Received: p.clk.Now(), LogOrigin: "hotline/CRI", LogIndex: 4}, p.keys["CRI"].Message)
	if err != nil {
		t.Fatal(err)
	}
	handed, _ := json.Marshal(relay.HandedOn{ID: e.ID().String(), Receipt: receipt})
	if err := r.Handed(ctx, "CRI", handed); err != nil {
		t.Fatal(err)
	}
	raw, err = r.Put(ctx, "BER", view)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &ans); err != nil || !bytes.Equal(ans.RecipientReceipt, receipt) {
		t.Errorf("the sender's next attempt: %v, recipient's receipt %q", err, ans.RecipientReceipt)
	}
}

// TestRelayRefusals: each refusal of the relay has its stable code and
// stores nothing.
func TestRelayRefusals(t *testing.T) {
	p := newParties(t)
	ctx := context.Background()
	e := p.seal(t, "CRI")
	other := p.seal(t, "DOR")
	receiptFor := func(id hotline.ID, by string) []byte {
		b, err := hotline.Sign(&hotline.Receipt{Message: id, Party: by, Received: p.clk.Now(), LogOrigin: "hotline/" + by}, p.keys[by].Message)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	handed := func(id hotline.ID, receipt []byte) []byte {
		b, _ := json.Marshal(relay.HandedOn{ID: id.String(), Receipt: receipt})
		return b
	}
	for _, tt := range []struct {
		name  string
		relay string
		call  func(r *relay.Relay) error
		code  string
	}{
		{"not a relay", "BER", func(r *relay.Relay) error { _, err := r.Put(ctx, "BER", mustView(t, e, "CRI")); return err }, "not_a_relay"},
		{"relayed by another than its sender", "DEP", func(r *relay.Relay) error { _, err := r.Put(ctx, "DOR", mustView(t, e, "CRI")); return err }, "relay_sender"},
		{"a full envelope", "DEP", func(r *relay.Relay) error { _, err := r.Put(ctx, "BER", p.seal(t, "CRI", "DOR").Marshal()); return err }, "relay_no_view"},
		{"not an envelope", "DEP", func(r *relay.Relay) error { _, err := r.Put(ctx, "BER", []byte("hotline-envelope/v1\n")); return err }, "malformed"},
		{"a handed-on notice that is not JSON", "DEP", func(r *relay.Relay) error { return r.Handed(ctx, "CRI", []byte("{")) }, "malformed"},
		{"a receipt for another message", "DEP", func(r *relay.Relay) error { return r.Handed(ctx, "CRI", handed(e.ID(), receiptFor(other.ID(), "CRI"))) }, "bad_signature"},
		{"a receipt signed by another party", "DEP", func(r *relay.Relay) error { return r.Handed(ctx, "CRI", handed(e.ID(), receiptFor(e.ID(), "DOR"))) }, "bad_signature"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := p.relayOf(t, tt.relay)
			if err := tt.call(r); hotline.ErrorCode(err) != tt.code {
				t.Fatalf("got %v, want %s", err, tt.code)
			}
			raw, err := r.List(ctx, "CRI", "")
			if err != nil || !bytes.Contains(raw, []byte(`"items":[]`)) {
				t.Errorf("the refusal stored something: %s, %v", raw, err)
			}
		})
	}
}

// sealBig seals a notification from BER to CRI whose body is about size
// bytes (each one distinct: sealing draws a fresh nonce).
func (p *parties) sealBig(t *testing.T, size int, _ uint64) *hotline.Envelope {
	t.Helper()
	d := &hotline.Draft{
		Agreement: p.agr.Latest().Hash(), From: "BER", Created: p.clk.Now(),
		To:    []hotline.Addressee{{Party: "CRI", Key: p.keys["CRI"].Encryption.Public(), Seq: 1}},
		Inner: hotline.Inner{Kind: "notification", Severity: hotline.SeverityHigh, Marking: hotline.TLPAmber},
		Body:  []byte(`{"x":"` + strings.Repeat("a", size) + `"}`),
	}
	e, err := hotline.Seal(d, p.keys["BER"].Message)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestPullPageBounded (issue 18 finding 2): a pull's page is bounded by
// bytes, and its answer fits what the puller's client takes: views of
// 700 kB each come one page at a time, not 64 at once.
func TestPullPageBounded(t *testing.T) {
	p := newParties(t)
	r := p.relayOf(t, "DEP")
	ctx := context.Background()
	for i := range 4 {
		if _, err := r.Put(ctx, "BER", mustView(t, p.sealBig(t, 700_000, uint64(i+1)), "CRI")); err != nil {
			t.Fatal(err)
		}
	}
	cursor, seen := "", 0
	for range 10 {
		raw, err := r.List(ctx, "CRI", cursor)
		if err != nil {
			t.Fatal(err)
		}
		if int64(len(raw)) > relay.MaxPageAnswer {
			t.Fatalf("a page of %d bytes, over the %d a puller takes", len(raw), relay.MaxPageAnswer)
		}
		var page relay.Page
		if err := json.Unmarshal(raw, &page); err != nil {
			t.Fatal(err)
		}
		if len(page.Items) != 1 {
			t.Errorf("a page of %d views of 700 kB, over %d bytes", len(page.Items), relay.PageBytes)
		}
		seen += len(page.Items)
		if page.Next == "" {
			break
		}
		cursor = page.Next
	}
	if seen != 4 {
		t.Errorf("pulled %d views, want 4", seen)
	}
}

// direct is a puller's client that calls the relay in-process.
type direct struct{ r *relay.Relay }

func (d direct) PullRelay(ctx context.Context, relay, endpoint, cursor string) ([]byte, error) {
	return d.r.List(ctx, "CRI", cursor)
}
func (d direct) PostHanded(ctx context.Context, relay, endpoint string, body []byte) error {
	return d.r.Handed(ctx, "CRI", body)
}

// flaky accepts views as CRI, signing receipts, but fails the first
// attempt at the views in fail as a store would (not a refusal).
type flaky struct {
	p        *parties
	mu       sync.Mutex
	fail     map[hotline.ID]bool
	accepted map[hotline.ID]bool
}

func (f *flaky) Accept(ctx context.Context, raw []byte) ([]byte, error) {
	e, err := hotline.Parse(raw)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail[e.ID()] {
		delete(f.fail, e.ID())
		return nil, errors.New("database is locked")
	}
	f.accepted[e.ID()] = true
	return hotline.Sign(&hotline.Receipt{Message: e.ID(), Party: "CRI", Received: f.p.clk.Now(), LogOrigin: "hotline/CRI"}, f.p.keys["CRI"].Message)
}

// TestPullerKeepsCursorOnTransientError (issue 18 finding 2): a view the
// recipient failed to accept for a passing reason is pulled again; the
// cursor never moves past it.
func TestPullerKeepsCursorOnTransientError(t *testing.T) {
	p := newParties(t)
	r := p.relayOf(t, "DEP")
	ctx := context.Background()
	var ids []hotline.ID
	for i := range 70 {
		e := p.sealBig(t, 10, uint64(i+1))
		ids = append(ids, e.ID())
		if _, err := r.Put(ctx, "BER", mustView(t, e, "CRI")); err != nil {
			t.Fatal(err)
		}
	}
	st, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(t.TempDir(), "cri.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	acc := &flaky{p: p, fail: map[hotline.ID]bool{ids[0]: true}, accepted: map[hotline.ID]bool{}}
	pl, err := relay.NewPuller(relay.PullerConfig{Self: "CRI", Agreement: func() *agreement.Agreement { return p.agr }, Store: st, Client: direct{r}, Node: acc, Clock: p.clk})
	if err != nil {
		t.Fatal(err)
	}
	pl.Pull(ctx)
	pl.Pull(ctx)
	for i, id := range ids {
		if !acc.accepted[id] {
			t.Errorf("view %d was never accepted", i)
		}
	}
}

// refusedErr is a recipient's refusal of one view (a 4xx).
type refusedErr struct{}

func (refusedErr) Error() string { return "peer refused (422 invalid_body)" }
func (refusedErr) Refused() bool { return true }

// pushTransport refuses the views in refuse and takes the others.
type pushTransport struct {
	p      *parties
	refuse hotline.ID
	mu     sync.Mutex
	took   map[hotline.ID]bool
}

func (pt *pushTransport) PostEnvelope(ctx context.Context, to, endpoint string, view []byte) ([]byte, error) {
	e, err := hotline.Parse(view)
	if err != nil {
		return nil, err
	}
	if e.ID() == pt.refuse {
		return nil, refusedErr{}
	}
	pt.mu.Lock()
	pt.took[e.ID()] = true
	pt.mu.Unlock()
	return hotline.Sign(&hotline.Receipt{Message: e.ID(), Party: "CRI", Received: pt.p.clk.Now(), LogOrigin: "hotline/CRI"}, pt.p.keys["CRI"].Message)
}

// TestPushPastRefused (issue 18 finding 2): a view the recipient refuses
// does not stop the relay from pushing the views after it.
func TestPushPastRefused(t *testing.T) {
	p := newParties(t)
	ctx := context.Background()
	st, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(t.TempDir(), "db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	first, second := p.sealBig(t, 10, 1), p.sealBig(t, 10, 2)
	pt := &pushTransport{p: p, refuse: first.ID(), took: map[hotline.ID]bool{}}
	r, err := relay.New(relay.Config{Key: p.keys["DEP"].Message, Agreement: func() *agreement.Agreement { return p.agr }, Store: st, Clock: p.clk, Transport: pt, PushEvery: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range []*hotline.Envelope{first, second} {
		if _, err := r.Put(ctx, "BER", mustView(t, e, "CRI")); err != nil {
			t.Fatal(err)
		}
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { r.Run(rctx); close(done) }()
	defer func() { cancel(); <-done }()
	poll.MustTrue(t, "the second view pushed", func() bool {
		pt.mu.Lock()
		defer pt.mu.Unlock()
		return pt.took[second.ID()]
	})
}

// TestRelayQuota (issue 18 finding 2): a relay holds at most its quota of
// pending views per recipient; the next is refused, stored nowhere, and
// other recipients are not affected.
func TestRelayQuota(t *testing.T) {
	p := newParties(t)
	ctx := context.Background()
	st, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(t.TempDir(), "db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	r, err := relay.New(relay.Config{Key: p.keys["DEP"].Message, Agreement: func() *agreement.Agreement { return p.agr }, Store: st, Clock: p.clk, MaxPerRecipient: 2})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if _, err := r.Put(ctx, "BER", mustView(t, p.sealBig(t, 10, uint64(i+1)), "CRI")); err != nil {
			t.Fatal(err)
		}
	}
	third := mustView(t, p.sealBig(t, 10, 3), "CRI")
	if _, err := r.Put(ctx, "BER", third); hotline.ErrorCode(err) != "relay_full" {
		t.Fatalf("over the quota: %v, want relay_full", err)
	}
	if s := fedapi.Status("relay_full"); s/100 != 4 && s/100 != 5 || s == 500 {
		t.Errorf("relay_full answers %d", s)
	}
	if n, err := st.RelayCount(ctx, "CRI", true); err != nil || n != 2 {
		t.Errorf("held for CRI: %d, %v", n, err)
	}
	if _, err := r.Put(ctx, "BER", mustView(t, p.seal(t, "DOR"), "DOR")); err != nil {
		t.Errorf("another recipient: %v", err)
	}
}

// TestRelayRefusesUnknown (issue 18 finding 2): a view naming an agreement
// version the relay does not know, or a recipient that is no party, gets
// no relay receipt and a 4xx refusal.
func TestRelayRefusesUnknown(t *testing.T) {
	p := newParties(t)
	r := p.relayOf(t, "DEP")
	ctx := context.Background()
	zzz, err := hotline.GenerateKeySet("ZZZ", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name   string
		change func(*hotline.Draft)
		to     string
		code   string
	}{
		{"an unknown agreement", func(d *hotline.Draft) { d.Agreement = hotline.ID{1, 2, 3} }, "CRI", "unknown_agreement"},
		{"an unknown recipient", func(d *hotline.Draft) {
			d.To = []hotline.Addressee{{Party: "ZZZ", Key: zzz.Encryption.Public(), Seq: 1}}
		}, "ZZZ", "unknown_party"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := &hotline.Draft{
				Agreement: p.agr.Latest().Hash(), From: "BER", Created: p.clk.Now(),
				To:    []hotline.Addressee{{Party: "CRI", Key: p.keys["CRI"].Encryption.Public(), Seq: 1}},
				Inner: hotline.Inner{Kind: "notification", Severity: hotline.SeverityHigh, Marking: hotline.TLPAmber},
				Body:  []byte(`{}`),
			}
			tt.change(d)
			e, err := hotline.Seal(d, p.keys["BER"].Message)
			if err != nil {
				t.Fatal(err)
			}
			_, err = r.Put(ctx, "BER", mustView(t, e, tt.to))
			if code := refusal.Code(err); code != tt.code || fedapi.Status(code)/100 != 4 {
				t.Errorf("Put: %v (code %s, status %d), want %s and a 4xx", err, code, fedapi.Status(code), tt.code)
			}
			if raw, err := r.List(ctx, tt.to, ""); err != nil || !bytes.Contains(raw, []byte(`"items":[]`)) {
				t.Errorf("the refusal stored something: %s, %v", raw, err)
			}
		})
	}
}
