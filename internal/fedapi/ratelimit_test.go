package fedapi

import (
	"testing"
	"time"
)

// TestLimiter: a peer may send Burst requests at once, then one per
// 1/PerSecond; refused requests do not use up the refill; each peer has
// its own bucket; a negative rate is no limit.
func TestLimiter(t *testing.T) {
	now := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	l := newLimiter(RateLimit{PerSecond: 10, Burst: 3})
	l.now = func() time.Time { return now }
	for i := range 3 {
		if ok, _ := l.allow("BER"); !ok {
			t.Fatalf("request %d of the burst refused", i+1)
		}
	}
	for range 5 {
		ok, wait := l.allow("BER")
		if ok || wait <= 0 || wait > 100*time.Millisecond {
			t.Fatalf("past the burst: allowed %v, wait %v (want refused, at most 100ms)", ok, wait)
		}
	}
	if ok, _ := l.allow("CRI"); !ok {
		t.Error("another peer was limited by BER's requests")
	}
	now = now.Add(100 * time.Millisecond)
	if ok, wait := l.allow("BER"); !ok {
		t.Errorf("after the refill time: refused, wait %v", wait)
	}
	if ok, _ := l.allow("BER"); ok {
		t.Error("two requests allowed on one refill")
	}
	var none *limiter = newLimiter(RateLimit{PerSecond: -1})
	for range 10000 {
		if ok, _ := none.allow("BER"); !ok {
			t.Fatal("a negative rate limited")
		}
	}
}
