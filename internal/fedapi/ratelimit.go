package fedapi

import (
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/hotline-net/hotline"
)

// ErrRateLimited: the peer sent more requests than its rate allows.
var ErrRateLimited = hotline.NewError("rate_limited", "too many requests")

// RateLimit bounds each peer's requests with a token bucket: Burst requests
// at once, refilled at PerSecond. The defaults are generous — a burst of
// every party writing at once is legitimate — and exist to stop one peer
// from taking the node for itself.
type RateLimit struct {
	// PerSecond is the sustained rate per peer. Zero means 100; negative
	// means no limit.
	PerSecond float64
	// Burst is how many requests a peer may send at once. Zero means 1000.
	Burst int
}

// limiter keeps one token bucket (golang.org/x/time/rate) per peer. Peers
// are the agreement's parties, authenticated before they are counted, so
// the map stays as small as the agreement.
type limiter struct {
	rate  rate.Limit
	burst int
	now   func() time.Time

	mu    sync.Mutex
	peers map[string]*rate.Limiter
}

func newLimiter(rl RateLimit) *limiter {
	if rl.PerSecond < 0 {
		return nil
	}
	if rl.PerSecond == 0 {
		rl.PerSecond = 100
	}
	if rl.Burst <= 0 {
		rl.Burst = 1000
	}
	return &limiter{rate: rate.Limit(rl.PerSecond), burst: rl.Burst, peers: map[string]*rate.Limiter{}, now: time.Now}
}

// allow takes a token from peer's bucket, or says how long until one is
// there.
func (l *limiter) allow(peer string) (bool, time.Duration) {
	if l == nil {
		return true, 0
	}
	l.mu.Lock()
	b := l.peers[peer]
	if b == nil {
		b = rate.NewLimiter(l.rate, l.burst)
		l.peers[peer] = b
	}
	l.mu.Unlock()
	now := l.now()
	r := b.ReserveN(now, 1)
	if wait := r.DelayFrom(now); wait > 0 {
		r.CancelAt(now) // a refused request does not spend the token
		return false, wait
	}
	return true, 0
}
