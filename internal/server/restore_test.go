package server_test

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/internal/node"
	"github.com/hotline-net/hotline/internal/poll"
	"github.com/hotline-net/hotline/internal/server"
	"github.com/hotline-net/hotline/internal/sim"
	"github.com/hotline-net/hotline/internal/store"
	"github.com/hotline-net/hotline/internal/testnode"
	"github.com/hotline-net/hotline/internal/tlog"
)

// TestRestoreFromBackup backs up a running node (CRI), lets it receive 500
// more messages, kills it and restores the backup. Started as it is, the
// restored node learns from a witness that its log is behind what was
// cosigned and stops appending: every envelope gets a 500. hotline log
// restore (server.Restore) refills the log from the receipts its peer
// holds, checked against every witness's checkpoint, and stores each
// envelope again at its index with the same receipt: every message is
// in the inbox once, the log verifies against the witnessed checkpoints
// the peers hold, and the node takes new messages again.
func TestRestoreFromBackup(t *testing.T) {
	if testing.Short() {
		t.Skip("sends 520 messages")
	}
	cfg := sim.TestnetConfig{
		Parties: []string{"BER", "CRI"},
		Node: func(_ string, c *server.Config) {
			c.HeartbeatInterval = server.Duration(time.Hour)
			c.RateLimit = server.RateLimitConfig{PerSecond: -1}
		},
	}
	tn := newTestNetWith(t, cfg, []string{"DEP", "BER"}, nil)
	ber := tn.Servers["BER"]
	folder := tn.Folder("CRI")
	cri, err := openNode(t, folder)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	var sent []hotline.ID
	send := func(n int) {
		t.Helper()
		for range n {
			id, err := ber.Node().Send(ctx, node.Draft{
				To: []string{"CRI"}, Kind: "notification", Severity: hotline.SeverityHigh,
				Marking: hotline.TLPAmber, Body: []byte(validNotice),
			})
			if err != nil {
				t.Fatal(err)
			}
			sent = append(sent, id)
		}
	}
	delivered := func() {
		t.Helper()
		poll.Must(t, "every message delivered to CRI", func() (bool, error) {
			n, err := ber.Node().Store().CountOutbox(ctx, store.OutboxFilter{Recipient: "CRI", State: store.OutboxDelivered})
			return n == int64(len(sent)), err
		})
	}
	// cosigned waits until DEP's and BER's witnesses hold a checkpoint of
	// CRI's log of size n.
	cosigned := func(n uint64) {
		t.Helper()
		poll.Must(t, "CRI's log cosigned by both witnesses", func() (bool, error) {
			for _, w := range cri.s.Log().WitnessStatus() {
				if w.Size < n {
					return false, nil
				}
			}
			return len(cri.s.Log().WitnessStatus()) == 2, nil
		})
	}

	send(20)
	delivered()
	cosigned(20)
	if err := cri.s.Node().Settle(ctx); err != nil {
		t.Fatal(err)
	}
	backup := filepath.Join(t.TempDir(), "CRI")
	copyFolder(t, folder, backup)

	send(500)
	delivered()
	cosigned(520)
	cri.stop()

	// The restored folder, started as it is.
	if err := os.RemoveAll(folder); err != nil {
		t.Fatal(err)
	}
	copyFolder(t, backup, folder)
	cri, err = openNode(t, folder)
	if err != nil {
		t.Fatal(err)
	}
	send(1)
	late := sent[len(sent)-1]
	poll.Must(t, "the restored node answering the 521st message with 500", func() (bool, error) {
		row, err := ber.Node().Store().OutboxEntry(ctx, late, "CRI")
		return strings.Contains(row.LastError, "500"), err
	})
	cri.stop()

	// hotline log restore.
	rep, err := server.Restore(ctx, folder, server.Options{Bodies: testnode.Templates(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("restore: %+v", rep)
	if rep.Before != 20 || rep.Witnessed != 520 || rep.After != 520 || rep.Stored != 500 || rep.Checked != 2 || rep.Redelivered["BER"] != 500 {
		t.Errorf("restore report %+v, want 20 entries refilled to the 520 cosigned, 500 envelopes stored again, 2 witnesses checked", rep)
	}

	cri, err = openNode(t, folder)
	if err != nil {
		t.Fatal(err)
	}
	delivered() // the 521st too, now
	st := cri.s.Node().Store()
	if n, err := st.CountMessages(ctx, store.MessageFilter{IncludePending: true}); err != nil || n != int64(len(sent)) {
		t.Errorf("CRI holds %d messages (%v), want %d", n, err, len(sent))
	}
	for _, id := range sent {
		env, err := st.Envelope(ctx, hotline.Received, id)
		if err != nil {
			t.Fatalf("message %s: %v", id, err)
		}
		mine, err := st.Receipt(ctx, id, "CRI")
		if err != nil {
			t.Fatalf("CRI's receipt for %s: %v", id, err)
		}
		row, err := ber.Node().Store().OutboxEntry(ctx, id, "CRI")
		if err != nil {
			t.Fatal(err)
		}
		if string(row.Receipt.Note) != string(mine.Note) {
			t.Errorf("%s: CRI holds another receipt than BER (index %d, BER's %d)", id, mine.LogIndex, row.Receipt.LogIndex)
		}
		_ = env
	}
	// The log against the witnessed checkpoints DEP and BER hold, and
	// witnessed again as it grows.
	logV := mustVerifier(t, keysOf(t, tn, "CRI").Checkpoint)
	pol, err := tlog.ParsePolicy([]byte(mustPolicy(t, tn)))
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, w := range pol.Witnesses {
		if w.Name == "CRI" {
			continue
		}
		wv, err := tlog.NewCosignatureVerifier(w.Key)
		if err != nil {
			t.Fatal(err)
		}
		cp, err := tlog.FetchCosigned(ctx, nil, tn.Servers[w.Name].URL()+"/witness", logV, wv)
		if err != nil {
			t.Fatalf("witness %s: %v", w.Name, err)
		}
		cctx, cancel := context.WithTimeout(ctx, time.Minute)
		err = cri.s.Log().Matches(cctx, cp)
		cancel()
		if err != nil {
			t.Errorf("CRI's log against witness %s's checkpoint of size %d: %v", w.Name, cp.Size, err)
		}
		checked++
	}
	if checked != 2 {
		t.Errorf("checked against %d witnesses, want 2", checked)
	}
	cosigned(uint64(len(sent)))
}

// mustPolicy returns the witness policy of the testnet's agreement.
func mustPolicy(tb testing.TB, tn *testNet) string {
	tb.Helper()
	agr := mustAgreement(tb, tn)
	v := agr.Latest()
	p, err := agr.WitnessPolicy(v, time.Now())
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// copyFolder copies a node folder's regular files (the operator socket of
// a running node is left out).
func copyFolder(tb testing.TB, from, to string) {
	tb.Helper()
	// The node may be running: a file listed and gone by the time it is
	// read (the log's temporary files) is skipped, as any copy of a live
	// folder skips it.
	err := filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		dst := filepath.Join(to, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o700)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		in, err := os.Open(p)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		defer in.Close()
		info, err := in.Stat()
		if err != nil {
			return err
		}
		out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, info.Mode().Perm())
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
	if err != nil {
		tb.Fatal(err)
	}
}

// TestRestoreWithNewerLog restores a node's folder from a backup and its
// log/ from a newer copy (the log only grows, so a copy of it taken any
// time after the rest is good): the log needs no refill, the envelopes it
// holds entries for are stored again at their indexes, and the sequence
// numbers the node used after the backup, learnt from its peer, are not
// used again.
func TestRestoreWithNewerLog(t *testing.T) {
	cfg := sim.TestnetConfig{
		Parties: []string{"BER", "CRI"},
		Node: func(_ string, c *server.Config) {
			c.HeartbeatInterval = server.Duration(time.Hour)
			c.RateLimit = server.RateLimitConfig{PerSecond: -1}
		},
	}
	tn := newTestNetWith(t, cfg, []string{"DEP", "BER"}, nil)
	ber := tn.Servers["BER"]
	folder := tn.Folder("CRI")
	cri, err := openNode(t, folder)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var toCRI, toBER []hotline.ID
	send := func(from *server.Server, to string, n int, ids *[]hotline.ID) {
		t.Helper()
		for range n {
			id, err := from.Node().Send(ctx, node.Draft{
				To: []string{to}, Kind: "notification", Severity: hotline.SeverityHigh,
				Marking: hotline.TLPAmber, Body: []byte(validNotice),
			})
			if err != nil {
				t.Fatal(err)
			}
			*ids = append(*ids, id)
		}
	}
	delivered := func(s *server.Server, to string, n int) {
		t.Helper()
		poll.Must(t, "every message delivered to "+to, func() (bool, error) {
			got, err := s.Node().Store().CountOutbox(ctx, store.OutboxFilter{Recipient: to, State: store.OutboxDelivered})
			return got == int64(n), err
		})
	}

	send(ber, "CRI", 10, &toCRI)
	send(cri.s, "BER", 3, &toBER)
	delivered(ber, "CRI", 10)
	delivered(cri.s, "BER", 3)
	if err := cri.s.Node().Settle(ctx); err != nil {
		t.Fatal(err)
	}
	backup := filepath.Join(t.TempDir(), "CRI")
	copyFolder(t, folder, backup)

	send(ber, "CRI", 30, &toCRI)
	send(cri.s, "BER", 5, &toBER)
	delivered(ber, "CRI", 40)
	delivered(cri.s, "BER", 8)
	if err := cri.s.Node().Settle(ctx); err != nil {
		t.Fatal(err)
	}
	// 40 received, 8 sent and 8 receipts received, each recorded.
	const size = 56
	poll.Must(t, "CRI's log and store at 56 entries", func() (bool, error) {
		n, err := cri.s.Log().Size(ctx)
		if err != nil || n != size {
			return false, err
		}
		hw, err := cri.s.Node().Store().HighWater(ctx)
		return hw == size, err
	})
	newerLog := filepath.Join(t.TempDir(), "log")
	copyFolder(t, filepath.Join(folder, server.LogDir), newerLog)
	cri.stop()

	if err := os.RemoveAll(folder); err != nil {
		t.Fatal(err)
	}
	copyFolder(t, backup, folder)
	if err := os.RemoveAll(filepath.Join(folder, server.LogDir)); err != nil {
		t.Fatal(err)
	}
	copyFolder(t, newerLog, filepath.Join(folder, server.LogDir))
	rep, err := server.Restore(ctx, folder, server.Options{Bodies: testnode.Templates(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("restore: %+v", rep)
	if rep.Before != size || rep.After != size || rep.Stored != 30 || rep.Sequences["BER"] != 8 {
		t.Errorf("restore report %+v, want the log of %d entries kept, 30 envelopes stored again, BER's counter at 8", rep, size)
	}

	cri, err = openNode(t, folder)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range toCRI {
		if _, err := cri.s.Node().Store().Envelope(ctx, hotline.Received, id); err != nil {
			t.Errorf("message %s: %v", id, err)
		}
	}
	send(cri.s, "BER", 1, &toBER)
	poll.Must(t, "the message after the restore at BER", func() (bool, error) {
		_, err := ber.Node().Store().Envelope(ctx, hotline.Received, toBER[8])
		return err == nil, nil
	})
	in, err := ber.Node().Store().Inbound(ctx, "CRI")
	if err != nil {
		t.Fatal(err)
	}
	if in.Highest != 9 || in.Count != 9 || in.Missing != 0 {
		t.Errorf("BER's sequence numbers from CRI: %+v, want 9 distinct, none missing", in)
	}
	env, err := ber.Node().Store().Envelope(ctx, hotline.Received, toBER[8])
	if err != nil {
		t.Fatal(err)
	}
	if env.PairSeq != 9 || env.PairPrev != toBER[7] {
		t.Errorf("the message after the restore carries %d after %v, want 9 after %v", env.PairSeq, env.PairPrev, toBER[7])
	}
}
