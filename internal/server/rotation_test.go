package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/agreement"
	"github.com/hotline-net/hotline/internal/fedapi"
	"github.com/hotline-net/hotline/internal/node"
	"github.com/hotline-net/hotline/internal/poll"
	"github.com/hotline-net/hotline/internal/server"
	"github.com/hotline-net/hotline/internal/sim"
	"github.com/hotline-net/hotline/internal/store"
)

// addEntry adds party's next entry, made by u and signed by its root key,
// to agr and writes the agreement file.
func addEntry(tb testing.TB, nw *sim.Network, agr *agreement.Agreement, party string, u agreement.EntryUpdate) *agreement.Agreement {
	tb.Helper()
	prev, err := agr.Entry(party)
	if err != nil {
		tb.Fatal(err)
	}
	e, err := agreement.NextEntry(prev, u)
	if err != nil {
		tb.Fatal(err)
	}
	note, err := agreement.SignEntry(e, rootKey(tb, nw, party))
	if err != nil {
		tb.Fatal(err)
	}
	if agr, err = agr.With(note); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(nw.Agreement, agr.Marshal(), 0o644); err != nil {
		tb.Fatal(err)
	}
	return agr
}

// replaceMessageKey puts k in place of the message key of the node folder
// dir.
func replaceMessageKey(tb testing.TB, dir string, k *hotline.SigningKey) {
	tb.Helper()
	if err := os.WriteFile(filepath.Join(dir, server.KeysDir, "message.key"), []byte(k.String()+"\n"), 0o600); err != nil {
		tb.Fatal(err)
	}
}

// TestRoutineRotationInFlight is issue 14's finding on retired keys: BER
// sends 200 envelopes to CRI, whose node is down — 100 left with the relay,
// 100 still in BER's outbox — then rotates its message key in the ordinary
// course. Every one is delivered after the rotation: a retired key still
// verifies what it signed before, within the terms' grace.
func TestRoutineRotationInFlight(t *testing.T) {
	start := time.Now().UTC().Truncate(time.Second).Add(-time.Hour)
	tn := newTestNetWith(t, sim.TestnetConfig{Parties: []string{"BER", "CRI"}, Time: start, Node: func(p string, c *server.Config) {
		c.Delivery.RelayAfter = server.Duration(time.Millisecond)
	}}, []string{}, nil)
	nw := tn.Network
	dir := func(p string) string { return filepath.Join(nw.Dir, p) }
	ctx := context.Background()
	dep, err := openNode(t, dir("DEP"))
	if err != nil {
		t.Fatal(err)
	}
	ber, err := openNode(t, dir("BER"))
	if err != nil {
		t.Fatal(err)
	}
	send := func(n *node.Node, count int) []hotline.ID {
		var ids []hotline.ID
		for range count {
			id, err := n.Send(ctx, node.Draft{To: []string{"CRI"}, Kind: "clarification_request",
				Severity: hotline.SeverityMedium, Marking: hotline.TLPGreen, Body: []byte(clarificationBody)})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
		}
		return ids
	}
	ids := send(ber.s.Node(), 100)
	poll.Must(t, "100 envelopes left with the relay", func() (bool, error) {
		for _, id := range ids {
			row, err := ber.s.Node().Store().OutboxEntry(ctx, id, "CRI")
			if err != nil || row.Relayed.IsZero() {
				return false, err
			}
		}
		return true, nil
	})
	dep.stop()
	ids = append(ids, send(ber.s.Node(), 100)...)
	ber.stop()

	// BER's routine rotation: the old message key ends a moment from now,
	// the new one starts then.
	agr, err := agreement.Load(nw.Agreement)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := hotline.LoadKeySet(filepath.Join(dir("BER"), server.KeysDir))
	if err != nil {
		t.Fatal(err)
	}
	k2, err := hotline.GenerateSigningKey("BER", false)
	if err != nil {
		t.Fatal(err)
	}
	pub := keys.Public()
	pub.Message = k2.VerifierKey()
	now := time.Now().UTC().Truncate(time.Second)
	at := now.Add(2 * time.Second)
	agr = addEntry(t, nw, agr, "BER", agreement.EntryUpdate{Keys: pub, Issued: now, At: at})
	replaceMessageKey(t, dir("BER"), k2)
	poll.Must(t, "the rotation", func() (bool, error) { return time.Now().After(at), nil })
	if _, err := agr.MessageKey("BER", time.Now()); err != nil {
		t.Fatal(err)
	}

	// After it, everything comes up: CRI takes the 100 from the relay and
	// the 100 from BER's outbox, all signed with the retired key.
	for _, p := range []string{"DEP", "BER", "CRI"} {
		n, err := openNode(t, dir(p))
		if err != nil {
			t.Fatal(err)
		}
		switch p {
		case "BER":
			ber = n
		}
	}
	poll.Must(t, "all 200 delivered", func() (bool, error) {
		for _, id := range ids {
			row, err := ber.s.Node().Store().OutboxEntry(ctx, id, "CRI")
			if err != nil || row.State != store.OutboxDelivered {
				return false, err
			}
		}
		return true, nil
	})
}

// TestCompromiseRevocation: BER's message key is compromised and BER
// revokes it. What CRI received before stays valid; an envelope signed
// with the revoked key after the revocation is published is refused,
// however it is dated.
func TestCompromiseRevocation(t *testing.T) {
	start := time.Now().UTC().Truncate(time.Second).Add(-time.Hour)
	tn := newTestNetWith(t, sim.TestnetConfig{Parties: []string{"BER", "CRI"}, Time: start}, []string{}, nil)
	nw := tn.Network
	dir := func(p string) string { return filepath.Join(nw.Dir, p) }
	ctx := context.Background()
	var nodes []*ownNode
	for _, p := range []string{"DEP", "BER", "CRI"} {
		n, err := openNode(t, dir(p))
		if err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, n)
	}
	ber := nodes[1]
	before, err := ber.s.Node().Send(ctx, node.Draft{To: []string{"CRI"}, Kind: "clarification_request",
		Severity: hotline.SeverityMedium, Marking: hotline.TLPGreen, Body: []byte(clarificationBody)})
	if err != nil {
		t.Fatal(err)
	}
	poll.Must(t, "delivery before the revocation", func() (bool, error) {
		row, err := ber.s.Node().Store().OutboxEntry(ctx, before, "CRI")
		return row.State == store.OutboxDelivered, err
	})
	for _, n := range nodes {
		n.stop()
	}

	// The stolen key; BER revokes it from half an hour ago.
	keys, err := hotline.LoadKeySet(filepath.Join(dir("BER"), server.KeysDir))
	if err != nil {
		t.Fatal(err)
	}
	stolen := keys.Message
	agr, err := agreement.Load(nw.Agreement)
	if err != nil {
		t.Fatal(err)
	}
	k2, _ := hotline.GenerateSigningKey("BER", false)
	pub := keys.Public()
	pub.Message = k2.VerifierKey()
	now := time.Now().UTC().Truncate(time.Second)
	agr = addEntry(t, nw, agr, "BER", agreement.EntryUpdate{Keys: pub, Issued: now,
		Revoke: []hotline.KeyRole{hotline.RoleMessage}, RevokedAt: now.Add(-30 * time.Minute)})
	replaceMessageKey(t, dir("BER"), k2)
	cri, err := openNode(t, dir("CRI"))
	if err != nil {
		t.Fatal(err)
	}
	// What CRI received before stays in its store, verified.
	if _, err := cri.s.Node().Store().Envelope(ctx, hotline.Received, before); err != nil {
		t.Fatal(err)
	}

	criKeys, err := hotline.LoadKeySet(filepath.Join(dir("CRI"), server.KeysDir))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		created time.Time
		want    string
	}{
		// Dated now, it is checked against BER's new key.
		{time.Now(), "bad_signature"},
		// Backdated to when the key was good: the revocation is known, so
		// nothing signed with it is taken any more.
		{start.Add(time.Minute), "key_not_valid"},
	} {
		created := tc.created
		e, err := hotline.Seal(&hotline.Draft{
			Agreement: agr.Latest().Hash(), From: "BER", Created: created,
			To:    []hotline.Addressee{{Party: "CRI", Key: criKeys.Encryption.Public(), Seq: 1}},
			Inner: hotline.Inner{Kind: "notification", Severity: hotline.SeverityCritical, Marking: hotline.TLPRed},
			Body:  []byte(validNotice),
		}, stolen)
		if err != nil {
			t.Fatal(err)
		}
		v, _ := e.View("CRI")
		body := v.Marshal()
		req, _ := http.NewRequest(http.MethodPost, cri.s.URL()+"/v1/envelopes", bytes.NewReader(body))
		// The request itself is signed with BER's current key: only the
		// envelope's signature is the stolen key's.
		if err := fedapi.SignRequest(req, body, "CRI", k2, time.Now()); err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var ref fedapi.Refusal
		_ = json.Unmarshal(b, &ref)
		if resp.StatusCode == http.StatusOK || ref.Code != tc.want {
			t.Errorf("envelope created %s signed with the revoked key: %d %s, want %s", hotline.FormatTime(created), resp.StatusCode, b, tc.want)
		}
	}
}
