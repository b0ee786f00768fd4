package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/internal/store"
)

// factsOf returns the facts MessageEvidence gives of e, with challenge.
func factsOf(e *store.Envelope, challenge string) store.MessageFacts {
	f := store.MessageFacts{
		Direction: e.Direction, ID: e.ID, From: e.From, To: e.To, Kind: e.Kind, Severity: e.Severity,
		Thread: e.Thread, Refs: e.Refs, AgreementHash: e.AgreementHash, Created: e.Created, At: e.At,
		Challenge: challenge,
	}
	if f.Thread == f.ID {
		f.Thread = hotline.ID{}
	}
	return f
}

// messageEvidence lists what MessageEvidence gives for q, copied.
func messageEvidence(t *testing.T, s store.Store, q store.EvidenceQuery) []store.MessageFacts {
	t.Helper()
	var got []store.MessageFacts
	mustNoErr(t, s.MessageEvidence(context.Background(), q, func(f *store.MessageFacts) error {
		got = append(got, *f)
		return nil
	}), "MessageEvidence")
	return got
}

// outboxEvidence lists what OutboxEvidence gives for q, copied.
func outboxEvidence(t *testing.T, s store.Store, q store.EvidenceQuery) []store.DeliveryFacts {
	t.Helper()
	var got []store.DeliveryFacts
	mustNoErr(t, s.OutboxEvidence(context.Background(), q, func(d *store.DeliveryFacts) error {
		got = append(got, *d)
		return nil
	}), "OutboxEvidence")
	return got
}

// testEvidence checks the obligations engine's reads: every sequenced
// envelope's facts in the order stored, challenge codes from the bodies of
// pings and acks only, a thread's messages and outbox rows, and each
// outbox row's delivery state.
func testEvidence(t *testing.T, open Opener) {
	ctx := context.Background()
	s := MustOpen(t, open)
	var log Log

	// A ping received, with its challenge code; a notification whose
	// body names a challenge too (not a kind that carries one); a
	// received envelope left pending, which is not listed yet.
	ping := ReceivedEnvelope("ping", "PAR", 1, 100)
	ping.Envelope.Kind, ping.Envelope.Body = "ping", []byte(`{"challenge":"7391-ALPHA","note":"x"}`)
	_, err := Accept(ctx, s, &log, ping)
	mustNoErr(t, err, "Accept ping")
	note := ReceivedEnvelope("note", "ROM", 1, 100)
	note.Envelope.Body = []byte(`{"challenge":"not one"}`)
	note.Envelope.To = []string{Self, "PAR", "ROM "}
	_, err = Accept(ctx, s, &log, note)
	mustNoErr(t, err, "Accept note")
	pending := ReceivedEnvelope("pending", "PAR", 2, 100)
	pending.Envelope.PairPrev = ping.Envelope.ID // PAR's next after the ping (the sequence rule)
	_, err = s.InsertReceived(ctx, pending)
	mustNoErr(t, err, "InsertReceived pending")

	// Self's ack of the ping, with the code, to PAR and ROM: delivered to
	// PAR; refused by ROM twice, then relayed.
	seqs, err := s.NextSequences(ctx, []string{"PAR", "ROM"})
	mustNoErr(t, err, "NextSequences")
	ack := SentEnvelope("ack", "PAR", "ROM")
	ack.Seqs = seqs
	ack.Envelope.Kind, ack.Envelope.Severity = "ack", hotline.SeverityLow
	ack.Envelope.Thread, ack.Envelope.Refs = ping.Envelope.ID, []hotline.ID{ping.Envelope.ID, note.Envelope.ID}
	ack.Envelope.Body = []byte(`{"challenge":"7391-ALPHA"}`)
	_, err = s.InsertSent(ctx, ack)
	mustNoErr(t, err, "InsertSent ack")
	mustNoErr(t, s.Sequenced(ctx, hotline.Sent, ack.Envelope.ID, log.Append(), nil), "Sequenced ack")
	t1 := base.Add(time.Hour)
	receipt := store.Receipt{MessageID: ack.Envelope.ID, Party: "PAR", Received: t1, LogIndex: 17, Note: []byte("receipt")}
	rid := ID("ack receipt")
	_, err = s.MarkDelivered(ctx, &store.Delivered{ID: ack.Envelope.ID, Recipient: "PAR", At: t1, Route: "direct",
		Receipt: receipt, ReceiptID: rid, Entry: hotline.LeafEntry(Self, hotline.ReceiptReceived, rid)})
	mustNoErr(t, err, "MarkDelivered")
	for _, at := range []time.Time{t1, t1.Add(time.Minute)} {
		mustNoErr(t, s.RecordAttempt(ctx, &store.Attempt{ID: ack.Envelope.ID, Recipient: "ROM", At: at, Route: "direct",
			Error: "peer refused (422 decrypt_failed)", Next: at.Add(time.Minute)}), "RecordAttempt")
	}
	relayed := t1.Add(2 * time.Minute)
	mustNoErr(t, s.MarkRelayed(ctx, &store.RelayedDelivery{ID: ack.Envelope.ID, Recipient: "ROM", Relay: "DEP",
		At: relayed, Receipt: []byte("relay receipt")}), "MarkRelayed")

	// A request of another thread, sent to PAR, not delivered.
	seqs, err = s.NextSequences(ctx, []string{"PAR"})
	mustNoErr(t, err, "NextSequences")
	req := SentEnvelope("request", "PAR")
	req.Seqs = seqs
	_, err = s.InsertSent(ctx, req)
	mustNoErr(t, err, "InsertSent request")
	mustNoErr(t, s.Sequenced(ctx, hotline.Sent, req.Envelope.ID, log.Append(), nil), "Sequenced request")
	mustNoErr(t, s.MarkFailed(ctx, req.Envelope.ID, "PAR", t1, "gave up: no route"), "MarkFailed")

	want := []store.MessageFacts{
		factsOf(&ping.Envelope, "7391-ALPHA"),
		factsOf(&note.Envelope, ""),
		factsOf(&ack.Envelope, "7391-ALPHA"),
		factsOf(&req.Envelope, ""),
	}
	if diff := cmp.Diff(want, messageEvidence(t, s, store.EvidenceQuery{}), cmpOpts...); diff != "" {
		t.Errorf("MessageEvidence (-want +got):\n%s", diff)
	}
	thread := store.EvidenceQuery{Thread: ping.Envelope.ID}
	if diff := cmp.Diff([]store.MessageFacts{want[0], want[2]}, messageEvidence(t, s, thread), cmpOpts...); diff != "" {
		t.Errorf("MessageEvidence of the thread (-want +got):\n%s", diff)
	}

	// Once sequenced, the pending envelope is listed, where it was
	// stored.
	idx := log.Append()
	mustNoErr(t, s.Sequenced(ctx, hotline.Received, pending.Envelope.ID, idx, IssuedReceipt(pending, idx)), "Sequenced pending")
	got := messageEvidence(t, s, store.EvidenceQuery{})
	want = append(want[:2:2], factsOf(&pending.Envelope, ""), want[2], want[3])
	if diff := cmp.Diff(want, got, cmpOpts...); diff != "" {
		t.Errorf("MessageEvidence once sequenced (-want +got):\n%s", diff)
	}

	wantOut := []store.DeliveryFacts{
		{ID: ack.Envelope.ID, Recipient: "PAR", State: store.OutboxDelivered, Receipted: true, Received: t1, LogIndex: 17},
		{ID: ack.Envelope.ID, Recipient: "ROM", State: store.OutboxPending, Attempts: 2, FirstAttempt: t1,
			LastAttempt: t1.Add(time.Minute), LastError: "peer refused (422 decrypt_failed)", Relayed: relayed},
		{ID: req.Envelope.ID, Recipient: "PAR", State: store.OutboxFailed, LastError: "gave up: no route"},
	}
	if diff := cmp.Diff(wantOut, outboxEvidence(t, s, store.EvidenceQuery{}), cmpOpts...); diff != "" {
		t.Errorf("OutboxEvidence (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantOut[:2], outboxEvidence(t, s, thread), cmpOpts...); diff != "" {
		t.Errorf("OutboxEvidence of the thread (-want +got):\n%s", diff)
	}
	if got := outboxEvidence(t, s, store.EvidenceQuery{Thread: ID("no such thread")}); len(got) != 0 {
		t.Errorf("OutboxEvidence of an unknown thread = %+v, want none", got)
	}

	// An error of the callback stops the listing and is returned.
	stop := errors.New("stop")
	calls := 0
	err = s.MessageEvidence(ctx, store.EvidenceQuery{}, func(*store.MessageFacts) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("MessageEvidence with a failing callback: %v after %d calls, want stop after 1", err, calls)
	}
	calls = 0
	err = s.OutboxEvidence(ctx, store.EvidenceQuery{}, func(*store.DeliveryFacts) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("OutboxEvidence with a failing callback: %v after %d calls, want stop after 1", err, calls)
	}
}
