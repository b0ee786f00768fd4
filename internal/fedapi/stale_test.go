package fedapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/internal/fedapi"
	"github.com/hotline-net/hotline/internal/gossip"
)

// staleReceiver is a heartbeat receiver that measures clocks from stale
// requests: ReceiveStale records what it is given and answers err.
type staleReceiver struct {
	refusing
	err   error
	mu    sync.Mutex
	calls []string
}

func (s *staleReceiver) ReceiveStale(_ context.Context, peer string, note []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, peer+" "+string(note))
	return s.err
}

// TestStaleHeartbeatRequest (issue 19): a heartbeat request whose only
// fault is its time reaches ReceiveStale, which measures the sender's
// clock; its refusal (stale_heartbeat, carrying the receiver's heartbeat as
// the statement) is the answer, or stale_request when ReceiveStale lets it
// go. A stale request that does not authenticate, or to any other
// endpoint, is refused as before and reaches nothing.
func TestStaleHeartbeatRequest(t *testing.T) {
	if fedapi.MaxSkew != gossip.HeartbeatWindow {
		t.Fatalf("the request window %v and the heartbeat window %v differ", fedapi.MaxSkew, gossip.HeartbeatWindow)
	}
	p := newPeerAPI(t)
	ber := p.keys["BER"].Message
	stale := time.Now().Add(6 * time.Minute)
	refusal := &gossip.StaleError{Err: hotline.Errorf(gossip.ErrHeartbeatStale, "6 min ahead"), Answer: []byte("CRI's heartbeat\n")}
	for _, tt := range []struct {
		name   string
		err    error // what ReceiveStale answers
		path   string
		as     *hotline.SigningKey
		tamper bool // the body is not the one signed
		status int
		code   string
		calls  int
	}{
		{name: "measured and refused", err: refusal, path: "/v1/heartbeats", as: ber, status: 422, code: "stale_heartbeat", calls: 1},
		{name: "the heartbeat within time", path: "/v1/heartbeats", as: ber, status: 401, code: "stale_request", calls: 1},
		{name: "signed by another key", err: refusal, path: "/v1/heartbeats", as: p.keys["DOR"].Message, status: 401, code: "stale_request"},
		{name: "a body not the one signed", err: refusal, path: "/v1/heartbeats", as: ber, tamper: true, status: 401, code: "stale_request"},
		{name: "another endpoint", err: refusal, path: "/v1/relay/handed", as: ber, status: 401, code: "stale_request"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rx := &staleReceiver{err: tt.err}
			h := fedapi.Handler(fedapi.Config{Node: p.tn.Servers["CRI"].Node(), Heartbeats: rx, Relay: refusing{}})
			body := []byte("BER's heartbeat\n")
			req := httptest.NewRequest(http.MethodPost, tt.path, bytes.NewReader(body))
			if err := fedapi.SignRequest(req, body, "CRI", tt.as, stale); err != nil {
				t.Fatal(err)
			}
			if tt.as != ber {
				req.Header.Set(fedapi.HeaderFrom, "BER") // DOR's signature in BER's name
			}
			if tt.tamper {
				req = httptest.NewRequest(http.MethodPost, tt.path, bytes.NewReader([]byte("BER's heartbeaT\n")))
				if err := fedapi.SignRequest(req, body, "CRI", ber, stale); err != nil {
					t.Fatal(err)
				}
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			var ref fedapi.Refusal
			if err := json.Unmarshal(rec.Body.Bytes(), &ref); err != nil {
				t.Fatalf("refusal %q: %v", rec.Body, err)
			}
			if rec.Code != tt.status || ref.Code != tt.code {
				t.Errorf("answer %d %+v, want %d %s", rec.Code, ref, tt.status, tt.code)
			}
			if len(rx.calls) != tt.calls || (tt.calls > 0 && rx.calls[0] != "BER "+string(body)) {
				t.Errorf("ReceiveStale got %q, want %d call(s) with BER's body", rx.calls, tt.calls)
			}
			if wantStmt := tt.code == "stale_heartbeat"; wantStmt != (string(ref.Statement) == string(refusal.Answer)) {
				t.Errorf("the refusal's statement %q", ref.Statement)
			}
		})
	}
}
