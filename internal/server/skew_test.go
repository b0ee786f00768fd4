package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/internal/clock"
	"github.com/hotline-net/hotline/internal/gossip"
	"github.com/hotline-net/hotline/internal/node"
	"github.com/hotline-net/hotline/internal/opapi"
	"github.com/hotline-net/hotline/internal/poll"
	"github.com/hotline-net/hotline/internal/server"
	"github.com/hotline-net/hotline/internal/sim"
	"github.com/hotline-net/hotline/internal/store"
)

// nodeLog collects a node's log lines (JSON).
type nodeLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *nodeLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *nodeLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// lines returns the log lines whose message starts with prefix.
func (l *nodeLog) lines(prefix string) []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for line := range bytes.SplitSeq(l.b.Bytes(), []byte("\n")) {
		var m map[string]any
		if json.Unmarshal(line, &m) == nil {
			if msg, _ := m["msg"].(string); strings.HasPrefix(msg, prefix) {
				out = append(out, m)
			}
		}
	}
	return out
}

// skewNet runs BER, CRI, DOR and the depositary with heartbeats every
// 200 ms, each node's clock the system clock moved by offsets[party], its
// log collected. The agreement is an hour old, so that every clock finds
// it in force.
func skewNet(t *testing.T, offsets map[string]time.Duration) (*testNet, map[string]*nodeLog) {
	t.Helper()
	logs := map[string]*nodeLog{}
	for _, p := range []string{sim.Depositary, "BER", "CRI", "DOR"} {
		logs[p] = &nodeLog{}
	}
	cfg := sim.TestnetConfig{
		Parties: []string{"BER", "CRI", "DOR"},
		Time:    time.Now().Add(-time.Hour),
		Node:    func(_ string, c *server.Config) { c.HeartbeatInterval = server.Duration(200 * time.Millisecond) },
	}
	tn := newTestNetWith(t, cfg, nil, func(party string, o *server.Options) {
		o.Clock = clock.Offset{By: offsets[party]}
		o.Logger = slog.New(slog.NewJSONHandler(logs[party], &slog.HandlerOptions{Level: slog.LevelInfo}))
	})
	return tn, logs
}

// peersAPI asks a node's operator API for GET /api/v1/peers.
func peersAPI(t *testing.T, tn *testNet, party string) opapi.PeerList {
	t.Helper()
	token, err := server.AdminToken(tn.Folder(party))
	if err != nil {
		t.Fatal(err)
	}
	op := tn.Servers[party].Operator()
	req, _ := http.NewRequest(http.MethodGet, op.Base+"/api/v1/peers", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := op.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list opapi.PeerList
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		t.Fatal(err)
	}
	return list
}

// metrics returns a node's /metrics.
func metrics(t *testing.T, s *server.Server) string {
	t.Helper()
	op := s.Operator()
	resp, err := op.Client.Get(op.Base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// alarmed reports whether every peer of party is in the skew alarm or,
// for party's own, not: a node whose clock is wrong is in the alarm about
// every peer; the others, about it only.
func alarmed(ps []gossip.PeerStatus, skewed string, self string) bool {
	for _, p := range ps {
		want := self == skewed || p.Party == skewed
		if (p.ClockAlarm != "") != want {
			return false
		}
	}
	return len(ps) > 0
}

// TestClockSkewAlarm (issue 19): CRI's clock runs 6 minutes ahead, beyond
// the 5-minute request window. Every heartbeat between CRI and the others
// is refused as stale both ways, yet both sides measure the offset from
// heartbeat times and raise the skew alarm, once per peer: CRI says its
// own clock is likely wrong (every peer disagrees with it the same way),
// the others that CRI's is. The operator API shows the offset and the
// alarm; /metrics the gauge and the counter.
func TestClockSkewAlarm(t *testing.T) {
	tn, logs := skewNet(t, map[string]time.Duration{"CRI": 6 * time.Minute})
	ctx := context.Background()
	parties := []string{sim.Depositary, "BER", "CRI", "DOR"}
	for _, p := range parties {
		poll.Must(t, p+"'s skew alarms", func() (bool, error) {
			ps, err := tn.Servers[p].Heartbeats().Peers(ctx)
			return alarmed(ps, "CRI", p), err
		})
	}
	// CRI blames its own clock, about every peer.
	for _, p := range peersAPI(t, tn, "CRI").Peers {
		if p.ClockOffsetMS == nil || *p.ClockOffsetMS > -5*60_000 || *p.ClockOffsetMS < -7*60_000 {
			t.Errorf("CRI's status of %s: offset %v ms, want about -6 min", p.Party, p.ClockOffsetMS)
		}
		if !strings.HasPrefix(p.ClockAlarm, gossip.ThisClock) || p.ClockMeasured == "" {
			t.Errorf("CRI's alarm about %s: %q, want it to blame %s", p.Party, p.ClockAlarm, gossip.ThisClock)
		}
	}
	// The others blame CRI's, and see no skew with one another.
	for _, party := range []string{"BER", "DOR", sim.Depositary} {
		for _, p := range peersAPI(t, tn, party).Peers {
			switch {
			case p.ClockOffsetMS == nil:
				t.Errorf("%s's status of %s: no offset measured", party, p.Party)
			case p.Party == "CRI":
				if *p.ClockOffsetMS < 5*60_000 || *p.ClockOffsetMS > 7*60_000 || !strings.HasPrefix(p.ClockAlarm, gossip.PeerClock) {
					t.Errorf("%s's status of CRI: offset %d ms, alarm %q; want about +6 min, blaming %s", party, *p.ClockOffsetMS, p.ClockAlarm, gossip.PeerClock)
				}
			default:
				if *p.ClockOffsetMS > 60_000 || *p.ClockOffsetMS < -60_000 || p.ClockAlarm != "" {
					t.Errorf("%s's status of %s: offset %d ms, alarm %q; want none", party, p.Party, *p.ClockOffsetMS, p.ClockAlarm)
				}
			}
		}
	}
	// Let more rounds pass: the alarm is raised once per peer, not per
	// heartbeat.
	tn.Servers["BER"].Heartbeats().Round(ctx)
	tn.Servers["CRI"].Heartbeats().Round(ctx)
	tn.Servers["CRI"].Heartbeats().Round(ctx)
	for _, p := range parties {
		alarms := logs[p].lines("ALARM: clock skew")
		want := 1
		if p == "CRI" {
			want = 3
		}
		if len(alarms) != want {
			t.Errorf("%s logged %d ALARM: clock skew lines, want %d", p, len(alarms), want)
		}
		for _, a := range alarms {
			if a["level"] != "ERROR" || a["peer"] == nil || a["offset"] == nil || a["likely_wrong"] == nil {
				t.Errorf("%s's alarm line: %v", p, a)
			}
			if p != "CRI" && (a["peer"] != "CRI" || a["likely_wrong"] != gossip.PeerClock) {
				t.Errorf("%s's alarm line: %v; want about CRI, blaming %s", p, a, gossip.PeerClock)
			}
		}
		m := metrics(t, tn.Servers[p])
		if p == "CRI" {
			for _, q := range []string{sim.Depositary, "BER", "DOR"} {
				if !strings.Contains(m, `hotline_clock_skew_alarms_total{peer="`+q+`"} 1`) {
					t.Errorf("CRI's /metrics does not count one skew alarm about %s", q)
				}
			}
		} else if !strings.Contains(m, `hotline_clock_skew_alarms_total{peer="CRI"} 1`) || !strings.Contains(m, `hotline_peer_clock_offset_seconds{peer="CRI"} 3`) {
			t.Errorf("%s's /metrics lacks the skew alarm or CRI's offset (about 360 s):\n%s", p, grepLines(m, "clock"))
		}
	}
	// CRI's log says its own clock is likely wrong at least once (its
	// first alarm may come before it heard from a second peer).
	blamed := false
	for _, a := range logs["CRI"].lines("ALARM: clock skew") {
		blamed = blamed || a["likely_wrong"] == gossip.ThisClock
	}
	if !blamed {
		t.Errorf("CRI's alarms never blame its own clock: %v", logs["CRI"].lines("ALARM: clock skew"))
	}
}

func grepLines(s, sub string) string {
	var out []string
	for line := range strings.SplitSeq(s, "\n") {
		if strings.Contains(line, sub) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

// TestClockSkewWithinWindow: clocks up to 4 minutes apart (BER 2 min
// behind, CRI 2 min ahead) are within the request window: envelopes are
// delivered and receipted, heartbeats accepted, the offsets measured and
// warned about, and no alarm raised.
func TestClockSkewWithinWindow(t *testing.T) {
	tn, logs := skewNet(t, map[string]time.Duration{"BER": -2 * time.Minute, "CRI": 2 * time.Minute})
	ctx := context.Background()
	ber := tn.Servers["BER"].Node()
	id, err := ber.Send(ctx, node.Draft{To: []string{"CRI"}, Kind: "clarification_request",
		Severity: hotline.SeverityCritical, Marking: hotline.TLPAmber, Body: []byte(clarificationBody)})
	if err != nil {
		t.Fatal(err)
	}
	poll.Must(t, "delivery from BER to CRI, 4 min apart", func() (bool, error) {
		row, err := ber.Store().OutboxEntry(ctx, id, "CRI")
		return row.State == store.OutboxDelivered, err
	})
	poll.Must(t, "BER's measure of CRI's clock", func() (bool, error) {
		ps, err := tn.Servers["BER"].Heartbeats().Peers(ctx)
		for _, p := range ps {
			if p.Party == "CRI" {
				return p.Up && p.ClockOffset > 3*time.Minute+50*time.Second && p.ClockOffset < 4*time.Minute+10*time.Second, err
			}
		}
		return false, err
	})
	for _, p := range []string{sim.Depositary, "BER", "CRI", "DOR"} {
		if a := logs[p].lines("ALARM"); len(a) != 0 {
			t.Errorf("%s raised an alarm with clocks 4 min apart: %v", p, a)
		}
		if m := metrics(t, tn.Servers[p]); strings.Contains(m, "hotline_clock_skew_alarms_total{") {
			t.Errorf("%s counts skew alarms:\n%s", p, grepLines(m, "clock_skew"))
		}
		ps, err := tn.Servers[p].Heartbeats().Peers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range ps {
			if q.ClockAlarm != "" {
				t.Errorf("%s is in the skew alarm about %s: %s", p, q.Party, q.ClockAlarm)
			}
		}
	}
	warned := false
	for _, w := range logs["BER"].lines("clock skew") {
		warned = warned || (w["level"] == "WARN" && w["peer"] == "CRI")
	}
	if !warned {
		t.Error("BER did not warn of CRI's clock 4 min ahead")
	}
}
