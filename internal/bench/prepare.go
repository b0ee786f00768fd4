package bench

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/body"
	"github.com/hotline-net/hotline/internal/fedapi"
)

// envelope is one prepared message: the target's view as sent, and the
// request signature made for it.
type envelope struct {
	id       hotline.ID
	view     []byte
	bodySize int
	signed   time.Time   // when the request signature was made
	headers  http.Header // the request's signature headers
}

// notification returns the body of the i-th of n benchmark notifications:
// a realistic incident notification of a few hundred bytes in the
// notification template (title, summary, incident window, sectors, norms,
// actions), distinct per message.
func notification(i, n int, now time.Time) ([]byte, error) {
	start := now.Add(-2 * time.Hour).UTC().Truncate(time.Minute)
	detected := start.Add(25 * time.Minute)
	b := &body.Body{
		Language: "en",
		Title:    fmt.Sprintf("Benchmark exercise %d of %d: wiper on grid control systems", i+1, n),
		Summary: "A destructive implant erased the operator workstations of two regional dispatch centres; " +
			"power to 340,000 homes is interrupted. Command traffic reached servers in your territory.",
		Incident: &body.Window{Start: start, Detected: detected},
		Sectors:  []body.Sector{{Code: "energy", CriticalInfrastructure: true}, {Code: "telecommunications"}},
		Norms:    []string{"13f", "13g"},
		Actions:  []string{"investigate", "share_indicators", "report_back"},
	}
	raw, err := b.Marshal()
	if err != nil {
		return nil, err
	}
	// The node checks the body against the template; so does the bench,
	// before anything is sent.
	if _, err := body.Parse("notification", raw); err != nil {
		return nil, fmt.Errorf("bench: the benchmark notification does not fit its template: %w", err)
	}
	return raw, nil
}

// prepare seals, signs and cuts the view of every envelope and signs its
// request. Sealing is in order — each envelope names the id of the one
// before it, as a sending node's per-pair sequence does — while the views
// are cut and the requests signed on the other cores.
func prepare(ctx context.Context, c *Config, t *target, prog *progress) ([]envelope, error) {
	now := c.Now()
	envs := make([]envelope, c.Messages)
	tmpl, err := http.NewRequest(http.MethodPost, c.URL+"/v1/envelopes", nil)
	if err != nil {
		return nil, fmt.Errorf("bench: target URL: %w", err)
	}
	prog.start("prepare", c.Messages)
	defer prog.finish()

	type sealed struct {
		i   int
		env *hotline.Envelope
		raw []byte
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	work := make(chan sealed, 64)
	var wg sync.WaitGroup
	for range workers() {
		req := tmpl.Clone(context.Background())
		wg.Go(func() {
			for s := range work {
				if ctx.Err() != nil {
					continue // drain
				}
				e := &envs[s.i]
				view, err := s.env.View(c.Target)
				if err == nil {
					e.id, e.view, e.bodySize = s.env.ID(), view.Marshal(), len(s.raw)
					err = e.sign(c, req)
				}
				if err != nil {
					cancel(fmt.Errorf("bench: envelope %d: %w", s.i+1, err))
					continue
				}
				prog.add(1)
			}
		})
	}
	// Each run numbers its envelopes from the clock's nanoseconds on, so
	// that no two runs (and no real envelope, numbered from 1) give the
	// target the same number twice, which the target refuses as a
	// sequence_conflict; the first names an id nobody sent as previous.
	first := uint64(now.UnixNano())
	prev := hotline.ID(sha256.Sum256(fmt.Appendf(nil, "hotline bench run %d", first)))
	for i := range envs {
		if ctx.Err() != nil {
			break
		}
		raw, err := notification(i, c.Messages, now)
		if err != nil {
			cancel(err)
			break
		}
		env, err := hotline.Seal(&hotline.Draft{
			Version:   t.envelope,
			Agreement: t.version.Hash(),
			From:      c.Key.Name(),
			Created:   now,
			Exercise:  true, // a benchmark is not an incident
			To:        []hotline.Addressee{{Party: c.Target, Key: t.enc, Seq: first + uint64(i), Prev: prev}},
			Inner:     hotline.Inner{Kind: "notification", Severity: hotline.SeverityHigh, Marking: hotline.TLPAmber},
			Body:      raw,
		}, c.Key)
		if err != nil {
			cancel(fmt.Errorf("bench: sealing envelope %d: %w", i+1, err))
			break
		}
		prev = env.ID()
		work <- sealed{i, env, raw}
	}
	close(work)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	return envs, nil
}

// sign signs the request that carries e, on the template request req.
func (e *envelope) sign(c *Config, req *http.Request) error {
	now := c.Now()
	if err := fedapi.SignRequest(req, e.view, c.Target, c.Key, now); err != nil {
		return fmt.Errorf("bench: signing the request of %s: %w", e.id, err)
	}
	e.signed = now
	e.headers = http.Header{}
	for _, h := range []string{fedapi.HeaderVersion, fedapi.HeaderFrom, fedapi.HeaderTime, fedapi.HeaderBody, fedapi.HeaderSignature} {
		e.headers.Set(h, req.Header.Get(h))
	}
	return nil
}
