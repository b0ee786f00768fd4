package server_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/internal/node"
	"github.com/hotline-net/hotline/internal/poll"
	"github.com/hotline-net/hotline/internal/server"
	"github.com/hotline-net/hotline/internal/sim"
	"github.com/hotline-net/hotline/internal/store"
	"github.com/hotline-net/hotline/internal/testnode"
	"github.com/hotline-net/hotline/internal/tlog"
)

// testNet is a testnet whose nodes run in this process.
type testNet = testnode.Net

// newTestNet makes a testnet of parties in a temporary folder and serves
// every node in-process until the test ends.
func newTestNet(tb testing.TB, parties ...string) *testNet {
	tb.Helper()
	return newTestNetWith(tb, sim.TestnetConfig{Parties: parties}, nil, nil)
}

// newTestNetWith makes the testnet cfg describes (in cfg.Dir, else a
// temporary folder), with delivery and checkpoints quick enough for tests,
// and serves the nodes of the parties in run (all when nil) in-process
// until the test ends.
func newTestNetWith(tb testing.TB, cfg sim.TestnetConfig, run []string, opt func(party string, o *server.Options)) *testNet {
	tb.Helper()
	adjust := cfg.Node
	cfg.Node = func(p string, c *server.Config) {
		c.Delivery.MinBackoff = server.Duration(50 * time.Millisecond)
		c.Delivery.MaxBackoff = server.Duration(500 * time.Millisecond)
		c.CheckpointInterval = server.Duration(100 * time.Millisecond)
		if adjust != nil {
			adjust(p, c)
		}
	}
	return testnode.Start(tb, testnode.Config{Testnet: cfg, Run: run, Options: opt})
}

const clarificationBody = `{"language":"en","title":"Intrusion at a grid operator","summary":"Command servers in your territory.","incident":{"start":"2026-11-26T22:00:00Z"}}`

func TestSendDeliverReceipt(t *testing.T) {
	tn := newTestNet(t, "BER", "CRI", "DOR")
	ber, cri := tn.Servers["BER"].Node(), tn.Servers["CRI"].Node()
	ctx := context.Background()
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
	got, err := cri.Store().Envelope(ctx, hotline.Received, id)
	if err != nil {
		t.Fatal(err)
	}
	if got.Kind != "clarification_request" || got.From != "BER" || string(got.Body) != clarificationBody {
		t.Errorf("CRI stored %+v", got)
	}
	// CRI records its receipt just after answering with it.
	var rc store.Receipt
	poll.Must(t, "CRI's receipt recorded", func() (bool, error) {
		r, err := cri.Store().Receipt(ctx, id, "CRI")
		if errors.Is(err, store.ErrNotFound) {
			return false, nil
		}
		if err == nil {
			rc = r
		}
		return err == nil, err
	})
	row, _ := ber.Store().OutboxEntry(ctx, id, "CRI")
	if row.Receipt == nil || string(row.Receipt.Note) != string(rc.Note) {
		t.Error("BER's recorded receipt is not the one CRI issued")
	}

	// The reply travels back the same way.
	ackID, err := cri.Reply(ctx, id, "ack", []byte(`{"language":"en","acknowledged_by":"Duty officer"}`))
	if err != nil {
		t.Fatal(err)
	}
	poll.Must(t, "the ack at BER", func() (bool, error) {
		_, err := ber.Store().Envelope(ctx, hotline.Received, ackID)
		if errors.Is(err, store.ErrNotFound) {
			return false, nil
		}
		return err == nil, err
	})

	resp, err := http.Get(tn.Servers["CRI"].URL() + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("/readyz: %s", resp.Status)
	}
}

func TestWitnessing(t *testing.T) {
	tn := newTestNet(t, "BER", "CRI")
	st := tn.Servers["BER"].Log().WitnessStatus()
	if len(st) == 0 {
		t.Fatal("BER's log asks no witnesses")
	}
	var cp tlog.Checkpoint
	poll.Must(t, "a quorum of cosignatures on BER's checkpoint", func() (bool, error) {
		var ok bool
		cp, ok = tn.Servers["BER"].Log().Witnessed()
		return ok, nil
	})
	// The quorum is two of DEP's and CRI's: BER never counts for its own log.
	if n := strings.Count(string(cp.Note), "/witness "); n < 2 {
		t.Errorf("the witnessed checkpoint carries %d cosignatures, want 2:\n%s", n, cp.Note)
	}
	if strings.Contains(string(cp.Note), "— BER/witness ") {
		t.Error("BER cosigned its own checkpoint")
	}
}

// TestConcurrentSends: many sends from one node at once, each to the same
// three recipients, all succeed (none runs out of retries because another
// took its sequence numbers), and each recipient's numbers are 1..n,
// every one once.
func TestConcurrentSends(t *testing.T) {
	tn := newTestNetWith(t, sim.TestnetConfig{Parties: []string{"BER", "CRI", "DOR", "ELM"}}, []string{"BER"}, nil)
	ber := tn.Servers["BER"].Node()
	ctx := context.Background()
	const n = 64
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			_, err := ber.Send(ctx, node.Draft{
				To: []string{"CRI", "DOR", "ELM"}, Kind: "clarification_request",
				Severity: hotline.SeverityHigh, Marking: hotline.TLPAmber,
				Body: []byte(clarificationBody),
			})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("a concurrent send failed: %v", err)
		}
	}
	for _, to := range []string{"CRI", "DOR", "ELM"} {
		page, err := ber.Store().Outbox(ctx, store.OutboxQuery{OutboxFilter: store.OutboxFilter{Recipient: to}, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		seen := map[uint64]bool{}
		for _, r := range page.Rows {
			if seen[r.Seq] || r.Seq < 1 || r.Seq > n {
				t.Errorf("to %s: sequence number %d twice or out of 1..%d", to, r.Seq, n)
			}
			seen[r.Seq] = true
		}
		if len(seen) != n {
			t.Errorf("to %s: %d sequence numbers, want %d", to, len(seen), n)
		}
	}
}
