package evidence

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/tessera/api/layout"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/agreement"
	"github.com/hotline-net/hotline/internal/gossip"
)

// LogCheck is what [VerifyLog] checks: a log's tiles, its latest
// checkpoint, and the witnessed checkpoints it must extend.
type LogCheck struct {
	// Agreement is the chain the keys come from; Pin its trust anchor.
	Agreement *agreement.Agreement
	Pin       Pin
	// Tiles reads the log.
	Tiles TileFunc
	// Latest is the log's latest signed checkpoint.
	Latest []byte
	// Witnessed are checkpoints of the log, each of which must carry the
	// witness quorum and be extended by Latest.
	Witnessed [][]byte
	// At is the time the keys are looked up at.
	At time.Time
}

// LogReport is what [VerifyLog] found.
type LogReport struct {
	Owner string
	// Size is the latest checkpoint's size; Witnessed says whether it
	// carries the quorum itself.
	Size      uint64
	Witnessed bool
	// Checked counts the witnessed checkpoints proven consistent with the
	// latest, from the log's own tiles; Largest is the largest of them.
	Checked int
	Largest uint64
}

// VerifyLog checks a node's log against its witnessed checkpoints: the
// chain from the pin, the latest checkpoint's signature, each witnessed
// checkpoint's quorum, that the log's tiles prove each one consistent with
// the latest (so that the log was neither rewound nor forked since the
// witnesses saw it), and that no witness's timestamps go down as the log
// grows.
func VerifyLog(ctx context.Context, c LogCheck) (*LogReport, error) {
	if err := c.Agreement.Verify(); err != nil {
		return nil, unverified("agreement: %v", err)
	}
	if err := c.Pin.check(c.Agreement); err != nil {
		return nil, err
	}
	latest, err := gossip.Verify(c.Agreement, c.Latest, c.At)
	if err != nil {
		return nil, unverified("the latest checkpoint: %v", err)
	}
	rep := &LogReport{Owner: latest.Owner, Size: latest.Size, Witnessed: latest.Witnessed}
	f := &facts{cosigs: map[cosKey]time.Time{}, roots: map[sizeKey][32]byte{}, equivocations: map[string]string{}}
	f.checkpoint(latest)
	for i, n := range c.Witnessed {
		cp, err := gossip.Verify(c.Agreement, n, c.At)
		if err != nil {
			return nil, unverified("witnessed checkpoint %d: %v", i+1, err)
		}
		if cp.Owner != latest.Owner {
			return nil, unverified("witnessed checkpoint %d is of %s's log, not %s's", i+1, cp.Owner, latest.Owner)
		}
		if !cp.Witnessed {
			return nil, unverified("witnessed checkpoint %d (size %d) does not carry the witness quorum", i+1, cp.Size)
		}
		if cp.Size > latest.Size {
			return nil, unverified("the log was rewound: witnesses cosigned size %d, the log's checkpoint is of size %d", cp.Size, latest.Size)
		}
		hashes, err := proveConsistency(ctx, c.Tiles, cp.Size, latest.Size)
		if err != nil {
			return nil, unverified("witnessed checkpoint %d (size %d): %v", i+1, cp.Size, err)
		}
		if cp.Size == latest.Size && cp.Hash != latest.Hash {
			return nil, unverified("the log forked: witnessed checkpoint %d and the latest are both of size %d, with different roots", i+1, cp.Size)
		}
		if err := proof.VerifyConsistency(rfc6962.DefaultHasher, cp.Size, latest.Size, hashes, cp.Hash[:], latest.Hash[:]); err != nil {
			return nil, unverified("the log forked: its tiles do not show witnessed checkpoint %d (size %d) extended by the latest (size %d): %v", i+1, cp.Size, latest.Size, err)
		}
		f.checkpoint(cp)
		rep.Checked++
		rep.Largest = max(rep.Largest, cp.Size)
	}
	if len(f.equivocations) > 0 {
		return nil, unverified("%s's log equivocated: %s", latest.Owner, f.equivocations[latest.Owner])
	}
	if err := f.monotonic(); err != nil {
		return nil, err
	}
	return rep, nil
}

// URLTiles reads a log's tiles over C2SP tlog-tiles at base (a node's
// URL followed by /log) with hc; Checkpoint reads its checkpoint.
type URLTiles struct {
	Base string
	HC   *http.Client
}

func (u URLTiles) get(ctx context.Context, p string, limit int64) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(u.Base, "/")+"/"+p, nil)
	if err != nil {
		return nil, err
	}
	resp, err := u.HC.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return nil, fmt.Errorf("GET %s: %w", req.URL, os.ErrNotExist)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: status %d", req.URL, resp.StatusCode)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err == nil && int64(len(b)) > limit {
		err = errors.New("too long")
	}
	return b, err
}

// Tile reads a tile, falling back to the full tile for a partial one.
func (u URLTiles) Tile(ctx context.Context, level, index uint64, p uint8) ([]byte, error) {
	b, err := u.get(ctx, layout.TilePath(level, index, p), layout.TileWidth*32)
	if p > 0 && errors.Is(err, os.ErrNotExist) {
		b, err = u.get(ctx, layout.TilePath(level, index, 0), layout.TileWidth*32)
	}
	return b, err
}

// Checkpoint reads the log's checkpoint.
func (u URLTiles) Checkpoint(ctx context.Context) ([]byte, error) {
	return u.get(ctx, "checkpoint", 1<<20)
}

// CheckpointsOf returns the checkpoints of party's log that bundles carry,
// each once, without verifying them (VerifyLog does).
func CheckpointsOf(bundles []*Bundle, a *agreement.Agreement, party string) [][]byte {
	origin, err := a.LogOrigin(party)
	if err != nil {
		return nil
	}
	var out [][]byte
	for _, b := range bundles {
		for _, n := range b.Body.Checkpoints {
			if strings.HasPrefix(string(n), origin+"\n") {
				out = append(out, n)
			}
		}
	}
	slices.SortStableFunc(out, func(x, y []byte) int { return strings.Compare(string(x), string(y)) })
	return slices.CompactFunc(out, func(x, y []byte) bool { return string(x) == string(y) })
}

// ParsePin parses a --genesis hash or a --depositary-key vkey.
func ParsePin(genesis, depositaryKey string) (Pin, error) {
	var p Pin
	if genesis != "" {
		id, err := hotline.ParseID(genesis)
		if err != nil {
			return p, fmt.Errorf("--genesis %q: want the 64 hex digits of version 1's hash: %w", genesis, err)
		}
		p.Genesis = id
	}
	p.DepositaryKey = depositaryKey
	if p.Genesis.IsZero() && p.DepositaryKey == "" {
		return p, errors.New("pin the agreement: --genesis HASH (version 1's hash) or --depositary-key VKEY")
	}
	return p, nil
}
