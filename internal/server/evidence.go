package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/agreement"
	"github.com/hotline-net/hotline/internal/chain"
	"github.com/hotline-net/hotline/internal/evidence"
	"github.com/hotline-net/hotline/internal/store"
	"github.com/hotline-net/hotline/internal/store/postgres"
	"github.com/hotline-net/hotline/internal/store/sqlite"
)

// tesseraDir is where a node's log keeps its tiles (tlog.Config.Dir's
// "tessera").
func tesseraDir(dir string) string { return filepath.Join(dir, LogDir, "tessera") }

// EvidenceSource returns what an evidence export reads of this running
// node: its store, its own log's tiles, its keys and the chain it holds.
func (s *Server) EvidenceSource() evidence.Source {
	return evidence.Source{
		Party: s.cfg.Party, Store: s.node.Store(), Agreement: s.node.Agreement(),
		Keys: s.keys, Tiles: evidence.DirTiles(tesseraDir(s.dir)), Now: s.now(),
	}
}

// OpenEvidence opens a node folder for an evidence export, without
// starting the node: its config, keys, store and log tiles, and the
// agreement chain it holds. Nothing is written but what opening the store
// writes. A SQLite store in use by a running node cannot be opened: stop
// the node, or export through it. The caller closes the store.
func OpenEvidence(ctx context.Context, dir string, now time.Time) (evidence.Source, error) {
	cfg, err := LoadConfig(dir)
	if err != nil {
		return evidence.Source{}, err
	}
	keys, err := hotline.LoadKeySet(filepath.Join(dir, KeysDir))
	if err != nil {
		return evidence.Source{}, err
	}
	if keys.Party != cfg.Party {
		return evidence.Source{}, fmt.Errorf("the keys in %s are %s's, the config says %s", filepath.Join(dir, KeysDir), keys.Party, cfg.Party)
	}
	logger := slog.New(slog.DiscardHandler)
	var st store.Store
	if cfg.Database != "" {
		st, err = postgres.Open(ctx, postgres.Config{URL: cfg.Database, Schema: "hotline_" + strings.ToLower(strings.ReplaceAll(cfg.Party, "-", "_")), Logger: logger})
	} else {
		st, err = sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(dir, DatabaseFile), Logger: logger})
	}
	if err != nil {
		return evidence.Source{}, fmt.Errorf("opening the store (a node running on this folder holds it: stop it first): %w", err)
	}
	agr, err := heldChain(ctx, st, path(dir, cfg.Agreement))
	if err != nil {
		st.Close()
		return evidence.Source{}, err
	}
	return evidence.Source{Party: cfg.Party, Store: st, Agreement: agr, Keys: keys, Tiles: evidence.DirTiles(tesseraDir(dir)), Now: now}, nil
}

// heldChain returns the chain a node holds: the store's, else its file.
func heldChain(ctx context.Context, st store.Store, file string) (*agreement.Agreement, error) {
	raw, err := st.Value(ctx, chain.ChainKey)
	if errors.Is(err, store.ErrNotFound) {
		return agreement.Load(file)
	}
	if err != nil {
		return nil, err
	}
	return agreement.Parse(raw)
}
