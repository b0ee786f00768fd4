package node

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/internal/store"
)

// ErrWrongReceipt: a receipt that verifies but is not for the envelope and
// recipient it was returned for.
var ErrWrongReceipt = hotline.NewError("wrong_receipt", "receipt does not match the delivery")

// ErrReceiptTime: a receipt whose time of receipt is not between
// ReceiptWindow before the envelope was stored to send and ReceiptWindow
// after the receipt came back.
var ErrReceiptTime = hotline.NewError("receipt_time", "receipt's time of receipt out of range")

// ReceiptWindow is how far a receipt's time of receipt may lie before the
// sender stored the envelope (clocks differ) or after the receipt came back
// (clocks differ again; a relayed receipt arrives late, which moves the
// upper bound with it).
const ReceiptWindow = 15 * time.Minute

// RecordReceipt verifies the receipt a recipient returned for envelope id
// and records the delivery: the outbox row delivered (by route), the
// receipt, and the receipt's 0x03 entry in this node's log. Delivery is done
// only when it returns nil. The same receipt again is a no-op.
func (n *Node) RecordReceipt(ctx context.Context, id hotline.ID, recipient string, note []byte, route string) (*hotline.Receipt, error) {
	now := n.clock.Now()
	agr := n.agr.Load()
	key, err := agr.ReceiptKey(recipient, note, now)
	if err != nil {
		return nil, hotline.Errorf(ErrKeyNotValid, "%s has no message key for this receipt: %v", recipient, err)
	}
	r, rid, err := hotline.OpenReceipt(note, key)
	if err != nil {
		return nil, err
	}
	origin, err := agr.LogOrigin(recipient)
	if err != nil {
		return nil, err
	}
	switch {
	case r.Message != id:
		return nil, hotline.Errorf(ErrWrongReceipt, "receipt from %s names message %s, not %s", recipient, r.Message, id)
	case r.LogOrigin != origin:
		return nil, hotline.Errorf(ErrWrongReceipt, "receipt from %s names log %q, the agreement says %q", recipient, r.LogOrigin, origin)
	}
	env, err := n.store.Envelope(ctx, hotline.Sent, id)
	if err != nil {
		return nil, fmt.Errorf("reading the sent envelope %s: %w", id, err)
	}
	if from, to := env.At.Add(-ReceiptWindow), now.Add(ReceiptWindow); r.Received.Before(from) || r.Received.After(to) {
		err := hotline.Errorf(ErrReceiptTime, "%s's receipt for %s says it was received at %s; the envelope was stored at %s and the receipt came back at %s",
			recipient, id, hotline.FormatTime(r.Received), hotline.FormatTime(env.At), hotline.FormatTime(now))
		n.metrics.ReceiptsRefused.WithLabelValues(Code(err)).Inc()
		n.logger.Error("ALERT: a receipt dated outside its delivery refused", "party", recipient, "id", id, "err", err)
		return nil, err
	}
	entry := hotline.LeafEntry(n.log.Origin(), hotline.ReceiptReceived, rid)
	unlock := n.locks.lock(rid)
	defer unlock()
	_, err = n.store.MarkDelivered(ctx, &store.Delivered{
		ID:        id,
		Recipient: recipient,
		At:        now,
		Route:     route,
		Receipt:   store.Receipt{MessageID: id, Party: recipient, Received: r.Received, LogIndex: r.LogIndex, Note: note},
		ReceiptID: rid,
		Entry:     entry,
	})
	if err != nil {
		return nil, fmt.Errorf("recording delivery of %s to %s: %w", id, recipient, err)
	}
	leaf, err := n.store.LeafOf(ctx, hotline.ReceiptReceived, rid)
	if errors.Is(err, store.ErrNotFound) {
		// Another receipt for the same delivery was recorded first; this
		// one verified but is not the one kept.
		return r, nil
	}
	if err != nil {
		return nil, err
	}
	if !leaf.Sequenced {
		index, err := n.log.Append(ctx, entry)
		if err != nil {
			return nil, fmt.Errorf("appending receipt of %s to the log: %w", id, err)
		}
		if err := n.store.Sequenced(ctx, hotline.ReceiptReceived, rid, index, nil); err != nil {
			return nil, fmt.Errorf("recording log index of receipt of %s: %w", id, err)
		}
	}
	n.metrics.Receipts.Inc()
	return r, nil
}

// RecordRelayed verifies a relay's receipt for the view of envelope id it
// holds for recipient, and records it on the outbox row. The row stays
// pending: the recipient's own receipt is still awaited.
func (n *Node) RecordRelayed(ctx context.Context, id hotline.ID, recipient, relay string, note []byte) error {
	now := n.clock.Now()
	key, err := n.agr.Load().MessageKey(relay, now)
	if err != nil {
		return hotline.Errorf(ErrKeyNotValid, "relay %s has no message key valid now: %v", relay, err)
	}
	rr, err := hotline.OpenRelayReceipt(note, key)
	if err != nil {
		return err
	}
	if rr.Message != id || rr.To != recipient || rr.From != n.party {
		return hotline.Errorf(ErrWrongReceipt, "relay receipt names %s from %s to %s, not %s from %s to %s", rr.Message, rr.From, rr.To, id, n.party, recipient)
	}
	return n.store.MarkRelayed(ctx, &store.RelayedDelivery{ID: id, Recipient: recipient, Relay: relay, At: now, Receipt: note})
}

// ErrWrongRefusal: a signed refusal that verifies but is not for the
// envelope it was returned for.
var ErrWrongRefusal = hotline.NewError("wrong_refusal", "refusal does not match the delivery")

// RecordRefusal verifies the signed refusal a recipient returned for
// envelope id and records it: the refusal stored (at most MaxRefusals per
// recipient), its id logged under direction 0x06, and the outbox row
// failed — the recipient answers the same envelope with the same refusal,
// so sending it again is pointless. The same refusal again is a no-op.
func (n *Node) RecordRefusal(ctx context.Context, id hotline.ID, recipient string, note []byte) error {
	now := n.clock.Now()
	key, err := n.agr.Load().MessageKey(recipient, now)
	if err != nil {
		return hotline.Errorf(ErrKeyNotValid, "%s has no message key valid now: %v", recipient, err)
	}
	r, rid, err := hotline.OpenRefusal(note, key)
	if err != nil {
		return err
	}
	env, err := n.store.Envelope(ctx, hotline.Sent, id)
	if err != nil {
		return fmt.Errorf("reading the sent envelope %s: %w", id, err)
	}
	e, err := hotline.Parse(env.Raw)
	if err != nil {
		return fmt.Errorf("parsing the sent envelope %s: %w", id, err)
	}
	if r.Message != id || r.Header != sha256.Sum256(e.SignedHeader()) {
		return hotline.Errorf(ErrWrongRefusal, "refusal from %s names message %s, not %s, or another header", recipient, r.Message, id)
	}
	max := n.maxRefusals
	if max <= 0 {
		max = DefaultMaxRefusals
	}
	rec, _, err := n.store.AddRefusal(ctx, &store.Refusal{Direction: hotline.RefusalReceived, Message: id, Peer: recipient,
		Code: r.Code, At: now, Note: note, ID: rid, Entry: hotline.LeafEntry(n.log.Origin(), hotline.RefusalReceived, rid)}, max)
	if err != nil {
		return fmt.Errorf("storing %s's refusal of %s: %w", recipient, id, err)
	}
	if !rec.Sequenced {
		index, err := n.log.Append(ctx, rec.Entry)
		if err != nil {
			return fmt.Errorf("logging %s's refusal of %s: %w", recipient, id, err)
		}
		if err := n.store.RefusalSequenced(ctx, hotline.RefusalReceived, rec.ID, index); err != nil {
			return err
		}
	}
	n.logger.Error("ALERT: a recipient refused an envelope, signed", "party", recipient, "id", id, "code", r.Code)
	if err := n.store.MarkFailed(ctx, id, recipient, now, "refused by "+recipient+", signed: "+r.Code); err != nil && !errors.Is(err, store.ErrConflict) {
		return err
	}
	return nil
}
