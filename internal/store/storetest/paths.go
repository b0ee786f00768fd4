package storetest

import (
	"bytes"
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/internal/store"
)

func testAcceptPath(t *testing.T, open Opener) {
	ctx := context.Background()
	s := MustOpen(t, open)
	r := ReceivedEnvelope("a", "PAR", 1, 1024)
	r.Envelope.Refs = []hotline.ID{ID("x"), ID("y")}
	r.Envelope.Thread = ID("thread")
	r.Envelope.Exercise = true

	_, err := s.Receipt(ctx, r.Envelope.ID, Self)
	mustErr(t, err, store.ErrNotFound, "receipt before accept")

	ins, err := s.InsertReceived(ctx, r)
	mustNoErr(t, err, "InsertReceived")
	want := store.Leaf{Entry: r.Entry, Direction: hotline.Received, Object: r.Envelope.ID}
	if diff := cmp.Diff(store.Inserted{Leaf: want}, ins); diff != "" {
		t.Errorf("InsertReceived (-want +got):\n%s", diff)
	}

	// Pending: stored on disk, its leaf pending, not yet listed.
	got, err := s.Envelope(ctx, hotline.Received, r.Envelope.ID)
	mustNoErr(t, err, "Envelope")
	if diff := cmp.Diff(r.Envelope, got, cmpOpts...); diff != "" {
		t.Errorf("pending envelope (-want +got):\n%s", diff)
	}
	pending, err := s.PendingLeaves(ctx, 0)
	mustNoErr(t, err, "PendingLeaves")
	if diff := cmp.Diff([]store.Leaf{want}, pending); diff != "" {
		t.Errorf("pending leaves (-want +got):\n%s", diff)
	}
	page, err := s.Messages(ctx, store.MessageQuery{})
	mustNoErr(t, err, "Messages")
	if len(page.Envelopes) != 0 {
		t.Errorf("Messages lists %d pending envelopes, want none", len(page.Envelopes))
	}
	page, err = s.Messages(ctx, store.MessageQuery{MessageFilter: store.MessageFilter{IncludePending: true}})
	mustNoErr(t, err, "Messages")
	if len(page.Envelopes) != 1 {
		t.Errorf("Messages with IncludePending lists %d envelopes, want 1", len(page.Envelopes))
	}

	// Sequenced at index 41 with the receipt.
	rc := IssuedReceipt(r, 41)
	mustNoErr(t, s.Sequenced(ctx, hotline.Received, r.Envelope.ID, 41, rc), "Sequenced")
	gotRc, err := s.Receipt(ctx, r.Envelope.ID, Self)
	mustNoErr(t, err, "Receipt")
	if diff := cmp.Diff(*rc, gotRc); diff != "" {
		t.Errorf("receipt (-want +got):\n%s", diff)
	}
	hw, err := s.HighWater(ctx)
	mustNoErr(t, err, "HighWater")
	if hw != 42 {
		t.Errorf("HighWater = %d, want 42", hw)
	}
	want.Sequenced, want.Index = true, 41
	leaf, err := s.LeafOf(ctx, hotline.Received, r.Envelope.ID)
	mustNoErr(t, err, "LeafOf")
	if diff := cmp.Diff(want, leaf); diff != "" {
		t.Errorf("LeafOf (-want +got):\n%s", diff)
	}
	pending, err = s.PendingLeaves(ctx, 0)
	mustNoErr(t, err, "PendingLeaves")
	if len(pending) != 0 {
		t.Errorf("PendingLeaves = %v, want none", pending)
	}
	got, err = s.Envelope(ctx, hotline.Received, r.Envelope.ID)
	mustNoErr(t, err, "Envelope")
	if diff := cmp.Diff(stored(r.Envelope), got, cmpOpts...); diff != "" {
		t.Errorf("stored envelope (-want +got):\n%s", diff)
	}
	if got.ThreadID() != ID("thread") {
		t.Errorf("ThreadID = %v, want the thread", got.ThreadID())
	}
	page, err = s.Messages(ctx, store.MessageQuery{})
	mustNoErr(t, err, "Messages")
	if diff := cmp.Diff([]store.Envelope{summary(stored(r.Envelope))}, page.Envelopes, cmpOpts...); diff != "" {
		t.Errorf("Messages (-want +got):\n%s", diff)
	}
	_, err = s.Envelope(ctx, hotline.Sent, r.Envelope.ID)
	mustErr(t, err, store.ErrNotFound, "Envelope in the other direction")
	_, err = s.Receipt(ctx, r.Envelope.ID, "PAR")
	mustErr(t, err, store.ErrNotFound, "receipt of another party")
}

func testIdempotentInsert(t *testing.T, open Opener) {
	ctx := context.Background()
	s := MustOpen(t, open)
	r := ReceivedEnvelope("a", "PAR", 1, 1024)
	if _, err := s.InsertReceived(ctx, r); err != nil {
		t.Fatal(err)
	}

	// Again, pending: reported as existing, with its pending leaf.
	again := *r
	ins, err := s.InsertReceived(ctx, &again)
	mustNoErr(t, err, "InsertReceived again")
	if !ins.Existed || ins.Leaf.Sequenced || ins.Leaf.Entry != r.Entry {
		t.Errorf("InsertReceived again = %+v, want existed and pending", ins)
	}

	// Other bytes under the same id: a conflict, nothing changed.
	other := *r
	other.Envelope.Raw = Raw("other", 1024)
	_, err = s.InsertReceived(ctx, &other)
	mustErr(t, err, store.ErrConflict, "InsertReceived with other bytes")
	got, err := s.Envelope(ctx, hotline.Received, r.Envelope.ID)
	mustNoErr(t, err, "Envelope")
	if diff := cmp.Diff(r.Envelope.Raw, got.Raw); diff != "" {
		t.Errorf("raw bytes changed (-want +got):\n%s", diff)
	}

	// Once sequenced, again: existing, with the sequenced leaf.
	mustNoErr(t, s.Sequenced(ctx, hotline.Received, r.Envelope.ID, 0, IssuedReceipt(r, 0)), "Sequenced")
	ins, err = s.InsertReceived(ctx, &again)
	mustNoErr(t, err, "InsertReceived after sequenced")
	if !ins.Existed || !ins.Leaf.Sequenced || ins.Leaf.Index != 0 {
		t.Errorf("InsertReceived after sequenced = %+v, want existed at index 0", ins)
	}
	n, err := s.CountMessages(ctx, store.MessageFilter{IncludePending: true})
	mustNoErr(t, err, "CountMessages")
	if n != 1 {
		t.Errorf("CountMessages = %d, want 1", n)
	}
}

func testSequenced(t *testing.T, open Opener) {
	ctx := context.Background()
	s := MustOpen(t, open)
	a := ReceivedEnvelope("a", "PAR", 1, 100)
	b := ReceivedEnvelope("b", "PAR", 2, 100)
	Chain(a, b)
	for _, r := range []*store.Received{a, b} {
		if _, err := s.InsertReceived(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	err := s.Sequenced(ctx, hotline.Received, ID("nothing"), 3, nil)
	mustErr(t, err, store.ErrNotFound, "Sequenced an unknown envelope")
	err = s.Sequenced(ctx, hotline.Sent, a.Envelope.ID, 3, nil)
	mustErr(t, err, store.ErrNotFound, "Sequenced in the wrong direction")
	err = s.Sequenced(ctx, hotline.ReceiptReceived, ID("nothing"), 3, nil)
	mustErr(t, err, store.ErrNotFound, "Sequenced an unknown receipt")
	err = s.Sequenced(ctx, hotline.Sent, a.Envelope.ID, 3, IssuedReceipt(a, 3))
	mustErr(t, err, store.ErrInvalid, "Sequenced a sent envelope with a receipt")

	wrong := IssuedReceipt(b, 10)
	err = s.Sequenced(ctx, hotline.Received, a.Envelope.ID, 10, wrong)
	mustErr(t, err, store.ErrInvalid, "Sequenced with another message's receipt")
	err = s.Sequenced(ctx, hotline.Received, a.Envelope.ID, 10, IssuedReceipt(a, 11))
	mustErr(t, err, store.ErrInvalid, "Sequenced with a receipt naming another index")

	mustNoErr(t, s.Sequenced(ctx, hotline.Received, a.Envelope.ID, 10, IssuedReceipt(a, 10)), "Sequenced a at 10")
	mustNoErr(t, s.Sequenced(ctx, hotline.Received, a.Envelope.ID, 10, IssuedReceipt(a, 10)), "Sequenced a at 10 again")
	err = s.Sequenced(ctx, hotline.Received, a.Envelope.ID, 12, nil)
	mustErr(t, err, store.ErrConflict, "Sequenced a at another index")
	err = s.Sequenced(ctx, hotline.Received, b.Envelope.ID, 10, nil)
	mustErr(t, err, store.ErrConflict, "Sequenced b at a's index")
	leaf, err := s.LeafOf(ctx, hotline.Received, b.Envelope.ID)
	mustNoErr(t, err, "LeafOf b")
	if leaf.Sequenced {
		t.Errorf("b sequenced by a refused call: %+v", leaf)
	}
	other := IssuedReceipt(a, 10)
	other.Note = []byte("another note")
	err = s.Sequenced(ctx, hotline.Received, a.Envelope.ID, 10, other)
	mustErr(t, err, store.ErrConflict, "Sequenced a with another receipt")

	// The high-water mark never goes down.
	mustNoErr(t, s.Sequenced(ctx, hotline.Received, b.Envelope.ID, 4, IssuedReceipt(b, 4)), "Sequenced b at 4")
	hw, err := s.HighWater(ctx)
	mustNoErr(t, err, "HighWater")
	if hw != 11 {
		t.Errorf("HighWater = %d, want 11", hw)
	}
	rc, err := s.Receipt(ctx, a.Envelope.ID, Self)
	mustNoErr(t, err, "Receipt a")
	if diff := cmp.Diff(*IssuedReceipt(a, 10), rc); diff != "" {
		t.Errorf("receipt a (-want +got):\n%s", diff)
	}
}

func testPendingLeaves(t *testing.T, open Opener) {
	ctx := context.Background()
	s := MustOpen(t, open)
	a := ReceivedEnvelope("a", "PAR", 1, 100)
	b := ReceivedEnvelope("b", "PAR", 2, 100)
	c := ReceivedEnvelope("c", "PAR", 3, 100)
	Chain(a, b, c)
	if _, err := s.InsertReceived(ctx, a); err != nil {
		t.Fatal(err)
	}
	if _, err := s.InsertReceived(ctx, b); err != nil {
		t.Fatal(err)
	}
	// b is appended and sequenced at 7 before a: a, if it was appended,
	// sits at or above its After (0), below the high-water mark (8).
	mustNoErr(t, s.Sequenced(ctx, hotline.Received, b.Envelope.ID, 7, IssuedReceipt(b, 7)), "Sequenced b")
	ins, err := s.InsertReceived(ctx, c)
	mustNoErr(t, err, "InsertReceived c")
	if ins.Leaf.After != 8 {
		t.Errorf("c's After = %d, want 8", ins.Leaf.After)
	}
	got, err := s.PendingLeaves(ctx, 0)
	mustNoErr(t, err, "PendingLeaves")
	want := []store.Leaf{
		{Entry: a.Entry, Direction: hotline.Received, Object: a.Envelope.ID, After: 0},
		{Entry: c.Entry, Direction: hotline.Received, Object: c.Envelope.ID, After: 8},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("PendingLeaves (-want +got):\n%s", diff)
	}
	got, err = s.PendingLeaves(ctx, 1)
	mustNoErr(t, err, "PendingLeaves limit 1")
	if diff := cmp.Diff(want[:1], got); diff != "" {
		t.Errorf("PendingLeaves limit 1 (-want +got):\n%s", diff)
	}
}

func testSendPath(t *testing.T, open Opener) {
	ctx := context.Background()
	s := MustOpen(t, open)
	to := []string{"PAR", "ROM", "WAW"}
	seqs, err := s.NextSequences(ctx, to)
	mustNoErr(t, err, "NextSequences")
	want := []store.PairSeq{{Party: "PAR", Seq: 1}, {Party: "ROM", Seq: 1}, {Party: "WAW", Seq: 1}}
	if diff := cmp.Diff(want, seqs); diff != "" {
		t.Fatalf("NextSequences (-want +got):\n%s", diff)
	}
	first := SentEnvelope("first", to...)
	first.Seqs = seqs
	ins, err := s.InsertSent(ctx, first)
	mustNoErr(t, err, "InsertSent")
	if ins.Existed || ins.Leaf.Direction != hotline.Sent || ins.Leaf.Object != first.Envelope.ID {
		t.Errorf("InsertSent = %+v", ins)
	}

	// Nothing is due before the envelope's leaf is sequenced.
	due, err := s.DueOutbox(ctx, base.Add(time.Hour), 0)
	mustNoErr(t, err, "DueOutbox")
	if len(due) != 0 {
		t.Errorf("DueOutbox before sequenced = %d rows, want none", len(due))
	}
	mustNoErr(t, s.Sequenced(ctx, hotline.Sent, first.Envelope.ID, 0, nil), "Sequenced")
	due, err = s.DueOutbox(ctx, base.Add(time.Hour), 0)
	mustNoErr(t, err, "DueOutbox")
	if len(due) != 3 {
		t.Fatalf("DueOutbox = %d rows, want 3", len(due))
	}
	wantRow := store.OutboxRow{
		ID: first.Envelope.ID, Recipient: "PAR", Seq: 1, Kind: "assistance_request",
		State: store.OutboxPending, Queued: first.Envelope.At, NextAttempt: first.Envelope.At,
	}
	if diff := cmp.Diff(wantRow, due[0]); diff != "" {
		t.Errorf("outbox row (-want +got):\n%s", diff)
	}
	due, err = s.DueOutbox(ctx, first.Envelope.At.Add(-time.Nanosecond), 0)
	mustNoErr(t, err, "DueOutbox before the queue time")
	if len(due) != 0 {
		t.Errorf("DueOutbox before the queue time = %d rows, want none", len(due))
	}

	// The next envelope to PAR and ROM carries 2 and first's id; to ZAG, 1.
	seqs, err = s.NextSequences(ctx, []string{"ROM", "ZAG", "PAR"})
	mustNoErr(t, err, "NextSequences")
	want = []store.PairSeq{
		{Party: "ROM", Seq: 2, Prev: first.Envelope.ID},
		{Party: "ZAG", Seq: 1},
		{Party: "PAR", Seq: 2, Prev: first.Envelope.ID},
	}
	if diff := cmp.Diff(want, seqs); diff != "" {
		t.Errorf("NextSequences (-want +got):\n%s", diff)
	}

	// Sealed with stale numbers: a conflict, and nothing written.
	stale := SentEnvelope("stale", "PAR", "ZAG")
	stale.Seqs = []store.PairSeq{{Party: "PAR", Seq: 1}, {Party: "ZAG", Seq: 1}}
	_, err = s.InsertSent(ctx, stale)
	mustErr(t, err, store.ErrConflict, "InsertSent with a taken number")
	_, err = s.Envelope(ctx, hotline.Sent, stale.Envelope.ID)
	mustErr(t, err, store.ErrNotFound, "envelope of the refused send")
	_, err = s.OutboxEntry(ctx, stale.Envelope.ID, "ZAG")
	mustErr(t, err, store.ErrNotFound, "outbox row of the refused send")
	_, err = s.LeafOf(ctx, hotline.Sent, stale.Envelope.ID)
	mustErr(t, err, store.ErrNotFound, "leaf of the refused send")
	seqs, err = s.NextSequences(ctx, []string{"ZAG"})
	mustNoErr(t, err, "NextSequences")
	if seqs[0].Seq != 1 {
		t.Errorf("refused send consumed ZAG's number: next is %d", seqs[0].Seq)
	}
	// A number skipped ahead is refused too: no gaps.
	skip := SentEnvelope("skip", "PAR")
	skip.Seqs = []store.PairSeq{{Party: "PAR", Seq: 3, Prev: first.Envelope.ID}}
	_, err = s.InsertSent(ctx, skip)
	mustErr(t, err, store.ErrConflict, "InsertSent skipping a number")
	// So is the right number with the wrong previous id.
	wrongPrev := SentEnvelope("wrong prev", "PAR")
	wrongPrev.Seqs = []store.PairSeq{{Party: "PAR", Seq: 2, Prev: ID("nope")}}
	_, err = s.InsertSent(ctx, wrongPrev)
	mustErr(t, err, store.ErrConflict, "InsertSent with another previous id")

	// The same envelope again is not an error, though its numbers are now
	// taken (by itself).
	ins, err = s.InsertSent(ctx, first)
	mustNoErr(t, err, "InsertSent again")
	if !ins.Existed || !ins.Leaf.Sequenced {
		t.Errorf("InsertSent again = %+v, want existed and sequenced", ins)
	}
	got, err := s.Envelope(ctx, hotline.Sent, first.Envelope.ID)
	mustNoErr(t, err, "Envelope")
	if diff := cmp.Diff(stored(first.Envelope), got, cmpOpts...); diff != "" {
		t.Errorf("sent envelope (-want +got):\n%s", diff)
	}
	n, err := s.CountOutbox(ctx, store.OutboxFilter{})
	mustNoErr(t, err, "CountOutbox")
	if n != 3 {
		t.Errorf("CountOutbox = %d, want 3", n)
	}
}

func testDelivery(t *testing.T, open Opener) {
	ctx := context.Background()
	s := MustOpen(t, open)
	var log Log
	a, err := Send(ctx, s, &log, "a", "PAR", "ROM")
	mustNoErr(t, err, "Send a")
	b, err := Send(ctx, s, &log, "b", "PAR")
	mustNoErr(t, err, "Send b")
	id := a.Envelope.ID
	t1 := base.Add(time.Minute)

	// A failed attempt pushes PAR's row of a back; due order follows the
	// next attempt, then the order rows were queued.
	mustNoErr(t, s.RecordAttempt(ctx, &store.Attempt{ID: id, Recipient: "PAR", At: t1,
		Route: "direct https://par.example/", Error: "connection refused", Next: t1.Add(time.Minute)}), "RecordAttempt")
	due, err := s.DueOutbox(ctx, t1, 0)
	mustNoErr(t, err, "DueOutbox")
	if diff := cmp.Diff([]string{"a ROM", "b PAR"}, rowNames(due, a, b)); diff != "" {
		t.Errorf("due at t1 (-want +got):\n%s", diff)
	}
	due, err = s.DueOutbox(ctx, t1.Add(time.Minute), 2)
	mustNoErr(t, err, "DueOutbox")
	if diff := cmp.Diff([]string{"a ROM", "b PAR"}, rowNames(due, a, b)); diff != "" {
		t.Errorf("due at t1+1m, limit 2 (-want +got):\n%s", diff)
	}
	row, err := s.OutboxEntry(ctx, id, "PAR")
	mustNoErr(t, err, "OutboxEntry")
	want := store.OutboxRow{
		ID: id, Recipient: "PAR", Seq: 1, Kind: "assistance_request", State: store.OutboxPending,
		Queued: a.Envelope.At, Attempts: 1, NextAttempt: t1.Add(time.Minute), FirstAttempt: t1,
		LastAttempt: t1, LastError: "connection refused", Route: "direct https://par.example/",
	}
	if diff := cmp.Diff(want, row); diff != "" {
		t.Errorf("after an attempt (-want +got):\n%s", diff)
	}
	mustNoErr(t, s.RecordAttempt(ctx, &store.Attempt{ID: id, Recipient: "PAR", At: t1.Add(time.Minute),
		Route: "relay DEP", Error: "timeout", Next: t1.Add(3 * time.Minute)}), "RecordAttempt 2")

	// Delivered with the receipt, which gets a pending 0x03 leaf.
	rc := store.Receipt{MessageID: id, Party: "PAR", Received: t1.Add(90 * time.Second), LogIndex: 77,
		Note: []byte("hotline-receipt/v1\nPAR\n\n— PAR sig")}
	d := &store.Delivered{ID: id, Recipient: "PAR", At: t1.Add(2 * time.Minute), Route: "relay DEP",
		Receipt: rc, ReceiptID: ID("receipt note text"),
		Entry: hotline.LeafEntry(Self, hotline.ReceiptReceived, ID("receipt note text"))}
	existed, err := s.MarkDelivered(ctx, d)
	mustNoErr(t, err, "MarkDelivered")
	if existed {
		t.Errorf("MarkDelivered reports existed the first time")
	}
	row, err = s.OutboxEntry(ctx, id, "PAR")
	mustNoErr(t, err, "OutboxEntry")
	want.State, want.Delivered, want.Receipt = store.OutboxDelivered, d.At, &rc
	want.Attempts, want.LastAttempt, want.LastError, want.Route = 2, d.At, "timeout", "relay DEP"
	want.NextAttempt = t1.Add(3 * time.Minute)
	if diff := cmp.Diff(want, row); diff != "" {
		t.Errorf("delivered row (-want +got):\n%s", diff)
	}
	got, err := s.Receipt(ctx, id, "PAR")
	mustNoErr(t, err, "Receipt from PAR")
	if diff := cmp.Diff(rc, got); diff != "" {
		t.Errorf("received receipt (-want +got):\n%s", diff)
	}
	leaf, err := s.LeafOf(ctx, hotline.ReceiptReceived, d.ReceiptID)
	mustNoErr(t, err, "LeafOf receipt")
	if leaf.Sequenced || leaf.Entry != d.Entry {
		t.Errorf("receipt leaf = %+v, want pending with the entry", leaf)
	}
	mustNoErr(t, s.Sequenced(ctx, hotline.ReceiptReceived, d.ReceiptID, log.Append(), nil), "Sequenced receipt leaf")

	existed, err = s.MarkDelivered(ctx, d)
	mustNoErr(t, err, "MarkDelivered again")
	if !existed {
		t.Errorf("MarkDelivered again does not report existed")
	}
	other := *d
	other.Receipt.Note = []byte("another receipt")
	_, err = s.MarkDelivered(ctx, &other)
	mustErr(t, err, store.ErrConflict, "MarkDelivered with another receipt")
	err = s.RecordAttempt(ctx, &store.Attempt{ID: id, Recipient: "PAR", At: t1, Next: t1, Error: "late"})
	mustErr(t, err, store.ErrConflict, "RecordAttempt on a delivered row")
	err = s.MarkFailed(ctx, id, "PAR", t1, "late")
	mustErr(t, err, store.ErrConflict, "MarkFailed on a delivered row")
	err = s.Requeue(ctx, id, "PAR", t1)
	mustErr(t, err, store.ErrConflict, "Requeue a delivered row")
	err = s.RecordAttempt(ctx, &store.Attempt{ID: id, Recipient: "NOPE", At: t1, Next: t1})
	mustErr(t, err, store.ErrNotFound, "RecordAttempt on an unknown row")
	_, err = s.MarkDelivered(ctx, &store.Delivered{ID: ID("nothing"), Recipient: "PAR", At: t1,
		Receipt:   store.Receipt{MessageID: ID("nothing"), Party: "PAR", Received: t1, Note: []byte("n")},
		ReceiptID: ID("n"), Entry: ID("n entry")})
	mustErr(t, err, store.ErrNotFound, "MarkDelivered on an unknown row")

	// Failed rows leave the due list; requeued, they come back; a late
	// receipt still delivers a failed row.
	mustNoErr(t, s.MarkFailed(ctx, id, "ROM", t1, "recipient gone"), "MarkFailed")
	mustNoErr(t, s.MarkFailed(ctx, id, "ROM", t1, "recipient gone"), "MarkFailed again")
	due, err = s.DueOutbox(ctx, t1.Add(time.Hour), 0)
	mustNoErr(t, err, "DueOutbox")
	if diff := cmp.Diff([]string{"b PAR"}, rowNames(due, a, b)); diff != "" {
		t.Errorf("due after failure (-want +got):\n%s", diff)
	}
	row, err = s.OutboxEntry(ctx, id, "ROM")
	mustNoErr(t, err, "OutboxEntry")
	if row.State != store.OutboxFailed || row.LastError != "recipient gone" {
		t.Errorf("failed row = %+v", row)
	}
	mustNoErr(t, s.Requeue(ctx, id, "ROM", t1.Add(time.Hour)), "Requeue")
	due, err = s.DueOutbox(ctx, t1.Add(time.Hour), 0)
	mustNoErr(t, err, "DueOutbox")
	if diff := cmp.Diff([]string{"b PAR", "a ROM"}, rowNames(due, a, b)); diff != "" {
		t.Errorf("due after requeue (-want +got):\n%s", diff)
	}
	mustNoErr(t, s.MarkFailed(ctx, id, "ROM", t1, "again"), "MarkFailed")
	late := &store.Delivered{ID: id, Recipient: "ROM", At: t1.Add(2 * time.Hour),
		Receipt:   store.Receipt{MessageID: id, Party: "ROM", Received: t1, LogIndex: 3, Note: []byte("rom receipt")},
		ReceiptID: ID("rom receipt"), Entry: hotline.LeafEntry(Self, hotline.ReceiptReceived, ID("rom receipt"))}
	_, err = s.MarkDelivered(ctx, late)
	mustNoErr(t, err, "MarkDelivered on a failed row")
	n, err := s.CountOutbox(ctx, store.OutboxFilter{State: store.OutboxDelivered})
	mustNoErr(t, err, "CountOutbox")
	if n != 2 {
		t.Errorf("CountOutbox delivered = %d, want 2", n)
	}
}

// rowNames names outbox rows "envelope recipient" for comparisons.
func rowNames(rows []store.OutboxRow, a, b *store.Sent) []string {
	var out []string
	for _, r := range rows {
		name := "?"
		switch r.ID {
		case a.Envelope.ID:
			name = "a"
		case b.Envelope.ID:
			name = "b"
		}
		out = append(out, name+" "+r.Recipient)
	}
	return out
}

func testUndelivered(t *testing.T, open Opener) {
	ctx := context.Background()
	s := MustOpen(t, open)
	var log Log
	a, err := Send(ctx, s, &log, "a", "PAR", "ROM")
	mustNoErr(t, err, "Send")
	id := a.Envelope.ID
	queued := a.Envelope.At

	rows, err := s.Undelivered(ctx, store.UndeliveredQuery{QueuedBefore: queued})
	mustNoErr(t, err, "Undelivered")
	if len(rows) != 0 {
		t.Errorf("Undelivered before the queue time = %d rows, want none", len(rows))
	}
	rows, err = s.Undelivered(ctx, store.UndeliveredQuery{QueuedBefore: queued.Add(time.Nanosecond), Unalerted: true})
	mustNoErr(t, err, "Undelivered")
	if len(rows) != 2 {
		t.Fatalf("Undelivered = %d rows, want 2", len(rows))
	}
	at := queued.Add(24 * time.Hour)
	mustNoErr(t, s.MarkAlerted(ctx, id, "PAR", at), "MarkAlerted")
	mustNoErr(t, s.MarkAlerted(ctx, id, "PAR", at.Add(time.Hour)), "MarkAlerted again")
	err = s.MarkAlerted(ctx, id, "NOPE", at)
	mustErr(t, err, store.ErrNotFound, "MarkAlerted unknown row")
	rows, err = s.Undelivered(ctx, store.UndeliveredQuery{QueuedBefore: at, Unalerted: true})
	mustNoErr(t, err, "Undelivered unalerted")
	if len(rows) != 1 || rows[0].Recipient != "ROM" {
		t.Errorf("Undelivered unalerted = %+v, want ROM's row", rows)
	}
	rows, err = s.Undelivered(ctx, store.UndeliveredQuery{QueuedBefore: at})
	mustNoErr(t, err, "Undelivered")
	if len(rows) != 2 || !rows[0].Alerted.Equal(at) {
		t.Errorf("Undelivered = %+v, want both rows, PAR's alerted at %v", rows, at)
	}
	// Failed rows stay undelivered; delivered rows leave.
	mustNoErr(t, s.MarkFailed(ctx, id, "ROM", at, "gone"), "MarkFailed")
	_, err = s.MarkDelivered(ctx, &store.Delivered{ID: id, Recipient: "PAR", At: at,
		Receipt:   store.Receipt{MessageID: id, Party: "PAR", Received: at, Note: []byte("r")},
		ReceiptID: ID("r"), Entry: hotline.LeafEntry(Self, hotline.ReceiptReceived, ID("r"))})
	mustNoErr(t, err, "MarkDelivered")
	rows, err = s.Undelivered(ctx, store.UndeliveredQuery{QueuedBefore: at})
	mustNoErr(t, err, "Undelivered")
	if len(rows) != 1 || rows[0].Recipient != "ROM" || rows[0].State != store.OutboxFailed {
		t.Errorf("Undelivered = %+v, want ROM's failed row", rows)
	}
}

// testSequenceRule: InsertReceived refuses, with a *SequenceConflictError
// naming the stored envelope, a new envelope whose sequence number another
// envelope from the same sender took, whose previous id is not the stored
// envelope before it, or whose id is not the previous id the stored
// envelope after it names; it stores nothing for it, refuses it again the
// same way, and still reports the stored envelopes as existing.
func testSequenceRule(t *testing.T, open Opener) {
	ctx := context.Background()
	s := MustOpen(t, open)
	p1 := ReceivedEnvelope("PAR 1", "PAR", 1, 64)
	p2 := ReceivedEnvelope("PAR 2", "PAR", 2, 64)
	p5 := ReceivedEnvelope("PAR 5", "PAR", 5, 64)
	r1 := ReceivedEnvelope("ROM 1", "ROM", 1, 64) // another sender: no conflict
	for _, r := range []*store.Received{p1, p2, p5, r1} {
		_, err := s.InsertReceived(ctx, r)
		mustNoErr(t, err, "InsertReceived")
	}
	sameSeq := ReceivedEnvelope("PAR 1 again", "PAR", 1, 64)
	badPrev := ReceivedEnvelope("PAR 3", "PAR", 3, 64)
	badPrev.Envelope.PairPrev = ID("envelope elsewhere")
	notNamed := ReceivedEnvelope("PAR 4 other", "PAR", 4, 64) // PAR 5 names "PAR 4"
	for _, tt := range []struct {
		name   string
		r      *store.Received
		stored *store.Received
	}{
		{"the same number", sameSeq, p1},
		{"another previous id than the stored one before", badPrev, p2},
		{"not the previous id the stored one after names", notNamed, p5},
	} {
		for try := range 2 {
			_, err := s.InsertReceived(ctx, tt.r)
			var sc *store.SequenceConflictError
			if !errors.As(err, &sc) || !errors.Is(err, store.ErrConflict) {
				t.Errorf("%s (try %d): %v, want a *SequenceConflictError", tt.name, try+1, err)
				continue
			}
			if sc.StoredID != tt.stored.Envelope.ID || !bytes.Equal(sc.Stored, tt.stored.Envelope.Raw) {
				t.Errorf("%s: the error names %v, want %v with its raw bytes", tt.name, sc.StoredID, tt.stored.Envelope.ID)
			}
			_, err = s.Envelope(ctx, hotline.Received, tt.r.Envelope.ID)
			mustErr(t, err, store.ErrNotFound, tt.name+": the refused envelope")
		}
	}
	// The stored ones are still idempotent; a well-linked one is stored.
	for _, r := range []*store.Received{p1, p2, p5} {
		ins, err := s.InsertReceived(ctx, r)
		mustNoErr(t, err, "InsertReceived again")
		if !ins.Existed {
			t.Errorf("%v again: not reported as existing", r.Envelope.ID)
		}
	}
	p3 := ReceivedEnvelope("PAR 3", "PAR", 3, 64)
	_, err := s.InsertReceived(ctx, p3)
	mustNoErr(t, err, "InsertReceived PAR 3, linked")
	// The largest number is stored and checked like any other.
	last := ReceivedEnvelope("PAR last", "PAR", math.MaxInt64, 64)
	_, err = s.InsertReceived(ctx, last)
	mustNoErr(t, err, "InsertReceived at 2^63-1")
	again := ReceivedEnvelope("PAR last again", "PAR", math.MaxInt64, 64)
	_, err = s.InsertReceived(ctx, again)
	mustErr(t, err, store.ErrConflict, "a second envelope at 2^63-1")
}
