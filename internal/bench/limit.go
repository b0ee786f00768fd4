package bench

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hotline-net/hotline"
)

// limiter measures the node-side crypto limit on a sample of the prepared
// envelopes: the cryptography of Node.Accept for each — parse the view,
// verify it with the sender's key as the agreement lists it, open it with
// the target's encryption key, sign a receipt with the target's message
// key — on GOMAXPROCS goroutines. What the node does besides (request
// authentication, the template check, the store, the log, HTTP) is what
// the ratio shows.
//
// It measures in windows, one just before the clock starts and one just
// after it stops, so that whatever else the machine does during the run
// weighs on the limit as it does on the run.
type limiter struct {
	c      *Config
	t      *target
	sample []envelope
	now    time.Time

	processed int
	elapsed   time.Duration
}

// newLimiter checks that the limit can be measured — the keys are the
// target's, and one envelope goes through — or says why not.
func newLimiter(c *Config, t *target, sample []envelope) (*limiter, error) {
	if t.senderKey == nil {
		return nil, fmt.Errorf("the agreement lists no message key of %s valid now", c.Key.Name())
	}
	keys := c.TargetKeys
	if keys.Party != c.Target || keys.Message == nil || keys.Encryption == nil {
		return nil, fmt.Errorf("the private keys given are %s's, not %s's", keys.Party, c.Target)
	}
	if !keys.Encryption.Public().Equal(t.enc) {
		return nil, fmt.Errorf("the target's encryption key in its folder is not the one the agreement lists")
	}
	l := &limiter{c: c, t: t, sample: sample, now: c.Now()}
	if err := l.accept(0); err != nil {
		return nil, fmt.Errorf("processing a sample envelope as %s: %w", c.Target, err)
	}
	return l, nil
}

// accept does the node's cryptography for the i-th envelope of the sample.
func (l *limiter) accept(i int) error {
	e, err := hotline.Parse(l.sample[i].view)
	if err != nil {
		return err
	}
	if err := e.Verify(l.t.senderKey); err != nil {
		return err
	}
	if _, err := e.Open(l.c.Target, l.c.TargetKeys.Encryption); err != nil {
		return err
	}
	_, err = hotline.Sign(&hotline.Receipt{
		Message:   e.ID(),
		Party:     l.c.Target,
		Received:  l.now,
		LogOrigin: l.t.origin,
		LogIndex:  uint64(i),
	}, l.c.TargetKeys.Message)
	return err
}

// measure runs one window: passes over the sample on all cores until d
// has passed (at least one pass).
func (l *limiter) measure(ctx context.Context, d time.Duration, prog *progress) error {
	prog.startTimed("limit", d)
	defer prog.finish()
	var (
		processed atomic.Int64
		failed    atomic.Pointer[error]
		wg        sync.WaitGroup
	)
	start := time.Now()
	var elapsed time.Duration
	for {
		var next atomic.Int64
		for range workers() {
			wg.Go(func() {
				for {
					i := int(next.Add(1)) - 1
					if i >= len(l.sample) || ctx.Err() != nil || failed.Load() != nil {
						return
					}
					if err := l.accept(i); err != nil {
						failed.CompareAndSwap(nil, &err)
						return
					}
					processed.Add(1)
				}
			})
		}
		wg.Wait()
		elapsed = time.Since(start)
		prog.set(int(elapsed / time.Millisecond))
		if err := ctx.Err(); err != nil {
			return err
		}
		if p := failed.Load(); p != nil {
			return fmt.Errorf("processing the sample as %s: %w", l.c.Target, *p)
		}
		if elapsed >= d {
			break
		}
	}
	l.processed += int(processed.Load())
	l.elapsed += elapsed
	return nil
}

// result returns the limit over every window measured.
func (l *limiter) result() *Limit {
	r := &Limit{Workers: workers(), Sample: len(l.sample), Processed: l.processed, Elapsed: l.elapsed}
	if l.elapsed > 0 {
		r.Rate = float64(l.processed) / l.elapsed.Seconds()
	}
	return r
}
