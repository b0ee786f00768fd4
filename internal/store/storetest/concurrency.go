package storetest

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/sync/errgroup"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/internal/store"
)

func testConcurrentIdempotentInsert(t *testing.T, open Opener) {
	ctx := context.Background()
	s := MustOpen(t, open)
	const n = 16
	r := ReceivedEnvelope("a", "PAR", 1, 1024)
	var fresh atomic.Int32
	var g errgroup.Group
	for range n {
		g.Go(func() error {
			copy := *r
			ins, err := s.InsertReceived(ctx, &copy)
			if err == nil && !ins.Existed {
				fresh.Add(1)
			}
			return err
		})
	}
	mustNoErr(t, g.Wait(), "concurrent InsertReceived")
	if fresh.Load() != 1 {
		t.Errorf("%d of %d concurrent inserts of one envelope were new, want 1", fresh.Load(), n)
	}

	sent := SentEnvelope("b", "PAR", "ROM")
	sent.Seqs = []store.PairSeq{{Party: "PAR", Seq: 1}, {Party: "ROM", Seq: 1}}
	fresh.Store(0)
	for range n {
		g.Go(func() error {
			ins, err := s.InsertSent(ctx, sent)
			if err == nil && !ins.Existed {
				fresh.Add(1)
			}
			return err
		})
	}
	mustNoErr(t, g.Wait(), "concurrent InsertSent")
	if fresh.Load() != 1 {
		t.Errorf("%d of %d concurrent sends of one envelope were new, want 1", fresh.Load(), n)
	}
	seqs, err := s.NextSequences(ctx, []string{"PAR", "ROM"})
	mustNoErr(t, err, "NextSequences")
	for _, q := range seqs {
		if q.Seq != 2 || q.Prev != sent.Envelope.ID {
			t.Errorf("next to %s = %d after %v, want 2 after the envelope", q.Party, q.Seq, q.Prev)
		}
	}
}

func testConcurrentSenders(t *testing.T, open Opener) {
	ctx := context.Background()
	s := MustOpen(t, open)
	var log Log
	const senders, each = 8, 10
	var g errgroup.Group
	for i := range senders {
		g.Go(func() error {
			for j := range each {
				to := []string{"PAR", "ROM"}
				if j%2 == 1 {
					to = []string{"PAR"}
				}
				if _, err := Send(ctx, s, &log, fmt.Sprintf("sender %d envelope %d", i, j), to...); err != nil {
					return err
				}
			}
			return nil
		})
	}
	mustNoErr(t, g.Wait(), "concurrent senders")
	// Each pair's numbers run from 1 without a gap, each envelope naming
	// the one before.
	for _, party := range []string{"PAR", "ROM"} {
		var rows []store.OutboxRow
		var cursor store.Cursor
		for {
			page, err := s.Outbox(ctx, store.OutboxQuery{OutboxFilter: store.OutboxFilter{Recipient: party}, Cursor: cursor, Limit: 1000})
			mustNoErr(t, err, "Outbox")
			rows = append(rows, page.Rows...)
			if page.Next == "" {
				break
			}
			cursor = page.Next
		}
		sort.Slice(rows, func(i, j int) bool { return rows[i].Seq < rows[j].Seq })
		want := senders * each
		if party == "ROM" {
			want = senders * each / 2
		}
		if len(rows) != want {
			t.Fatalf("%d envelopes to %s, want %d", len(rows), party, want)
		}
		var prev hotline.ID
		for i, r := range rows {
			if r.Seq != uint64(i+1) || r.Prev != prev {
				t.Fatalf("envelope %d to %s carries %d after %v, want %d after %v", i, party, r.Seq, r.Prev, i+1, prev)
			}
			prev = r.ID
		}
		next, err := s.NextSequences(ctx, []string{party})
		mustNoErr(t, err, "NextSequences")
		if next[0].Seq != uint64(want+1) || next[0].Prev != prev {
			t.Errorf("next to %s = %+v, want %d after %v", party, next[0], want+1, prev)
		}
	}
}

func testPaginationWhileRowsArrive(t *testing.T, open Opener) {
	ctx := context.Background()
	s := MustOpen(t, open)
	var log Log
	var mu sync.Mutex
	seq := map[string]uint64{}
	accept := func(party string) (hotline.ID, error) {
		mu.Lock()
		seq[party]++
		r := ReceivedEnvelope(fmt.Sprintf("%s %d", party, seq[party]), party, seq[party], 200)
		mu.Unlock()
		_, err := Accept(ctx, s, &log, r)
		return r.Envelope.ID, err
	}
	var initial []hotline.ID
	for i := range 40 {
		id, err := accept([]string{"PAR", "ROM"}[i%2])
		mustNoErr(t, err, "Accept")
		initial = append(initial, id)
	}

	// A writer keeps adding rows while the listings page; between pages
	// the test adds some itself, so that arrivals interleave for sure.
	stop := make(chan struct{})
	var writer errgroup.Group
	writer.Go(func() error {
		for {
			select {
			case <-stop:
				return nil
			default:
			}
			if _, err := accept("WAW"); err != nil {
				return err
			}
		}
	})
	defer func() {
		close(stop)
		mustNoErr(t, writer.Wait(), "background writer")
	}()

	for _, oldest := range []bool{false, true} {
		t.Run(fmt.Sprintf("oldest=%v", oldest), func(t *testing.T) {
			seen := map[hotline.ID]int{}
			var order []hotline.ID
			var cursor store.Cursor
			for pages := 0; ; pages++ {
				page, err := s.Messages(ctx, store.MessageQuery{Oldest: oldest, Cursor: cursor, Limit: 6})
				mustNoErr(t, err, "Messages")
				for _, e := range page.Envelopes {
					seen[e.ID]++
					order = append(order, e.ID)
				}
				for range 3 {
					_, err := accept("ZAG")
					mustNoErr(t, err, "Accept")
				}
				if page.Next == "" {
					break
				}
				if oldest && pages > 100 {
					// Oldest first, a listing chases the writer; it
					// has listed what existed long before.
					break
				}
				cursor = page.Next
			}
			for id, n := range seen {
				if n != 1 {
					t.Errorf("%v listed %d times", id, n)
				}
			}
			for _, id := range initial {
				if seen[id] != 1 {
					t.Errorf("%v, there before the listing started, listed %d times", id, seen[id])
				}
			}
			// The initial rows come in insertion order (or its reverse).
			pos := map[hotline.ID]int{}
			for i, id := range order {
				pos[id] = i
			}
			for i := 1; i < len(initial); i++ {
				before, after := initial[i-1], initial[i]
				if oldest != (pos[before] < pos[after]) {
					t.Errorf("rows %d and %d listed out of order", i-1, i)
				}
			}
		})
	}
}

func testConcurrentWriters(t *testing.T, open Opener) {
	ctx := context.Background()
	s := MustOpen(t, open)
	var log Log
	const writers, each = 64, 12
	var g errgroup.Group
	for w := range writers {
		party := fmt.Sprintf("P%02d", w)
		g.Go(func() error {
			for i := range each {
				r := ReceivedEnvelope(fmt.Sprintf("%s %d", party, i+1), party, uint64(i+1), 1024)
				if _, err := Accept(ctx, s, &log, r); err != nil {
					return fmt.Errorf("%s %d: %w", party, i+1, err)
				}
			}
			return nil
		})
	}
	mustNoErr(t, g.Wait(), "concurrent writers")
	n, err := s.CountMessages(ctx, store.MessageFilter{})
	mustNoErr(t, err, "CountMessages")
	if n != writers*each {
		t.Errorf("CountMessages = %d, want %d", n, writers*each)
	}
	hw, err := s.HighWater(ctx)
	mustNoErr(t, err, "HighWater")
	if hw != writers*each {
		t.Errorf("HighWater = %d, want %d", hw, writers*each)
	}
	for w := range writers {
		party := fmt.Sprintf("P%02d", w)
		for i := range each {
			r := ReceivedEnvelope(fmt.Sprintf("%s %d", party, i+1), party, uint64(i+1), 1024)
			if _, err := s.Receipt(ctx, r.Envelope.ID, Self); err != nil {
				t.Fatalf("receipt of %s %d: %v", party, i+1, err)
			}
		}
	}
}

func testFailingWriteInBatch(t *testing.T, open Opener) {
	ctx := context.Background()
	s := MustOpen(t, open)
	var log Log
	// Writes that fail (the same ids with other bytes, or a taken leaf
	// index) race with writes that succeed; group commit must not let a
	// failure take the others down, nor a success carry a failure's
	// partial writes.
	var bad []*store.Received
	for i := range 32 {
		r := ReceivedEnvelope(fmt.Sprint("bad ", i), "PAR", uint64(i+1), 100)
		if i > 0 {
			Chain(bad[i-1], r)
		}
		if _, err := Accept(ctx, s, &log, r); err != nil {
			t.Fatal(err)
		}
		r.Envelope.Raw = Raw(fmt.Sprint("other ", i), 100)
		bad = append(bad, r)
	}
	var good []*store.Received
	for i := range 32 {
		good = append(good, ReceivedEnvelope(fmt.Sprint("good ", i), "ROM", uint64(i+1), 100))
	}
	Chain(good...)
	var g errgroup.Group
	for i := range 32 {
		g.Go(func() error {
			_, err := s.InsertReceived(ctx, bad[i])
			if !errors.Is(err, store.ErrConflict) {
				return fmt.Errorf("bad insert %d: %v, want a conflict", i, err)
			}
			return nil
		})
		g.Go(func() error {
			_, err := Accept(ctx, s, &log, good[i])
			if err != nil {
				return fmt.Errorf("good insert %d: %w", i, err)
			}
			// Sequencing it again at another index fails, alone.
			err = s.Sequenced(ctx, hotline.Received, good[i].Envelope.ID, uint64(i), nil)
			if !errors.Is(err, store.ErrConflict) {
				return fmt.Errorf("sequencing good %d at a taken index: %v, want a conflict", i, err)
			}
			return nil
		})
	}
	mustNoErr(t, g.Wait(), "racing writes")
	for i := range 32 {
		got, err := s.Envelope(ctx, hotline.Received, bad[i].Envelope.ID)
		mustNoErr(t, err, "Envelope")
		if string(got.Raw) == string(bad[i].Envelope.Raw) {
			t.Errorf("bad %d overwrote the stored bytes", i)
		}
		if _, err := s.Receipt(ctx, good[i].Envelope.ID, Self); err != nil {
			t.Errorf("good %d: %v", i, err)
		}
	}
	in, err := s.Inbound(ctx, "ROM")
	mustNoErr(t, err, "Inbound")
	if in.Highest != 32 || in.Missing != 0 {
		t.Errorf("Inbound ROM = %+v", in)
	}
}

func testBurst192(t *testing.T, open Opener) {
	ctx := context.Background()
	s := MustOpen(t, open)
	var log Log
	// Every party notifies this node at once (the NotPetya case).
	const parties, each = 192, 3
	var g errgroup.Group
	for p := range parties {
		party := fmt.Sprintf("Q%03d", p)
		g.Go(func() error {
			for i := range each {
				r := ReceivedEnvelope(fmt.Sprintf("%s %d", party, i+1), party, uint64(i+1), 1024)
				if _, err := Accept(ctx, s, &log, r); err != nil {
					return fmt.Errorf("%s %d: %w", party, i+1, err)
				}
			}
			return nil
		})
	}
	mustNoErr(t, g.Wait(), "burst")
	n, err := s.CountMessages(ctx, store.MessageFilter{Direction: hotline.Received})
	mustNoErr(t, err, "CountMessages")
	if n != parties*each {
		t.Errorf("CountMessages = %d, want %d", n, parties*each)
	}
	for p := range parties {
		party := fmt.Sprintf("Q%03d", p)
		in, err := s.Inbound(ctx, party)
		mustNoErr(t, err, "Inbound")
		if in.Highest != each || in.Count != each || in.Missing != 0 {
			t.Errorf("Inbound %s = %+v", party, in)
		}
	}
	pending, err := s.PendingLeaves(ctx, 0)
	mustNoErr(t, err, "PendingLeaves")
	if len(pending) != 0 {
		t.Errorf("%d leaves still pending", len(pending))
	}
}
