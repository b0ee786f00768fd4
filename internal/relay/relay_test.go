package relay_test

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/agreement"
	"github.com/hotline-net/hotline/internal/clock"
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
