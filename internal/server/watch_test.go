package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/internal/cli"
	"github.com/hotline-net/hotline/internal/clock"
	"github.com/hotline-net/hotline/internal/node"
	"github.com/hotline-net/hotline/internal/obligations"
	"github.com/hotline-net/hotline/internal/opapi"
	"github.com/hotline-net/hotline/internal/poll"
	"github.com/hotline-net/hotline/internal/server"
	"github.com/hotline-net/hotline/internal/sim"
	"github.com/hotline-net/hotline/internal/store"
)

// TestEscalationOverRealNodes: BER notifies CRI and DOR (high: acknowledge
// within a day) on a fake clock; DOR's node is down, so the depositary
// relays the envelope and DOR's clock starts at the relay's receipt plus
// the grace. CRI acknowledges; DOR never does. BER's watch, running every
// 20 ms, raises the warning, then the alert and the resend through the
// relay, then DOR's diplomatic contact, then the consultation_request
// proposal with its command — each once, as GET /api/v1/escalations shows.
func TestEscalationOverRealNodes(t *testing.T) {
	t0 := time.Now().UTC().Truncate(time.Second)
	clk := clock.NewFake(t0)
	tn := newTestNetWith(t, sim.TestnetConfig{Parties: []string{"BER", "CRI", "DOR"}, Time: t0.Add(-time.Hour),
		Node: func(p string, c *server.Config) { c.WatchInterval = server.Duration(20 * time.Millisecond) },
	}, []string{sim.Depositary, "BER", "CRI"}, func(party string, o *server.Options) { o.Clock = clk })
	ctx := context.Background()
	ber := tn.Servers["BER"].Node()
	id, err := ber.Send(ctx, node.Draft{
		To: []string{"CRI", "DOR"}, Kind: "notification", Severity: hotline.SeverityHigh, Marking: hotline.TLPAmber,
		Body: []byte(`{"language":"en","title":"Ransomware at a port operator","summary":"Indicators attached.","incident":{"start":"2026-11-26T22:00:00Z"}}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	poll.Must(t, "delivery to CRI", func() (bool, error) {
		row, err := ber.Store().OutboxEntry(ctx, id, "CRI")
		return row.State == store.OutboxDelivered, err
	})
	// DOR is down: after a minute, the envelope is left with the relay.
	clk.Advance(2 * time.Minute)
	poll.Must(t, "the relay taking DOR's envelope", func() (bool, error) {
		clk.Advance(time.Second) // each attempt's backoff passes
		row, err := ber.Store().OutboxEntry(ctx, id, "DOR")
		return !row.Relayed.IsZero(), err
	})
	row, err := ber.Store().OutboxEntry(ctx, id, "DOR")
	if err != nil {
		t.Fatal(err)
	}
	aid, err := tn.Servers["CRI"].Node().Reply(ctx, id, "ack", []byte(`{"language":"en","acknowledged_by":"Duty officer"}`))
	if err != nil {
		t.Fatal(err)
	}
	poll.Must(t, "CRI's ack at BER", func() (bool, error) {
		_, err := ber.Store().Envelope(ctx, hotline.Received, aid)
		if errors.Is(err, store.ErrNotFound) {
			return false, nil
		}
		return err == nil, err
	})
	poll.Must(t, "CRI's ack counted at BER", func() (bool, error) {
		clk.Advance(time.Second) // the ack's log entry is sequenced
		res, _, err := ber.Obligations(ctx, node.ObligationScope{Thread: id})
		for _, o := range res.Obligations {
			if o.To == "CRI" {
				return o.State == obligations.MetOnTime, err
			}
		}
		return false, err
	})

	// DOR's clock: the relay's receipt, plus the 6h grace; due a day on.
	due := row.Relayed.Add(6*time.Hour + 24*time.Hour)
	expect := func(at time.Time, want ...string) opapi.EscalationList {
		t.Helper()
		clk.Set(at)
		var list opapi.EscalationList
		poll.Must(t, strings.Join(want, ", "), func() (bool, error) {
			list = escalations(t, tn, "BER")
			got := map[string]int{}
			for _, a := range list.Actions {
				got[string(a.Event)+" "+a.To]++
			}
			for _, w := range want {
				if got[w] != 1 {
					return false, nil
				}
			}
			return len(list.Actions) == len(want), nil
		})
		return list
	}
	expect(due.Add(-time.Hour), "warning DOR")
	list := expect(due.Add(time.Hour), "warning DOR", "alert DOR", "resend_via_relay DOR")
	if s := list.Actions[0].Summary; list.Actions[0].Event != "resend_via_relay" && list.Actions[1].Event != "resend_via_relay" {
		t.Errorf("newest actions: %+v", list.Actions[:2])
	} else if !strings.Contains(list.Actions[0].Summary+list.Actions[1].Summary, "resent through relay "+sim.Depositary) {
		t.Errorf("resend: %q", s)
	}
	list = expect(due.Add(13*time.Hour), "warning DOR", "alert DOR", "resend_via_relay DOR", "notify_diplomatic_contact DOR")
	if c := list.Actions[0].Contacts; len(c) == 0 || !strings.Contains(list.Actions[0].Summary, c[0].Email) {
		t.Errorf("contact step: %+v", list.Actions[0])
	}
	list = expect(due.Add(25*time.Hour), "warning DOR", "alert DOR", "resend_via_relay DOR", "notify_diplomatic_contact DOR", "propose_consultation DOR")
	if len(list.Proposals) != 1 || !strings.Contains(list.Proposals[0].Command, "--kind consultation_request") ||
		!strings.Contains(list.Proposals[0].Command, "--ref "+id.String()) {
		t.Errorf("proposals: %+v", list.Proposals)
	}
	// The officer sees the proposal in the inbox of what is owed to us,
	// and the whole escalation in hotline escalations.
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"inbox", "--dir", tn.Folder("BER"), "--sent"}, []string{
			"consultations proposed by the watch (not sent): 1",
			"to send it: hotline send --dir " + tn.Folder("BER") + " --to DOR --kind consultation_request",
		}},
		{[]string{"escalations", "--dir", tn.Folder("BER")}, []string{
			"propose_consultation", "notify_diplomatic_contact notify DOR's diplomatic contact: DOR diplomatic point of contact",
			"resend_via_relay", "resent through relay " + sim.Depositary, "alert", "OVERDUE: DOR has not acknowledged", "warning",
			"consultations proposed: 1",
		}},
	} {
		var out, errOut bytes.Buffer
		if code := cli.Run(ctx, c.args, nil, &out, &errOut); code != 0 {
			t.Fatalf("hotline %v: exit %d: %s", c.args, code, errOut.String())
		}
		for _, w := range c.want {
			if !strings.Contains(out.String(), w) {
				t.Errorf("hotline %v lacks %q:\n%s", c.args, w, out.String())
			}
		}
	}

	// Nothing was sent on the officer's behalf.
	n, err := ber.Store().CountMessages(ctx, store.MessageFilter{Direction: hotline.Sent, Kind: "consultation_request"})
	if err != nil || n != 0 {
		t.Errorf("consultation requests sent: %d (%v), want none", n, err)
	}
	// More passes later: nothing repeats.
	clk.Advance(time.Hour)
	if _, err := tn.Servers["BER"].Watcher().Check(ctx); err != nil {
		t.Fatal(err)
	}
	if l := escalations(t, tn, "BER"); len(l.Actions) != 5 {
		t.Errorf("%d actions after more passes, want 5", len(l.Actions))
	}
}

// escalations asks party's node for what its watch acted on, through the
// operator API.
func escalations(tb testing.TB, tn *testNet, party string) opapi.EscalationList {
	tb.Helper()
	tok, err := server.AdminToken(tn.Folder(party))
	if err != nil {
		tb.Fatal(err)
	}
	op, err := server.Operator(tn.Folder(party))
	if err != nil {
		tb.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, op.Base+"/api/v1/escalations", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := op.Client.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("GET /api/v1/escalations: %s", resp.Status)
	}
	var l opapi.EscalationList
	if err := json.NewDecoder(resp.Body).Decode(&l); err != nil {
		tb.Fatal(err)
	}
	return l
}
