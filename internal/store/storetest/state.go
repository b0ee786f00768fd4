package storetest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/internal/store"
)

func testAgreement(t *testing.T, open Opener) {
	ctx := context.Background()
	s := MustOpen(t, open)
	_, err := s.Agreement(ctx)
	mustErr(t, err, store.ErrNotFound, "Agreement before the first")
	v := func(n uint64) *store.Agreement {
		return &store.Agreement{Version: n, Hash: ID(fmt.Sprint("agreement ", n)),
			Raw: []byte(fmt.Sprint("agreement document ", n)), At: base.Add(time.Duration(n) * time.Hour)}
	}
	mustNoErr(t, s.SetAgreement(ctx, v(1)), "SetAgreement 1")
	mustNoErr(t, s.SetAgreement(ctx, v(1)), "SetAgreement 1 again")
	other := v(1)
	other.Hash = ID("forged")
	mustErr(t, s.SetAgreement(ctx, other), store.ErrConflict, "SetAgreement 1 with another hash")
	mustNoErr(t, s.SetAgreement(ctx, v(3)), "SetAgreement 3")
	// An older version joins the history without going into force.
	mustNoErr(t, s.SetAgreement(ctx, v(2)), "SetAgreement 2")
	reused := v(4)
	reused.Hash = v(3).Hash
	mustErr(t, s.SetAgreement(ctx, reused), store.ErrConflict, "SetAgreement 4 with 3's hash")

	got, err := s.Agreement(ctx)
	mustNoErr(t, err, "Agreement")
	if diff := cmp.Diff(*v(3), got); diff != "" {
		t.Errorf("agreement in force (-want +got):\n%s", diff)
	}
	got, err = s.AgreementByHash(ctx, v(2).Hash)
	mustNoErr(t, err, "AgreementByHash")
	if diff := cmp.Diff(*v(2), got); diff != "" {
		t.Errorf("agreement 2 (-want +got):\n%s", diff)
	}
	_, err = s.AgreementByHash(ctx, ID("forged"))
	mustErr(t, err, store.ErrNotFound, "AgreementByHash unknown")
}

func testCheckpoints(t *testing.T, open Opener) {
	ctx := context.Background()
	s := MustOpen(t, open)
	cp := func(origin string, size uint64, note string) *store.Checkpoint {
		return &store.Checkpoint{Origin: origin, Size: size, Note: []byte(note), At: base.Add(time.Duration(size) * time.Minute)}
	}
	_, err := s.Checkpoint(ctx, "par.example/log")
	mustErr(t, err, store.ErrNotFound, "Checkpoint before the first")
	steps := []struct {
		c    *store.Checkpoint
		want bool
	}{
		{cp("par.example/log", 10, "par 10"), true},
		{cp("par.example/log", 5, "par 5"), false},
		{cp("par.example/log", 10, "par 10 with another cosignature"), false},
		{cp("rom.example/log", 3, "rom 3"), true},
		{cp("par.example/log", 11, "par 11"), true},
	}
	for i, st := range steps {
		got, err := s.SetCheckpoint(ctx, st.c)
		mustNoErr(t, err, "SetCheckpoint")
		if got != st.want {
			t.Errorf("step %d: SetCheckpoint(%s, %d) = %v, want %v", i, st.c.Origin, st.c.Size, got, st.want)
		}
	}
	got, err := s.Checkpoints(ctx)
	mustNoErr(t, err, "Checkpoints")
	want := []store.Checkpoint{*cp("par.example/log", 11, "par 11"), *cp("rom.example/log", 3, "rom 3")}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Checkpoints (-want +got):\n%s", diff)
	}
	one, err := s.Checkpoint(ctx, "rom.example/log")
	mustNoErr(t, err, "Checkpoint")
	if diff := cmp.Diff(want[1], one); diff != "" {
		t.Errorf("Checkpoint (-want +got):\n%s", diff)
	}
}

func testValues(t *testing.T, open Opener) {
	ctx := context.Background()
	s := MustOpen(t, open)
	_, err := s.Value(ctx, "witness.last")
	mustErr(t, err, store.ErrNotFound, "Value before set")
	mustNoErr(t, s.SetValue(ctx, "witness.last", []byte("one")), "SetValue")
	mustNoErr(t, s.SetValue(ctx, "witness.last", []byte("two")), "SetValue again")
	mustNoErr(t, s.SetValue(ctx, "empty", nil), "SetValue empty")
	got, err := s.Value(ctx, "witness.last")
	mustNoErr(t, err, "Value")
	if string(got) != "two" {
		t.Errorf("Value = %q, want %q", got, "two")
	}
	got, err = s.Value(ctx, "empty")
	mustNoErr(t, err, "Value empty")
	if got == nil || len(got) != 0 {
		t.Errorf("Value empty = %#v, want an empty, non-nil value", got)
	}
}

func testInvalidInput(t *testing.T, open Opener) {
	ctx := context.Background()
	s := MustOpen(t, open)
	rcv := func(f func(r *store.Received)) *store.Received {
		r := ReceivedEnvelope("x", "PAR", 1, 64)
		f(r)
		return r
	}
	snd := func(f func(s *store.Sent)) *store.Sent {
		e := SentEnvelope("y", "PAR", "ROM")
		e.Seqs = []store.PairSeq{{Party: "PAR", Seq: 1}, {Party: "ROM", Seq: 1}}
		f(e)
		return e
	}
	good := ReceivedEnvelope("x", "PAR", 1, 64)
	t1 := base
	tests := []struct {
		name string
		call func() error
	}{
		{"received zero id", func() error {
			_, err := s.InsertReceived(ctx, rcv(func(r *store.Received) { r.Envelope.ID = hotline.ID{} }))
			return err
		}},
		{"received no sender", func() error {
			_, err := s.InsertReceived(ctx, rcv(func(r *store.Received) { r.Envelope.From = "" }))
			return err
		}},
		{"received sender with NUL", func() error {
			_, err := s.InsertReceived(ctx, rcv(func(r *store.Received) { r.Envelope.From = "P\x00R" }))
			return err
		}},
		{"received sender too long", func() error {
			_, err := s.InsertReceived(ctx, rcv(func(r *store.Received) { r.Envelope.From = strings.Repeat("P", store.MaxPartyLen+1) }))
			return err
		}},
		{"received sender not UTF-8", func() error {
			_, err := s.InsertReceived(ctx, rcv(func(r *store.Received) { r.Envelope.From = "\xff" }))
			return err
		}},
		{"received no recipients", func() error {
			_, err := s.InsertReceived(ctx, rcv(func(r *store.Received) { r.Envelope.To = nil }))
			return err
		}},
		{"received recipient twice", func() error {
			_, err := s.InsertReceived(ctx, rcv(func(r *store.Received) { r.Envelope.To = []string{Self, Self} }))
			return err
		}},
		{"received too many recipients", func() error {
			_, err := s.InsertReceived(ctx, rcv(func(r *store.Received) {
				r.Envelope.To = nil
				for i := range store.MaxRecipients + 1 {
					r.Envelope.To = append(r.Envelope.To, fmt.Sprint("P", i))
				}
			}))
			return err
		}},
		{"received zero created", func() error {
			_, err := s.InsertReceived(ctx, rcv(func(r *store.Received) { r.Envelope.Created = time.Time{} }))
			return err
		}},
		{"received created out of range", func() error {
			_, err := s.InsertReceived(ctx, rcv(func(r *store.Received) { r.Envelope.Created = time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC) }))
			return err
		}},
		{"received no kind", func() error {
			_, err := s.InsertReceived(ctx, rcv(func(r *store.Received) { r.Envelope.Kind = "" }))
			return err
		}},
		{"received bad severity", func() error {
			_, err := s.InsertReceived(ctx, rcv(func(r *store.Received) { r.Envelope.Severity = "apocalyptic" }))
			return err
		}},
		{"received bad marking", func() error {
			_, err := s.InsertReceived(ctx, rcv(func(r *store.Received) { r.Envelope.Marking = "TLP:WHITE" }))
			return err
		}},
		{"received own thread", func() error {
			_, err := s.InsertReceived(ctx, rcv(func(r *store.Received) { r.Envelope.Thread = r.Envelope.ID }))
			return err
		}},
		{"received no bytes", func() error {
			_, err := s.InsertReceived(ctx, rcv(func(r *store.Received) { r.Envelope.Raw = nil }))
			return err
		}},
		{"received zero time", func() error {
			_, err := s.InsertReceived(ctx, rcv(func(r *store.Received) { r.Envelope.At = time.Time{} }))
			return err
		}},
		{"received no pair sequence", func() error {
			_, err := s.InsertReceived(ctx, rcv(func(r *store.Received) { r.Envelope.PairSeq = 0 }))
			return err
		}},
		{"received pair sequence out of range", func() error {
			_, err := s.InsertReceived(ctx, rcv(func(r *store.Received) { r.Envelope.PairSeq = math.MaxInt64 + 1 }))
			return err
		}},
		{"received as sent", func() error {
			_, err := s.InsertReceived(ctx, rcv(func(r *store.Received) { r.Envelope.Direction = hotline.Sent }))
			return err
		}},
		{"received zero entry", func() error {
			_, err := s.InsertReceived(ctx, rcv(func(r *store.Received) { r.Entry = [32]byte{} }))
			return err
		}},
		{"sent numbers missing", func() error {
			_, err := s.InsertSent(ctx, snd(func(e *store.Sent) { e.Seqs = e.Seqs[:1] }))
			return err
		}},
		{"sent numbers out of order", func() error {
			_, err := s.InsertSent(ctx, snd(func(e *store.Sent) { e.Seqs[0], e.Seqs[1] = e.Seqs[1], e.Seqs[0] }))
			return err
		}},
		{"sent number zero", func() error { _, err := s.InsertSent(ctx, snd(func(e *store.Sent) { e.Seqs[0].Seq = 0 })); return err }},
		{"sent first with a previous id", func() error {
			_, err := s.InsertSent(ctx, snd(func(e *store.Sent) { e.Seqs[0].Prev = ID("p") }))
			return err
		}},
		{"sent second without a previous id", func() error { _, err := s.InsertSent(ctx, snd(func(e *store.Sent) { e.Seqs[0].Seq = 2 })); return err }},
		{"sent with a pair sequence", func() error {
			_, err := s.InsertSent(ctx, snd(func(e *store.Sent) { e.Envelope.PairSeq = 3 }))
			return err
		}},
		{"sent as received", func() error {
			_, err := s.InsertSent(ctx, snd(func(e *store.Sent) { e.Envelope.Direction = hotline.Received }))
			return err
		}},
		{"sequenced index out of range", func() error { return s.Sequenced(ctx, hotline.Received, good.Envelope.ID, math.MaxInt64+1, nil) }},
		{"sequenced bad receipt", func() error {
			rc := IssuedReceipt(good, 1)
			rc.Note = nil
			return s.Sequenced(ctx, hotline.Received, good.Envelope.ID, 1, rc)
		}},
		{"receipt no party", func() error { _, err := s.Receipt(ctx, good.Envelope.ID, ""); return err }},
		{"next sequences no party", func() error { _, err := s.NextSequences(ctx, []string{"PAR", ""}); return err }},
		{"attempt zero next", func() error {
			return s.RecordAttempt(ctx, &store.Attempt{ID: good.Envelope.ID, Recipient: "PAR", At: t1})
		}},
		{"attempt error not UTF-8", func() error {
			return s.RecordAttempt(ctx, &store.Attempt{ID: good.Envelope.ID, Recipient: "PAR", At: t1, Next: t1, Error: "\xff"})
		}},
		{"delivered receipt of another message", func() error {
			_, err := s.MarkDelivered(ctx, &store.Delivered{ID: good.Envelope.ID, Recipient: "PAR", At: t1,
				Receipt:   store.Receipt{MessageID: ID("other"), Party: "PAR", Received: t1, Note: []byte("r")},
				ReceiptID: ID("r"), Entry: ID("e")})
			return err
		}},
		{"delivered receipt of another party", func() error {
			_, err := s.MarkDelivered(ctx, &store.Delivered{ID: good.Envelope.ID, Recipient: "PAR", At: t1,
				Receipt:   store.Receipt{MessageID: good.Envelope.ID, Party: "ROM", Received: t1, Note: []byte("r")},
				ReceiptID: ID("r"), Entry: ID("e")})
			return err
		}},
		{"failed zero time", func() error { return s.MarkFailed(ctx, good.Envelope.ID, "PAR", time.Time{}, "x") }},
		{"requeue no recipient", func() error { return s.Requeue(ctx, good.Envelope.ID, "", t1) }},
		{"alerted zero time", func() error { return s.MarkAlerted(ctx, good.Envelope.ID, "PAR", time.Time{}) }},
		{"undelivered zero time", func() error { _, err := s.Undelivered(ctx, store.UndeliveredQuery{}); return err }},
		{"due zero time", func() error { _, err := s.DueOutbox(ctx, time.Time{}, 0); return err }},
		{"due negative limit", func() error { _, err := s.DueOutbox(ctx, t1, -1); return err }},
		{"pending leaves negative limit", func() error { _, err := s.PendingLeaves(ctx, -1); return err }},
		{"outbox bad state", func() error {
			_, err := s.Outbox(ctx, store.OutboxQuery{OutboxFilter: store.OutboxFilter{State: 9}})
			return err
		}},
		{"count outbox bad state", func() error { _, err := s.CountOutbox(ctx, store.OutboxFilter{State: -1}); return err }},
		{"envelope direction 0x03", func() error { _, err := s.Envelope(ctx, hotline.ReceiptReceived, good.Envelope.ID); return err }},
		{"count messages direction 0x07", func() error { _, err := s.CountMessages(ctx, store.MessageFilter{Direction: 7}); return err }},
		{"inbound no peer", func() error { _, err := s.Inbound(ctx, ""); return err }},
		{"agreement version 0", func() error {
			return s.SetAgreement(ctx, &store.Agreement{Hash: ID("a"), Raw: []byte("a"), At: t1})
		}},
		{"agreement zero hash", func() error {
			return s.SetAgreement(ctx, &store.Agreement{Version: 1, Raw: []byte("a"), At: t1})
		}},
		{"checkpoint no origin", func() error {
			_, err := s.SetCheckpoint(ctx, &store.Checkpoint{Size: 1, Note: []byte("c"), At: t1})
			return err
		}},
		{"checkpoint no note", func() error {
			_, err := s.SetCheckpoint(ctx, &store.Checkpoint{Origin: "o", Size: 1, At: t1})
			return err
		}},
		{"value no key", func() error { return s.SetValue(ctx, "", []byte("v")) }},
		{"included zero size", func() error { return s.MarkIncluded(ctx, good.Envelope.ID, "PAR", t1, 0) }},
		{"included size out of range", func() error { return s.MarkIncluded(ctx, good.Envelope.ID, "PAR", t1, math.MaxInt64+1) }},
		{"included zero time", func() error { return s.MarkIncluded(ctx, good.Envelope.ID, "PAR", time.Time{}, 1) }},
		{"included no recipient", func() error { return s.MarkIncluded(ctx, good.Envelope.ID, "", t1, 1) }},
		{"unproven negative limit", func() error { _, err := s.Unproven(ctx, store.UnprovenQuery{Limit: -1}); return err }},
		{"unproven recipient not UTF-8", func() error { _, err := s.Unproven(ctx, store.UnprovenQuery{Recipient: "\xff"}); return err }},
		{"relayed no relay", func() error {
			return s.MarkRelayed(ctx, &store.RelayedDelivery{ID: good.Envelope.ID, Recipient: "PAR", At: t1, Receipt: []byte("r")})
		}},
		{"relayed no receipt", func() error {
			return s.MarkRelayed(ctx, &store.RelayedDelivery{ID: good.Envelope.ID, Recipient: "PAR", Relay: "DEP", At: t1})
		}},
		{"relayed zero id", func() error {
			return s.MarkRelayed(ctx, &store.RelayedDelivery{Recipient: "PAR", Relay: "DEP", At: t1, Receipt: []byte("r")})
		}},
		{"relay put no bytes", func() error {
			r := RelayItem("x", "PAR", "ROM", 10)
			r.Raw = nil
			_, err := s.RelayPut(ctx, r)
			return err
		}},
		{"relay put no receipt", func() error {
			r := RelayItem("x", "PAR", "ROM", 10)
			r.Receipt = nil
			_, err := s.RelayPut(ctx, r)
			return err
		}},
		{"relay put no recipient", func() error { _, err := s.RelayPut(ctx, RelayItem("x", "PAR", "", 10)); return err }},
		{"relay put zero time", func() error {
			r := RelayItem("x", "PAR", "ROM", 10)
			r.Received = time.Time{}
			_, err := s.RelayPut(ctx, r)
			return err
		}},
		{"relay put handed on", func() error {
			r := RelayItem("x", "PAR", "ROM", 10)
			r.HandedOn, r.RecipientReceipt = t1, []byte("r")
			_, err := s.RelayPut(ctx, r)
			return err
		}},
		{"relay get no recipient", func() error { _, err := s.RelayGet(ctx, good.Envelope.ID, ""); return err }},
		{"relay list negative limit", func() error { _, err := s.RelayList(ctx, store.RelayQuery{Limit: -1}); return err }},
		{"relay list negative byte limit", func() error { _, err := s.RelayList(ctx, store.RelayQuery{MaxBytes: -1}); return err }},
		{"relay list cursor of another listing", func() error {
			_, err := s.RelayList(ctx, store.RelayQuery{Cursor: "AW0AAAAAAAAADA"})
			return err
		}},
		{"relay list garbage cursor", func() error { _, err := s.RelayList(ctx, store.RelayQuery{Cursor: "!"}); return err }},
		{"handed on without a receipt", func() error { return s.RelayHandedOn(ctx, good.Envelope.ID, "ROM", t1, nil) }},
		{"handed on zero time", func() error { return s.RelayHandedOn(ctx, good.Envelope.ID, "ROM", time.Time{}, []byte("r")) }},
		{"relay count bad recipient", func() error { _, err := s.RelayCount(ctx, "R\x00M", false); return err }},
		{"relay purge zero time", func() error { _, err := s.RelayPurge(ctx, time.Time{}); return err }},
		{"equivocation no origin", func() error {
			_, err := s.AddEquivocation(ctx, &store.EquivocationRecord{Proof: []byte("p"), At: t1})
			return err
		}},
		{"equivocation no proof", func() error {
			_, err := s.AddEquivocation(ctx, &store.EquivocationRecord{Origin: "o", At: t1})
			return err
		}},
		{"equivocation zero time", func() error {
			_, err := s.AddEquivocation(ctx, &store.EquivocationRecord{Origin: "o", Proof: []byte("p")})
			return err
		}},
		{"probe no peer", func() error { return s.RecordProbe(ctx, &store.Probe{At: t1, OK: true}) }},
		{"probe zero time", func() error { return s.RecordProbe(ctx, &store.Probe{Peer: "PAR", OK: true}) }},
		{"probe negative latency", func() error {
			return s.RecordProbe(ctx, &store.Probe{Peer: "PAR", At: t1, OK: true, Latency: -time.Millisecond})
		}},
		{"probe latency too long", func() error {
			return s.RecordProbe(ctx, &store.Probe{Peer: "PAR", At: t1, OK: true, Latency: store.MaxLatency + 1})
		}},
		{"probe error not UTF-8", func() error { return s.RecordProbe(ctx, &store.Probe{Peer: "PAR", At: t1, Error: "\xff"}) }},
		{"peer health no peer", func() error { _, err := s.PeerHealth(ctx, "", t1); return err }},
		{"peer health zero since", func() error { _, err := s.PeerHealth(ctx, "PAR", time.Time{}); return err }},
		{"peers health zero since", func() error { _, err := s.PeersHealth(ctx, time.Time{}); return err }},
		{"purge probes zero time", func() error { _, err := s.PurgeProbes(ctx, time.Time{}); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); !errors.Is(err, store.ErrInvalid) {
				t.Errorf("got %v, want %v", err, store.ErrInvalid)
			}
		})
	}
	// Nothing was written.
	n, err := s.CountMessages(ctx, store.MessageFilter{IncludePending: true})
	mustNoErr(t, err, "CountMessages")
	if n != 0 {
		t.Errorf("%d envelopes stored by refused calls", n)
	}
	pending, err := s.PendingLeaves(ctx, 0)
	mustNoErr(t, err, "PendingLeaves")
	if len(pending) != 0 {
		t.Errorf("%d leaves stored by refused calls", len(pending))
	}
	_, err = s.Agreement(ctx)
	mustErr(t, err, store.ErrNotFound, "Agreement")
	cps, err := s.Checkpoints(ctx)
	mustNoErr(t, err, "Checkpoints")
	if len(cps) != 0 {
		t.Errorf("%d checkpoints stored by refused calls", len(cps))
	}
	relayed, err := s.RelayCount(ctx, "", false)
	mustNoErr(t, err, "RelayCount")
	if relayed != 0 {
		t.Errorf("%d relayed envelopes stored by refused calls", relayed)
	}
	eqs, err := s.Equivocations(ctx)
	mustNoErr(t, err, "Equivocations")
	if len(eqs) != 0 {
		t.Errorf("%d equivocations stored by refused calls", len(eqs))
	}
	health, err := s.PeersHealth(ctx, t1)
	mustNoErr(t, err, "PeersHealth")
	if len(health) != 0 {
		t.Errorf("%d peers' health stored by refused calls", len(health))
	}
}

func testCancelled(t *testing.T, open Opener) {
	s := MustOpen(t, open)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := ReceivedEnvelope("a", "PAR", 1, 64)
	_, err := s.InsertReceived(ctx, r)
	mustErr(t, err, context.Canceled, "InsertReceived with a cancelled context")
	err = s.SetValue(ctx, "k", []byte("v"))
	mustErr(t, err, context.Canceled, "SetValue with a cancelled context")
	_, err = s.Envelope(context.Background(), hotline.Received, r.Envelope.ID)
	mustErr(t, err, store.ErrNotFound, "envelope of the cancelled insert")
	_, err = s.Value(context.Background(), "k")
	mustErr(t, err, store.ErrNotFound, "value of the cancelled write")
	it := RelayItem("a", "PAR", "ROM", 64)
	_, err = s.RelayPut(ctx, it)
	mustErr(t, err, context.Canceled, "RelayPut with a cancelled context")
	_, err = s.RelayGet(context.Background(), it.ID, it.To)
	mustErr(t, err, store.ErrNotFound, "relayed envelope of the cancelled write")
}

func testClosed(t *testing.T, open Opener) {
	ctx := context.Background()
	s, err := open(ctx)
	mustNoErr(t, err, "open")
	mustNoErr(t, s.Close(), "Close")
	mustNoErr(t, s.Close(), "Close again")
	r := ReceivedEnvelope("a", "PAR", 1, 64)
	_, err = s.InsertReceived(ctx, r)
	mustErr(t, err, store.ErrClosed, "InsertReceived after Close")
	err = s.SetValue(ctx, "k", nil)
	mustErr(t, err, store.ErrClosed, "SetValue after Close")
	_, err = s.Messages(ctx, store.MessageQuery{})
	mustErr(t, err, store.ErrClosed, "Messages after Close")
	_, err = s.HighWater(ctx)
	mustErr(t, err, store.ErrClosed, "HighWater after Close")
	_, err = s.Receipt(ctx, r.Envelope.ID, Self)
	mustErr(t, err, store.ErrClosed, "Receipt after Close")
	err = s.MarkIncluded(ctx, r.Envelope.ID, "PAR", base, 1)
	mustErr(t, err, store.ErrClosed, "MarkIncluded after Close")
	_, err = s.Unproven(ctx, store.UnprovenQuery{})
	mustErr(t, err, store.ErrClosed, "Unproven after Close")
	_, err = s.RelayPut(ctx, RelayItem("a", "PAR", "ROM", 64))
	mustErr(t, err, store.ErrClosed, "RelayPut after Close")
	_, err = s.RelayList(ctx, store.RelayQuery{})
	mustErr(t, err, store.ErrClosed, "RelayList after Close")
	_, err = s.AddEquivocation(ctx, &store.EquivocationRecord{Origin: "o", Proof: []byte("p"), At: base})
	mustErr(t, err, store.ErrClosed, "AddEquivocation after Close")
	err = s.RecordProbe(ctx, &store.Probe{Peer: "PAR", At: base, OK: true})
	mustErr(t, err, store.ErrClosed, "RecordProbe after Close")
	_, err = s.PeersHealth(ctx, base)
	mustErr(t, err, store.ErrClosed, "PeersHealth after Close")
}

// snapshot is everything a store holds, read through its methods.
type snapshot struct {
	Envelopes   []store.Envelope
	Leaves      map[hotline.Direction][]store.Leaf
	Receipts    []store.Receipt
	Outbox      []store.OutboxRow
	Pending     []store.Leaf
	HighWater   uint64
	Agreement   store.Agreement
	Checkpoints []store.Checkpoint
	Values      map[string]string
	Next        []store.PairSeq
	Inbound     []store.InboundSeqs
	Unproven    []store.OutboxRow
	Relayed     []store.Relayed
	Equivocs    []store.EquivocationRecord
	Health      []store.Health
}

var snapshotParties = []string{"PAR", "ROM", "WAW"}

func takeSnapshot(tb testing.TB, ctx context.Context, s store.Store) snapshot {
	tb.Helper()
	var snap snapshot
	var cursor store.Cursor
	for {
		page, err := s.Messages(ctx, store.MessageQuery{MessageFilter: store.MessageFilter{IncludePending: true},
			Oldest: true, Content: true, Cursor: cursor, Limit: 100})
		mustNoErr(tb, err, "Messages")
		snap.Envelopes = append(snap.Envelopes, page.Envelopes...)
		if page.Next == "" {
			break
		}
		cursor = page.Next
	}
	snap.Leaves = map[hotline.Direction][]store.Leaf{}
	for _, e := range snap.Envelopes {
		l, err := s.LeafOf(ctx, e.Direction, e.ID)
		mustNoErr(tb, err, "LeafOf")
		snap.Leaves[e.Direction] = append(snap.Leaves[e.Direction], l)
		if e.Direction == hotline.Received {
			rc, err := s.Receipt(ctx, e.ID, Self)
			if !errors.Is(err, store.ErrNotFound) {
				mustNoErr(tb, err, "Receipt")
				snap.Receipts = append(snap.Receipts, rc)
			}
		}
	}
	cursor = ""
	for {
		page, err := s.Outbox(ctx, store.OutboxQuery{Cursor: cursor, Limit: 100})
		mustNoErr(tb, err, "Outbox")
		snap.Outbox = append(snap.Outbox, page.Rows...)
		if page.Next == "" {
			break
		}
		cursor = page.Next
	}
	for _, o := range snap.Outbox {
		if o.Receipt != nil {
			l, err := s.LeafOf(ctx, hotline.ReceiptReceived, ID(string(o.Receipt.Note)))
			mustNoErr(tb, err, "LeafOf receipt")
			snap.Leaves[hotline.ReceiptReceived] = append(snap.Leaves[hotline.ReceiptReceived], l)
		}
	}
	var err error
	snap.Pending, err = s.PendingLeaves(ctx, 0)
	mustNoErr(tb, err, "PendingLeaves")
	snap.HighWater, err = s.HighWater(ctx)
	mustNoErr(tb, err, "HighWater")
	snap.Agreement, err = s.Agreement(ctx)
	mustNoErr(tb, err, "Agreement")
	snap.Checkpoints, err = s.Checkpoints(ctx)
	mustNoErr(tb, err, "Checkpoints")
	snap.Values = map[string]string{}
	for _, k := range []string{"a", "b"} {
		v, err := s.Value(ctx, k)
		mustNoErr(tb, err, "Value")
		snap.Values[k] = string(v)
	}
	snap.Next, err = s.NextSequences(ctx, snapshotParties)
	mustNoErr(tb, err, "NextSequences")
	for _, p := range snapshotParties {
		in, err := s.Inbound(ctx, p)
		mustNoErr(tb, err, "Inbound")
		snap.Inbound = append(snap.Inbound, in)
	}
	snap.Unproven, err = s.Unproven(ctx, store.UnprovenQuery{})
	mustNoErr(tb, err, "Unproven")
	snap.Relayed, _ = listRelay(tb, ctx, s, store.RelayQuery{IncludeHandedOn: true, Limit: 100})
	snap.Equivocs, err = s.Equivocations(ctx)
	mustNoErr(tb, err, "Equivocations")
	snap.Health, err = s.PeersHealth(ctx, base.Add(-time.Hour))
	mustNoErr(tb, err, "PeersHealth")
	return snap
}

func testCloseAndReopen(t *testing.T, open Opener) {
	ctx := context.Background()
	s, err := open(ctx)
	mustNoErr(t, err, "open")
	var log Log
	for i := range 6 {
		_, err := Accept(ctx, s, &log, ReceivedEnvelope(fmt.Sprint("PAR ", i+1), "PAR", uint64(i+1), 1024))
		mustNoErr(t, err, "Accept")
	}
	_, err = s.InsertReceived(ctx, ReceivedEnvelope("ROM pending", "ROM", 4, 1024))
	mustNoErr(t, err, "InsertReceived")
	var sent []*store.Sent
	for i := range 3 {
		e, err := Send(ctx, s, &log, fmt.Sprint("s", i), "PAR", "WAW")
		mustNoErr(t, err, "Send")
		sent = append(sent, e)
	}
	at := base.Add(time.Hour)
	mustNoErr(t, s.RecordAttempt(ctx, &store.Attempt{ID: sent[0].Envelope.ID, Recipient: "WAW", At: at,
		Route: "direct https://waw.example/", Error: "503", Next: at.Add(time.Minute)}), "RecordAttempt")
	note := []byte("receipt of s1 by PAR")
	_, err = s.MarkDelivered(ctx, &store.Delivered{ID: sent[1].Envelope.ID, Recipient: "PAR", At: at,
		Route:     "direct https://par.example/",
		Receipt:   store.Receipt{MessageID: sent[1].Envelope.ID, Party: "PAR", Received: at, LogIndex: 9, Note: note},
		ReceiptID: ID(string(note)), Entry: hotline.LeafEntry(Self, hotline.ReceiptReceived, ID(string(note)))})
	mustNoErr(t, err, "MarkDelivered")
	mustNoErr(t, s.MarkFailed(ctx, sent[2].Envelope.ID, "WAW", at, "gone"), "MarkFailed")
	mustNoErr(t, s.MarkAlerted(ctx, sent[2].Envelope.ID, "PAR", at), "MarkAlerted")
	mustNoErr(t, s.SetAgreement(ctx, &store.Agreement{Version: 2, Hash: ID("a2"), Raw: []byte("a2"), At: at}), "SetAgreement")
	_, err = s.SetCheckpoint(ctx, &store.Checkpoint{Origin: "par.example/log", Size: 99, Note: []byte("cp"), At: at})
	mustNoErr(t, err, "SetCheckpoint")
	mustNoErr(t, s.SetValue(ctx, "a", []byte("1")), "SetValue")
	mustNoErr(t, s.SetValue(ctx, "b", []byte("2")), "SetValue")
	_, err = Deliver(ctx, s, sent[0], "PAR", at, 10)
	mustNoErr(t, err, "Deliver")
	mustNoErr(t, s.MarkIncluded(ctx, sent[0].Envelope.ID, "PAR", at.Add(time.Minute), 11), "MarkIncluded")
	mustNoErr(t, s.MarkRelayed(ctx, &store.RelayedDelivery{ID: sent[0].Envelope.ID, Recipient: "WAW", Relay: "DEP",
		At: at, Receipt: []byte("relay receipt")}), "MarkRelayed")
	for _, it := range []*store.Relayed{RelayItem("r1", "PAR", "ROM", 300), RelayItem("r2", "PAR", "WAW", 200)} {
		_, err = s.RelayPut(ctx, it)
		mustNoErr(t, err, "RelayPut")
	}
	mustNoErr(t, s.RelayHandedOn(ctx, ID("envelope r1"), "ROM", at, []byte("ROM's receipt")), "RelayHandedOn")
	_, err = s.AddEquivocation(ctx, &store.EquivocationRecord{Origin: "rom.example/log", Proof: []byte("proof"), At: at})
	mustNoErr(t, err, "AddEquivocation")
	for i, ok := range []bool{true, false, true} {
		mustNoErr(t, s.RecordProbe(ctx, &store.Probe{Peer: "PAR", At: minute(i), OK: ok, Latency: time.Millisecond,
			Error: "refused"}), "RecordProbe")
	}

	before := takeSnapshot(t, ctx, s)
	if len(before.Envelopes) != 10 || len(before.Outbox) != 6 || len(before.Pending) != 3 || len(before.Unproven) != 1 ||
		len(before.Relayed) != 2 || len(before.Equivocs) != 1 || len(before.Health) != 1 {
		t.Fatalf("snapshot holds %d envelopes, %d outbox rows, %d pending leaves, %d unproven, %d relayed, "+
			"%d equivocations, %d peers' health; want 10, 6, 3, 1, 2, 1, 1",
			len(before.Envelopes), len(before.Outbox), len(before.Pending), len(before.Unproven),
			len(before.Relayed), len(before.Equivocs), len(before.Health))
	}
	mustNoErr(t, s.Close(), "Close")

	s2 := MustOpen(t, open)
	after := takeSnapshot(t, ctx, s2)
	if diff := cmp.Diff(before, after, cmpOpts...); diff != "" {
		t.Errorf("after reopening (-before +after):\n%s", diff)
	}
	// And the reopened store carries on where the first stopped.
	e, err := Send(ctx, s2, &log, "after reopening", "PAR")
	mustNoErr(t, err, "Send after reopening")
	row, err := s2.OutboxEntry(ctx, e.Envelope.ID, "PAR")
	mustNoErr(t, err, "OutboxEntry")
	if row.Seq != 4 || row.Prev != sent[2].Envelope.ID {
		t.Errorf("first envelope to PAR after reopening carries %d after %v, want 4 after %v", row.Seq, row.Prev, sent[2].Envelope.ID)
	}
}
