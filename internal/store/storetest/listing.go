package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/internal/store"
)

func testOutboxListing(t *testing.T, open Opener) {
	ctx := context.Background()
	s := MustOpen(t, open)
	var log Log
	var sent []*store.Sent
	for i := range 5 {
		e, err := Send(ctx, s, &log, fmt.Sprint(i), "PAR", "ROM")
		mustNoErr(t, err, "Send")
		sent = append(sent, e)
	}
	// Newest first, by the order rows were queued.
	var got []string
	var cursor store.Cursor
	for pages := 0; ; pages++ {
		page, err := s.Outbox(ctx, store.OutboxQuery{Cursor: cursor, Limit: 3})
		mustNoErr(t, err, "Outbox")
		for _, r := range page.Rows {
			got = append(got, fmt.Sprintf("%d %s", r.Seq, r.Recipient))
		}
		if page.Next == "" {
			if pages != 3 {
				t.Errorf("Outbox took %d pages, want 4", pages+1)
			}
			break
		}
		cursor = page.Next
	}
	want := []string{"5 ROM", "5 PAR", "4 ROM", "4 PAR", "3 ROM", "3 PAR", "2 ROM", "2 PAR", "1 ROM", "1 PAR"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Outbox listing (-want +got):\n%s", diff)
	}

	page, err := s.Outbox(ctx, store.OutboxQuery{OutboxFilter: store.OutboxFilter{Recipient: "ROM"}, Limit: 2})
	mustNoErr(t, err, "Outbox ROM")
	if len(page.Rows) != 2 || page.Rows[0].ID != sent[4].Envelope.ID || page.Rows[1].ID != sent[3].Envelope.ID {
		t.Errorf("Outbox ROM = %+v", page.Rows)
	}
	page, err = s.Outbox(ctx, store.OutboxQuery{OutboxFilter: store.OutboxFilter{ID: sent[2].Envelope.ID}})
	mustNoErr(t, err, "Outbox of one envelope")
	if len(page.Rows) != 2 || page.Next != "" {
		t.Errorf("Outbox of one envelope = %+v", page)
	}
	n, err := s.CountOutbox(ctx, store.OutboxFilter{Recipient: "PAR", State: store.OutboxPending})
	mustNoErr(t, err, "CountOutbox")
	if n != 5 {
		t.Errorf("CountOutbox PAR pending = %d, want 5", n)
	}

	_, err = s.Outbox(ctx, store.OutboxQuery{Cursor: "bogus"})
	mustErr(t, err, store.ErrInvalid, "Outbox with a bogus cursor")
	msgs, err := s.Messages(ctx, store.MessageQuery{Limit: 1})
	mustNoErr(t, err, "Messages")
	_, err = s.Outbox(ctx, store.OutboxQuery{Cursor: msgs.Next})
	mustErr(t, err, store.ErrInvalid, "Outbox with a cursor of Messages")
}

func testInbound(t *testing.T, open Opener) {
	ctx := context.Background()
	s := MustOpen(t, open)
	var log Log
	for _, seq := range []uint64{1, 2, 5, 9, 5} {
		r := ReceivedEnvelope(fmt.Sprintf("PAR %d", seq), "PAR", seq, 64)
		if _, err := Accept(ctx, s, &log, r); err != nil {
			t.Fatal(err)
		}
	}
	// A second envelope carrying 5 (a sender's bug, or an attack) is
	// refused (the sequence rule, testSequenceRule).
	dup := ReceivedEnvelope("PAR 5 again", "PAR", 5, 64)
	if _, err := Accept(ctx, s, &log, dup); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("a second envelope at 5: %v, want a conflict", err)
	}
	// Pending envelopes count: they arrived.
	if _, err := s.InsertReceived(ctx, ReceivedEnvelope("PAR 10", "PAR", 10, 64)); err != nil {
		t.Fatal(err)
	}
	if _, err := Accept(ctx, s, &log, ReceivedEnvelope("ROM 1", "ROM", 1, 64)); err != nil {
		t.Fatal(err)
	}
	got, err := s.Inbound(ctx, "PAR")
	mustNoErr(t, err, "Inbound")
	want := store.InboundSeqs{Peer: "PAR", Highest: 10, Count: 5, Missing: 5,
		Gaps: []store.SeqRange{{From: 3, To: 4}, {From: 6, To: 8}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Inbound PAR (-want +got):\n%s", diff)
	}
	got, err = s.Inbound(ctx, "ROM")
	mustNoErr(t, err, "Inbound")
	if diff := cmp.Diff(store.InboundSeqs{Peer: "ROM", Highest: 1, Count: 1}, got, cmpOpts...); diff != "" {
		t.Errorf("Inbound ROM (-want +got):\n%s", diff)
	}
	got, err = s.Inbound(ctx, "WAW")
	mustNoErr(t, err, "Inbound")
	if diff := cmp.Diff(store.InboundSeqs{Peer: "WAW"}, got, cmpOpts...); diff != "" {
		t.Errorf("Inbound WAW (-want +got):\n%s", diff)
	}

	// Gaps are capped at MaxGaps ranges; Missing still counts them all.
	for i := range store.MaxGaps + 10 {
		seq := uint64(100 + 2*i)
		if _, err := s.InsertReceived(ctx, ReceivedEnvelope(fmt.Sprintf("ZAG %d", seq), "ZAG", seq, 16)); err != nil {
			t.Fatal(err)
		}
	}
	got, err = s.Inbound(ctx, "ZAG")
	mustNoErr(t, err, "Inbound")
	if got.Missing != 99+store.MaxGaps+9 || len(got.Gaps) != store.MaxGaps ||
		got.Gaps[0] != (store.SeqRange{From: 1, To: 99}) || got.Gaps[1] != (store.SeqRange{From: 101, To: 101}) {
		t.Errorf("Inbound ZAG: missing %d, %d gaps, first %v", got.Missing, len(got.Gaps), got.Gaps[:2])
	}
}

func testMessages(t *testing.T, open Opener) {
	ctx := context.Background()
	s := MustOpen(t, open)
	var log Log
	// r1 from PAR, s1 to PAR and ROM, r2 from ROM (an ack), s2 to ROM.
	r1 := ReceivedEnvelope("r1", "PAR", 1, 100)
	_, err := Accept(ctx, s, &log, r1)
	mustNoErr(t, err, "Accept r1")
	s1, err := Send(ctx, s, &log, "s1", "PAR", "ROM")
	mustNoErr(t, err, "Send s1")
	r2 := ReceivedEnvelope("r2", "ROM", 1, 100)
	r2.Envelope.Kind = "ack"
	_, err = Accept(ctx, s, &log, r2)
	mustNoErr(t, err, "Accept r2")
	s2, err := Send(ctx, s, &log, "s2", "ROM")
	mustNoErr(t, err, "Send s2")
	// A pending one, listed only on request.
	r3 := ReceivedEnvelope("r3", "PAR", 2, 100)
	Chain(r1, r3)
	_, err = s.InsertReceived(ctx, r3)
	mustNoErr(t, err, "InsertReceived r3")

	names := map[hotline.ID]string{r1.Envelope.ID: "r1", s1.Envelope.ID: "s1", r2.Envelope.ID: "r2",
		s2.Envelope.ID: "s2", r3.Envelope.ID: "r3"}
	tests := []struct {
		name string
		f    store.MessageFilter
		want []string
	}{
		{"all", store.MessageFilter{}, []string{"s2", "r2", "s1", "r1"}},
		{"with pending", store.MessageFilter{IncludePending: true}, []string{"r3", "s2", "r2", "s1", "r1"}},
		{"inbox", store.MessageFilter{Direction: hotline.Received}, []string{"r2", "r1"}},
		{"sent", store.MessageFilter{Direction: hotline.Sent}, []string{"s2", "s1"}},
		{"with PAR", store.MessageFilter{Party: "PAR"}, []string{"s1", "r1"}},
		{"with ROM", store.MessageFilter{Party: "ROM"}, []string{"s2", "r2", "s1"}},
		{"from ROM", store.MessageFilter{Party: "ROM", Direction: hotline.Received}, []string{"r2"}},
		{"to PAR", store.MessageFilter{Party: "PAR", Direction: hotline.Sent}, []string{"s1"}},
		{"acks", store.MessageFilter{Kind: "ack"}, []string{"r2"}},
		{"requests to ROM", store.MessageFilter{Kind: "assistance_request", Party: "ROM"}, []string{"s2", "s1"}},
		{"with nobody", store.MessageFilter{Party: "WAW"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			page, err := s.Messages(ctx, store.MessageQuery{MessageFilter: tt.f})
			mustNoErr(t, err, "Messages")
			var got []string
			for _, e := range page.Envelopes {
				got = append(got, names[e.ID])
				if e.Raw != nil || e.Body != nil {
					t.Errorf("%s listed with content", names[e.ID])
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Messages (-want +got):\n%s", diff)
			}
			n, err := s.CountMessages(ctx, tt.f)
			mustNoErr(t, err, "CountMessages")
			if n != int64(len(tt.want)) {
				t.Errorf("CountMessages = %d, want %d", n, len(tt.want))
			}
		})
	}

	page, err := s.Messages(ctx, store.MessageQuery{Content: true, Oldest: true, Limit: 1})
	mustNoErr(t, err, "Messages with content")
	if diff := cmp.Diff([]store.Envelope{stored(r1.Envelope)}, page.Envelopes, cmpOpts...); diff != "" {
		t.Errorf("Messages with content (-want +got):\n%s", diff)
	}
	_, err = s.Messages(ctx, store.MessageQuery{Cursor: page.Next})
	mustErr(t, err, store.ErrInvalid, "newest-first listing with an oldest-first cursor")
	_, err = s.Messages(ctx, store.MessageQuery{Cursor: "AQ"})
	mustErr(t, err, store.ErrInvalid, "Messages with a truncated cursor")
	_, err = s.Messages(ctx, store.MessageQuery{Limit: -1})
	mustErr(t, err, store.ErrInvalid, "Messages with a negative limit")
	_, err = s.Messages(ctx, store.MessageQuery{MessageFilter: store.MessageFilter{Direction: hotline.ReceiptReceived}})
	mustErr(t, err, store.ErrInvalid, "Messages in direction 0x03")
}

func testThread(t *testing.T, open Opener) {
	ctx := context.Background()
	s := MustOpen(t, open)
	var log Log
	root := ReceivedEnvelope("root", "PAR", 1, 100)
	_, err := Accept(ctx, s, &log, root)
	mustNoErr(t, err, "Accept root")
	other := ReceivedEnvelope("other", "PAR", 2, 100)
	Chain(root, other)
	_, err = Accept(ctx, s, &log, other)
	mustNoErr(t, err, "Accept other")
	var want []hotline.ID
	want = append(want, root.Envelope.ID)
	for i := range 4 {
		seqs, err := s.NextSequences(ctx, []string{"PAR"})
		mustNoErr(t, err, "NextSequences")
		reply := SentEnvelope(fmt.Sprint("reply ", i), "PAR")
		reply.Seqs = seqs
		reply.Envelope.Kind = "status_update"
		reply.Envelope.Thread = root.Envelope.ID
		reply.Envelope.Refs = []hotline.ID{root.Envelope.ID}
		_, err = s.InsertSent(ctx, reply)
		mustNoErr(t, err, "InsertSent")
		mustNoErr(t, s.Sequenced(ctx, hotline.Sent, reply.Envelope.ID, log.Append(), nil), "Sequenced")
		want = append(want, reply.Envelope.ID)
	}
	var got []hotline.ID
	var cursor store.Cursor
	for {
		page, err := s.Messages(ctx, store.MessageQuery{MessageFilter: store.MessageFilter{Thread: root.Envelope.ID},
			Oldest: true, Cursor: cursor, Limit: 2})
		mustNoErr(t, err, "Messages of the thread")
		for _, e := range page.Envelopes {
			got = append(got, e.ID)
			if e.ThreadID() != root.Envelope.ID {
				t.Errorf("%v in thread %v", e.ID, e.ThreadID())
			}
		}
		if page.Next == "" {
			break
		}
		cursor = page.Next
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("thread (-want +got):\n%s", diff)
	}
}
