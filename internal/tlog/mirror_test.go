package tlog

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/transparency-dev/tessera/api/layout"
)

// serveEntries serves a log's checkpoint (cp) and entry bundles cut from
// entries, as a tlog-tiles server would, under /log/.
func serveEntries(tb testing.TB, entries [][]byte, cp []byte) *httptest.Server {
	tb.Helper()
	return newServer(tb, http.StripPrefix("/log", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := strings.TrimPrefix(r.URL.Path, "/")
		if p == "checkpoint" {
			w.Write(cp)
			return
		}
		a, err := parseTilePath(p)
		if err != nil || !a.entries {
			http.NotFound(w, r)
			return
		}
		first := a.index * layout.EntryBundleWidth
		n := uint64(a.width)
		if n == 0 {
			n = layout.EntryBundleWidth
		}
		if first+n > uint64(len(entries)) {
			http.NotFound(w, r)
			return
		}
		w.Write(marshalBundle(entries[first : first+n]))
	})))
}

func remoteAt(tb testing.TB, url string, key testKey) *Remote {
	tb.Helper()
	r, err := NewRemote(RemoteConfig{URL: url, Verifier: key.verifier})
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

func openCP(tb testing.TB, b []byte, key testKey) Checkpoint {
	tb.Helper()
	cp, _, err := OpenCheckpoint(b, key.verifier)
	if err != nil {
		tb.Fatal(err)
	}
	return cp
}

// TestMirrorSync copies a real log as it grows (a partial bundle, then
// past it), serves the copy, and reads it back through a Remote: the same
// checkpoint, the same entries, partial bundles cut from what it holds,
// nothing beyond it, and the outgrown partial bundle gone.
func TestMirrorSync(t *testing.T) {
	ctx := context.Background()
	key := newTestKey(t, "example.net/hotline/mir")
	l := newTestLog(t, key, nil)
	srv := serveLog(t, l)
	r := remoteAt(t, srv.URL+"/log", key)
	dir := t.TempDir()
	m, err := OpenMirror(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	appendN := func(from, n int) {
		for i := from; i < from+n; i++ {
			if _, err := l.Append(ctx, entryFor("m", i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	appendN(0, 300)
	cp := waitForSize(t, l, 300)
	if got, err := m.Sync(ctx, r, cp); err != nil || got != cp.Size {
		t.Fatalf("Sync at %d: %d, %v", cp.Size, got, err)
	}
	key0 := MirrorKey(key.verifier.Name())
	partial := filepath.Join(dir, key0, filepath.FromSlash(layout.EntriesPath(1, uint8(cp.Size-256))))
	if _, err := os.Stat(partial); err != nil {
		t.Fatalf("the partial bundle of the first copy: %v", err)
	}
	appendN(300, 250)
	cp = waitForSize(t, l, 550)
	if got, err := m.Sync(ctx, r, cp); err != nil || got != cp.Size {
		t.Fatalf("Sync at %d: %d, %v", cp.Size, got, err)
	}
	if _, err := os.Stat(partial); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the outgrown partial bundle is still there: %v", err)
	}
	// A smaller checkpoint changes nothing.
	if got, err := m.Sync(ctx, r, openCP(t, m.states[key0].checkpointBytes(), key)); err != nil || got != cp.Size {
		t.Fatalf("Sync again: %d, %v", got, err)
	}

	// Reopened, served, read back.
	m, err = OpenMirror(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/mirror/", http.StripPrefix("/mirror", m.Handler(nil)))
	msrv := newServer(t, mux)
	mr := remoteAt(t, msrv.URL+"/mirror/"+key0, key)
	got, err := mr.Checkpoint(ctx)
	if err != nil || got.Size != cp.Size || got.Hash != cp.Hash {
		t.Fatalf("the mirror's checkpoint: %d %x %v, want %d %x", got.Size, got.Hash, err, cp.Size, cp.Hash)
	}
	entries, err := mr.Entries(ctx, 0, cp.Size)
	if err != nil {
		t.Fatal(err)
	}
	var want [][]byte
	for e, err := range l.EntriesFrom(ctx, 0) {
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, e.Data[:])
	}
	if len(entries) != len(want) {
		t.Fatalf("%d entries from the mirror, the log has %d", len(entries), len(want))
	}
	for i := range want {
		if !bytes.Equal(entries[i], want[i]) {
			t.Fatalf("entry %d differs", i)
		}
	}
	// Narrower reads, as a reader of an older checkpoint makes them.
	if e, err := mr.Entries(ctx, 260, 300); err != nil || len(e) != 40 || !bytes.Equal(e[0], want[260]) {
		t.Errorf("entries 260..300: %d, %v", len(e), err)
	}
	if e, err := mr.Entries(ctx, 512, 520); err != nil || len(e) != 8 || !bytes.Equal(e[7], want[519]) {
		t.Errorf("entries 512..520: %d, %v", len(e), err)
	}
	if st, err := m.load(key0); err != nil || st.Size != cp.Size || st.Origin != key.verifier.Name() {
		t.Errorf("the state reopened: %+v, %v", st, err)
	}
	for _, tc := range []struct{ path string }{
		{"/mirror/" + key0 + "/tile/entries/002"},         // full bundle beyond the copy
		{"/mirror/" + key0 + "/tile/entries/002.p/039"},   // not canonical
		{"/mirror/" + key0 + "/tile/entries/002.p/39"},    // wider than held
		{"/mirror/" + key0 + "/tile/0/000"},               // hash tiles are not kept
		{"/mirror/" + MirrorKey("other") + "/checkpoint"}, // no copy
		{"/mirror/../checkpoint"},
		{"/mirror/ABC/checkpoint"},
	} {
		resp, err := http.Get(msrv.URL + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", tc.path, resp.StatusCode)
		}
	}
}

func (st *mirrorState) checkpointBytes() []byte { return []byte(st.Checkpoint) }

// TestMirrorMismatch: entries that do not build the checkpoint, and a log
// whose entries change under a copy taken before, are refused with
// ErrMirrorMismatch, and the mirror is left as it was.
func TestMirrorMismatch(t *testing.T) {
	ctx := context.Background()
	key := newTestKey(t, "example.net/hotline/lie")
	tree := newMemTree(key).grow("a", 300)
	entries := func(tag string, n, changeAt int) [][]byte {
		var out [][]byte
		for i := range n {
			e := entryFor(tag, i)
			if i == changeAt {
				e = entryFor("changed", i)
			}
			out = append(out, e[:])
		}
		return out
	}
	dir := t.TempDir()
	m, err := OpenMirror(dir, nil)
	if err != nil {
		t.Fatal(err)
	}

	// Entries that are not the checkpoint's.
	cp := openCP(t, tree.checkpoint(t, 300), key)
	bad := serveEntries(t, entries("a", 300, 299), cp.Note)
	if got, err := m.Sync(ctx, remoteAt(t, bad.URL+"/log", key), cp); !errors.Is(err, ErrMirrorMismatch) || got != 0 {
		t.Fatalf("Sync of entries that do not build the checkpoint: %d, %v", got, err)
	}
	if des, _ := os.ReadDir(dir); len(des) != 0 {
		t.Errorf("the refused copy left %d files", len(des))
	}

	// A true copy at 10, then a log whose entry 3 changed and whose
	// checkpoint at 300 is signed over the changed tree.
	cp10 := openCP(t, tree.checkpoint(t, 10), key)
	good := serveEntries(t, entries("a", 300, -1), cp10.Note)
	if got, err := m.Sync(ctx, remoteAt(t, good.URL+"/log", key), cp10); err != nil || got != 10 {
		t.Fatalf("Sync at 10: %d, %v", got, err)
	}
	forged := newMemTree(key)
	for _, e := range entries("a", 300, 3) {
		forged.AppendData(e)
	}
	fcp := openCP(t, forged.checkpoint(t, 300), key)
	rewritten := serveEntries(t, entries("a", 300, 3), fcp.Note)
	if got, err := m.Sync(ctx, remoteAt(t, rewritten.URL+"/log", key), fcp); !errors.Is(err, ErrMirrorMismatch) || got != 10 {
		t.Fatalf("Sync of a rewritten history: %d, %v", got, err)
	}
	if st, err := m.load(MirrorKey(key.verifier.Name())); err != nil || st.Size != 10 {
		t.Errorf("the mirror holds %d (%v), want 10", st.Size, err)
	}
	// A checkpoint of another log is refused.
	other := newTestKey(t, "example.net/hotline/other")
	if _, err := m.Sync(ctx, remoteAt(t, good.URL+"/log", other), cp); err == nil {
		t.Error("Sync took a checkpoint of another log")
	}
}

// FuzzParseBundle: an entry bundle read from a peer (a log's or a
// mirror's) either is refused or splits into entries that make the same
// bytes again.
func FuzzParseBundle(f *testing.F) {
	e := entryFor("f", 1)
	f.Add(marshalBundle([][]byte{e[:], e[:3], {}}))
	f.Add([]byte{0})
	f.Add([]byte{0, 5, 1, 2})
	f.Fuzz(func(t *testing.T, b []byte) {
		entries, err := parseBundle(b)
		if err != nil {
			return
		}
		if got := marshalBundle(entries); !bytes.Equal(got, b) {
			t.Fatalf("bundle %x parsed to %d entries that marshal to %x", b, len(entries), got)
		}
	})
}
