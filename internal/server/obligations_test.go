package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/internal/clock"
	"github.com/hotline-net/hotline/internal/node"
	"github.com/hotline-net/hotline/internal/obligations"
	"github.com/hotline-net/hotline/internal/poll"
	"github.com/hotline-net/hotline/internal/server"
	"github.com/hotline-net/hotline/internal/sim"
	"github.com/hotline-net/hotline/internal/store"
)

// TestObligationsScenario: five parties' nodes (and the depositary's,
// which witnesses and relays), real servers over HTTP, witnesses
// cosigning, on one fake clock. BER notifies CRI, DOR, ELM and FRA of an
// incident (high: acknowledge within a day). CRI acknowledges after an
// hour, DOR after 25 hours, ELM never; FRA's node holds an encryption key
// its directory entry does not list, so it refuses the envelope as
// unreadable, and again when BER's node hands it on again. BER's
// compliance report, through the operator API, says exactly that.
func TestObligationsScenario(t *testing.T) {
	t0 := time.Now().UTC().Truncate(time.Second)
	clock := clock.NewFake(t0)
	dir := t.TempDir()
	parties := []string{"BER", "CRI", "DOR", "ELM", "FRA"}
	tn := newTestNetWith(t, sim.TestnetConfig{Parties: parties, Dir: dir, Time: t0.Add(-time.Hour)}, nil, func(party string, o *server.Options) {
		o.Clock = clock
		if party == "FRA" {
			// FRA's node decrypts with a key nobody seals to.
			k, err := hotline.GenerateEncryptionKey(hotline.KeyName("FRA", hotline.RoleEncryption))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "FRA", "keys", "encryption.key"), []byte(k.String()+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	})
	ctx := context.Background()
	ber := tn.Servers["BER"].Node()
	id, err := ber.Send(ctx, node.Draft{
		To: []string{"CRI", "DOR", "ELM", "FRA"}, Kind: "notification",
		Severity: hotline.SeverityHigh, Marking: hotline.TLPAmber,
		Body: []byte(`{"language":"en","title":"Ransomware at a port operator","summary":"Indicators attached.","incident":{"start":"2026-11-26T22:00:00Z"}}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"CRI", "DOR", "ELM"} {
		poll.Must(t, "delivery to "+p, func() (bool, error) {
			row, err := ber.Store().OutboxEntry(ctx, id, p)
			return row.State == store.OutboxDelivered, err
		})
	}
	poll.Must(t, "FRA's first refusal", func() (bool, error) {
		row, err := ber.Store().OutboxEntry(ctx, id, "FRA")
		return row.Attempts >= 1, err
	})

	ack := func(p string) {
		t.Helper()
		aid, err := tn.Servers[p].Node().Reply(ctx, id, "ack", []byte(`{"language":"en","acknowledged_by":"Duty officer"}`))
		if err != nil {
			t.Fatal(err)
		}
		poll.Must(t, p+"'s ack at BER", func() (bool, error) {
			_, err := ber.Store().Envelope(ctx, hotline.Received, aid)
			if errors.Is(err, store.ErrNotFound) {
				return false, nil
			}
			return err == nil, err
		})
	}
	clock.Advance(time.Hour)
	ack("CRI")

	// A day and an hour later: BER's node tries FRA again and is refused
	// again; DOR acknowledges, late.
	clock.Advance(24 * time.Hour)
	poll.Must(t, "FRA's second refusal", func() (bool, error) {
		row, err := ber.Store().OutboxEntry(ctx, id, "FRA")
		return row.Attempts >= 2 && row.LastAttempt.After(row.FirstAttempt), err
	})
	ack("DOR")
	// ELM's silence is provable once a checkpoint of BER's log, cosigned
	// after the due time by a quorum of witnesses other than BER, exists:
	// DOR's ack grew the log, so one follows.
	want := map[string]obligations.Counts{
		"CRI": {MetOnTime: 1},
		"DOR": {MetLate: 1},
		"ELM": {Missed: 1},
		"FRA": {Disputed: 1},
	}
	var (
		rep obligations.ComplianceReport
		got map[string]obligations.Counts
	)
	for deadline := time.Now().Add(20 * time.Second); ; {
		rep = complianceReport(t, tn, "BER")
		got = map[string]obligations.Counts{}
		for _, p := range rep.Parties {
			got[p.Party] = p.Total
		}
		if cmp.Equal(want, got) || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	res, in, err := ber.Obligations(ctx, node.ObligationScope{})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range res.Obligations {
		t.Logf("%s: %s (%s)", o.To, o.State, o.Why)
	}
	// ELM's silence was judged on witnessed time, not on BER's word.
	witnessed := 0
	for _, c := range in.Cosignatures {
		if c.Log == "BER" && c.Witness != "BER" && c.Witness != "ELM" && c.Time.After(t0.Add(24*time.Hour)) {
			witnessed++
		}
	}
	if witnessed == 0 {
		t.Error("no cosignature of BER's log after the due time: ELM's obligation was judged without neutral time")
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("BER's compliance report (-want +got):\n%s", diff)
	}
	for _, p := range rep.Parties {
		if p.Party == "CRI" && (p.Acknowledge.N != 1 || p.Acknowledge.Median != time.Hour) {
			t.Errorf("CRI's time to acknowledge: %+v, want one answer after 1h", p.Acknowledge)
		}
	}

	// The recipients' nodes keep their own side, and only it: CRI met
	// its obligation, and does not judge the others' on evidence it does
	// not hold.
	cri := complianceReport(t, tn, "CRI")
	if len(cri.Parties) != 1 || cri.Parties[0].Party != "CRI" || cri.Parties[0].Total != (obligations.Counts{MetOnTime: 1}) {
		t.Errorf("CRI's own report: %+v", cri.Parties)
	}
}

// complianceReport asks party's node for its compliance report through
// the operator API on its operator listener, as "hotline compliance
// --json" does.
func complianceReport(tb testing.TB, tn *testNet, party string) obligations.ComplianceReport {
	tb.Helper()
	tok, err := server.AdminToken(tn.Folder(party))
	if err != nil {
		tb.Fatal(err)
	}
	op, err := server.Operator(tn.Folder(party))
	if err != nil {
		tb.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, op.Base+"/api/v1/compliance", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := op.Client.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("GET /api/v1/compliance: %s", resp.Status)
	}
	var rep obligations.ComplianceReport
	if err := json.NewDecoder(resp.Body).Decode(&rep); err != nil {
		tb.Fatal(err)
	}
	return rep
}
