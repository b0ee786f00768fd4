package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/agreement"
	"github.com/hotline-net/hotline/internal/fedapi"
	"github.com/hotline-net/hotline/internal/node"
	"github.com/hotline-net/hotline/internal/tlog"
)

// RestoreReport says what [Restore] did.
type RestoreReport struct {
	// Before is the number of entries the log held, After the number it
	// holds.
	Before uint64 `json:"before"`
	After  uint64 `json:"after"`
	// Witnessed is the largest checkpoint of the log a witness holds
	// cosigned, and Witness that witness; Checked counts the witnesses'
	// checkpoints the log was verified against.
	Witnessed uint64 `json:"witnessed"`
	Witness   string `json:"witness,omitempty"`
	Checked   int    `json:"checked"`
	// Redelivered counts the envelopes each peer redelivered; Stored the
	// envelopes stored again, each at the index its receipt names.
	Redelivered map[string]int `json:"redelivered"`
	Stored      int            `json:"stored"`
	// Sequences holds, for each peer whose counter the backup had behind,
	// the last sequence number the peer received from this node: the
	// node's next envelope to it continues after it.
	Sequences map[string]uint64 `json:"sequences"`
	// Copied counts the entries taken from a peer's copy of the log
	// (tlog.Mirror), where no receipt names them: envelopes this node
	// sent, receipts and refusals it received after the backup; CopiedFrom
	// names that peer.
	Copied     int    `json:"copied,omitempty"`
	CopiedFrom string `json:"copied_from,omitempty"`
	// Unreachable names the witnesses and peers that did not answer.
	Unreachable []string `json:"unreachable,omitempty"`
	// Saved is the copy of the log folder as it was before the restore.
	Saved string `json:"saved,omitempty"`
}

// Restore refills the log of the node folder dir, restored from a backup,
// up to the largest checkpoint its witnesses cosigned, and stores again
// what the backup lacks. The node must not be running. It
//
//  1. asks every witness of the policy for the latest checkpoint of this
//     log it cosigned (the largest is what the log must reach);
//  2. asks every peer (a signed POST /v1/redeliver) for the envelopes it
//     sent this node and holds this node's receipts for, naming a log
//     index at or above what the restored store or log holds;
//  3. appends, in index order, the entry each receipt names, up to the
//     largest cosigned size and on while receipts follow one another;
//     where an index below the cosigned size has no receipt (an envelope
//     this node sent, a receipt or refusal it received), it takes the
//     entries from a peer's copy of the log (GET /mirror/, see
//     [Server.SyncMirrors]), checked first: with the entries the log
//     holds, they must build the largest cosigned checkpoint. With no such
//     copy the restore stops before the log is touched;
//  4. checks the log against every witness's checkpoint;
//  5. stores each redelivered envelope at the index its receipt names,
//     issuing the same receipt, byte for byte;
//  6. records the witnesses' checkpoints as the floor the log never goes
//     below again.
//
// The log folder is copied to log.before-restore-TIME first, and put back
// if a check fails.
func Restore(ctx context.Context, dir string, opts Options) (rep *RestoreReport, err error) {
	if opts.Bodies == nil {
		return nil, errors.New("server: Options.Bodies is required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	cfg, err := LoadConfig(dir)
	if err != nil {
		return nil, err
	}
	if opts.Database != "" {
		cfg.Database = opts.Database
	}
	s := &Server{dir: dir, cfg: cfg, opts: opts, logger: opts.Logger.With("party", cfg.Party)}
	defer func() {
		if cerr := s.closeAll(); err == nil && cerr != nil {
			err = cerr
		}
	}()
	if s.keys, err = hotline.LoadKeySet(filepath.Join(dir, KeysDir)); err != nil {
		return nil, err
	}
	if s.agr, err = agreement.Load(path(dir, cfg.Agreement)); err != nil {
		return nil, fmt.Errorf("loading the agreement: %w", err)
	}
	if err := s.agr.Verify(); err != nil {
		return nil, fmt.Errorf("verifying the agreement: %w", err)
	}
	if s.store, err = s.openStore(ctx); err != nil {
		return nil, fmt.Errorf("opening the store: %w", err)
	}
	if err := s.recordAgreement(ctx); err != nil {
		return nil, err
	}
	logV, err := s.keys.Checkpoint.Verifier()
	if err != nil {
		return nil, err
	}
	client := &fedapi.Client{Key: s.keys.Message, Now: s.now}
	defer client.CloseIdleConnections()
	rep = &RestoreReport{Redelivered: map[string]int{}, Sequences: map[string]uint64{}}

	// 1. What the witnesses cosigned.
	pol, err := s.witnessPolicy()
	if err != nil {
		return nil, fmt.Errorf("the witness policy: %w", err)
	}
	var views []tlog.Checkpoint
	var viewOf []string
	for _, w := range pol.Witnesses {
		if w.Name == cfg.Party || w.URL == "" {
			continue
		}
		wv, err := tlog.NewCosignatureVerifier(w.Key)
		if err != nil {
			return nil, err
		}
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		cp, err := tlog.FetchCosigned(cctx, nil, w.URL, logV, wv)
		cancel()
		if err != nil {
			s.logger.Warn("restore: no cosigned checkpoint from a witness", "witness", w.Name, "err", err)
			rep.Unreachable = append(rep.Unreachable, "witness "+w.Name)
			continue
		}
		views, viewOf = append(views, cp), append(viewOf, w.Name)
		if cp.Size > rep.Witnessed {
			rep.Witnessed, rep.Witness = cp.Size, w.Name
		}
	}
	if len(views) == 0 {
		return nil, errors.New("no witness answered with a cosigned checkpoint of this log: nothing to restore it against")
	}

	s.cosigs = &storeCosignatures{st: s.store}
	// No policy: no witness is asked, so none stops the log while it is
	// refilled. No floor either: a node started on the restored folder
	// may have raised it already to what a witness showed it, above the
	// restored log, which tlog.Open refuses; the log is checked against
	// every witness's checkpoint below, before anything else reads it.
	s.log, err = tlog.Open(ctx, tlog.Config{
		Dir: filepath.Join(dir, LogDir), Signer: s.keys.Checkpoint, Verifier: logV,
		Logger: s.logger, Clock: opts.Clock, Cosignatures: noFloor{},
		CheckpointInterval: 100 * time.Millisecond, RepublishInterval: time.Minute,
	})
	if err != nil {
		return nil, fmt.Errorf("opening the log: %w", err)
	}
	if rep.Before, err = s.log.Size(ctx); err != nil {
		return nil, err
	}

	// 2. What the peers hold receipts for, beyond what the store holds (a
	// log/ newer than the store already has the entries of some).
	from, err := s.store.HighWater(ctx)
	if err != nil {
		return nil, err
	}
	from = min(from, rep.Before)
	items := map[uint64]node.Redelivery{}
	for _, p := range s.agr.Parties() {
		if p.ID == cfg.Party {
			continue
		}
		eps, err := s.agr.Endpoints(p.ID)
		if err != nil || len(eps) == 0 {
			continue
		}
		n, last, err := redeliveries(ctx, client, p.ID, eps[0], from, s.keys, logV.Name(), items)
		if err != nil {
			s.logger.Warn("restore: no redelivery from a peer", "peer", p.ID, "err", err)
			rep.Unreachable = append(rep.Unreachable, "peer "+p.ID)
			continue
		}
		rep.Redelivered[p.ID] = n
		// The sequence numbers this node sent the peer after the backup:
		// the next envelope continues after the last the peer received.
		if last.LastSeq > 0 {
			var prev hotline.ID
			if last.LastID != nil {
				prev = *last.LastID
			}
			raised, err := s.store.RaiseSequence(ctx, p.ID, last.LastSeq, prev)
			if err != nil {
				return nil, err
			}
			if raised {
				rep.Sequences[p.ID] = last.LastSeq
			}
		}
	}

	// 3. The entries, in order, checked before the log is touched: those
	// the receipts name and, where they leave a gap below what the
	// witnesses cosigned, those of a peer's copy of the log.
	fill := make(map[uint64][hotline.EntrySize]byte, len(items))
	for i, it := range items {
		id, err := viewID(it.View)
		if err != nil {
			return nil, err
		}
		fill[i] = hotline.LeafEntry(logV.Name(), hotline.Received, id)
	}
	end := follow(fill, rep.Before)
	if end < rep.Witnessed {
		largest := views[slices.IndexFunc(viewOf, func(w string) bool { return w == rep.Witness })]
		copied, from, err := s.copiedLog(ctx, client, logV, largest, rep.Before)
		if err != nil {
			return nil, fmt.Errorf("witness %s cosigned %d entries and the log has %d, but no peer holds a receipt naming index %d "+
				"(an envelope this node sent or a receipt it received after the backup, or a peer that did not answer: %v), "+
				"and no peer's copy of the log fills the gap: %w", rep.Witness, rep.Witnessed, rep.Before, end, rep.Unreachable, err)
		}
		for k, e := range copied {
			i := rep.Before + uint64(k)
			if have, ok := fill[i]; ok && have != e {
				return nil, fmt.Errorf("%s's copy of the log holds at index %d another entry than the receipt redelivered for it names", from, i)
			}
			fill[i] = e
		}
		rep.Copied, rep.CopiedFrom = len(copied), from
		end = follow(fill, rep.Before)
	}
	if end > rep.Before {
		if rep.Saved, err = saveLog(dir); err != nil {
			return nil, err
		}
		putBack := func(cause error) error {
			s.log.Close()
			s.log = nil
			if err := os.RemoveAll(filepath.Join(dir, LogDir)); err != nil {
				return errors.Join(cause, err)
			}
			if err := copyDir(rep.Saved, filepath.Join(dir, LogDir)); err != nil {
				return errors.Join(cause, err)
			}
			return fmt.Errorf("%w (the log folder is as it was)", cause)
		}
		for i := rep.Before; i < end; i++ {
			got, err := s.log.Append(ctx, fill[i])
			if err != nil {
				return nil, putBack(err)
			}
			if got != i {
				return nil, putBack(fmt.Errorf("the log appended index %d, want %d", got, i))
			}
		}
		// 4. Against every witness.
		for k, cp := range views {
			cctx, cancel := context.WithTimeout(ctx, time.Minute)
			err := s.log.Matches(cctx, cp)
			cancel()
			if err != nil {
				return nil, putBack(fmt.Errorf("checking the refilled log against witness %s: %w", viewOf[k], err))
			}
		}
	} else {
		for k, cp := range views {
			cctx, cancel := context.WithTimeout(ctx, time.Minute)
			err := s.log.Matches(cctx, cp)
			cancel()
			if err != nil {
				return nil, fmt.Errorf("checking the log against witness %s: %w", viewOf[k], err)
			}
		}
	}
	rep.Checked = len(views)
	if rep.After, err = s.log.Size(ctx); err != nil {
		return nil, err
	}

	// 5. The envelopes, at their indexes, with their receipts.
	s.node, err = node.New(ctx, node.Config{
		Keys: s.keys, Agreement: s.agr, Store: s.store, Log: s.log, Bodies: opts.Bodies,
		Clock: opts.Clock, Logger: s.logger, Limits: hotline.Limits{MaxEnvelope: cfg.MaxEnvelope},
	})
	if err != nil {
		return nil, err
	}
	indexes := make([]uint64, 0, len(items))
	for i := range items {
		if i < end {
			indexes = append(indexes, i)
		}
	}
	slices.Sort(indexes)
	for _, i := range indexes {
		existed, err := s.node.Restored(ctx, items[i].View, items[i].Receipt)
		if err != nil {
			return nil, fmt.Errorf("storing again the envelope at index %d: %w", i, err)
		}
		if !existed {
			rep.Stored++
		}
	}

	// 6. The floor.
	for k, cp := range views {
		if err := s.cosigs.PutWitness(ctx, viewOf[k], cp.Note); err != nil {
			return nil, err
		}
	}
	s.logger.Info("log restored", "before", rep.Before, "after", rep.After, "witnessed", rep.Witnessed, "stored", rep.Stored)
	return rep, nil
}

// redeliveries pages through peer's redelivery of the envelopes it holds
// this node's receipts for from index from, checks each receipt is this
// node's for that envelope, and adds them to items by index. It returns
// how many, and the last sequence number (and envelope) peer received
// from this node.
func redeliveries(ctx context.Context, c *fedapi.Client, peer, base string, from uint64, keys *hotline.KeySet, origin string, items map[uint64]node.Redelivery) (n int, first node.RedeliverPage, err error) {
	self, err := keys.Message.Verifier()
	if err != nil {
		return 0, first, err
	}
	after := ""
	for {
		body, err := json.Marshal(node.RedeliverRequest{FromIndex: from, After: after})
		if err != nil {
			return n, first, err
		}
		cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		b, err := c.Redeliver(cctx, peer, base, body)
		cancel()
		if err != nil {
			return n, first, err
		}
		var page node.RedeliverPage
		if err := json.Unmarshal(b, &page); err != nil {
			return n, first, fmt.Errorf("redelivery page: %w", err)
		}
		if after == "" {
			first.LastSeq, first.LastID = page.LastSeq, page.LastID
		}
		for _, it := range page.Items {
			rc, _, err := hotline.OpenReceipt(it.Receipt, self)
			if err != nil {
				return n, first, fmt.Errorf("a redelivered receipt is not this node's: %w", err)
			}
			id, err := viewID(it.View)
			if err != nil {
				return n, first, fmt.Errorf("a redelivered envelope: %w", err)
			}
			if rc.Message != id || rc.Party != keys.Party || rc.LogOrigin != origin || rc.LogIndex < from {
				return n, first, fmt.Errorf("a redelivered receipt names %s at %s index %d, the envelope is %s", rc.Message, rc.LogOrigin, rc.LogIndex, id)
			}
			if old, ok := items[rc.LogIndex]; ok && string(old.Receipt) != string(it.Receipt) {
				return n, first, fmt.Errorf("two receipts of this node name index %d", rc.LogIndex)
			}
			items[rc.LogIndex] = it
			n++
		}
		if page.Next == "" || page.Next == after {
			return n, first, nil
		}
		after = page.Next
	}
}

// noFloor is a cosignature store that holds nothing: a log opened on it
// has no floor (see Restore).
type noFloor struct{}

func (noFloor) Load(context.Context) (tlog.CosignatureState, error) {
	return tlog.CosignatureState{}, nil
}
func (noFloor) PutWitness(context.Context, string, []byte) error { return nil }
func (noFloor) PutQuorum(context.Context, []byte) error          { return nil }

// viewID reads a view and returns its envelope's id.
func viewID(view []byte) (hotline.ID, error) {
	e, err := hotline.Read(bytes.NewReader(view), hotline.Limits{MaxEnvelope: int64(len(view))})
	if err != nil {
		return hotline.ID{}, err
	}
	return e.ID(), nil
}

// saveLog copies the log folder to log.before-restore-TIME and returns
// that folder.
func saveLog(dir string) (string, error) {
	to := filepath.Join(dir, LogDir+".before-restore-"+time.Now().UTC().Format("20060102T150405Z"))
	if err := copyDir(filepath.Join(dir, LogDir), to); err != nil {
		return "", fmt.Errorf("saving the log folder: %w", err)
	}
	return to, nil
}

func copyDir(from, to string) error {
	return filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(from, p)
		if err != nil {
			return err
		}
		dst := filepath.Join(to, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o700)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		if err := out.Sync(); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
}

// follow returns the first index from before that fill has no entry for.
func follow(fill map[uint64][hotline.EntrySize]byte, before uint64) uint64 {
	end := before
	for {
		if _, ok := fill[end]; !ok {
			return end
		}
		end++
	}
}

// copiedLog asks each peer for its copy of this node's log (GET
// /mirror/<key>/, signed) and returns the entries from index before up to
// want's size of the first copy that, after the before entries the log
// holds, builds want (the largest checkpoint a witness cosigned), and the
// peer that held it.
func (s *Server) copiedLog(ctx context.Context, client *fedapi.Client, logV note.Verifier, want tlog.Checkpoint, before uint64) ([][hotline.EntrySize]byte, string, error) {
	held := make([][]byte, 0, before)
	for e, err := range s.log.EntriesFrom(ctx, 0) {
		if err != nil {
			return nil, "", fmt.Errorf("reading the log: %w", err)
		}
		held = append(held, bytes.Clone(e.Data[:]))
	}
	if uint64(len(held)) != before {
		return nil, "", fmt.Errorf("the log holds %d entries, want %d", len(held), before)
	}
	var why []error
	for _, p := range s.agr.Parties() {
		if p.ID == s.cfg.Party {
			continue
		}
		eps, err := s.agr.Endpoints(p.ID)
		if err != nil || len(eps) == 0 {
			continue
		}
		peer := p.ID
		r, err := tlog.NewRemote(tlog.RemoteConfig{
			URL: eps[0] + "/mirror/" + tlog.MirrorKey(logV.Name()), Verifier: logV,
			Prepare: func(req *http.Request) error { return client.Sign(req, nil, peer) },
		})
		if err != nil {
			return nil, "", err
		}
		entries, err := func() ([][]byte, error) {
			cctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
			defer cancel()
			cp, err := r.Checkpoint(cctx)
			if err != nil {
				return nil, err
			}
			if cp.Size < want.Size {
				return nil, fmt.Errorf("its copy holds %d entries", cp.Size)
			}
			return r.Entries(cctx, before, want.Size)
		}()
		if err == nil {
			err = checkCopy(held, entries, want)
		}
		if err != nil {
			s.logger.Info("restore: no usable copy of the log from a peer", "peer", peer, "err", err)
			why = append(why, fmt.Errorf("%s: %w", peer, err))
			continue
		}
		out := make([][hotline.EntrySize]byte, len(entries))
		for i, e := range entries {
			out[i] = [hotline.EntrySize]byte(e)
		}
		return out, peer, nil
	}
	return nil, "", errors.Join(why...)
}

// checkCopy checks that the log's entries held, followed by entries, are
// a tree whose root is want's, and that every entry is a log entry's size.
func checkCopy(held, entries [][]byte, want tlog.Checkpoint) error {
	if uint64(len(held)+len(entries)) != want.Size {
		return fmt.Errorf("%d entries, want %d", len(held)+len(entries), want.Size)
	}
	for i, e := range entries {
		if len(e) != hotline.EntrySize {
			return fmt.Errorf("entry %d has %d bytes, want %d", len(held)+i, len(e), hotline.EntrySize)
		}
	}
	root := tlog.RootOf(held, entries)
	if root != want.Hash {
		return fmt.Errorf("with the log's %d entries, the copy's build root %x, the witnessed checkpoint of size %d has %x: %w",
			len(held), root, want.Size, want.Hash, tlog.ErrMirrorMismatch)
	}
	return nil
}
