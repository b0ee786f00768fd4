package opapi

import (
	"net/http"
	"time"

	"github.com/hotline-net/hotline"
)

// Peer is the channel to one peer, for GET /api/v1/peers.
type Peer struct {
	Party    string `json:"party"`
	Up       bool   `json:"up"`
	LastSeen string `json:"last_seen,omitempty"`
	// SeenAgoMS is how long ago, on the node's own clock, the peer's last
	// heartbeat arrived: what to show people, where LastSeen is on a clock
	// that may not be theirs (the demo's runs days ahead).
	SeenAgoMS   *int64  `json:"seen_ago_ms,omitempty"`
	LastAttempt string  `json:"last_attempt,omitempty"`
	LatencyMS   float64 `json:"latency_ms"`
	// Uptime24h is the share of heartbeat rounds in the last 24 hours
	// that succeeded; Rounds how many there were.
	Uptime24h float64 `json:"uptime_24h"`
	Rounds    int     `json:"rounds_24h"`
	LastError string  `json:"last_error,omitempty"`
	// Sent is the sequence number of the last message this node sent the
	// peer, TheyReceived what the peer says it received without a gap;
	// TheySent what the peer says it sent, Received what this node
	// received without a gap; Missing the numbers from the peer this node
	// lacks.
	Sent         uint64      `json:"sent"`
	TheyReceived uint64      `json:"they_received"`
	TheySent     uint64      `json:"they_sent"`
	Received     uint64      `json:"received"`
	Missing      [][2]uint64 `json:"missing,omitempty"`
	// Log is what this node believes of the peer's log.
	Log PeerLog `json:"log"`
	// ClockOffsetMS is the peer's clock minus this node's, as last
	// measured from heartbeat times (positive: the peer's is ahead), at
	// ClockMeasured; absent before the first measurement. ClockAlarm is
	// set while the offset is beyond the 5 min request window (the clock
	// skew alarm): whose clock is likely wrong, and why.
	ClockOffsetMS *int64 `json:"clock_offset_ms,omitempty"`
	ClockMeasured string `json:"clock_measured,omitempty"`
	ClockAlarm    string `json:"clock_alarm,omitempty"`
}

// PeerLog is what a node believes of a peer's log: only checkpoints that
// carry the agreement's witness quorum (the peer not counting) count.
type PeerLog struct {
	Origin string `json:"origin,omitempty"`
	// WitnessedSize is the largest size a witnessed checkpoint showed, 0
	// with none; WitnessedAt the latest cosignature timestamp on it and
	// AgeSeconds how long ago that was; Cosigners the witnesses that
	// cosigned it.
	WitnessedSize uint64   `json:"witnessed_size"`
	WitnessedAt   string   `json:"witnessed_at,omitempty"`
	AgeSeconds    *int64   `json:"age_s,omitempty"`
	Cosigners     []string `json:"cosigners"`
	// Alarms are the equivocations, unprovable consistency and witness
	// clocks going back found about the log.
	Alarms []string `json:"alarms"`
}

// PeerList is the answer of GET /api/v1/peers.
type PeerList struct {
	Peers []Peer `json:"peers"`
}

// probeTimeout bounds each exchange of GET /api/v1/peers?probe=1: a peer
// that does not answer within it is shown down.
const probeTimeout = 5 * time.Second

func (a *api) listPeers(r *http.Request) (any, error) {
	switch r.URL.Query().Get("probe") {
	case "", "0", "false":
	case "1", "true":
		a.peers.Probe(r.Context(), probeTimeout)
	default:
		return nil, hotline.Errorf(ErrBadRequest, "probe: 1 or 0")
	}
	now := a.node.Clock().Now()
	ps, err := a.peers.Peers(r.Context())
	if err != nil {
		return nil, err
	}
	out := PeerList{Peers: []Peer{}}
	for _, p := range ps {
		q := Peer{
			Party: p.Party, Up: p.Up, LastSeen: fmtTime(p.LastSeen), LastAttempt: fmtTime(p.LastAttempt),
			LatencyMS: float64(p.Latency) / float64(time.Millisecond), Uptime24h: p.Uptime, Rounds: p.Rounds,
			LastError: p.LastError, Sent: p.Sent, TheyReceived: p.TheyReceived, TheySent: p.TheySent, Received: p.Received,
		}
		if !p.LastSeen.IsZero() {
			ago := now.Sub(p.LastSeen).Milliseconds()
			q.SeenAgoMS = &ago
		}
		if !p.ClockMeasured.IsZero() {
			off := p.ClockOffset.Milliseconds()
			q.ClockOffsetMS, q.ClockMeasured, q.ClockAlarm = &off, fmtTime(p.ClockMeasured), p.ClockAlarm
		}
		for _, m := range p.Missing {
			q.Missing = append(q.Missing, [2]uint64{m.From, m.To})
		}
		q.Log = PeerLog{Origin: p.Log.Origin, WitnessedSize: p.Log.Witnessed, WitnessedAt: fmtTime(p.Log.Cosigned),
			Cosigners: append([]string{}, p.Log.Cosigners...), Alarms: append([]string{}, p.Log.Alarms...)}
		if !p.Log.Cosigned.IsZero() {
			age := int64(a.node.Clock().Now().Sub(p.Log.Cosigned) / time.Second)
			q.Log.AgeSeconds = &age
		}
		out.Peers = append(out.Peers, q)
	}
	return out, nil
}

// Equivocation is a stored proof that a log showed two histories.
type Equivocation struct {
	Origin string `json:"origin"`
	At     string `json:"at"`
	Proof  string `json:"proof"`
}

// EquivocationList is the answer of GET /api/v1/equivocations.
type EquivocationList struct {
	Equivocations []Equivocation `json:"equivocations"`
}

func (a *api) equivocations(r *http.Request) (any, error) {
	es, err := a.node.Equivocations(r.Context())
	if err != nil {
		return nil, err
	}
	out := EquivocationList{Equivocations: []Equivocation{}}
	for _, e := range es {
		out.Equivocations = append(out.Equivocations, Equivocation{Origin: e.Origin, At: fmtTime(e.At), Proof: string(e.Proof)})
	}
	return out, nil
}
