package node

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"golang.org/x/mod/sumdb/note"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/internal/clock"
	"github.com/hotline-net/hotline/internal/obligations"
	"github.com/hotline-net/hotline/internal/store"
)

// testNode is a node on the fakes, with what a test needs to look inside.
type testNode struct {
	*Node
	w   *world
	st  *memStore
	log *memLog
	clk *clock.Fake
}

// newTestNode starts party's node on a fresh fake store and log, its
// clock a minute after the agreement took effect.
func newTestNode(tb testing.TB, party string, change func(*Config)) *testNode {
	tb.Helper()
	w := mustWorld(tb)
	origin, err := w.agr.LogOrigin(party)
	if err != nil {
		tb.Fatal(err)
	}
	tn := &testNode{w: w, st: newMemStore(), log: &memLog{origin: origin}, clk: clock.NewFake(w.at.Add(time.Minute))}
	cfg := Config{Keys: w.keys[party], Agreement: w.agr, Store: tn.st, Log: tn.log, Bodies: bodies{}, Clock: tn.clk}
	if change != nil {
		change(&cfg)
	}
	tn.Node = mustNew(tb, cfg)
	return tn
}

func mustNew(tb testing.TB, cfg Config) *Node {
	tb.Helper()
	n, err := New(context.Background(), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(n.Close)
	return n
}

// restart starts the node again on the same store and log, as after a
// crash, and returns it.
func (tn *testNode) restart(tb testing.TB) (*Node, error) {
	tb.Helper()
	tn.Node.Close()
	n, err := New(context.Background(), Config{Keys: tn.keys, Agreement: tn.w.agr, Store: tn.st, Log: tn.log, Bodies: bodies{}, Clock: tn.clk})
	if err == nil {
		tn.Node = n
		tb.Cleanup(n.Close)
	}
	return n, err
}

// seal seals a notification from one party to others, created now.
func (w *world) seal(tb testing.TB, from string, to []string, now time.Time, change func(*hotline.Draft)) *hotline.Envelope {
	tb.Helper()
	v, err := w.agr.Current(now)
	if err != nil {
		tb.Fatal(err)
	}
	d := &hotline.Draft{
		Agreement: v.Hash(), From: from, Created: now,
		Inner: hotline.Inner{Kind: "notification", Severity: hotline.SeverityHigh, Marking: hotline.TLPAmber},
		Body:  []byte(`{}`),
	}
	for _, p := range to {
		d.To = append(d.To, hotline.Addressee{Party: p, Key: w.keys[p].Encryption.Public(), Seq: 1})
	}
	if change != nil {
		change(d)
	}
	e, err := hotline.Seal(d, w.keys[from].Message)
	if err != nil {
		tb.Fatal(err)
	}
	return e
}

func mustView(tb testing.TB, e *hotline.Envelope, party string) []byte {
	tb.Helper()
	v, err := e.View(party)
	if err != nil {
		tb.Fatal(err)
	}
	return v.Marshal()
}

// sentView returns party's view of envelope id, which this node sent.
func (tn *testNode) sentView(tb testing.TB, id hotline.ID, party string) []byte {
	tb.Helper()
	env, err := tn.st.Envelope(context.Background(), hotline.Sent, id)
	if err != nil {
		tb.Fatal(err)
	}
	full, err := hotline.Parse(env.Raw)
	if err != nil {
		tb.Fatal(err)
	}
	return mustView(tb, full, party)
}

func mustVerifier(tb testing.TB, k *hotline.SigningKey) note.Verifier {
	tb.Helper()
	v, err := k.Verifier()
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

// counted returns a counter's value.
func counted(tb testing.TB, c prometheus.Metric) float64 {
	tb.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		tb.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// TestAcceptRefusals: every refusal Accept can give has its stable code,
// changes nothing in the store or the log, and is counted under its code.
func TestAcceptRefusals(t *testing.T) {
	w := mustWorld(t)
	now := w.at.Add(time.Minute)
	toCRI := []string{"CRI"}
	view := func(from string, to []string, change func(*hotline.Draft)) func(t *testing.T) []byte {
		return func(t *testing.T) []byte { return mustView(t, w.seal(t, from, to, now, change), to[len(to)-1]) }
	}
	tests := []struct {
		name  string
		raw   func(t *testing.T) []byte
		clock time.Time // the node's time, if not now
		max   int64     // the node's envelope limit, if set
		code  string
	}{
		{name: "malformed", raw: func(*testing.T) []byte { return []byte("hotline-envelope/v1\nnonsense\n") }, code: "malformed"},
		{name: "wrong tag", raw: func(*testing.T) []byte { return []byte("GET / HTTP/1.1\n") }, code: "wrong_tag"},
		{name: "trailing data", raw: func(t *testing.T) []byte { return append(view("BER", toCRI, nil)(t), 0) }, code: "trailing_data"},
		{name: "over the node's limit", raw: view("BER", toCRI, func(d *hotline.Draft) { d.Body = bytes.Repeat([]byte(" "), 8<<10) }), max: 4 << 10, code: "envelope_too_large"},
		{name: "unknown agreement", raw: view("BER", toCRI, func(d *hotline.Draft) { d.Agreement = hotline.NoteID([]byte("another")) }), code: "unknown_agreement"},
		{name: "unknown sender", raw: func(t *testing.T) []byte {
			zz, err := hotline.GenerateKeySet("ZZZ", "")
			if err != nil {
				t.Fatal(err)
			}
			e, err := hotline.Seal(&hotline.Draft{Agreement: w.agr.Latest().Hash(), From: "ZZZ", Created: now,
				Inner: hotline.Inner{Kind: "notification", Severity: hotline.SeverityHigh, Marking: hotline.TLPAmber}, Body: []byte(`{}`),
				To: []hotline.Addressee{{Party: "CRI", Key: w.keys["CRI"].Encryption.Public(), Seq: 1}}}, zz.Message)
			if err != nil {
				t.Fatal(err)
			}
			return mustView(t, e, "CRI")
		}, code: "unknown_sender"},
		{name: "sender has not ratified", raw: view("ELM", toCRI, nil), code: "not_ratified"},
		{name: "no key valid at the node's time", raw: view("BER", toCRI, func(d *hotline.Draft) { d.Created = w.at.Add(-time.Hour) }), clock: w.at.Add(-time.Hour), code: "key_not_valid"},
		{name: "created in the future", raw: view("BER", toCRI, func(d *hotline.Draft) { d.Created = now.Add(time.Hour) }), code: "future_created"},
		{name: "header signed by another key", raw: func(t *testing.T) []byte {
			e := w.seal(t, "BER", toCRI, now, nil)
			other, err := hotline.GenerateSigningKey(w.keys["BER"].Message.Name(), false)
			if err != nil {
				t.Fatal(err)
			}
			signed, err := note.Sign(&note.Note{Text: string(e.HeaderText())}, other)
			if err != nil {
				t.Fatal(err)
			}
			b := mustView(t, e, "CRI")
			return append(signed, b[len(e.SignedHeader()):]...)
		}, code: "bad_signature"},
		{name: "not a recipient", raw: view("BER", []string{"DOR"}, nil), code: "not_a_recipient"},
		{name: "another recipient's view", raw: view("BER", []string{"CRI", "DOR"}, nil), code: "not_a_recipient"},
		{name: "sealed to another key", raw: view("BER", toCRI, func(d *hotline.Draft) { d.To[0].Key = w.keys["DOR"].Encryption.Public() }), code: "no_matching_key"},
		{name: "ciphertext flipped", raw: func(t *testing.T) []byte {
			b := view("BER", toCRI, nil)(t)
			b[len(b)-1] ^= 1
			return b
		}, code: "bad_payload"},
		{name: "unknown kind", raw: view("BER", toCRI, func(d *hotline.Draft) { d.Inner.Kind = "gossip" }), code: "unknown_kind"},
		{name: "an answer without a reference", raw: view("BER", toCRI, func(d *hotline.Draft) { d.Inner.Kind = "ack" }), code: "invalid_body"},
		{name: "body not in its template", raw: view("BER", toCRI, func(d *hotline.Draft) { d.Body = []byte("bad") }), code: "invalid_body"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tn := newTestNode(t, "CRI", func(c *Config) { c.Limits.MaxEnvelope = tt.max })
			if !tt.clock.IsZero() {
				tn.clk.Set(tt.clock)
			}
			raw := tt.raw(t)
			receipt, err := tn.Accept(context.Background(), raw)
			if got := Code(err); got != tt.code {
				t.Fatalf("Accept: code %q (%v), want %q", got, err, tt.code)
			}
			if receipt != nil {
				t.Error("a refusal returned a receipt")
			}
			// Nothing changes but a signed refusal's record and its log
			// entry (issue 16), for the codes the node signs.
			signed := 0
			if signedCodes[tt.code] {
				signed = 1
				var re *RefusedError
				if !errors.As(err, &re) {
					t.Fatalf("a %s refusal without a signed statement", tt.code)
				}
				ref, rid, err := hotline.OpenRefusal(re.Statement, mustVerifier(t, tn.keys.Message))
				if err != nil {
					t.Fatal(err)
				}
				e, _ := hotline.Parse(raw)
				if ref.Code != tt.code || ref.Message != e.ID() || ref.Header != sha256.Sum256(e.SignedHeader()) {
					t.Errorf("the refusal says %+v", ref)
				}
				if len(tn.log.entries) != 1 || tn.log.entries[0] != hotline.LeafEntry(tn.log.Origin(), hotline.RefusalIssued, rid) {
					t.Error("the refusal's id is not the one logged entry")
				}
				// The same envelope again: the same refusal, logged once.
				_, err = tn.Accept(context.Background(), raw)
				var again *RefusedError
				if !errors.As(err, &again) || !bytes.Equal(again.Statement, re.Statement) || len(tn.log.entries) != 1 {
					t.Errorf("the same envelope again: %v, not the same refusal logged once", err)
				}
			}
			if len(tn.st.envs) != 0 || len(tn.st.leaves) != 0 || len(tn.log.entries) != signed || len(tn.st.refusals) != signed {
				t.Errorf("the refusal changed something: %d envelopes, %d leaves, %d log entries, %d refusals", len(tn.st.envs), len(tn.st.leaves), len(tn.log.entries), len(tn.st.refusals))
			}
			if n := counted(t, tn.Metrics().Refused.WithLabelValues(tt.code)); n != float64(1+signed) {
				t.Errorf("counted %v refusals under %q, want %d", n, tt.code, 1+signed)
			}
		})
	}
}

// TestSignedRefusalQuota: a node signs at most MaxRefusals refusals per
// sender; over the quota, refusals go out unsigned and change nothing.
func TestSignedRefusalQuota(t *testing.T) {
	w := mustWorld(t)
	now := w.at.Add(time.Minute)
	tn := newTestNode(t, "CRI", func(c *Config) { c.MaxRefusals = 1 })
	bad := func() []byte {
		return mustView(t, w.seal(t, "BER", []string{"CRI"}, now, func(d *hotline.Draft) { d.Body = []byte("bad") }), "CRI")
	}
	var re *RefusedError
	if _, err := tn.Accept(context.Background(), bad()); !errors.As(err, &re) {
		t.Fatalf("the first refusal: %v, want a signed one", err)
	}
	_, err := tn.Accept(context.Background(), bad())
	if Code(err) != "invalid_body" || errors.As(err, &re) {
		t.Errorf("over the quota: %v, want an unsigned invalid_body", err)
	}
	if len(tn.st.refusals) != 1 || len(tn.log.entries) != 1 {
		t.Errorf("%d refusals stored, %d log entries; want 1 and 1", len(tn.st.refusals), len(tn.log.entries))
	}
}

// TestRefusalLoggedAfterCrash: a signed refusal stored before a crash
// took its log entry is logged when the node starts again.
func TestRefusalLoggedAfterCrash(t *testing.T) {
	w := mustWorld(t)
	tn := newTestNode(t, "CRI", nil)
	bad := mustView(t, w.seal(t, "BER", []string{"CRI"}, w.at.Add(time.Minute), func(d *hotline.Draft) { d.Body = []byte("bad") }), "CRI")
	tn.log.fail(errors.New("log down"), false)
	if _, err := tn.Accept(context.Background(), bad); Code(err) != "invalid_body" {
		t.Fatalf("Accept: %v, want invalid_body", err)
	}
	if len(tn.st.refusals) != 1 || tn.st.refusals[0].Sequenced || len(tn.log.entries) != 0 {
		t.Fatalf("before the restart: %d refusals, sequenced %v, %d entries", len(tn.st.refusals), tn.st.refusals[0].Sequenced, len(tn.log.entries))
	}
	tn.log.fail(nil, false)
	if _, err := tn.restart(t); err != nil {
		t.Fatal(err)
	}
	if !tn.st.refusals[0].Sequenced || len(tn.log.entries) != 1 || tn.log.entries[0] != tn.st.refusals[0].Entry {
		t.Errorf("after the restart: sequenced %v, %d entries", tn.st.refusals[0].Sequenced, len(tn.log.entries))
	}
}

// TestAcceptReceipt: an envelope accepted is stored, logged and answered
// with a receipt that names its log entry; the same envelope again gets
// the stored receipt, byte for byte, without a second log entry.
func TestAcceptReceipt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tn := newTestNode(t, "CRI", nil)
		ctx := context.Background()
		e := tn.w.seal(t, "BER", []string{"CRI", "DOR"}, tn.clk.Now(), nil)
		// A full envelope is cut down to this node's view before it is stored.
		receipt, err := tn.Accept(ctx, e.Marshal())
		if err != nil {
			t.Fatal(err)
		}
		r, _, err := hotline.OpenReceipt(receipt, mustVerifier(t, tn.keys.Message))
		if err != nil {
			t.Fatal(err)
		}
		entry := hotline.LeafEntry(tn.log.Origin(), hotline.Received, e.ID())
		if r.Message != e.ID() || r.Party != "CRI" || r.LogOrigin != tn.log.Origin() || r.LogIndex != 0 || !r.Received.Equal(tn.clk.Now()) {
			t.Errorf("receipt %+v", r)
		}
		if tn.log.count(entry) != 1 {
			t.Errorf("the entry is %d times in the log", tn.log.count(entry))
		}
		synctest.Wait() // the receipt is recorded in the background
		stored, err := tn.st.Envelope(ctx, hotline.Received, e.ID())
		if err != nil {
			t.Fatal(err)
		}
		if !stored.Stored || !bytes.Equal(stored.Raw, mustView(t, e, "CRI")) || stored.PairSeq != 1 {
			t.Errorf("stored: stored %v, view %v, seq %d", stored.Stored, bytes.Equal(stored.Raw, mustView(t, e, "CRI")), stored.PairSeq)
		}
		if rc, err := tn.st.Receipt(ctx, e.ID(), "CRI"); err != nil || !bytes.Equal(rc.Note, receipt) {
			t.Errorf("recorded receipt: %v, same %v", err, bytes.Equal(rc.Note, receipt))
		}

		tn.clk.Set(tn.clk.Now().Add(time.Hour))
		again, err := tn.Accept(ctx, mustView(t, e, "CRI"))
		if err != nil || !bytes.Equal(again, receipt) {
			t.Fatalf("the same envelope again: %v, same receipt %v", err, bytes.Equal(again, receipt))
		}
		if tn.log.count(entry) != 1 {
			t.Errorf("a duplicate appended the entry again: %d times", tn.log.count(entry))
		}
		if got := counted(t, tn.Metrics().Duplicate); got != 1 {
			t.Errorf("duplicates counted: %v", got)
		}
		if got := counted(t, tn.Metrics().Accepted); got != 1 {
			t.Errorf("accepted counted: %v", got)
		}
	})
}

// TestAcceptConcurrentDuplicates: the same envelope arriving many times at
// once is stored and logged once, and every copy gets the same receipt.
func TestAcceptConcurrentDuplicates(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tn := newTestNode(t, "CRI", nil)
		raw := mustView(t, tn.w.seal(t, "BER", []string{"CRI"}, tn.clk.Now(), nil), "CRI")
		receipts := make([][]byte, 8)
		var wg sync.WaitGroup
		for i := range receipts {
			wg.Go(func() {
				var err error
				if receipts[i], err = tn.Accept(context.Background(), raw); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		for i, r := range receipts {
			if !bytes.Equal(r, receipts[0]) {
				t.Errorf("copy %d got another receipt", i)
			}
		}
		if len(tn.log.entries) != 1 {
			t.Errorf("%d log entries, want 1", len(tn.log.entries))
		}
	})
}

// TestAcceptWhileClosing: a node closing records the receipt before it
// answers.
func TestAcceptWhileClosing(t *testing.T) {
	tn := newTestNode(t, "CRI", nil)
	tn.Close()
	e := tn.w.seal(t, "BER", []string{"CRI"}, tn.clk.Now(), nil)
	if _, err := tn.Accept(context.Background(), mustView(t, e, "CRI")); err != nil {
		t.Fatal(err)
	}
	if _, err := tn.st.Receipt(context.Background(), e.ID(), "CRI"); err != nil {
		t.Errorf("receipt not recorded before the answer: %v", err)
	}
	tn.st.failing("Sequenced", errors.New("disk full"))
	e = tn.w.seal(t, "DOR", []string{"CRI"}, tn.clk.Now(), nil)
	if _, err := tn.Accept(context.Background(), mustView(t, e, "CRI")); err == nil || Code(err) != "internal" {
		t.Errorf("a record that fails while closing: %v, want an internal error", err)
	}
}

var errCrash = errors.New("crash")

// TestCrashBetweenRowAndLeaf: the process dies after the pending row is
// stored and before the leaf's index is; start-up (reconcile) resolves
// it — appending the entry if the log never took it, recording the index
// it has if it did — and the envelope again gets the receipt issued then.
func TestCrashBetweenRowAndLeaf(t *testing.T) {
	for _, tt := range []struct {
		name       string
		afterWrite bool // the log took the entry before the crash
	}{
		{"before the log took the entry", false},
		{"after the log took the entry", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tn := newTestNode(t, "CRI", nil)
			ctx := context.Background()
			// Something else in the log first, so that indexes are not all 0.
			e0 := tn.w.seal(t, "BER", []string{"CRI"}, tn.clk.Now(), nil)
			if _, err := tn.Accept(ctx, mustView(t, e0, "CRI")); err != nil {
				t.Fatal(err)
			}
			tn.Settle(ctx)
			e := tn.w.seal(t, "DOR", []string{"CRI"}, tn.clk.Now(), nil)
			raw := mustView(t, e, "CRI")
			tn.log.fail(errCrash, tt.afterWrite)
			if _, err := tn.Accept(ctx, raw); !errors.Is(err, errCrash) {
				t.Fatalf("Accept with the log failing: %v", err)
			}
			if tn.st.pending() != 1 {
				t.Fatalf("%d pending leaves after the crash, want 1", tn.st.pending())
			}
			tn.log.fail(nil, false)
			received := tn.clk.Now()
			tn.clk.Set(received.Add(time.Hour))
			if _, err := tn.restart(t); err != nil {
				t.Fatal(err)
			}
			entry := hotline.LeafEntry(tn.log.Origin(), hotline.Received, e.ID())
			if tn.st.pending() != 0 || tn.log.count(entry) != 1 {
				t.Fatalf("after start-up: %d pending, the entry %d times in the log", tn.st.pending(), tn.log.count(entry))
			}
			rc, err := tn.st.Receipt(ctx, e.ID(), "CRI")
			if err != nil {
				t.Fatalf("no receipt issued at start-up: %v", err)
			}
			if rc.LogIndex != 1 || !rc.Received.Equal(received) {
				t.Errorf("receipt at index %d received %v, want 1 and %v (when the envelope first came)", rc.LogIndex, rc.Received, received)
			}
			again, err := tn.Accept(ctx, raw)
			if err != nil || !bytes.Equal(again, rc.Note) {
				t.Errorf("the envelope again: %v, the receipt issued at start-up %v", err, bytes.Equal(again, rc.Note))
			}
		})
	}
}

// TestRetryAfterFailedAppend: a peer retrying an envelope whose entry the
// log took before the node failed gets a receipt at that entry's index,
// without a second entry; one the log did not take is appended.
func TestRetryAfterFailedAppend(t *testing.T) {
	for _, afterWrite := range []bool{false, true} {
		t.Run(fmt.Sprintf("afterWrite=%v", afterWrite), func(t *testing.T) {
			tn := newTestNode(t, "CRI", nil)
			ctx := context.Background()
			e := tn.w.seal(t, "BER", []string{"CRI"}, tn.clk.Now(), nil)
			raw := mustView(t, e, "CRI")
			tn.log.fail(errCrash, afterWrite)
			if _, err := tn.Accept(ctx, raw); !errors.Is(err, errCrash) {
				t.Fatalf("Accept with the log failing: %v", err)
			}
			tn.log.fail(nil, false)
			receipt, err := tn.Accept(ctx, raw)
			if err != nil {
				t.Fatal(err)
			}
			if n := tn.log.count(hotline.LeafEntry(tn.log.Origin(), hotline.Received, e.ID())); n != 1 {
				t.Errorf("the entry is %d times in the log", n)
			}
			r, _, err := hotline.OpenReceipt(receipt, mustVerifier(t, tn.keys.Message))
			if err != nil || r.LogIndex != 0 {
				t.Errorf("receipt: %v, index %d", err, r.LogIndex)
			}
		})
	}
}

// TestReconcileSentAndReceipts: start-up resolves pending leaves of every
// direction: a sent envelope (whose rows become due) and a recipient's
// receipt.
func TestReconcileSentAndReceipts(t *testing.T) {
	ber := newTestNode(t, "BER", nil)
	cri := newTestNode(t, "CRI", nil)
	ctx := context.Background()
	d := Draft{To: []string{"CRI"}, Kind: "notification", Severity: hotline.SeverityLow, Marking: hotline.TLPClear, Body: []byte(`{}`)}

	ber.log.fail(errCrash, false)
	if _, err := ber.Send(ctx, d); !errors.Is(err, errCrash) {
		t.Fatalf("Send with the log failing: %v", err)
	}
	ber.log.fail(nil, false)
	if _, err := ber.restart(t); err != nil {
		t.Fatal(err)
	}
	if ber.st.pending() != 0 || len(ber.log.entries) != 1 {
		t.Fatalf("after start-up: %d pending, %d entries", ber.st.pending(), len(ber.log.entries))
	}
	var id hotline.ID
	for k, e := range ber.st.envs {
		id = k.id
		if !e.Stored {
			t.Error("the sent envelope is still pending")
		}
	}

	receipt, err := cri.Accept(ctx, ber.sentView(t, id, "CRI"))
	if err != nil {
		t.Fatal(err)
	}
	ber.log.fail(errCrash, true)
	if _, err := ber.RecordReceipt(ctx, id, "CRI", receipt, "direct"); !errors.Is(err, errCrash) {
		t.Fatalf("RecordReceipt with the log failing: %v", err)
	}
	ber.log.fail(nil, false)
	if _, err := ber.restart(t); err != nil {
		t.Fatal(err)
	}
	if ber.st.pending() != 0 || len(ber.log.entries) != 2 {
		t.Errorf("after start-up: %d pending, %d entries, want 0 and 2", ber.st.pending(), len(ber.log.entries))
	}
}

// TestReconcileFails: a store or log failing while start-up resolves
// pending leaves stops the node from starting, with the cause.
func TestReconcileFails(t *testing.T) {
	for _, op := range []string{"PendingLeaves", "Envelope", "Sequenced", "Append"} {
		t.Run(op, func(t *testing.T) {
			tn := newTestNode(t, "CRI", nil)
			raw := mustView(t, tn.w.seal(t, "BER", []string{"CRI"}, tn.clk.Now(), nil), "CRI")
			tn.log.fail(errCrash, false)
			if _, err := tn.Accept(context.Background(), raw); err == nil {
				t.Fatal("Accept with the log failing succeeded")
			}
			tn.log.fail(nil, false)
			if op == "Append" {
				tn.log.fail(errCrash, false)
			} else {
				tn.st.failing(op, errCrash)
			}
			if _, err := tn.restart(t); !errors.Is(err, errCrash) {
				t.Errorf("start-up with %s failing: %v", op, err)
			}
		})
	}
}

// TestSend: a send is sealed to every recipient of its group and list,
// stored with one outbox row each, logged, and refused with a stable code
// when it cannot be carried out.
func TestSend(t *testing.T) {
	tn := newTestNode(t, "BER", nil)
	ctx := context.Background()
	kicks := make(chan struct{}, 1)
	tn.OnSent(kicks)
	good := Draft{To: []string{"CRI", "DOR", "BER", "CRI"}, Kind: "notification", Severity: hotline.SeverityLow, Marking: hotline.TLPClear, Body: []byte(`{}`)}
	id, err := tn.Send(ctx, good)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-kicks:
	default:
		t.Error("delivery was not woken")
	}
	for _, p := range []string{"CRI", "DOR"} {
		if r := tn.st.row(id, p); r.State != store.OutboxPending || r.Seq != 1 {
			t.Errorf("outbox row to %s: %+v", p, r)
		}
	}
	if r := tn.st.row(id, "BER"); r.Recipient != "" {
		t.Error("the sender is among its recipients")
	}
	if leaf, err := tn.st.LeafOf(ctx, hotline.Sent, id); err != nil || !leaf.Sequenced {
		t.Errorf("leaf: %+v, %v", leaf, err)
	}
	// The inner header the sender committed to is kept, so that it can
	// reveal it later (evidence bundles).
	inner, err := tn.st.Value(ctx, SentInnerKey(id))
	if err != nil {
		t.Fatal(err)
	}
	env, err := tn.st.Envelope(ctx, hotline.Sent, id)
	if err != nil {
		t.Fatal(err)
	}
	e, err := hotline.Parse(env.Raw)
	if err != nil {
		t.Fatal(err)
	}
	if in, err := e.Header.CheckInner(inner); err != nil || in.Kind != "notification" {
		t.Errorf("the kept inner header: %+v, %v", in, err)
	}

	for _, tt := range []struct {
		name   string
		change func(*Draft)
		code   string
	}{
		{"unknown kind", func(d *Draft) { d.Kind = "gossip" }, "unknown_kind"},
		{"an answer without a reference", func(d *Draft) { d.Kind = "ack" }, "invalid_body"},
		{"bad severity", func(d *Draft) { d.Severity = "urgent" }, "invalid_request"},
		{"body not in its template", func(d *Draft) { d.Body = []byte("bad") }, "invalid_body"},
		{"unknown group", func(d *Draft) { d.Group = "nobody" }, "unknown_recipient"},
		{"only itself", func(d *Draft) { d.To = []string{"BER"} }, "unknown_recipient"},
		{"not a party", func(d *Draft) { d.To = []string{"ZZZ"} }, "unknown_recipient"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := good
			tt.change(&d)
			before := len(tn.st.envs)
			if _, err := tn.Send(ctx, d); Code(err) != tt.code {
				t.Errorf("Send: %v, want %s", err, tt.code)
			}
			if len(tn.st.envs) != before {
				t.Error("a refused send stored something")
			}
		})
	}
}

// TestSendConflicts: a sequence number another process took first makes
// the send seal again with fresh numbers; numbers that keep changing give
// up with an error.
func TestSendConflicts(t *testing.T) {
	tn := newTestNode(t, "BER", nil)
	ctx := context.Background()
	d := Draft{To: []string{"CRI"}, Kind: "notification", Severity: hotline.SeverityLow, Marking: hotline.TLPClear, Body: []byte(`{}`)}
	conflicts := 3
	tn.st.fail = func(op string) error {
		if op == "InsertSent" && conflicts > 0 {
			conflicts--
			return store.ErrConflict
		}
		return nil
	}
	if _, err := tn.Send(ctx, d); err != nil {
		t.Fatalf("Send after %d conflicts: %v", 3, err)
	}
	tn.st.failing("InsertSent", store.ErrConflict)
	if _, err := tn.Send(ctx, d); err == nil || Code(err) != "internal" {
		t.Errorf("Send with sequence numbers always taken: %v", err)
	}
}

// TestConcurrentSends: sends at once each take their own sequence number
// to each recipient, and each envelope names the one sent before it.
func TestConcurrentSends(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tn := newTestNode(t, "BER", nil)
		ctx := context.Background()
		const n = 40
		ids := make([]hotline.ID, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				var err error
				ids[i], err = tn.Send(ctx, Draft{To: []string{"CRI", "DOR"}, Kind: "notification", Severity: hotline.SeverityLow, Marking: hotline.TLPClear, Body: []byte(`{}`)})
				if err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		for _, p := range []string{"CRI", "DOR"} {
			bySeq := map[uint64]hotline.ID{}
			prevOf := map[hotline.ID]hotline.ID{}
			for _, id := range ids {
				env, err := tn.st.Envelope(ctx, hotline.Sent, id)
				if err != nil {
					t.Fatal(err)
				}
				e, err := hotline.Parse(env.Raw)
				if err != nil {
					t.Fatal(err)
				}
				opening, err := tn.SentOpening(ctx, id, p)
				if err != nil {
					t.Fatal(err)
				}
				seq, prev, err := e.Header.Sequence(p, opening)
				if err != nil {
					t.Fatal(err)
				}
				if other, dup := bySeq[seq]; dup {
					t.Fatalf("%s and %s both carry sequence number %d to %s", other, id, seq, p)
				}
				bySeq[seq] = id
				prevOf[id] = prev
			}
			for seq := uint64(1); seq <= n; seq++ {
				id, ok := bySeq[seq]
				if !ok {
					t.Fatalf("no envelope carries sequence number %d to %s", seq, p)
				}
				if want := bySeq[seq-1]; prevOf[id] != want {
					t.Errorf("to %s: number %d names %s before it, want %s", p, seq, prevOf[id], want)
				}
			}
		}
	})
}

// TestReply: a reply goes to the sender of the message it answers, in its
// thread, referring to it, under its marking; an unknown message is
// not_found; a second ack is the first; an ack or response to what obliges
// nothing it could meet is nothing_owed.
func TestReply(t *testing.T) {
	cri := newTestNode(t, "CRI", nil)
	ctx := context.Background()
	e := cri.w.seal(t, "BER", []string{"CRI"}, cri.clk.Now(), nil)
	if _, err := cri.Accept(ctx, mustView(t, e, "CRI")); err != nil {
		t.Fatal(err)
	}
	id, err := cri.Reply(ctx, e.ID(), "ack", []byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	env, err := cri.st.Envelope(ctx, hotline.Sent, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(env.To) != 1 || env.To[0] != "BER" || env.ThreadID() != e.ID() || len(env.Refs) != 1 || env.Refs[0] != e.ID() || env.Marking != hotline.TLPAmber {
		t.Errorf("reply: to %v, thread %s, refs %v, marking %s", env.To, env.ThreadID(), env.Refs, env.Marking)
	}
	if _, err := cri.Reply(ctx, hotline.NoteID([]byte("nothing")), "ack", []byte(`{}`)); Code(err) != "not_found" {
		t.Errorf("reply to an unknown message: %v", err)
	}

	// A second ack of the same message is the first: nothing more is sent.
	again, err := cri.Reply(ctx, e.ID(), "ack", []byte(`{}`))
	if err != nil || again != id {
		t.Errorf("second ack: %s, %v; want the first, %s", again, err, id)
	}
	// An advisory obliges nothing: an ack or a response to it is refused
	// at send, nothing stored.
	adv := cri.w.seal(t, "BER", []string{"CRI"}, cri.clk.Now(), func(d *hotline.Draft) { d.Inner.Kind = "advisory" })
	if _, err := cri.Accept(ctx, mustView(t, adv, "CRI")); err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{"ack", "response"} {
		if _, err := cri.Reply(ctx, adv.ID(), kind, []byte(`{}`)); Code(err) != obligations.ErrNothingOwed.Code {
			t.Errorf("%s to an advisory: %v, want %s", kind, err, obligations.ErrNothingOwed.Code)
		}
	}
	// A status update is no answer to an obligation: allowed on anything.
	if _, err := cri.Reply(ctx, adv.ID(), "status_update", []byte(`{}`)); err != nil {
		t.Errorf("status update on an advisory: %v", err)
	}
	sent, err := cri.st.Messages(ctx, store.MessageQuery{MessageFilter: store.MessageFilter{Direction: hotline.Sent}})
	if err != nil {
		t.Fatal(err)
	}
	if len(sent.Envelopes) != 2 {
		t.Errorf("CRI sent %d messages, want 2 (one ack, one status update)", len(sent.Envelopes))
	}
}

// TestReceiptTime: a receipt is a delivery only if its time of receipt
// lies between ReceiptWindow before the sender stored the envelope and
// ReceiptWindow after the receipt came back; one dated years ahead, or
// before the envelope existed, is refused with receipt_time and counted,
// and leaves the row undelivered.
func TestReceiptTime(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		name   string
		skew   time.Duration // CRI's clock against BER's when it signs
		refuse bool
	}{
		{"dated five years ahead", 5 * 365 * 24 * time.Hour, true},
		{"dated twenty minutes before the envelope was stored", -20 * time.Minute, true},
		{"fourteen minutes ahead", 14 * time.Minute, false},
		{"fourteen minutes before", -14 * time.Minute, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ber := newTestNode(t, "BER", nil)
			cri := newTestNode(t, "CRI", nil)
			ber.clk.Advance(time.Hour)
			cri.clk.Set(ber.clk.Now())
			id, err := ber.Send(ctx, Draft{To: []string{"CRI"}, Kind: "notification", Severity: hotline.SeverityLow, Marking: hotline.TLPClear, Body: []byte(`{}`)})
			if err != nil {
				t.Fatal(err)
			}
			honest, err := cri.Accept(ctx, ber.sentView(t, id, "CRI"))
			if err != nil {
				t.Fatal(err)
			}
			// CRI signs for the same entry a receipt dated as it likes.
			r, _, err := hotline.OpenReceipt(honest, mustVerifier(t, cri.keys.Message))
			if err != nil {
				t.Fatal(err)
			}
			r.Received = ber.clk.Now().Add(tt.skew)
			receipt, err := hotline.Sign(r, cri.keys.Message)
			if err != nil {
				t.Fatal(err)
			}
			_, err = ber.RecordReceipt(ctx, id, "CRI", receipt, "direct")
			if !tt.refuse {
				if err != nil {
					t.Fatalf("RecordReceipt: %v", err)
				}
				return
			}
			if Code(err) != "receipt_time" {
				t.Fatalf("RecordReceipt: %v, want receipt_time", err)
			}
			if row := ber.st.row(id, "CRI"); row.State == store.OutboxDelivered {
				t.Error("the refused receipt delivered the row")
			}
			if got := counted(t, ber.Metrics().ReceiptsRefused.WithLabelValues("receipt_time")); got != 1 {
				t.Errorf("refused receipts counted: %v", got)
			}
		})
	}
}

// TestRecordReceipt: a recipient's receipt is verified, recorded with its
// log entry once, and a receipt for another message, or by another key,
// is refused.
func TestRecordReceipt(t *testing.T) {
	ber := newTestNode(t, "BER", nil)
	cri := newTestNode(t, "CRI", nil)
	ctx := context.Background()
	d := Draft{To: []string{"CRI"}, Kind: "notification", Severity: hotline.SeverityLow, Marking: hotline.TLPClear, Body: []byte(`{}`)}
	send := func() (hotline.ID, []byte) {
		id, err := ber.Send(ctx, d)
		if err != nil {
			t.Fatal(err)
		}
		receipt, err := cri.Accept(ctx, ber.sentView(t, id, "CRI"))
		if err != nil {
			t.Fatal(err)
		}
		return id, receipt
	}
	id, receipt := send()
	other, otherReceipt := send()

	if _, err := ber.RecordReceipt(ctx, id, "CRI", otherReceipt, "direct"); Code(err) != "wrong_receipt" {
		t.Errorf("another message's receipt: %v", err)
	}
	if _, err := ber.RecordReceipt(ctx, id, "DOR", receipt, "direct"); Code(err) != "bad_signature" {
		t.Errorf("a receipt checked against another party's key: %v", err)
	}
	for range 2 {
		r, err := ber.RecordReceipt(ctx, id, "CRI", receipt, "direct https://cri.example")
		if err != nil {
			t.Fatal(err)
		}
		if r.Message != id || r.Party != "CRI" {
			t.Errorf("receipt %+v", r)
		}
	}
	row := ber.st.row(id, "CRI")
	if row.State != store.OutboxDelivered || row.Route != "direct https://cri.example" || !bytes.Equal(row.Receipt.Note, receipt) {
		t.Errorf("row after the receipt: %+v", row)
	}
	_, rid, err := hotline.OpenReceipt(receipt, mustVerifier(t, cri.keys.Message))
	if err != nil {
		t.Fatal(err)
	}
	if n := ber.log.count(hotline.LeafEntry(ber.log.Origin(), hotline.ReceiptReceived, rid)); n != 1 {
		t.Errorf("the receipt's entry is %d times in the log", n)
	}
	if got := counted(t, ber.Metrics().Receipts); got != 2 {
		t.Errorf("receipts counted: %v", got)
	}

	// A relay's receipt is recorded on the row, which stays pending.
	rr := &hotline.RelayReceipt{Message: other, From: "BER", To: "CRI", Relay: "DEP", Received: ber.clk.Now()}
	relayNote, err := hotline.Sign(rr, ber.w.keys["DEP"].Message)
	if err != nil {
		t.Fatal(err)
	}
	if err := ber.RecordRelayed(ctx, other, "CRI", "DEP", relayNote); err != nil {
		t.Fatal(err)
	}
	if got := ber.st.relayed[partyKey{other, "CRI"}]; !bytes.Equal(got, relayNote) {
		t.Error("the relay's receipt was not recorded")
	}
	if err := ber.RecordRelayed(ctx, id, "CRI", "DEP", relayNote); Code(err) != "wrong_receipt" {
		t.Errorf("a relay receipt for another message: %v", err)
	}
	if err := ber.RecordRelayed(ctx, other, "CRI", "ZZZ", relayNote); Code(err) != "key_not_valid" {
		t.Errorf("a relay receipt from no party: %v", err)
	}
}

// TestSendSurvivesCancel (issue 18 finding 1): an operator whose request
// goes away after the envelope is stored does not leave it pending until
// the next start-up: its entry is appended, its index recorded and its
// outbox rows are due.
func TestSendSurvivesCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tn := newTestNode(t, "BER", func(c *Config) {
		c.BeforeAppend = func(hotline.Direction, hotline.ID) { cancel() }
	})
	d := Draft{To: []string{"CRI"}, Kind: "notification", Severity: hotline.SeverityLow, Marking: hotline.TLPClear, Body: []byte(`{}`)}
	id, err := tn.Send(ctx, d)
	if err != nil {
		t.Fatalf("Send after the envelope was stored: %v", err)
	}
	if leaf, err := tn.st.LeafOf(context.Background(), hotline.Sent, id); err != nil || !leaf.Sequenced {
		t.Errorf("leaf after a cancelled request: %+v, %v", leaf, err)
	}
	if n := tn.st.pending(); n != 0 {
		t.Errorf("%d leaves pending after a cancelled request", n)
	}
	if r := tn.st.row(id, "CRI"); r.State != store.OutboxPending {
		t.Errorf("outbox row: %+v", r)
	}
}

// TestAcceptDuplicateBeforeOpen (issue 18 finding 4): an envelope this
// node already receipted gets its stored receipt even when it could no
// longer be opened (the node's encryption key changed) or would no longer
// pass its template.
func TestAcceptDuplicateBeforeOpen(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		refuse := false
		tn := newTestNode(t, "CRI", func(c *Config) {
			c.Bodies = checkerFunc(func(kind string, m hotline.Marking, b []byte) error {
				if refuse {
					return errors.New("the template changed")
				}
				return nil
			})
		})
		ctx := context.Background()
		raw := mustView(t, tn.w.seal(t, "BER", []string{"CRI"}, tn.clk.Now(), nil), "CRI")
		receipt, err := tn.Accept(ctx, raw)
		if err != nil {
			t.Fatal(err)
		}
		synctest.Wait()

		refuse = true
		if again, err := tn.Accept(ctx, raw); err != nil || !bytes.Equal(again, receipt) {
			t.Errorf("after a template change: %v, same receipt %v", err, bytes.Equal(again, receipt))
		}
		refuse = false

		enc, err := hotline.GenerateEncryptionKey("CRI")
		if err != nil {
			t.Fatal(err)
		}
		keys := *tn.keys
		keys.Encryption = enc
		tn.Node.Close()
		n := mustNew(t, Config{Keys: &keys, Agreement: tn.w.agr, Store: tn.st, Log: tn.log, Bodies: bodies{}, Clock: tn.clk})
		if again, err := n.Accept(ctx, raw); err != nil || !bytes.Equal(again, receipt) {
			t.Errorf("after a key change: %v, same receipt %v", err, bytes.Equal(again, receipt))
		}
	})
}

// checkerFunc is a BodyChecker of a function.
type checkerFunc func(kind string, marking hotline.Marking, body []byte) error

func (f checkerFunc) CheckBody(kind string, marking hotline.Marking, body []byte) error {
	return f(kind, marking, body)
}

// TestReceiptRecordRetried (issue 19, found by the fault campaign): a
// receipt issued while the store could not record it (a full disk filling
// between the envelope's row and the receipt's record) is recorded by the
// node itself once the store takes writes again — the same bytes the
// sender holds — not only by the next start-up; operator reads (Settle)
// do not wait for it meanwhile; and a node closing with the store still
// failing does not wait for it (start-up records it).
func TestReceiptRecordRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tn := newTestNode(t, "CRI", nil)
		ctx := context.Background()
		e := tn.w.seal(t, "BER", []string{"CRI"}, tn.clk.Now(), nil)
		tn.st.failing("Sequenced", store.ErrStorageFull)
		receipt, err := tn.Accept(ctx, mustView(t, e, "CRI"))
		if err != nil {
			t.Fatal(err)
		}
		// Operator reads do not wait for a store that cannot write.
		sctx, cancel := context.WithTimeout(ctx, time.Second)
		if err := tn.Settle(sctx); err != nil {
			t.Errorf("Settle while the store fails: %v", err)
		}
		cancel()
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if _, err := tn.st.Receipt(ctx, e.ID(), "CRI"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("a receipt recorded while the store fails: %v", err)
		}
		tn.st.failing("Sequenced", nil)
		time.Sleep(time.Minute)
		synctest.Wait()
		rc, err := tn.st.Receipt(ctx, e.ID(), "CRI")
		if err != nil || !bytes.Equal(rc.Note, receipt) {
			t.Fatalf("once the store takes writes again: %v, the receipt the sender holds: %v", err, err == nil && bytes.Equal(rc.Note, receipt))
		}
		if tn.st.pending() != 0 {
			t.Errorf("%d pending leaves", tn.st.pending())
		}

		// Closing while the store still fails: Close returns.
		e2 := tn.w.seal(t, "BER", []string{"CRI"}, tn.clk.Now(), nil)
		tn.st.failing("Sequenced", store.ErrStorageFull)
		if _, err := tn.Accept(ctx, mustView(t, e2, "CRI")); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Second)
		tn.Close()
		if tn.st.pending() != 1 {
			t.Errorf("%d pending leaves after closing, want 1 (start-up records it)", tn.st.pending())
		}
	})
}

// TestSendSequencedLater (issue 19, found by the fault campaign): a
// message whose envelope and log entry are durable but whose log index the
// store failed to record (a full disk) is sent: its outbox rows become due
// once the store takes writes again, without a restart — left pending, its
// sequence number would hold back every later message to the recipient.
func TestSendSequencedLater(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ber := newTestNode(t, "BER", nil)
		ctx := context.Background()
		ber.st.failing("Sequenced", store.ErrStorageFull)
		id, err := ber.Send(ctx, Draft{To: []string{"CRI"}, Kind: "notification", Severity: hotline.SeverityLow, Marking: hotline.TLPClear, Body: []byte(`{}`)})
		if err != nil {
			t.Fatalf("Send with the index not recorded: %v", err)
		}
		if ber.st.pending() != 1 {
			t.Fatalf("%d pending leaves while the store fails, want 1", ber.st.pending())
		}
		ber.st.failing("Sequenced", nil)
		time.Sleep(time.Minute)
		synctest.Wait()
		if ber.st.pending() != 0 {
			t.Fatalf("%d pending leaves once the store takes writes again", ber.st.pending())
		}
		if env, err := ber.st.Envelope(ctx, hotline.Sent, id); err != nil || !env.Stored {
			t.Errorf("the envelope once its index is recorded: %v, stored (its rows due) %v", err, env.Stored)
		}
		ber.Close()
	})
}

// TestSendSequencedLaterCallerGone: the index of a message sent is
// recorded once the store takes writes again even after the caller's
// context has ended (an operator's request answered long before).
func TestSendSequencedLaterCallerGone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ber := newTestNode(t, "BER", nil)
		ctx, cancel := context.WithCancel(context.Background())
		ber.st.failing("Sequenced", store.ErrStorageFull)
		if _, err := ber.Send(ctx, Draft{To: []string{"CRI"}, Kind: "notification", Severity: hotline.SeverityLow, Marking: hotline.TLPClear, Body: []byte(`{}`)}); err != nil {
			t.Fatalf("Send with the index not recorded: %v", err)
		}
		cancel()
		ber.st.failing("Sequenced", nil)
		time.Sleep(time.Minute)
		synctest.Wait()
		if ber.st.pending() != 0 {
			t.Errorf("%d pending leaves once the store takes writes again, the sender's request over", ber.st.pending())
		}
		ber.Close()
	})
}
