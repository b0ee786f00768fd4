// Package relay is store-and-forward between parties that cannot reach
// each other directly.
//
// A node the agreement names as a relay (the depositary's, in testnets)
// stores a recipient's view for a recipient that its sender cannot reach,
// answers the sender with a signed hotline-relay-receipt/v1, and hands the
// view on: when the recipient pulls it (a request signed by the
// recipient), or by pushing it to the recipient once it is reachable. The
// recipient's receipt comes back to the relay, which gives it to the
// sender at the sender's next attempt. The relay sees from, to, size and
// time — never kind, severity or content: it cannot open the view.
//
// # What it owns
//
//   - [Relay]: the relay's side — [Relay.Put] takes a view from its
//     sender, [Relay.List] and [Relay.Handed] serve the recipient's pull,
//     [Relay.Run] pushes.
//   - [Puller]: the recipient's side — it pulls what relays hold for this
//     node, accepts it like any envelope and returns the receipts.
//   - The JSON bodies of the relay endpoints: [Answer], [Page], [Item],
//     [HandedOn]. The sender's side (leaving a view with a relay) is a
//     route of package outbox, which reads [Answer].
//
// # Bounds
//
// A relay holds at most [Config.MaxPerRecipient] pending views per
// recipient, so that one sender cannot fill its disk for everyone. A pull's
// page holds up to [PageItems] views and ends before [PageBytes] of them
// (a page holds at least one view, however large), so its answer is never
// over [MaxPageAnswer], which is what the puller's client takes. The puller
// moves its cursor past a view only once the view is accepted or refused
// for good; a view it failed to accept for a passing reason (its store
// was busy) is pulled again. The relay's push skips a view its recipient
// refuses and stops only when the recipient cannot be reached.
package relay

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/agreement"
	"github.com/hotline-net/hotline/internal/clock"
	"github.com/hotline-net/hotline/internal/node"
	"github.com/hotline-net/hotline/internal/refusal"
	"github.com/hotline-net/hotline/internal/store"
)

// Page bounds of a pull.
const (
	// PageItems is the most views on a page.
	PageItems = 64
	// PageBytes ends a page before its views' bytes would pass it; a page
	// holds at least one view, however large.
	PageBytes = 1 << 20
	// MaxPageAnswer is the most bytes a pull's answer takes: one view of
	// the protocol's largest envelope, base64-encoded in JSON, or a page
	// of PageBytes, with room for the ids and the cursor. The puller's
	// client takes answers up to this size.
	MaxPageAnswer = (hotline.DefaultMaxEnvelope+2)/3*4 + 64<<10
)

// Refusals of the relay.
var (
	ErrNotRelay       = hotline.NewError("not_a_relay", "this node is not a relay of the agreement")
	ErrRelaySender    = hotline.NewError("relay_sender", "a relay takes an envelope from its sender only")
	ErrRelayNoView    = hotline.NewError("relay_no_view", "a relay takes one recipient's view")
	ErrRelayForbidden = hotline.NewError("relay_forbidden", "only the recipient may pull its envelopes")
	ErrRelayFull      = hotline.NewError("relay_full", "the relay holds its quota of envelopes for this recipient")
)

// Answer is what a relay answers a sender: its own relay receipt, and the
// recipient's answer once the view was handed on — its receipt, or its
// signed refusal (hotline-refusal/v1).
type Answer struct {
	RelayReceipt     []byte `json:"relay_receipt"`
	RecipientReceipt []byte `json:"recipient_receipt,omitempty"`
	RecipientRefusal []byte `json:"recipient_refusal,omitempty"`
}

// Item is one view a recipient pulls.
type Item struct {
	ID   string `json:"id"`
	From string `json:"from"`
	View []byte `json:"view"`
}

// Page is a page of a recipient's pull.
type Page struct {
	Items []Item `json:"items"`
	Next  string `json:"next,omitempty"`
}

// HandedOn is what a recipient posts to the relay after taking a view it
// pulled: its receipt, or its signed refusal (one of the two).
type HandedOn struct {
	ID      string `json:"id"`
	Receipt []byte `json:"receipt,omitempty"`
	Refusal []byte `json:"refusal,omitempty"`
}

// Transport pushes a recipient's view to one of its endpoints and returns
// the receipt it answered with.
type Transport interface {
	PostEnvelope(ctx context.Context, to, endpoint string, view []byte) ([]byte, error)
}

// Config configures a [Relay]. Key, Agreement and Store are required.
type Config struct {
	Key       *hotline.SigningKey
	Agreement func() *agreement.Agreement
	Store     store.Store
	// Transport pushes views to recipients; nil: recipients must pull.
	Transport Transport
	Clock     clock.Clock
	Logger    *slog.Logger
	// PushEvery is how often pending views are pushed. Zero means 10 s.
	PushEvery time.Duration
	// Limits bound the views a relay takes.
	Limits hotline.Limits
	// MaxPerRecipient is the most pending views held for one recipient;
	// the next is refused (relay_full) until the recipient takes some.
	// Zero means 10000.
	MaxPerRecipient int64
}

// Relay is the relay's side. It is safe for concurrent use.
type Relay struct {
	cfg    Config
	self   string
	clock  clock.Clock
	logger *slog.Logger
}

// New returns the relay side of a node.
func New(cfg Config) (*Relay, error) {
	if cfg.Key == nil || cfg.Agreement == nil || cfg.Store == nil {
		return nil, errors.New("relay: Key, Agreement and Store are required")
	}
	r := &Relay{cfg: cfg, self: cfg.Key.Name(), clock: clock.Or(cfg.Clock), logger: cfg.Logger}
	if r.logger == nil {
		r.logger = slog.New(slog.DiscardHandler)
	}
	if r.cfg.PushEvery <= 0 {
		r.cfg.PushEvery = 10 * time.Second
	}
	if r.cfg.MaxPerRecipient <= 0 {
		r.cfg.MaxPerRecipient = 10000
	}
	return r, nil
}

// isRelay reports whether the agreement in force names this node a relay.
func (r *Relay) isRelay() bool {
	v, err := r.cfg.Agreement().Current(r.clock.Now())
	if err != nil {
		return false
	}
	for _, p := range v.Relays() {
		if p == r.self {
			return true
		}
	}
	return false
}

// Put takes a recipient's view from its sender (from, authenticated by
// the request) and answers with the relay receipt, and the recipient's
// receipt if the view was already handed on.
func (r *Relay) Put(ctx context.Context, from string, raw []byte) ([]byte, error) {
	if !r.isRelay() {
		return nil, hotline.Errorf(ErrNotRelay, "%s is not a relay of the agreement in force", r.self)
	}
	e, err := hotline.Read(bytes.NewReader(raw), r.cfg.Limits)
	if err != nil {
		return nil, err
	}
	h := &e.Header
	if h.From != from {
		return nil, hotline.Errorf(ErrRelaySender, "envelope from %s relayed by %s", h.From, from)
	}
	to := e.ViewFor()
	if to == "" {
		return nil, hotline.Errorf(ErrRelayNoView, "a full envelope carries every recipient's stanza; send each recipient's view")
	}
	now := r.clock.Now()
	agr := r.cfg.Agreement()
	// A relay receipt is evidence of tender under the agreement: none for
	// an envelope that names a version this relay does not know.
	if _, err := agr.Version(h.Agreement); err != nil {
		return nil, hotline.Errorf(node.ErrUnknownAgreement, "agreement version %s is unknown to %s", h.Agreement, r.self)
	}
	key, err := agr.SignedMessageKey(from, h.Created, now)
	if err != nil {
		return nil, err
	}
	if err := h.CheckCreated(now); err != nil {
		return nil, err
	}
	if err := e.Verify(key); err != nil {
		return nil, err
	}
	if _, err := agr.Party(to); err != nil {
		return nil, err
	}
	id := e.ID()
	item, err := r.cfg.Store.RelayGet(ctx, id, to)
	if errors.Is(err, store.ErrNotFound) {
		// Concurrent Puts may pass the quota by a few; it bounds what one
		// sender can make the relay hold, not the exact count.
		held, err := r.cfg.Store.RelayCount(ctx, to, true)
		if err != nil {
			return nil, fmt.Errorf("counting views held for %s: %w", to, err)
		}
		if held >= r.cfg.MaxPerRecipient {
			return nil, hotline.Errorf(ErrRelayFull, "%s holds %d envelopes for %s, its quota", r.self, held, to)
		}
		rr := &hotline.RelayReceipt{Message: id, From: from, To: to, Relay: r.self, Received: now}
		note, err := hotline.Sign(rr, r.cfg.Key)
		if err != nil {
			return nil, err
		}
		item = store.Relayed{ID: id, From: from, To: to, Raw: raw, Received: now, Receipt: note}
		if _, err := r.cfg.Store.RelayPut(ctx, &item); err != nil {
			return nil, fmt.Errorf("storing relayed envelope: %w", err)
		}
		// A concurrent Put of the same view may have won: answer with what
		// is stored.
		if item, err = r.cfg.Store.RelayGet(ctx, id, to); err != nil {
			return nil, err
		}
		r.logger.Info("relaying", "id", id, "from", from, "to", to, "size", len(raw))
	} else if err != nil {
		return nil, err
	}
	ans := Answer{RelayReceipt: item.Receipt, RecipientReceipt: item.RecipientReceipt}
	// The recipient's answer is kept in one place: a receipt, or a signed
	// refusal (recordRefused).
	if bytes.HasPrefix(ans.RecipientReceipt, []byte(hotline.RefusalTag+"\n")) {
		ans.RecipientReceipt, ans.RecipientRefusal = nil, ans.RecipientReceipt
	}
	return json.Marshal(ans)
}

// List answers a recipient's pull: the views held for it after cursor.
func (r *Relay) List(ctx context.Context, to, cursor string) ([]byte, error) {
	page, err := r.cfg.Store.RelayList(ctx, store.RelayQuery{To: to, Cursor: store.Cursor(cursor), Limit: PageItems, MaxBytes: PageBytes})
	if err != nil {
		return nil, err
	}
	out := Page{Items: []Item{}, Next: string(page.Next)}
	for _, it := range page.Items {
		out.Items = append(out.Items, Item{ID: it.ID.String(), From: it.From, View: it.Raw})
	}
	return json.Marshal(out)
}

// Handed records the receipt a recipient (to, authenticated by the
// request) returned for a view it pulled.
func (r *Relay) Handed(ctx context.Context, to string, body []byte) error {
	var h HandedOn
	if err := json.Unmarshal(body, &h); err != nil {
		return hotline.Errorf(hotline.ErrMalformed, "handed-on notice: %v", err)
	}
	id, err := hotline.ParseID(h.ID)
	if err != nil {
		return hotline.Errorf(hotline.ErrMalformed, "handed-on notice: %v", err)
	}
	if h.Refusal != nil {
		return r.recordRefused(ctx, id, to, h.Refusal)
	}
	return r.recordHanded(ctx, id, to, h.Receipt)
}

// recordRefused keeps the recipient's signed refusal of a relayed view as
// its answer, once it verifies and names the view and its header; the
// sender gets it at its next attempt.
func (r *Relay) recordRefused(ctx context.Context, id hotline.ID, to string, note []byte) error {
	key, err := r.cfg.Agreement().MessageKey(to, r.clock.Now())
	if err != nil {
		return err
	}
	ref, _, err := hotline.OpenRefusal(note, key)
	if err != nil {
		return err
	}
	item, err := r.cfg.Store.RelayGet(ctx, id, to)
	if err != nil {
		return err
	}
	e, err := hotline.Parse(item.Raw)
	if err != nil {
		return err
	}
	if ref.Message != id || ref.Header != sha256.Sum256(e.SignedHeader()) {
		return hotline.Errorf(hotline.ErrBadSignature, "refusal names %s or another header, not %s's", ref.Message, id)
	}
	return r.cfg.Store.RelayHandedOn(ctx, id, to, r.clock.Now(), note)
}

func (r *Relay) recordHanded(ctx context.Context, id hotline.ID, to string, receipt []byte) error {
	key, err := r.cfg.Agreement().ReceiptKey(to, receipt, r.clock.Now())
	if err != nil {
		return err
	}
	rc, _, err := hotline.OpenReceipt(receipt, key)
	if err != nil {
		return err
	}
	if rc.Message != id {
		return hotline.Errorf(hotline.ErrBadSignature, "receipt names %s, not %s", rc.Message, id)
	}
	return r.cfg.Store.RelayHandedOn(ctx, id, to, r.clock.Now(), receipt)
}

// Run pushes pending views to their recipients every PushEvery until ctx
// ends (when a Transport is set).
func (r *Relay) Run(ctx context.Context) error {
	if r.cfg.Transport == nil {
		<-ctx.Done()
		return nil
	}
	t := time.NewTicker(r.cfg.PushEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if !r.isRelay() {
			continue
		}
		r.push(ctx)
	}
}

// Refused is implemented by a transport's errors that are a refusal of the
// view by its recipient (a 4xx), not a failure to reach it.
type Refused interface{ Refused() bool }

func refused(err error) bool {
	var r Refused
	return errors.As(err, &r) && r.Refused()
}

// push tries to hand on every pending view, one recipient at a time. A
// view the recipient refuses is skipped (it stays, for the recipient to
// pull or the sender to learn of); a recipient that cannot be reached
// ends its turn.
func (r *Relay) push(ctx context.Context) {
	for _, p := range r.cfg.Agreement().Parties() {
		page, err := r.cfg.Store.RelayList(ctx, store.RelayQuery{To: p.ID, Limit: PageItems, MaxBytes: PageBytes})
		if err != nil || len(page.Items) == 0 {
			continue
		}
		eps, err := r.cfg.Agreement().Endpoints(p.ID)
		if err != nil {
			continue
		}
		for _, it := range page.Items {
			var receipt []byte
			for _, ep := range eps {
				actx, cancel := context.WithTimeout(ctx, 30*time.Second)
				receipt, err = r.cfg.Transport.PostEnvelope(actx, p.ID, ep, it.Raw)
				cancel()
				if err == nil {
					break
				}
			}
			if refused(err) {
				r.logger.Warn("recipient refused a relayed envelope", "id", it.ID, "to", p.ID, "err", err)
				var signed interface{ RefusalStatement() []byte }
				if errors.As(err, &signed) && signed.RefusalStatement() != nil {
					if err := r.recordRefused(ctx, it.ID, p.ID, signed.RefusalStatement()); err != nil {
						r.logger.Warn("recipient's signed refusal of a relayed envelope", "id", it.ID, "to", p.ID, "err", err)
					}
				}
				continue
			}
			if err != nil {
				break // the recipient is still unreachable: try the next one
			}
			if err := r.recordHanded(ctx, it.ID, p.ID, receipt); err != nil {
				r.logger.Warn("recipient's receipt for a relayed envelope", "id", it.ID, "to", p.ID, "err", err)
			}
		}
	}
}

// Client is what a recipient needs of relays: to pull views and report
// receipts.
type Client interface {
	PullRelay(ctx context.Context, relay, endpoint, cursor string) ([]byte, error)
	PostHanded(ctx context.Context, relay, endpoint string, body []byte) error
}

// Acceptor accepts a view as the recipient: the node.
type Acceptor interface {
	Accept(ctx context.Context, raw []byte) ([]byte, error)
}

// PullerConfig configures a [Puller]. Every field but Clock, Logger and
// Every is required.
type PullerConfig struct {
	Self      string
	Agreement func() *agreement.Agreement
	Store     store.Store
	Client    Client
	Node      Acceptor
	Clock     clock.Clock
	Logger    *slog.Logger
	// Every is how often each relay is asked. Zero means 30 s.
	Every time.Duration
}

// Puller fetches, as the recipient, what relays hold for this node, accepts
// it like any envelope, and returns the receipts to the relay.
type Puller struct {
	cfg    PullerConfig
	logger *slog.Logger
}

// NewPuller returns a puller.
func NewPuller(cfg PullerConfig) (*Puller, error) {
	if cfg.Self == "" || cfg.Agreement == nil || cfg.Store == nil || cfg.Client == nil || cfg.Node == nil {
		return nil, errors.New("puller: Self, Agreement, Store, Client and Node are required")
	}
	if cfg.Every <= 0 {
		cfg.Every = 30 * time.Second
	}
	cfg.Clock = clock.Or(cfg.Clock)
	p := &Puller{cfg: cfg, logger: cfg.Logger}
	if p.logger == nil {
		p.logger = slog.New(slog.DiscardHandler)
	}
	return p, nil
}

// Run pulls from every relay every Every until ctx ends.
func (p *Puller) Run(ctx context.Context) error {
	t := time.NewTicker(p.cfg.Every)
	defer t.Stop()
	for {
		p.Pull(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Pull asks each relay once for everything it holds for this node.
func (p *Puller) Pull(ctx context.Context) {
	v, err := p.cfg.Agreement().Current(p.cfg.Clock.Now())
	if err != nil {
		return
	}
	for _, relay := range v.Relays() {
		if relay == p.cfg.Self {
			continue
		}
		if err := p.pullFrom(ctx, relay); err != nil && ctx.Err() == nil {
			p.logger.Info("pulling from relay", "relay", relay, "err", err)
		}
	}
}

func (p *Puller) pullFrom(ctx context.Context, relay string) error {
	eps, err := p.cfg.Agreement().Endpoints(relay)
	if err != nil || len(eps) == 0 {
		return fmt.Errorf("no endpoint: %v", err)
	}
	key := "relay/cursor/" + relay
	cursor := ""
	if b, err := p.cfg.Store.Value(ctx, key); err == nil {
		cursor = string(b)
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	for ctx.Err() == nil {
		var raw []byte
		var ep string
		for _, ep = range eps {
			if raw, err = p.cfg.Client.PullRelay(ctx, relay, ep, cursor); err == nil {
				break
			}
		}
		if err != nil {
			return err
		}
		var page Page
		if err := json.Unmarshal(raw, &page); err != nil {
			return fmt.Errorf("relay's answer: %w", err)
		}
		for _, it := range page.Items {
			receipt, err := p.cfg.Node.Accept(ctx, it.View)
			if err != nil && refusal.Code(err) == refusal.Internal {
				// Not a refusal (the store or the log failed): the
				// cursor stays before this view, which is pulled again.
				return fmt.Errorf("accepting relayed envelope %s: %w", it.ID, err)
			}
			h := HandedOn{ID: it.ID, Receipt: receipt}
			if err != nil {
				p.logger.Warn("refused a relayed envelope", "relay", relay, "id", it.ID, "from", it.From, "err", err)
				var signed interface{ RefusalStatement() []byte }
				if !errors.As(err, &signed) || signed.RefusalStatement() == nil {
					continue
				}
				// The signed refusal goes back to the sender through
				// the relay.
				h = HandedOn{ID: it.ID, Refusal: signed.RefusalStatement()}
			}
			b, _ := json.Marshal(h)
			if err := p.cfg.Client.PostHanded(ctx, relay, ep, b); err != nil {
				p.logger.Info("returning a receipt to the relay", "relay", relay, "id", it.ID, "err", err)
			}
		}
		if page.Next == "" || page.Next == cursor {
			return nil
		}
		cursor = page.Next
		if err := p.cfg.Store.SetValue(ctx, key, []byte(cursor)); err != nil {
			return err
		}
	}
	return nil
}
