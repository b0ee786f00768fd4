package node

import (
	"context"
	"errors"
	"fmt"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/internal/store"
)

// What operators read. These say what the operator API and the web UI mean,
// so that they need not reach into the store; none of them waits for
// receipts in flight (call [Node.Settle] first for that).

// Counts are the node's message counts.
type Counts struct {
	// Received and Sent count messages; Undelivered counts the outbox rows
	// (one per message and recipient) still pending.
	Received, Sent, Undelivered int64
}

// Counts returns how many messages the node received and sent, and how
// many deliveries are pending.
func (n *Node) Counts(ctx context.Context) (Counts, error) {
	var c Counts
	var err error
	if c.Received, err = n.store.CountMessages(ctx, store.MessageFilter{Direction: hotline.Received}); err != nil {
		return Counts{}, fmt.Errorf("counting received messages: %w", err)
	}
	if c.Sent, err = n.store.CountMessages(ctx, store.MessageFilter{Direction: hotline.Sent}); err != nil {
		return Counts{}, fmt.Errorf("counting sent messages: %w", err)
	}
	if c.Undelivered, err = n.store.CountOutbox(ctx, store.OutboxFilter{State: store.OutboxPending}); err != nil {
		return Counts{}, fmt.Errorf("counting pending deliveries: %w", err)
	}
	return c, nil
}

// Messages returns a page of the messages q selects. A query the store
// cannot carry out (a bad cursor) is the store's [store.ErrInvalid].
func (n *Node) Messages(ctx context.Context, q store.MessageQuery) (store.MessagePage, error) {
	return n.store.Messages(ctx, q)
}

// Message is one message with what the node knows of it.
type Message struct {
	store.Envelope
	// Receipt is this node's receipt for a received message; nil for a
	// sent one, or one whose receipt is not recorded yet.
	Receipt *store.Receipt
	// Deliveries are the outbox rows of a sent message, one per
	// recipient.
	Deliveries []store.OutboxRow
}

// Message returns the message id, received or sent, or [ErrNotFound].
func (n *Node) Message(ctx context.Context, id hotline.ID) (Message, error) {
	e, err := n.store.Envelope(ctx, hotline.Received, id)
	if errors.Is(err, store.ErrNotFound) {
		e, err = n.store.Envelope(ctx, hotline.Sent, id)
	}
	if errors.Is(err, store.ErrNotFound) {
		return Message{}, hotline.Errorf(ErrNotFound, "no message %s", id)
	}
	if err != nil {
		return Message{}, fmt.Errorf("reading message %s: %w", id, err)
	}
	m := Message{Envelope: e}
	if e.Direction == hotline.Received {
		rc, err := n.store.Receipt(ctx, id, n.party)
		switch {
		case err == nil:
			m.Receipt = &rc
		case !errors.Is(err, store.ErrNotFound):
			return Message{}, fmt.Errorf("reading receipt of %s: %w", id, err)
		}
		return m, nil
	}
	page, err := n.store.Outbox(ctx, store.OutboxQuery{OutboxFilter: store.OutboxFilter{ID: id}, Limit: 1000})
	if err != nil {
		return Message{}, fmt.Errorf("listing deliveries: %w", err)
	}
	m.Deliveries = page.Rows
	return m, nil
}

// Equivocations returns the stored proofs that a log showed two
// histories.
func (n *Node) Equivocations(ctx context.Context) ([]store.EquivocationRecord, error) {
	return n.store.Equivocations(ctx)
}
