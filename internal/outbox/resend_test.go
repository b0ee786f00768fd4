package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hotline-net/hotline/internal/relay"
)

// holdingRelay takes every view and holds it, answering with a relay
// receipt note.
type holdingRelay struct {
	mu    sync.Mutex
	posts []string
}

func (r *holdingRelay) PostRelay(ctx context.Context, via, endpoint string, view []byte) ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.posts = append(r.posts, via+" "+endpoint)
	return json.Marshal(relay.Answer{RelayReceipt: []byte("held by " + via)})
}

// TestResendViaRelay: the escalation's resend leaves a pending message
// with the relay at once, whatever the backoff and RelayAfter; it sends
// nothing for a message the recipient receipted, and says so when the
// agreement names no relay.
func TestResendViaRelay(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	h.tr.setDown("https://a.example", true)
	h.tr.setDown("https://b.example", true)
	rl := &holdingRelay{}
	relays := []string{"CRI", "DEP"} // the recipient itself is never its relay
	d, err := New(Config{
		Store: h.st, Recorder: &storeRecorder{st: h.st, clk: h.clk}, Transport: h.tr, Clock: h.clk,
		Endpoints: func(p string) ([]string, error) {
			if p == "DEP" {
				return []string{"https://dep.example"}, nil
			}
			return []string{"https://a.example", "https://b.example"}, nil
		},
		RelayAfter: 24 * time.Hour, RelayClient: rl, Relays: func() []string { return relays },
	})
	if err != nil {
		t.Fatal(err)
	}
	id := h.queue(t)
	got, err := d.ResendViaRelay(ctx, id, "CRI")
	if err != nil || got != "resent through relay DEP: the relay holds it for CRI" {
		t.Fatalf("ResendViaRelay: %q, %v", got, err)
	}
	if len(rl.posts) != 1 || rl.posts[0] != "DEP https://dep.example" {
		t.Errorf("relay posts: %v", rl.posts)
	}
	if row := h.row(t, id); row.Relayed.IsZero() || len(h.tr.tried()) != 0 {
		t.Errorf("row %+v, direct attempts %v: want relayed, no direct attempt", row, h.tr.tried())
	}

	relays = []string{"CRI"}
	if _, err := d.ResendViaRelay(ctx, id, "CRI"); !errors.Is(err, ErrNoRelay) {
		t.Errorf("no relay: %v, want ErrNoRelay", err)
	}

	// Receipted: nothing is sent again.
	relays = []string{"DEP"}
	if _, err := (&storeRecorder{st: h.st, clk: h.clk}).RecordReceipt(ctx, id, "CRI", []byte("receipt"), "direct"); err != nil {
		t.Fatal(err)
	}
	got, err = d.ResendViaRelay(ctx, id, "CRI")
	if err != nil || !strings.HasPrefix(got, "not resent: CRI receipted") || len(rl.posts) != 1 {
		t.Errorf("receipted: %q, %v, relay posts %v", got, err, rl.posts)
	}
}
