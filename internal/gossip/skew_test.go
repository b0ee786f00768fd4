package gossip_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/agreement"
	"github.com/hotline-net/hotline/internal/gossip"
)

// logBuffer collects a node's log lines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// count returns how many lines contain all of parts.
func (l *logBuffer) count(parts ...string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for line := range strings.SplitSeq(l.b.String(), "\n") {
		all := line != ""
		for _, p := range parts {
			all = all && strings.Contains(line, p)
		}
		if all {
			n++
		}
	}
	return n
}

// skewed is CRI's heartbeats (on newHeartbeats' store, agreement and fake
// clock) with its log and skew callbacks recorded; transport answers its
// rounds.
type skewed struct {
	*gossip.Heartbeats
	base    *heartbeats
	log     *logBuffer
	mu      sync.Mutex
	alarms  []gossip.Alarm
	offsets map[string]time.Duration
}

func newSkewed(t *testing.T, transport gossip.HeartbeatTransport) *skewed {
	t.Helper()
	base := newHeartbeats(t)
	s := &skewed{base: base, log: &logBuffer{}, offsets: map[string]time.Duration{}}
	if transport == nil {
		transport = noLog{}
	}
	var err error
	s.Heartbeats, err = gossip.NewHeartbeats(gossip.HeartbeatConfig{
		Key: base.keys["CRI"].Message, Agreement: func() *agreement.Agreement { return base.agr }, Store: base.st,
		Log: noLog{}, Transport: transport, Clock: base.clk,
		Logger: slog.New(slog.NewTextHandler(s.log, &slog.HandlerOptions{Level: slog.LevelDebug})),
		OnClockSkew: func(a gossip.Alarm) {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.alarms = append(s.alarms, a)
		},
		OnClockOffset: func(peer string, d time.Duration) {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.offsets[peer] = d
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *skewed) alarmCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.alarms)
}

// status returns CRI's status of peer.
func (s *skewed) status(t *testing.T, peer string) gossip.PeerStatus {
	t.Helper()
	ps, err := s.Peers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		if p.Party == peer {
			return p
		}
	}
	t.Fatalf("no status of %s", peer)
	return gossip.PeerStatus{}
}

// beat has CRI receive BER's heartbeat with counter, signed by a clock
// offset from CRI's.
func (s *skewed) beat(t *testing.T, counter uint64, offset time.Duration) ([]byte, error) {
	t.Helper()
	return s.Receive(context.Background(), "BER", s.base.from(t, hotline.Heartbeat{Counter: counter, Time: s.base.clk.Now().Add(offset)}))
}

// TestClockSkewReceived: CRI measures BER's clock from the heartbeats it
// receives. Four minutes off: a warning, no alarm, heartbeats accepted.
// Six minutes off: refused as stale, but measured: the second such
// heartbeat raises the alarm, once, and the refusal carries CRI's own
// heartbeat so that BER can measure CRI's clock. Back within the window:
// resolved; off again: a second episode.
func TestClockSkewReceived(t *testing.T) {
	s := newSkewed(t, nil)
	if _, err := s.beat(t, 1, 4*time.Minute); err != nil {
		t.Fatalf("a heartbeat 4 min ahead: %v", err)
	}
	if st := s.status(t, "BER"); st.ClockOffset != 4*time.Minute || st.ClockMeasured.IsZero() || st.ClockAlarm != "" {
		t.Errorf("after a heartbeat 4 min ahead: offset %v measured %v alarm %q", st.ClockOffset, st.ClockMeasured, st.ClockAlarm)
	}
	if s.log.count("level=WARN", "clock skew", "peer=BER", "offset=+4m0s") != 1 || s.log.count("ALARM") != 0 || s.alarmCount() != 0 {
		t.Errorf("4 min off: want one WARN clock skew line and no alarm; log:\n%s", s.log.b.String())
	}
	if _, err := s.beat(t, 2, -4*time.Minute); err != nil {
		t.Fatalf("a heartbeat 4 min behind: %v", err)
	}
	if s.alarmCount() != 0 || s.log.count("ALARM") != 0 {
		t.Error("4 min behind raised the alarm")
	}

	// Six minutes ahead: refused, measured, alarmed on the second.
	for i, counter := range []uint64{3, 4, 5} {
		answer, err := s.beat(t, counter, 6*time.Minute)
		if hotline.ErrorCode(err) != "stale_heartbeat" {
			t.Fatalf("a heartbeat 6 min ahead: %v, want stale_heartbeat", err)
		}
		if answer != nil {
			t.Error("a stale heartbeat was answered")
		}
		var se *gossip.StaleError
		if !errors.As(err, &se) || se.RefusalStatement() == nil {
			t.Fatalf("the refusal carries no heartbeat of CRI's: %#v", err)
		}
		v, _ := s.base.keys["CRI"].Message.Verifier()
		hb, err := hotline.OpenHeartbeat(se.RefusalStatement(), v)
		if err != nil || hb.From != "CRI" || hb.To != "BER" || !hb.Time.Equal(s.base.clk.Now()) {
			t.Errorf("the refusal's statement: %+v, %v", hb, err)
		}
		if want := min(i, 1); s.alarmCount() != want {
			t.Errorf("after %d heartbeats 6 min ahead: %d alarms, want %d", i+1, s.alarmCount(), want)
		}
		s.base.clk.Advance(time.Minute)
	}
	if n := s.log.count("level=ERROR", `msg="ALARM: clock skew`, "peer=BER", "offset=+6m0s"); n != 1 {
		t.Errorf("%d ALARM: clock skew lines, want 1; log:\n%s", n, s.log.b.String())
	}
	st := s.status(t, "BER")
	if st.ClockOffset != 6*time.Minute || st.ClockAlarm == "" {
		t.Errorf("in the alarm: offset %v alarm %q", st.ClockOffset, st.ClockAlarm)
	}
	// CRI heard from no other peer: it cannot tell whose clock it is.
	if !strings.HasPrefix(st.ClockAlarm, gossip.UnknownClock) {
		t.Errorf("the alarm blames %q, want %q with one peer measured", st.ClockAlarm, gossip.UnknownClock)
	}
	if a := s.alarms[0]; a.Peer != "BER" || a.Offset != 6*time.Minute || !strings.Contains(a.Reason, "clock skew") {
		t.Errorf("the alarm: %+v", a)
	}
	if as := s.Alarms(); len(as) != 1 || as[0].Peer != "BER" {
		t.Errorf("Alarms lists %+v", as)
	}
	if d := s.offsets["BER"]; d != 6*time.Minute {
		t.Errorf("OnClockOffset last reported %v", d)
	}

	// Back within the window: resolved.
	if _, err := s.beat(t, 6, 0); err != nil {
		t.Fatal(err)
	}
	if st := s.status(t, "BER"); st.ClockOffset != 0 || st.ClockAlarm != "" {
		t.Errorf("back in time: offset %v alarm %q", st.ClockOffset, st.ClockAlarm)
	}
	if s.log.count("clock skew resolved", "peer=BER") != 1 {
		t.Errorf("no clock skew resolved line; log:\n%s", s.log.b.String())
	}
	// Off again: a new episode, a new alarm.
	for _, c := range []uint64{7, 8} {
		s.beat(t, c, -7*time.Minute)
	}
	if s.alarmCount() != 2 {
		t.Errorf("a second episode: %d alarms in all, want 2", s.alarmCount())
	}
}

// TestClockSkewReplay: heartbeats beyond the window that CRI has seen
// before, or older than the newest it has seen, raise no alarm, however
// many: an old heartbeat replayed is no evidence of BER's clock.
func TestClockSkewReplay(t *testing.T) {
	s := newSkewed(t, nil)
	if _, err := s.beat(t, 100, 0); err != nil {
		t.Fatal(err)
	}
	// Captured heartbeats from ten minutes ago, counters below 100.
	old := [][]byte{
		s.base.from(t, hotline.Heartbeat{Counter: 50, Time: s.base.clk.Now().Add(-10 * time.Minute)}),
		s.base.from(t, hotline.Heartbeat{Counter: 51, Time: s.base.clk.Now().Add(-9 * time.Minute)}),
	}
	for range 2 {
		for _, m := range old {
			_, err := s.Receive(context.Background(), "BER", m)
			var se *gossip.StaleError
			if !errors.As(err, &se) || hotline.ErrorCode(err) != "stale_heartbeat" {
				t.Fatalf("a replayed old heartbeat: %v, want stale_heartbeat", err)
			}
			if se.Answer != nil {
				t.Error("a replayed heartbeat is answered with CRI's heartbeat")
			}
		}
	}
	// One fresh-looking heartbeat beyond the window, replayed: it is
	// evidence once, and one is not enough.
	stale := s.base.from(t, hotline.Heartbeat{Counter: 101, Time: s.base.clk.Now().Add(-8 * time.Minute)})
	for range 3 {
		s.Receive(context.Background(), "BER", stale)
	}
	if s.alarmCount() != 0 || s.log.count("ALARM") != 0 {
		t.Fatalf("replayed heartbeats raised the alarm; log:\n%s", s.log.b.String())
	}
	if st := s.status(t, "BER"); st.ClockOffset != 0 || st.ClockAlarm != "" {
		t.Errorf("replayed heartbeats moved the offset: %v, %q", st.ClockOffset, st.ClockAlarm)
	}
	// ReceiveStale (a request out of time) holds to the same rules, and
	// lets a heartbeat within the window go (the request alone is stale).
	if err := s.ReceiveStale(context.Background(), "BER", old[0]); hotline.ErrorCode(err) != "stale_heartbeat" {
		t.Errorf("ReceiveStale of a replay: %v", err)
	}
	if err := s.ReceiveStale(context.Background(), "BER", s.base.from(t, hotline.Heartbeat{Counter: 102})); err != nil {
		t.Errorf("ReceiveStale of a heartbeat within the window: %v, want nil", err)
	}
	if s.alarmCount() != 0 {
		t.Error("ReceiveStale of replays raised the alarm")
	}
}

// refusing is a transport whose peers refuse every heartbeat as stale,
// each refusal carrying the peer's heartbeat signed by a clock offset from
// CRI's, as a node's peer API answers (fedapi.PeerError).
type refusing struct {
	s       *heartbeats
	t       *testing.T
	offsets map[string]time.Duration
	counter atomic.Uint64
}

type peerRefusal struct{ statement []byte }

func (e *peerRefusal) Error() string            { return "peer refused (422 stale_heartbeat)" }
func (e *peerRefusal) ErrorCode() string        { return "stale_heartbeat" }
func (e *peerRefusal) RefusalStatement() []byte { return e.statement }

func (r *refusing) PostHeartbeat(_ context.Context, to, _ string, _ []byte) ([]byte, error) {
	hb := &hotline.Heartbeat{From: to, To: "CRI", Time: r.s.clk.Now().Add(r.offsets[to]), Counter: r.counter.Add(1)}
	b, err := hotline.Sign(hb, r.s.keys[to].Message)
	if err != nil {
		r.t.Error(err)
	}
	if !gossipBeyond(r.offsets[to]) {
		return b, nil // within the window: the peer answers
	}
	return nil, &peerRefusal{statement: b}
}

func gossipBeyond(d time.Duration) bool {
	return d > gossip.HeartbeatWindow || d < -gossip.HeartbeatWindow
}

// TestClockSkewSent: CRI measures its peers' clocks from the heartbeats
// that answer its own, and from the ones their stale_heartbeat refusals
// carry. When every peer is six minutes behind CRI, CRI's clock is the one
// blamed; when only BER is, BER's.
func TestClockSkewSent(t *testing.T) {
	for _, tc := range []struct {
		name    string
		offsets map[string]time.Duration
		blamed  string
	}{
		{"every peer behind", map[string]time.Duration{"BER": -6 * time.Minute, "DEP": -6*time.Minute - 20*time.Second}, gossip.ThisClock},
		{"one peer ahead", map[string]time.Duration{"BER": 6 * time.Minute, "DEP": 0}, gossip.PeerClock},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := &refusing{t: t, offsets: tc.offsets}
			s := newSkewed(t, tr)
			tr.s = s.base
			ctx := context.Background()
			s.Round(ctx)
			if s.alarmCount() != 0 {
				t.Fatal("one round raised the alarm: it takes two measurements")
			}
			s.Round(ctx)
			s.Round(ctx)
			// One alarm per peer beyond the window, however many rounds.
			want, got := map[string]bool{}, map[string]bool{}
			for p, d := range tc.offsets {
				if gossipBeyond(d) {
					want[p] = true
				}
			}
			for _, a := range s.alarms {
				got[a.Peer] = true
			}
			if s.alarmCount() != len(got) || !maps.Equal(got, want) {
				t.Fatalf("after three rounds: alarms %+v, want one about each of %v", s.alarms, want)
			}
			st := s.status(t, "BER")
			if st.ClockOffset != tc.offsets["BER"] || !strings.HasPrefix(st.ClockAlarm, tc.blamed) {
				t.Errorf("BER: offset %v alarm %q; want %v, %s", st.ClockOffset, st.ClockAlarm, tc.offsets["BER"], tc.blamed)
			}
			if n := s.log.count(`msg="ALARM: clock skew`, "peer=BER", `likely_wrong="`+tc.blamed); n != 1 {
				t.Errorf("%d ALARM lines about BER blaming %s; log:\n%s", n, tc.blamed, s.log.b.String())
			}
			if st.Up || !strings.Contains(st.LastError, "stale_heartbeat") {
				t.Errorf("a refused channel shows up %v, error %q", st.Up, st.LastError)
			}
			dep := s.status(t, "DEP")
			if dep.ClockOffset != tc.offsets["DEP"] || dep.ClockMeasured.IsZero() {
				t.Errorf("DEP: offset %v measured %v", dep.ClockOffset, dep.ClockMeasured)
			}
		})
	}
}
