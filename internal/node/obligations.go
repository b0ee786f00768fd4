package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"time"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/agreement"
	"github.com/hotline-net/hotline/internal/obligations"
	"github.com/hotline-net/hotline/internal/store"
	"github.com/hotline-net/hotline/internal/tlog"

	"golang.org/x/sync/errgroup"
)

// CosignatureKey is the store value under which the node's server keeps
// the latest cosignatures of the node's own log (a JSON object with a
// "witnesses" map of party to cosigned checkpoint note).
const CosignatureKey = "tlog/cosignatures"

// ObligationScope selects the messages whose obligations are gathered.
type ObligationScope struct {
	// Thread selects one thread; zero selects every stored message.
	Thread hotline.ID
}

// Obligations judges, as of the node's clock, every obligation that the
// stored messages of scope create: those of this party to the senders of
// the messages it received, and the mirror expectations of the messages it
// sent. The evidence is what the store keeps: the messages, this node's
// receipt times, the recipients' receipts and relay receipts on the outbox
// rows, the refusal code of each row's last failed attempt, and the latest
// cosigned checkpoint of every log.
func (n *Node) Obligations(ctx context.Context, scope ObligationScope) (obligations.Result, *obligations.Input, error) {
	return n.evidence().Judge(ctx, scope)
}

func (n *Node) evidence() *Evidence {
	return &Evidence{Store: n.store, Party: n.party, Agreement: n.agr.Load(), Now: n.clock.Now()}
}

// Evidence is what a node's store shows of obligations: the messages it
// sent and received, its receipts, the outbox rows with the recipients'
// and relays' receipts and the last refusal, and the latest cosigned
// checkpoints. [Node.Obligations] uses it; benchmarks and tools that hold
// a store without a running node use it directly.
type Evidence struct {
	Store     store.Store
	Party     string
	Agreement *agreement.Agreement
	// Now is the time obligations are judged at.
	Now time.Time
}

// Judge judges the obligations of scope: those Party owes and those owed
// to it.
func (e *Evidence) Judge(ctx context.Context, scope ObligationScope) (obligations.Result, *obligations.Input, error) {
	return e.judge(ctx, scope, obligations.Config{})
}

func (e *Evidence) judge(ctx context.Context, scope ObligationScope, cfg obligations.Config) (obligations.Result, *obligations.Input, error) {
	in, err := e.Input(ctx, scope)
	if err != nil {
		return obligations.Result{}, nil, err
	}
	res := obligations.Evaluate(obligations.FromAgreement(e.Agreement), cfg, in, e.Now)
	// A group message received names other recipients too: their
	// obligations are theirs to show, on evidence this node does not hold.
	res.Obligations = slices.DeleteFunc(res.Obligations, func(o obligations.Obligation) bool {
		return o.From != e.Party && o.To != e.Party
	})
	res.Events = slices.DeleteFunc(res.Events, func(ev obligations.Event) bool {
		return ev.From != e.Party && ev.To != e.Party
	})
	return res, in, nil
}

// pageLimit is the page size the node reads its store with.
const pageLimit = 1000

// Input gathers the engine's input for scope from the store: the
// messages and the outbox rows, each in one streaming read
// ([store.Store.MessageEvidence], [store.Store.OutboxEvidence]), at the
// same time.
func (n *Evidence) Input(ctx context.Context, scope ObligationScope) (*obligations.Input, error) {
	in := &obligations.Input{}
	outboxIn := &obligations.Input{}
	q := store.EvidenceQuery{Thread: scope.Thread}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		if scope.Thread.IsZero() {
			// Sized once: a million messages appended one by one would be
			// copied over and over as the slices grow.
			if c, err := n.Store.CountMessages(gctx, store.MessageFilter{}); err == nil && c > 0 {
				in.Messages = make([]obligations.Message, 0, c)
				in.Deliveries = make([]obligations.Delivery, 0, c)
			}
		}
		err := n.Store.MessageEvidence(gctx, q, func(e *store.MessageFacts) error {
			in.Messages = append(in.Messages, obligations.Message{
				ID: e.ID, From: e.From, To: e.To, Kind: e.Kind, Severity: e.Severity, Thread: e.Thread,
				Refs: e.Refs, Agreement: e.AgreementHash, Created: e.Created, Challenge: e.Challenge,
			})
			if e.Direction == hotline.Received {
				// This node's receipt states the time it stored the
				// envelope, to the second.
				in.Deliveries = append(in.Deliveries, obligations.Delivery{
					Message: e.ID, Recipient: n.Party, Receipt: e.At.Truncate(time.Second),
				})
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("listing messages: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		return n.outboxEvidence(gctx, outboxIn, q)
	})
	if err := g.Wait(); err != nil {
		return nil, err
	}
	in.Deliveries = append(in.Deliveries, outboxIn.Deliveries...)
	in.Refusals = outboxIn.Refusals
	cs, err := n.cosignatures(ctx)
	if err != nil {
		return nil, err
	}
	in.Cosignatures = cs
	return in, nil
}

// outboxEvidence adds what the outbox rows of the sent messages q selects
// show: the recipients' receipts, the relays' receipts, and refusals.
func (n *Evidence) outboxEvidence(ctx context.Context, in *obligations.Input, q store.EvidenceQuery) error {
	if q.Thread.IsZero() {
		if c, err := n.Store.CountOutbox(ctx, store.OutboxFilter{}); err == nil && c > 0 {
			in.Deliveries = make([]obligations.Delivery, 0, c)
		}
	}
	err := n.Store.OutboxEvidence(ctx, q, func(r *store.DeliveryFacts) error {
		d := obligations.Delivery{Message: r.ID, Recipient: r.Recipient, Relayed: r.Relayed}
		if r.Receipted {
			d.Receipt = r.Received
			d.ReceiptLeaf = obligations.Leaf{Log: r.Recipient, Index: r.LogIndex}
		}
		if r.LastError != "" && r.State != store.OutboxDelivered {
			if code := refusalCode(r.LastError); code != "" {
				// The row keeps its last error only: each attempt after
				// the first handed the same envelope on again (a resend)
				// and, the last error says, was refused the same way.
				in.Refusals = append(in.Refusals, obligations.Refusal{Message: r.ID, Recipient: r.Recipient, Code: code, At: r.FirstAttempt})
				if r.Attempts > 1 && r.LastAttempt.After(r.FirstAttempt) {
					d.Tendered = append(d.Tendered, r.LastAttempt)
					in.Refusals = append(in.Refusals, obligations.Refusal{Message: r.ID, Recipient: r.Recipient, Code: code, At: r.LastAttempt})
				}
			}
		}
		in.Deliveries = append(in.Deliveries, d)
		return nil
	})
	if err != nil {
		return fmt.Errorf("listing the outbox: %w", err)
	}
	return nil
}

// refusalPattern finds a peer's refusal code in a delivery error
// (fedapi.PeerError's text).
var refusalPattern = regexp.MustCompile(`peer refused \([0-9]+ ([a-z0-9_]+)\)`)

func refusalCode(lastError string) string {
	m := refusalPattern.FindAllStringSubmatch(lastError, -1)
	for _, s := range m {
		if obligations.Checkable(s[1]) || obligations.RecipientOnly(s[1]) {
			return s[1]
		}
	}
	return ""
}

// cosignatures returns the cosignatures of the latest checkpoint of every
// party's log this node holds, its own log's included.
func (n *Evidence) cosignatures(ctx context.Context) ([]obligations.Cosignature, error) {
	agr := n.Agreement
	now := n.Now
	v, err := agr.Current(now)
	if err != nil || v.Policy() == nil || v.Policy().None() {
		return nil, nil // no witnessing: no neutral times
	}
	text, err := agr.WitnessPolicy(v, now)
	if err != nil {
		return nil, nil
	}
	var out []obligations.Cosignature
	for _, p := range agr.Parties() {
		var notes [][]byte
		if p.ID == n.Party {
			b, err := n.Store.Value(ctx, CosignatureKey)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("reading this log's cosignatures: %w", err)
			}
			var st struct {
				Witnesses map[string][]byte `json:"witnesses"`
				Quorum    []byte            `json:"quorum"`
			}
			if err := json.Unmarshal(b, &st); err != nil {
				return nil, fmt.Errorf("reading this log's cosignatures: %w", err)
			}
			for _, w := range slices.Sorted(maps.Keys(st.Witnesses)) {
				notes = append(notes, st.Witnesses[w])
			}
		} else {
			origin, err := agr.LogOrigin(p.ID)
			if err != nil {
				continue
			}
			c, err := n.Store.Checkpoint(ctx, origin)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("reading %s's checkpoint: %w", p.ID, err)
			}
			notes = append(notes, c.Note)
		}
		key, err := agr.Key(p.ID, hotline.RoleCheckpoint, now)
		if err != nil {
			continue
		}
		pol, err := tlog.ParsePolicy([]byte("log " + key.Key + "\n" + text))
		if err != nil {
			continue
		}
		for _, note := range notes {
			cp, cs, err := pol.Cosignatures(note)
			if err != nil {
				continue // a note this node kept but cannot read now (a rotated key): no evidence
			}
			for _, c := range cs {
				out = append(out, obligations.Cosignature{Log: p.ID, Witness: c.Witness, Size: cp.Size, Time: c.Time})
			}
		}
	}
	return out, nil
}

// checkOwed refuses a reply of a kind that meets obligations (an ack, a
// response) to a received message that obliges nothing it could meet,
// with obligations.ErrNothingOwed.
func (n *Node) checkOwed(orig *store.Envelope, kind string) error {
	agr := n.agr.Load()
	v, err := agr.Version(orig.AgreementHash)
	if err != nil {
		return nil // the version is gone from the chain: nothing to judge by
	}
	meets := false
	for _, k := range v.Kinds() {
		for _, o := range k.Obligations {
			meets = meets || o.Meets(kind)
		}
	}
	if !meets {
		return nil // not a kind that meets obligations (status_update, closure, ...)
	}
	k, err := v.Kind(orig.Kind)
	if err != nil {
		return nil
	}
	for _, o := range k.Obligations {
		if o.Meets(kind) {
			return nil
		}
	}
	var types []string
	for _, o := range k.Obligations {
		types = append(types, string(o.Type))
	}
	if len(types) == 0 {
		return hotline.Errorf(obligations.ErrNothingOwed, "a %s obliges nothing: there is nothing to answer with a %s", orig.Kind, kind)
	}
	return hotline.Errorf(obligations.ErrNothingOwed, "a %s is not met by a %s (it obliges: %v)", orig.Kind, kind, types)
}

// sentAck returns this node's earlier ack of message id, if any: a second
// ack is the first one again.
func (n *Node) sentAck(ctx context.Context, orig *store.Envelope) (hotline.ID, bool, error) {
	q := store.MessageQuery{MessageFilter: store.MessageFilter{
		Direction: hotline.Sent, Kind: "ack", Thread: orig.ThreadID(), IncludePending: true,
	}, Oldest: true, Limit: pageLimit}
	for {
		page, err := n.store.Messages(ctx, q)
		if err != nil {
			return hotline.ID{}, false, fmt.Errorf("looking for an earlier ack: %w", err)
		}
		for _, e := range page.Envelopes {
			if slices.Contains(e.Refs, orig.ID) {
				return e.ID, true, nil
			}
		}
		if page.Next == "" {
			return hotline.ID{}, false, nil
		}
		q.Cursor = page.Next
	}
}

// Compliance returns the compliance report over every obligation the
// store shows, as f selects, judged as of the node's clock.
func (n *Node) Compliance(ctx context.Context, f obligations.Filter) (obligations.ComplianceReport, error) {
	return n.evidence().Compliance(ctx, f)
}

// Compliance returns the compliance report over every obligation the
// store shows, as f selects.
func (e *Evidence) Compliance(ctx context.Context, f obligations.Filter) (obligations.ComplianceReport, error) {
	res, _, err := e.judge(ctx, ObligationScope{}, obligations.Config{SkipEvents: true})
	if err != nil {
		return obligations.ComplianceReport{}, err
	}
	return obligations.Report(res.Obligations, f, e.Now), nil
}
