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
// Each heartbeat carries the sender's latest checkpoint, the largest
// witnessed checkpoint it holds of every other log and the last one each
// log's owner showed it. A checkpoint is verified with the key of the party
// whose log it is ([Verify]); it is believed only if it carries the
// agreement's witness quorum from witnesses other than the log's owner.
// Witnessed checkpoints are kept in the store's history with every
// cosignature, the largest of each log as what the node believes of it
// ([Heartbeats.Witnessed]); an unwitnessed one is kept in memory to
// compare, never believed. Two checkpoints of one log that cannot both be
// true (same size and different roots, or a smaller one that is not a
// prefix of the larger, shown with a consistency proof) become an
// equivocation proof, stored, and an alarm (OnEquivocation); two whose
// consistency cannot be proven after retries raise the same alarm without a
// proof (OnUnproven), and a witness whose cosignature timestamps go down as
// a log grows is reported (OnWitness). [Heartbeats.Alarms] lists them.
package gossip

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

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
	// OnUnproven is called once for each pair of checkpoints of a log
	// whose consistency could not be proven after retries: the same alarm
	// as an equivocation, without a proof.
	OnUnproven func(Alarm)
	// OnWitness is called for each witness found cosigning a larger
	// checkpoint of a log with an earlier timestamp than a smaller one.
	OnWitness func(Alarm)
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
	// OnClockOffset, if set, is called with each peer's clock offset
	// (the peer's clock minus this node's) as it is measured from
	// heartbeat times ([PeerStatus.ClockOffset]).
	OnClockOffset func(peer string, offset time.Duration)
	// OnClockSkew, if set, is called once per episode of a peer's clock
	// offset beyond [HeartbeatWindow]: the skew alarm.
	OnClockSkew func(Alarm)
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
	// unwitnessed holds, per origin, the largest checkpoints seen that
	// did not meet the witness quorum: compared, never believed.
	unwitnessed map[string][]tlog.Checkpoint
	// lastUnwitnessed is the last of them the log's owner showed, per
	// origin, to gossip.
	lastUnwitnessed map[string][]byte
	// pending holds the consistency checks to try again.
	pending map[string]*unproven
	alarms  []Alarm
	// counter is the last heartbeat counter this node used.
	counter uint64
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

	// offset is the peer's clock minus this node's as last measured from
	// a heartbeat's time, at offsetAt (this node's clock; zero: never).
	// skew is where it stands (skewOK, skewWarn, skewAlarm).
	offset   time.Duration
	offsetAt time.Time
	skew     int
	// A heartbeat beyond the window is evidence of skew only with a
	// counter above every counter seen from the peer (skewCounter, with
	// lastCounter), and counts only once a second such one agrees:
	// pendingAt is the time of a first one (zero: none), pending its
	// offset. seen and seenAt are the last offset measured, confirmed or
	// not, which tells whose clock is wrong.
	skewCounter uint64
	pending     time.Duration
	pendingAt   time.Time
	seenOffset  time.Duration
	seenAt      time.Time
}

// NewHeartbeats returns the heartbeats of a node.
func NewHeartbeats(cfg HeartbeatConfig) (*Heartbeats, error) {
	if cfg.Key == nil || cfg.Agreement == nil || cfg.Store == nil || cfg.Log == nil || cfg.Transport == nil {
		return nil, errors.New("heartbeats: Key, Agreement, Store, Log and Transport are required")
	}
	h := &Heartbeats{cfg: cfg, self: cfg.Key.Name(), clock: clock.Or(cfg.Clock), logger: cfg.Logger, peers: map[string]*peerState{}, seen: map[[32]byte]bool{},
		unwitnessed: map[string][]tlog.Checkpoint{}, lastUnwitnessed: map[string][]byte{}, pending: map[string]*unproven{}}
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
	defer h.Recheck(ctx)
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
// on: the largest witnessed one of each log, and the last unwitnessed one
// each log's owner showed it (not believed, but passed on so that a log
// showing different parties different checkpoints is caught).
func (h *Heartbeats) gossip(ctx context.Context) ([][]byte, error) {
	cps, err := h.cfg.Store.Checkpoints(ctx)
	if err != nil {
		return nil, err
	}
	notes := make([][]byte, 0, len(cps))
	for _, c := range cps {
		notes = append(notes, c.Note)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, origin := range slices.Sorted(maps.Keys(h.lastUnwitnessed)) {
		notes = append(notes, h.lastUnwitnessed[origin])
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
	var sent time.Time
	start := time.Now()
	for _, ep := range eps {
		actx, cancel := context.WithTimeout(ctx, timeout)
		// The answer's time is compared with the middle of the attempt
		// that brought it, by this node's clock.
		sent = h.clock.Now()
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
		hb, _, err = h.receive(ctx, peer, answer, sent)
	} else {
		h.refusedStale(peer, err, sent)
	}
	h.recordProbe(ctx, peer, now, err == nil, rtt, err)
	if err == nil && h.cfg.SyncAgreement != nil && !hb.Agreement.IsZero() && hb.Agreement != h.cfg.Agreement().Digest() {
		h.cfg.SyncAgreement(ctx, peer)
	}
}

// refusedStale measures the peer's clock from a stale_heartbeat refusal of
// a heartbeat this node sent at sent: the refusal carries the peer's own
// heartbeat to this node as its statement (PROTOCOL §11.3), whose time is
// the peer's clock.
func (h *Heartbeats) refusedStale(peer string, err error, sent time.Time) {
	var pe interface {
		ErrorCode() string
		RefusalStatement() []byte
	}
	if !errors.As(err, &pe) || pe.ErrorCode() != ErrHeartbeatStale.Code || len(pe.RefusalStatement()) == 0 {
		return
	}
	now := h.clock.Now()
	hb, err := h.open(peer, pe.RefusalStatement(), now)
	if err != nil {
		h.logger.Info("a stale_heartbeat refusal carries no valid heartbeat of the peer's", "peer", peer, "err", err)
		return
	}
	offset := hb.Time.Sub(sent.Add(now.Sub(sent) / 2))
	if !beyond(offset) {
		return // the peer refused this node's time, and its own agrees: nothing to measure
	}
	h.measure(peer, hb.Counter, offset, false)
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

// HeartbeatWindow is how far a heartbeat's time may be from this node's
// clock: the request window (fedapi.MaxSkew).
const HeartbeatWindow = 5 * time.Minute

// heartbeatSkew is HeartbeatWindow.
const heartbeatSkew = HeartbeatWindow

// SkewWarn is the clock offset from a peer above which a node warns
// (within the window: no alarm, heartbeats still accepted).
const SkewWarn = time.Minute

// skewAgree is how close two measurements of a peer's clock beyond the
// window must be for the second to confirm the first, and how close the
// offsets of every peer must be for this node's clock to be the one blamed.
const skewAgree = time.Minute

// beyond reports whether a clock offset is beyond the window.
func beyond(offset time.Duration) bool { return offset > heartbeatSkew || offset < -heartbeatSkew }

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
	hb.Counter = h.nextCounter()
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

// nextCounter returns a heartbeat counter above every one this node used:
// the system clock in nanoseconds, which needs no state to stay increasing
// across restarts. It is the system clock, not the node's: the node's
// clock may be moved (a fault injected, a clock set right), and a counter
// that went down would make the peers ignore this node's heartbeats as
// evidence of skew.
func (h *Heartbeats) nextCounter() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	c := uint64(time.Now().UnixNano())
	if c <= h.counter {
		c = h.counter + 1
	}
	h.counter = c
	return c
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
// heartbeat to peer, the answer. A heartbeat whose only fault is its time
// is refused stale_heartbeat, the refusal carrying this node's heartbeat
// to peer ([StaleError]), and measures the peer's clock.
func (h *Heartbeats) Receive(ctx context.Context, peer string, msg []byte) ([]byte, error) {
	_, answer, err := h.receive(ctx, peer, msg, time.Time{})
	return answer, err
}

// ReceiveStale processes a heartbeat note from peer carried by a request
// whose signature verified but whose time is beyond the request window
// (fedapi). It never accepts one: it returns the stale_heartbeat refusal
// of a heartbeat beyond the window too, having measured the peer's clock
// from it as Receive does, or nil when the heartbeat's time is within the
// window (the request alone is stale: refuse it as such).
func (h *Heartbeats) ReceiveStale(ctx context.Context, peer string, msg []byte) error {
	now := h.clock.Now()
	hb, err := h.open(peer, msg, now)
	if err != nil {
		return err
	}
	if !beyond(hb.Time.Sub(now)) {
		return nil
	}
	return h.stale(ctx, peer, hb, now, time.Time{})
}

// StaleError is the stale_heartbeat refusal of a heartbeat whose only
// fault is its time. Answer is this node's own heartbeat to the sender,
// which the refusal carries as its statement so that the sender can
// measure this node's clock; nil for a heartbeat that is no evidence of
// skew (a replay).
type StaleError struct {
	Err    error
	Answer []byte
}

func (e *StaleError) Error() string { return e.Err.Error() }

// Unwrap returns the refusal.
func (e *StaleError) Unwrap() error { return e.Err }

// RefusalStatement returns this node's heartbeat to the sender.
func (e *StaleError) RefusalStatement() []byte { return e.Answer }

// open verifies a heartbeat note of peer's with its message key valid at
// now and checks that it is from peer to this node.
func (h *Heartbeats) open(peer string, msg []byte, now time.Time) (*hotline.Heartbeat, error) {
	key, err := h.cfg.Agreement().MessageKey(peer, now)
	if err != nil {
		return nil, err
	}
	hb, err := hotline.OpenHeartbeat(msg, key)
	if err != nil {
		return nil, err
	}
	if hb.From != peer || hb.To != h.self {
		return nil, hotline.Errorf(ErrHeartbeatPeer, "heartbeat from %s to %s, exchanged between %s and %s", hb.From, hb.To, peer, h.self)
	}
	return hb, nil
}

// stale refuses a verified heartbeat beyond the window, having measured
// the peer's clock from it. sent is when this node sent the heartbeat the
// note answers (zero: the note came in a peer's request, and the refusal
// carries this node's heartbeat to the peer).
func (h *Heartbeats) stale(ctx context.Context, peer string, hb *hotline.Heartbeat, now, sent time.Time) error {
	offset := hb.Time.Sub(now)
	if !sent.IsZero() {
		offset = hb.Time.Sub(sent.Add(now.Sub(sent) / 2))
	}
	fresh := h.measure(peer, hb.Counter, offset, false)
	err := &StaleError{Err: hotline.Errorf(ErrHeartbeatStale, "heartbeat time %s is %v from this node's clock (at most %v)",
		hotline.FormatTime(hb.Time), now.Sub(hb.Time).Round(time.Second), heartbeatSkew)}
	if fresh && sent.IsZero() {
		answer, berr := h.build(ctx, peer, now, nil)
		if berr != nil {
			h.logger.Error("building heartbeat", "peer", peer, "err", berr)
		}
		err.Answer = answer
	}
	return err
}

// receive is Receive, returning the peer's heartbeat too; sent is as for
// stale.
func (h *Heartbeats) receive(ctx context.Context, peer string, msg []byte, sent time.Time) (*hotline.Heartbeat, []byte, error) {
	now := h.clock.Now()
	hb, err := h.open(peer, msg, now)
	if err != nil {
		return nil, nil, err
	}
	if d := now.Sub(hb.Time); d > heartbeatSkew || d < -heartbeatSkew {
		return nil, nil, h.stale(ctx, peer, hb, now, sent)
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
	offset := hb.Time.Sub(now)
	if !sent.IsZero() {
		offset = hb.Time.Sub(sent.Add(now.Sub(sent) / 2))
	}
	h.measure(peer, hb.Counter, offset, true)
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
// who showed it) and compares it with what this node holds of its log. A
// witnessed one (the agreement's quorum, the owner not counting) that is
// the largest of its log is recorded: only those raise what this node
// believes of a log. An unwitnessed one is kept in memory, bounded, to
// compare with later ones, never believed. Two checkpoints that cannot both
// be true become a stored proof; two whose consistency cannot be checked
// are checked again each round (Recheck) and raise the alarm if it still
// cannot be proven.
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
	cp, err := Verify(agr, signed, now)
	if err != nil {
		h.logger.Warn("a checkpoint that does not verify", "from", from, "err", err)
		return
	}
	h.mu.Lock()
	if len(h.seen) >= 16384 {
		clear(h.seen)
	}
	h.seen[sum] = true
	h.mu.Unlock()
	prev, ok, err := h.believed(ctx, agr, cp.Origin, now)
	if err != nil {
		if ctx.Err() == nil {
			h.logger.Error("reading a stored checkpoint", "origin", cp.Origin, "err", err)
		}
		return
	}
	if cp.Witnessed {
		// Kept with every cosignature, and checked against its neighbours
		// in size (the largest believed among them, when it is the new
		// largest).
		h.record(ctx, cp, now)
	} else if ok {
		h.compare(ctx, cp.Owner, prev.Checkpoint, cp.Checkpoint)
	}
	h.mu.Lock()
	kept := slices.Clone(h.unwitnessed[cp.Origin])
	h.mu.Unlock()
	for _, u := range kept {
		// A witnessed checkpoint is compared with every unwitnessed one
		// kept; an unwitnessed one only with those of its size (forks).
		if u.Size == cp.Size || cp.Witnessed {
			h.compare(ctx, cp.Owner, u, cp.Checkpoint)
		}
	}
	if !cp.Witnessed {
		h.keepUnwitnessed(cp.Checkpoint, from == cp.Owner)
		h.logger.Debug("an unwitnessed checkpoint: kept to compare, not believed", "from", from, "origin", cp.Origin, "size", cp.Size)
		return
	}
	if ok && cp.Size <= prev.Size {
		return // the store keeps the largest; nothing to write
	}
	if _, err := h.cfg.Store.SetCheckpoint(ctx, &store.Checkpoint{Origin: cp.Origin, Size: cp.Size, Note: signed, At: now}); err != nil && ctx.Err() == nil {
		h.logger.Error("recording a checkpoint", "origin", cp.Origin, "err", err)
	}
}

// record keeps a witnessed checkpoint and its cosignatures in the store's
// history, checks it for consistency against the recorded checkpoints next
// to it in size, and reports a witness whose cosignature timestamps go
// down as the log grows.
func (h *Heartbeats) record(ctx context.Context, cp Verified, now time.Time) {
	w := &store.WitnessedCheckpoint{Origin: cp.Origin, Size: cp.Size, Hash: cp.Hash, Note: cp.Note, At: now}
	for _, c := range cp.Cosignatures {
		w.Cosignatures = append(w.Cosignatures, store.CosignatureRecord{
			Origin: cp.Origin, Size: cp.Size, Witness: c.Witness, Time: c.Time, Signature: c.Signature, At: now,
		})
	}
	_, err := h.cfg.Store.AddWitnessed(ctx, w)
	if errors.Is(err, store.ErrConflict) && cp.Size > 0 {
		// Another root of this size is recorded: both were witnessed.
		if _, same, err := h.cfg.Store.WitnessedAround(ctx, cp.Origin, cp.Size-1); err == nil && same != nil && same.Size == cp.Size {
			if other, err := Verify(h.cfg.Agreement(), same.Note, now); err == nil {
				h.compare(ctx, cp.Owner, other.Checkpoint, cp.Checkpoint)
			}
		}
		return
	}
	if err != nil {
		if ctx.Err() == nil {
			h.logger.Error("recording a witnessed checkpoint", "origin", cp.Origin, "size", cp.Size, "err", err)
		}
		return
	}
	below, above, err := h.cfg.Store.WitnessedAround(ctx, cp.Origin, cp.Size)
	if err != nil {
		if ctx.Err() == nil {
			h.logger.Error("reading witnessed checkpoints", "origin", cp.Origin, "err", err)
		}
		return
	}
	for _, n := range []*store.WitnessedCheckpoint{below, above} {
		if n == nil {
			continue
		}
		if other, err := Verify(h.cfg.Agreement(), n.Note, now); err == nil {
			h.compare(ctx, cp.Owner, other.Checkpoint, cp.Checkpoint)
		}
	}
	h.witnessClocks(cp, w, below, above)
}

// witnessClocks reports each witness that cosigned a larger checkpoint of
// a log with an earlier timestamp than a smaller one: a witness's clock
// that goes back, or a witness that backdates, either of which would move
// neutral times.
func (h *Heartbeats) witnessClocks(cp Verified, w, below, above *store.WitnessedCheckpoint) {
	times := func(c *store.WitnessedCheckpoint) map[string]time.Time {
		m := map[string]time.Time{}
		if c != nil {
			for _, s := range c.Cosignatures {
				m[s.Witness] = s.Time
			}
		}
		return m
	}
	mine, lower, upper := times(w), times(below), times(above)
	for _, witness := range slices.Sorted(maps.Keys(mine)) {
		t := mine[witness]
		var small, large *store.WitnessedCheckpoint
		var ts, tl time.Time
		if lt, ok := lower[witness]; ok && lt.After(t) {
			small, large, ts, tl = below, w, lt, t
		} else if ut, ok := upper[witness]; ok && ut.Before(t) {
			small, large, ts, tl = w, above, t, ut
		} else {
			continue
		}
		a := Alarm{
			Origin: cp.Origin, Owner: cp.Owner, Witness: witness, At: h.clock.Now(), Older: small.Note, Newer: large.Note,
			Reason: fmt.Sprintf("witness %s cosigned size %d at %s but the larger size %d at %s, earlier: its timestamps go down as the log grows",
				witness, small.Size, hotline.FormatTime(ts), large.Size, hotline.FormatTime(tl)),
		}
		h.addAlarm(a)
		h.logger.Error("ALARM: a witness's cosignature timestamps go down as the log grows", "witness", witness, "origin", cp.Origin, "reason", a.Reason)
		if h.cfg.OnWitness != nil {
			h.cfg.OnWitness(a)
		}
	}
}

// maxUnwitnessed bounds the unwitnessed checkpoints kept per log.
const maxUnwitnessed = 16

// keepUnwitnessed keeps cp to compare with later checkpoints of its log,
// the largest maxUnwitnessed per log. One the log's owner showed this node
// itself (firsthand) is also the one gossiped for that log.
func (h *Heartbeats) keepUnwitnessed(cp tlog.Checkpoint, firsthand bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	kept := h.unwitnessed[cp.Origin]
	for _, k := range kept {
		if bytes.Equal(k.Text(), cp.Text()) {
			return
		}
	}
	if firsthand {
		h.lastUnwitnessed[cp.Origin] = cp.Note
	}
	kept = append(kept, cp)
	slices.SortFunc(kept, func(a, b tlog.Checkpoint) int { return cmp.Compare(b.Size, a.Size) })
	if len(kept) > maxUnwitnessed {
		kept = kept[:maxUnwitnessed]
	}
	h.unwitnessed[cp.Origin] = kept
}

// believed returns the largest witnessed checkpoint of origin this node
// holds. A stored checkpoint that does not meet the witness quorum (one
// recorded before only witnessed checkpoints were) is not believed.
func (h *Heartbeats) believed(ctx context.Context, agr *agreement.Agreement, origin string, now time.Time) (Verified, bool, error) {
	stored, err := h.cfg.Store.Checkpoint(ctx, origin)
	if errors.Is(err, store.ErrNotFound) {
		return Verified{}, false, nil
	}
	if err != nil {
		return Verified{}, false, err
	}
	v, err := Verify(agr, stored.Note, now)
	if err != nil || !v.Witnessed {
		return Verified{}, false, nil
	}
	return v, true, nil
}

// Witnessed returns the largest checkpoint of party's log that this node
// believes: one that met the agreement's witness quorum. ok is false if it
// holds none.
func (h *Heartbeats) Witnessed(ctx context.Context, party string) (Verified, bool, error) {
	agr := h.cfg.Agreement()
	origin, err := agr.LogOrigin(party)
	if err != nil {
		return Verified{}, false, err
	}
	return h.believed(ctx, agr, origin, h.clock.Now())
}

// Observe verifies and compares a checkpoint this node fetched itself (the
// inclusion checker's), as if a peer had gossiped it.
func (h *Heartbeats) Observe(ctx context.Context, signed []byte) {
	h.checkpoint(ctx, signed, h.self)
}

// compare turns two checkpoints of one log that cannot both be true into
// an equivocation proof. Two of different sizes whose consistency cannot
// be checked now are checked again at each round.
func (h *Heartbeats) compare(ctx context.Context, owner string, a, b tlog.Checkpoint) {
	switch {
	case a.Size == b.Size && a.Hash == b.Hash:
		return
	case a.Size == b.Size:
		proof := &tlog.Equivocation{A: a.Note, B: b.Note}
		if string(proof.A) > string(proof.B) {
			proof.A, proof.B = proof.B, proof.A
		}
		// Build it through the parser so that its form is canonical.
		p, err := tlog.ParseEquivocation(proof.Marshal())
		if err != nil {
			h.logger.Error("building an equivocation proof", "err", err)
			return
		}
		h.equivocation(ctx, p)
		return
	}
	older, newer := a, b
	if older.Size > newer.Size {
		older, newer = newer, older
	}
	u := &unproven{owner: owner, older: older, newer: newer}
	if h.consistent(ctx, u) {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	key := u.key()
	if h.pending[key] == nil && len(h.pending) < maxUnproven {
		h.pending[key] = u
	}
}

// Consistency checks that fail are tried again at each round (and after
// every probe), and raise the alarm after failures in unprovenTries
// rounds: failures less than a round apart count once, so that a log out
// of reach for a moment (a restart, a network fault) raises no alarm. At
// most maxUnproven wait.
const (
	unprovenTries = 3
	maxUnproven   = 1024
)

// unproven is a pair of checkpoints of one log whose consistency could not
// be checked yet.
type unproven struct {
	owner        string
	older, newer tlog.Checkpoint
	tries        int
	counted      time.Time // when a failure was last counted in tries
	lastErr      error
}

func (u *unproven) key() string { return string(u.older.Text()) + string(u.newer.Text()) }

// consistent checks u once: it reports true when the question is settled
// (consistent, or an equivocation proven and raised) and counts a failure
// otherwise.
func (h *Heartbeats) consistent(ctx context.Context, u *unproven) bool {
	var err error
	if h.cfg.RemoteLog == nil {
		err = errors.New("no reader of the log's tiles")
	} else {
		var r *tlog.Remote
		if r, err = h.cfg.RemoteLog(u.owner); err == nil {
			_, err = r.VerifyConsistency(ctx, u.older, u.newer)
		}
	}
	var ee *tlog.EquivocationError
	switch {
	case err == nil:
		return true
	case errors.As(err, &ee):
		h.equivocation(ctx, ee.Proof)
		return true
	case ctx.Err() != nil:
		return false
	}
	u.lastErr = err
	now := h.clock.Now()
	if !u.counted.IsZero() && now.Sub(u.counted) < h.cfg.Interval {
		return false
	}
	u.tries, u.counted = u.tries+1, now
	h.logger.Warn("could not check the consistency of two checkpoints; trying again next round",
		"log", u.owner, "sizes", fmt.Sprintf("%d→%d", u.older.Size, u.newer.Size), "tries", u.tries, "err", err)
	return false
}

// Recheck tries again the consistency checks that failed, and raises the
// alarm for each that has failed unprovenTries times: a log that signed
// two checkpoints and does not show that one extends the other is treated
// like one that equivocated, with what is known. Round calls it.
func (h *Heartbeats) Recheck(ctx context.Context) {
	h.mu.Lock()
	pending := make([]*unproven, 0, len(h.pending))
	for _, u := range h.pending {
		pending = append(pending, u)
	}
	h.mu.Unlock()
	for _, u := range pending {
		if ctx.Err() != nil {
			return
		}
		settled := h.consistent(ctx, u)
		if !settled && u.tries >= unprovenTries {
			h.unprovable(u)
			settled = true
		}
		if settled {
			h.mu.Lock()
			delete(h.pending, u.key())
			h.mu.Unlock()
		}
	}
}

// Alarm is what this node knows of a log that showed two checkpoints that
// cannot both be shown true: an equivocation proof, or two checkpoints
// whose consistency could not be proven; or of a witness whose timestamps
// go back; or of a peer whose clock is beyond the window (Peer).
type Alarm struct {
	// Origin is the log, Owner its party.
	Origin, Owner string
	// Witness is set when the alarm is about a witness, not the log: its
	// cosignature timestamps go down as the log grows.
	Witness string
	// Peer is set when the alarm is about clock skew, not a log: the
	// peer's clock is Offset from this node's (the peer's minus this
	// node's), beyond the window.
	Peer   string
	Offset time.Duration
	// At is when this node raised it.
	At time.Time
	// Proof is the equivocation proof; nil when consistency could only not
	// be proven.
	Proof *tlog.Equivocation
	// Older and Newer are the two signed checkpoint notes.
	Older, Newer []byte
	// Reason says what was tried and what failed.
	Reason string
}

// maxAlarms bounds the alarms kept in memory for Alarms.
const maxAlarms = 256

// unprovable raises the alarm for a pair whose consistency could not be
// proven after retries.
func (h *Heartbeats) unprovable(u *unproven) {
	a := Alarm{
		Origin: u.older.Origin, Owner: u.owner, At: h.clock.Now(), Older: u.older.Note, Newer: u.newer.Note,
		Reason: fmt.Sprintf("no proof that size %d extends size %d after %d tries: %v", u.newer.Size, u.older.Size, u.tries, u.lastErr),
	}
	h.addAlarm(a)
	h.logger.Error("ALARM: a log's consistency cannot be proven: treat as an equivocation until shown otherwise",
		"origin", a.Origin, "log", a.Owner, "older", string(a.Older), "newer", string(a.Newer), "reason", a.Reason)
	if h.cfg.OnUnproven != nil {
		h.cfg.OnUnproven(a)
	}
}

func (h *Heartbeats) addAlarm(a Alarm) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.alarms) >= maxAlarms {
		h.alarms = slices.Delete(h.alarms, 0, 1)
	}
	h.alarms = append(h.alarms, a)
}

// Alarms returns the alarms raised since the node started, oldest first.
// Equivocation proofs are also in the store (Store.Equivocations).
func (h *Heartbeats) Alarms() []Alarm {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.alarms)
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
	h.addAlarm(Alarm{Origin: proof.Origin(), At: h.clock.Now(), Proof: proof, Older: proof.A, Newer: proof.B, Reason: "equivocation: two checkpoints that cannot both be true"})
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
	// Log is what this node believes of the peer's log.
	Log LogStatus
	// ClockOffset is the peer's clock minus this node's as last measured
	// from heartbeat times, at ClockMeasured by this node's clock (zero:
	// never measured). ClockAlarm is set while the offset is beyond the
	// window (the skew alarm): whose clock is likely wrong, and why.
	ClockOffset   time.Duration
	ClockMeasured time.Time
	ClockAlarm    string
}

// LogStatus is what a node believes of one party's log.
type LogStatus struct {
	Origin string
	// Witnessed is the largest size a checkpoint that met the witness
	// quorum showed (0 with none); Cosigned the latest timestamp among
	// its cosignatures, from which its age is counted; Cosigners the
	// witnesses whose cosignatures it carries.
	Witnessed uint64
	Cosigned  time.Time
	Cosigners []string
	// Alarms describe the equivocations, unprovable consistency and
	// witness clocks going back this node found about the log.
	Alarms []string
}

// logStatus returns what this node believes of party's log.
func (h *Heartbeats) logStatus(ctx context.Context, party string, equivocations []store.EquivocationRecord) (LogStatus, error) {
	var ls LogStatus
	origin, err := h.cfg.Agreement().LogOrigin(party)
	if err != nil {
		return ls, nil // no directory entry yet: no log to speak of
	}
	ls.Origin = origin
	v, ok, err := h.Witnessed(ctx, party)
	if err != nil {
		return ls, err
	}
	if ok {
		ls.Witnessed = v.Size
		for _, c := range v.Cosignatures {
			ls.Cosigners = append(ls.Cosigners, c.Witness)
			if c.Time.After(ls.Cosigned) {
				ls.Cosigned = c.Time
			}
		}
	}
	for _, e := range equivocations {
		if e.Origin == origin {
			ls.Alarms = append(ls.Alarms, "equivocation found "+hotline.FormatTime(e.At)+" (the proof: GET /api/v1/equivocations)")
		}
	}
	for _, a := range h.Alarms() {
		if a.Origin == origin && a.Proof == nil {
			ls.Alarms = append(ls.Alarms, a.Reason)
		}
	}
	return ls, nil
}

// Peers returns the status of every peer of the agreement.
func (h *Heartbeats) Peers(ctx context.Context) ([]PeerStatus, error) {
	var out []PeerStatus
	equivocations, err := h.cfg.Store.Equivocations(ctx)
	if err != nil {
		return nil, err
	}
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
			ClockOffset: ps.offset, ClockMeasured: ps.offsetAt,
		}
		if ps.skew == skewAlarm {
			// Judged again now: more peers may have been heard from
			// since the alarm.
			likely, why := h.whoseClock(p.ID, ps.offset, h.clock.Now())
			st.ClockAlarm = likely + ": " + why
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
		if st.Log, err = h.logStatus(ctx, p.ID, equivocations); err != nil {
			return nil, err
		}
		st.Missing = slices.Clone(in.Gaps)
		if ps.theySent > in.Highest {
			st.Missing = append(st.Missing, store.SeqRange{From: in.Highest + 1, To: ps.theySent})
		}
		out = append(out, st)
	}
	return out, nil
}
