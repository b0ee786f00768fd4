// Package inclusion holds recipients to their receipts.
//
// A receipt names the index of the envelope's entry in the recipient's
// log. The sender checks it: once a witnessed checkpoint of the
// recipient's log (one that carries the agreement's witness quorum without
// the recipient) is past that index, the entry must be included there. A
// checkpoint the recipient's node serves is handed to gossip (Observe),
// which believes it only if it is witnessed; the check uses the largest
// witnessed checkpoint gossip holds (Witnessed), never one the recipient
// alone signed. A receipt whose entry is
// not is a recipient that signed for something its log does not show — an
// alarm ([ErrNotIncluded], OnFailure). A [Checker] makes these checks for
// every delivered message, on its own schedule, reading the recipients'
// logs (package tlog's Remote) and recording each proof in the store.
//
// It is its own package, not part of gossip: gossip compares checkpoints
// of logs with each other, inclusion proves this node's receipts against
// them, and neither needs the other.
package inclusion

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/agreement"
	"github.com/hotline-net/hotline/internal/clock"
	"github.com/hotline-net/hotline/internal/store"
	"github.com/hotline-net/hotline/internal/tlog"
)

// ErrNotIncluded: a recipient's log does not hold the entry its receipt
// names.
var ErrNotIncluded = hotline.NewError("not_included", "the receipt's log entry is not in the recipient's log")

// Config configures a [Checker]. Store, Agreement, Remote and Witnessed
// are required.
type Config struct {
	Store     store.Store
	Agreement func() *agreement.Agreement
	// Remote returns a reader of a party's log.
	Remote func(party string) (*tlog.Remote, error)
	// Witnessed returns the largest checkpoint of party's log that carries
	// the agreement's witness quorum (ok false for none yet).
	Witnessed func(ctx context.Context, party string) (cp tlog.Checkpoint, ok bool, err error)
	// Observe, if set, is handed every checkpoint the checker fetches, to
	// compare with what gossip holds (and believe if witnessed).
	Observe func(ctx context.Context, signed []byte)
	Clock   clock.Clock
	Logger  *slog.Logger
	// Every is how often the checker runs. Zero means 1 min.
	Every time.Duration
	// OnFailure is called for each receipt whose entry a checkpoint past it
	// does not include.
	OnFailure func(row store.OutboxRow, err error)
}

// Checker proves, for each delivered message, that the recipient's log
// includes the entry its receipt names.
type Checker struct {
	cfg    Config
	clock  clock.Clock
	logger *slog.Logger
}

// New returns a checker.
func New(cfg Config) (*Checker, error) {
	if cfg.Store == nil || cfg.Agreement == nil || cfg.Remote == nil || cfg.Witnessed == nil {
		return nil, errors.New("inclusion: Store, Agreement, Remote and Witnessed are required")
	}
	c := &Checker{cfg: cfg, clock: clock.Or(cfg.Clock), logger: cfg.Logger}
	if c.logger == nil {
		c.logger = slog.New(slog.DiscardHandler)
	}
	if c.cfg.Every <= 0 {
		c.cfg.Every = time.Minute
	}
	return c, nil
}

// Run checks every Every until ctx ends.
func (c *Checker) Run(ctx context.Context) error {
	t := time.NewTicker(c.cfg.Every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		c.Check(ctx)
	}
}

// Check makes one pass over the delivered messages whose inclusion is not
// yet proven, and returns how many it proved.
func (c *Checker) Check(ctx context.Context) int {
	rows, err := c.cfg.Store.Unproven(ctx, store.UnprovenQuery{Limit: 10000})
	if err != nil {
		if ctx.Err() == nil {
			c.logger.Error("listing unproven receipts", "err", err)
		}
		return 0
	}
	type peer struct {
		remote *tlog.Remote
		cp     tlog.Checkpoint
		origin string
		err    error
	}
	peers := map[string]*peer{}
	proven := 0
	for _, row := range rows {
		if row.Receipt == nil {
			continue
		}
		p := peers[row.Recipient]
		if p == nil {
			p = &peer{}
			peers[row.Recipient] = p
			p.origin, p.remote, p.cp, p.err = c.witnessed(ctx, row.Recipient)
			if p.err != nil && ctx.Err() == nil {
				c.logger.Info("cannot read a recipient's log yet", "party", row.Recipient, "err", p.err)
			}
		}
		if p.err != nil || row.Receipt.LogIndex >= p.cp.Size {
			continue // no checkpoint past the entry yet
		}
		entry := hotline.LeafEntry(p.origin, hotline.Received, row.ID)
		if _, err := p.remote.VerifyInclusion(ctx, p.cp, row.Receipt.LogIndex, entry); err != nil {
			if ctx.Err() != nil {
				return proven
			}
			if errors.Is(err, tlog.ErrUnreadable) {
				// Out of reach for now: nothing shown against the
				// receipt; this recipient's rows wait for the next pass.
				c.logger.Info("cannot read a recipient's log yet", "party", row.Recipient, "err", err)
				p.err = err
				continue
			}
			err = hotline.Errorf(ErrNotIncluded, "%s's receipt for %s names index %d of %s, which a checkpoint of size %d does not show holding it: %v",
				row.Recipient, row.ID, row.Receipt.LogIndex, p.origin, p.cp.Size, err)
			c.logger.Error("receipt not backed by the recipient's log", "party", row.Recipient, "id", row.ID, "err", err)
			if c.cfg.OnFailure != nil {
				c.cfg.OnFailure(row, err)
			}
			continue
		}
		if err := c.cfg.Store.MarkIncluded(ctx, row.ID, row.Recipient, c.clock.Now(), p.cp.Size); err != nil {
			if ctx.Err() == nil {
				c.logger.Error("recording an inclusion proof", "id", row.ID, "err", err)
			}
			continue
		}
		proven++
	}
	return proven
}

// witnessed fetches the recipient's checkpoint, hands it to gossip, and
// returns the largest witnessed checkpoint of its log known.
func (c *Checker) witnessed(ctx context.Context, party string) (string, *tlog.Remote, tlog.Checkpoint, error) {
	origin, err := c.cfg.Agreement().LogOrigin(party)
	if err != nil {
		return "", nil, tlog.Checkpoint{}, err
	}
	remote, err := c.cfg.Remote(party)
	if err != nil {
		return "", nil, tlog.Checkpoint{}, err
	}
	fetched, ferr := remote.Checkpoint(ctx)
	if ferr == nil && c.cfg.Observe != nil {
		c.cfg.Observe(ctx, fetched.Note)
	}
	cp, ok, err := c.cfg.Witnessed(ctx, party)
	switch {
	case err != nil:
		return "", nil, tlog.Checkpoint{}, err
	case !ok && ferr != nil:
		return "", nil, tlog.Checkpoint{}, ferr
	case !ok:
		return "", nil, tlog.Checkpoint{}, fmt.Errorf("no witnessed checkpoint of %s's log yet (its node serves size %d)", party, fetched.Size)
	}
	return origin, remote, cp, nil
}
