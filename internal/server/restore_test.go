package server_test

import (
	"context"
	"errors"
	"fmt"
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
	r := newRestoreNet(t)
	ber, folder, cri, ctx := r.ber, r.folder, r.cri, context.Background()
	var sent []hotline.ID
	send := func(n int) {
		t.Helper()
		r.send(ber, "CRI", n, &sent)
	}
	delivered := func() {
		t.Helper()
		r.delivered(ber, "CRI", len(sent))
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
	backup := r.backup()

	send(500)
	delivered()
	cosigned(520)
	cri.stop()

	// The restored folder, started as it is.
	r.restoreFolder(backup)
	r.restart()
	cri = r.cri
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

	r.restart()
	cri = r.cri
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
	matchesWitnesses(t, r.tn, "CRI", cri.s)
	cosigned(uint64(len(sent)))
}

// matchesWitnesses checks party's log (s's) against the checkpoint of it
// each other witness of the testnet's policy cosigned last.
func matchesWitnesses(t *testing.T, tn *testNet, party string, s *server.Server) {
	t.Helper()
	ctx := context.Background()
	logV := mustVerifier(t, keysOf(t, tn, party).Checkpoint)
	pol, err := tlog.ParsePolicy([]byte(mustPolicy(t, tn)))
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, w := range pol.Witnesses {
		if w.Name == party {
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
		err = s.Log().Matches(cctx, cp)
		cancel()
		if err != nil {
			t.Errorf("%s's log against witness %s's checkpoint of size %d: %v", party, w.Name, cp.Size, err)
		}
		checked++
	}
	if checked != 2 {
		t.Errorf("checked against %d witnesses, want 2", checked)
	}
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
	r := newRestoreNet(t)
	ber, folder, ctx := r.ber, r.folder, context.Background()
	var toCRI, toBER []hotline.ID
	r.exchange(10, 3, &toCRI, &toBER)
	backup := r.backup()

	r.exchange(30, 5, &toCRI, &toBER)
	const size = 56 // 40 received, 8 sent and 8 receipts received
	newerLog := filepath.Join(t.TempDir(), "log")
	copyFolder(t, filepath.Join(folder, server.LogDir), newerLog)
	r.cri.stop()

	r.restoreFolder(backup)
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

	r.restart()
	for _, id := range toCRI {
		if _, err := r.cri.s.Node().Store().Envelope(ctx, hotline.Received, id); err != nil {
			t.Errorf("message %s: %v", id, err)
		}
	}
	r.send(r.cri.s, "BER", 1, &toBER)
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
	checkContinues(t, ber, toBER)
}

// checkContinues checks that the last of sent, CRI's first message to BER
// after the restore, is BER's 9th from CRI, after the 8th.
func checkContinues(t *testing.T, ber *server.Server, sent []hotline.ID) {
	t.Helper()
	env, err := ber.Node().Store().Envelope(context.Background(), hotline.Received, sent[8])
	if err != nil {
		t.Fatal(err)
	}
	if env.PairSeq != 9 || env.PairPrev != sent[7] {
		t.Errorf("the message after the restore carries %d after %v, want 9 after %v", env.PairSeq, env.PairPrev, sent[7])
	}
}

// TestRestoreFromPeersCopy restores a node (CRI) that both received and
// sent after its backup: no receipt names the entries of the envelopes it
// sent and of the receipts it received for them, so without a peer's copy
// of its log the restore stops before touching the log; with BER's copy
// (BER mirrors CRI's log up to its witnessed checkpoint) it refills the
// log, checked against the witnesses, stores every received envelope
// again, and CRI sends on from the sequence number BER last received.
func TestRestoreFromPeersCopy(t *testing.T) {
	r := newRestoreNet(t)
	ber, folder, ctx := r.ber, r.folder, context.Background()
	var toCRI, toBER []hotline.ID
	r.exchange(10, 3, &toCRI, &toBER)
	backup := r.backup()
	const before = 16 // 10 received, 3 sent, 3 receipts

	r.exchange(30, 5, &toCRI, &toBER)
	const size = 56 // 40 received, 8 sent, 8 receipts
	poll.Must(t, "CRI's log cosigned at 56 entries by both witnesses", func() (bool, error) {
		ws := r.cri.s.Log().WitnessStatus()
		for _, w := range ws {
			if w.Size < size {
				return false, nil
			}
		}
		return len(ws) == 2, nil
	})

	// Without a peer's copy: stopped before the log is touched (on a
	// copy of the backup, while CRI still runs).
	early := folder + ".early" // beside it: the agreement file is the testnet's
	copyFolder(t, backup, early)
	if _, err := server.Restore(ctx, early, server.Options{Bodies: testnode.Templates(t)}); err == nil || !strings.Contains(err.Error(), "no peer's copy of the log fills the gap") {
		t.Fatalf("restore with no peer's copy of the log: %v", err)
	}
	if saved, _ := filepath.Glob(filepath.Join(early, server.LogDir+".before-restore-*")); len(saved) != 0 {
		t.Errorf("the refused restore touched the log: %v", saved)
	}

	// BER's copy of CRI's log, up to its witnessed checkpoint.
	poll.Must(t, "BER's copy of CRI's log at 56 entries", func() (bool, error) {
		return ber.SyncMirrors(ctx)["CRI"] == size, nil
	})
	r.cri.stop()

	r.restoreFolder(backup)
	rep, err := server.Restore(ctx, folder, server.Options{Bodies: testnode.Templates(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("restore: %+v", rep)
	if rep.Before != before || rep.After != size || rep.Witnessed != size || rep.Copied != size-before || rep.CopiedFrom != "BER" ||
		rep.Stored != 30 || rep.Checked != 2 || rep.Sequences["BER"] != 8 {
		t.Errorf("restore report %+v, want the log refilled from %d to %d from BER's copy, 30 envelopes stored again, 2 witnesses checked, BER's counter at 8", rep, before, size)
	}

	r.restart()
	st := r.cri.s.Node().Store()
	for _, id := range toCRI {
		if _, err := st.Receipt(ctx, id, "CRI"); err != nil {
			t.Errorf("message %s: %v", id, err)
		}
	}
	if n, err := st.CountMessages(ctx, store.MessageFilter{Direction: hotline.Received, IncludePending: true}); err != nil || n != int64(len(toCRI)) {
		t.Errorf("CRI holds %d received messages (%v), want %d", n, err, len(toCRI))
	}
	matchesWitnesses(t, r.tn, "CRI", r.cri.s)

	// On from where BER stands: CRI's next message is BER's 9th from it,
	// and BER's next is in CRI's log after the 56 entries.
	r.send(r.cri.s, "BER", 1, &toBER)
	r.send(ber, "CRI", 1, &toCRI)
	r.delivered(r.cri.s, "BER", 3+1) // the backup's 3 and the new one: the 5 sent after the backup are BER's only
	r.delivered(ber, "CRI", len(toCRI))
	checkContinues(t, ber, toBER)
	// CRI records its receipt after answering with it.
	var rc store.Receipt
	poll.Must(t, "CRI's receipt for the first message after the restore recorded", func() (bool, error) {
		var err error
		rc, err = st.Receipt(ctx, toCRI[len(toCRI)-1], "CRI")
		if errors.Is(err, store.ErrNotFound) {
			return false, nil
		}
		return err == nil, err
	})
	if rc.LogIndex < size {
		t.Errorf("the first message received after the restore is at index %d, want past %d", rc.LogIndex, size)
	}
}

// restoreNet is the testnet the restore tests run on: BER and CRI, whose
// logs DEP and BER witness, with CRI run by the test itself.
type restoreNet struct {
	t      *testing.T
	tn     *testNet
	ber    *server.Server
	folder string // CRI's
	cri    *ownNode
}

func newRestoreNet(t *testing.T) *restoreNet {
	cfg := sim.TestnetConfig{
		Parties: []string{"BER", "CRI"},
		Node: func(_ string, c *server.Config) {
			c.HeartbeatInterval = server.Duration(time.Hour)
			c.RateLimit = server.RateLimitConfig{PerSecond: -1}
		},
	}
	tn := newTestNetWith(t, cfg, []string{"DEP", "BER"}, nil)
	r := &restoreNet{t: t, tn: tn, ber: tn.Servers["BER"], folder: tn.Folder("CRI")}
	var err error
	if r.cri, err = openNode(t, r.folder); err != nil {
		t.Fatal(err)
	}
	return r
}

// send sends n notifications from from to to, adding their ids to ids.
func (r *restoreNet) send(from *server.Server, to string, n int, ids *[]hotline.ID) {
	r.t.Helper()
	for range n {
		id, err := from.Node().Send(context.Background(), node.Draft{
			To: []string{to}, Kind: "notification", Severity: hotline.SeverityHigh,
			Marking: hotline.TLPAmber, Body: []byte(validNotice),
		})
		if err != nil {
			r.t.Fatal(err)
		}
		*ids = append(*ids, id)
	}
}

// delivered waits until s's outbox holds n messages delivered to to.
func (r *restoreNet) delivered(s *server.Server, to string, n int) {
	r.t.Helper()
	poll.Must(r.t, "every message delivered to "+to, func() (bool, error) {
		got, err := s.Node().Store().CountOutbox(context.Background(), store.OutboxFilter{Recipient: to, State: store.OutboxDelivered})
		return got == int64(n), err
	})
}

// exchange sends n messages from BER to CRI and m from CRI to BER, waits
// until all are delivered (toCRI and toBER hold every one sent so far),
// and until CRI's log and store hold an entry for each (received, sent,
// and the receipt received for it), each index recorded.
func (r *restoreNet) exchange(n, m int, toCRI, toBER *[]hotline.ID) {
	r.t.Helper()
	ctx := context.Background()
	r.send(r.ber, "CRI", n, toCRI)
	r.send(r.cri.s, "BER", m, toBER)
	r.delivered(r.ber, "CRI", len(*toCRI))
	r.delivered(r.cri.s, "BER", len(*toBER))
	want := uint64(len(*toCRI) + 2*len(*toBER))
	poll.Must(r.t, fmt.Sprintf("CRI's log and store at %d entries", want), func() (bool, error) {
		if err := r.cri.s.Node().Settle(ctx); err != nil {
			return false, err
		}
		n, err := r.cri.s.Log().Size(ctx)
		if err != nil || n != want {
			return false, err
		}
		hw, err := r.cri.s.Node().Store().HighWater(ctx)
		return hw == want, err
	})
}

// backup copies CRI's folder, as it is now, and returns the copy.
func (r *restoreNet) backup() string {
	b := filepath.Join(r.t.TempDir(), "CRI")
	copyFolder(r.t, r.folder, b)
	return b
}

// restoreFolder replaces CRI's folder (CRI stopped) by backup.
func (r *restoreNet) restoreFolder(backup string) {
	r.t.Helper()
	if err := os.RemoveAll(r.folder); err != nil {
		r.t.Fatal(err)
	}
	copyFolder(r.t, backup, r.folder)
}

// restart starts CRI again on its folder.
func (r *restoreNet) restart() {
	r.t.Helper()
	var err error
	if r.cri, err = openNode(r.t, r.folder); err != nil {
		r.t.Fatal(err)
	}
}
