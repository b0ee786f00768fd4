package watch

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/agreement"
	"github.com/hotline-net/hotline/internal/clock"
	"github.com/hotline-net/hotline/internal/obligations"
	"github.com/hotline-net/hotline/internal/outbox"
	"github.com/hotline-net/hotline/internal/store"
	"github.com/hotline-net/hotline/internal/store/postgres"
	"github.com/hotline-net/hotline/internal/store/sqlite"
)

// The fakes of this file stand in for the node: a source that judges a
// fixed set of messages with the real engine, over the sample terms
// without witnesses. The store is real SQLite.

var (
	v1 = hotline.ID(sha256.Sum256([]byte("version 1")))
	t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
)

func mid(s string) hotline.ID { return hotline.ID(sha256.Sum256([]byte(s))) }

type fakeTerms struct{ kinds map[string]*agreement.Kind }

func (f *fakeTerms) Kind(v hotline.ID, name string) (*agreement.Kind, bool) {
	k, ok := f.kinds[name]
	return k, ok && v == v1
}
func (f *fakeTerms) Quorum(hotline.ID) obligations.Quorum { return nil }
func (f *fakeTerms) Grace(hotline.ID) time.Duration       { return 0 }

type fakeSource struct {
	mu     sync.Mutex
	party  string
	terms  *fakeTerms
	in     obligations.Input
	stored map[hotline.ID]time.Time
	judged map[hotline.ID]int // passes judging each thread (zero: all)
}

func newFakeSource() *fakeSource {
	t := &fakeTerms{kinds: map[string]*agreement.Kind{}}
	for _, k := range agreement.SampleTerms().Kinds {
		t.kinds[k.Name] = &k
	}
	return &fakeSource{party: "ALPHA", terms: t, stored: map[hotline.ID]time.Time{}, judged: map[hotline.ID]int{}}
}

func (f *fakeSource) Party() string { return f.party }

func (f *fakeSource) Judge(_ context.Context, thread hotline.ID, now time.Time) (obligations.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.judged[thread]++
	in := f.in
	if !thread.IsZero() {
		in.Messages = nil
		for _, m := range f.in.Messages {
			if m.ThreadID() == thread {
				in.Messages = append(in.Messages, m)
			}
		}
	}
	return obligations.Evaluate(f.terms, obligations.Config{}, &in, now), nil
}

func (f *fakeSource) Threads(_ context.Context, since time.Time) ([]hotline.ID, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []hotline.ID
	for _, m := range f.in.Messages {
		if !f.stored[m.ID].Before(since) {
			out = append(out, m.ThreadID())
		}
	}
	return out, nil
}

func (f *fakeSource) Contacts(party string) ([]agreement.Contact, error) {
	return agreement.SampleContacts(party, t0), nil
}

// add stores message m at time at, received by its recipient at receipt.
func (f *fakeSource) add(m obligations.Message, at, receipt time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m.Agreement, m.Created = v1, at
	f.in.Messages = append(f.in.Messages, m)
	f.in.Deliveries = append(f.in.Deliveries, obligations.Delivery{Message: m.ID, Recipient: m.To[0], Receipt: receipt})
	f.stored[m.ID] = at
}

type resends struct {
	mu    sync.Mutex
	calls []string
}

func (r *resends) resend(_ context.Context, id hotline.ID, to string) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, id.String()+" "+to)
	return "resent through relay DEP: the relay holds it for " + to, nil
}

func kinds(as []Action) []string {
	var out []string
	for _, a := range as {
		out = append(out, string(a.Event)+" "+a.Owed)
	}
	return out
}

// TestWarningAlertEscalation follows one unanswered notification this
// node sent, and one it owes, on a fake clock: the warning, the alert and
// resend, the diplomatic contact, the consultation proposal — each acted on
// once, across restarts of the watcher on the same store.
func TestWarningAlertEscalation(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testWarningAlertEscalation(t, openSQLite(t)) })
	t.Run("postgres", func(t *testing.T) { testWarningAlertEscalation(t, openPostgres(t)) })
}

func openSQLite(t *testing.T) store.Store {
	db, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(t.TempDir(), "hotline.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// openPostgres opens a store in a fresh schema of the PostgreSQL that
// HOTLINE_TEST_POSTGRES names, dropped when the test ends; without it the
// test is skipped, except in CI.
func openPostgres(t *testing.T) store.Store {
	url := os.Getenv("HOTLINE_TEST_POSTGRES")
	if url == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("HOTLINE_TEST_POSTGRES is empty and CI=true: the PostgreSQL tests must run in CI")
		}
		t.Skip("HOTLINE_TEST_POSTGRES is empty: skipping the PostgreSQL tests")
	}
	var b [6]byte
	rand.Read(b[:])
	schema := "watchtest_" + hex.EncodeToString(b[:])
	ctx := context.Background()
	t.Cleanup(func() {
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			t.Errorf("dropping schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("dropping schema %s: %v", schema, err)
		}
	})
	db, err := postgres.Open(ctx, postgres.Config{URL: url, Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func testWarningAlertEscalation(t *testing.T, db store.Store) {
	ctx := context.Background()
	src := newFakeSource()
	clk := clock.NewFake(t0)
	var rs resends
	reg := prometheus.NewRegistry()
	start := func(reg prometheus.Registerer) *Watcher {
		w, err := New(Config{Source: src, Values: db, Resend: rs.resend, Dir: "/srv/alpha node", Clock: clk, Registerer: reg})
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	w := start(reg)
	check := func(w *Watcher, want ...string) []Action {
		t.Helper()
		got, err := w.Check(ctx)
		if err != nil {
			t.Fatal(err)
		}
		g, wnt := kinds(got), slices.Clone(want)
		slices.Sort(g)
		slices.Sort(wnt)
		if !slices.Equal(g, wnt) {
			t.Fatalf("at %v: acted on %v, want %v", clk.Now().Sub(t0), g, wnt)
		}
		return got
	}
	check(w) // nothing stored yet: the watch begins at t0

	// ALPHA notifies BRAVO (high: acknowledge within a day), received a
	// minute later; BRAVO notifies ALPHA the same way in another thread.
	src.add(obligations.Message{ID: mid("n1"), From: "ALPHA", To: []string{"BRAVO"}, Kind: "notification", Severity: hotline.SeverityHigh},
		t0, t0.Add(time.Minute))
	src.add(obligations.Message{ID: mid("n2"), From: "BRAVO", To: []string{"ALPHA"}, Kind: "notification", Severity: hotline.SeverityHigh},
		t0, t0.Add(time.Minute))
	const day = 24 * time.Hour
	due := t0.Add(time.Minute + day)

	clk.Set(due.Add(-time.Hour)) // within the warning period (a quarter deadline)
	check(w, "warning to_us", "warning by_us")
	check(w)
	if n := src.judged[mid("n1")]; n != 2 {
		t.Errorf("the new thread was judged in %d passes, want 2 (scoped passes)", n)
	}

	w = start(nil) // a restart: nothing repeats
	check(w)

	clk.Set(due.Add(time.Hour))
	got := check(w, "alert to_us", "resend_via_relay to_us", "alert by_us")
	if len(rs.calls) != 1 || rs.calls[0] != mid("n1").String()+" BRAVO" {
		t.Errorf("resends: %v, want n1 to BRAVO once", rs.calls)
	}
	i := slices.IndexFunc(got, func(a Action) bool { return a.Event == obligations.Alert && a.Owed == "to_us" })
	if !strings.Contains(got[i].Summary, "OVERDUE: BRAVO has not acknowledged") {
		t.Errorf("alert summary: %q", got[i].Summary)
	}
	check(w)

	clk.Set(due.Add(day / 2))
	got = check(w, "notify_diplomatic_contact to_us")
	if len(got[0].Contacts) != 1 || got[0].Contacts[0].Role != agreement.Diplomatic || !strings.Contains(got[0].Summary, "diplomatic@bravo.example") {
		t.Errorf("contact step: %+v", got[0])
	}

	w = start(nil)
	clk.Set(due.Add(day))
	got = check(w, "propose_consultation to_us")
	cmd := got[0].Command
	for _, want := range []string{"hotline send --dir '/srv/alpha node' --to BRAVO --kind consultation_request", "--thread " + mid("n1").String(), "--ref " + mid("n1").String()} {
		if !strings.Contains(cmd, want) {
			t.Errorf("command %q lacks %q", cmd, want)
		}
	}
	check(w)
	if len(rs.calls) != 1 {
		t.Errorf("resends: %v, want one", rs.calls)
	}

	// Escalated through: the threads leave the watch.
	before := src.judged[mid("n1")]
	clk.Set(due.Add(2 * day))
	check(w)
	check(w)
	if n := src.judged[mid("n1")]; n != before+1 {
		t.Errorf("thread judged %d more times after its escalation, want 1 (the pass that let it go)", n-before)
	}

	all, err := w.Actions(ctx, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	// Newest first; the events of one pass in the order they fell due.
	if g := strings.Join(kinds(all[:2]), ", "); g != "propose_consultation to_us, notify_diplomatic_contact to_us" {
		t.Errorf("listing: %s", g)
	}
	if g := kinds(all[2:]); len(g) != 5 || g[4] != "warning to_us" && g[4] != "warning by_us" {
		t.Errorf("listing: %s", g)
	}
	props, _ := w.Actions(ctx, Filter{Event: obligations.ProposeConsultation, Thread: mid("n1")})
	if len(props) != 1 {
		t.Errorf("proposals: %d, want 1", len(props))
	}
	// The first watcher's metrics: the warnings it acted on.
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	counted := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() == "hotline_obligation_events_total" {
			for _, m := range mf.GetMetric() {
				counted[m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
			}
		}
	}
	if counted["warning"] != 2 || len(counted) != 1 {
		t.Errorf("hotline_obligation_events_total of the first watcher: %v, want 2 warnings", counted)
	}
}

// TestHistoryNotActedOn: events that fell due before the watch first ran
// on a store are not acted on.
func TestHistoryNotActedOn(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(t.TempDir(), "hotline.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	src := newFakeSource()
	src.add(obligations.Message{ID: mid("old"), From: "ALPHA", To: []string{"BRAVO"}, Kind: "notification", Severity: hotline.SeverityHigh},
		t0, t0.Add(time.Minute))
	clk := clock.NewFake(t0.Add(30 * 24 * time.Hour))
	w, err := New(Config{Source: src, Values: db, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	got, err := w.Check(ctx)
	if err != nil || len(got) != 0 {
		t.Fatalf("acted on %v (%v), want nothing: it was all due before the watch began", kinds(got), err)
	}
}

// TestNoRelay: the resend step says so when the agreement names no relay.
func TestNoRelay(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(t.TempDir(), "hotline.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	src := newFakeSource()
	clk := clock.NewFake(t0)
	w, err := New(Config{Source: src, Values: db, Clock: clk,
		Resend: func(context.Context, hotline.ID, string) (string, error) { return "", outbox.ErrNoRelay }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Check(ctx); err != nil { // the watch begins
		t.Fatal(err)
	}
	src.add(obligations.Message{ID: mid("n"), From: "ALPHA", To: []string{"BRAVO"}, Kind: "notification", Severity: hotline.SeverityHigh},
		t0, t0.Add(time.Minute))
	clk.Set(t0.Add(25 * time.Hour))
	got, err := w.Check(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[1].Event != obligations.ResendViaRelay || got[1].Error != "" || !strings.Contains(got[1].Summary, "names no relay") {
		t.Fatalf("got %+v", got)
	}
}
