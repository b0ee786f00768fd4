package server_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/internal/node"
	"github.com/hotline-net/hotline/internal/poll"
	"github.com/hotline-net/hotline/internal/server"
	"github.com/hotline-net/hotline/internal/sim"
	"github.com/hotline-net/hotline/internal/store"
	"github.com/hotline-net/hotline/internal/store/sqlite"
)

// failingSequenced is a store whose Sequenced fails for received
// envelopes while fail is set: the record of a receipt already issued.
type failingSequenced struct {
	store.Store
	fail *atomic.Bool
	// hold, while set, makes the record wait until it is closed.
	hold *atomic.Pointer[chan struct{}]
}

var errInjected = errors.New("injected: the disk is full")

func (s failingSequenced) Sequenced(ctx context.Context, dir hotline.Direction, id hotline.ID, index uint64, issued *store.Receipt) error {
	if dir == hotline.Received && s.fail.Load() {
		return errInjected
	}
	if h := s.hold.Load(); dir == hotline.Received && h != nil {
		<-*h
	}
	return s.Store.Sequenced(ctx, dir, id, index, issued)
}

// TestReceiptRecordedAfterAnswer: a node answers with the receipt before
// recording it. When the record fails, the sender still holds a good
// receipt; the same envelope again gets the same bytes, from the entry
// already in the log (not a second one), and the record is made then.
func TestReceiptRecordedAfterAnswer(t *testing.T) {
	var fail atomic.Bool
	var hold atomic.Pointer[chan struct{}]
	dir := t.TempDir()
	tn := newTestNetWith(t, sim.TestnetConfig{Dir: dir, Parties: []string{"BER", "CRI"}}, []string{"BER", "CRI"},
		func(party string, o *server.Options) {
			if party != "CRI" {
				return
			}
			o.OpenStore = func(ctx context.Context, cfg *server.Config) (store.Store, error) {
				db, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(dir, "CRI", server.DatabaseFile)})
				if err != nil {
					return nil, err
				}
				return failingSequenced{Store: db, fail: &fail, hold: &hold}, nil
			}
		})
	ber, cri := tn.Servers["BER"].Node(), tn.Servers["CRI"].Node()
	ctx := context.Background()

	fail.Store(true)
	id, err := ber.Send(ctx, node.Draft{
		To: []string{"CRI"}, Kind: "clarification_request",
		Severity: hotline.SeverityCritical, Marking: hotline.TLPAmber,
		Body: []byte(clarificationBody),
	})
	if err != nil {
		t.Fatal(err)
	}
	poll.Must(t, "delivery to CRI", func() (bool, error) {
		row, err := ber.Store().OutboxEntry(ctx, id, "CRI")
		return row.State == store.OutboxDelivered, err
	})
	row, err := ber.Store().OutboxEntry(ctx, id, "CRI")
	if err != nil {
		t.Fatal(err)
	}
	issued := row.Receipt.Note
	poll.Must(t, "CRI's failed record", func() (bool, error) {
		var m dto.Metric
		err := cri.Metrics().RecordFailed.Write(&m)
		return m.GetCounter().GetValue() == 1, err
	})
	if _, err := cri.Store().Receipt(ctx, id, "CRI"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("CRI's receipt after the failed record: %v, want not found", err)
	}
	leaf, err := cri.Store().LeafOf(ctx, hotline.Received, id)
	if err != nil || leaf.Sequenced {
		t.Fatalf("CRI's leaf after the failed record: %+v, %v; want pending", leaf, err)
	}

	fail.Store(false)
	sent, err := ber.Store().Envelope(ctx, hotline.Sent, id)
	if err != nil {
		t.Fatal(err)
	}
	again, err := cri.Accept(ctx, sent.Raw)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, issued) {
		t.Errorf("the same envelope again got another receipt:\n%s\nfirst:\n%s", again, issued)
	}
	poll.Must(t, "CRI's record", func() (bool, error) {
		r, err := cri.Store().Receipt(ctx, id, "CRI")
		if errors.Is(err, store.ErrNotFound) {
			return false, nil
		}
		return err == nil && bytes.Equal(r.Note, issued), err
	})
	entry := hotline.LeafEntry(tn.Servers["CRI"].Log().Origin(), hotline.Received, id)
	count := 0
	for e, err := range tn.Servers["CRI"].Log().EntriesFrom(ctx, 0) {
		if err != nil {
			t.Fatal(err)
		}
		if e.Data == entry {
			count++
		}
	}
	if count != 1 {
		t.Errorf("CRI's log holds the envelope's entry %d times, want once", count)
	}

	// Settle waits for the records in flight: while one is held, it does
	// not return; once released, the receipt is there without polling.
	release := make(chan struct{})
	hold.Store(&release)
	second, err := ber.Send(ctx, node.Draft{
		To: []string{"CRI"}, Kind: "clarification_request",
		Severity: hotline.SeverityCritical, Marking: hotline.TLPAmber,
		Body: []byte(clarificationBody),
	})
	if err != nil {
		t.Fatal(err)
	}
	poll.Must(t, "the second delivery to CRI", func() (bool, error) {
		row, err := ber.Store().OutboxEntry(ctx, second, "CRI")
		return row.State == store.OutboxDelivered, err
	})
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	err = cri.Settle(short)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Settle with a record held: %v, want the deadline", err)
	}
	hold.Store(nil)
	close(release)
	if err := cri.Settle(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := cri.Store().Receipt(ctx, second, "CRI"); err != nil {
		t.Errorf("CRI's receipt after Settle: %v", err)
	}
}
