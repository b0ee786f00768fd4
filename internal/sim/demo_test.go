package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/agreement"
	"github.com/hotline-net/hotline/internal/evidence"
	"github.com/hotline-net/hotline/internal/opapi"
	"github.com/hotline-net/hotline/internal/server"
	"github.com/hotline-net/hotline/internal/store"
	"github.com/hotline-net/hotline/internal/store/sqlite"
)

// syncBuffer is a bytes.Buffer that can be read while Demo writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestDemo tells the story with the nodes serving afterwards, reads a log
// over HTTP while they serve, stops them, and checks what the folders hold.
func TestDemo(t *testing.T) {
	dir := t.TempDir()
	var out syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- Demo(ctx, &out, DemoConfig{Dir: dir, Serve: true}) }()

	serving := regexp.MustCompile(`public, e.g. (http://\S+/log/checkpoint)`)
	var checkpointURL string
	deadline := time.Now().Add(2 * time.Minute)
	for checkpointURL == "" {
		select {
		case err := <-done:
			t.Fatalf("Demo returned before serving: %v\n%s", err, out.String())
		case <-time.After(20 * time.Millisecond):
		}
		if m := serving.FindStringSubmatch(out.String()); m != nil {
			checkpointURL = m[1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("the story did not end:\n%s", out.String())
		}
	}
	text := out.String()
	t.Log("\n" + text)

	// The story's steps, in order, up to the final log check.
	steps := []string{
		"ARV → CRI  clarification_request · critical · TLP:AMBER · exercise",
		"CRI        receipt after ",
		"the agreement obliges CRI to acknowledge within 12h and respond within 72h",
		"Demande d'éclaircissements",
		"[+35m]",
		"CRI → ARV  ack · critical · TLP:AMBER",
		"ARV        receipt after ",
		"[+5h10m]",
		"CRI → ARV  response · critical · TLP:AMBER",
		"Answer: Information provided",
		"[+50m]",
		"invalid_body: advisory body [stix_marking_too_strict]:",
		"CRI → all,DEP advisory · high · TLP:GREEN",
		"DEP        receipt after ",
		"DOR        receipt after ",
		"ESK        receipt after ",
		"ARV → ESK  mitigation_request · high · TLP:AMBER",
		"ESK        receipt after ",
		"the agreement obliges ESK to acknowledge within 12h and respond within 72h",
		"[+12h30m]",
		"ARV → CRI  closure · critical · TLP:AMBER",
		"ESK's acknowledgement of ",
		"The channel was up: ESK's node receipted it at ",
		"Finding: nobody answered — not \"channel down\".",
		"\nall 5 logs verified against their signed checkpoints\n",
		"Who met what, by Arvenia's records",
		// the demo's clock runs at real pace between its jumps: a few
		// seconds more under load
		"CRI: 2 obligations; to acknowledge median 35m",
		"to respond median 5h45m",
		"clarification_request  acknowledge        1     0       0",
		"ESK: 2 obligations; to acknowledge no answers; to respond no answers",
		"mitigation_request  acknowledge        0     0       1",
		"mitigation_request      respond        0     0       0        0           0         0          0     1",
		"a third state verifies all 12 bundles offline",
		"12 bundles, ",
		"16 envelopes, 16 receipts, ",
		"inclusion proofs: verified",
		"        met  late  missed other",
		"  CRI     2     0       0     0",
		"  ESK     0     0       1     1",
		"  ESK missed: acknowledge of ",
		"ARV-about-ESK.tampered, one byte flipped: refused: bundle_unverified: ",
		"The nodes keep serving until Ctrl-C:",
	}
	rest := text
	for _, s := range steps {
		i := strings.Index(rest, s)
		if i < 0 {
			t.Fatalf("the narration lacks %q after the previous step", s)
		}
		rest = rest[i+len(s):]
	}

	// What the narration says of the advisory's recipients is what
	// Crivena's node stored.
	checkNarratedRecipients(t, text, dir)

	// The nodes serve after the story: Arvenia's log, as anyone reads it.
	resp, err := http.Get(checkpointURL)
	if err != nil {
		t.Fatal(err)
	}
	cp, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.HasPrefix(cp, []byte("hotline/ARV\n")) {
		t.Errorf("GET %s: %s\n%s", checkpointURL, resp.Status, cp)
	}

	// hotline verify log URL: Arvenia's served log still extends every
	// checkpoint of it that its bundles carry.
	agr, err := agreement.Load(filepath.Join(dir, "agreement.json"))
	if err != nil {
		t.Fatal(err)
	}
	var bs []*evidence.Bundle
	for _, q := range []string{"CRI", "DOR", "ESK"} {
		data, err := os.ReadFile(filepath.Join(dir, "evidence", "ARV-about-"+q+".bundle"))
		if err != nil {
			t.Fatal(err)
		}
		b, err := evidence.Parse(data)
		if err != nil {
			t.Fatal(err)
		}
		bs = append(bs, b)
	}
	u := evidence.URLTiles{Base: strings.TrimSuffix(checkpointURL, "/checkpoint"), HC: http.DefaultClient}
	latest, err := u.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	lrep, err := evidence.VerifyLog(ctx, evidence.LogCheck{
		Agreement: agr, Pin: evidence.Pin{Genesis: agr.Versions()[0].Hash()}, Tiles: u.Tile,
		Latest: latest, Witnessed: evidence.CheckpointsOf(bs, agr, "ARV"), At: time.Now(),
	})
	if err != nil {
		t.Fatalf("verifying Arvenia's log over HTTP: %v", err)
	}
	if lrep.Owner != "ARV" || lrep.Checked == 0 {
		t.Errorf("verify log: %+v", lrep)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Demo: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Demo did not stop after its context ended")
	}

	// What the stores hold, read again after the nodes stopped.
	type counts struct{ Sent, Received int64 }
	want := map[string]counts{
		"DEP": {0, 1},
		"ARV": {3, 3}, // the requests to CRI and ESK, the closure; the ack, the response, the advisory
		"CRI": {3, 2}, // the ack, the response, the advisory; the request, the closure
		"DOR": {0, 1},
		"ESK": {0, 2}, // the advisory, the request nobody answers
	}
	got := map[string]counts{}
	for p := range want {
		db, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(dir, p, server.DatabaseFile)})
		if err != nil {
			t.Fatal(err)
		}
		var c counts
		if c.Sent, err = db.CountMessages(context.Background(), store.MessageFilter{Direction: hotline.Sent}); err != nil {
			t.Fatal(err)
		}
		if c.Received, err = db.CountMessages(context.Background(), store.MessageFilter{Direction: hotline.Received}); err != nil {
			t.Fatal(err)
		}
		got[p] = c
		db.Close()
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("messages per node (-want +got):\n%s", diff)
	}
}

func TestDemoRefusesUsedFolder(t *testing.T) {
	dir := t.TempDir()
	if _, err := Testnet(TestnetConfig{Dir: dir, Parties: []string{"AAA", "BBB"}}); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	err := Demo(context.Background(), &out, DemoConfig{Dir: dir})
	if err == nil || !strings.Contains(err.Error(), "already holds a testnet") {
		t.Errorf("Demo in a folder holding a network: %v", err)
	}
}

func TestClock(t *testing.T) {
	start := time.Date(2026, 11, 26, 21, 0, 0, 0, time.UTC)
	c := NewClock(start)
	if d := c.Now().Sub(start); d < 0 || d > time.Minute {
		t.Errorf("a new clock reads %v after its start", d)
	}
	c.Advance(2 * time.Hour)
	before := c.Now()
	if d := before.Sub(start); d < 2*time.Hour || d > 2*time.Hour+time.Minute {
		t.Errorf("after a jump of 2h the clock reads %v after its start", d)
	}
	c.Advance(-time.Hour)
	c.Advance(0)
	if c.Now().Before(before) {
		t.Error("the clock went back")
	}
}

func TestWrap(t *testing.T) {
	for _, tc := range []struct {
		name  string
		line  string
		width int
		want  []string
	}{
		{"short", "Title: a grid operator", 40, []string{"Title: a grid operator"}},
		{"label", "Title: one two three", 12, []string{"Title: one", "  two three"}},
		{"paragraph", "  one two three four", 10, []string{"  one two", "  three", "  four"}},
		{"list item", "  - 13(c) Do not knowingly allow", 16, []string{"  - 13(c) Do not", "    knowingly", "    allow"}},
		{"long word", "ab " + strings.Repeat("x", 12) + " cd", 8, []string{"ab", "  " + strings.Repeat("x", 12), "  cd"}},
		{"runes", "  Énergie éàü ôîç", 13, []string{"  Énergie éàü", "  ôîç"}},
		{"right to left", "\u200f  aaa bbb ccc", 8, []string{"\u200f  aaa", "\u200f  bbb", "\u200f  ccc"}},
		{"isolate", "\u200fT: \u2068aa bb cc\u2069 \u2066x\u2069", 11, []string{
			"\u200fT: \u2068aa bb\u2069", "\u200f  \u2068cc\u2069 \u2066x\u2069",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, wrap(tc.line, tc.width)); diff != "" {
				t.Errorf("wrap(%q, %d) (-want +got):\n%s", tc.line, tc.width, diff)
			}
		})
	}
}

// checkNarratedRecipients checks the recipients the narration names for
// the advisory to the group "all" against the envelope Crivena's node
// stored, read through its operator API: the names it gives the group are
// the group's members as the agreement expands it (less the sender), and
// with those it names besides, they are the envelope's recipients.
func checkNarratedRecipients(t *testing.T, text, dir string) {
	t.Helper()
	line := regexp.MustCompile(`CRI → \S+ +advisory · high · TLP:GREEN · exercise +id ([0-9a-f]{16})\n((?: {21}.*\n)+)`)
	m := line.FindStringSubmatch(text)
	if m == nil {
		t.Fatal("the narration has no advisory from CRI")
	}
	more := strings.Join(strings.Fields(m[2]), " ")
	names := func(re string) []string {
		g := regexp.MustCompile(re).FindStringSubmatch(more)
		if g == nil {
			return nil
		}
		out := strings.FieldsFunc(strings.ReplaceAll(g[1], " and ", ","), func(r rune) bool { return r == ',' || r == ' ' })
		slices.Sort(out)
		return out
	}
	inGroup := names(`^to ([A-Z, and]+): the group "all"`)
	besides := names(`and to ([A-Z, and]+), named by the sender`)
	if inGroup == nil {
		t.Fatalf("the narration does not say who the group reached: %q", more)
	}

	op, err := server.Operator(filepath.Join(dir, "CRI"))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := server.AdminToken(filepath.Join(dir, "CRI"))
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, op.Base+"/api/v1/messages?direction=sent&kind=advisory", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := op.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list opapi.MessageList
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		t.Fatal(err)
	}
	var stored *opapi.Message
	for i := range list.Messages {
		if strings.HasPrefix(list.Messages[i].ID, m[1]) {
			stored = &list.Messages[i]
		}
	}
	if stored == nil {
		t.Fatalf("CRI's node holds no advisory %s", m[1])
	}
	agr, err := agreement.Load(filepath.Join(dir, "agreement.json"))
	if err != nil {
		t.Fatal(err)
	}
	members, err := agr.Latest().Expand("all")
	if err != nil {
		t.Fatal(err)
	}
	members = slices.DeleteFunc(members, func(p string) bool { return p == "CRI" })
	if diff := cmp.Diff(members, inGroup); diff != "" {
		t.Errorf("the narration's members of the group \"all\" (+) are not the agreement's (-):\n%s", diff)
	}
	to := slices.Sorted(slices.Values(stored.To))
	if diff := cmp.Diff(to, slices.Sorted(slices.Values(slices.Concat(inGroup, besides)))); diff != "" {
		t.Errorf("the narration's recipients (+) are not the stored envelope's (-):\n%s", diff)
	}
}
