package fedapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/agreement"
	"github.com/hotline-net/hotline/internal/fedapi"
	"github.com/hotline-net/hotline/internal/gossip"
	"github.com/hotline-net/hotline/internal/relay"
	"github.com/hotline-net/hotline/internal/sim"
	"github.com/hotline-net/hotline/internal/store"
	"github.com/hotline-net/hotline/internal/testnode"
)

// refusing answers every heartbeat and relay call with its error, or
// with "{}" when it is nil.
type refusing struct{ err error }

func (r refusing) Receive(ctx context.Context, peer string, note []byte) ([]byte, error) {
	return []byte("{}"), r.err
}
func (r refusing) Put(ctx context.Context, from string, view []byte) ([]byte, error) {
	return []byte("{}"), r.err
}
func (r refusing) List(ctx context.Context, to, cursor string) ([]byte, error) {
	return []byte("{}"), r.err
}
func (r refusing) Handed(ctx context.Context, to string, body []byte) error { return r.err }

// peerAPI is the peer API of CRI's node, called in-process, with the keys
// of the parties whose requests the test makes.
type peerAPI struct {
	t    *testing.T
	tn   *testnode.Net
	agr  *agreement.Agreement
	keys map[string]*hotline.KeySet
}

func newPeerAPI(t *testing.T) *peerAPI {
	tn := testnode.Start(t, testnode.Config{Testnet: sim.TestnetConfig{Parties: []string{"BER", "CRI", "DOR"}}, Run: []string{"CRI"}})
	p := &peerAPI{t: t, tn: tn, agr: tn.Agreement(t), keys: map[string]*hotline.KeySet{}}
	for _, party := range []string{"BER", "CRI", "DOR"} {
		p.keys[party] = tn.Keys(t, party)
	}
	return p
}

// handler is CRI's peer API with heartbeats and relay answering err.
func (p *peerAPI) handler(err error, rl fedapi.RateLimit, maxBody int64) http.Handler {
	return fedapi.Handler(fedapi.Config{Node: p.tn.Servers["CRI"].Node(), Heartbeats: refusing{err}, Relay: refusing{err}, RateLimit: rl, MaxBody: maxBody})
}

// view seals a notification from BER to the parties in to and returns
// the last one's view.
func (p *peerAPI) view(to ...string) []byte {
	p.t.Helper()
	d := &hotline.Draft{
		Agreement: p.agr.Latest().Hash(), From: "BER", Created: time.Now(),
		Inner: hotline.Inner{Kind: "notification", Severity: hotline.SeverityHigh, Marking: hotline.TLPAmber},
		Body:  []byte(`{"language":"en","title":"Scanning","summary":"Scanning of control networks.","incident":{"start":"2026-11-26T22:00:00Z"}}`),
	}
	for _, party := range to {
		d.To = append(d.To, hotline.Addressee{Party: party, Key: p.keys[party].Encryption.Public(), Seq: 1})
	}
	e, err := hotline.Seal(d, p.keys["BER"].Message)
	if err != nil {
		p.t.Fatal(err)
	}
	v, err := e.View(to[len(to)-1])
	if err != nil {
		p.t.Fatal(err)
	}
	return v.Marshal()
}

// do makes a request to h signed by as (unsigned when as is nil) at time
// at, and returns the response.
func (p *peerAPI) do(h http.Handler, method, path string, body []byte, as *hotline.SigningKey, at time.Time) *httptest.ResponseRecorder {
	p.t.Helper()
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	if as != nil {
		if err := fedapi.SignRequest(req, body, "CRI", as, at); err != nil {
			p.t.Fatal(err)
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// TestHandlerRefusals: each kind of refusal the peer API gives reaches
// the peer with its code and the status the API's map chooses; internal
// errors only as "internal error" with a request id.
func TestHandlerRefusals(t *testing.T) {
	p := newPeerAPI(t)
	ber := p.keys["BER"].Message
	now := time.Now()
	stranger, err := hotline.GenerateSigningKey("ZZZ", false)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		err     error // what heartbeats and the relay answer
		maxBody int64
		method  string
		path    string
		body    []byte
		as      *hotline.SigningKey
		at      time.Time
		status  int
		code    string
	}{
		{name: "accepted", method: "POST", path: "/v1/envelopes", body: p.view("CRI"), as: ber, status: 200},
		{name: "unsigned", method: "POST", path: "/v1/envelopes", body: p.view("CRI"), status: 401, code: "unauthenticated"},
		{name: "stale signature", method: "POST", path: "/v1/envelopes", body: p.view("CRI"), as: ber, at: now.Add(-time.Hour), status: 401, code: "stale_request"},
		{name: "signed by no party", method: "POST", path: "/v1/envelopes", body: p.view("CRI"), as: stranger, status: 403, code: "unknown_sender"},
		{name: "body over the limit", maxBody: 100, method: "POST", path: "/v1/envelopes", body: p.view("CRI"), as: ber, status: 413, code: "too_large"},
		{name: "malformed envelope", method: "POST", path: "/v1/envelopes", body: []byte("hotline-envelope/v1\nnonsense\n"), as: ber, status: 400, code: "malformed"},
		{name: "another recipient's view", method: "POST", path: "/v1/envelopes", body: p.view("CRI", "DOR"), as: ber, status: 421, code: "not_a_recipient"},
		{name: "heartbeat replayed", err: hotline.Errorf(gossip.ErrHeartbeatReplay, "counter seen"), method: "POST", path: "/v1/heartbeats", body: []byte("hb"), as: ber, status: 409, code: "heartbeat_replay"},
		{name: "heartbeat from the wrong peer", err: hotline.Errorf(gossip.ErrHeartbeatPeer, "not ours"), method: "POST", path: "/v1/heartbeats", body: []byte("hb"), as: ber, status: 422, code: "wrong_peer"},
		{name: "not a relay", err: hotline.Errorf(relay.ErrNotRelay, "no"), method: "POST", path: "/v1/relay/envelopes", body: []byte("view"), as: ber, status: 403, code: "not_a_relay"},
		{name: "relay cursor the store did not issue", err: fmt.Errorf("listing: %w", store.ErrInvalid), method: "GET", path: "/v1/relay/envelopes?after=x", as: ber, status: 400, code: "invalid_request"},
		{name: "store closing", err: fmt.Errorf("recording: %w", store.ErrClosed), method: "POST", path: "/v1/relay/handed", body: []byte("{}"), as: ber, status: 503, code: "unavailable"},
		{name: "internal error", err: errors.New("the disk is on fire"), method: "POST", path: "/v1/relay/handed", body: []byte("{}"), as: ber, status: 500, code: "internal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			at := tt.at
			if at.IsZero() {
				at = now
			}
			rec := p.do(p.handler(tt.err, fedapi.RateLimit{}, tt.maxBody), tt.method, tt.path, tt.body, tt.as, at)
			if rec.Code != tt.status {
				t.Fatalf("status %d (%s), want %d", rec.Code, rec.Body, tt.status)
			}
			if tt.code == "" {
				return
			}
			var ref fedapi.Refusal
			if err := json.Unmarshal(rec.Body.Bytes(), &ref); err != nil {
				t.Fatalf("refusal %q: %v", rec.Body, err)
			}
			if ref.Code != tt.code || ref.Message == "" {
				t.Errorf("refusal %+v, want code %q", ref, tt.code)
			}
			if internal := tt.status == 500; internal != (ref.Request != "") || internal && ref.Message != "internal error" {
				t.Errorf("internal error answered as %+v", ref)
			}
		})
	}
}

// TestHandlerRateLimit: past its burst a peer is refused with 429 and
// Retry-After; another peer is not.
func TestHandlerRateLimit(t *testing.T) {
	p := newPeerAPI(t)
	h := p.handler(nil, fedapi.RateLimit{PerSecond: 0.01, Burst: 2}, 0)
	for i := range 2 {
		if rec := p.do(h, "POST", "/v1/heartbeats", []byte("hb"), p.keys["BER"].Message, time.Now()); rec.Code != 200 {
			t.Fatalf("request %d within the burst: %d %s", i+1, rec.Code, rec.Body)
		}
	}
	rec := p.do(h, "POST", "/v1/heartbeats", []byte("hb"), p.keys["BER"].Message, time.Now())
	if rec.Code != 429 || rec.Header().Get("Retry-After") == "" {
		t.Errorf("past the burst: %d, Retry-After %q", rec.Code, rec.Header().Get("Retry-After"))
	}
	if rec := p.do(h, "POST", "/v1/heartbeats", []byte("hb"), p.keys["DOR"].Message, time.Now()); rec.Code != 200 {
		t.Errorf("another peer: %d", rec.Code)
	}
}

// TestPullRelayTakesAFullPage (issue 18 finding 2): the puller's client
// takes a relay's page up to relay.MaxPageAnswer (one view of the largest
// envelope); on main it refused answers over 1 MiB, and the pull stopped
// for good. Other answers stay bounded at 1 MiB.
func TestPullRelayTakesAFullPage(t *testing.T) {
	page := bytes.Repeat([]byte("a"), 3<<20)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(page) }))
	defer srv.Close()
	ks, err := hotline.GenerateKeySet("CRI", "")
	if err != nil {
		t.Fatal(err)
	}
	c := &fedapi.Client{Key: ks.Message}
	if got, err := c.PullRelay(context.Background(), "DEP", srv.URL, ""); err != nil || len(got) != len(page) {
		t.Errorf("a 3 MiB page: %d bytes, %v", len(got), err)
	}
	if _, err := c.PostHeartbeat(context.Background(), "DEP", srv.URL, []byte("hb")); err == nil {
		t.Error("a 3 MiB heartbeat answer was taken")
	}
}

// countingReader counts the bytes read from it.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// TestAdmission (issue 18 finding 5): requests that cannot be signed, are
// over their endpoint's cap, or do not fit the budget of bodies in flight
// are refused before their body is read — 401, 413, 503 with Retry-After.
func TestAdmission(t *testing.T) {
	p := newPeerAPI(t)
	h := fedapi.Handler(fedapi.Config{Node: p.tn.Servers["CRI"].Node(), Heartbeats: refusing{}, Relay: refusing{},
		Admission: fedapi.Admission{SmallBudget: 100}})
	for _, tt := range []struct {
		name       string
		path       string
		size       int
		signed     bool
		status     int
		code       string
		retryAfter bool
	}{
		{"unsigned", "/v1/envelopes", 1 << 20, false, 401, "unauthenticated", false},
		{"a heartbeat over its cap", "/v1/heartbeats", 2 << 20, true, 413, "too_large", false},
		{"a handed-on notice over its cap", "/v1/relay/handed", 100 << 10, true, 413, "too_large", false},
		{"over the budget", "/v1/heartbeats", 200, true, 503, "busy", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			body := bytes.Repeat([]byte("a"), tt.size)
			cr := &countingReader{r: bytes.NewReader(body)}
			req := httptest.NewRequest(http.MethodPost, tt.path, cr)
			req.ContentLength = int64(tt.size)
			if tt.signed {
				if err := fedapi.SignRequest(req, body, "CRI", p.keys["BER"].Message, time.Now()); err != nil {
					t.Fatal(err)
				}
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			var ref fedapi.Refusal
			json.Unmarshal(rec.Body.Bytes(), &ref)
			if rec.Code != tt.status || ref.Code != tt.code {
				t.Errorf("%d %s, want %d %s", rec.Code, ref.Code, tt.status, tt.code)
			}
			if cr.n != 0 {
				t.Errorf("%d bytes of the body were read before the refusal", cr.n)
			}
			if got := rec.Header().Get("Retry-After") != ""; got != tt.retryAfter {
				t.Errorf("Retry-After %q", rec.Header().Get("Retry-After"))
			}
		})
	}
}
