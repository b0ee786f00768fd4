package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hotline-net/hotline"
)

// measureLimit measures the node-side crypto limit on sample: the
// cryptography of Node.Accept for each envelope — parse the view, verify
// it with the sender's key as the agreement lists it, open it with the
// target's encryption key, sign a receipt with the target's message key —
// on GOMAXPROCS goroutines, the sample repeated until c.LimitTime has
// passed. What the node does besides (the template check, the store, the
// log, HTTP) is what the ratio shows.
func measureLimit(ctx context.Context, c *Config, t *target, sample []envelope, prog *progress) (*Limit, error) {
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
	now := c.Now()
	accept := func(i int) error {
		e, err := hotline.Parse(sample[i].view)
		if err != nil {
			return err
		}
		if err := e.Verify(t.senderKey); err != nil {
			return err
		}
		if _, err := e.Open(c.Target, keys.Encryption); err != nil {
			return err
		}
		_, err = hotline.Sign(&hotline.Receipt{
			Message:   e.ID(),
			Party:     c.Target,
			Received:  now,
			LogOrigin: t.origin,
			LogIndex:  uint64(i),
		}, keys.Message)
		return err
	}
	// One envelope first, alone: what cannot work fails here, clearly.
	if err := accept(0); err != nil {
		return nil, fmt.Errorf("processing a sample envelope as %s: %w", c.Target, err)
	}

	n := workers()
	prog.startTimed("limit", c.LimitTime)
	defer prog.finish()
	var (
		processed atomic.Int64
		failed    atomic.Pointer[error]
		wg        sync.WaitGroup
	)
	start := time.Now()
	deadline := start.Add(c.LimitTime)
	var elapsed time.Duration
	for {
		// One pass over the sample on all cores.
		var next atomic.Int64
		for range n {
			wg.Go(func() {
				for {
					i := int(next.Add(1)) - 1
					if i >= len(sample) || ctx.Err() != nil || failed.Load() != nil {
						return
					}
					if err := accept(i); err != nil {
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
			return nil, err
		}
		if p := failed.Load(); p != nil {
			return nil, fmt.Errorf("processing the sample as %s: %w", c.Target, *p)
		}
		if !time.Now().Before(deadline) {
			break
		}
	}
	if elapsed <= 0 {
		return nil, errors.New("the clock did not move")
	}
	l := &Limit{Workers: n, Sample: len(sample), Processed: int(processed.Load()), Elapsed: elapsed}
	l.Rate = float64(l.Processed) / elapsed.Seconds()
	return l, nil
}
