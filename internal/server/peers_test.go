package server_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/internal/fedapi"
	"github.com/hotline-net/hotline/internal/gossip"
	"github.com/hotline-net/hotline/internal/node"
	"github.com/hotline-net/hotline/internal/outbox"
	"github.com/hotline-net/hotline/internal/poll"
	"github.com/hotline-net/hotline/internal/server"
	"github.com/hotline-net/hotline/internal/sim"
	"github.com/hotline-net/hotline/internal/store"
	"github.com/hotline-net/hotline/internal/tlog"
)

// proxy forwards TCP connections from its address to a target, and can be
// taken down (connections refused) and brought back on the same address.
type proxy struct {
	addr, target string
	mu           sync.Mutex
	ln           net.Listener
	wg           sync.WaitGroup
}

func newProxy(tb testing.TB) *proxy {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	p := &proxy{addr: ln.Addr().String()}
	ln.Close()
	tb.Cleanup(p.down)
	return p
}

func (p *proxy) up(tb testing.TB) {
	tb.Helper()
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		tb.Fatal(err)
	}
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	p.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.wg.Go(func() {
				defer c.Close()
				t, err := net.Dial("tcp", p.target)
				if err != nil {
					return
				}
				defer t.Close()
				done := make(chan struct{}, 2)
				go func() { io.Copy(t, c); done <- struct{}{} }()
				go func() { io.Copy(c, t); done <- struct{}{} }()
				<-done
			})
		}
	})
}

// down closes the listener: new connections are refused. Connections in
// flight finish.
func (p *proxy) down() {
	p.mu.Lock()
	ln := p.ln
	p.ln = nil
	p.mu.Unlock()
	if ln != nil {
		ln.Close()
	}
}

func outboxRow(tb testing.TB, s *server.Server, id hotline.ID, to string) store.OutboxRow {
	tb.Helper()
	r, err := s.Node().Store().OutboxEntry(context.Background(), id, to)
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

// TestPartitionRelay cuts the recipient off behind a proxy that refuses
// connections: the sender falls back to the depositary's relay, the
// recipient pulls from it, each message arrives once; when the proxy heals,
// delivery goes direct again. The recorded route shows each.
func TestPartitionRelay(t *testing.T) {
	px := newProxy(t)
	cfg := sim.TestnetConfig{
		Parties: []string{"BER", "CRI"},
		Endpoint: func(p, listen string) string {
			if p == "CRI" {
				px.target = listen
				return "http://" + px.addr
			}
			return "http://" + listen
		},
		Node: func(_ string, c *server.Config) {
			c.Delivery.RelayAfter = server.Duration(200 * time.Millisecond)
			c.Delivery.RelayPull = server.Duration(100 * time.Millisecond)
			c.Delivery.RelayPush = server.Duration(100 * time.Millisecond)
			c.HeartbeatInterval = server.Duration(time.Hour)
		},
	}
	tn := newTestNetWith(t, cfg, nil, nil)
	ber, cri := tn.Servers["BER"], tn.Servers["CRI"]
	ctx := context.Background()
	send := func() hotline.ID {
		id, err := ber.Node().Send(ctx, node.Draft{To: []string{"CRI"}, Kind: "clarification_request",
			Severity: hotline.SeverityCritical, Marking: hotline.TLPAmber, Body: []byte(clarificationBody)})
		if err != nil {
			t.Fatal(err)
		}
		return id
	}

	// Partitioned: the proxy refuses connections.
	var relayed []hotline.ID
	for range 3 {
		relayed = append(relayed, send())
	}
	for _, id := range relayed {
		poll.Must(t, "delivery through the relay", func() (bool, error) {
			return outboxRow(t, ber, id, "CRI").State == store.OutboxDelivered, nil
		})
		r := outboxRow(t, ber, id, "CRI")
		if r.Route != "relay DEP" || r.RelayedVia != "DEP" || len(r.RelayReceipt) == 0 {
			t.Errorf("%s: route %q, relayed via %q, relay receipt %d bytes; want the relay DEP", id, r.Route, r.RelayedVia, len(r.RelayReceipt))
		}
		if r.Receipt == nil {
			t.Fatalf("%s: delivered without CRI's receipt", id)
		}
		if _, _, err := hotline.OpenReceipt(r.Receipt.Note, mustVerifier(t, keysOf(t, tn, "CRI").Message)); err != nil {
			t.Errorf("%s: CRI's receipt, through the relay: %v", id, err)
		}
	}

	// Healed: the next message goes direct.
	px.up(t)
	direct := send()
	poll.Must(t, "direct delivery after the partition", func() (bool, error) {
		return outboxRow(t, ber, direct, "CRI").State == store.OutboxDelivered, nil
	})
	if r := outboxRow(t, ber, direct, "CRI"); r.Route != "direct http://"+px.addr {
		t.Errorf("after healing: route %q, want direct", r.Route)
	}

	// Each arrived once.
	if err := cri.Node().Settle(ctx); err != nil {
		t.Fatal(err)
	}
	page, err := cri.Node().Store().Messages(ctx, store.MessageQuery{MessageFilter: store.MessageFilter{Direction: hotline.Received}, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	got := map[hotline.ID]int{}
	for _, e := range page.Envelopes {
		got[e.ID]++
	}
	for _, id := range append(relayed, direct) {
		if got[id] != 1 {
			t.Errorf("CRI holds %s %d times", id, got[id])
		}
	}
	if len(got) != 4 {
		t.Errorf("CRI received %d messages, want 4", len(got))
	}
}

// waitFirstRound waits until the heartbeat round a node runs when it starts
// is over, so that the rounds a test triggers are the only ones left (the
// next scheduled one is an hour away).
func waitFirstRound(tb testing.TB, s *server.Server) {
	tb.Helper()
	poll.Must(tb, "the first heartbeat round", func() (bool, error) {
		ps, err := s.Heartbeats().Peers(context.Background())
		if err != nil {
			return false, err
		}
		for _, p := range ps {
			if p.LastAttempt.IsZero() {
				return false, nil
			}
		}
		return true, nil
	})
}

func keysOf(tb testing.TB, tn *testNet, party string) *hotline.KeySet {
	tb.Helper()
	ks, err := hotline.LoadKeySet(filepath.Join(tn.Dir, party, "keys"))
	if err != nil {
		tb.Fatal(err)
	}
	return ks
}

// TestEquivocationCaught has a test double for DOR sign two checkpoints of
// its log that cannot both be true, showing one to BER and the other to
// CRI. One heartbeat round between BER and CRI, triggered by the test,
// catches it on both sides, and the stored proof verifies.
func TestEquivocationCaught(t *testing.T) {
	cfg := sim.TestnetConfig{
		Parties: []string{"BER", "CRI", "DOR"},
		Node:    func(_ string, c *server.Config) { c.HeartbeatInterval = server.Duration(time.Hour) },
	}
	tn := newTestNetWith(t, cfg, []string{"DEP", "BER", "CRI"}, nil)
	for _, p := range []string{"DEP", "BER", "CRI"} {
		waitFirstRound(t, tn.Servers[p])
	}
	dor := keysOf(t, tn, "DOR")
	origin := dor.Origin()
	sign := func(root byte) []byte {
		hash := sha256.Sum256([]byte{root})
		text := fmt.Sprintf("%s\n5\n%s\n", origin, base64.StdEncoding.EncodeToString(hash[:]))
		b, err := note.Sign(&note.Note{Text: text}, dor.Checkpoint)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	a, b := sign('A'), sign('B')
	ctx := context.Background()
	client := &fedapi.Client{Key: dor.Message}
	for party, cp := range map[string][]byte{"BER": a, "CRI": b} {
		hb := &hotline.Heartbeat{From: "DOR", To: party, Time: time.Now(), Counter: uint64(time.Now().UnixNano()), Checkpoint: cp}
		msg, err := hotline.Sign(hb, dor.Message)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := client.PostHeartbeat(ctx, party, tn.Servers[party].URL(), msg); err != nil {
			t.Fatalf("the double's heartbeat to %s: %v", party, err)
		}
	}
	for _, p := range []string{"BER", "CRI"} {
		if es, _ := tn.Servers[p].Node().Store().Equivocations(ctx); len(es) != 0 {
			t.Fatalf("%s found an equivocation before the round", p)
		}
	}

	tn.Servers["BER"].Heartbeats().Round(ctx)

	v := mustVerifier(t, dor.Checkpoint)
	for _, p := range []string{"BER", "CRI"} {
		es, err := tn.Servers[p].Node().Store().Equivocations(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(es) != 1 || es[0].Origin != origin {
			t.Fatalf("%s holds %d equivocation proofs after one round, want 1 for %s", p, len(es), origin)
		}
		proof, err := tlog.ParseEquivocation(es[0].Proof)
		if err != nil {
			t.Fatal(err)
		}
		if err := proof.Verify(v); err != nil {
			t.Errorf("%s's proof does not verify with DOR's checkpoint key: %v", p, err)
		}
		if !bytes.Contains(es[0].Proof, a) || !bytes.Contains(es[0].Proof, b) {
			t.Errorf("%s's proof does not carry both signed checkpoints", p)
		}
	}
	// The alarm is counted.
	op := tn.Servers["BER"].Operator()
	resp, err := op.Client.Get(op.Base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Contains(body, []byte("hotline_equivocations_total 1")) {
		t.Error("the alarm is not counted in hotline_equivocations_total")
	}
}

// withholding is a fault-injecting transport: it refuses to deliver the
// envelope carrying one sequence number. The sender's node tells it the
// number: a hotline-envelope/v2 header shows it to nobody else.
type withholding struct {
	outbox.Transport
	seq    uint64
	sender *atomic.Pointer[server.Server]
}

func (w *withholding) PostEnvelope(ctx context.Context, to, endpoint string, view []byte) ([]byte, error) {
	e, err := hotline.Parse(view)
	if err == nil {
		opening, err := w.sender.Load().Node().SentOpening(ctx, e.ID(), to)
		if err != nil {
			return nil, err
		}
		if seq, _, err := e.Header.Sequence(to, opening); err != nil || seq == w.seq {
			return nil, errors.Join(errors.New("withheld by the test"), err)
		}
	}
	return w.Transport.PostEnvelope(ctx, to, endpoint, view)
}

// TestSequenceGap withholds BER's second message to CRI; one heartbeat
// round later, both sides report the gap.
func TestSequenceGap(t *testing.T) {
	cfg := sim.TestnetConfig{
		Parties: []string{"BER", "CRI"},
		Node: func(_ string, c *server.Config) {
			c.HeartbeatInterval = server.Duration(time.Hour)
			c.Delivery.RelayAfter = server.Duration(time.Hour)
		},
	}
	var sender atomic.Pointer[server.Server]
	tn := newTestNetWith(t, cfg, []string{"BER", "CRI"}, func(p string, o *server.Options) {
		if p == "BER" {
			o.DeliveryTransport = func(tr outbox.Transport) outbox.Transport {
				return &withholding{Transport: tr, seq: 2, sender: &sender}
			}
		}
	})
	ber, cri := tn.Servers["BER"], tn.Servers["CRI"]
	sender.Store(ber)
	ctx := context.Background()
	var ids []hotline.ID
	for range 3 {
		id, err := ber.Node().Send(ctx, node.Draft{To: []string{"CRI"}, Kind: "clarification_request",
			Severity: hotline.SeverityHigh, Marking: hotline.TLPAmber, Body: []byte(clarificationBody)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	for _, i := range []int{0, 2} {
		poll.Must(t, "messages 1 and 3 delivered", func() (bool, error) {
			return outboxRow(t, ber, ids[i], "CRI").State == store.OutboxDelivered, nil
		})
	}
	ber.Heartbeats().Round(ctx)

	find := func(s *server.Server, party string) gossip.PeerStatus {
		ps, err := s.Heartbeats().Peers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range ps {
			if p.Party == party {
				return p
			}
		}
		t.Fatalf("no status for %s", party)
		return gossip.PeerStatus{}
	}
	// BER's view: it sent 3; CRI says it has 1 without a gap.
	if p := find(ber, "CRI"); p.Sent != 3 || p.TheyReceived != 1 || !p.Up {
		t.Errorf("BER's view of CRI: sent %d, they received %d, up %v; want 3, 1, up", p.Sent, p.TheyReceived, p.Up)
	}
	// CRI's view: BER says it sent 3; CRI has 1 and 3, missing 2.
	p := find(cri, "BER")
	if p.TheySent != 3 || p.Received != 1 || len(p.Missing) != 1 || p.Missing[0] != (store.SeqRange{From: 2, To: 2}) {
		t.Errorf("CRI's view of BER: they sent %d, received %d, missing %v; want 3, 1, [2-2]", p.TheySent, p.Received, p.Missing)
	}
}

// TestSignedRefusalThroughRelay (issue 16 finding 3): CRI, cut off behind
// a proxy, pulls BER's envelope from the depositary's relay and refuses it
// as invalid_body; its signed refusal goes back through the relay, and BER
// verifies, stores and logs it and stops retrying — the same bytes CRI
// keeps.
func TestSignedRefusalThroughRelay(t *testing.T) {
	px := newProxy(t)
	cfg := sim.TestnetConfig{
		Parties: []string{"BER", "CRI"},
		Endpoint: func(p, listen string) string {
			if p == "CRI" {
				px.target = listen
				return "http://" + px.addr
			}
			return "http://" + listen
		},
		Node: func(_ string, c *server.Config) {
			c.Delivery.RelayAfter = server.Duration(200 * time.Millisecond)
			c.Delivery.RelayPull = server.Duration(100 * time.Millisecond)
			c.Delivery.RelayPush = server.Duration(100 * time.Millisecond)
			c.HeartbeatInterval = server.Duration(time.Hour)
		},
	}
	tn := newTestNetWith(t, cfg, nil, func(p string, o *server.Options) {
		if p == "CRI" {
			o.Bodies = strictBodies{}
		}
	})
	ber, cri := tn.Servers["BER"].Node(), tn.Servers["CRI"].Node()
	ctx := context.Background()
	id, err := ber.Send(ctx, node.Draft{To: []string{"CRI"}, Kind: "clarification_request",
		Severity: hotline.SeverityCritical, Marking: hotline.TLPAmber, Body: []byte(clarificationBody)})
	if err != nil {
		t.Fatal(err)
	}
	poll.Must(t, "BER's row failed, refused through the relay", func() (bool, error) {
		return outboxRow(t, tn.Servers["BER"], id, "CRI").State == store.OutboxFailed, nil
	})
	got, err := ber.Store().Refusals(ctx, hotline.RefusalReceived, "CRI")
	if err != nil {
		t.Fatal(err)
	}
	issued, err := cri.Store().Refusals(ctx, hotline.RefusalIssued, "BER")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || len(issued) != 1 || !bytes.Equal(got[0].Note, issued[0].Note) || got[0].Message != id || !got[0].Sequenced {
		t.Fatalf("BER holds %+v, CRI %+v: want the one same refusal", got, issued)
	}
	if r := outboxRow(t, tn.Servers["BER"], id, "CRI"); r.RelayedVia != "DEP" {
		t.Errorf("relayed via %q, want DEP", r.RelayedVia)
	}
}
