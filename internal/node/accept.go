package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/agreement"
	"github.com/hotline-net/hotline/internal/store"
)

// Accept takes a recipient's view of an envelope from a peer (or a relay)
// and returns this node's signed receipt for it. It issues the receipt only
// once the envelope verified, opened, passed its commitment and template
// checks, is durably stored and its log entry is sequenced. The same
// envelope again returns the same stored receipt.
//
// A refusal is a [*hotline.Error] with a stable code; it changes nothing
// and is counted. Other errors (the store or the log failing) leave at most
// a pending row, which a retry or the next start-up completes.
func (n *Node) Accept(ctx context.Context, raw []byte) ([]byte, error) {
	start := time.Now()
	receipt, dup, err := n.accept(ctx, raw)
	switch {
	case err != nil:
		n.metrics.Refused.WithLabelValues(Code(err)).Inc()
		n.logger.Info("refused envelope", "code", Code(err), "err", err)
	case dup:
		n.metrics.Duplicate.Inc()
	default:
		n.metrics.Accepted.Inc()
		n.metrics.AcceptDur.Observe(time.Since(start).Seconds())
	}
	return receipt, err
}

func (n *Node) accept(ctx context.Context, raw []byte) (receipt []byte, dup bool, err error) {
	e, err := hotline.Read(bytes.NewReader(raw), n.limits)
	if err != nil {
		return nil, false, err
	}
	now := n.clock.Now()
	h := &e.Header
	agr := n.agr.Load()
	v, err := agr.Version(h.Agreement)
	if err != nil {
		return nil, false, hotline.Errorf(ErrUnknownAgreement, "agreement version %s is unknown to %s", h.Agreement, n.party)
	}
	if _, err := v.Party(h.From); err != nil {
		return nil, false, hotline.Errorf(ErrUnknownSender, "%s is not a party to agreement version %d", h.From, v.Number())
	}
	if !agr.Ratified(h.From, v.Hash()) {
		return nil, false, hotline.Errorf(ErrNotRatified, "%s has not ratified agreement version %d", h.From, v.Number())
	}
	key, err := agr.MessageKey(h.From, now)
	if err != nil {
		if errors.Is(err, agreement.ErrUnknownParty) {
			return nil, false, hotline.Errorf(ErrUnknownSender, "%s has no directory entry", h.From)
		}
		return nil, false, hotline.Errorf(ErrKeyNotValid, "%s has no message key valid at %s", h.From, hotline.FormatTime(now))
	}
	if err := h.CheckCreated(now); err != nil {
		return nil, false, err
	}
	if err := e.Verify(key); err != nil {
		return nil, false, err
	}
	if h.Index(n.party) < 0 {
		return nil, false, hotline.Errorf(hotline.ErrNotRecipient, "%s is not a recipient of %s", n.party, e.ID())
	}
	if e.Stanza(n.party) == nil {
		return nil, false, hotline.Errorf(hotline.ErrNotRecipient, "this is %s's view, not %s's", e.ViewFor(), n.party)
	}

	id := e.ID()
	unlock := n.locks.lock(id)
	defer unlock()

	m, err := e.Open(n.party, n.encKeys...)
	if err != nil {
		return nil, false, err
	}
	kind, err := v.Kind(m.Inner.Kind)
	if err != nil {
		return nil, false, hotline.Errorf(ErrUnknownKind, "kind %q is not in agreement version %d", m.Inner.Kind, v.Number())
	}
	if kind.RequiresRef && len(m.Inner.Refs) == 0 {
		return nil, false, hotline.Errorf(ErrInvalidBody, "a %s must refer to the message it answers", kind.Name)
	}
	if err := n.bodies.CheckBody(m.Inner.Kind, m.Inner.Marking, m.Body); err != nil {
		return nil, false, invalidBody(m.Inner.Kind, err)
	}

	self := h.Recipients[h.Index(n.party)]
	// The bytes received are canonical (Read refuses any other); only a
	// full envelope, sent where a view would do, is cut down to this
	// node's view before it is stored.
	stored := raw
	if e.ViewFor() != n.party {
		view, err := e.View(n.party)
		if err != nil {
			return nil, false, err
		}
		stored = view.Marshal()
	}
	entry := hotline.LeafEntry(n.log.Origin(), hotline.Received, id)
	rec := &store.Received{
		Envelope: store.Envelope{
			Direction:     hotline.Received,
			ID:            id,
			From:          h.From,
			To:            recipients(h),
			Group:         h.Group,
			Created:       h.Created,
			AgreementHash: h.Agreement,
			Exercise:      h.Exercise,
			Kind:          m.Inner.Kind,
			Severity:      m.Inner.Severity,
			Marking:       m.Inner.Marking,
			Thread:        m.Inner.Thread,
			Refs:          m.Inner.Refs,
			Raw:           stored,
			Body:          m.Body,
			At:            now,
			PairSeq:       self.Seq,
			PairPrev:      self.Prev,
		},
		Entry: entry,
	}
	ins, err := n.store.InsertReceived(ctx, rec)
	if err != nil {
		return nil, false, fmt.Errorf("storing envelope %s: %w", id, err)
	}
	at := now
	leaf := ins.Leaf
	if ins.Existed {
		if ins.Leaf.Sequenced {
			// The same envelope again: the stored receipt. (Looking it up
			// only here, not before opening, spares every new envelope a
			// read; a duplicate pays an open instead.)
			r, err := n.store.Receipt(ctx, id, n.party)
			if err != nil {
				return nil, false, fmt.Errorf("looking up receipt of %s: %w", id, err)
			}
			return r.Note, true, nil
		}
		// A pending row from an attempt that failed after storing; its
		// receipt keeps the time the envelope was first received.
		stored, err := n.store.Envelope(ctx, hotline.Received, id)
		if err != nil {
			return nil, false, fmt.Errorf("reading envelope %s: %w", id, err)
		}
		at = stored.At
	}
	if n.before != nil {
		n.before(hotline.Received, id)
	}
	index, err := n.log.Append(ctx, entry)
	if err != nil {
		return nil, false, fmt.Errorf("appending %s to the log: %w", id, err)
	}
	leaf.Index, leaf.Sequenced = index, true
	r, err := n.issueReceipt(ctx, leaf, at)
	return r, false, err
}

// issueReceipt signs the receipt for a received envelope whose leaf is at
// leaf.Index and records it with the index in one transaction.
func (n *Node) issueReceipt(ctx context.Context, leaf store.Leaf, received time.Time) ([]byte, error) {
	r := &hotline.Receipt{
		Message:   leaf.Object,
		Party:     n.party,
		Received:  received,
		LogOrigin: n.log.Origin(),
		LogIndex:  leaf.Index,
	}
	note, err := hotline.Sign(r, n.keys.Message)
	if err != nil {
		return nil, err
	}
	sr := &store.Receipt{MessageID: leaf.Object, Party: n.party, Received: received.UTC().Truncate(time.Second), LogIndex: leaf.Index, Note: note}
	if err := n.store.Sequenced(ctx, hotline.Received, leaf.Object, leaf.Index, sr); err != nil {
		return nil, fmt.Errorf("recording receipt for %s: %w", leaf.Object, err)
	}
	return note, nil
}

func recipients(h *hotline.Header) []string {
	to := make([]string, len(h.Recipients))
	for i, r := range h.Recipients {
		to[i] = r.Party
	}
	return to
}
