package tlog

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/transparency-dev/tessera/api/layout"
	sumdb "golang.org/x/mod/sumdb/tlog"
)

// tileAddr names one C2SP tlog-tiles resource below tile/.
type tileAddr struct {
	entries bool   // an entry bundle rather than a hash tile
	level   uint64 // hash tile level, 0..63; 0 for entry bundles
	index   uint64
	width   uint8 // 1..255 for a partial tile, 0 for a full one
}

// path returns the canonical path of the resource, relative to the log's
// prefix (tile/...).
func (a tileAddr) path() string {
	if a.entries {
		return layout.EntriesPath(a.index, a.width)
	}
	return layout.TilePath(a.level, a.index, a.width)
}

var errBadTilePath = errors.New("not a tlog-tiles tile path")

// parseTilePath parses tile/<L>/<N>[.p/<W>] or tile/entries/<N>[.p/<W>],
// accepting only the canonical form (so that every resource has exactly
// one path).
func parseTilePath(p string) (tileAddr, error) {
	var a tileAddr
	rest, ok := strings.CutPrefix(p, "tile/")
	if !ok {
		return a, errBadTilePath
	}
	first, rest, ok := strings.Cut(rest, "/")
	if !ok {
		return a, errBadTilePath
	}
	if first == "entries" {
		a.entries = true
	} else {
		l, err := parseDecimal(first)
		if err != nil || l > 63 {
			return a, errBadTilePath
		}
		a.level = l
	}
	if n, w, ok := strings.Cut(rest, ".p/"); ok {
		width, err := parseDecimal(w)
		if err != nil || width < 1 || width > 255 {
			return a, errBadTilePath
		}
		a.width = uint8(width)
		rest = n
	}
	groups := strings.Split(rest, "/")
	if len(groups) > 7 { // 2^64 has 20 decimal digits
		return a, errBadTilePath
	}
	var idx uint64
	for i, g := range groups {
		if i < len(groups)-1 {
			var ok bool
			if g, ok = strings.CutPrefix(g, "x"); !ok {
				return a, errBadTilePath
			}
			if i == 0 && g == "000" {
				return a, errBadTilePath // a leading zero group is not canonical
			}
		}
		if len(g) != 3 || g[0] < '0' || g[0] > '9' || g[1] < '0' || g[1] > '9' || g[2] < '0' || g[2] > '9' {
			return a, errBadTilePath
		}
		d := uint64(g[0]-'0')*100 + uint64(g[1]-'0')*10 + uint64(g[2]-'0')
		if idx > (^uint64(0)-d)/1000 {
			return a, errBadTilePath
		}
		idx = idx*1000 + d
	}
	a.index = idx
	return a, nil
}

// truncateTile returns the partial resource of width w cut from the full
// resource data: the first w hashes of a hash tile, the first w entries of
// an entry bundle. Tiles only ever grow, so this is exactly the content the
// partial resource had.
func truncateTile(entries bool, data []byte, w int) ([]byte, error) {
	if !entries {
		if len(data) < w*HashSize {
			return nil, fmt.Errorf("tile of %d bytes has fewer than %d hashes", len(data), w)
		}
		return data[:w*HashSize], nil
	}
	off := 0
	for i := 0; i < w; i++ {
		if off+2 > len(data) {
			return nil, fmt.Errorf("entry bundle has fewer than %d entries", w)
		}
		off += 2 + int(binary.BigEndian.Uint16(data[off:]))
		if off > len(data) {
			return nil, errors.New("entry bundle is truncated")
		}
	}
	return data[:off], nil
}

// parseBundle splits an entry bundle into its entries.
func parseBundle(data []byte) ([][]byte, error) {
	var out [][]byte
	for off := 0; off < len(data); {
		if off+2 > len(data) {
			return nil, errors.New("entry bundle: dangling length byte")
		}
		n := int(binary.BigEndian.Uint16(data[off:]))
		off += 2
		if off+n > len(data) {
			return nil, errors.New("entry bundle: entry runs past the end")
		}
		out = append(out, data[off:off+n])
		off += n
	}
	return out, nil
}

// readTileFunc reads a hash tile; for a partial tile (p > 0) it falls back to
// the full tile when the partial one is gone, and it returns an error
// wrapping os.ErrNotExist when neither exists. This is tessera's
// client.TileFetcherFunc contract.
type readTileFunc func(ctx context.Context, level, index uint64, p uint8) ([]byte, error)

// tileReader adapts a readTileFunc to x/mod/sumdb/tlog's TileReader, so that
// x/mod's TileHashReader can authenticate tiles against a tree hash.
type tileReader struct {
	ctx  context.Context
	read readTileFunc
}

func (r tileReader) Height() int { return layout.TileHeight }

func (r tileReader) ReadTiles(tiles []sumdb.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		if t.L < 0 || t.H != layout.TileHeight || t.W < 1 || t.W > layout.TileWidth {
			return nil, fmt.Errorf("unexpected tile %+v", t)
		}
		var p uint8
		if t.W < layout.TileWidth {
			p = uint8(t.W)
		}
		data, err := r.read(r.ctx, uint64(t.L), uint64(t.N), p)
		if err != nil {
			return nil, err
		}
		if data, err = truncateTile(false, data, t.W); err != nil {
			return nil, err
		}
		out[i] = data
	}
	return out, nil
}

func (r tileReader) SaveTiles([]sumdb.Tile, [][]byte) {}

// rootAt returns the root hash of the tree of size m, computed from the tiles
// of a tree of size n ≥ m whose root is rootN. x/mod's tile hash reader
// checks every tile it reads against rootN, so the result is the true root
// at m of the tree rootN commits to.
func rootAt(ctx context.Context, read readTileFunc, n uint64, rootN [HashSize]byte, m uint64) ([HashSize]byte, error) {
	if m > n {
		return [HashSize]byte{}, fmt.Errorf("size %d is above the tree size %d", m, n)
	}
	if m == 0 {
		return emptyRoot(), nil
	}
	thr := sumdb.TileHashReader(sumdb.Tree{N: int64(n), Hash: sumdb.Hash(rootN)}, tileReader{ctx: ctx, read: read})
	h, err := sumdb.TreeHash(int64(m), thr)
	if err != nil {
		return [HashSize]byte{}, fmt.Errorf("computing the root at size %d: %w", m, err)
	}
	return h, nil
}
