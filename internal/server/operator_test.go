package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/internal/node"
	"github.com/hotline-net/hotline/internal/opapi"
	"github.com/hotline-net/hotline/internal/poll"
	"github.com/hotline-net/hotline/internal/server"
	"github.com/hotline-net/hotline/internal/sim"
	"github.com/hotline-net/hotline/internal/store"
	"github.com/hotline-net/hotline/internal/testnode"
)

// get asks c for url with the bearer token, if any, and returns the status.
func get(t *testing.T, c *http.Client, url, token string) int {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// TestOperatorListener (issue 18 finding 6): the operator API, /metrics and
// pprof are served on the operator listener (a unix socket in the node
// folder, 0600, by default), not on the port peers reach, which serves
// only the peer API, the log, the witness, /healthz and /readyz.
func TestOperatorListener(t *testing.T) {
	tn := testnode.Start(t, testnode.Config{Testnet: sim.TestnetConfig{Parties: []string{"BER", "CRI"}}, Run: []string{"CRI"}})
	s := tn.Servers["CRI"]
	dir := tn.Folder("CRI")
	token, err := server.AdminToken(dir)
	if err != nil {
		t.Fatal(err)
	}
	peer := &http.Client{Timeout: 10 * time.Second}
	for _, tt := range []struct {
		path string
		want int
	}{
		{"/api/v1/status", http.StatusNotFound},
		{"/metrics", http.StatusNotFound},
		{"/debug/pprof/", http.StatusNotFound},
		{"/healthz", http.StatusOK},
		{"/readyz", http.StatusOK},
		{"/log/checkpoint", http.StatusOK}, // the testnet's logs are public
	} {
		if got := get(t, peer, s.URL()+tt.path, token); got != tt.want {
			t.Errorf("peer port %s: %d, want %d", tt.path, got, tt.want)
		}
	}

	op, err := server.Operator(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		path, token string
		want        int
	}{
		{"/api/v1/status", token, http.StatusOK},
		{"/api/v1/status", "", http.StatusUnauthorized},
		{"/metrics", "", http.StatusOK},
		{"/debug/pprof/", token, http.StatusOK},
		{"/debug/pprof/", "", http.StatusUnauthorized},
		{"/readyz", "", http.StatusOK},
	} {
		if got := get(t, op.Client, op.Base+tt.path, tt.token); got != tt.want {
			t.Errorf("operator listener %s (token %v): %d, want %d", tt.path, tt.token != "", got, tt.want)
		}
	}
	st, err := os.Stat(filepath.Join(dir, server.OperatorSocket))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode()&os.ModeSocket == 0 || st.Mode().Perm() != 0o600 {
		t.Errorf("operator socket: mode %v, want a socket of mode 0600", st.Mode())
	}
}

// TestPeersFresh (issue 18 finding 11): the operator's peers list, asked
// with probe=1, exchanges heartbeats first, so it shows the channels as they
// are, not as the last round found them: right after a receipt, the peer
// has the message ("they lack" nothing); and it says how long ago each peer
// was seen on the node's own clock, so a shifted clock is not shown as a
// time.
func TestPeersFresh(t *testing.T) {
	cfg := sim.TestnetConfig{
		Parties: []string{"BER", "CRI"},
		Node: func(_ string, c *server.Config) {
			c.HeartbeatInterval = server.Duration(time.Hour) // one round at start, then none
		},
	}
	tn := newTestNetWith(t, cfg, []string{"BER", "CRI"}, nil)
	ber := tn.Servers["BER"]
	ctx := context.Background()
	id, err := ber.Node().Send(ctx, node.Draft{To: []string{"CRI"}, Kind: "clarification_request",
		Severity: hotline.SeverityHigh, Marking: hotline.TLPAmber, Body: []byte(clarificationBody)})
	if err != nil {
		t.Fatal(err)
	}
	poll.Must(t, "delivery", func() (bool, error) {
		return outboxRow(t, ber, id, "CRI").State == store.OutboxDelivered, nil
	})
	token, err := server.AdminToken(tn.Folder("BER"))
	if err != nil {
		t.Fatal(err)
	}
	op := ber.Operator()
	req, _ := http.NewRequest(http.MethodGet, op.Base+"/api/v1/peers?probe=1", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := op.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list opapi.PeerList
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		t.Fatal(err)
	}
	for _, p := range list.Peers {
		if p.Party != "CRI" {
			continue
		}
		if !p.Up || p.Sent != 1 || p.TheyReceived != 1 {
			t.Errorf("CRI after a receipt: up %v, sent %d, they received %d; want up, 1, 1", p.Up, p.Sent, p.TheyReceived)
		}
		if p.SeenAgoMS == nil || *p.SeenAgoMS < 0 || *p.SeenAgoMS > 60_000 {
			t.Errorf("CRI seen %v ms ago, want a probe's age", p.SeenAgoMS)
		}
		return
	}
	t.Fatal("no status for CRI")
}
