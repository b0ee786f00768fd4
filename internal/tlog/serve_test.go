package tlog

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/transparency-dev/tessera/api/layout"
	"golang.org/x/mod/sumdb/note"
)

func TestHandlerServesOnlyTiles(t *testing.T) {
	key := newTestKey(t, "example.net/hotline/ber")
	l := newTestLog(t, key, func(c *Config) { c.CheckpointInterval = 100 * time.Millisecond })
	appendConcurrently(t, l, "h", 4, 300)
	waitForSize(t, l, 300)
	srv := serveLog(t, l)
	get := func(path string) (*http.Response, []byte) {
		t.Helper()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	for _, tc := range []struct {
		path, ctype, cache string
		status             int
		size               int
	}{
		{"/log/checkpoint", "text/plain; charset=utf-8", "no-cache", 200, -1},
		{"/log/tile/0/000", "application/octet-stream", "public, max-age=31536000, immutable", 200, 8192},
		{"/log/tile/0/001.p/44", "application/octet-stream", "public, max-age=31536000, immutable", 200, 44 * 32},
		{"/log/tile/1/000.p/1", "application/octet-stream", "public, max-age=31536000, immutable", 200, 32},
		{"/log/tile/entries/000", "application/octet-stream", "public, max-age=31536000, immutable", 200, 256 * 34},
		{"/log/tile/entries/001.p/44", "application/octet-stream", "public, max-age=31536000, immutable", 200, 44 * 34},
		// Cut from the full tile when the partial file is gone (or was
		// never written for this width).
		{"/log/tile/0/000.p/7", "application/octet-stream", "public, max-age=31536000, immutable", 200, 7 * 32},
		{"/log/tile/entries/000.p/7", "application/octet-stream", "public, max-age=31536000, immutable", 200, 7 * 34},
		{"/log/tile/0/002", "", "", 404, -1},
		{"/log/tile/0/001", "", "", 404, -1},
		{"/log/tile/0/x000/000", "", "", 404, -1},
		{"/log/tile/00/000", "", "", 404, -1},
		{"/log/tile/64/000", "", "", 404, -1},
		{"/log/tile/0/000.p/0", "", "", 404, -1},
		{"/log/tile/0/000.p/256", "", "", 404, -1},
		{"/log/tile/0/0", "", "", 404, -1},
		{"/log/tile/0/../../.state/treeState", "", "", 404, -1},
		{"/log/.state/treeState", "", "", 404, -1},
		{"/log/.state/version", "", "", 404, -1},
		{"/log/tile/../.state/treeState", "", "", 404, -1},
		{"/log/tile/%2e%2e/.state/treeState", "", "", 404, -1},
		{"/log/", "", "", 404, -1},
		{"/log/checkpoint/", "", "", 404, -1},
	} {
		t.Run(tc.path, func(t *testing.T) {
			resp, body := get(tc.path)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
			if tc.status != 200 {
				if strings.Contains(string(body), `"size"`) {
					t.Fatalf("private state leaked: %s", body)
				}
				return
			}
			if got := resp.Header.Get("Content-Type"); got != tc.ctype {
				t.Errorf("Content-Type %q, want %q", got, tc.ctype)
			}
			if got := resp.Header.Get("Cache-Control"); got != tc.cache {
				t.Errorf("Cache-Control %q, want %q", got, tc.cache)
			}
			if tc.size >= 0 && len(body) != tc.size {
				t.Errorf("%d bytes, want %d", len(body), tc.size)
			}
		})
	}
	// The cut partial tile is a prefix of the full one, as a partial tile is.
	_, full := get("/log/tile/0/000")
	_, part := get("/log/tile/0/000.p/7")
	if string(full[:len(part)]) != string(part) {
		t.Error("partial tile is not the full tile's prefix")
	}
	resp, err := http.Post(srv.URL+"/log/checkpoint", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST checkpoint: %d", resp.StatusCode)
	}
}

func TestHandlerAuthorize(t *testing.T) {
	key := newTestKey(t, "example.net/hotline/ber")
	l := newTestLog(t, key, func(c *Config) {
		c.Authorize = func(w http.ResponseWriter, r *http.Request) bool {
			if r.Header.Get("Authorization") != "Bearer reader" {
				http.Error(w, "who are you", http.StatusUnauthorized)
				return false
			}
			return true
		}
	})
	appendConcurrently(t, l, "a", 1, 3)
	waitForSize(t, l, 3)
	srv := serveLog(t, l)
	for _, tc := range []struct {
		auth   string
		status int
	}{{"", 401}, {"Bearer other", 401}, {"Bearer reader", 200}} {
		req, _ := http.NewRequest("GET", srv.URL+"/log/tile/0/000.p/3", nil)
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("auth %q: %d, want %d", tc.auth, resp.StatusCode, tc.status)
		}
		if resp.StatusCode == 200 && resp.Header.Get("Cache-Control") != "private, max-age=31536000, immutable" {
			t.Errorf("Cache-Control of a private log: %q", resp.Header.Get("Cache-Control"))
		}
	}
	// The remote client authenticates through Prepare.
	r, err := NewRemote(RemoteConfig{URL: srv.URL + "/log", Verifier: key.verifier,
		Prepare: func(req *http.Request) error { req.Header.Set("Authorization", "Bearer reader"); return nil }})
	if err != nil {
		t.Fatal(err)
	}
	if cp, err := r.Checkpoint(context.Background()); err != nil || cp.Size != 3 {
		t.Fatalf("remote checkpoint: %d %v", cp.Size, err)
	}
}

func TestRemote(t *testing.T) {
	key := newTestKey(t, "example.net/hotline/par")
	l := newTestLog(t, key, nil)
	want := appendConcurrently(t, l, "r", 4, 600)
	waitForSize(t, l, 600)
	srv := serveLog(t, l)
	r, err := NewRemote(RemoteConfig{URL: srv.URL + "/log/", Verifier: key.verifier})
	if err != nil {
		t.Fatal(err)
	}
	cp, err := r.Checkpoint(context.Background())
	if err != nil || cp.Size != 600 {
		t.Fatalf("Checkpoint: %d %v", cp.Size, err)
	}
	for _, i := range []uint64{0, 255, 256, 599} {
		p, err := r.VerifyInclusion(context.Background(), cp, i, want[i])
		if err != nil {
			t.Fatalf("VerifyInclusion(%d): %v", i, err)
		}
		e := want[i]
		if _, err := p.Verify(e[:], key.verifier); err != nil {
			t.Errorf("tlog-proof of %d: %v", i, err)
		}
		if _, err := r.VerifyInclusion(context.Background(), cp, i, want[(i+1)%600]); err == nil {
			t.Errorf("inclusion of the wrong entry at %d verified", i)
		}
	}
	if _, err := r.VerifyInclusion(context.Background(), cp, 600, want[0]); err == nil {
		t.Error("inclusion at the checkpoint size verified")
	}
	// Consistency between an older checkpoint and the current one.
	older := Checkpoint{Note: signCheckpoint(t, key, 300, rootOf(t, l, cp, 300))}
	if _, err := r.VerifyConsistency(context.Background(), older, cp); err != nil {
		t.Errorf("VerifyConsistency: %v", err)
	}
	// A checkpoint of another history: an equivocation, with its proof.
	forked := Checkpoint{Note: newMemTree(key).grow("other", 300).checkpoint(t, 300)}
	_, err = r.VerifyConsistency(context.Background(), forked, cp)
	var ee *EquivocationError
	if !errors.As(err, &ee) || !errors.Is(err, ErrEquivocated) {
		t.Fatalf("VerifyConsistency of a fork: %v, want an EquivocationError", err)
	}
	if err := ee.Proof.Verify(key.verifier); err != nil {
		t.Errorf("equivocation proof: %v", err)
	}
	if _, err := r.ProveEquivocation(context.Background(), older.Note, cp.Note); !errors.Is(err, ErrNotEquivocation) {
		t.Errorf("ProveEquivocation of consistent checkpoints: %v", err)
	}
	// The log itself checks checkpoints seen elsewhere.
	if e, err := l.ProveEquivocation(context.Background(), forked.Note); err != nil || e.Verify(key.verifier) != nil {
		t.Errorf("Log.ProveEquivocation of a fork: %v", err)
	}
	// A checkpoint signed by another key is refused.
	if _, err := r.VerifyConsistency(context.Background(), Checkpoint{Note: newMemTree(newTestKey(t, "example.net/hotline/par")).grow("x", 3).checkpoint(t, 3)}, cp); err == nil {
		t.Error("a checkpoint signed by another key was accepted")
	}
	// A server that is down, or serves garbage.
	bad := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "garbage\n") }))
	for _, u := range []string{"http://127.0.0.1:1/log", bad.URL + "/log"} {
		r, _ := NewRemote(RemoteConfig{URL: u, Verifier: key.verifier})
		if _, err := r.Checkpoint(context.Background()); err == nil {
			t.Errorf("%s: Checkpoint succeeded", u)
		}
		if _, err := r.VerifyInclusion(context.Background(), cp, 1, want[1]); err == nil {
			t.Errorf("%s: VerifyInclusion succeeded", u)
		}
	}
	if _, err := NewRemote(RemoteConfig{URL: "ftp://x", Verifier: key.verifier}); err == nil {
		t.Error("NewRemote accepted an ftp URL")
	}
}

// rootOf returns the root at size m of the log's tree, read from its tiles.
func rootOf(tb testing.TB, l *Log, cp Checkpoint, m uint64) [HashSize]byte {
	tb.Helper()
	r, err := rootAt(context.Background(), l.reader.ReadTile, cp.Size, cp.Hash, m)
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

func TestParseTilePath(t *testing.T) {
	for _, tc := range []struct {
		a    tileAddr
		path string
	}{
		{tileAddr{level: 0, index: 0}, "tile/0/000"},
		{tileAddr{level: 63, index: 1234067, width: 8}, "tile/63/x001/x234/067.p/8"},
		{tileAddr{entries: true, index: 1000}, "tile/entries/x001/000"},
		{tileAddr{entries: true, index: 5, width: 255}, "tile/entries/005.p/255"},
		{tileAddr{level: 2, index: 18446744073709551615}, "tile/2/x018/x446/x744/x073/x709/x551/615"},
	} {
		if got := tc.a.path(); got != tc.path {
			t.Errorf("path(%+v) = %q, want %q", tc.a, got, tc.path)
		}
		got, err := parseTilePath(tc.path)
		if err != nil || got != tc.a {
			t.Errorf("parseTilePath(%q) = %+v, %v", tc.path, got, err)
		}
	}
	for _, bad := range []string{
		"", "tile", "tile/", "tile/0", "tile/0/", "tile/0/00", "tile/0/0000", "tile/-1/000", "tile/x/000",
		"tile/0/x000/001", "tile/0/001/002", "tile/0/x1/001", "tile/0/000.p", "tile/0/000.p/", "tile/0/000.p/01",
		"tile/0/000.p/1/2", "tile/entries/000.p/999", "tile/0/x018/x446/x744/x073/x709/x551/616",
		"tile/0/x001/x002/x003/x004/x005/x006/x007/008", "tile/entries", "checkpoint", "tile/0/000/",
		"tile/0/+00", "tile/ 0/000", "tile/0/00a",
	} {
		if a, err := parseTilePath(bad); err == nil {
			t.Errorf("parseTilePath(%q) = %+v", bad, a)
		}
	}
}

func FuzzParseTilePath(f *testing.F) {
	seeds, err := os.Open(filepath.Join("testdata", "tiles", "paths.txt"))
	if err != nil {
		f.Fatal(err)
	}
	sc := bufio.NewScanner(seeds)
	for sc.Scan() {
		f.Add(sc.Text())
	}
	seeds.Close()
	f.Fuzz(func(t *testing.T, p string) {
		a, err := parseTilePath(p)
		if err != nil {
			return
		}
		// Only canonical paths parse: the path is exactly what tessera's
		// layout writes.
		if a.path() != p {
			t.Fatalf("parseTilePath(%q) = %+v, which is written %q", p, a, a.path())
		}
		if a.entries && a.level != 0 || a.level > 63 {
			t.Fatalf("parseTilePath(%q) = %+v", p, a)
		}
		want := layout.TilePath(a.level, a.index, a.width)
		if a.entries {
			want = layout.EntriesPath(a.index, a.width)
		}
		if want != p {
			t.Fatalf("layout writes %q for %q", want, p)
		}
	})
}

func TestCheckpointText(t *testing.T) {
	key := newTestKey(t, "example.net/hotline/ber")
	good := newMemTree(key).grow("c", 3).checkpoint(t, 3)
	if _, _, err := OpenCheckpoint(good, key.verifier); err != nil {
		t.Fatal(err)
	}
	text, _, _ := splitNote(good)
	lines := strings.Split(strings.TrimSuffix(string(text), "\n"), "\n")
	for _, tc := range []struct{ name, text string }{
		{"leading zero", lines[0] + "\n03\n" + lines[2] + "\n"},
		{"plus sign", lines[0] + "\n+3\n" + lines[2] + "\n"},
		{"short hash", lines[0] + "\n3\nAAAA\n"},
		{"non-canonical base64", lines[0] + "\n3\n" + lines[2][:42] + "B=\n"},
		{"two lines", lines[0] + "\n3\n"},
		{"empty line", lines[0] + "\n3\n" + lines[2] + "\n\n"},
		{"extension", lines[0] + "\n3\n" + lines[2] + "\next\n"},
		{"no final newline", lines[0] + "\n3\n" + lines[2]},
		{"space in origin", "example.net hotline\n3\n" + lines[2] + "\n"},
		{"huge size", lines[0] + "\n18446744073709551616\n" + lines[2] + "\n"},
		{"empty tree, wrong root", lines[0] + "\n0\n" + lines[2] + "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			signed, err := note.Sign(&note.Note{Text: tc.text}, key.signer)
			if err != nil {
				return // not even a note
			}
			if cp, _, err := OpenCheckpoint(signed, key.verifier); err == nil {
				t.Fatalf("accepted %+v", cp)
			}
		})
	}
	// Unknown signatures are ignored; a bad signature by the log key is not.
	other := newTestKey(t, "example.net/other")
	extra, _ := note.Sign(&note.Note{Text: string(text)}, key.signer, other.signer)
	if _, _, err := OpenCheckpoint(extra, key.verifier); err != nil {
		t.Errorf("an unknown extra signature was not ignored: %v", err)
	}
	if _, _, err := OpenCheckpoint(extra, other.verifier); err == nil {
		t.Error("a checkpoint of another origin was accepted")
	}
}

func FuzzOpenCheckpoint(f *testing.F) {
	for _, b := range readTestdata(f, "checkpoint") {
		f.Add(b)
	}
	key := newTestKey(f, "example.net/hotline/fuzz")
	f.Fuzz(func(t *testing.T, signed []byte) {
		text, sigs, err := splitNote(signed)
		if err != nil {
			return
		}
		if string(joinNote(text, sigs)) != string(signed) {
			t.Fatalf("splitNote/joinNote do not round trip %q", signed)
		}
		OpenCheckpoint(signed, key.verifier)
		origin, size, hash, ext, err := parseCheckpointText(text)
		if err != nil || len(ext) > 0 {
			return
		}
		if got := checkpointText(origin, size, hash); string(got) != string(text) {
			t.Fatalf("checkpoint text %q written back as %q", text, got)
		}
	})
}
