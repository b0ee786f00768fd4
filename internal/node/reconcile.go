package node

import (
	"context"
	"fmt"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/internal/store"
)

// reconcile resolves the pending leaves a crash left between the store and
// the log: a pending leaf whose entry is in the log at or above its After
// mark is recorded at that index (with the receipt a received envelope was
// owed); one that is not is appended again. Tessera's own deduplication is
// best-effort and is not relied on.
func (n *Node) reconcile(ctx context.Context) error {
	for {
		pending, err := n.store.PendingLeaves(ctx, 0)
		if err != nil {
			return err
		}
		if len(pending) == 0 {
			return nil
		}
		want := make(map[[hotline.EntrySize]byte]store.Leaf, len(pending))
		from := pending[0].After
		for _, l := range pending {
			want[l.Entry] = l
			from = min(from, l.After)
		}
		found := 0
		for e, err := range n.log.EntriesFrom(ctx, from) {
			if err != nil {
				return fmt.Errorf("reading the log from %d: %w", from, err)
			}
			l, ok := want[e.Data]
			if !ok || e.Index < l.After {
				continue
			}
			if err := n.sequenced(ctx, l, e.Index); err != nil {
				return err
			}
			delete(want, e.Data)
			found++
		}
		for _, l := range pending {
			if _, ok := want[l.Entry]; !ok {
				continue
			}
			index, err := n.log.Append(ctx, l.Entry)
			if err != nil {
				return fmt.Errorf("appending pending entry for %s: %w", l.Object, err)
			}
			if err := n.sequenced(ctx, l, index); err != nil {
				return err
			}
		}
		n.logger.Info("resolved pending log entries", "found_in_log", found, "appended", len(want))
	}
}

// sequenced records that leaf l is at index in the log, issuing the receipt
// a received envelope is owed.
func (n *Node) sequenced(ctx context.Context, l store.Leaf, index uint64) error {
	l.Index, l.Sequenced = index, true
	if l.Direction == hotline.Received {
		env, err := n.store.Envelope(ctx, hotline.Received, l.Object)
		if err != nil {
			return fmt.Errorf("reading pending envelope %s: %w", l.Object, err)
		}
		_, err = n.issueReceipt(ctx, l, env.At)
		return err
	}
	if err := n.store.Sequenced(ctx, l.Direction, l.Object, index, nil); err != nil {
		return fmt.Errorf("recording pending entry for %s: %w", l.Object, err)
	}
	if l.Direction == hotline.Sent {
		n.kick()
	}
	return nil
}

// logRefusals appends the log entries of the signed refusals stored without
// one — a crash between storing a refusal and logging it leaves such a row
// — and records their indexes. An entry may so appear twice in the log
// (a crash after the append, before the record), never not at all.
func (n *Node) logRefusals(ctx context.Context) error {
	for _, p := range n.agr.Load().Parties() {
		for _, dir := range []hotline.Direction{hotline.RefusalIssued, hotline.RefusalReceived} {
			rs, err := n.store.Refusals(ctx, dir, p.ID)
			if err != nil {
				return err
			}
			for _, r := range rs {
				if r.Sequenced {
					continue
				}
				index, err := n.log.Append(ctx, r.Entry)
				if err != nil {
					return err
				}
				if err := n.store.RefusalSequenced(ctx, dir, r.ID, index); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
