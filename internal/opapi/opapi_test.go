package opapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hotline-net/hotline/internal/gossip"
	"github.com/hotline-net/hotline/internal/opapi"
	"github.com/hotline-net/hotline/internal/sim"
	"github.com/hotline-net/hotline/internal/store"
	"github.com/hotline-net/hotline/internal/testnode"
)

// closedPeers answers as a store that is closing.
type closedPeers struct{}

func (closedPeers) Peers(ctx context.Context) ([]gossip.PeerStatus, error) {
	return nil, fmt.Errorf("reading peer health: %w", store.ErrClosed)
}

func (closedPeers) Probe(ctx context.Context, timeout time.Duration) {}

const notice = `{"language":"en","title":"Scanning","summary":"Scanning of control networks.","incident":{"start":"2026-11-26T22:00:00Z"}}`

// newOperatorAPI is BER's operator API, in-process, with an officer's and
// an auditor's token, on a testnet whose CRI node does not run (so that
// what BER sends stays pending).
func newOperatorAPI(t *testing.T, maxBody int64) http.Handler {
	tn := testnode.Start(t, testnode.Config{Testnet: sim.TestnetConfig{Parties: []string{"BER", "CRI"}}, Run: []string{"BER"}})
	return opapi.Handler(opapi.Config{
		Node:    tn.Servers["BER"].Node(),
		Tokens:  map[string]opapi.Role{"officer-token": opapi.Officer, "auditor-token": opapi.Auditor},
		MaxBody: maxBody,
		Peers:   closedPeers{},
		Watch:   tn.Servers["BER"].Watcher(),
	})
}

func call(h http.Handler, token, method, path, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func send(to, kind, severity, body string) string {
	return fmt.Sprintf(`{"to":[%q],"kind":%q,"severity":%q,"marking":"AMBER","body":%s}`, to, kind, severity, body)
}

// TestHandlerRefusals: each refusal the operator API gives reaches the
// caller with its code and the status the API's map chooses.
func TestHandlerRefusals(t *testing.T) {
	h := newOperatorAPI(t, 4<<10)
	const zeroID = "0000000000000000000000000000000000000000000000000000000000000000"
	tests := []struct {
		name, token, method, path, body string
		status                          int
		code                            string
	}{
		{"no token", "", "GET", "/api/v1/status", "", 401, "unauthorized"},
		{"unknown token", "guess", "GET", "/api/v1/status", "", 401, "unauthorized"},
		{"auditor sending", "auditor-token", "POST", "/api/v1/messages", send("CRI", "notification", "high", notice), 403, "forbidden"},
		{"not JSON", "officer-token", "POST", "/api/v1/messages", "{", 400, "bad_request"},
		{"unknown field", "officer-token", "POST", "/api/v1/messages", `{"to":["CRI"],"colour":"red"}`, 400, "bad_request"},
		{"bad severity", "officer-token", "POST", "/api/v1/messages", send("CRI", "notification", "urgent", notice), 400, "bad_request"},
		{"body over the limit", "officer-token", "POST", "/api/v1/messages", send("CRI", "notification", "high", `"`+strings.Repeat("a", 8<<10)+`"`), 400, "bad_request"},
		{"unknown kind", "officer-token", "POST", "/api/v1/messages", send("CRI", "gossip", "high", notice), 422, "unknown_kind"},
		{"unknown recipient", "officer-token", "POST", "/api/v1/messages", send("ZZZ", "notification", "high", notice), 422, "unknown_recipient"},
		{"body not in its template", "officer-token", "POST", "/api/v1/messages", send("CRI", "notification", "high", `{"language":"en"}`), 422, "invalid_body"},
		{"bad message id", "auditor-token", "GET", "/api/v1/messages/xyz", "", 400, "bad_request"},
		{"unknown message", "auditor-token", "GET", "/api/v1/messages/" + zeroID, "", 404, "not_found"},
		{"reply to an unknown message", "officer-token", "POST", "/api/v1/messages/" + zeroID + "/reply", `{"kind":"ack","body":{}}`, 404, "not_found"},
		{"cursor the store did not issue", "auditor-token", "GET", "/api/v1/messages?cursor=garbage", "", 400, "bad_request"},
		{"bad direction", "auditor-token", "GET", "/api/v1/messages?direction=up", "", 400, "bad_request"},
		{"bad limit", "auditor-token", "GET", "/api/v1/messages?limit=0", "", 400, "bad_request"},
		{"no such endpoint", "auditor-token", "GET", "/api/v1/nothing", "", 404, "not_found"},
		{"store closing", "auditor-token", "GET", "/api/v1/peers", "", 503, "unavailable"},
		{"escalations without a token", "", "GET", "/api/v1/escalations", "", 401, "unauthorized"},
		{"escalations of an unknown event", "auditor-token", "GET", "/api/v1/escalations?event=panic", "", 400, "bad_request"},
		{"escalations of a bad thread id", "auditor-token", "GET", "/api/v1/escalations?thread=xyz", "", 400, "bad_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := call(h, tt.token, tt.method, tt.path, tt.body)
			var ref opapi.Refusal
			if err := json.Unmarshal(rec.Body.Bytes(), &ref); err != nil {
				t.Fatalf("%d %q: %v", rec.Code, rec.Body, err)
			}
			if rec.Code != tt.status || ref.Code != tt.code || ref.Message == "" {
				t.Errorf("%d %+v, want %d %q", rec.Code, ref, tt.status, tt.code)
			}
		})
	}
}

// TestHandlerSendShow: a message sent through the API is listed, shown
// with its pending delivery, and counted in the status.
func TestHandlerSendShow(t *testing.T) {
	h := newOperatorAPI(t, 0)
	rec := call(h, "officer-token", "POST", "/api/v1/messages", send("CRI", "notification", "high", notice))
	var sent opapi.SentResponse
	if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &sent) != nil || sent.ID == "" {
		t.Fatalf("send: %d %s", rec.Code, rec.Body)
	}
	var m opapi.Message
	if rec := call(h, "auditor-token", "GET", "/api/v1/messages/"+sent.ID, ""); rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &m) != nil {
		t.Fatalf("show: %d %s", rec.Code, rec.Body)
	}
	if m.ID != sent.ID || m.Direction != "sent" || len(m.Deliveries) != 1 || m.Deliveries[0].Recipient != "CRI" || m.Deliveries[0].State != "pending" {
		t.Errorf("shown: %+v", m)
	}
	var list opapi.MessageList
	if rec := call(h, "auditor-token", "GET", "/api/v1/messages?direction=sent", ""); rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &list) != nil {
		t.Fatalf("list: %d %s", rec.Code, rec.Body)
	}
	if len(list.Messages) != 1 || list.Messages[0].ID != sent.ID {
		t.Errorf("listed: %+v", list)
	}
	var st opapi.StatusResponse
	if rec := call(h, "auditor-token", "GET", "/api/v1/status", ""); rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &st) != nil {
		t.Fatalf("status: %d %s", rec.Code, rec.Body)
	}
	if st.Party != "BER" || st.Sent != 1 || st.Received != 0 || st.Undelivered != 1 {
		t.Errorf("status: %+v", st)
	}
	if rec := call(h, "auditor-token", "GET", "/api/v1/equivocations", ""); rec.Code != 200 || !bytes.Contains(rec.Body.Bytes(), []byte(`"equivocations": []`)) {
		t.Errorf("equivocations: %d %s", rec.Code, rec.Body)
	}
}

// TestHandlerEscalations: every reading role lists what the watch acted
// on; with nothing due, the lists are empty, not null.
func TestHandlerEscalations(t *testing.T) {
	h := newOperatorAPI(t, 0)
	for _, tok := range []string{"officer-token", "auditor-token"} {
		rec := call(h, tok, "GET", "/api/v1/escalations?event=propose_consultation", "")
		if rec.Code != http.StatusOK {
			t.Fatalf("%s: %d %s", tok, rec.Code, rec.Body)
		}
		if got := strings.Join(strings.Fields(rec.Body.String()), ""); got != `{"actions":[],"proposals":[]}` {
			t.Errorf("%s: %s", tok, got)
		}
	}
}
