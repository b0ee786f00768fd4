package gossip

import (
	"fmt"
	"maps"
	"slices"
	"time"
)

// Clock skew
//
// Every heartbeat exchange measures the peer's clock: the receiver of a
// heartbeat compares its signed time with its own clock, and the sender
// compares the time of the heartbeat that answers it with the middle of
// the exchange by its own clock (within ± half the round trip). When the
// peer's clock is beyond the window, the peer's heartbeats are refused —
// but one whose signature, parties and counter hold is still evidence of
// its clock (PROTOCOL §11.3, "Clock skew"): two such, with counters above
// every counter seen from the peer and offsets within a minute of each
// other, raise the skew alarm once until the offset is back within the
// window.

// The levels of a peer's clock offset.
const (
	skewOK    = iota // within SkewWarn
	skewWarn         // beyond SkewWarn, within the window
	skewAlarm        // beyond the window
)

func skewLevel(offset time.Duration) int {
	switch {
	case beyond(offset):
		return skewAlarm
	case offset > SkewWarn || offset < -SkewWarn:
		return skewWarn
	}
	return skewOK
}

// fmtOffset shows an offset with its sign: "+6m0s" (the peer's clock is
// ahead of this node's), "-2m3s" (behind).
func fmtOffset(d time.Duration) string {
	d = d.Round(time.Second)
	if d >= 0 {
		return "+" + d.String()
	}
	return d.String()
}

// measure takes a measurement of peer's clock offset (the peer's clock
// minus this node's) from a verified heartbeat with counter. One from an
// accepted heartbeat (within the window; its counter was checked) counts
// at once. One beyond the window counts only with a counter above every
// counter seen from the peer — so an old heartbeat replayed is ignored —
// and once a second such one, within skewAgree of it, confirms it; measure
// reports whether the counter was fresh. A measurement that counts is
// recorded, and logs and raises what its level calls for.
func (h *Heartbeats) measure(peer string, counter uint64, offset time.Duration, accepted bool) bool {
	now := h.clock.Now()
	h.mu.Lock()
	ps := h.peer(peer)
	if !accepted {
		if counter <= ps.lastCounter || counter <= ps.skewCounter {
			h.mu.Unlock()
			return false
		}
		ps.skewCounter = counter
		ps.seenOffset, ps.seenAt = offset, now
		agrees := func(with time.Duration) bool { return (with > 0) == (offset > 0) && absDur(with-offset) <= skewAgree }
		// A second measurement confirms the first; in an alarm, one that
		// agrees with the recorded offset is enough.
		confirmed := (!ps.pendingAt.IsZero() && agrees(ps.pending)) || (ps.skew == skewAlarm && agrees(ps.offset))
		if !confirmed {
			ps.pending, ps.pendingAt = offset, now
			h.mu.Unlock()
			h.logger.Info("clock skew: a heartbeat beyond the request window; waiting for a second to confirm it",
				"peer", peer, "offset", fmtOffset(offset))
			return true
		}
	} else {
		ps.seenOffset, ps.seenAt = offset, now
	}
	ps.pendingAt = time.Time{}
	ps.offset, ps.offsetAt = offset, now
	was, level := ps.skew, skewLevel(offset)
	ps.skew = level
	h.mu.Unlock()
	if h.cfg.OnClockOffset != nil {
		h.cfg.OnClockOffset(peer, offset)
	}
	switch {
	case level == skewAlarm && was != skewAlarm:
		h.skewAlarm(peer, offset, now)
	case was == skewAlarm && level != skewAlarm:
		h.logger.Warn("clock skew resolved: the peer's clock is back within the request window",
			"peer", peer, "offset", fmtOffset(offset), "window", heartbeatSkew)
	case level == skewWarn && was == skewOK:
		h.logger.Warn("clock skew: a peer's clock is over "+SkewWarn.String()+" from this node's, within the request window (no alarm; check NTP)",
			"peer", peer, "offset", fmtOffset(offset))
	case level == skewOK && was == skewWarn:
		h.logger.Info("clock skew resolved: the peer's clock is back within "+SkewWarn.String(), "peer", peer, "offset", fmtOffset(offset))
	}
	return true
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// skewAlarm raises the skew alarm about peer, whose clock is offset from
// this node's beyond the window.
func (h *Heartbeats) skewAlarm(peer string, offset time.Duration, now time.Time) {
	likely, why := h.whoseClock(peer, offset, now)
	a := Alarm{
		Peer: peer, Offset: offset, At: now,
		Reason: fmt.Sprintf("clock skew: %s's clock is %s from this node's, beyond the %v request window: heartbeats and requests both ways are refused as stale; %s is likely wrong (%s)",
			peer, fmtOffset(offset), heartbeatSkew, likely, why),
	}
	h.addAlarm(a)
	h.logger.Error("ALARM: clock skew beyond the request window: check NTP on the node whose clock is wrong",
		"peer", peer, "offset", fmtOffset(offset), "window", heartbeatSkew, "likely_wrong", likely, "why", why)
	if h.cfg.OnClockSkew != nil {
		h.cfg.OnClockSkew(a)
	}
}

// Who a skew alarm blames.
const (
	ThisClock    = "this node's clock"
	PeerClock    = "the peer's clock"
	UnknownClock = "cannot tell which clock"
)

// whoseClock tells whether this node's clock or peer's is likely wrong,
// from the last offset measured of every peer heard from in the last ten
// minutes: when every one of them (two at least) is off from this node
// the same way by about the same amount, it is this node's clock; when
// another peer agrees with this node's clock (within SkewWarn), the
// peer's.
func (h *Heartbeats) whoseClock(peer string, offset time.Duration, now time.Time) (string, string) {
	h.mu.Lock()
	offsets := map[string]time.Duration{peer: offset}
	for p, ps := range h.peers {
		if p != peer && !ps.seenAt.IsZero() && now.Sub(ps.seenAt) <= 2*heartbeatSkew {
			offsets[p] = ps.seenOffset
		}
	}
	h.mu.Unlock()
	var agree, same []string
	for _, p := range slices.Sorted(maps.Keys(offsets)) {
		o := offsets[p]
		switch {
		case skewLevel(o) == skewOK:
			agree = append(agree, p)
		case (o > 0) == (offset > 0) && absDur(o-offset) <= skewAgree:
			same = append(same, p)
		}
	}
	switch {
	case len(offsets) >= 2 && len(same) == len(offsets):
		return ThisClock, fmt.Sprintf("every peer heard from (%v) is about %s from this node", same, fmtOffset(offset))
	case len(agree) > 0:
		return PeerClock, fmt.Sprintf("other peers (%v) agree with this node's clock", agree)
	case len(offsets) == 1:
		return UnknownClock, "no other peer's clock measured to compare"
	}
	return UnknownClock, "the other peers' clocks disagree with both"
}
