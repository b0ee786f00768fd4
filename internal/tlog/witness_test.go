package tlog

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"

	"github.com/hotline-net/hotline/internal/clock"
	"github.com/hotline-net/hotline/internal/poll"
)

// testWitness is a witness served over HTTP under /witness.
type testWitness struct {
	name  string
	vkey  string
	w     *Witness
	store *FileWitnessStore
	url   string // submission prefix
	clock *clock.Fake
}

func newTestWitness(tb testing.TB, name string, logs ...testKey) *testWitness {
	tb.Helper()
	skey, vkey := newTestCosignerKey(tb, name)
	clock := newFakeClock()
	signer, err := NewCosigner(skey, clock)
	if err != nil {
		tb.Fatal(err)
	}
	store, err := NewFileWitnessStore(tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	var wl []WitnessedLog
	for _, k := range logs {
		wl = append(wl, WitnessedLog{Origin: k.signer.Name(), Verifiers: []note.Verifier{k.verifier}})
	}
	w, err := NewWitness(WitnessConfig{Signer: signer, Logs: wl, Store: store})
	if err != nil {
		tb.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/witness/", http.StripPrefix("/witness", w.Handler()))
	srv := newServer(tb, mux)
	return &testWitness{name: name, vkey: vkey, w: w, store: store, url: srv.URL + "/witness", clock: clock}
}

func post(tb testing.TB, url string, body []byte) (int, http.Header, string) {
	tb.Helper()
	resp, err := http.Post(url, "text/plain", bytes.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func TestWitnessAddCheckpoint(t *testing.T) {
	key := newTestKey(t, "example.net/hotline/ber")
	other := newTestKey(t, "example.net/hotline/par")
	impostor := newTestKey(t, "example.net/hotline/ber") // same name, other key
	tw := newTestWitness(t, "example.net/witness/rom", key)
	tree := newMemTree(key).grow("a", 10)
	fork := newMemTree(key).grow("b", 10)
	add := tw.url + "/add-checkpoint"

	// First cosignature, from size 0.
	status, _, body := post(t, add, FormatAddCheckpoint(0, nil, tree.checkpoint(t, 4)))
	if status != http.StatusOK {
		t.Fatalf("first add-checkpoint: %d %s", status, body)
	}
	// The cosignature verifies with transparency-dev/formats/note and
	// carries the witness's clock.
	v, err := fnote.NewVerifierForCosignatureV1(tw.vkey)
	if err != nil {
		t.Fatal(err)
	}
	n, err := note.Open(append(tree.checkpoint(t, 4), body...), note.VerifierList(key.verifier, v))
	if err != nil {
		t.Fatalf("cosigned checkpoint does not verify: %v", err)
	}
	if len(n.Sigs) != 2 {
		t.Fatalf("verified signatures: %d, want 2", len(n.Sigs))
	}
	ts, err := fnote.CoSigV1Timestamp(n.Sigs[1])
	if err != nil || !ts.Equal(tw.clock.Now()) {
		t.Errorf("cosignature time %v (%v), want %v", ts, err, tw.clock.Now())
	}

	p4to10, _ := tree.ConsistencyProof(4, 10)
	bad := append([][]byte{}, p4to10...)
	bad[0] = bytes.Repeat([]byte{1}, 32)
	fork4to10, _ := fork.ConsistencyProof(4, 10)
	tampered := tamperSignature(t, tree.checkpoint(t, 10))
	emptyBad := signCheckpoint(t, key, 0, [HashSize]byte{1})

	for _, tc := range []struct {
		name   string
		body   []byte
		status int
		resp   string
	}{
		{"malformed body", []byte("hello\n\n"), http.StatusBadRequest, ""},
		{"leading zero", FormatAddCheckpoint(0, nil, tree.checkpoint(t, 10))[0:0], http.StatusBadRequest, ""},
		{"unknown origin", FormatAddCheckpoint(0, nil, newMemTree(other).grow("x", 3).checkpoint(t, 3)), http.StatusNotFound, ""},
		{"unknown key", FormatAddCheckpoint(4, p4to10, newMemTree(impostor).grow("a", 10).checkpoint(t, 10)), http.StatusForbidden, ""},
		{"bad signature", FormatAddCheckpoint(4, p4to10, tampered), http.StatusForbidden, ""},
		{"old above size", FormatAddCheckpoint(11, nil, tree.checkpoint(t, 10)), http.StatusBadRequest, ""},
		{"old size not the cosigned one", FormatAddCheckpoint(0, nil, tree.checkpoint(t, 10)), http.StatusConflict, "4\n"},
		{"old size not the cosigned one either", FormatAddCheckpoint(5, nil, tree.checkpoint(t, 10)), http.StatusConflict, "4\n"},
		{"bad consistency proof", FormatAddCheckpoint(4, bad, tree.checkpoint(t, 10)), http.StatusUnprocessableEntity, ""},
		{"rewritten history", FormatAddCheckpoint(4, fork4to10, fork.checkpoint(t, 10)), http.StatusUnprocessableEntity, ""},
		{"same size other root", FormatAddCheckpoint(4, nil, fork.checkpoint(t, 4)), http.StatusUnprocessableEntity, ""},
		{"same size with a proof", FormatAddCheckpoint(4, p4to10[:1], tree.checkpoint(t, 4)), http.StatusUnprocessableEntity, ""},
		{"same size, same root", FormatAddCheckpoint(4, nil, tree.checkpoint(t, 4)), http.StatusOK, ""},
		{"consistent", FormatAddCheckpoint(4, p4to10, tree.checkpoint(t, 10)), http.StatusOK, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if len(tc.body) == 0 {
				tc.body = []byte("old 04\n\n" + string(tree.checkpoint(t, 10)))
			}
			status, h, body := post(t, add, tc.body)
			if status != tc.status {
				t.Fatalf("status %d (%s), want %d", status, body, tc.status)
			}
			if tc.status == http.StatusConflict {
				if ct := h.Get("Content-Type"); ct != "text/x.tlog.size" {
					t.Errorf("409 Content-Type %q", ct)
				}
				if body != tc.resp {
					t.Errorf("409 body %q, want %q", body, tc.resp)
				}
			}
		})
	}

	// The empty tree must have the empty root, checked before anything is
	// stored: a fresh witness answers 422.
	tw2 := newTestWitness(t, "example.net/witness/vie", key)
	if status, _, body := post(t, tw2.url+"/add-checkpoint", FormatAddCheckpoint(0, nil, emptyBad)); status != http.StatusUnprocessableEntity {
		t.Errorf("empty tree with a wrong root: %d %s", status, body)
	}
	if status, _, body := post(t, tw2.url+"/add-checkpoint", FormatAddCheckpoint(0, p4to10[:1], tree.checkpoint(t, 4))); status != http.StatusUnprocessableEntity {
		t.Errorf("proof from size 0: %d %s", status, body)
	}

	// Monitor retrieval: the latest cosigned checkpoint, with the log's
	// signature and the witness's cosignature.
	resp, err := http.Get(tw.url + "/" + originHash(key.signer.Name()) + "/checkpoint")
	if err != nil {
		t.Fatal(err)
	}
	latest, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	cp, n, err := OpenCheckpoint(latest, key.verifier, v)
	if err != nil || cp.Size != 10 || len(n.Sigs) != 2 {
		t.Fatalf("monitor retrieval: size %d, %d signatures, %v", cp.Size, len(n.Sigs), err)
	}
	for _, path := range []string{"/" + originHash("example.net/nope") + "/checkpoint", "/" + originHash(other.signer.Name()) + "/checkpoint"} {
		resp, err := http.Get(tw.url + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", path, resp.StatusCode)
		}
	}

	// A restarted witness (same store) remembers what it cosigned.
	w2, err := NewWitness(WitnessConfig{Signer: tw.w.signer, Store: tw.store,
		Logs: []WitnessedLog{{Origin: key.signer.Name(), Verifiers: []note.Verifier{key.verifier}}}})
	if err != nil {
		t.Fatal(err)
	}
	var we *WitnessError
	if _, err := w2.AddCheckpoint(context.Background(), FormatAddCheckpoint(4, p4to10, tree.checkpoint(t, 10))); !errors.As(err, &we) || we.Status != http.StatusConflict || we.Size != 10 {
		t.Errorf("restarted witness: %v, want 409 with size 10", err)
	}
	// Only POST is served on add-checkpoint.
	resp, err = http.Get(add)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET add-checkpoint: %d", resp.StatusCode)
	}
}

func TestWitnessConcurrentSubmissionsNeverRollBack(t *testing.T) {
	key := newTestKey(t, "example.net/hotline/ber")
	tw := newTestWitness(t, "example.net/witness/rom", key)
	tree := newMemTree(key).grow("a", 64)
	if _, err := tw.w.AddCheckpoint(context.Background(), FormatAddCheckpoint(0, nil, tree.checkpoint(t, 1))); err != nil {
		t.Fatal(err)
	}
	// Many requests from size 1 race; exactly one may win.
	errs := make(chan error, 32)
	for i := 2; i < 34; i++ {
		go func() {
			p, _ := tree.ConsistencyProof(1, uint64(i))
			_, err := tw.w.AddCheckpoint(context.Background(), FormatAddCheckpoint(1, p, tree.checkpoint(t, uint64(i))))
			errs <- err
		}()
	}
	ok := 0
	for range 32 {
		if err := <-errs; err == nil {
			ok++
		}
	}
	if ok != 1 {
		t.Errorf("%d concurrent submissions from the same old size succeeded, want 1", ok)
	}
}

func TestCosigner(t *testing.T) {
	skey, vkey := newTestCosignerKey(t, "example.net/witness/w1")
	clock := newFakeClock()
	s, err := NewCosigner(skey, clock)
	if err != nil {
		t.Fatal(err)
	}
	key := newTestKey(t, "example.net/log")
	cp := newMemTree(key).grow("x", 3).checkpoint(t, 3)
	text, _, _ := splitNote(cp)
	signed, err := note.Sign(&note.Note{Text: string(text)}, s)
	if err != nil {
		t.Fatal(err)
	}
	fv, err := fnote.NewVerifierForCosignatureV1(vkey)
	if err != nil {
		t.Fatal(err)
	}
	n, err := note.Open(signed, note.VerifierList(fv))
	if err != nil {
		t.Fatalf("formats/note does not verify our cosignature: %v", err)
	}
	if ts, _ := fnote.CoSigV1Timestamp(n.Sigs[0]); !ts.Equal(clock.Now()) {
		t.Errorf("timestamp %v, want %v", ts, clock.Now())
	}
	// And ours verifies formats/note's.
	fs, err := fnote.NewSignerForCosignatureV1(skey)
	if err != nil {
		t.Fatal(err)
	}
	signed2, err := note.Sign(&note.Note{Text: string(text)}, fs)
	if err != nil {
		t.Fatal(err)
	}
	ov, err := NewCosignatureVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := note.Open(signed2, note.VerifierList(ov)); err != nil {
		t.Errorf("our verifier refuses formats/note's cosignature: %v", err)
	}

	for _, bad := range []string{
		"",
		"PRIVATE+KEY+name",
		strings.Replace(skey, "+", "+x", 1),
		key.vkey,
	} {
		if _, err := NewCosigner(bad, clock); err == nil {
			t.Errorf("NewCosigner(%q) succeeded", bad)
		}
	}
	// A log key (type 0x01) is not a witness key, and vice versa.
	if _, err := NewCosignatureVerifier(key.vkey); err == nil {
		t.Error("NewCosignatureVerifier accepted a log key")
	}
	if _, err := NewLogVerifier(vkey); err == nil {
		t.Error("NewLogVerifier accepted a witness key")
	}
	// A vkey whose id does not match its key.
	parts := strings.SplitN(vkey, "+", 3)
	if _, err := NewCosignatureVerifier(parts[0] + "+00000000+" + parts[2]); err == nil {
		t.Error("NewCosignatureVerifier accepted a wrong key id")
	}
}

// witnessedLog sets up a log with the given witnesses in its policy.
func policyFor(tb testing.TB, key testKey, quorum string, groups []PolicyGroup, ws ...*testWitness) *Policy {
	tb.Helper()
	p := &Policy{Logs: []PolicyLog{{Key: key.vkey}}, Groups: groups, Quorum: quorum}
	for _, w := range ws {
		p.Witnesses = append(p.Witnesses, PolicyWitness{Name: w.name, Key: w.vkey, URL: w.url})
	}
	if err := p.Validate(); err != nil {
		tb.Fatal(err)
	}
	return p
}

func TestCollectorReachesQuorum(t *testing.T) {
	key := newTestKey(t, "example.net/hotline/ber")
	self := newTestWitness(t, "ber", key) // the log owner's own witness
	a := newTestWitness(t, "a", key)
	b := newTestWitness(t, "b", key)
	c := newTestWitness(t, "c", key)
	c.url = "http://127.0.0.1:1/witness" // down
	pol := policyFor(t, key, "parties", []PolicyGroup{{Name: "parties", Threshold: "2", Members: []string{"ber", "a", "b", "c"}}}, self, a, b, c)
	clock := newFakeClock()
	l := newTestLog(t, key, func(c *Config) { c.Policy, c.Self, c.Clock = pol, "ber", clock })
	appendConcurrently(t, l, "q", 4, 100)

	var wcp Checkpoint
	poll.MustTrue(t, "a witnessed checkpoint of size 100", func() bool {
		var ok bool
		wcp, ok = l.Witnessed()
		return ok && wcp.Size == 100
	})
	// It meets the policy without the owner, and its cosignatures verify
	// with transparency-dev/formats/note.
	if _, names, err := pol.VerifyCheckpoint(wcp.Note, "ber"); err != nil {
		t.Fatalf("witnessed checkpoint: %v (cosigned by %v)", err, names)
	}
	var vs []note.Verifier
	for _, w := range []*testWitness{a, b} {
		v, err := fnote.NewVerifierForCosignatureV1(w.vkey)
		if err != nil {
			t.Fatal(err)
		}
		vs = append(vs, v)
	}
	n, err := note.Open(wcp.Note, note.VerifierList(append(vs, key.verifier)...))
	if err != nil || len(n.Sigs) != 3 {
		t.Fatalf("witnessed checkpoint: %d verified signatures, %v\n%s", len(n.Sigs), err, wcp.Note)
	}
	// The owner's witness was never asked.
	if got, _ := self.store.Latest(context.Background(), key.signer.Name()); got != nil {
		t.Error("the log asked its owner's witness")
	}
	// The served checkpoint carries the cosignatures too.
	srv := serveLog(t, l)
	resp, err := http.Get(srv.URL + "/log/checkpoint")
	if err != nil {
		t.Fatal(err)
	}
	served, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if _, _, err := pol.VerifyCheckpoint(served, "ber"); err != nil {
		t.Errorf("served checkpoint: %v", err)
	}
	// Status reports the down witness.
	st := l.WitnessStatus()
	var down WitnessStatus
	for _, s := range st {
		if s.Name == "c" {
			down = s
		}
	}
	if down.Failures == 0 || down.LastError == "" || !down.LastSuccess.IsZero() || !down.LastAttempt.Equal(clock.Now()) {
		t.Errorf("status of the down witness: %+v", down)
	}
	for _, s := range st {
		if s.Name == "a" && (s.Size != 100 || !s.LastSuccess.Equal(clock.Now()) || s.Cosigned.IsZero()) {
			t.Errorf("status of witness a: %+v", s)
		}
	}
	if l.Floor() != 100 {
		t.Errorf("Floor() = %d, want 100", l.Floor())
	}
}

func TestCollectorOwnerNeverCounts(t *testing.T) {
	key := newTestKey(t, "example.net/hotline/ber")
	self := newTestWitness(t, "ber", key)
	a := newTestWitness(t, "a", key)
	pol := policyFor(t, key, "parties", []PolicyGroup{{Name: "parties", Threshold: "2", Members: []string{"ber", "a"}}}, self, a)
	l := newTestLog(t, key, func(c *Config) { c.Policy, c.Self = pol, "ber" })
	appendConcurrently(t, l, "o", 2, 10)
	poll.MustTrue(t, "witness a to cosign size 10", func() bool {
		st := l.WitnessStatus()
		return len(st) == 1 && st[0].Size == 10
	})
	if cp, ok := l.Witnessed(); ok {
		t.Fatalf("quorum met with the owner's help: size %d", cp.Size)
	}
	// Even with the owner's cosignature added, the checkpoint meets the
	// quorum only if the owner counts, which it must not.
	srv := serveLog(t, l)
	resp, err := http.Get(srv.URL + "/log/checkpoint")
	if err != nil {
		t.Fatal(err)
	}
	served, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	cp, _, err := OpenCheckpoint(served, key.verifier)
	if err != nil {
		t.Fatal(err)
	}
	own, err := self.w.AddCheckpoint(context.Background(), FormatAddCheckpoint(0, nil, cp.Note))
	if err != nil {
		t.Fatal(err)
	}
	both := append(served, own...)
	if _, names, err := pol.VerifyCheckpoint(both); err != nil || len(names) != 2 {
		t.Fatalf("with the owner counted: %v, %v\n%s", names, err, both)
	}
	if _, _, err := pol.VerifyCheckpoint(both, "ber"); !errors.Is(err, ErrNoQuorum) {
		t.Errorf("owner excluded: %v, want ErrNoQuorum", err)
	}
}

func TestCollectorWitnessesDown(t *testing.T) {
	key := newTestKey(t, "example.net/hotline/ber")
	// One witness refuses connections; one accepts and never answers; one
	// answers garbage.
	hang := make(chan struct{})
	defer close(hang)
	hanging := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-hang:
		}
	}))
	garbage := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "— witness AAAA")
	}))
	ws := []*testWitness{
		{name: "refusing", url: "http://127.0.0.1:1/witness"},
		{name: "hanging", url: hanging.URL + "/witness"},
		{name: "garbage", url: garbage.URL + "/witness"},
	}
	for _, w := range ws {
		_, w.vkey = newTestCosignerKey(t, "example.net/"+w.name)
	}
	pol := policyFor(t, key, "all", []PolicyGroup{{Name: "all", Threshold: "all", Members: []string{"refusing", "hanging", "garbage"}}}, ws...)

	done := make(chan error, 1)
	go func() {
		done <- func() error {
			dir := t.TempDir()
			cfg := Config{Dir: dir, Signer: key.signer, Verifier: key.verifier, Policy: pol,
				CheckpointInterval: 100 * time.Millisecond, WitnessTimeout: time.Hour}
			for round := 0; round < 2; round++ { // open, append, publish, close; twice
				l, err := Open(context.Background(), cfg)
				if err != nil {
					return err
				}
				for i := 0; i < 100; i++ {
					if _, err := l.Append(context.Background(), entryFor("d", round*100+i)); err != nil {
						return err
					}
				}
				for {
					cp, err := l.Checkpoint()
					if err == nil && cp.Size == uint64(100*(round+1)) {
						break
					}
					time.Sleep(10 * time.Millisecond)
				}
				if _, ok := l.Witnessed(); ok {
					return errors.New("quorum met with every witness down")
				}
				if err := l.Close(); err != nil {
					return err
				}
			}
			return nil
		}()
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Minute):
		// Not a speed target: a log that waited on its witnesses would wait
		// for the hanging one's hour-long timeout. Five minutes tells the two
		// apart on a loaded machine.
		t.Fatal("with every witness down, open/append/publish/close waited on the witnesses")
	}
}

// rewriteHistory makes a second log with the same key and a different
// history of 20 entries, after a witness cosigned size 10 of the first.
func TestCollectorProvesRewrittenHistory(t *testing.T) {
	key := newTestKey(t, "example.net/hotline/ber")
	w := newTestWitness(t, "w", key)
	pol := policyFor(t, key, "w", nil, w)

	first := newTestLog(t, key, func(c *Config) { c.Policy = pol })
	appendConcurrently(t, first, "honest", 2, 10)
	poll.MustTrue(t, "the witness to cosign size 10", func() bool {
		cp, ok := first.Witnessed()
		return ok && cp.Size == 10
	})
	first.Close()

	// The same key, another folder, another history, grown without
	// witnesses first.
	dir := t.TempDir()
	cfg := Config{Dir: dir, Signer: key.signer, Verifier: key.verifier, CheckpointInterval: 100 * time.Millisecond}
	second, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	appendConcurrently(t, second, "rewritten", 2, 20)
	cp20 := waitForSize(t, second, 20)
	second.Close()

	// The witness refuses it with 422.
	p, err := w.w.AddCheckpoint(context.Background(), FormatAddCheckpoint(10, mustConsistency(t, dir, key, 10, 20), cp20.Note))
	var we *WitnessError
	if !errors.As(err, &we) || we.Status != http.StatusUnprocessableEntity {
		t.Fatalf("witness answered %q, %v; want 422", p, err)
	}

	// The collector turns it into an equivocation proof.
	got := make(chan *Equivocation, 4)
	cfg.Policy = pol
	cfg.OnEquivocation = func(e *Equivocation) { got <- e }
	second, err = Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	var e *Equivocation
	select {
	case e = <-got:
	case <-time.After(20 * time.Second):
		t.Fatalf("no equivocation proof; witness status %+v", second.WitnessStatus())
	}
	if err := e.Verify(key.verifier); err != nil {
		t.Fatalf("equivocation proof does not verify: %v\n%s", err, e.Marshal())
	}
	back, err := ParseEquivocation(e.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	if err := back.Verify(key.verifier); err != nil {
		t.Fatalf("parsed proof: %v", err)
	}
	// Checkpoint A is the witness's view, cosigned by it.
	wv, _ := NewCosignatureVerifier(w.vkey)
	if _, n, err := OpenCheckpoint(e.A, key.verifier, wv); err != nil || len(n.Sigs) != 2 {
		t.Errorf("checkpoint A is not the witness's cosigned view: %v", err)
	}
	if diff := cmp.Diff([]*Equivocation{e}, second.Equivocations()); diff != "" {
		t.Errorf("Equivocations (-want +got):\n%s", diff)
	}
	// Another verifier key does not accept it.
	if err := e.Verify(newTestKey(t, "example.net/hotline/ber").verifier); err == nil {
		t.Error("proof verified with another key")
	}
}

// mustConsistency opens the log in dir read-only long enough to get a
// consistency proof.
func mustConsistency(tb testing.TB, dir string, key testKey, old, new uint64) [][]byte {
	tb.Helper()
	l, err := Open(context.Background(), Config{Dir: dir, Signer: key.signer, Verifier: key.verifier, CheckpointInterval: 100 * time.Millisecond})
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	p, err := l.ConsistencyProof(context.Background(), old, new)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

func TestNeverRewind(t *testing.T) {
	key := newTestKey(t, "example.net/hotline/ber")
	w := newTestWitness(t, "w", key)
	pol := policyFor(t, key, "w", nil, w)
	dir := t.TempDir()
	cosigs := t.TempDir()
	store, err := NewFileCosignatureStore(cosigs)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Dir: dir, Signer: key.signer, Verifier: key.verifier, Policy: pol, Cosignatures: store,
		CheckpointInterval: 100 * time.Millisecond}
	l, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	appendConcurrently(t, l, "r", 2, 5)
	waitForSize(t, l, 5)
	l.Close()
	backup := t.TempDir()
	copyDir(t, dir+"/tessera", backup+"/tessera")

	l, err = Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i := 5; i < 10; i++ {
		if _, err := l.Append(context.Background(), entryFor("r", i)); err != nil {
			t.Fatal(err)
		}
	}
	poll.MustTrue(t, "the witness to cosign size 10", func() bool {
		cp, ok := l.Witnessed()
		return ok && cp.Size == 10
	})
	l.Close()

	// Restored from the backup (size 5): refused.
	copyDir(t, backup+"/tessera", dir+"/tessera")
	if l, err := Open(context.Background(), cfg); !errors.Is(err, ErrRewound) {
		if err == nil {
			l.Close()
		}
		t.Fatalf("Open of a rewound log: %v, want ErrRewound", err)
	}
	// Lost entirely: refused too, and nothing was signed.
	if err := removeAll(dir + "/tessera"); err != nil {
		t.Fatal(err)
	}
	if l, err := Open(context.Background(), cfg); !errors.Is(err, ErrRewound) {
		if err == nil {
			l.Close()
		}
		t.Fatalf("Open of an empty log with a floor: %v, want ErrRewound", err)
	}

	// With the cosignature store lost too, the log opens, but the witness's
	// 409 and its signed view stop appends and raise the floor.
	copyDir(t, backup+"/tessera", dir+"/tessera")
	cfg.Cosignatures = nil
	l, err = Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	poll.MustTrue(t, "appends to stop", func() bool {
		_, err := l.Append(context.Background(), entryFor("late", 0))
		return errors.Is(err, ErrRewound)
	})
	if l.Floor() != 10 {
		t.Errorf("Floor() = %d, want 10", l.Floor())
	}
}

func TestEquivocationFormat(t *testing.T) {
	key := newTestKey(t, "example.net/hotline/ber")
	a := newMemTree(key).grow("a", 300)
	b := newMemTree(key).grow("a", 5).grow("b", 295)
	prf, _ := b.ConsistencyProof(7, 300)
	e := &Equivocation{A: a.checkpoint(t, 7), B: b.checkpoint(t, 300), RootAtA: [32]byte(b.HashAt(7)), Proof: prf}
	if err := e.Verify(key.verifier); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	same := &Equivocation{A: a.checkpoint(t, 8), B: b.checkpoint(t, 8)}
	if bytes.Compare(same.A, same.B) > 0 {
		same.A, same.B = same.B, same.A
	}
	if err := same.Verify(key.verifier); err != nil {
		t.Fatalf("same-size Verify: %v", err)
	}
	for _, x := range []*Equivocation{e, same} {
		back, err := ParseEquivocation(x.Marshal())
		if err != nil {
			t.Fatalf("ParseEquivocation: %v\n%s", err, x.Marshal())
		}
		if diff := cmp.Diff(x, back); diff != "" {
			t.Errorf("round trip (-want +got):\n%s", diff)
		}
	}
	// Refused: consistent checkpoints; a prefix root that is A's; a proof
	// for another tree; the wrong key.
	cons := newMemTree(key).grow("a", 300)
	cprf, _ := cons.ConsistencyProof(7, 300)
	for name, x := range map[string]*Equivocation{
		"consistent":          {A: a.checkpoint(t, 7), B: cons.checkpoint(t, 300), RootAtA: [32]byte(cons.HashAt(7)), Proof: cprf},
		"claims A's root":     {A: a.checkpoint(t, 7), B: b.checkpoint(t, 300), RootAtA: [32]byte(a.HashAt(7)), Proof: prf},
		"proof of another":    {A: a.checkpoint(t, 7), B: b.checkpoint(t, 300), RootAtA: [32]byte(b.HashAt(7)), Proof: cprf},
		"same checkpoint":     {A: a.checkpoint(t, 8), B: a.checkpoint(t, 8)},
		"larger A":            {A: b.checkpoint(t, 300), B: a.checkpoint(t, 7)},
		"unsigned by the log": {A: newMemTree(newTestKey(t, "example.net/hotline/ber")).grow("z", 7).checkpoint(t, 7), B: b.checkpoint(t, 300), RootAtA: [32]byte(b.HashAt(7)), Proof: prf},
	} {
		if err := x.Verify(key.verifier); err == nil {
			t.Errorf("%s: Verify succeeded", name)
		}
	}
	text := string(e.Marshal())
	for name, bad := range map[string]string{
		"no tag":        strings.Replace(text, EquivocationTag, "hotline-equivocation/v2", 1),
		"swapped":       string((&Equivocation{A: e.B, B: e.A, RootAtA: e.RootAtA, Proof: e.Proof}).Marshal()),
		"no prefix":     strings.Replace(text, "prefix 7 "+base64.StdEncoding.EncodeToString(e.RootAtA[:])+"\n", "", 1),
		"wrong prefix":  strings.Replace(text, "prefix 7 ", "prefix 8 ", 1),
		"truncated":     text[:len(text)-10],
		"no separation": strings.Replace(text, "\n\nexample", "\nexample", 2),
	} {
		if _, err := ParseEquivocation([]byte(bad)); err == nil {
			t.Errorf("%s: ParseEquivocation succeeded", name)
		}
	}
}

// tamperSignature flips a bit of the first signature of a note, keeping it
// well-formed.
func tamperSignature(tb testing.TB, signed []byte) []byte {
	tb.Helper()
	text, sigs, err := splitNote(signed)
	if err != nil {
		tb.Fatal(err)
	}
	name, b64, _ := strings.Cut(strings.TrimPrefix(sigs[0], "— "), " ")
	sig, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		tb.Fatal(err)
	}
	sig[len(sig)-1] ^= 1
	sigs[0] = "— " + name + " " + base64.StdEncoding.EncodeToString(sig)
	return joinNote(text, sigs)
}

// TestCrossWitnessing runs three parties as the in-process demo does: each
// has a log and a witness, each witness cosigns the other parties' logs,
// and each log's quorum is two witnesses other than its owner.
func TestCrossWitnessing(t *testing.T) {
	names := []string{"ber", "par", "rom"}
	keys := make([]testKey, len(names))
	for i, n := range names {
		keys[i] = newTestKey(t, "example.net/hotline/"+n)
	}
	ws := make([]*testWitness, len(names))
	for i, n := range names {
		var others []testKey
		for j := range names {
			if j != i {
				others = append(others, keys[j])
			}
		}
		ws[i] = newTestWitness(t, n, others...)
	}
	var logs []*Log
	for i, n := range names {
		pol := &Policy{Quorum: "parties", Groups: []PolicyGroup{{Name: "parties", Threshold: "2", Members: names}}}
		for j, k := range keys {
			pol.Logs = append(pol.Logs, PolicyLog{Key: k.vkey})
			pol.Witnesses = append(pol.Witnesses, PolicyWitness{Name: names[j], Key: ws[j].vkey, URL: ws[j].url})
		}
		logs = append(logs, newTestLog(t, keys[i], func(c *Config) { c.Policy, c.Self = pol, n }))
	}
	for i, l := range logs {
		appendConcurrently(t, l, names[i], 4, 50+i)
	}
	for i, l := range logs {
		poll.MustTrue(t, names[i]+" witnessed at its full size", func() bool {
			cp, ok := l.Witnessed()
			return ok && cp.Size == uint64(50+i)
		})
		cp, _ := l.Witnessed()
		_, cosigs, err := l.cfg.Policy.Cosignatures(cp.Note)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cosigs {
			if c.Witness == names[i] {
				t.Errorf("%s's checkpoint carries its own witness's cosignature", names[i])
			}
		}
		if len(cosigs) != 2 {
			t.Errorf("%s: %d cosignatures, want 2", names[i], len(cosigs))
		}
	}
}

// TestRepublish checks that an idle log republishes its checkpoint every
// RepublishInterval and that witnesses cosign it again, with fresh
// timestamps: a cosigned checkpoint after a deadline is what shows that an
// answer was missed.
func TestRepublish(t *testing.T) {
	key := newTestKey(t, "example.net/hotline/ber")
	w := newTestWitness(t, "w", key)
	pol := policyFor(t, key, "w", nil, w)
	l := newTestLog(t, key, func(c *Config) { c.Policy, c.RepublishInterval = pol, time.Second })
	appendConcurrently(t, l, "idle", 1, 3)
	poll.MustTrue(t, "a witnessed checkpoint of size 3", func() bool {
		cp, ok := l.Witnessed()
		return ok && cp.Size == 3
	})
	cpFile := filepath.Join(l.cfg.Dir, "tessera", "checkpoint")
	fi, err := os.Stat(cpFile)
	if err != nil {
		t.Fatal(err)
	}
	w.clock.Advance(time.Hour)
	later := w.clock.Now()
	poll.MustTrue(t, "the checkpoint to be republished and cosigned again", func() bool {
		cp, ok := l.Witnessed()
		if !ok {
			return false
		}
		_, cosigs, err := pol.Cosignatures(cp.Note)
		return err == nil && len(cosigs) == 1 && cosigs[0].Time.Equal(later)
	})
	poll.MustTrue(t, "the checkpoint file to be rewritten", func() bool {
		fi2, err := os.Stat(cpFile)
		return err == nil && fi2.ModTime().After(fi.ModTime())
	})
	if cp, _ := l.Checkpoint(); cp.Size != 3 {
		t.Errorf("republished checkpoint has size %d, want 3", cp.Size)
	}
}
