package tlog

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/tessera/api/layout"
)

// A Mirror keeps copies of other logs on disk: each log's entries up to a
// checkpoint of it the caller trusts (a node mirrors its peers' logs up to
// the checkpoints that carry the agreement's witness quorum), checked
// against that checkpoint before anything is kept, and serves them in C2SP
// tlog-tiles layout: <key>/checkpoint and <key>/tile/entries/..., where key
// is [MirrorKey] of the log's origin. Hash tiles are not kept: the entries
// determine them. A node restored from an old backup refills its own log
// from a peer's copy (hotline log restore), entries the backup lacks and no
// receipt names — envelopes it sent, receipts and refusals it received.
//
// Under the mirror's folder, each log has a folder named by its key,
// holding state.json (origin, size, the compact range of the entries, and
// the checkpoint of that size) and the entry bundles. state.json is
// replaced atomically after the bundles it covers are durable, so a crash
// leaves the previous copy whole.
type Mirror struct {
	dir    string
	logger *slog.Logger
	// syncMu makes one Sync at a time; mu guards states, and is never
	// held while a Sync reads a peer, so that serving never waits on it.
	syncMu sync.Mutex
	mu     sync.Mutex
	states map[string]*mirrorState // by key
}

type mirrorState struct {
	Origin     string   `json:"origin"`
	Size       uint64   `json:"size"`
	Range      [][]byte `json:"range"`
	Checkpoint string   `json:"checkpoint"`
}

// ErrMirrorMismatch: a log's entries do not build the checkpoint they were
// fetched against, or they change entries copied before — a log that shows
// one history in its checkpoints and another in its tiles.
var ErrMirrorMismatch = errors.New("the log's entries do not match its checkpoint")

// MirrorKey names a log in a mirror: the lowercase hex SHA-256 of its
// origin, as C2SP tlog-witness names logs in URLs.
func MirrorKey(origin string) string {
	h := sha256.Sum256([]byte(origin))
	return hex.EncodeToString(h[:])
}

// OpenMirror opens (creating it if needed) the mirror in dir.
func OpenMirror(dir string, logger *slog.Logger) (*Mirror, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := mkdirDurable(dir); err != nil {
		return nil, fmt.Errorf("tlog: mirror folder: %w", err)
	}
	return &Mirror{dir: dir, logger: logger, states: map[string]*mirrorState{}}, nil
}

// load returns the state of the log with the given key (zero if none).
// The caller holds m.mu. A state is never changed once loaded: Sync
// replaces it.
func (m *Mirror) load(key string) (*mirrorState, error) {
	if st := m.states[key]; st != nil {
		return st, nil
	}
	b, err := readFileIfExists(filepath.Join(m.dir, key, "state.json"))
	if err != nil {
		return nil, err
	}
	st := &mirrorState{}
	if b != nil {
		if err := json.Unmarshal(b, st); err != nil {
			return nil, fmt.Errorf("the mirror's state of %s: %w", key, err)
		}
		if MirrorKey(st.Origin) != key {
			return nil, fmt.Errorf("the mirror's state in %s is of %q", key, st.Origin)
		}
		if _, err := rangeFactory.NewRange(0, st.Size, st.Range); err != nil {
			return nil, fmt.Errorf("the mirror's state of %s: %w", st.Origin, err)
		}
	}
	m.states[key] = st
	return st, nil
}

var rangeFactory = &compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}

// Sync copies the entries of r's log up to cp, a checkpoint of it the
// caller trusts, that the mirror does not hold yet, and returns the number
// of entries it holds. The entries are checked against cp (the root of all
// of them, the entries copied before included, must be cp's) before any is
// kept; entries that do not build cp give an error wrapping
// [ErrMirrorMismatch] and leave the mirror as it was. A cp no larger than
// what the mirror holds changes nothing.
func (m *Mirror) Sync(ctx context.Context, r *Remote, cp Checkpoint) (uint64, error) {
	if cp.Origin != r.Origin() {
		return 0, fmt.Errorf("checkpoint of %q, not of %q", cp.Origin, r.Origin())
	}
	if _, _, err := OpenCheckpoint(cp.Note, r.v); err != nil {
		return 0, err
	}
	key := MirrorKey(cp.Origin)
	m.syncMu.Lock()
	defer m.syncMu.Unlock()
	m.mu.Lock()
	st, err := m.load(key)
	m.mu.Unlock()
	if err != nil {
		return 0, err
	}
	if cp.Size <= st.Size {
		return st.Size, nil
	}
	rng, err := rangeFactory.NewRange(0, st.Size, st.Range)
	if err != nil {
		return 0, err
	}
	w := uint64(layout.EntryBundleWidth)
	first := st.Size / w * w
	var held [][]byte
	if st.Size > first {
		b, err := os.ReadFile(filepath.Join(m.dir, key, filepath.FromSlash(layout.EntriesPath(first/w, uint8(st.Size-first)))))
		if err != nil {
			return st.Size, fmt.Errorf("the mirror's last bundle of %s: %w", cp.Origin, err)
		}
		if held, err = parseBundle(b); err != nil || uint64(len(held)) != st.Size-first {
			return st.Size, fmt.Errorf("the mirror's last bundle of %s holds %d entries, want %d (%v)", cp.Origin, len(held), st.Size-first, err)
		}
	}
	entries, err := r.Entries(ctx, first, cp.Size)
	if err != nil {
		return st.Size, err
	}
	for i, e := range held {
		if !bytes.Equal(e, entries[i]) {
			return st.Size, fmt.Errorf("%s: entry %d differs from the copy taken at size %d: %w", cp.Origin, first+uint64(i), st.Size, ErrMirrorMismatch)
		}
	}
	for _, e := range entries[len(held):] {
		if err := rng.Append(rfc6962.DefaultHasher.HashLeaf(e), nil); err != nil {
			return st.Size, err
		}
	}
	root, err := rng.GetRootHash(nil)
	if err != nil {
		return st.Size, err
	}
	if !bytes.Equal(root, cp.Hash[:]) {
		return st.Size, fmt.Errorf("%s: the root of entries 0 to %d is %x, the checkpoint says %x: %w", cp.Origin, cp.Size, root, cp.Hash, ErrMirrorMismatch)
	}

	// Checked: the bundles, then the state that covers them.
	var stale []string
	for k := first; k < cp.Size; k += w {
		n := min(w, cp.Size-k)
		p := uint8(n % w)
		rel := layout.EntriesPath(k/w, p)
		if err := writeMirrorFile(filepath.Join(m.dir, key, filepath.FromSlash(rel)), marshalBundle(entries[k-first:k-first+n])); err != nil {
			return st.Size, err
		}
		if k == first && st.Size > first && rel != layout.EntriesPath(k/w, uint8(st.Size-first)) {
			stale = append(stale, layout.EntriesPath(k/w, uint8(st.Size-first)))
		}
	}
	next := &mirrorState{Origin: cp.Origin, Size: cp.Size, Range: rng.Hashes(), Checkpoint: string(cp.Note)}
	b, err := json.Marshal(next)
	if err != nil {
		return st.Size, err
	}
	if err := writeFileAtomic(filepath.Join(m.dir, key), "state.json", b); err != nil {
		return st.Size, err
	}
	m.mu.Lock()
	m.states[key] = next
	m.mu.Unlock()
	for _, rel := range stale {
		// The partial bundle the previous state ended in; a reader of
		// the old checkpoint is served a cut of the new one.
		p := filepath.Join(m.dir, key, filepath.FromSlash(rel))
		if err := os.Remove(p); err != nil {
			m.logger.Warn("removing a partial bundle the mirror outgrew", "path", p, "err", err)
		}
		os.Remove(filepath.Dir(p)) // the .p folder, once empty
	}
	return cp.Size, nil
}

// writeMirrorFile writes a bundle durably, creating its folders.
func writeMirrorFile(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return writeFileAtomic(dir, filepath.Base(path), data)
}

// marshalBundle is the C2SP tlog-tiles entry bundle of entries: each a
// big-endian uint16 length and the entry.
func marshalBundle(entries [][]byte) []byte {
	n := 0
	for _, e := range entries {
		n += 2 + len(e)
	}
	b := make([]byte, 0, n)
	for _, e := range entries {
		b = binary.BigEndian.AppendUint16(b, uint16(len(e)))
		b = append(b, e...)
	}
	return b
}

func isMirrorKey(s string) bool {
	if len(s) != 2*sha256.Size {
		return false
	}
	for _, c := range []byte(s) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// Handler serves the mirror: GET <key>/checkpoint (the checkpoint the
// copy was checked against, cosignatures included) and GET
// <key>/tile/entries/<N>[.p/<W>] (entry bundles up to that checkpoint; a
// partial bundle narrower than the one held is cut from it). Hash tiles are
// not served. authorize, if set, admits each request or writes the refusal.
func (m *Mirror) Handler(authorize func(http.ResponseWriter, *http.Request) bool) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{key}/checkpoint", m.serveCheckpoint)
	mux.HandleFunc("GET /{key}/tile/", m.serveBundle)
	var h http.Handler = mux
	if authorize != nil {
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if authorize(w, r) {
				mux.ServeHTTP(w, r)
			}
		})
	}
	return http.MaxBytesHandler(h, 1<<10)
}

// state returns the state of the log r names, or nil after answering 404.
func (m *Mirror) state(w http.ResponseWriter, r *http.Request) (string, *mirrorState) {
	key := r.PathValue("key")
	if !isMirrorKey(key) {
		http.NotFound(w, r)
		return "", nil
	}
	m.mu.Lock()
	st, err := m.load(key)
	m.mu.Unlock()
	if err != nil {
		m.logger.Error("serving the mirror", "key", key, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return "", nil
	}
	if st.Size == 0 {
		http.Error(w, "this node holds no copy of that log", http.StatusNotFound)
		return "", nil
	}
	return key, st
}

func (m *Mirror) serveCheckpoint(w http.ResponseWriter, r *http.Request) {
	_, st := m.state(w, r)
	if st == nil {
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("Content-Length", strconv.Itoa(len(st.Checkpoint)))
	w.Write([]byte(st.Checkpoint))
}

func (m *Mirror) serveBundle(w http.ResponseWriter, r *http.Request) {
	// A Sync between reading the state and the file may remove the
	// partial bundle the state named: read again from the new state.
	for try := 0; ; try++ {
		if m.serveBundleOnce(w, r, try > 0) {
			return
		}
	}
}

// serveBundleOnce serves the bundle r names and reports true, or reports
// false, having written nothing, when the partial bundle its state named
// is gone and last is false.
func (m *Mirror) serveBundleOnce(w http.ResponseWriter, r *http.Request, last bool) bool {
	key, st := m.state(w, r)
	if st == nil {
		return true
	}
	a, err := parseTilePath(strings.TrimPrefix(r.URL.Path, "/"+key+"/"))
	if err != nil || !a.entries {
		http.NotFound(w, r)
		return true
	}
	bw := uint64(layout.EntryBundleWidth)
	width := uint64(a.width)
	if width == 0 {
		width = bw
	}
	if a.index > (st.Size-1)/bw || a.index*bw+width > st.Size {
		http.NotFound(w, r) // beyond the copy
		return true
	}
	// The file that holds it: the full bundle, or the partial one the
	// copy ends in.
	held := uint8(0)
	if a.index == st.Size/bw {
		held = uint8(st.Size % bw)
	}
	data, err := os.ReadFile(filepath.Join(m.dir, key, filepath.FromSlash(layout.EntriesPath(a.index, held))))
	if held > 0 && errors.Is(err, os.ErrNotExist) && !last {
		return false
	}
	if err == nil && a.width != held {
		data, err = truncateTile(true, data, int(width))
	}
	if err != nil {
		m.logger.Error("serving a mirrored bundle", "origin", st.Origin, "index", a.index, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return true
	}
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Cache-Control", "private, max-age=31536000, immutable")
	h.Set("Content-Length", strconv.Itoa(len(data)))
	w.Write(data)
	return true
}

// RootOf returns the RFC 6962 root hash of the tree whose entries are
// those of parts, one after the other.
func RootOf(parts ...[][]byte) [HashSize]byte {
	rng := rangeFactory.NewEmptyRange(0)
	for _, entries := range parts {
		for _, e := range entries {
			if err := rng.Append(rfc6962.DefaultHasher.HashLeaf(e), nil); err != nil {
				panic(err) // appending to a range that starts at 0 does not fail
			}
		}
	}
	if rng.End() == 0 {
		return emptyRoot()
	}
	root, err := rng.GetRootHash(nil)
	if err != nil {
		panic(err)
	}
	return [HashSize]byte(root)
}
