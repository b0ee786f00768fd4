package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/agreement"
	"github.com/hotline-net/hotline/internal/chain"
	"github.com/hotline-net/hotline/internal/cli"
	"github.com/hotline-net/hotline/internal/fedapi"
	"github.com/hotline-net/hotline/internal/server"
	"github.com/hotline-net/hotline/internal/sim"
	"github.com/hotline-net/hotline/internal/testnode"
)

// shiftClock is real time plus an offset the test moves forward: every
// node of a test shares one, so that a key's retirement an hour away comes
// at once.
type shiftClock struct{ off atomic.Int64 }

func (c *shiftClock) Now() time.Time          { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *shiftClock) Advance(d time.Duration) { c.off.Add(int64(d)) }
func (c *shiftClock) Truncated() time.Time    { return c.Now().UTC().Truncate(time.Second) }

// openNodeClock is openNode with the node's clock set.
func openNodeClock(tb testing.TB, dir string, clk *shiftClock) *ownNode {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s, err := server.Open(ctx, dir, server.Options{Bodies: testnode.Templates(tb), Clock: clk})
	if err != nil {
		cancel()
		tb.Fatalf("opening %s: %v", dir, err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := s.Serve(ctx); err != nil {
			tb.Errorf("%s: %v", dir, err)
		}
	})
	n := &ownNode{s: s}
	var once sync.Once
	n.stop = func() { once.Do(func() { cancel(); wg.Wait() }) }
	tb.Cleanup(n.stop)
	return n
}

// runCLI runs a hotline command and returns its output, failing the test
// on a non-zero exit unless wantFail.
func runCLI(tb testing.TB, wantFail bool, args ...string) string {
	tb.Helper()
	var out, errb bytes.Buffer
	code := cli.Run(context.Background(), args, strings.NewReader(""), &out, &errb)
	if (code != 0) != wantFail {
		tb.Fatalf("hotline %s: exit %d\n%s%s", strings.Join(args, " "), code, out.String(), errb.String())
	}
	shown := out.String() + errb.String()
	if lines := strings.SplitAfter(shown, "\n"); len(lines) > 12 {
		shown = strings.Join(lines[:12], "") + "...\n"
	}
	tb.Logf("$ hotline %s\n%s", strings.Join(args, " "), shown)
	return out.String() + errb.String()
}

// chainStatus is `hotline agreement status --dir DIR --json`.
func chainStatus(tb testing.TB, dir string) *chain.Status {
	tb.Helper()
	var st chain.Status
	if err := json.Unmarshal([]byte(runCLI(tb, false, "agreement", "status", "--dir", dir, "--json")), &st); err != nil {
		tb.Fatal(err)
	}
	return &st
}

func sequenceOf(st *chain.Status, party string) uint64 {
	for _, p := range st.Parties {
		if p.Party == party {
			return p.Sequence
		}
	}
	return 0
}

// writeNote writes a signed document to a file for publish.
func writeNote(tb testing.TB, note []byte) string {
	tb.Helper()
	p := filepath.Join(tb.TempDir(), "document.note")
	if err := os.WriteFile(p, note, 0o644); err != nil {
		tb.Fatal(err)
	}
	return p
}

// signNext signs party's entry after prev with its root key.
func signNext(tb testing.TB, nw *sim.Network, prev *agreement.SignedEntry, u agreement.EntryUpdate, signer *hotline.SigningKey) []byte {
	tb.Helper()
	e, err := agreement.NextEntry(prev, u)
	if err != nil {
		tb.Fatal(err)
	}
	note, err := agreement.SignEntry(e, signer)
	if err != nil {
		tb.Fatal(err)
	}
	return note
}

// channel numbers the envelopes a test sends from AAA to one party.
type channel struct {
	seq  uint64
	prev hotline.ID
}

// postEnvelope posts the next envelope of ch from AAA, signed with key and
// created at created, to the node to, the request signed with reqKey; it
// returns the status and the refusal code.
func postEnvelope(tb testing.TB, agr *agreement.Agreement, to *ownNode, toKeys *hotline.KeySet, ch *channel, key, reqKey *hotline.SigningKey, created, now time.Time) (int, string) {
	tb.Helper()
	e, err := hotline.Seal(&hotline.Draft{
		Agreement: agr.Latest().Hash(), From: "AAA", Created: created,
		To:    []hotline.Addressee{{Party: toKeys.Party, Key: toKeys.Encryption.Public(), Seq: ch.seq + 1, Prev: ch.prev}},
		Inner: hotline.Inner{Kind: "notification", Severity: hotline.SeverityCritical, Marking: hotline.TLPRed},
		Body:  []byte(validNotice),
	}, key)
	if err != nil {
		tb.Fatal(err)
	}
	v, err := e.View(toKeys.Party)
	if err != nil {
		tb.Fatal(err)
	}
	body := v.Marshal()
	req, _ := http.NewRequest(http.MethodPost, to.s.URL()+"/v1/envelopes", bytes.NewReader(body))
	if err := fedapi.SignRequest(req, body, toKeys.Party, reqKey, now); err != nil {
		tb.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var ref fedapi.Refusal
	_ = json.Unmarshal(b, &ref)
	if resp.StatusCode == http.StatusOK {
		ch.seq, ch.prev = ch.seq+1, e.ID()
	}
	return resp.StatusCode, ref.Code
}

// TestPublishReachesEveryNode is issue 17's acceptance, on four real
// nodes over HTTP: AAA publishes a new entry (new message key, new
// contact) at its own node; one heartbeat round later BBB and CCC hold it
// and take envelopes signed with the new key, with no restart; the old key
// follows the retirement rule. AAA's compromise revocation, published at
// AAA, reaches BBB in BBB's own round, and BBB refuses the revoked key.
// Entries that do not extend the chain are refused by every node, and a
// fork is kept as proof.
func TestPublishReachesEveryNode(t *testing.T) {
	clk := &shiftClock{}
	start := clk.Truncated().Add(-time.Hour)
	tn := newTestNetWith(t, sim.TestnetConfig{Parties: []string{"AAA", "BBB", "CCC"}, Time: start, Node: func(p string, c *server.Config) {
		// One round at start; the test runs the others itself.
		c.HeartbeatInterval = server.Duration(24 * time.Hour)
	}}, []string{}, nil)
	nw := tn.Network
	dir := func(p string) string { return filepath.Join(nw.Dir, p) }
	ctx := context.Background()
	nodes := map[string]*ownNode{}
	for _, p := range []string{"DEP", "AAA", "BBB", "CCC"} {
		nodes[p] = openNodeClock(t, dir(p), clk)
	}
	for _, n := range nodes {
		waitFirstRound(t, n.s)
	}
	keysAAA := keysOf(t, tn, "AAA")
	k1 := keysAAA.Message
	rootAAA := rootKey(t, nw, "AAA")

	// 1. AAA's entry 2: a new message key from an hour on, and a new
	// contact.
	agr := nodes["AAA"].s.Node().Agreement()
	prev, err := agr.Entry("AAA")
	if err != nil {
		t.Fatal(err)
	}
	k2, err := hotline.GenerateSigningKey("AAA", false)
	if err != nil {
		t.Fatal(err)
	}
	pub := keysAAA.Public()
	pub.Message = k2.VerifierKey()
	t0 := clk.Truncated()
	retire := t0.Add(time.Hour)
	contacts := append(prev.Contacts, agreement.Contact{ID: "night-desk", Role: agreement.Technical, Name: "Night desk",
		Email: "night@aaa.example", Languages: []string{"en"}, Hours: "24/7", TimeZone: "UTC", Reconfirmed: t0})
	entry2 := signNext(t, nw, prev, agreement.EntryUpdate{Keys: pub, Issued: t0, At: retire, Contacts: contacts}, rootAAA)
	out := runCLI(t, false, "agreement", "publish", "--dir", dir("AAA"), writeNote(t, entry2))
	if !strings.Contains(out, "AAA entry 2") || !strings.Contains(out, "in force") {
		t.Fatalf("publish said %q", out)
	}
	if e, _ := nodes["AAA"].s.Node().Agreement().Entry("AAA"); e.Sequence != 2 {
		t.Fatalf("AAA's node holds entry %d after publish", e.Sequence)
	}
	// Publishing it again changes nothing.
	if out := runCLI(t, false, "agreement", "publish", "--dir", dir("AAA"), writeNote(t, entry2)); !strings.Contains(out, "already held") {
		t.Errorf("publishing again said %q", out)
	}

	// One heartbeat round of AAA's brings it to every peer.
	nodes["AAA"].s.Heartbeats().Round(ctx)
	for _, p := range []string{"DEP", "BBB", "CCC"} {
		st := chainStatus(t, dir(p))
		if got := sequenceOf(st, "AAA"); got != 2 {
			t.Errorf("%s: agreement status shows AAA's sequence %d after one round, want 2", p, got)
		}
	}
	// The depositary logged it as it arrived.
	logged, err := chain.LoggedDocuments(ctx, nodes["DEP"].s.Node().Store())
	if err != nil {
		t.Fatal(err)
	}
	d2, _ := agreement.Describe(entry2)
	if _, ok := logged[d2.Hash]; !ok {
		t.Errorf("the depositary did not log entry AAA/2 (%s)", d2.Hash)
	}

	// The retirement comes: BBB and CCC take envelopes signed with the new
	// key, and with the old one what it signed before its end (within the
	// key grace), nothing it signed after.
	clk.Advance(time.Hour + time.Minute)
	now := clk.Now()
	channels := map[string]*channel{"BBB": {}, "CCC": {}}
	for _, p := range []string{"BBB", "CCC"} {
		keys := keysOf(t, tn, p)
		for _, tc := range []struct {
			name       string
			key        *hotline.SigningKey
			created    time.Time
			wantStatus int
			wantCode   string
		}{
			{"new key", k2, now, http.StatusOK, ""},
			{"old key, signed before its end", k1, retire.Add(-time.Minute), http.StatusOK, ""},
			{"old key, signed after its end", k1, now, http.StatusForbidden, "bad_signature"},
		} {
			st, code := postEnvelope(t, agr, nodes[p], keys, channels[p], tc.key, k2, tc.created, now)
			if st != tc.wantStatus || code != tc.wantCode {
				t.Errorf("%s, %s: %d %s; want %d %s", p, tc.name, st, code, tc.wantStatus, tc.wantCode)
			}
		}
	}

	// 2. AAA's node moves to its new key (its own restart; the peers do
	// not restart), then AAA revokes k2 as compromised and publishes the
	// revocation at its node.
	nodes["AAA"].stop()
	replaceMessageKey(t, dir("AAA"), k2)
	nodes["AAA"] = openNodeClock(t, dir("AAA"), clk)
	agr = nodes["AAA"].s.Node().Agreement()
	prev, _ = agr.Entry("AAA")
	k3, _ := hotline.GenerateSigningKey("AAA", false)
	pub.Message = k3.VerifierKey()
	t1 := clk.Truncated()
	entry3 := signNext(t, nw, prev, agreement.EntryUpdate{Keys: pub, Issued: t1, Revoke: []hotline.KeyRole{hotline.RoleMessage}, RevokedAt: t1}, rootAAA)
	runCLI(t, false, "agreement", "publish", "--dir", dir("AAA"), writeNote(t, entry3))
	// This time BBB's own round fetches it.
	nodes["BBB"].s.Heartbeats().Round(ctx)
	if got := sequenceOf(chainStatus(t, dir("BBB")), "AAA"); got != 3 {
		t.Fatalf("BBB holds AAA's entry %d after its round, want 3", got)
	}
	clk.Advance(time.Minute)
	now = clk.Now()
	bbb := keysOf(t, tn, "BBB")
	for _, tc := range []struct {
		name     string
		created  time.Time
		wantCode string
	}{
		{"revoked key, signed after the revocation", now, "bad_signature"},
		{"revoked key, backdated to when it was good", t1.Add(-time.Minute), "key_not_valid"},
	} {
		st, code := postEnvelope(t, agr, nodes["BBB"], bbb, channels["BBB"], k2, k3, tc.created, now)
		if st == http.StatusOK || code != tc.wantCode {
			t.Errorf("BBB, %s: %d %s; want %s", tc.name, st, code, tc.wantCode)
		}
	}
	if st, code := postEnvelope(t, agr, nodes["BBB"], bbb, channels["BBB"], k3, k3, now, now); st != http.StatusOK {
		t.Errorf("BBB refused AAA's envelope under its newest key: %d %s", st, code)
	}
	// Everyone else catches up in its own round.
	for _, p := range []string{"DEP", "CCC"} {
		nodes[p].s.Heartbeats().Round(ctx)
		if got := sequenceOf(chainStatus(t, dir(p)), "AAA"); got != 3 {
			t.Errorf("%s holds AAA's entry %d after its round, want 3", p, got)
		}
	}

	// 3. Entries that do not extend the chain, refused by every node.
	agr = nodes["AAA"].s.Node().Agreement()
	prev, _ = agr.Entry("AAA")
	entries, _ := agr.Entries("AAA")
	t2 := clk.Truncated()
	fork := signNext(t, nw, entries[1], agreement.EntryUpdate{Keys: pub, Issued: t1, Contacts: prev.Contacts[:1]}, rootAAA)
	older := signNext(t, nw, entries[0], agreement.EntryUpdate{Keys: pub, Issued: t0, Contacts: prev.Contacts[:1]}, rootAAA)
	gap := func() []byte {
		e4, err := agreement.NextEntry(prev, agreement.EntryUpdate{Keys: pub, Issued: t2})
		if err != nil {
			t.Fatal(err)
		}
		s4 := &agreement.SignedEntry{Entry: *e4, Hash: hotline.ID{1}}
		e5, err := agreement.NextEntry(s4, agreement.EntryUpdate{Keys: pub, Issued: t2})
		if err != nil {
			t.Fatal(err)
		}
		n, err := agreement.SignEntry(e5, rootAAA)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}()
	backdated := func() []byte {
		e4, err := agreement.NextEntry(prev, agreement.EntryUpdate{Keys: pub, Issued: t2})
		if err != nil {
			t.Fatal(err)
		}
		e4.Issued = t1.Add(-time.Minute)
		n, err := agreement.SignEntry(e4, rootAAA)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}()
	impostor, err := hotline.GenerateSigningKey("AAA/root", false)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, code string
		note       []byte
	}{
		{"a second entry 3 (fork)", "fork", fork},
		{"a second entry 2 (an older sequence)", "fork", older},
		{"entry 4 signed by a key that is not AAA's root", "bad_signature", signNext(t, nw, prev, agreement.EntryUpdate{Keys: pub, Issued: t2}, impostor)},
		{"entry 4 issued before entry 3", "bad_chain", backdated},
		{"entry 5 without entry 4", "bad_chain", gap},
	} {
		for _, p := range []string{"DEP", "AAA", "BBB", "CCC"} {
			before := nodes[p].s.Node().Agreement().Digest()
			out := runCLI(t, true, "agreement", "publish", "--dir", dir(p), writeNote(t, tc.note))
			if !strings.Contains(out, "refused ("+tc.code+")") {
				t.Errorf("%s, %s: publish said %q, want refused (%s)", p, tc.name, out, tc.code)
			}
			if nodes[p].s.Node().Agreement().Digest() != before {
				t.Errorf("%s, %s: the chain changed", p, tc.name)
			}
		}
	}
	// Offered by a peer over the peer API, the fork is refused the same
	// way; every node keeps the proof and shows it.
	b, err := (&fedapi.Client{Key: keysOf(t, tn, "CCC").Message, Now: clk.Now}).Do(ctx, "BBB", nodes["BBB"].s.URL(), http.MethodPost, "/v1/agreement", fork)
	var pe *fedapi.PeerError
	if err == nil || !errors.As(err, &pe) || pe.Code != "fork" || pe.Status != http.StatusConflict {
		t.Errorf("POST /v1/agreement of the fork to BBB: %s %v; want 409 fork", b, err)
	}
	for _, p := range []string{"DEP", "AAA", "BBB", "CCC"} {
		st := chainStatus(t, dir(p))
		if len(st.Forks) != 2 {
			t.Errorf("%s keeps %d fork proofs; want 2 (entries 2 and 3 of AAA)", p, len(st.Forks))
			continue
		}
		for _, pair := range [][2][]byte{{entry3, fork}, {entry2, older}} {
			found := false
			for _, f := range st.Forks {
				docs, err := chain.ParseForkProof([]byte(f.Proof))
				if err != nil {
					t.Fatal(err)
				}
				found = found || f.Party == "AAA" && (bytes.Equal(docs[0], pair[0]) && bytes.Equal(docs[1], pair[1]) || bytes.Equal(docs[0], pair[1]) && bytes.Equal(docs[1], pair[0]))
			}
			if !found {
				t.Errorf("%s: no fork proof holds both entries %s", p, pair[0][:40])
			}
		}
		if len(st.Refused) == 0 {
			t.Errorf("%s: no alarm for the refused documents AAA signed", p)
		}
	}
	// The text status flags stale contacts and lists what is pending.
	out = runCLI(t, false, "agreement", "status", "--dir", dir("CCC"))
	for _, want := range []string{"AAA", "EQUIVOCATION", "ALARM"} {
		if !strings.Contains(out, want) {
			t.Errorf("agreement status does not show %q", want)
		}
	}
}
