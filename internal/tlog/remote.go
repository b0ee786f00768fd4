package tlog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/tessera/api/layout"
	"github.com/transparency-dev/tessera/client"
	"golang.org/x/mod/sumdb/note"
)

// RemoteConfig configures a [Remote]. URL and Verifier are required.
type RemoteConfig struct {
	// URL is the log's C2SP tlog-tiles prefix, e.g. https://node.example/log.
	URL string
	// Verifier is the log's checkpoint key; its name is the log's origin.
	Verifier note.Verifier
	// HTTPClient sends the requests. Nil means a client on
	// http.DefaultTransport.
	HTTPClient *http.Client
	// Prepare, if set, is called on every request before it is sent, to
	// authenticate it to a log that is not public.
	Prepare func(*http.Request) error
}

// ErrUnreadable wraps the errors of [Remote.VerifyInclusion] that come from
// reading the log's tiles (the log out of reach, a tile missing or
// malformed), not from a proof that does not verify: they show nothing
// against the entry.
var ErrUnreadable = errors.New("the log's tiles could not be read")

// Remote reads another node's log over C2SP tlog-tiles and verifies what it
// reads: checkpoints against the log's key, proofs against checkpoints. It
// is safe for concurrent use.
type Remote struct {
	base *url.URL
	v    note.Verifier
	hc   *http.Client
	prep func(*http.Request) error
}

// NewRemote returns a client for the log at cfg.URL.
func NewRemote(cfg RemoteConfig) (*Remote, error) {
	if cfg.URL == "" || cfg.Verifier == nil {
		return nil, errors.New("tlog: RemoteConfig needs URL and Verifier")
	}
	u, err := url.Parse(strings.TrimSuffix(cfg.URL, "/") + "/")
	if err != nil || u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("tlog: log URL %q is not an http(s) URL", cfg.URL)
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{}
	}
	return &Remote{base: u, v: cfg.Verifier, hc: cfg.HTTPClient, prep: cfg.Prepare}, nil
}

// Origin returns the log's origin.
func (r *Remote) Origin() string { return r.v.Name() }

func (r *Remote) fetch(ctx context.Context, path string, limit int64) ([]byte, error) {
	u := r.base.JoinPath(path)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	if r.prep != nil {
		if err := r.prep(req); err != nil {
			return nil, fmt.Errorf("preparing the request for %s: %w", u, err)
		}
	}
	resp, err := r.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound:
		return nil, fmt.Errorf("GET %s: %w", u, os.ErrNotExist)
	default:
		return nil, fmt.Errorf("GET %s: status %d", u, resp.StatusCode)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", u, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("GET %s: more than %d bytes", u, limit)
	}
	return b, nil
}

// readTile implements readTileFunc (tessera's TileFetcherFunc contract).
func (r *Remote) readTile(ctx context.Context, level, index uint64, p uint8) ([]byte, error) {
	b, err := r.fetch(ctx, layout.TilePath(level, index, p), layout.TileWidth*HashSize)
	if p > 0 && errors.Is(err, os.ErrNotExist) {
		b, err = r.fetch(ctx, layout.TilePath(level, index, 0), layout.TileWidth*HashSize)
	}
	return b, err
}

// Checkpoint fetches the log's checkpoint and verifies its signature.
func (r *Remote) Checkpoint(ctx context.Context) (Checkpoint, error) {
	b, err := r.fetch(ctx, "checkpoint", maxNoteSize)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("fetching the checkpoint of %s: %w", r.Origin(), err)
	}
	cp, _, err := OpenCheckpoint(b, r.v)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("checkpoint of %s: %w", r.Origin(), err)
	}
	return cp, nil
}

// VerifyInclusion checks that entry is at index in the tree of cp, a
// checkpoint of this log, and returns the proof in C2SP tlog-proof form
// (with cp's note, cosignatures included) for evidence bundles.
func (r *Remote) VerifyInclusion(ctx context.Context, cp Checkpoint, index uint64, entry [32]byte) (*Proof, error) {
	if _, _, err := OpenCheckpoint(cp.Note, r.v); err != nil {
		return nil, err
	}
	if index >= cp.Size {
		return nil, fmt.Errorf("index %d is not below the checkpoint size %d", index, cp.Size)
	}
	pb, err := client.NewProofBuilder(ctx, cp.Size, r.readTile)
	if err != nil {
		return nil, fmt.Errorf("reading the log for the inclusion proof of %d in %d: %w: %v", index, cp.Size, ErrUnreadable, err)
	}
	hashes, err := pb.InclusionProof(ctx, index)
	if err != nil {
		return nil, fmt.Errorf("fetching the inclusion proof of %d in %d: %w: %v", index, cp.Size, ErrUnreadable, err)
	}
	if err := proof.VerifyInclusion(rfc6962.DefaultHasher, index, cp.Size, leafHash(entry[:]), hashes, cp.Hash[:]); err != nil {
		return nil, fmt.Errorf("entry %d of %s: %w", index, r.Origin(), err)
	}
	return &Proof{Index: index, Hashes: hashes, Checkpoint: cp.Note}, nil
}

// VerifyConsistency checks that the tree of newer extends the tree of older,
// two checkpoints of this log, and returns the consistency proof. If they
// are inconsistent and the log's tiles show it, the error wraps an
// *EquivocationError carrying the proof.
func (r *Remote) VerifyConsistency(ctx context.Context, older, newer Checkpoint) ([][]byte, error) {
	a, _, err := OpenCheckpoint(older.Note, r.v)
	if err != nil {
		return nil, err
	}
	b, _, err := OpenCheckpoint(newer.Note, r.v)
	if err != nil {
		return nil, err
	}
	if a.Size > b.Size {
		a, b = b, a
	}
	var hashes [][]byte
	if a.Size > 0 && a.Size < b.Size {
		pb, err := client.NewProofBuilder(ctx, b.Size, r.readTile)
		if err != nil {
			return nil, err
		}
		if hashes, err = pb.ConsistencyProof(ctx, a.Size, b.Size); err != nil {
			return nil, fmt.Errorf("fetching the consistency proof from %d to %d: %w", a.Size, b.Size, err)
		}
	}
	if err := proof.VerifyConsistency(rfc6962.DefaultHasher, a.Size, b.Size, hashes, a.Hash[:], b.Hash[:]); err != nil {
		if e, perr := proveEquivocation(ctx, r.v, a.Note, b.Note, r.readTile); perr == nil {
			return nil, &EquivocationError{Proof: e}
		}
		return nil, fmt.Errorf("checkpoints %d and %d of %s: %w", a.Size, b.Size, r.Origin(), err)
	}
	return hashes, nil
}

// ProveEquivocation builds the proof that two checkpoints of this log cannot
// both be true, reading the tiles of the larger one from the log (which
// must still serve that tree). It returns an error wrapping
// ErrNotEquivocation if they are consistent.
func (r *Remote) ProveEquivocation(ctx context.Context, a, b []byte) (*Equivocation, error) {
	return proveEquivocation(ctx, r.v, a, b, r.readTile)
}

// EquivocationError reports that a log signed two checkpoints that cannot
// both be true, with the proof.
type EquivocationError struct {
	Proof *Equivocation
}

func (e *EquivocationError) Error() string {
	return fmt.Sprintf("log %s equivocated", e.Proof.Origin())
}

// Unwrap returns ErrEquivocated.
func (e *EquivocationError) Unwrap() error { return ErrEquivocated }

// ErrEquivocated is wrapped by [EquivocationError].
var ErrEquivocated = errors.New("log equivocated")

// maxBundle bounds an entry bundle read: 256 entries of at most 64 KiB.
const maxBundle = layout.EntryBundleWidth * (2 + 1<<16)

// Entries reads the entries at indexes from up to (not including) to from
// the log's entry bundles (C2SP tlog-tiles), each bundle read at the width
// the tree of size to gives it (the full bundle when the partial one is
// gone). The entries are as the log serves them: check them against a
// checkpoint before believing them.
func (r *Remote) Entries(ctx context.Context, from, to uint64) ([][]byte, error) {
	if from > to {
		return nil, fmt.Errorf("entries from %d to %d", from, to)
	}
	out := make([][]byte, 0, to-from)
	for i := from; i < to; {
		k := i / layout.EntryBundleWidth
		p := layout.PartialTileSize(0, k, to)
		b, err := r.fetch(ctx, layout.EntriesPath(k, p), maxBundle)
		if p > 0 && errors.Is(err, os.ErrNotExist) {
			b, err = r.fetch(ctx, layout.EntriesPath(k, 0), maxBundle)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrUnreadable, err)
		}
		entries, err := parseBundle(b)
		if err != nil {
			return nil, fmt.Errorf("%w: bundle %d of %s: %w", ErrUnreadable, k, r.Origin(), err)
		}
		first := k * layout.EntryBundleWidth
		want := min(uint64(layout.EntryBundleWidth), to-first)
		if uint64(len(entries)) < want || uint64(len(entries)) > layout.EntryBundleWidth {
			return nil, fmt.Errorf("%w: bundle %d of %s holds %d entries, want %d", ErrUnreadable, k, r.Origin(), len(entries), want)
		}
		out = append(out, entries[i-first:want]...)
		i = first + want
	}
	return out, nil
}
