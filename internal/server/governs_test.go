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

// TestVersionInForce is issue 14's rule of which version governs, with
// real nodes: BER ratified versions 1, 2 and 3, CRI 1 and 2, DOR only 1.
// Each message names the highest version its sender and all its
// recipients ratified, as the sender's node computes it; a recipient
// refuses an envelope naming a version it has not ratified.
func TestVersionInForce(t *testing.T) {
	start := time.Now().UTC().Truncate(time.Second).Add(-time.Hour)
	tn := newTestNetWith(t, sim.TestnetConfig{Parties: []string{"BER", "CRI", "DOR"}, Time: start}, []string{}, nil)
	nw := tn.Network
	agr, err := agreement.Load(nw.Agreement)
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct {
		n         int
		ratifiers []string
	}{{2, []string{"BER", "CRI"}}, {3, []string{"BER"}}} {
		d, err := agr.NextDraft()
		if err != nil {
			t.Fatal(err)
		}
		at := start.Add(time.Duration(step.n) * time.Minute)
		d.Issued, d.Effective = at, at
		note, err := agreement.SignTerms(d, rootKey(t, nw, "DEP"))
		if err != nil {
			t.Fatal(err)
		}
		if agr, err = agr.With(note); err != nil {
			t.Fatal(err)
		}
		for _, p := range step.ratifiers {
			r, err := agreement.Ratify(agr.Latest(), p, at, rootKey(t, nw, p))
			if err != nil {
				t.Fatal(err)
			}
			if agr, err = agr.With(r); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := os.WriteFile(nw.Agreement, agr.Marshal(), 0o644); err != nil {
		t.Fatal(err)
	}
	nodes := map[string]*node.Node{}
	urls := map[string]string{}
	for _, p := range []string{"DEP", "BER", "CRI", "DOR"} {
		n, err := openNode(t, filepath.Join(nw.Dir, p))
		if err != nil {
			t.Fatal(err)
		}
		nodes[p], urls[p] = n.s.Node(), n.s.URL()
	}
	ctx := context.Background()
	hash := func(n uint64) hotline.ID {
		v, err := agr.VersionNumber(n)
		if err != nil {
			t.Fatal(err)
		}
		return v.Hash()
	}
	for _, tc := range []struct {
		from  string
		to    []string
		group string
		want  uint64
	}{
		{"BER", []string{"CRI"}, "", 2},
		{"CRI", []string{"BER"}, "", 2},
		{"BER", []string{"DOR"}, "", 1},
		{"BER", []string{"CRI", "DOR"}, "", 1},
		{"BER", nil, "all", 1},
		{"CRI", nil, "all", 1},
	} {
		id, err := nodes[tc.from].Send(ctx, node.Draft{
			To: tc.to, Group: tc.group, Kind: "clarification_request",
			Severity: hotline.SeverityHigh, Marking: hotline.TLPAmber, Body: []byte(clarificationBody),
		})
		if err != nil {
			t.Fatalf("%s to %v%s: %v", tc.from, tc.to, tc.group, err)
		}
		e, err := nodes[tc.from].Store().Envelope(ctx, hotline.Sent, id)
		if err != nil {
			t.Fatal(err)
		}
		if e.AgreementHash != hash(tc.want) {
			t.Errorf("%s to %v%s names %x, want version %d", tc.from, tc.to, tc.group, e.AgreementHash[:4], tc.want)
		}
		for _, r := range e.To {
			poll.Must(t, "delivery to "+r, func() (bool, error) {
				row, err := nodes[tc.from].Store().OutboxEntry(ctx, id, r)
				return row.State == store.OutboxDelivered, err
			})
		}
	}

	// BER's envelope to DOR naming version 3, which DOR has not ratified,
	// is refused; and CRI's naming version 3, which CRI has not ratified.
	berKeys, err := hotline.LoadKeySet(filepath.Join(nw.Dir, "BER", server.KeysDir))
	if err != nil {
		t.Fatal(err)
	}
	criKeys, err := hotline.LoadKeySet(filepath.Join(nw.Dir, "CRI", server.KeysDir))
	if err != nil {
		t.Fatal(err)
	}
	dorKeys, err := hotline.LoadKeySet(filepath.Join(nw.Dir, "DOR", server.KeysDir))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		from string
		keys *hotline.KeySet
		to   string
		tok  *hotline.KeySet
	}{
		{"BER", berKeys, "DOR", dorKeys},
		{"CRI", criKeys, "BER", berKeys},
	} {
		e, err := hotline.Seal(&hotline.Draft{
			Agreement: hash(3), From: tc.from, Created: time.Now(),
			To:    []hotline.Addressee{{Party: tc.to, Key: tc.tok.Encryption.Public(), Seq: 1}},
			Inner: hotline.Inner{Kind: "notification", Severity: hotline.SeverityHigh, Marking: hotline.TLPAmber},
			Body:  []byte(validNotice),
		}, tc.keys.Message)
		if err != nil {
			t.Fatal(err)
		}
		v, err := e.View(tc.to)
		if err != nil {
			t.Fatal(err)
		}
		body := v.Marshal()
		req, _ := http.NewRequest(http.MethodPost, urls[tc.to]+"/v1/envelopes", bytes.NewReader(body))
		if err := fedapi.SignRequest(req, body, tc.to, tc.keys.Message, time.Now()); err != nil {
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
		if resp.StatusCode == http.StatusOK || ref.Code != "not_ratified" {
			t.Errorf("%s answered %s's envelope naming version 3 with %d %s, want not_ratified", tc.to, tc.from, resp.StatusCode, b)
		}
	}
}
