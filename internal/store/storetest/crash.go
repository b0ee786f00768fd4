package storetest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/internal/store"
)

// CrashChildEnv is the environment variable that makes a test binary run
// as the child of [Crash]: the backend's TestMain checks it and, when it is
// set, calls [CrashChild] instead of running the tests. Its value is the
// round number.
const CrashChildEnv = "HOTLINE_STORETEST_CRASH_CHILD"

// crashWorkers is how many goroutines of the child write at once.
const crashWorkers = 8

// CrashChild is the child of [Crash]. It opens the store, resolves the
// leaves a killed predecessor left pending (as a node does at start-up),
// then writes until it is killed, with several goroutines: envelopes
// received and sequenced, envelopes sent, values, envelopes taken as a
// relay, probes. After each write that
// returned nil it prints one line to stdout naming it. It returns only on
// an error, which it prints to stderr.
func CrashChild(open Opener) error {
	round, err := strconv.Atoi(os.Getenv(CrashChildEnv))
	if err != nil {
		return fmt.Errorf("crash child: %s=%q: %w", CrashChildEnv, os.Getenv(CrashChildEnv), err)
	}
	ctx := context.Background()
	s, err := open(ctx)
	if err != nil {
		return fmt.Errorf("crash child: opening: %w", err)
	}
	var mu sync.Mutex
	say := func(format string, args ...any) {
		// One write per line, unbuffered: a line is on the pipe before
		// the next write starts.
		line := fmt.Sprintf(format+"\n", args...)
		mu.Lock()
		defer mu.Unlock()
		os.Stdout.WriteString(line)
	}
	hw, err := s.HighWater(ctx)
	if err != nil {
		return err
	}
	var log Log
	log.next.Store(hw)
	pending, err := s.PendingLeaves(ctx, 0)
	if err != nil {
		return err
	}
	for _, l := range pending {
		// The fake log never received these entries; append them now.
		index := log.Append()
		var rc *store.Receipt
		if l.Direction == hotline.Received {
			e, err := s.Envelope(ctx, hotline.Received, l.Object)
			if err != nil {
				return err
			}
			rc = IssuedReceipt(&store.Received{Envelope: e}, index)
		}
		if err := s.Sequenced(ctx, l.Direction, l.Object, index, rc); err != nil {
			return fmt.Errorf("crash child: resolving pending leaf: %w", err)
		}
		say("sequenced %d %v %d", l.Direction, l.Object, index)
	}

	errc := make(chan error, crashWorkers)
	for w := range crashWorkers {
		go func() { errc <- crashWorker(ctx, s, &log, round, w, say) }()
	}
	return <-errc
}

func crashWorker(ctx context.Context, s store.Store, log *Log, round, w int, say func(string, ...any)) error {
	party := fmt.Sprintf("W%d", w)
	for n := 1; ; n++ {
		name := fmt.Sprintf("round %d worker %d envelope %d", round, w, n)
		switch n % 5 {
		case 4:
			it := RelayItem(name, "PAR", party, 256)
			if _, err := s.RelayPut(ctx, it); err != nil {
				return fmt.Errorf("crash child: relay put: %w", err)
			}
			say("relayed %v %s", it.ID, party)
			// Each worker probes its own peer, later every time.
			at := base.Add(time.Duration(round*1_000_000+n) * time.Second)
			if err := s.RecordProbe(ctx, &store.Probe{Peer: party, At: at, OK: true, Latency: time.Millisecond}); err != nil {
				return fmt.Errorf("crash child: probe: %w", err)
			}
			say("probed %s %d", party, at.UnixNano())
		case 0:
			sent, err := Send(ctx, s, log, name, party, "PAR")
			if err != nil {
				return fmt.Errorf("crash child: send: %w", err)
			}
			say("sent %v %s %d", sent.Envelope.ID, party, sent.Seqs[0].Seq)
		case 1:
			key := fmt.Sprintf("worker %d", w)
			value := fmt.Sprintf("%d %d", round, n)
			if err := s.SetValue(ctx, key, []byte(value)); err != nil {
				return fmt.Errorf("crash child: set value: %w", err)
			}
			say("value %d %d %d", w, round, n)
		default:
			// The pair sequence carries the round, so that every
			// round's numbers differ.
			r := ReceivedEnvelope(name, party, uint64(round*1_000_000+n), 512)
			// The envelope before it in the sequence, if this worker
			// received it (n-1 also fell to this case).
			r.Envelope.PairPrev = ID(fmt.Sprintf("envelope round %d worker %d envelope %d", round, w, n-1))
			if _, err := s.InsertReceived(ctx, r); err != nil {
				return fmt.Errorf("crash child: insert: %w", err)
			}
			say("received %v", r.Envelope.ID)
			index := log.Append()
			if err := s.Sequenced(ctx, hotline.Received, r.Envelope.ID, index, IssuedReceipt(r, index)); err != nil {
				return fmt.Errorf("crash child: sequenced: %w", err)
			}
			say("sequenced %d %v %d", hotline.Received, r.Envelope.ID, index)
		}
	}
}

// crashPlaceEnv carries, from CrashCommand to CrashMain, where the crash
// child's store is (a file, a schema).
const crashPlaceEnv = "HOTLINE_STORETEST_CRASH_PLACE"

// CrashMain is an engine's TestMain. In a crash child (CrashChildEnv set)
// it runs CrashChild on the store open opens at the place CrashCommand
// named, and exits; otherwise it runs the tests.
func CrashMain(m *testing.M, open func(ctx context.Context, place string) (store.Store, error)) {
	if os.Getenv(CrashChildEnv) != "" {
		place := os.Getenv(crashPlaceEnv)
		err := CrashChild(func(ctx context.Context) (store.Store, error) { return open(ctx, place) })
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// CrashCommand returns the child of Crash for a store at place: the test
// binary run again, running no tests, as a crash child (see CrashMain).
func CrashCommand(place string) func(round int) *exec.Cmd {
	return func(round int) *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%d", CrashChildEnv, round), crashPlaceEnv+"="+place)
		return cmd
	}
}

// Crash is the crash-safety test: rounds times, it starts the child that
// child returns (a re-execution of the test binary with CrashChildEnv set
// to the round), reads the lines it prints, kills it with SIGKILL after k
// of them (k varies from round to round), reopens the store and checks
// that every write the child printed is there.
func Crash(t *testing.T, open Opener, rounds int, child func(round int) *exec.Cmd) {
	rng := rand.New(rand.NewPCG(1, 2))
	total := 0
	for round := 1; round <= rounds; round++ {
		k := 1 + rng.IntN(120)
		lines := crashRound(t, child(round), k)
		total += len(lines)
		ctx := context.Background()
		s, err := open(ctx)
		if err != nil {
			t.Fatalf("round %d: reopening after the kill: %v", round, err)
		}
		checkCrashLines(t, ctx, s, round, lines)
		if err := s.Close(); err != nil {
			t.Fatalf("round %d: closing: %v", round, err)
		}
		if t.Failed() {
			return
		}
	}
	t.Logf("%d rounds, %d acknowledged writes checked", rounds, total)
}

// crashRound runs the child until it printed k lines, kills it, and
// returns every complete line it printed.
func crashRound(t *testing.T, cmd *exec.Cmd, k int) []string {
	t.Helper()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(out)
	var lines []string
	killed := false
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			// EOF: the child is dead. A last line without its newline
			// was cut by the kill and proves nothing.
			if !errors.Is(err, io.EOF) {
				t.Fatalf("reading the child: %v", err)
			}
			break
		}
		lines = append(lines, strings.TrimSuffix(line, "\n"))
		if len(lines) == k && !killed {
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatalf("killing the child: %v", err)
			}
			killed = true
		}
	}
	err = cmd.Wait()
	if !killed {
		t.Fatalf("the child stopped by itself after %d lines: %v\n%s", len(lines), err, stderr.String())
	}
	return lines
}

func checkCrashLines(t *testing.T, ctx context.Context, s store.Store, round int, lines []string) {
	t.Helper()
	for _, line := range lines {
		f := strings.Fields(line)
		if len(f) == 0 {
			t.Fatalf("round %d: empty line from the child", round)
		}
		var err error
		switch f[0] {
		case "received":
			var id hotline.ID
			if id, err = hotline.ParseID(f[1]); err == nil {
				_, err = s.Envelope(ctx, hotline.Received, id)
			}
		case "sequenced":
			err = checkSequenced(ctx, s, f)
		case "sent":
			err = checkSent(ctx, s, f)
		case "value":
			err = checkValue(ctx, s, f)
		case "relayed":
			var id hotline.ID
			if id, err = hotline.ParseID(f[1]); err == nil {
				_, err = s.RelayGet(ctx, id, f[2])
			}
		case "probed":
			err = checkProbed(ctx, s, f)
		default:
			err = fmt.Errorf("unknown line")
		}
		if err != nil {
			t.Errorf("round %d: %q printed by the child, but after the kill: %v", round, line, err)
		}
	}
}

func checkSequenced(ctx context.Context, s store.Store, f []string) error {
	dir, err := strconv.Atoi(f[1])
	if err != nil {
		return err
	}
	id, err := hotline.ParseID(f[2])
	if err != nil {
		return err
	}
	index, err := strconv.ParseUint(f[3], 10, 64)
	if err != nil {
		return err
	}
	l, err := s.LeafOf(ctx, hotline.Direction(dir), id)
	if err != nil {
		return err
	}
	if !l.Sequenced || l.Index != index {
		return fmt.Errorf("leaf %+v, want index %d", l, index)
	}
	if hotline.Direction(dir) == hotline.Received {
		rc, err := s.Receipt(ctx, id, Self)
		if err != nil {
			return err
		}
		if rc.LogIndex != index {
			return fmt.Errorf("receipt names index %d, want %d", rc.LogIndex, index)
		}
	}
	return nil
}

func checkSent(ctx context.Context, s store.Store, f []string) error {
	id, err := hotline.ParseID(f[1])
	if err != nil {
		return err
	}
	seq, err := strconv.ParseUint(f[3], 10, 64)
	if err != nil {
		return err
	}
	if _, err := s.Envelope(ctx, hotline.Sent, id); err != nil {
		return err
	}
	row, err := s.OutboxEntry(ctx, id, f[2])
	if err != nil {
		return err
	}
	if row.Seq != seq {
		return fmt.Errorf("outbox row carries %d, want %d", row.Seq, seq)
	}
	// Send sequences the envelope before it returns: its leaf is in the
	// log, so the row may leave the node.
	l, err := s.LeafOf(ctx, hotline.Sent, id)
	if err != nil {
		return err
	}
	if !l.Sequenced {
		return fmt.Errorf("sent envelope's leaf pending")
	}
	return nil
}

func checkValue(ctx context.Context, s store.Store, f []string) error {
	w, round, n := f[1], f[2], f[3]
	v, err := s.Value(ctx, "worker "+w)
	if err != nil {
		return err
	}
	var gotRound, gotN int
	if _, err := fmt.Sscanf(string(v), "%d %d", &gotRound, &gotN); err != nil {
		return fmt.Errorf("value %q: %w", v, err)
	}
	wantRound, _ := strconv.Atoi(round)
	wantN, _ := strconv.Atoi(n)
	// Later writes of the same worker may have replaced it, never earlier.
	if gotRound < wantRound || gotRound == wantRound && gotN < wantN {
		return fmt.Errorf("value %q is older than the acknowledged %s %s", v, round, n)
	}
	return nil
}

func checkProbed(ctx context.Context, s store.Store, f []string) error {
	ns, err := strconv.ParseInt(f[2], 10, 64)
	if err != nil {
		return err
	}
	at := time.Unix(0, ns).UTC()
	h, err := s.PeerHealth(ctx, f[1], at)
	if err != nil {
		return err
	}
	// Later probes of the same peer may follow it, never earlier.
	if h.LastOK.Before(at) || h.Probes == 0 {
		return fmt.Errorf("health %+v misses the probe at %v", h, at)
	}
	return nil
}
