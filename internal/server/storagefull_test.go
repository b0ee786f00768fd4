package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/internal/fedapi"
	"github.com/hotline-net/hotline/internal/node"
	"github.com/hotline-net/hotline/internal/opapi"
	"github.com/hotline-net/hotline/internal/poll"
	"github.com/hotline-net/hotline/internal/server"
	"github.com/hotline-net/hotline/internal/sim"
	"github.com/hotline-net/hotline/internal/store"
	"github.com/hotline-net/hotline/internal/store/sqlstore"
)

// TestStorageFull (issue 19): CRI's store fails every write, as on a full
// disk (the fault-injection hook, in-process). BER's message to CRI is
// refused with 503 storage_full and Retry-After, and BER's outbox keeps
// trying; CRI's operator API refuses a send the same way; CRI still
// serves its reads, its log, /metrics (which say so) and /readyz. Once
// the file is gone, the message is delivered, once, with no operator
// action, and CRI sends again.
func TestStorageFull(t *testing.T) {
	full := filepath.Join(t.TempDir(), "store-full")
	var logs nodeLog
	tn := newTestNetWith(t, sim.TestnetConfig{Parties: []string{"BER", "CRI"}}, nil, func(party string, o *server.Options) {
		if party == "CRI" {
			o.FailWrites = sqlstore.FailWhileExists(full)
			o.Logger = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		}
	})
	ber, cri := tn.Servers["BER"].Node(), tn.Servers["CRI"].Node()
	ctx := context.Background()
	send := func() hotline.ID {
		t.Helper()
		id, err := ber.Send(ctx, node.Draft{To: []string{"CRI"}, Kind: "clarification_request",
			Severity: hotline.SeverityCritical, Marking: hotline.TLPAmber, Body: []byte(clarificationBody)})
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	delivered := func(id hotline.ID) func() (bool, error) {
		return func() (bool, error) {
			row, err := ber.Store().OutboxEntry(ctx, id, "CRI")
			return row.State == store.OutboxDelivered, err
		}
	}
	// One message before the disk fills, so that CRI's log has an entry.
	poll.Must(t, "the first message delivered", delivered(send()))

	if err := os.WriteFile(full, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	poll.Must(t, "CRI's writes failing", func() (bool, error) {
		err := cri.Store().SetValue(ctx, "test.probe", []byte("x"))
		return errors.Is(err, store.ErrStorageFull), nil
	})

	id := send()
	poll.Must(t, "BER's outbox to record CRI's storage_full", func() (bool, error) {
		row, err := ber.Store().OutboxEntry(ctx, id, "CRI")
		return row.Attempts > 0 && strings.Contains(row.LastError, "storage_full"), err
	})

	// The same envelope, posted directly: 503, Retry-After, the code.
	env, err := ber.Store().Envelope(ctx, hotline.Sent, id)
	if err != nil {
		t.Fatal(err)
	}
	e, err := hotline.Parse(env.Raw)
	if err != nil {
		t.Fatal(err)
	}
	view, err := e.View("CRI")
	if err != nil {
		t.Fatal(err)
	}
	body := view.Marshal()
	req, err := http.NewRequest(http.MethodPost, tn.Servers["CRI"].URL()+"/v1/envelopes", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if err := fedapi.SignRequest(req, body, "CRI", ber.Keys().Message, time.Now()); err != nil {
		t.Fatal(err)
	}
	checkStorageFull(t, "POST /v1/envelopes", req, http.DefaultClient)

	// The operator API refuses a send the same way.
	op, err := server.Operator(tn.Folder("CRI"))
	if err != nil {
		t.Fatal(err)
	}
	token, err := server.AdminToken(tn.Folder("CRI"))
	if err != nil {
		t.Fatal(err)
	}
	opSend := func() *http.Request {
		b, _ := json.Marshal(opapi.SendRequest{To: []string{"BER"}, Kind: "clarification_request", Severity: "critical",
			Marking: "AMBER", Body: json.RawMessage(clarificationBody)})
		req, err := http.NewRequest(http.MethodPost, op.Base+"/api/v1/messages", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		return req
	}
	checkStorageFull(t, "POST /api/v1/messages", opSend(), op.Client)

	// Reads are served: the operator's, the log, /metrics, /readyz.
	for _, path := range []string{"/api/v1/status", "/api/v1/messages", "/api/v1/messages?sent=1", "/readyz", "/metrics"} {
		if got := get(t, op.Client, op.Base+path, token); got != http.StatusOK {
			t.Errorf("operator %s while full: %d, want 200", path, got)
		}
	}
	peer := &http.Client{Timeout: 10 * time.Second}
	// The checkpoint served is the witnessed one: wait until the witnesses
	// cosigned the earlier message's entry (the log is still served).
	var cp string
	var lines []string
	var size int
	poll.Must(t, "CRI's witnessed checkpoint holding the earlier message, while full", func() (bool, error) {
		cp = fetch(t, peer, tn.Servers["CRI"].URL()+"/log/checkpoint")
		lines = strings.Split(cp, "\n")
		n, err := strconv.Atoi(lines[1])
		size = n
		return err != nil || n >= 1, nil
	})
	if size < 1 || size > 255 {
		t.Fatalf("CRI's checkpoint while full: size %q: %v\n%s", lines[1], err, cp)
	}
	fetch(t, peer, fmt.Sprintf("%s/log/tile/entries/000.p/%d", tn.Servers["CRI"].URL(), size))
	if got := get(t, peer, tn.Servers["CRI"].URL()+"/readyz", ""); got != http.StatusOK {
		t.Errorf("/readyz while full: %d, want 200", got)
	}
	metrics := fetch(t, op.Client, op.Base+"/metrics")
	if metric(metrics, `hotline_store_storage_full`) != 1 || metric(metrics, `hotline_store_write_failures_total{reason="storage_full"}`) < 3 {
		t.Errorf("CRI's metrics while full:\n%s", linesWithPrefix(metrics, "hotline_store_"))
	}
	if metric(metrics, "hotline_envelopes_accepted_total") != 1 {
		t.Errorf("accepted while full:\n%s", linesWithPrefix(metrics, "hotline_envelopes_"))
	}

	// Room again: the message arrives by itself, once.
	if err := os.Remove(full); err != nil {
		t.Fatal(err)
	}
	poll.Must(t, "the message delivered once CRI can write", delivered(id))
	got, err := cri.Store().Envelope(ctx, hotline.Received, id)
	if err != nil || got.From != "BER" {
		t.Fatalf("CRI's copy: %+v %v", got, err)
	}
	metrics = fetch(t, op.Client, op.Base+"/metrics")
	if metric(metrics, "hotline_envelopes_accepted_total") != 2 || metric(metrics, "hotline_store_storage_full") != 0 {
		t.Errorf("CRI's metrics after recovery:\n%s", linesWithPrefix(metrics, "hotline_"))
	}
	page, err := cri.Store().Messages(ctx, store.MessageQuery{MessageFilter: store.MessageFilter{Direction: hotline.Received, IncludePending: true}, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, m := range page.Envelopes {
		if m.ID == id {
			n++
		}
	}
	if n != 1 {
		t.Errorf("CRI lists the message %d times, want once", n)
	}
	resp, err := op.Client.Do(opSend())
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusAccepted {
		t.Errorf("CRI's send after recovery: %s", resp.Status)
	}
	// A full disk raised no error line at CRI (a fault campaign counts
	// those as alarms): what failed to write logged a warning.
	warned := 0
	for l := range strings.SplitSeq(logs.String(), "\n") {
		if strings.Contains(l, `"level":"ERROR"`) {
			t.Errorf("CRI logged an error: %s", l)
		}
		if strings.Contains(l, `"storage_full":true`) {
			warned++
		}
	}
	t.Logf("CRI logged %d warnings of a full storage", warned)
}

// checkStorageFull sends req with c and checks the answer is 503 with
// Retry-After and the refusal storage_full.
func checkStorageFull(t *testing.T, what string, req *http.Request, c *http.Client) {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var ref fedapi.Refusal
	if err := json.NewDecoder(resp.Body).Decode(&ref); err != nil {
		t.Fatalf("%s: %s, body: %v", what, resp.Status, err)
	}
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "30" || ref.Code != "storage_full" {
		t.Errorf("%s while full: %s, Retry-After %q, %+v; want 503, 30, storage_full", what, resp.Status, resp.Header.Get("Retry-After"), ref)
	}
}

// fetch GETs url with c and returns the body of a 200.
func fetch(t *testing.T, c *http.Client, url string) string {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s %v", url, resp.Status, err)
	}
	return string(b)
}

// metric returns the value of the series named exactly so in a Prometheus
// text page, or -1.
func metric(page, series string) float64 {
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(page)
	if m == nil {
		return -1
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return -1
	}
	return v
}

func linesWithPrefix(page, prefix string) string {
	var b strings.Builder
	for l := range strings.SplitSeq(page, "\n") {
		if strings.HasPrefix(l, prefix) {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}
