package fedapi

import (
	"math"
	"sync"
	"time"

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

type limiter struct {
	rate  float64
	burst float64
	mu    sync.Mutex
	peers map[string]*bucket
	now   func() time.Time
}

type bucket struct {
	tokens float64
	last   time.Time
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
	return &limiter{rate: rl.PerSecond, burst: float64(rl.Burst), peers: map[string]*bucket{}, now: time.Now}
}

// allow takes a token from peer's bucket, or says how long until one is
// there.
func (l *limiter) allow(peer string) (bool, time.Duration) {
	if l == nil {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b := l.peers[peer]
	if b == nil {
		b = &bucket{tokens: l.burst, last: now}
		l.peers[peer] = b
	}
	b.tokens = math.Min(l.burst, b.tokens+now.Sub(b.last).Seconds()*l.rate)
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
}
