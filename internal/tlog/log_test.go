package tlog

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/mod/sumdb/note"
	sumdb "golang.org/x/mod/sumdb/tlog"
	"golang.org/x/sync/errgroup"
)

// httpTileReader is an x/mod/sumdb/tlog TileReader over a C2SP tlog-tiles
// server, written here from the specification (not with this package's
// code) so that the test checks the served bytes independently.
type httpTileReader struct {
	tb     testing.TB
	prefix string
}

func (r httpTileReader) Height() int { return 8 }

func tilesPathN(n int64) string {
	s := fmt.Sprintf("%03d", n%1000)
	for n /= 1000; n > 0; n /= 1000 {
		s = fmt.Sprintf("x%03d/%s", n%1000, s)
	}
	return s
}

func (r httpTileReader) get(path string) ([]byte, error) {
	resp, err := http.Get(r.prefix + "/" + path)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %d", path, resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); path != "checkpoint" && ct != "application/octet-stream" {
		return nil, fmt.Errorf("GET %s: Content-Type %q", path, ct)
	}
	return b, nil
}

func (r httpTileReader) ReadTiles(tiles []sumdb.Tile) ([][]byte, error) {
	var out [][]byte
	for _, t := range tiles {
		p := fmt.Sprintf("tile/%d/%s", t.L, tilesPathN(t.N))
		if t.W < 256 {
			p += fmt.Sprintf(".p/%d", t.W)
		}
		b, err := r.get(p)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

func (r httpTileReader) SaveTiles([]sumdb.Tile, [][]byte) {}

// verifyServedLog checks a served log with x/mod/sumdb/tlog only: the
// checkpoint's signature, that the tiles hash to its root, and that each
// index in want holds its entry. It returns the tree size.
func verifyServedLog(tb testing.TB, prefix string, v note.Verifier, want map[uint64][32]byte) int64 {
	tb.Helper()
	r := httpTileReader{tb: tb, prefix: prefix}
	raw, err := r.get("checkpoint")
	if err != nil {
		tb.Fatal(err)
	}
	n, err := note.Open(raw, note.VerifierList(v))
	if err != nil {
		tb.Fatalf("checkpoint does not verify: %v\n%s", err, raw)
	}
	lines := strings.Split(n.Text, "\n")
	if len(lines) != 4 || lines[0] != v.Name() {
		tb.Fatalf("checkpoint text %q", n.Text)
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil {
		tb.Fatal(err)
	}
	root, err := sumdb.ParseHash(lines[2])
	if err != nil {
		tb.Fatal(err)
	}
	if size != int64(len(want)) {
		tb.Fatalf("checkpoint size %d, want %d", size, len(want))
	}
	tree := sumdb.Tree{N: size, Hash: root}
	thr := sumdb.TileHashReader(tree, r)
	if h, err := sumdb.TreeHash(size, thr); err != nil || h != root {
		tb.Fatalf("tiles hash to %v (err %v), checkpoint says %v", h, err, root)
	}
	// Every leaf hash, read through the verified tiles.
	idx := make([]int64, size)
	for i := range idx {
		idx[i] = sumdb.StoredHashIndex(0, int64(i))
	}
	leaves, err := thr.ReadHashes(idx)
	if err != nil {
		tb.Fatal(err)
	}
	// Every entry, from the entry bundles.
	for b := int64(0); b*256 < size; b++ {
		p := "tile/entries/" + tilesPathN(b)
		if w := size - b*256; w < 256 {
			p += fmt.Sprintf(".p/%d", w)
		}
		raw, err := r.get(p)
		if err != nil {
			tb.Fatal(err)
		}
		for i := b * 256; len(raw) > 0; i++ {
			l := int(binary.BigEndian.Uint16(raw))
			e := raw[2 : 2+l]
			raw = raw[2+l:]
			if sumdb.RecordHash(e) != leaves[i] {
				tb.Fatalf("entry %d does not hash to its leaf", i)
			}
			if w := want[uint64(i)]; !bytes.Equal(e, w[:]) {
				tb.Fatalf("index %d holds %x, want %x", i, e, w)
			}
		}
	}
	// A few inclusion proofs, built and checked by x/mod.
	for _, i := range []int64{0, size / 3, size - 1} {
		p, err := sumdb.ProveRecord(size, i, thr)
		if err != nil {
			tb.Fatal(err)
		}
		if err := sumdb.CheckRecord(p, size, root, i, leaves[i]); err != nil {
			tb.Fatal(err)
		}
	}
	return size
}

// appendConcurrently appends n distinct entries from g goroutines and
// returns what each index must hold.
func appendConcurrently(tb testing.TB, l *Log, tag string, g, n int) map[uint64][32]byte {
	tb.Helper()
	var mu sync.Mutex
	got := make(map[uint64][32]byte, n)
	var eg errgroup.Group
	for w := 0; w < g; w++ {
		eg.Go(func() error {
			for i := w; i < n; i += g {
				e := entryFor(tag, i)
				idx, err := l.Append(context.Background(), e)
				if err != nil {
					return err
				}
				mu.Lock()
				if _, dup := got[idx]; dup {
					mu.Unlock()
					return fmt.Errorf("index %d returned twice", idx)
				}
				got[idx] = e
				mu.Unlock()
			}
			return nil
		})
	}
	if err := eg.Wait(); err != nil {
		tb.Fatal(err)
	}
	for i := range uint64(n) {
		if _, ok := got[i]; !ok {
			tb.Fatalf("no entry at index %d", i)
		}
	}
	return got
}

func TestAppendConcurrentVerifiedByXMod(t *testing.T) {
	key := newTestKey(t, "example.net/hotline/ber")
	l := newTestLog(t, key, nil)
	want := appendConcurrently(t, l, "ber", 64, 10_000)
	waitForSize(t, l, 10_000)
	srv := serveLog(t, l)
	verifyServedLog(t, srv.URL+"/log", key.verifier, want)

	// Our own proofs are the ones x/mod checks.
	cp, err := l.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range []uint64{0, 255, 256, 4097, 9999} {
		p, err := l.InclusionProof(context.Background(), i, cp.Size)
		if err != nil {
			t.Fatal(err)
		}
		e := want[i]
		if err := sumdb.CheckRecord(toRecordProof(p), int64(cp.Size), cp.Hash, int64(i), sumdb.RecordHash(e[:])); err != nil {
			t.Errorf("inclusion proof of %d: %v", i, err)
		}
	}
	old := uint64(4321)
	p, err := l.ConsistencyProof(context.Background(), old, cp.Size)
	if err != nil {
		t.Fatal(err)
	}
	thr := sumdb.TileHashReader(sumdb.Tree{N: int64(cp.Size), Hash: cp.Hash}, httpTileReader{t, srv.URL + "/log"})
	oldRoot, err := sumdb.TreeHash(int64(old), thr)
	if err != nil {
		t.Fatal(err)
	}
	if err := sumdb.CheckTree(toTreeProof(p), int64(cp.Size), cp.Hash, int64(old), oldRoot); err != nil {
		t.Errorf("consistency proof: %v", err)
	}
}

func toRecordProof(p [][]byte) sumdb.RecordProof {
	var out sumdb.RecordProof
	for _, h := range p {
		out = append(out, sumdb.Hash(h))
	}
	return out
}

func toTreeProof(p [][]byte) sumdb.TreeProof {
	var out sumdb.TreeProof
	for _, h := range p {
		out = append(out, sumdb.Hash(h))
	}
	return out
}

func TestFiveLogsInOneProcess(t *testing.T) {
	names := []string{"ber", "par", "rom", "vie", "osl"}
	logs := make([]*Log, len(names))
	keys := make([]testKey, len(names))
	var eg errgroup.Group
	for i, n := range names {
		keys[i] = newTestKey(t, "example.net/hotline/"+n)
		eg.Go(func() error {
			l, err := Open(context.Background(), Config{
				Dir: t.TempDir(), Signer: keys[i].signer, Verifier: keys[i].verifier,
				CheckpointInterval: 100 * time.Millisecond,
			})
			logs[i] = l
			return err
		})
	}
	if err := eg.Wait(); err != nil {
		t.Fatal(err)
	}
	for _, l := range logs {
		t.Cleanup(func() { l.Close() })
	}
	wants := make([]map[uint64][32]byte, len(names))
	for i := range logs {
		eg.Go(func() error {
			wants[i] = appendConcurrently(t, logs[i], names[i], 8, 600)
			return nil
		})
	}
	eg.Wait()
	mux := http.NewServeMux()
	for i, l := range logs {
		mux.Handle("/"+names[i]+"/log/", http.StripPrefix("/"+names[i]+"/log", l.Handler()))
	}
	srv := newServer(t, mux)
	for i, l := range logs {
		waitForSize(t, l, 600)
		verifyServedLog(t, srv.URL+"/"+names[i]+"/log", keys[i].verifier, wants[i])
	}
}

func TestEntriesFrom(t *testing.T) {
	key := newTestKey(t, "example.net/hotline/ber")
	l := newTestLog(t, key, nil)
	want := appendConcurrently(t, l, "ber", 4, 700)
	for _, from := range []uint64{0, 1, 255, 256, 699, 700, 800} {
		var got []uint64
		for e, err := range l.EntriesFrom(context.Background(), from) {
			if err != nil {
				t.Fatal(err)
			}
			if e.Data != want[e.Index] {
				t.Fatalf("entry %d: got %x, want %x", e.Index, e.Data, want[e.Index])
			}
			got = append(got, e.Index)
		}
		var wantIdx []uint64
		for i := from; i < 700; i++ {
			wantIdx = append(wantIdx, i)
		}
		if diff := cmp.Diff(wantIdx, got); diff != "" {
			t.Errorf("EntriesFrom(%d) indexes (-want +got):\n%s", from, diff)
		}
	}
	// Stopping early is fine.
	for e := range l.EntriesFrom(context.Background(), 10) {
		if e.Index != 10 {
			t.Fatalf("first entry %d", e.Index)
		}
		break
	}
}

func TestReopenKeepsEntries(t *testing.T) {
	key := newTestKey(t, "example.net/hotline/ber")
	dir := t.TempDir()
	cfg := Config{Dir: dir, Signer: key.signer, Verifier: key.verifier, CheckpointInterval: 100 * time.Millisecond}
	l, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := appendConcurrently(t, l, "a", 3, 300)
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := l.Append(context.Background(), entryFor("late", 0)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Append after Close: %v, want ErrClosed", err)
	}
	// Close published a checkpoint covering every append.
	l2, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	cp, err := l2.Checkpoint()
	if err != nil || cp.Size != 300 {
		t.Fatalf("checkpoint after reopen: size %d, %v", cp.Size, err)
	}
	idx, err := l2.Append(context.Background(), entryFor("b", 0))
	if err != nil || idx != 300 {
		t.Fatalf("Append after reopen = %d, %v; want 300", idx, err)
	}
	want[300] = entryFor("b", 0)
	waitForSize(t, l2, 301)
	verifyServedLog(t, serveLog(t, l2).URL+"/log", key.verifier, want)
}

func TestAppendContextCanceled(t *testing.T) {
	key := newTestKey(t, "example.net/hotline/ber")
	l := newTestLog(t, key, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := l.Append(ctx, entryFor("x", 0)); err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("Append with a canceled context: %v", err)
	}
}

func TestProve(t *testing.T) {
	key := newTestKey(t, "example.net/hotline/ber")
	l := newTestLog(t, key, nil)
	want := appendConcurrently(t, l, "p", 4, 50)
	cp := waitForSize(t, l, 50)
	for _, i := range []uint64{0, 17, 49} {
		p, err := l.Prove(context.Background(), i, cp)
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParseProof(p.Marshal())
		if err != nil {
			t.Fatal(err)
		}
		e := want[i]
		if _, err := back.Verify(e[:], key.verifier); err != nil {
			t.Errorf("proof of %d: %v", i, err)
		}
		other := want[(i+1)%50]
		if _, err := back.Verify(other[:], key.verifier); err == nil {
			t.Errorf("proof of %d verified for another entry", i)
		}
	}
	if _, err := l.InclusionProof(context.Background(), 50, 50); err == nil {
		t.Error("InclusionProof(50, 50) succeeded")
	}
	if _, err := l.InclusionProof(context.Background(), 0, cp.Size+1000); err == nil {
		t.Error("InclusionProof beyond the checkpoint succeeded")
	}
}

func TestOpenRefusesBadConfig(t *testing.T) {
	a := newTestKey(t, "example.net/a")
	b := newTestKey(t, "example.net/b")
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"no dir", Config{Signer: a.signer, Verifier: a.verifier}},
		{"no signer", Config{Dir: t.TempDir(), Verifier: a.verifier}},
		{"mismatched verifier", Config{Dir: t.TempDir(), Signer: a.signer, Verifier: b.verifier}},
		{"republish below interval", Config{Dir: t.TempDir(), Signer: a.signer, Verifier: a.verifier, CheckpointInterval: time.Second, RepublishInterval: time.Millisecond}},
		{"interval too short", Config{Dir: t.TempDir(), Signer: a.signer, Verifier: a.verifier, CheckpointInterval: time.Millisecond}},
		{"invalid policy", Config{Dir: t.TempDir(), Signer: a.signer, Verifier: a.verifier, Policy: &Policy{}}},
		{"unknown self", Config{Dir: t.TempDir(), Signer: a.signer, Verifier: a.verifier, Policy: &Policy{Quorum: QuorumNone}, Self: "ber"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := Open(context.Background(), tc.cfg)
			if err == nil {
				l.Close()
				t.Fatal("Open succeeded")
			}
		})
	}
}

func TestRouteKlog(t *testing.T) {
	key := newTestKey(t, "example.net/hotline/klog")
	newTestLog(t, key, nil)
	// Tessera logs the creation of a new POSIX log through klog; TestMain
	// routed klog to klogOutput.
	if !strings.Contains(klogOutput.String(), "Initializing directory for POSIX log") {
		t.Errorf("Tessera's klog output did not reach the slog logger")
	}
}
