// Package gossip keeps every channel to a peer known and every log honest.
//
// # Heartbeats
//
// Every node sends every peer a signed hotline-heartbeat/v1 on a fixed
// interval ([Heartbeats.Run]) and gets the peer's heartbeat back in the
// answer ([Heartbeats.Receive]), so one round trip tells both sides that the
// channel works, how long it takes, and which sequence numbers each has
// seen from the other: [Heartbeats.Peers] reports each channel's health and
// its sequence gaps.
//
// # Agreement gossip
//
// Each heartbeat carries the digest of the agreement chain its sender holds.
// When the answer to a node's heartbeat names a digest other than its own,
// the node calls SyncAgreement for that peer, which exchanges the documents
// one of them lacks (package chain): an agreement document published at
// one node reaches every reachable node within two rounds.
//
// # Checkpoint gossip and equivocation
//
// Each heartbeat carries the sender's latest checkpoint and the latest
// checkpoints it has seen of every other log. A checkpoint is verified with
// the key of the party whose log it is, and the largest of each log is
// kept in the store. Two checkpoints of one log that cannot both be true
// (same size and different roots, or a smaller one that is not a prefix of
// the larger, shown with a consistency proof) become an equivocation
// proof, stored, and an alarm (OnEquivocation).
package gossip

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/agreement"
	"github.com/hotline-net/hotline/internal/clock"
	"github.com/hotline-net/hotline/internal/store"
	"github.com/hotline-net/hotline/internal/tlog"
)

// HeartbeatTransport sends a heartbeat note to a peer's endpoint and
// returns the peer's heartbeat note.
type HeartbeatTransport interface {
	PostHeartbeat(ctx context.Context, to, endpoint string, note []byte) ([]byte, error)
}

// OwnLog is what heartbeats need of this node's log.
type OwnLog interface {
	Checkpoint() (tlog.Checkpoint, error)
	Witnessed() (tlog.Checkpoint, bool)
}

// HeartbeatConfig configures [Heartbeats]. Every field but Clock, Logger,
// Interval, RemoteLog and OnEquivocation is required.
type HeartbeatConfig struct {
	// Key is this party's message key; its name is the party id.
	Key       *hotline.SigningKey
	Agreement func() *agreement.Agreement
	Store     store.Store
	Log       OwnLog
	Transport HeartbeatTransport
	// RemoteLog returns a reader of a party's log, to prove an
	// equivocation between checkpoints of different sizes. Nil: only
	// same-size equivocations are proven.
	RemoteLog func(party string) (*tlog.Remote, error)
	Clock     clock.Clock
	Logger    *slog.Logger
	// Interval between rounds. Zero means 60 s.
	Interval time.Duration
	// OnEquivocation is called once for each new equivocation proof.
	OnEquivocation func(*tlog.Equivocation)
	// SyncAgreement, if set, is called in the round, after an exchange
	// whose answer names an agreement digest other than this node's, to
	// exchange agreement documents with that peer.
	SyncAgreement func(ctx context.Context, peer string)
	// OnHeard, if set, is called when a peer is heard from again: its
	// first valid heartbeat since this node started, since a probe of it
	// failed, or after two intervals of silence. The outbox makes the
	// peer's backlog due then ([outbox.Deliverer.Heard]). It is called
	// before Receive returns.
	OnHeard func(ctx context.Context, peer string)
}

// Heartbeats sends and answers heartbeats and keeps each peer's channel
// health. It is safe for concurrent use.
type Heartbeats struct {
	cfg    HeartbeatConfig
	self   string
	clock  clock.Clock
	logger *slog.Logger

	mu    sync.Mutex
	peers map[string]*peerState
	// seen holds the hashes of checkpoint notes already processed.
	seen map[[32]byte]bool
}

type peerState struct {
	// lastCounter is the highest counter seen from the peer; recent holds
	// every counter seen within the time window a heartbeat must fall in, so
	// that one seen again is a replay. (Both nodes run rounds, so the
	// heartbeat a peer answers with and the one it sends in its own round
	// can cross: counters arrive out of order, never twice.)
	lastCounter uint64
	recent      map[uint64]time.Time
	lastSeen    time.Time
	lastAttempt time.Time
	up          bool
	latency     time.Duration
	lastError   string
	// theySent and theyReceived are what the peer's last heartbeat said.
	theySent, theyReceived uint64
}

// NewHeartbeats returns the heartbeats of a node.
func NewHeartbeats(cfg HeartbeatConfig) (*Heartbeats, error) {
	if cfg.Key == nil || cfg.Agreement == nil || cfg.Store == nil || cfg.Log == nil || cfg.Transport == nil {
		return nil, errors.New("heartbeats: Key, Agreement, Store, Log and Transport are required")
	}
	h := &Heartbeats{cfg: cfg, self: cfg.Key.Name(), clock: clock.Or(cfg.Clock), logger: cfg.Logger, peers: map[string]*peerState{}, seen: map[[32]byte]bool{}}
	if h.logger == nil {
		h.logger = slog.New(slog.DiscardHandler)
	}
	if h.cfg.Interval <= 0 {
		h.cfg.Interval = time.Minute
	}
	return h, nil
}

// Run sends a round of heartbeats every interval until ctx ends.
func (h *Heartbeats) Run(ctx context.Context) error {
	t := time.NewTicker(h.cfg.Interval)
	defer t.Stop()
	for {
		h.Round(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Round sends one heartbeat to every peer of the agreement, concurrently,
// and processes the answers. It returns when every exchange is done.
func (h *Heartbeats) Round(ctx context.Context) { h.round(ctx, 30*time.Second) }

// Probe is a round on demand, each exchange bounded by timeout: what an
// operator who asks how the channels are (not how the last round found
// them) waits for. A peer that does not answer in time is recorded down.
func (h *Heartbeats) Probe(ctx context.Context, timeout time.Duration) { h.round(ctx, timeout) }

func (h *Heartbeats) round(ctx context.Context, timeout time.Duration) {
	gossip, err := h.gossip(ctx)
	if err != nil {
		if ctx.Err() == nil {
			h.logger.Error("reading checkpoints to gossip", "err", err)
		}
		return
	}
	var wg sync.WaitGroup
	for _, p := range h.cfg.Agreement().Parties() {
		if p.ID == h.self {
			continue
		}
		wg.Go(func() { h.exchange(ctx, p.ID, gossip, timeout) })
	}
	wg.Wait()
}

// gossip returns the checkpoints of every log this node has seen, to pass
// on.
func (h *Heartbeats) gossip(ctx context.Context) ([][]byte, error) {
	cps, err := h.cfg.Store.Checkpoints(ctx)
	if err != nil {
		return nil, err
	}
	notes := make([][]byte, len(cps))
	for i, c := range cps {
		notes[i] = c.Note
	}
	return notes, nil
}

// exchange sends one heartbeat to peer, each attempt bounded by timeout,
// and processes its answer.
func (h *Heartbeats) exchange(ctx context.Context, peer string, gossip [][]byte, timeout time.Duration) {
	now := h.clock.Now()
	eps, err := h.cfg.Agreement().Endpoints(peer)
	if err != nil || len(eps) == 0 {
		return // no endpoint yet: nothing to probe
	}
	msg, err := h.build(ctx, peer, now, gossip)
	if err != nil {
		h.logger.Error("building heartbeat", "peer", peer, "err", err)
		return
	}
	var answer []byte
	start := time.Now()
	for _, ep := range eps {
		actx, cancel := context.WithTimeout(ctx, timeout)
		answer, err = h.cfg.Transport.PostHeartbeat(actx, peer, ep, msg)
		cancel()
		if err == nil {
			break
		}
	}
	rtt := time.Since(start)
	if ctx.Err() != nil {
		return
	}
	var hb *hotline.Heartbeat
	if err == nil {
		hb, _, err = h.receive(ctx, peer, answer)
	}
	h.recordProbe(ctx, peer, now, err == nil, rtt, err)
	if err == nil && h.cfg.SyncAgreement != nil && !hb.Agreement.IsZero() && hb.Agreement != h.cfg.Agreement().Digest() {
		h.cfg.SyncAgreement(ctx, peer)
	}
}

func (h *Heartbeats) recordProbe(ctx context.Context, peer string, at time.Time, ok bool, rtt time.Duration, cause error) {
	h.mu.Lock()
	ps := h.peer(peer)
	ps.lastAttempt = at
	ps.up = ok
	errText := ""
	if ok {
		ps.latency = rtt
		ps.lastError = ""
	} else {
		errText = cause.Error()
		ps.lastError = errText
	}
	h.mu.Unlock()
	if !ok {
		h.logger.Info("heartbeat failed", "peer", peer, "err", cause)
	}
	// ErrConflict: a round triggered by hand overlapped a scheduled one and
	// recorded a later probe first; the history keeps that one.
	if err := h.cfg.Store.RecordProbe(ctx, &store.Probe{Peer: peer, At: at, OK: ok, Latency: rtt, Error: errText}); err != nil && ctx.Err() == nil && !errors.Is(err, store.ErrConflict) {
		h.logger.Error("recording heartbeat", "peer", peer, "err", err)
	}
}

// heartbeatSkew is how far a heartbeat's time may be from this node's
// clock.
const heartbeatSkew = 5 * time.Minute

func (h *Heartbeats) peer(p string) *peerState {
	ps := h.peers[p]
	if ps == nil {
		ps = &peerState{recent: map[uint64]time.Time{}}
		h.peers[p] = ps
	}
	return ps
}

// build signs this node's heartbeat to peer, carrying gossip.
func (h *Heartbeats) build(ctx context.Context, peer string, now time.Time, gossip [][]byte) ([]byte, error) {
	hb := &hotline.Heartbeat{From: h.self, To: peer, Time: now}
	// A counter that needs no state to stay increasing across restarts.
	hb.Counter = uint64(time.Now().UnixNano())
	seqs, err := h.cfg.Store.NextSequences(ctx, []string{peer})
	if err != nil {
		return nil, err
	}
	hb.Sent = seqs[0].Seq - 1
	in, err := h.cfg.Store.Inbound(ctx, peer)
	if err != nil {
		return nil, err
	}
	hb.Received = contiguous(in)
	hb.Agreement = h.cfg.Agreement().Digest()
	if cp, ok := h.cfg.Log.Witnessed(); ok {
		hb.Checkpoint = cp.Note
	} else if cp, err := h.cfg.Log.Checkpoint(); err == nil {
		hb.Checkpoint = cp.Note
	}
	hb.Gossip = gossip
	return hotline.Sign(hb, h.cfg.Key)
}

// contiguous returns the highest sequence number received with no gap
// below it.
func contiguous(in store.InboundSeqs) uint64 {
	if len(in.Gaps) > 0 {
		return in.Gaps[0].From - 1
	}
	return in.Highest
}

// Refusals of heartbeats.
var (
	ErrHeartbeatReplay = hotline.NewError("heartbeat_replay", "heartbeat counter seen before")
	ErrHeartbeatStale  = hotline.NewError("stale_heartbeat", "heartbeat time out of range")
	ErrHeartbeatPeer   = hotline.NewError("wrong_peer", "heartbeat not between these parties")
)

// Receive processes a heartbeat note from peer (already authenticated as
// the sender of the request that carried it) and returns this node's own
// heartbeat to peer, the answer.
func (h *Heartbeats) Receive(ctx context.Context, peer string, msg []byte) ([]byte, error) {
	_, answer, err := h.receive(ctx, peer, msg)
	return answer, err
}

// receive is Receive, returning the peer's heartbeat too.
func (h *Heartbeats) receive(ctx context.Context, peer string, msg []byte) (*hotline.Heartbeat, []byte, error) {
	now := h.clock.Now()
	agr := h.cfg.Agreement()
	key, err := agr.MessageKey(peer, now)
	if err != nil {
		return nil, nil, err
	}
	hb, err := hotline.OpenHeartbeat(msg, key)
	if err != nil {
		return nil, nil, err
	}
	if hb.From != peer || hb.To != h.self {
		return nil, nil, hotline.Errorf(ErrHeartbeatPeer, "heartbeat from %s to %s, exchanged between %s and %s", hb.From, hb.To, peer, h.self)
	}
	if d := now.Sub(hb.Time); d > heartbeatSkew || d < -heartbeatSkew {
		return nil, nil, hotline.Errorf(ErrHeartbeatStale, "heartbeat time %s is %v from this node's clock", hotline.FormatTime(hb.Time), d.Round(time.Second))
	}
	h.mu.Lock()
	ps := h.peer(peer)
	if _, ok := ps.recent[hb.Counter]; ok {
		h.mu.Unlock()
		return nil, nil, hotline.Errorf(ErrHeartbeatReplay, "counter %d from %s was seen already", hb.Counter, peer)
	}
	for c, at := range ps.recent {
		if now.Sub(at) > 2*heartbeatSkew {
			delete(ps.recent, c)
		}
	}
	ps.recent[hb.Counter] = now
	again := ps.lastSeen.IsZero() || (!ps.lastAttempt.IsZero() && !ps.up) || now.Sub(ps.lastSeen) > 2*h.cfg.Interval
	ps.lastSeen = now
	// A valid heartbeat from the peer is the channel working, whatever
	// the last probe of it said.
	ps.up = true
	if hb.Counter > ps.lastCounter {
		// Only the newest heartbeat says where the peer is now.
		ps.lastCounter = hb.Counter
		ps.theySent, ps.theyReceived = hb.Sent, hb.Received
	}
	h.mu.Unlock()
	if again && h.cfg.OnHeard != nil {
		h.cfg.OnHeard(ctx, peer)
	}

	h.checkGaps(ctx, peer, hb)
	if hb.Checkpoint != nil {
		h.checkpoint(ctx, hb.Checkpoint, peer)
	}
	for _, g := range hb.Gossip {
		h.checkpoint(ctx, g, peer)
	}
	gossip, err := h.gossip(ctx)
	if err != nil {
		return nil, nil, err
	}
	answer, err := h.build(ctx, peer, now, gossip)
	return hb, answer, err
}

// checkGaps logs the sequence gaps a heartbeat reveals, in both directions.
func (h *Heartbeats) checkGaps(ctx context.Context, peer string, hb *hotline.Heartbeat) {
	if in, err := h.cfg.Store.Inbound(ctx, peer); err == nil {
		if hb.Sent > in.Highest || in.Missing > 0 {
			h.logger.Warn("sequence gap: missing messages from peer", "peer", peer, "peer_sent", hb.Sent, "have_highest", in.Highest, "missing_below_highest", in.Missing)
		}
	}
	if seqs, err := h.cfg.Store.NextSequences(ctx, []string{peer}); err == nil {
		if sent := seqs[0].Seq - 1; hb.Received < sent {
			h.logger.Info("peer has not yet received everything sent to it", "peer", peer, "sent", sent, "peer_received", hb.Received)
		}
	}
}

// checkpoint verifies a checkpoint another node showed this one (from is
// who showed it), records it if it is the largest seen of its log, and
// turns two checkpoints that cannot both be true into a stored proof.
func (h *Heartbeats) checkpoint(ctx context.Context, signed []byte, from string) {
	// Every peer gossips every log's checkpoint every round: a note seen
	// before has been checked and recorded already.
	sum := sha256.Sum256(signed)
	h.mu.Lock()
	seen := h.seen[sum]
	h.mu.Unlock()
	if seen {
		return
	}
	now := h.clock.Now()
	agr := h.cfg.Agreement()
	origin, owner, v, err := h.logKey(agr, signed, now)
	if err != nil {
		h.logger.Info("ignoring a checkpoint", "from", from, "err", err)
		return
	}
	cp, _, err := tlog.OpenCheckpoint(signed, v)
	if err != nil {
		h.logger.Warn("a checkpoint that does not verify", "from", from, "origin", origin, "err", err)
		return
	}
	h.mu.Lock()
	if len(h.seen) >= 16384 {
		clear(h.seen)
	}
	h.seen[sum] = true
	h.mu.Unlock()
	prev, err := h.cfg.Store.Checkpoint(ctx, origin)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		h.logger.Error("reading a stored checkpoint", "origin", origin, "err", err)
		return
	default:
		if pcp, _, err := tlog.OpenCheckpoint(prev.Note, v); err == nil {
			h.compare(ctx, owner, pcp, cp)
		}
		if cp.Size <= prev.Size {
			return // the store keeps the largest; nothing to write
		}
	}
	if _, err := h.cfg.Store.SetCheckpoint(ctx, &store.Checkpoint{Origin: origin, Size: cp.Size, Note: signed, At: now}); err != nil && ctx.Err() == nil {
		h.logger.Error("recording a checkpoint", "origin", origin, "err", err)
	}
}

// logKey finds the party whose log a checkpoint is of, and its key.
func (h *Heartbeats) logKey(agr *agreement.Agreement, signed []byte, now time.Time) (string, string, note.Verifier, error) {
	first, _, ok := bytes.Cut(signed, []byte("\n"))
	origin := string(first)
	if !ok {
		return "", "", nil, fmt.Errorf("not a checkpoint")
	}
	for _, p := range agr.Parties() {
		if o, err := agr.LogOrigin(p.ID); err == nil && o == origin {
			v, err := agr.CheckpointKey(p.ID, now)
			return origin, p.ID, v, err
		}
	}
	return origin, "", nil, fmt.Errorf("origin %q is no party's log", origin)
}

// compare turns two checkpoints of one log that cannot both be true into
// an equivocation proof.
func (h *Heartbeats) compare(ctx context.Context, owner string, a, b tlog.Checkpoint) {
	var proof *tlog.Equivocation
	switch {
	case a.Size == b.Size && a.Hash == b.Hash:
		return
	case a.Size == b.Size:
		proof = &tlog.Equivocation{A: a.Note, B: b.Note}
		if string(proof.A) > string(proof.B) {
			proof.A, proof.B = proof.B, proof.A
		}
		// Build it through the parser so that its form is canonical.
		p, err := tlog.ParseEquivocation(proof.Marshal())
		if err != nil {
			h.logger.Error("building an equivocation proof", "err", err)
			return
		}
		proof = p
	default:
		if h.cfg.RemoteLog == nil {
			return
		}
		r, err := h.cfg.RemoteLog(owner)
		if err != nil {
			return
		}
		older, newer := a, b
		if older.Size > newer.Size {
			older, newer = newer, older
		}
		_, err = r.VerifyConsistency(ctx, older, newer)
		var ee *tlog.EquivocationError
		if !errors.As(err, &ee) {
			if err != nil {
				h.logger.Info("could not check consistency", "log", owner, "err", err)
			}
			return
		}
		proof = ee.Proof
	}
	h.equivocation(ctx, proof)
}

// equivocation stores a proof and raises the alarm, once per proof.
func (h *Heartbeats) equivocation(ctx context.Context, proof *tlog.Equivocation) {
	existed, err := h.cfg.Store.AddEquivocation(ctx, &store.EquivocationRecord{Origin: proof.Origin(), Proof: proof.Marshal(), At: h.clock.Now()})
	if err != nil {
		h.logger.Error("storing an equivocation proof", "origin", proof.Origin(), "err", err)
		return
	}
	if existed {
		return
	}
	h.logger.Error("EQUIVOCATION: a log signed two checkpoints that cannot both be true", "origin", proof.Origin())
	if h.cfg.OnEquivocation != nil {
		h.cfg.OnEquivocation(proof)
	}
}

// PeerStatus is the health of the channel to one peer.
type PeerStatus struct {
	Party       string
	Up          bool
	LastSeen    time.Time
	LastAttempt time.Time
	Latency     time.Duration
	// Uptime is the share of heartbeat rounds in the last 24 h that
	// succeeded (0 with no rounds), from the store's probe history, which
	// survives restarts; MeanLatency their mean round trip.
	Uptime      float64
	Rounds      int
	MeanLatency time.Duration
	LastError   string
	// Sent is the sequence number of the last envelope this node sent the
	// peer; TheyReceived what the peer's last heartbeat says it received
	// with no gap. TheySent is what the peer says it sent this node;
	// Received the highest received with no gap, Missing the numbers
	// missing below the peer's Sent.
	Sent, TheyReceived, TheySent, Received uint64
	Missing                                []store.SeqRange
}

// Peers returns the status of every peer of the agreement.
func (h *Heartbeats) Peers(ctx context.Context) ([]PeerStatus, error) {
	var out []PeerStatus
	for _, p := range h.cfg.Agreement().Parties() {
		if p.ID == h.self {
			continue
		}
		h.mu.Lock()
		ps := *h.peer(p.ID)
		h.mu.Unlock()
		st := PeerStatus{
			Party: p.ID, Up: ps.up, LastSeen: ps.lastSeen, LastAttempt: ps.lastAttempt, Latency: ps.latency,
			LastError: ps.lastError, TheySent: ps.theySent, TheyReceived: ps.theyReceived,
		}
		health, err := h.cfg.Store.PeerHealth(ctx, p.ID, h.clock.Now().Add(-24*time.Hour))
		if err != nil {
			return nil, err
		}
		st.Rounds, st.MeanLatency = health.Probes, health.MeanLatency
		if health.Probes > 0 {
			st.Uptime = float64(health.OK) / float64(health.Probes)
		}
		seqs, err := h.cfg.Store.NextSequences(ctx, []string{p.ID})
		if err != nil {
			return nil, err
		}
		st.Sent = seqs[0].Seq - 1
		in, err := h.cfg.Store.Inbound(ctx, p.ID)
		if err != nil {
			return nil, err
		}
		st.Received = contiguous(in)
		st.Missing = slices.Clone(in.Gaps)
		if ps.theySent > in.Highest {
			st.Missing = append(st.Missing, store.SeqRange{From: in.Highest + 1, To: ps.theySent})
		}
		out = append(out, st)
	}
	return out, nil
}
