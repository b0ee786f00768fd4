// Package outbox moves a node's sent envelopes to their recipients.
//
// It owns the durable outbox's workers: the rows live in the node's store
// (one per message and recipient, written by the node's send before
// anything leaves it); a [Deliverer] hands every due row to a pool of
// workers and is done with a row only when the recipient's receipt
// verifies and is recorded ([Recorder], the node).
//
// # Routes
//
// Every attempt tries the recipient's endpoints in order ("direct <url>").
// When direct delivery has failed for RelayAfter, the view is also left
// with a relay of the agreement ("relay <party>", the sender's side of
// package relay's protocol): the relay's signed answer is recorded on the
// row, which stays pending until the recipient's own receipt arrives.
//
// # Backoff and alerts
//
// A failed attempt is recorded with the time of the next: MinBackoff
// doubled per attempt, capped at MaxBackoff, with ±20% jitter. Nothing is
// dropped: a row undelivered after AlertAfter raises an alert, once, and
// keeps being retried.
//
// # A peer heard from again
//
// Backoff is for a peer that stays away. When a peer that was away is heard
// from again (its heartbeat arrives, or one of its rows is delivered after
// failing), [Deliverer.Heard] makes all its pending rows due at once, so its
// backlog follows within seconds rather than as each row's backoff expires.
package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/internal/clock"
	"github.com/hotline-net/hotline/internal/relay"
	"github.com/hotline-net/hotline/internal/store"
)

// Recorder verifies and records receipts; the node implements it.
type Recorder interface {
	// RecordReceipt records the recipient's receipt: delivery is done.
	RecordReceipt(ctx context.Context, id hotline.ID, recipient string, note []byte, route string) (*hotline.Receipt, error)
	// RecordRelayed records a relay's receipt: the relay holds the view
	// for the recipient; delivery is not done.
	RecordRelayed(ctx context.Context, id hotline.ID, recipient, relay string, note []byte) error
	// RecordRefusal records the recipient's signed refusal: delivery is
	// over, refused.
	RecordRefusal(ctx context.Context, id hotline.ID, recipient string, note []byte) error
}

// Transport posts a recipient's view to one of its endpoints and returns
// the receipt it answered with.
type Transport interface {
	PostEnvelope(ctx context.Context, to, endpoint string, view []byte) ([]byte, error)
}

// RelayClient leaves a recipient's view with a relay and returns the
// relay's answer, a JSON [relay.Answer].
type RelayClient interface {
	PostRelay(ctx context.Context, relay, endpoint string, view []byte) ([]byte, error)
}

// Config configures a [Deliverer]. Store, Recorder, Transport and Endpoints
// are required; every other zero value is a documented default.
type Config struct {
	Store     store.Store
	Recorder  Recorder
	Transport Transport
	// Endpoints returns a party's endpoints, in the order to try them.
	Endpoints func(party string) ([]string, error)
	// Kick wakes the dispatcher when new rows are due (the node signals
	// it on every send). Nil: the dispatcher only polls.
	Kick <-chan struct{}
	// Clock defaults to the system clock. Backoff and alerts use it; the
	// dispatcher's polling runs on real time.
	Clock  clock.Clock
	Logger *slog.Logger
	// Workers is how many deliveries run at once. Zero means 16.
	Workers int
	// Poll is how often the dispatcher looks for due rows without a kick.
	// Zero means 1 s.
	Poll time.Duration
	// MinBackoff and MaxBackoff bound the wait after a failed attempt:
	// MinBackoff doubled per attempt, capped at MaxBackoff, with ±20%
	// jitter. Zero means 1 s and 5 min.
	MinBackoff, MaxBackoff time.Duration
	// AttemptTimeout bounds one attempt at one endpoint. Zero means 30 s.
	AttemptTimeout time.Duration
	// AlertAfter is how long a row may stay undelivered before an alert.
	// Zero means 1 h.
	AlertAfter time.Duration
	// OnAlert, if set, is called once for each row that stays undelivered
	// past AlertAfter.
	OnAlert func(store.OutboxRow)
	// Relays returns the relays of the agreement in force, in order of
	// preference; nil or an empty list: no relaying.
	Relays func() []string
	// RelayClient leaves views with relays. Nil: no relaying.
	RelayClient RelayClient
	// RelayAfter is how long direct delivery must have failed before a
	// relay is tried. Zero means 1 min. Every attempt still tries the
	// recipient directly first, so delivery goes direct again as soon as
	// the recipient answers.
	RelayAfter time.Duration
}

// Deliverer works the outbox. Run it once.
type Deliverer struct {
	cfg    Config
	clock  clock.Clock
	logger *slog.Logger

	mu       sync.Mutex
	inFlight map[rowKey]bool
	rounds   atomic.Int64 // dispatcher rounds completed, for tests
	// wake wakes the dispatcher when Heard made rows due.
	wake chan struct{}
}

type rowKey struct {
	id        hotline.ID
	recipient string
}

// New returns a Deliverer for cfg.
func New(cfg Config) (*Deliverer, error) {
	if cfg.Store == nil || cfg.Recorder == nil || cfg.Transport == nil || cfg.Endpoints == nil {
		return nil, errors.New("outbox: Store, Recorder, Transport and Endpoints are required")
	}
	d := &Deliverer{cfg: cfg, clock: clock.Or(cfg.Clock), logger: cfg.Logger, inFlight: map[rowKey]bool{}, wake: make(chan struct{}, 1)}
	if d.logger == nil {
		d.logger = slog.New(slog.DiscardHandler)
	}
	c := &d.cfg
	if c.Workers <= 0 {
		c.Workers = 16
	}
	if c.Poll <= 0 {
		c.Poll = time.Second
	}
	if c.MinBackoff <= 0 {
		c.MinBackoff = time.Second
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = 5 * time.Minute
	}
	if c.AttemptTimeout <= 0 {
		c.AttemptTimeout = 30 * time.Second
	}
	if c.AlertAfter <= 0 {
		c.AlertAfter = time.Hour
	}
	if c.RelayAfter <= 0 {
		c.RelayAfter = time.Minute
	}
	return d, nil
}

// Run works the outbox until ctx ends, then waits for the attempts in
// flight to finish and returns.
func (d *Deliverer) Run(ctx context.Context) error {
	work := make(chan store.OutboxRow)
	var wg sync.WaitGroup
	for range d.cfg.Workers {
		wg.Go(func() {
			for row := range work {
				d.deliver(ctx, row)
				d.mu.Lock()
				delete(d.inFlight, rowKey{row.ID, row.Recipient})
				d.mu.Unlock()
			}
		})
	}
	defer wg.Wait()
	defer close(work)

	tick := time.NewTicker(d.cfg.Poll)
	defer tick.Stop()
	for {
		d.dispatch(ctx, work)
		d.alert(ctx)
		d.rounds.Add(1)
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		case <-d.cfg.Kick:
		case <-d.wake:
		}
	}
}

// Heard makes every pending row to party whose next attempt is later than
// now due now, and wakes the dispatcher. Call it when party is heard from
// again after it was unreachable: its backlog then goes at once instead of
// as each row's backoff expires. Rows an operator marked failed stay
// failed. It returns how many rows it made due.
func (d *Deliverer) Heard(ctx context.Context, party string) (int, error) {
	now := d.clock.Now()
	q := store.OutboxQuery{OutboxFilter: store.OutboxFilter{Recipient: party, State: store.OutboxPending}, Limit: 1000}
	n := 0
	for {
		page, err := d.cfg.Store.Outbox(ctx, q)
		if err != nil {
			return n, fmt.Errorf("listing pending rows to %s: %w", party, err)
		}
		for _, row := range page.Rows {
			if !row.NextAttempt.After(now) {
				continue
			}
			// ErrConflict: delivered since it was listed.
			if err := d.cfg.Store.Requeue(ctx, row.ID, party, now); err != nil && !errors.Is(err, store.ErrConflict) {
				return n, fmt.Errorf("making %s to %s due: %w", row.ID, party, err)
			}
			n++
		}
		if page.Next == "" {
			break
		}
		q.Cursor = page.Next
	}
	if n > 0 {
		d.logger.Info("peer heard from again: its backlog is due", "peer", party, "rows", n)
		select {
		case d.wake <- struct{}{}:
		default:
		}
	}
	return n, nil
}

// dispatch hands every due row that is not already in flight to a worker.
func (d *Deliverer) dispatch(ctx context.Context, work chan<- store.OutboxRow) {
	for ctx.Err() == nil {
		rows, err := d.cfg.Store.DueOutbox(ctx, d.clock.Now(), 256)
		if err != nil {
			if ctx.Err() == nil {
				d.logger.Error("listing due deliveries", "err", err)
			}
			return
		}
		handed := 0
		for _, row := range rows {
			k := rowKey{row.ID, row.Recipient}
			d.mu.Lock()
			busy := d.inFlight[k]
			if !busy {
				d.inFlight[k] = true
			}
			d.mu.Unlock()
			if busy {
				continue
			}
			select {
			case work <- row:
				handed++
			case <-ctx.Done():
				d.mu.Lock()
				delete(d.inFlight, k)
				d.mu.Unlock()
				return
			}
		}
		if len(rows) < 256 || handed == 0 {
			return
		}
	}
}

// deliver makes one attempt at each of the recipient's endpoints, in order,
// until one returns a receipt that verifies.
func (d *Deliverer) deliver(ctx context.Context, row store.OutboxRow) {
	// The dispatcher's listing may predate an attempt a worker recorded
	// since (the row was in flight when listed, and done by the time it was
	// handed on): act on the row as it is now, not as it was listed.
	cur, err := d.cfg.Store.OutboxEntry(ctx, row.ID, row.Recipient)
	if err != nil {
		if ctx.Err() == nil {
			d.logger.Error("reading an outbox row", "message", row.ID.String(), "recipient", row.Recipient, "err", err)
		}
		return
	}
	if cur.State != store.OutboxPending || cur.Attempts != row.Attempts || cur.NextAttempt.After(d.clock.Now()) {
		return
	}
	row = cur
	env, err := d.cfg.Store.Envelope(ctx, hotline.Sent, row.ID)
	if err != nil {
		d.failed(ctx, row, "", fmt.Errorf("reading envelope: %w", err))
		return
	}
	e, err := hotline.Parse(env.Raw)
	if err != nil {
		d.failed(ctx, row, "", fmt.Errorf("parsing stored envelope: %w", err))
		return
	}
	view, err := e.View(row.Recipient)
	if err != nil {
		d.failed(ctx, row, "", err)
		return
	}
	raw := view.Marshal()
	endpoints, err := d.cfg.Endpoints(row.Recipient)
	if err != nil || len(endpoints) == 0 {
		d.failed(ctx, row, "", fmt.Errorf("no endpoints for %s: %v", row.Recipient, err))
		return
	}
	var errs []error
	route := ""
	for _, ep := range endpoints {
		route = "direct " + ep
		actx, cancel := context.WithTimeout(ctx, d.cfg.AttemptTimeout)
		note, err := d.cfg.Transport.PostEnvelope(actx, row.Recipient, ep, raw)
		cancel()
		if err == nil {
			_, err = d.cfg.Recorder.RecordReceipt(ctx, row.ID, row.Recipient, note, route)
			if err == nil {
				d.logger.Debug("delivered", "id", row.ID, "to", row.Recipient, "route", route)
				if row.Attempts > 0 {
					// The recipient answers again: the rest of its
					// backlog need not wait for its backoff.
					if _, err := d.Heard(ctx, row.Recipient); err != nil && ctx.Err() == nil {
						d.logger.Error("making a returning peer's rows due", "peer", row.Recipient, "err", err)
					}
				}
				return
			}
			err = fmt.Errorf("receipt: %w", err)
		}
		if ctx.Err() != nil {
			return // shutting down: the row stays due
		}
		var signed interface{ RefusalStatement() []byte }
		if errors.As(err, &signed) && signed.RefusalStatement() != nil {
			rerr := d.cfg.Recorder.RecordRefusal(ctx, row.ID, row.Recipient, signed.RefusalStatement())
			if rerr == nil {
				return // refused, signed: the row is failed
			}
			d.logger.Error("a recipient's signed refusal does not hold", "id", row.ID, "to", row.Recipient, "err", rerr)
		}
		errs = append(errs, fmt.Errorf("%s: %w", ep, err))
	}
	if d.cfg.RelayClient != nil && d.cfg.Relays != nil && d.clock.Now().Sub(row.Queued) >= d.cfg.RelayAfter {
		done, relayRoute, err := d.viaRelay(ctx, row, raw)
		if done {
			return
		}
		if relayRoute != "" {
			route = relayRoute
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	d.failed(ctx, row, route, errors.Join(errs...))
}

// viaRelay leaves the view with the first relay that takes it. It reports
// done when the relay had already handed the view on and the recipient's
// receipt it returned is recorded.
func (d *Deliverer) viaRelay(ctx context.Context, row store.OutboxRow, view []byte) (done bool, route string, err error) {
	var errs []error
	for _, via := range d.cfg.Relays() {
		if via == row.Recipient {
			continue
		}
		eps, err := d.cfg.Endpoints(via)
		if err != nil {
			continue
		}
		for _, ep := range eps {
			actx, cancel := context.WithTimeout(ctx, d.cfg.AttemptTimeout)
			raw, err := d.cfg.RelayClient.PostRelay(actx, via, ep, view)
			cancel()
			if err != nil {
				errs = append(errs, fmt.Errorf("relay %s at %s: %w", via, ep, err))
				continue
			}
			var ans relay.Answer
			if err := json.Unmarshal(raw, &ans); err != nil {
				errs = append(errs, fmt.Errorf("relay %s: answer: %w", via, err))
				continue
			}
			route := "relay " + via
			if ans.RecipientRefusal != nil {
				if err := d.cfg.Recorder.RecordRefusal(ctx, row.ID, row.Recipient, ans.RecipientRefusal); err != nil {
					errs = append(errs, fmt.Errorf("refusal through relay %s: %w", via, err))
					continue
				}
				return true, route, nil
			}
			if ans.RecipientReceipt != nil {
				if _, err := d.cfg.Recorder.RecordReceipt(ctx, row.ID, row.Recipient, ans.RecipientReceipt, route); err != nil {
					errs = append(errs, fmt.Errorf("receipt through relay %s: %w", via, err))
					continue
				}
				d.logger.Debug("delivered", "id", row.ID, "to", row.Recipient, "route", route)
				return true, route, nil
			}
			if err := d.cfg.Recorder.RecordRelayed(ctx, row.ID, row.Recipient, via, ans.RelayReceipt); err != nil {
				errs = append(errs, fmt.Errorf("relay %s: receipt: %w", via, err))
				continue
			}
			return false, route, fmt.Errorf("left with relay %s until %s answers", via, row.Recipient)
		}
	}
	return false, "", errors.Join(errs...)
}

// failed records a failed attempt and when to try again.
func (d *Deliverer) failed(ctx context.Context, row store.OutboxRow, route string, cause error) {
	if ctx.Err() != nil {
		return
	}
	now := d.clock.Now()
	next := now.Add(d.backoff(row.Attempts + 1))
	d.logger.Info("delivery attempt failed", "id", row.ID, "to", row.Recipient, "attempt", row.Attempts+1, "next", next, "err", cause)
	err := d.cfg.Store.RecordAttempt(ctx, &store.Attempt{
		ID: row.ID, Recipient: row.Recipient, At: now, Route: route, Error: cause.Error(), Next: next,
	})
	if err != nil && !errors.Is(err, store.ErrConflict) && ctx.Err() == nil {
		d.logger.Error("recording delivery attempt", "id", row.ID, "to", row.Recipient, "err", err)
	}
}

// backoff returns the wait after the given number of failed attempts.
func (d *Deliverer) backoff(attempts int) time.Duration {
	b := d.cfg.MinBackoff
	for i := 1; i < attempts && b < d.cfg.MaxBackoff; i++ {
		b *= 2
	}
	b = min(b, d.cfg.MaxBackoff)
	jitter := 0.8 + 0.4*rand.Float64()
	return time.Duration(float64(b) * jitter)
}

// alert raises one alert for each row undelivered past AlertAfter.
func (d *Deliverer) alert(ctx context.Context) {
	now := d.clock.Now()
	rows, err := d.cfg.Store.Undelivered(ctx, store.UndeliveredQuery{QueuedBefore: now.Add(-d.cfg.AlertAfter), Unalerted: true})
	if err != nil {
		if ctx.Err() == nil {
			d.logger.Error("listing undelivered rows", "err", err)
		}
		return
	}
	for _, row := range rows {
		if !row.Alerted.IsZero() {
			continue
		}
		d.logger.Warn("message undelivered", "id", row.ID, "to", row.Recipient, "queued", row.Queued, "attempts", row.Attempts, "last_error", row.LastError)
		if err := d.cfg.Store.MarkAlerted(ctx, row.ID, row.Recipient, now); err != nil {
			d.logger.Error("recording alert", "id", row.ID, "err", err)
			continue
		}
		if d.cfg.OnAlert != nil {
			d.cfg.OnAlert(row)
		}
	}
}

// ErrNoRelay: a resend through a relay was asked for and the agreement in
// force names no relay other than the recipient.
var ErrNoRelay = errors.New("the agreement names no relay to resend through")

// ResendViaRelay leaves the sent message id for recipient with a relay of
// the agreement now, whatever the row's backoff (an escalation step: the
// recipient's node may have lost the direct route). It returns what it did
// in one sentence. A row the recipient already receipted is not sent again
// (the recipient holds the message); a refused one neither (it would be
// refused again).
func (d *Deliverer) ResendViaRelay(ctx context.Context, id hotline.ID, recipient string) (string, error) {
	row, err := d.cfg.Store.OutboxEntry(ctx, id, recipient)
	if err != nil {
		return "", fmt.Errorf("reading the outbox row: %w", err)
	}
	switch row.State {
	case store.OutboxDelivered:
		return "not resent: " + recipient + " receipted the message; it holds it", nil
	case store.OutboxFailed:
		return "not resent: " + recipient + " refused the message; it would refuse it again", nil
	}
	if d.cfg.RelayClient == nil || d.cfg.Relays == nil || !slices.ContainsFunc(d.cfg.Relays(), func(r string) bool { return r != recipient }) {
		return "", ErrNoRelay
	}
	env, err := d.cfg.Store.Envelope(ctx, hotline.Sent, id)
	if err != nil {
		return "", fmt.Errorf("reading the envelope: %w", err)
	}
	e, err := hotline.Parse(env.Raw)
	if err != nil {
		return "", fmt.Errorf("parsing the stored envelope: %w", err)
	}
	view, err := e.View(recipient)
	if err != nil {
		return "", err
	}
	done, route, err := d.viaRelay(ctx, row, view.Marshal())
	switch {
	case done:
		return "resent through " + route + ": delivered", nil
	case route != "":
		return "resent through " + route + ": the relay holds it for " + recipient, nil
	}
	return "", err
}
