package node_test

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/agreement"
	"github.com/hotline-net/hotline/internal/node"
	"github.com/hotline-net/hotline/internal/obligations"
	"github.com/hotline-net/hotline/internal/store"
	"github.com/hotline-net/hotline/internal/store/sqlite"
	"github.com/hotline-net/hotline/internal/store/storetest"
)

// BenchmarkComplianceReport measures the compliance report over a node's
// store: reading every message and outbox row, judging every obligation,
// counting. In CI it runs once (-benchtime 1x) over a fixture of 4,000
// messages made in a temporary folder. Besides the wall time it reports
// the process's CPU time per report (cpu-s/op), which a machine shared
// with other work stretches less.
//
// The figure PERFORMANCE.md reports is over 1,000,000 stored messages, a
// fixture kept out of CI because making it takes a quarter of an hour:
//
//	HOTLINE_OBLIGATIONS_FIXTURE=/var/tmp/obligations HOTLINE_OBLIGATIONS_MESSAGES=1000000 \
//	  go test -run '^$' -bench BenchmarkComplianceReport -benchtime 1x -count 5 ./internal/node
//
// The fixture folder is made on the first run (a SQLite store and the
// agreement its messages name), written through the store's methods as a
// node writes, and reused after; delete it to make it again. A fixture
// made by an older schema is migrated when the store opens it. Its messages come in fours, from and to 32 peers of party BER:
// a request received (notification, assistance, mitigation or
// clarification request, or a ping); BER's ack of it (three in four, one
// in eight of them after the deadline) or else a status update; a request
// BER sent; and the peer's ack of that (two in three) or else an advisory.
// Every sent message is delivered with the peer's receipt.
func BenchmarkComplianceReport(b *testing.B) {
	n := 4000
	if s := os.Getenv("HOTLINE_OBLIGATIONS_MESSAGES"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 4 {
			b.Fatalf("HOTLINE_OBLIGATIONS_MESSAGES=%q: want a number of messages, at least 4", s)
		}
		n = v
	}
	dir := os.Getenv("HOTLINE_OBLIGATIONS_FIXTURE")
	if dir == "" {
		dir = b.TempDir()
	}
	ctx := context.Background()
	st, agr := mustFixture(b, dir, n)
	defer st.Close()
	ev := &node.Evidence{Store: st, Party: "BER", Agreement: agr, Now: fixtureTime.Add(30 * 24 * time.Hour)}
	var rep obligations.ComplianceReport
	var cpu time.Duration
	b.ResetTimer()
	for b.Loop() {
		var err error
		cpu0 := storetest.CPUTime()
		if rep, err = ev.Compliance(ctx, obligations.Filter{}); err != nil {
			b.Fatal(err)
		}
		cpu += storetest.CPUTime() - cpu0
	}
	if cpu > 0 {
		// The process's CPU time, all goroutines: on a shared machine
		// the wall time stretches, this does not (much).
		b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/op")
	}
	total := 0
	for _, p := range rep.Parties {
		total += p.Total.Total()
	}
	if total == 0 {
		b.Fatal("the report counts no obligations")
	}
	stored, err := st.CountMessages(ctx, store.MessageFilter{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(stored), "messages")
	b.ReportMetric(float64(total), "obligations")
}

var fixtureTime = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

const fixturePeers = 32

// mustFixture opens the fixture store in dir, making it with n messages if
// it is not there yet.
func mustFixture(tb testing.TB, dir string, n int) (store.Store, *agreement.Agreement) {
	tb.Helper()
	ctx := context.Background()
	done := filepath.Join(dir, "messages")
	agrPath := filepath.Join(dir, "agreement.json")
	if b, err := os.ReadFile(done); err == nil {
		if string(b) != strconv.Itoa(n) {
			tb.Fatalf("fixture %s holds %s messages, not %d: delete it to make it again", dir, b, n)
		}
		agr, err := agreement.Load(agrPath)
		if err != nil {
			tb.Fatal(err)
		}
		st, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(dir, "store.db")})
		if err != nil {
			tb.Fatal(err)
		}
		return st, agr
	} else if !errors.Is(err, os.ErrNotExist) {
		tb.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		tb.Fatal(err)
	}
	agr := mustFixtureAgreement(tb)
	if err := os.WriteFile(agrPath, agr.Marshal(), 0o600); err != nil {
		tb.Fatal(err)
	}
	st, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(dir, "store.db")})
	if err != nil {
		tb.Fatal(err)
	}
	start := time.Now()
	if err := fillFixture(ctx, st, agr.Latest().Hash(), n); err != nil {
		st.Close()
		tb.Fatal(err)
	}
	if err := os.WriteFile(done, []byte(strconv.Itoa(n)), 0o600); err != nil {
		tb.Fatal(err)
	}
	tb.Logf("made a fixture of %d messages in %s (%v)", n, dir, time.Since(start).Round(time.Second))
	return st, agr
}

func mustFixtureAgreement(tb testing.TB) *agreement.Agreement {
	tb.Helper()
	keys := func(p string) *hotline.KeySet {
		ks, err := hotline.GenerateKeySet(p, hotline.DefaultOrigin(p))
		if err != nil {
			tb.Fatal(err)
		}
		return ks
	}
	cfg := agreement.SampleConfig{
		Depositary: agreement.SampleParty{Keys: keys("DEP"), Endpoints: []string{"https://dep.example/"}},
		Time:       fixtureTime.Add(-time.Hour),
		Quorum:     -1, // receipts alone: the fixture holds no checkpoints
	}
	for _, p := range append([]string{"BER"}, fixtureParties()...) {
		cfg.Parties = append(cfg.Parties, agreement.SampleParty{Keys: keys(p), Endpoints: []string{"https://" + p + ".example/"}})
	}
	agr, err := agreement.Sample(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return agr
}

func fixtureParties() []string {
	var ps []string
	for i := range fixturePeers {
		ps = append(ps, fmt.Sprintf("P%02d", i))
	}
	return ps
}

// fillFixture stores n messages, four at a time, one peer per writer so
// that each pair's sequence numbers follow on.
func fillFixture(ctx context.Context, st store.Store, agr hotline.ID, n int) error {
	peers := fixtureParties()
	var index atomic.Uint64
	groups := uint64(n / 4)
	requests := []string{"notification", "assistance_request", "mitigation_request", "clarification_request", "ping"}
	return storetest.Parallel(len(peers), 0, uint64(len(peers)), func(w uint64) error {
		peer := peers[w]
		var inSeq, outSeq uint64
		var outPrev, inPrev hotline.ID
		id := func(g uint64, k byte) hotline.ID {
			var b [9]byte
			binary.BigEndian.PutUint64(b[:], g)
			b[8] = k
			return hotline.ID(sha256.Sum256(b[:]))
		}
		receive := func(e store.Envelope) error {
			inSeq++
			e.Direction, e.PairSeq, e.PairPrev, e.To = hotline.Received, inSeq, inPrev, []string{"BER"}
			inPrev = e.ID
			e.From, e.Raw, e.AgreementHash = peer, e.ID[:], agr
			if _, err := st.InsertReceived(ctx, &store.Received{Envelope: e, Entry: hotline.LeafEntry("BER", hotline.Received, e.ID)}); err != nil {
				return err
			}
			i := index.Add(1)
			return st.Sequenced(ctx, hotline.Received, e.ID, i, &store.Receipt{
				MessageID: e.ID, Party: "BER", Received: e.At.Truncate(time.Second), LogIndex: i, Note: e.ID[:],
			})
		}
		send := func(e store.Envelope, receipted time.Time) error {
			outSeq++
			e.Direction, e.From, e.To = hotline.Sent, "BER", []string{peer}
			e.Raw, e.AgreementHash = e.ID[:], agr
			seq := store.PairSeq{Party: peer, Seq: outSeq, Prev: outPrev}
			outPrev = e.ID
			if _, err := st.InsertSent(ctx, &store.Sent{Envelope: e, Seqs: []store.PairSeq{seq}, Entry: hotline.LeafEntry("BER", hotline.Sent, e.ID)}); err != nil {
				return err
			}
			if err := st.Sequenced(ctx, hotline.Sent, e.ID, index.Add(1), nil); err != nil {
				return err
			}
			rid := hotline.NoteID(append(e.ID[:], 'r'))
			if _, err := st.MarkDelivered(ctx, &store.Delivered{
				ID: e.ID, Recipient: peer, At: receipted, Route: "direct https://" + peer + ".example/",
				Receipt:   store.Receipt{MessageID: e.ID, Party: peer, Received: receipted, LogIndex: outSeq, Note: rid[:]},
				ReceiptID: rid, Entry: hotline.LeafEntry("BER", hotline.ReceiptReceived, rid),
			}); err != nil {
				return err
			}
			return st.Sequenced(ctx, hotline.ReceiptReceived, rid, index.Add(1), nil)
		}
		for g := w; g < groups; g += uint64(len(peers)) {
			at := fixtureTime.Add(time.Duration(g) * time.Second)
			sev := []hotline.Severity{hotline.SeverityLow, hotline.SeverityMedium, hotline.SeverityHigh, hotline.SeverityCritical}[g%4]
			kind := requests[g%uint64(len(requests))]
			req := store.Envelope{ID: id(g, 0), Kind: kind, Severity: sev, Marking: hotline.TLPAmber, Created: at, At: at}
			if err := receive(req); err != nil {
				return err
			}
			// BER's answer: an ack, on time or late, or a status update,
			// which meets nothing.
			late := time.Hour
			if g%8 == 1 {
				late = 40 * 24 * time.Hour
			}
			answer := "ack"
			if g%4 == 3 {
				answer = "status_update"
			}
			if err := send(store.Envelope{ID: id(g, 1), Kind: answer, Severity: sev, Marking: hotline.TLPAmber,
				Thread: req.ID, Refs: []hotline.ID{req.ID}, Created: at.Add(late), At: at.Add(late)}, at.Add(late)); err != nil {
				return err
			}
			out := store.Envelope{ID: id(g, 2), Kind: kind, Severity: sev, Marking: hotline.TLPAmber, Created: at, At: at}
			if err := send(out, at.Add(time.Minute)); err != nil {
				return err
			}
			// The peer's answer: an ack, or an advisory of its own.
			ack := at.Add(2 * time.Hour)
			reply := store.Envelope{ID: id(g, 3), Kind: "ack", Severity: sev, Marking: hotline.TLPAmber,
				Thread: out.ID, Refs: []hotline.ID{out.ID}, Created: ack, At: ack}
			if g%3 == 2 {
				reply.Kind, reply.Thread, reply.Refs = "advisory", hotline.ID{}, nil
			}
			if err := receive(reply); err != nil {
				return err
			}
		}
		return nil
	})
}
