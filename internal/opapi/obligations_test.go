package opapi_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/hotline-net/hotline/internal/obligations"
	"github.com/hotline-net/hotline/internal/opapi"
	"github.com/hotline-net/hotline/internal/sim"
	"github.com/hotline-net/hotline/internal/testnode"
)

// TestHandlerObligations: a request BER sent, not yet received (CRI's node
// does not run), is an obligation of CRI's whose clock has not started; it
// shows in the message, the thread and the obligations owed to BER. The
// compliance report admits officers and auditors only, and refuses a bad
// party or time.
func TestHandlerObligations(t *testing.T) {
	tn := testnode.Start(t, testnode.Config{Testnet: sim.TestnetConfig{Parties: []string{"BER", "CRI"}}, Run: []string{"BER"}})
	h := opapi.Handler(opapi.Config{
		Node:   tn.Servers["BER"].Node(),
		Tokens: map[string]opapi.Role{"officer-token": opapi.Officer, "auditor-token": opapi.Auditor, "approver-token": opapi.Approver},
	})
	rec := call(h, "officer-token", "POST", "/api/v1/messages", send("CRI", "notification", "high", notice))
	var sent opapi.SentResponse
	if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &sent) != nil {
		t.Fatalf("send: %d %s", rec.Code, rec.Body)
	}
	var m opapi.Message
	if rec := call(h, "auditor-token", "GET", "/api/v1/messages/"+sent.ID, ""); rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &m) != nil {
		t.Fatalf("show: %d %s", rec.Code, rec.Body)
	}
	if len(m.Obligations) != 1 || m.Obligations[0].To != "CRI" || m.Obligations[0].Type != "acknowledge" ||
		m.Obligations[0].State != "open" || m.Obligations[0].Start != "" || m.Obligations[0].Deadline != "1d" {
		t.Errorf("the message's obligations: %+v", m.Obligations)
	}
	var th opapi.ThreadResponse
	if rec := call(h, "auditor-token", "GET", "/api/v1/threads/"+sent.ID, ""); rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &th) != nil {
		t.Fatalf("thread: %d %s", rec.Code, rec.Body)
	}
	if th.State != "open" || len(th.Messages) != 1 || len(th.Obligations) != 1 {
		t.Errorf("thread: %+v", th)
	}
	var list opapi.ObligationList
	if rec := call(h, "officer-token", "GET", "/api/v1/obligations?direction=sent&state=due", ""); rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &list) != nil {
		t.Fatalf("obligations: %d %s", rec.Code, rec.Body)
	}
	if len(list.Obligations) != 1 || list.Obligations[0].Message != sent.ID {
		t.Errorf("obligations owed to BER: %+v", list.Obligations)
	}
	if rec := call(h, "officer-token", "GET", "/api/v1/obligations?direction=received", ""); rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &list) != nil || len(list.Obligations) != 0 {
		t.Errorf("obligations owed by BER: %d %s", rec.Code, rec.Body)
	}
	var rep obligations.ComplianceReport
	if rec := call(h, "auditor-token", "GET", "/api/v1/compliance?party=CRI", ""); rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &rep) != nil {
		t.Fatalf("compliance: %d %s", rec.Code, rec.Body)
	}
	if len(rep.Parties) != 1 || rep.Parties[0].Party != "CRI" || rep.Parties[0].Total != (obligations.Counts{Open: 1}) {
		t.Errorf("compliance: %+v", rep.Parties)
	}

	for _, tc := range []struct {
		name, token, path string
		status            int
		code              string
	}{
		{"approver reading the compliance report", "approver-token", "/api/v1/compliance", http.StatusForbidden, "forbidden"},
		{"unknown party", "auditor-token", "/api/v1/compliance?party=ZZZ", http.StatusBadRequest, "bad_request"},
		{"bad time", "auditor-token", "/api/v1/compliance?since=yesterday", http.StatusBadRequest, "bad_request"},
		{"since after until", "auditor-token", "/api/v1/compliance?since=2026-03-02T00:00:00Z&until=2026-03-01T00:00:00Z", http.StatusBadRequest, "bad_request"},
		{"bad state", "auditor-token", "/api/v1/obligations?state=late", http.StatusBadRequest, "bad_request"},
		{"bad direction", "auditor-token", "/api/v1/obligations?direction=up", http.StatusBadRequest, "bad_request"},
		{"bad thread id", "auditor-token", "/api/v1/threads/xyz", http.StatusBadRequest, "bad_request"},
		{"unknown thread", "auditor-token", "/api/v1/threads/0000000000000000000000000000000000000000000000000000000000000000", http.StatusNotFound, "not_found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := call(h, tc.token, "GET", tc.path, "")
			var ref opapi.Refusal
			if rec.Code != tc.status || json.Unmarshal(rec.Body.Bytes(), &ref) != nil || ref.Code != tc.code {
				t.Errorf("%d %s, want %d %s", rec.Code, rec.Body, tc.status, tc.code)
			}
		})
	}
}
