package fedapi

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/hotline-net/hotline"
)

// ErrBusy: the node holds as many request bodies as its budget allows;
// the answer carries Retry-After.
var ErrBusy = hotline.NewError("busy", "the node is busy; retry later")

// SmallBody is the largest body that counts against Admission.SmallBudget
// rather than Admission.Budget: heartbeats, receipts handed back and
// ordinary envelopes.
const SmallBody = 1 << 20

// Admission bounds what the peer API's authenticated requests can make the
// node hold at once (a request's signature covers its body's length and
// hash, and is checked before the body is read). Zero fields are the
// defaults.
//
// A request is refused before its body is read when its signature does
// not verify (401), when its peer is over its rate (429), when its
// Content-Length is over its endpoint's cap (413), when its remote address already has PerAddr
// requests in flight (429), or when the bodies in flight would pass the
// budget (503); the last two carry Retry-After. A body must then arrive at
// MinRate at least, after a grace of 10 s, or the connection is cut.
type Admission struct {
	// Budget is the most bytes of bodies over SmallBody held at once
	// across all requests. Zero means 64 MiB.
	Budget int64
	// SmallBudget is the same for bodies up to SmallBody, kept apart so
	// that a flood of large bodies never stops heartbeats and ordinary
	// envelopes. Zero means 16 MiB.
	SmallBudget int64
	// PerAddr is how many requests one remote address may have in flight
	// at once: room for a peer's delivery workers, heartbeats and relay
	// (or hotline bench's senders) behind one address. Zero means 128.
	PerAddr int
	// MinRate is the slowest a body may arrive, in bytes per second.
	// Zero means 256 KiB/s.
	MinRate int64
}

// admitter keeps the budgets and the per-address counts.
type admitter struct {
	cfg Admission

	mu      sync.Mutex
	large   int64
	small   int64
	perAddr map[string]int
}

func newAdmitter(cfg Admission) *admitter {
	if cfg.Budget <= 0 {
		cfg.Budget = 64 << 20
	}
	if cfg.SmallBudget <= 0 {
		cfg.SmallBudget = 16 << 20
	}
	if cfg.PerAddr <= 0 {
		cfg.PerAddr = 128
	}
	if cfg.MinRate <= 0 {
		cfg.MinRate = 256 << 10
	}
	return &admitter{cfg: cfg, perAddr: map[string]int{}}
}

// admit reserves room for a body of n bytes (n is the endpoint's cap when
// the length is not known) from the request's remote address. It returns
// the function that gives the room back, or a refusal and how long to wait.
func (a *admitter) admit(r *http.Request, n int64) (release func(), retry time.Duration, err error) {
	addr, _, splitErr := net.SplitHostPort(r.RemoteAddr)
	if splitErr != nil {
		addr = r.RemoteAddr
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.perAddr[addr] >= a.cfg.PerAddr {
		return nil, time.Second, hotline.Errorf(ErrRateLimited, "%s has %d requests in flight, the most one address may", addr, a.cfg.PerAddr)
	}
	pool, limit := &a.large, a.cfg.Budget
	if n <= SmallBody {
		pool, limit = &a.small, a.cfg.SmallBudget
	}
	if *pool+n > limit {
		return nil, time.Second, hotline.Errorf(ErrBusy, "%d bytes of requests in flight; a body of %d does not fit", *pool, n)
	}
	*pool += n
	a.perAddr[addr]++
	return func() {
		a.mu.Lock()
		defer a.mu.Unlock()
		*pool -= n
		if a.perAddr[addr]--; a.perAddr[addr] <= 0 {
			delete(a.perAddr, addr)
		}
	}, 0, nil
}

// readBody reads exactly n bytes of r's body (its signed length) into one
// buffer, with a read deadline that MinRate allows.
func (a *admitter) readBody(w http.ResponseWriter, r *http.Request, n int64) ([]byte, error) {
	deadline := 10*time.Second + time.Duration(n/a.cfg.MinRate)*time.Second
	// Not every ResponseWriter has a connection (tests call handlers
	// directly); the server's own read timeout still bounds those.
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(deadline))
	buf := make([]byte, n)
	if _, err := io.ReadFull(r.Body, buf); err != nil {
		// The deadline stays, and the connection closes after the
		// refusal: otherwise net/http would wait, with no deadline, for
		// the rest of a body that comes too slowly before answering.
		w.Header().Set("Connection", "close")
		return nil, fmt.Errorf("reading request body: %w", err)
	}
	_ = rc.SetReadDeadline(time.Time{})
	return buf, nil
}
