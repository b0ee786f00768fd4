package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sync/errgroup"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/internal/store"
)

// Deliver records the receipt recipient issued for a sent envelope, naming
// its leaf at index in the recipient's log, as a node does once the receipt
// verified.
func Deliver(ctx context.Context, s store.Store, e *store.Sent, recipient string, at time.Time, index uint64) (store.Receipt, error) {
	id := e.Envelope.ID
	note := fmt.Appendf(nil, "hotline-receipt/v1\n%v\n%s\n%d\n\n— %s sig", id, recipient, index, recipient)
	rc := store.Receipt{MessageID: id, Party: recipient, Received: at, LogIndex: index, Note: note}
	rid := hotline.NoteID(note)
	_, err := s.MarkDelivered(ctx, &store.Delivered{ID: id, Recipient: recipient, At: at,
		Route: "direct https://" + recipient + ".example/", Receipt: rc,
		ReceiptID: rid, Entry: hotline.LeafEntry(Self, hotline.ReceiptReceived, rid)})
	return rc, err
}

func testInclusion(t *testing.T, open Opener) {
	ctx := context.Background()
	s := MustOpen(t, open)
	var log Log
	a, err := Send(ctx, s, &log, "a", "PAR", "ROM")
	mustNoErr(t, err, "Send a")
	b, err := Send(ctx, s, &log, "b", "PAR")
	mustNoErr(t, err, "Send b")
	c, err := Send(ctx, s, &log, "c", "ROM")
	mustNoErr(t, err, "Send c")
	t1 := base.Add(time.Hour)
	unproven := func(q store.UnprovenQuery) []string {
		t.Helper()
		rows, err := s.Unproven(ctx, q)
		mustNoErr(t, err, "Unproven")
		return rowNames(rows, a, b)
	}
	count := func(f store.OutboxFilter) int64 {
		t.Helper()
		n, err := s.CountOutbox(ctx, f)
		mustNoErr(t, err, "CountOutbox")
		return n
	}

	if got := unproven(store.UnprovenQuery{}); len(got) != 0 {
		t.Errorf("Unproven before any delivery = %v", got)
	}
	mustErr(t, s.MarkIncluded(ctx, a.Envelope.ID, "PAR", t1, 100), store.ErrConflict, "MarkIncluded on a pending row")
	mustErr(t, s.MarkIncluded(ctx, ID("nothing"), "PAR", t1, 100), store.ErrNotFound, "MarkIncluded on no row")
	mustNoErr(t, s.MarkFailed(ctx, c.Envelope.ID, "ROM", t1, "gone"), "MarkFailed")
	mustErr(t, s.MarkIncluded(ctx, c.Envelope.ID, "ROM", t1, 100), store.ErrConflict, "MarkIncluded on a failed row")

	// Lowest receipt index first, whatever the order of delivery.
	_, err = Deliver(ctx, s, a, "PAR", t1, 77)
	mustNoErr(t, err, "Deliver a PAR")
	_, err = Deliver(ctx, s, b, "PAR", t1, 5)
	mustNoErr(t, err, "Deliver b PAR")
	_, err = Deliver(ctx, s, a, "ROM", t1, 3)
	mustNoErr(t, err, "Deliver a ROM")
	if diff := cmp.Diff([]string{"a ROM", "b PAR", "a PAR"}, unproven(store.UnprovenQuery{})); diff != "" {
		t.Errorf("Unproven (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"b PAR", "a PAR"}, unproven(store.UnprovenQuery{Recipient: "PAR"})); diff != "" {
		t.Errorf("Unproven PAR (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"a ROM"}, unproven(store.UnprovenQuery{Limit: 1})); diff != "" {
		t.Errorf("Unproven limit 1 (-want +got):\n%s", diff)
	}
	if n := count(store.OutboxFilter{Unproven: true}); n != 3 {
		t.Errorf("CountOutbox unproven = %d, want 3", n)
	}
	if n := count(store.OutboxFilter{Unproven: true, Recipient: "PAR"}); n != 2 {
		t.Errorf("CountOutbox unproven to PAR = %d, want 2", n)
	}
	if n := count(store.OutboxFilter{Unproven: true, State: store.OutboxPending}); n != 0 {
		t.Errorf("CountOutbox unproven and pending = %d, want 0", n)
	}

	// A checkpoint of size 5 ends before index 5.
	mustErr(t, s.MarkIncluded(ctx, b.Envelope.ID, "PAR", t1, 5), store.ErrConflict, "MarkIncluded below the index")
	before, err := s.OutboxEntry(ctx, b.Envelope.ID, "PAR")
	mustNoErr(t, err, "OutboxEntry")
	mustNoErr(t, s.MarkIncluded(ctx, b.Envelope.ID, "PAR", t1.Add(time.Minute), 6), "MarkIncluded")
	row, err := s.OutboxEntry(ctx, b.Envelope.ID, "PAR")
	mustNoErr(t, err, "OutboxEntry")
	want := before
	want.Included, want.IncludedSize = t1.Add(time.Minute), 6
	if diff := cmp.Diff(want, row); diff != "" {
		t.Errorf("proven row (-want +got):\n%s", diff)
	}
	// The first proof is kept.
	mustNoErr(t, s.MarkIncluded(ctx, b.Envelope.ID, "PAR", t1.Add(time.Minute), 6), "MarkIncluded again")
	mustNoErr(t, s.MarkIncluded(ctx, b.Envelope.ID, "PAR", t1.Add(time.Hour), 500), "MarkIncluded with a larger checkpoint")
	row, err = s.OutboxEntry(ctx, b.Envelope.ID, "PAR")
	mustNoErr(t, err, "OutboxEntry")
	if diff := cmp.Diff(want, row); diff != "" {
		t.Errorf("proven row after proving it again (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"a PAR"}, unproven(store.UnprovenQuery{Recipient: "PAR"})); diff != "" {
		t.Errorf("Unproven PAR after proving b (-want +got):\n%s", diff)
	}
	mustNoErr(t, s.MarkIncluded(ctx, a.Envelope.ID, "PAR", t1, 78), "MarkIncluded a PAR")
	mustNoErr(t, s.MarkIncluded(ctx, a.Envelope.ID, "ROM", t1, 4), "MarkIncluded a ROM")
	if got := unproven(store.UnprovenQuery{}); len(got) != 0 {
		t.Errorf("Unproven after proving all = %v", got)
	}
	if n := count(store.OutboxFilter{Unproven: true}); n != 0 {
		t.Errorf("CountOutbox unproven = %d, want 0", n)
	}
	if n := count(store.OutboxFilter{State: store.OutboxDelivered}); n != 3 {
		t.Errorf("CountOutbox delivered = %d, want 3", n)
	}
}

func testConcurrentMarkIncluded(t *testing.T, open Opener) {
	ctx := context.Background()
	s := MustOpen(t, open)
	var log Log
	var sent []*store.Sent
	for i := range 4 {
		e, err := Send(ctx, s, &log, fmt.Sprint(i), "PAR")
		mustNoErr(t, err, "Send")
		_, err = Deliver(ctx, s, e, "PAR", base, uint64(10+i))
		mustNoErr(t, err, "Deliver")
		sent = append(sent, e)
	}
	// Checkers race to prove each row with different checkpoints; one
	// proof wins per row, whole (its time with its size).
	const checkers = 16
	var g errgroup.Group
	for c := range checkers {
		g.Go(func() error {
			for i, e := range sent {
				at := base.Add(time.Duration(c+1) * time.Second)
				size := uint64(100*(c+1) + i)
				if err := s.MarkIncluded(ctx, e.Envelope.ID, "PAR", at, size); err != nil {
					return fmt.Errorf("checker %d, row %d: %w", c, i, err)
				}
			}
			return nil
		})
		g.Go(func() error {
			_, err := s.Unproven(ctx, store.UnprovenQuery{Recipient: "PAR"})
			return err
		})
	}
	mustNoErr(t, g.Wait(), "racing MarkIncluded")
	for i, e := range sent {
		row, err := s.OutboxEntry(ctx, e.Envelope.ID, "PAR")
		mustNoErr(t, err, "OutboxEntry")
		c := int(row.Included.Sub(base)/time.Second) - 1
		if c < 0 || c >= checkers || row.IncludedSize != uint64(100*(c+1)+i) {
			t.Errorf("row %d proven at %v with size %d: not one checker's proof", i, row.Included, row.IncludedSize)
		}
	}
	rows, err := s.Unproven(ctx, store.UnprovenQuery{})
	mustNoErr(t, err, "Unproven")
	if len(rows) != 0 {
		t.Errorf("Unproven = %d rows, want none", len(rows))
	}
}

func testMarkRelayed(t *testing.T, open Opener) {
	ctx := context.Background()
	s := MustOpen(t, open)
	var log Log
	a, err := Send(ctx, s, &log, "a", "PAR", "ROM")
	mustNoErr(t, err, "Send")
	id := a.Envelope.ID
	t1 := base.Add(time.Hour)
	mustNoErr(t, s.RecordAttempt(ctx, &store.Attempt{ID: id, Recipient: "PAR", At: t1,
		Route: "direct https://par.example/", Error: "connection refused", Next: t1.Add(time.Minute)}), "RecordAttempt")
	before, err := s.OutboxEntry(ctx, id, "PAR")
	mustNoErr(t, err, "OutboxEntry")

	d := &store.RelayedDelivery{ID: id, Recipient: "PAR", Relay: "DEP", At: t1.Add(time.Second),
		Receipt: []byte("hotline-relay-receipt/v1\nPAR\n\n— DEP sig")}
	mustNoErr(t, s.MarkRelayed(ctx, d), "MarkRelayed")
	row, err := s.OutboxEntry(ctx, id, "PAR")
	mustNoErr(t, err, "OutboxEntry")
	want := before
	want.Relayed, want.RelayedVia, want.RelayReceipt = d.At, "DEP", d.Receipt
	if diff := cmp.Diff(want, row); diff != "" {
		t.Errorf("relayed row (-want +got):\n%s", diff)
	}
	// Still pending, and due for the direct route as before.
	due, err := s.DueOutbox(ctx, t1.Add(time.Minute), 0)
	mustNoErr(t, err, "DueOutbox")
	if len(due) != 2 {
		t.Errorf("DueOutbox after relaying = %d rows, want both", len(due))
	}

	again := *d
	again.At = t1.Add(time.Hour)
	mustNoErr(t, s.MarkRelayed(ctx, &again), "MarkRelayed again")
	other := *d
	other.Receipt = []byte("another relay receipt")
	mustErr(t, s.MarkRelayed(ctx, &other), store.ErrConflict, "MarkRelayed with another receipt")
	otherRelay := *d
	otherRelay.Relay = "ONU"
	mustErr(t, s.MarkRelayed(ctx, &otherRelay), store.ErrConflict, "MarkRelayed via another relay")
	unknown := *d
	unknown.ID = ID("nothing")
	mustErr(t, s.MarkRelayed(ctx, &unknown), store.ErrNotFound, "MarkRelayed on no row")
	row, err = s.OutboxEntry(ctx, id, "PAR")
	mustNoErr(t, err, "OutboxEntry")
	if diff := cmp.Diff(want, row); diff != "" {
		t.Errorf("relayed row after the refused writes (-want +got):\n%s", diff)
	}
	n, err := s.CountOutbox(ctx, store.OutboxFilter{Relayed: true, State: store.OutboxPending})
	mustNoErr(t, err, "CountOutbox")
	if n != 1 {
		t.Errorf("CountOutbox relayed and pending = %d, want 1", n)
	}

	// The recipient's receipt delivers the row; the relay's stays.
	_, err = Deliver(ctx, s, a, "PAR", t1.Add(2*time.Hour), 8)
	mustNoErr(t, err, "Deliver")
	row, err = s.OutboxEntry(ctx, id, "PAR")
	mustNoErr(t, err, "OutboxEntry")
	if row.State != store.OutboxDelivered || !row.Relayed.Equal(d.At) || string(row.RelayReceipt) != string(d.Receipt) {
		t.Errorf("delivered relayed row = %+v", row)
	}
	// A relay receipt arriving after delivery is still kept (evidence of
	// tender), and the state does not change.
	_, err = Deliver(ctx, s, a, "ROM", t1, 9)
	mustNoErr(t, err, "Deliver ROM")
	late := &store.RelayedDelivery{ID: id, Recipient: "ROM", Relay: "DEP", At: t1.Add(time.Minute), Receipt: []byte("late")}
	mustNoErr(t, s.MarkRelayed(ctx, late), "MarkRelayed on a delivered row")
	row, err = s.OutboxEntry(ctx, id, "ROM")
	mustNoErr(t, err, "OutboxEntry")
	if row.State != store.OutboxDelivered || row.RelayedVia != "DEP" {
		t.Errorf("delivered row relayed late = %+v", row)
	}
	n, err = s.CountOutbox(ctx, store.OutboxFilter{Relayed: true})
	mustNoErr(t, err, "CountOutbox")
	if n != 2 {
		t.Errorf("CountOutbox relayed = %d, want 2", n)
	}
}

// RelayItem returns an envelope named name, from one party to another, as a
// relay stores it, with raw bytes of size n.
func RelayItem(name, from, to string, n int) *store.Relayed {
	return &store.Relayed{
		ID:       ID("envelope " + name),
		From:     from,
		To:       to,
		Raw:      Raw("relayed "+name+" to "+to, n),
		Received: base.Add(time.Duration(len(name)) * time.Second),
		Receipt:  []byte("hotline-relay-receipt/v1\n" + name + "\n" + to + "\n\n— DEP sig"),
	}
}

// relayNames lists a relay page as "name to" strings, given the names.
func relayNames(items []store.Relayed, names ...string) []string {
	byID := map[hotline.ID]string{}
	for _, n := range names {
		byID[ID("envelope "+n)] = n
	}
	var out []string
	for _, it := range items {
		n, ok := byID[it.ID]
		if !ok {
			n = "?"
		}
		out = append(out, n+" "+it.To)
	}
	return out
}

// listRelay pages through a relay listing with the given page size.
func listRelay(tb testing.TB, ctx context.Context, s store.Store, q store.RelayQuery) ([]store.Relayed, int) {
	tb.Helper()
	var out []store.Relayed
	for pages := 1; ; pages++ {
		page, err := s.RelayList(ctx, q)
		mustNoErr(tb, err, "RelayList")
		out = append(out, page.Items...)
		if page.Next == "" {
			return out, pages
		}
		if len(page.Items) == 0 {
			tb.Fatalf("RelayList returned an empty page with a next cursor")
		}
		q.Cursor = page.Next
	}
}

func testRelayQueue(t *testing.T, open Opener) {
	ctx := context.Background()
	s := MustOpen(t, open)
	names := []string{"p1", "r1", "p2", "r2", "p3"}
	items := map[string]*store.Relayed{}
	for _, n := range names {
		to := "PAR"
		if n[0] == 'r' {
			to = "ROM"
		}
		items[n] = RelayItem(n, "BER", to, 100*len(items)+100)
		existed, err := s.RelayPut(ctx, items[n])
		mustNoErr(t, err, "RelayPut")
		if existed {
			t.Errorf("RelayPut %s reports existed the first time", n)
		}
	}
	// The same again exists; other bytes are a conflict; the same
	// envelope for another recipient is another item.
	again := *items["p1"]
	again.Received = again.Received.Add(time.Hour)
	again.Receipt = []byte("a second relay receipt")
	existed, err := s.RelayPut(ctx, &again)
	mustNoErr(t, err, "RelayPut again")
	if !existed {
		t.Errorf("RelayPut again does not report existed")
	}
	forged := *items["p1"]
	forged.Raw = Raw("forged", 100)
	_, err = s.RelayPut(ctx, &forged)
	mustErr(t, err, store.ErrConflict, "RelayPut with other bytes")
	forged = *items["p1"]
	forged.From = "ROM"
	_, err = s.RelayPut(ctx, &forged)
	mustErr(t, err, store.ErrConflict, "RelayPut from another sender")
	toWAW := *items["p1"]
	toWAW.To, toWAW.Raw = "WAW", Raw("p1 to WAW", 64)
	existed, err = s.RelayPut(ctx, &toWAW)
	mustNoErr(t, err, "RelayPut to another recipient")
	if existed {
		t.Errorf("RelayPut of the same envelope to another recipient reports existed")
	}

	got, err := s.RelayGet(ctx, items["p1"].ID, "PAR")
	mustNoErr(t, err, "RelayGet")
	if diff := cmp.Diff(*items["p1"], got); diff != "" {
		t.Errorf("RelayGet (-want +got):\n%s", diff)
	}
	_, err = s.RelayGet(ctx, items["p1"].ID, "ROM")
	mustErr(t, err, store.ErrNotFound, "RelayGet for another recipient")

	all, pages := listRelay(t, ctx, s, store.RelayQuery{Limit: 2})
	if diff := cmp.Diff([]string{"p1 PAR", "r1 ROM", "p2 PAR", "r2 ROM", "p3 PAR", "p1 WAW"}, relayNames(all, names...)); diff != "" {
		t.Errorf("RelayList (-want +got):\n%s", diff)
	}
	if pages != 3 {
		t.Errorf("RelayList of 6 by 2 took %d pages, want 3", pages)
	}
	par, _ := listRelay(t, ctx, s, store.RelayQuery{To: "PAR", Limit: 2})
	if diff := cmp.Diff([]string{"p1 PAR", "p2 PAR", "p3 PAR"}, relayNames(par, names...)); diff != "" {
		t.Errorf("RelayList PAR (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(*items["p2"], par[1]); diff != "" {
		t.Errorf("listed item (-want +got):\n%s", diff)
	}

	// Handing on.
	handed := base.Add(2 * time.Hour)
	rr := []byte("hotline-receipt/v1\np1\nPAR\n\n— PAR sig")
	mustNoErr(t, s.RelayHandedOn(ctx, items["p1"].ID, "PAR", handed, rr), "RelayHandedOn")
	mustNoErr(t, s.RelayHandedOn(ctx, items["p1"].ID, "PAR", handed.Add(time.Hour), rr), "RelayHandedOn again")
	mustErr(t, s.RelayHandedOn(ctx, items["p1"].ID, "PAR", handed, []byte("another receipt")), store.ErrConflict,
		"RelayHandedOn with another receipt")
	mustErr(t, s.RelayHandedOn(ctx, ID("nothing"), "PAR", handed, rr), store.ErrNotFound, "RelayHandedOn of nothing")
	got, err = s.RelayGet(ctx, items["p1"].ID, "PAR")
	mustNoErr(t, err, "RelayGet")
	want := *items["p1"]
	want.HandedOn, want.RecipientReceipt = handed, rr
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("handed on (-want +got):\n%s", diff)
	}
	par, _ = listRelay(t, ctx, s, store.RelayQuery{To: "PAR"})
	if diff := cmp.Diff([]string{"p2 PAR", "p3 PAR"}, relayNames(par, names...)); diff != "" {
		t.Errorf("RelayList PAR pending (-want +got):\n%s", diff)
	}
	par, _ = listRelay(t, ctx, s, store.RelayQuery{To: "PAR", IncludeHandedOn: true})
	if diff := cmp.Diff([]string{"p1 PAR", "p2 PAR", "p3 PAR"}, relayNames(par, names...)); diff != "" {
		t.Errorf("RelayList PAR with handed on (-want +got):\n%s", diff)
	}
	for _, c := range []struct {
		to      string
		pending bool
		want    int64
	}{{"PAR", true, 2}, {"PAR", false, 3}, {"", true, 5}, {"", false, 6}, {"ZAG", false, 0}} {
		n, err := s.RelayCount(ctx, c.to, c.pending)
		mustNoErr(t, err, "RelayCount")
		if n != c.want {
			t.Errorf("RelayCount(%q, %v) = %d, want %d", c.to, c.pending, n, c.want)
		}
	}

	// A byte limit ends a page early, but never before its first item.
	for _, c := range []struct {
		max  int64
		want []string
	}{
		{1, []string{"p1 PAR"}},
		{int64(len(items["p1"].Raw)+len(items["p2"].Raw)) - 1, []string{"p1 PAR"}},
		{int64(len(items["p1"].Raw) + len(items["p2"].Raw)), []string{"p1 PAR", "p2 PAR"}},
	} {
		page, err := s.RelayList(ctx, store.RelayQuery{To: "PAR", IncludeHandedOn: true, MaxBytes: c.max})
		mustNoErr(t, err, "RelayList")
		if diff := cmp.Diff(c.want, relayNames(page.Items, names...)); diff != "" || page.Next == "" {
			t.Errorf("RelayList with %d bytes at most, next %q (-want +got):\n%s", c.max, page.Next, diff)
		}
	}
	pages = 0
	par, pages = listRelay(t, ctx, s, store.RelayQuery{To: "PAR", IncludeHandedOn: true, MaxBytes: 1})
	if len(par) != 3 || pages != 3 {
		t.Errorf("RelayList by 1 byte: %d items in %d pages, want 3 in 3", len(par), pages)
	}

	// Retention deletes what was handed on before the time, never what is
	// pending.
	n, err := s.RelayPurge(ctx, handed)
	mustNoErr(t, err, "RelayPurge")
	if n != 0 {
		t.Errorf("RelayPurge at the time handed on deleted %d, want 0", n)
	}
	n, err = s.RelayPurge(ctx, base.Add(1000*time.Hour))
	mustNoErr(t, err, "RelayPurge")
	if n != 1 {
		t.Errorf("RelayPurge deleted %d, want 1", n)
	}
	_, err = s.RelayGet(ctx, items["p1"].ID, "PAR")
	mustErr(t, err, store.ErrNotFound, "RelayGet of a purged item")
	if c, _ := s.RelayCount(ctx, "", false); c != 5 {
		t.Errorf("RelayCount after purge = %d, want 5", c)
	}

	// A cursor stays right when the rows after it are purged and others
	// come: positions are never handed out twice.
	var xs []string
	for i := range 4 {
		x := fmt.Sprint("x", i)
		xs = append(xs, x)
		_, err := s.RelayPut(ctx, RelayItem(x, "BER", "ZAG", 10))
		mustNoErr(t, err, "RelayPut")
	}
	page, err := s.RelayList(ctx, store.RelayQuery{To: "ZAG", Limit: 3})
	mustNoErr(t, err, "RelayList")
	if diff := cmp.Diff([]string{"x0 ZAG", "x1 ZAG", "x2 ZAG"}, relayNames(page.Items, xs...)); diff != "" || page.Next == "" {
		t.Fatalf("RelayList ZAG (-want +got):\n%s", diff)
	}
	for _, x := range []string{"x2", "x3"} {
		mustNoErr(t, s.RelayHandedOn(ctx, ID("envelope "+x), "ZAG", handed, []byte("r "+x)), "RelayHandedOn")
	}
	n, err = s.RelayPurge(ctx, base.Add(1000*time.Hour))
	mustNoErr(t, err, "RelayPurge")
	if n != 2 {
		t.Errorf("RelayPurge deleted %d, want 2", n)
	}
	xs = append(xs, "x4")
	_, err = s.RelayPut(ctx, RelayItem("x4", "BER", "ZAG", 10))
	mustNoErr(t, err, "RelayPut")
	rest, _ := listRelay(t, ctx, s, store.RelayQuery{To: "ZAG", Cursor: page.Next})
	if diff := cmp.Diff([]string{"x4 ZAG"}, relayNames(rest, xs...)); diff != "" {
		t.Errorf("RelayList ZAG after purging (-want +got):\n%s", diff)
	}
}

func testConcurrentRelayPut(t *testing.T, open Opener) {
	ctx := context.Background()
	s := MustOpen(t, open)
	// One envelope from many goroutines: stored once.
	const n = 16
	one := RelayItem("one", "PAR", "ROM", 512)
	var fresh atomic.Int32
	var g errgroup.Group
	for range n {
		g.Go(func() error {
			c := *one
			existed, err := s.RelayPut(ctx, &c)
			if err == nil && !existed {
				fresh.Add(1)
			}
			return err
		})
	}
	mustNoErr(t, g.Wait(), "concurrent RelayPut of one envelope")
	if fresh.Load() != 1 {
		t.Errorf("%d of %d concurrent RelayPuts of one envelope were new, want 1", fresh.Load(), n)
	}

	// Many envelopes to four recipients, with forgeries of the first in
	// the same batches, while a reader pages through the queue.
	const writers, each = 16, 8
	recipients := []string{"PAR", "ROM", "WAW", "ZAG"}
	name := func(w, i int) string { return fmt.Sprintf("w%02d-%d", w, i) }
	for w := range writers {
		g.Go(func() error {
			for i := range each {
				it := RelayItem(name(w, i), "BER", recipients[w%len(recipients)], 256)
				existed, err := s.RelayPut(ctx, it)
				if err != nil || existed {
					return fmt.Errorf("RelayPut %s: existed %v, %v", name(w, i), existed, err)
				}
			}
			return nil
		})
		g.Go(func() error {
			forged := *one
			forged.Raw = Raw(fmt.Sprint("forged ", w), 512)
			_, err := s.RelayPut(ctx, &forged)
			if !errors.Is(err, store.ErrConflict) {
				return fmt.Errorf("forged RelayPut %d: %v, want a conflict", w, err)
			}
			return nil
		})
		g.Go(func() error {
			_, err := s.RelayList(ctx, store.RelayQuery{Limit: 5})
			return err
		})
	}
	mustNoErr(t, g.Wait(), "concurrent RelayPut")
	got, err := s.RelayGet(ctx, one.ID, "ROM")
	mustNoErr(t, err, "RelayGet")
	if string(got.Raw) != string(one.Raw) {
		t.Errorf("a forgery overwrote the stored bytes")
	}
	count, err := s.RelayCount(ctx, "", true)
	mustNoErr(t, err, "RelayCount")
	if count != 1+writers*each {
		t.Errorf("RelayCount = %d, want %d", count, 1+writers*each)
	}
	// Each writer's envelopes are listed once each, in the order it
	// stored them.
	all, _ := listRelay(t, ctx, s, store.RelayQuery{Limit: 7})
	pos := map[hotline.ID]int{}
	for i, it := range all {
		if _, dup := pos[it.ID]; dup {
			t.Errorf("%v listed twice", it.ID)
		}
		pos[it.ID] = i
	}
	for w := range writers {
		last := -1
		for i := range each {
			p, ok := pos[ID("envelope "+name(w, i))]
			if !ok || p <= last {
				t.Errorf("%s listed at %d (listed %v), after %d", name(w, i), p, ok, last)
			}
			last = p
		}
	}
	zag, _ := listRelay(t, ctx, s, store.RelayQuery{To: "ZAG", Limit: 3})
	if len(zag) != writers/len(recipients)*each {
		t.Errorf("RelayList ZAG = %d items, want %d", len(zag), writers/len(recipients)*each)
	}
}
