package evidence

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"time"

	"github.com/transparency-dev/tessera/api/layout"
	"github.com/transparency-dev/tessera/client"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/agreement"
	"github.com/hotline-net/hotline/internal/node"
	"github.com/hotline-net/hotline/internal/store"
	"github.com/hotline-net/hotline/internal/tlog"
)

// TileFunc reads a hash tile of a log, with tessera's
// client.TileFetcherFunc contract.
type TileFunc func(ctx context.Context, level, index uint64, p uint8) ([]byte, error)

// DirTiles reads the tiles of a log from its tessera folder (a node's
// log/tessera), offline.
func DirTiles(dir string) TileFunc {
	return func(_ context.Context, level, index uint64, p uint8) ([]byte, error) {
		b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(layout.TilePath(level, index, p))))
		if p > 0 && errors.Is(err, os.ErrNotExist) {
			b, err = os.ReadFile(filepath.Join(dir, filepath.FromSlash(layout.TilePath(level, index, 0))))
		}
		return b, err
	}
}

// Source is what an export reads: one node's store, log and keys, and the
// agreement chain it holds. Nothing is written and nothing is fetched.
type Source struct {
	Party     string
	Store     store.Store
	Agreement *agreement.Agreement
	// Keys are the party's keys: the message key signs the bundle, the
	// encryption key opens received envelopes to reveal their inner
	// headers.
	Keys *hotline.KeySet
	// Tiles reads the node's own log.
	Tiles TileFunc
	// Now is the export's time.
	Now time.Time
}

// Exported is what [Export] returns: the bundle and what it could not put in.
type Exported struct {
	Bundle *Bundle
	// Unrevealed lists envelopes left out because their inner header could
	// not be revealed (sent before senders kept it, or sealed to an
	// encryption key the node no longer holds).
	Unrevealed []hotline.ID
}

// Export gathers from src the evidence of every obligation between
// src.Party and about: the envelopes exchanged (created in [since, until)
// when those are not zero) with their inner headers, both sides' receipts
// and the relays' receipts that src holds, the witnessed checkpoints of
// src's own log with every cosignature, the inclusion proofs of src's log
// entries for them, the consistency proofs that link those checkpoints,
// and the agreement chain.
func Export(ctx context.Context, src Source, about string, since, until time.Time) (*Exported, error) {
	if about == src.Party {
		return nil, fmt.Errorf("a bundle is about another party, not %s itself", about)
	}
	if _, err := src.Agreement.Party(about); err != nil {
		return nil, err
	}
	origin, err := src.Agreement.LogOrigin(src.Party)
	if err != nil {
		return nil, err
	}
	out := &Exported{Bundle: &Bundle{Party: src.Party, About: about, Exported: src.Now, Since: since, Until: until}}
	body := &out.Bundle.Body
	body.Agreement = src.Agreement.Marshal()

	type leaf struct {
		dir hotline.Direction
		id  hotline.ID
	}
	var leaves []leaf
	q := store.MessageQuery{MessageFilter: store.MessageFilter{Party: about}, Oldest: true, Content: true, Limit: 1000}
	for {
		page, err := src.Store.Messages(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("listing messages: %w", err)
		}
		for i := range page.Envelopes {
			e := &page.Envelopes[i]
			if !since.IsZero() && e.Created.Before(since) || !until.IsZero() && !e.Created.Before(until) {
				continue
			}
			inner, err := revealInner(ctx, src, e)
			if err != nil {
				out.Unrevealed = append(out.Unrevealed, e.ID)
				continue
			}
			body.Envelopes = append(body.Envelopes, Envelope{Envelope: e.Raw, Inner: inner})
			leaves = append(leaves, leaf{e.Direction, e.ID})
			if e.Direction == hotline.Received {
				r, err := src.Store.Receipt(ctx, e.ID, src.Party)
				if err == nil {
					body.Receipts = append(body.Receipts, r.Note)
				} else if !errors.Is(err, store.ErrNotFound) {
					return nil, fmt.Errorf("reading the receipt of %s: %w", e.ID, err)
				}
				continue
			}
			row, err := src.Store.OutboxEntry(ctx, e.ID, about)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("reading the delivery of %s: %w", e.ID, err)
			}
			if row.Receipt != nil {
				body.Receipts = append(body.Receipts, row.Receipt.Note)
				leaves = append(leaves, leaf{hotline.ReceiptReceived, hotline.NoteID(noteText(row.Receipt.Note))})
			}
			if len(row.RelayReceipt) > 0 {
				body.RelayReceipts = append(body.RelayReceipts, row.RelayReceipt)
			}
		}
		if page.Next == "" {
			break
		}
		q.Cursor = page.Next
	}

	// The witnessed checkpoints of this node's own log, smallest first.
	ws, err := src.Store.Witnessed(ctx, origin, 0)
	if err != nil {
		return nil, fmt.Errorf("reading the witnessed checkpoints: %w", err)
	}
	slices.SortFunc(ws, func(a, b store.WitnessedCheckpoint) int { return cmpUint(a.Size, b.Size) })
	// first[i] lists the sizes of the checkpoints, among ws[i:], that hold
	// each witness's earliest cosignature: what neutral times are made of
	// for an entry below ws[i].Size.
	first := make([][]uint64, len(ws))
	earliest := map[string]store.CosignatureRecord{}
	for i := len(ws) - 1; i >= 0; i-- {
		for _, c := range ws[i].Cosignatures {
			if e, ok := earliest[c.Witness]; !ok || !e.Time.Before(c.Time) {
				earliest[c.Witness] = c
			}
		}
		for _, c := range earliest {
			first[i] = append(first[i], c.Size)
		}
	}
	keep := map[uint64]bool{}
	if len(ws) > 0 {
		keep[ws[len(ws)-1].Size] = true // the latest: what "missed" needs
	}
	bySize := map[uint64]*store.WitnessedCheckpoint{}
	for i := range ws {
		bySize[ws[i].Size] = &ws[i]
	}
	for _, l := range leaves {
		lr, err := src.Store.LeafOf(ctx, l.dir, l.id)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading the log entry of %s: %w", l.id, err)
		}
		if !lr.Sequenced {
			continue // not yet sequenced
		}
		idx := lr.Index
		i := sort.Search(len(ws), func(i int) bool { return ws[i].Size > idx })
		if i == len(ws) {
			continue // no witnessed checkpoint holds it yet
		}
		for _, s := range first[i] {
			keep[s] = true
		}
		keep[ws[i].Size] = true
		cp := ws[i]
		hashes, err := proveInclusion(ctx, src.Tiles, idx, cp.Size)
		if err != nil {
			return nil, err
		}
		p := &tlog.Proof{Extra: append([]byte{byte(l.dir)}, l.id[:]...), Index: idx, Hashes: hashes, Checkpoint: fullNote(&cp)}
		body.Inclusion = append(body.Inclusion, p.Marshal())
	}
	sizes := slices.Sorted(func(yield func(uint64) bool) {
		for s := range keep {
			if !yield(s) {
				return
			}
		}
	})
	for i, s := range sizes {
		body.Checkpoints = append(body.Checkpoints, fullNote(bySize[s]))
		if i == 0 {
			continue
		}
		hashes, err := proveConsistency(ctx, src.Tiles, sizes[i-1], s)
		if err != nil {
			return nil, err
		}
		c := &Consistency{Origin: origin, Old: sizes[i-1], New: s, Hashes: hashes}
		body.Consistency = append(body.Consistency, c.Marshal())
	}
	return out, nil
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func proveInclusion(ctx context.Context, tiles TileFunc, index, size uint64) ([][]byte, error) {
	pb, err := client.NewProofBuilder(ctx, size, client.TileFetcherFunc(tiles))
	if err != nil {
		return nil, fmt.Errorf("reading the log's tiles: %w", err)
	}
	h, err := pb.InclusionProof(ctx, index)
	if err != nil {
		return nil, fmt.Errorf("inclusion proof of %d in %d: %w", index, size, err)
	}
	return h, nil
}

func proveConsistency(ctx context.Context, tiles TileFunc, old, size uint64) ([][]byte, error) {
	if old == 0 || old == size {
		return nil, nil
	}
	pb, err := client.NewProofBuilder(ctx, size, client.TileFetcherFunc(tiles))
	if err != nil {
		return nil, fmt.Errorf("reading the log's tiles: %w", err)
	}
	h, err := pb.ConsistencyProof(ctx, old, size)
	if err != nil {
		return nil, fmt.Errorf("consistency proof from %d to %d: %w", old, size, err)
	}
	return h, nil
}

// revealInner returns the inner header of e: the one the node kept when it
// sealed e, or the one it opens with its encryption key.
func revealInner(ctx context.Context, src Source, e *store.Envelope) ([]byte, error) {
	env, err := hotline.Parse(e.Raw)
	if err != nil {
		return nil, err
	}
	if e.Direction == hotline.Sent {
		inner, err := src.Store.Value(ctx, node.SentInnerKey(e.ID))
		if err != nil {
			return nil, err
		}
		if _, err := env.Header.CheckInner(inner); err != nil {
			return nil, err
		}
		return inner, nil
	}
	m, err := env.Open(src.Party, src.Keys.Encryption)
	if err != nil {
		return nil, err
	}
	return m.InnerHeader, nil
}

// noteText returns a signed note's text: up to and including the newline
// before the blank line.
func noteText(signed []byte) []byte {
	i := bytes.Index(signed, []byte("\n\n"))
	if i < 0 {
		return signed
	}
	return signed[:i+1]
}

// fullNote returns a witnessed checkpoint's note with every cosignature
// the store recorded, the note's own signature lines first.
func fullNote(w *store.WitnessedCheckpoint) []byte {
	text := noteText(w.Note)
	sigs := w.Note[len(text):]
	out := bytes.Clone(w.Note)
	for _, c := range w.Cosignatures {
		line := []byte(c.Signature + "\n")
		if !bytes.Contains(sigs, line) {
			out = append(out, line...)
		}
	}
	return out
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func unb64(s string) ([]byte, error) {
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil || b64(b) != s {
		return nil, errors.New("not canonical base64")
	}
	return b, nil
}

// OwnWitnessed returns the witnessed checkpoints src's store recorded of
// its own log, each with every cosignature recorded, smallest first.
func OwnWitnessed(ctx context.Context, src Source) ([][]byte, error) {
	origin, err := src.Agreement.LogOrigin(src.Party)
	if err != nil {
		return nil, err
	}
	ws, err := src.Store.Witnessed(ctx, origin, 0)
	if err != nil {
		return nil, fmt.Errorf("reading the witnessed checkpoints: %w", err)
	}
	slices.SortFunc(ws, func(a, b store.WitnessedCheckpoint) int { return cmpUint(a.Size, b.Size) })
	out := make([][]byte, len(ws))
	for i := range ws {
		out[i] = fullNote(&ws[i])
	}
	return out, nil
}
