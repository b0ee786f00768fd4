package node

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/internal/store"
)

// Redelivery: a node restored from a backup asks each peer for the
// envelopes the peer sent it and holds its receipt for, beyond the size its
// restored log has (POST /v1/redeliver), and stores each again at the log
// index its receipt names, issuing the same receipt (see Restored).

// RedeliverRequest is the body of a redelivery request.
type RedeliverRequest struct {
	// FromIndex selects the envelopes whose receipt names a log index at
	// or above it.
	FromIndex uint64 `json:"from_index"`
	// After continues from a previous page's Next.
	After string `json:"after,omitempty"`
}

// RedeliverPage is the answer to a redelivery request.
type RedeliverPage struct {
	// LastSeq is the highest sequence number this node received from the
	// requester, and LastID the envelope that carried it (on the first
	// page only; zero when none): the requester's counter continues from
	// them.
	LastSeq uint64       `json:"last_seq,omitempty"`
	LastID  *hotline.ID  `json:"last_id,omitempty"`
	Items   []Redelivery `json:"items"`
	// Next continues the listing; empty on the last page.
	Next string `json:"next,omitempty"`
}

// Redelivery is one envelope redelivered: the requester's view of it and
// the receipt the requester signed for it.
type Redelivery struct {
	View    []byte `json:"view"`
	Receipt []byte `json:"receipt"`
}

// Bounds of a redelivery page: rows read from the store at a time, and
// the bytes of views after which the page ends (a page holds at least one
// store page of rows, so at most redeliverRows envelopes over it).
const (
	redeliverRows  = 16
	redeliverBytes = 8 << 20
	// RedeliverMaxAnswer bounds the answer a requester reads.
	RedeliverMaxAnswer = redeliverBytes + redeliverRows*(hotline.DefaultMaxEnvelope+64<<10)
)

// Redeliver answers peer to's signed redelivery request (body, a
// [RedeliverRequest]): a [RedeliverPage] of the envelopes this node sent
// to and holds to's receipt for, naming a log index at or above
// FromIndex, newest first.
func (n *Node) Redeliver(ctx context.Context, to string, body []byte) ([]byte, error) {
	var req RedeliverRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return nil, hotline.Errorf(ErrInvalidRequest, "redelivery request: %v", err)
	}
	page := RedeliverPage{Items: []Redelivery{}}
	if req.After == "" {
		var err error
		if page.LastSeq, page.LastID, err = n.lastFrom(ctx, to); err != nil {
			return nil, err
		}
	}
	cursor, size := store.Cursor(req.After), 0
	for {
		p, err := n.store.Outbox(ctx, store.OutboxQuery{
			OutboxFilter: store.OutboxFilter{Recipient: to, State: store.OutboxDelivered},
			Cursor:       cursor, Limit: redeliverRows,
		})
		if errors.Is(err, store.ErrInvalid) {
			return nil, hotline.Errorf(ErrInvalidRequest, "redelivery request: %v", err)
		}
		if err != nil {
			return nil, err
		}
		for _, row := range p.Rows {
			if row.Receipt == nil || row.Receipt.LogIndex < req.FromIndex {
				continue
			}
			env, err := n.store.Envelope(ctx, hotline.Sent, row.ID)
			if err != nil {
				return nil, fmt.Errorf("reading envelope %s: %w", row.ID, err)
			}
			e, err := hotline.Read(bytes.NewReader(env.Raw), hotline.Limits{MaxEnvelope: max(n.limits.MaxEnvelope, int64(len(env.Raw)))})
			if err != nil {
				return nil, fmt.Errorf("reading envelope %s: %w", row.ID, err)
			}
			v, err := e.View(to)
			if err != nil {
				return nil, fmt.Errorf("%s's view of %s: %w", to, row.ID, err)
			}
			item := Redelivery{View: v.Marshal(), Receipt: row.Receipt.Note}
			page.Items = append(page.Items, item)
			size += len(item.View) + len(item.Receipt)
		}
		cursor = p.Next
		if cursor == "" || size >= redeliverBytes {
			break
		}
	}
	page.Next = string(cursor)
	return json.Marshal(page)
}

// lastFrom returns the highest sequence number this node received from
// peer and the id of the envelope that carried it, looked for among the
// newest envelopes from peer (nil if not among them).
func (n *Node) lastFrom(ctx context.Context, peer string) (uint64, *hotline.ID, error) {
	in, err := n.store.Inbound(ctx, peer)
	if err != nil || in.Highest == 0 {
		return 0, nil, err
	}
	q := store.MessageQuery{MessageFilter: store.MessageFilter{Direction: hotline.Received, Party: peer, IncludePending: true}, Limit: 500}
	for range 10 {
		p, err := n.store.Messages(ctx, q)
		if err != nil {
			return 0, nil, err
		}
		for _, e := range p.Envelopes {
			if e.From == peer && e.PairSeq == in.Highest {
				id := e.ID
				return in.Highest, &id, nil
			}
		}
		if p.Next == "" {
			break
		}
		q.Cursor = p.Next
	}
	return in.Highest, nil, nil
}

// Restored stores again an envelope this node received and receipted
// before it was restored from a backup: view, which a peer redelivered,
// with receipt, which this node signed then. The receipt must be this
// node's (its message key, its party, its log) for this envelope; the log
// must already hold the envelope's entry at the index the receipt names
// (the restore refills the log first); the receipt issued again, from the
// stored row and that index, must be the same bytes. It reports whether
// the envelope was stored already (with that receipt).
//
// The envelope's checks are those that make a receipt owed (its
// signature, this node's view, its stanza opening); the agreement's rules
// were checked when the receipt was first signed, which the receipt proves.
func (n *Node) Restored(ctx context.Context, view, receipt []byte) (bool, error) {
	self, err := n.keys.Message.Verifier()
	if err != nil {
		return false, err
	}
	rc, _, err := hotline.OpenReceipt(receipt, self)
	if err != nil {
		return false, fmt.Errorf("the receipt is not this node's: %w", err)
	}
	if rc.Party != n.party || rc.LogOrigin != n.log.Origin() {
		return false, fmt.Errorf("the receipt names %s and log %s, not this node", rc.Party, rc.LogOrigin)
	}
	e, err := hotline.Read(bytes.NewReader(view), n.limits)
	if err != nil {
		return false, err
	}
	id := e.ID()
	if id != rc.Message {
		return false, fmt.Errorf("the receipt is for %s, the envelope is %s", rc.Message, id)
	}
	unlock := n.locks.lock(id)
	defer unlock()
	if r, err := n.store.Receipt(ctx, id, n.party); err == nil {
		if !bytes.Equal(r.Note, receipt) {
			return false, fmt.Errorf("%s is stored with another receipt (index %d, not %d)", id, r.LogIndex, rc.LogIndex)
		}
		return true, nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return false, err
	}
	h := &e.Header
	key, err := n.agr.Load().SignedMessageKey(h.From, h.Created, rc.Received)
	if err != nil {
		return false, fmt.Errorf("%s's message key for %s: %w", h.From, id, err)
	}
	if err := e.Verify(key); err != nil {
		return false, err
	}
	i := h.Index(n.party)
	if i < 0 || e.ViewFor() != n.party {
		return false, hotline.Errorf(hotline.ErrNotRecipient, "not %s's view of %s", n.party, id)
	}
	m, err := e.Open(n.party, n.encKeys...)
	if err != nil {
		return false, err
	}
	entry := hotline.LeafEntry(n.log.Origin(), hotline.Received, id)
	found := false
	for le, err := range n.log.EntriesFrom(ctx, rc.LogIndex) {
		if err != nil {
			return false, err
		}
		found = le.Index == rc.LogIndex && le.Data == entry
		break
	}
	if !found {
		return false, fmt.Errorf("the log does not hold the entry of %s at index %d, as its receipt says", id, rc.LogIndex)
	}
	ins, err := n.store.InsertReceived(ctx, &store.Received{
		Envelope: store.Envelope{
			Direction: hotline.Received, ID: id, From: h.From, To: recipients(h), Group: h.Group,
			Created: h.Created, AgreementHash: h.Agreement, Exercise: h.Exercise,
			Kind: m.Inner.Kind, Severity: m.Inner.Severity, Marking: m.Inner.Marking,
			Thread: m.Inner.Thread, Refs: m.Inner.Refs, Raw: view, Body: m.Body,
			At: rc.Received, PairSeq: m.Seq, PairPrev: m.Prev,
		},
		Entry: entry,
	})
	if err != nil {
		return false, fmt.Errorf("storing envelope %s: %w", id, err)
	}
	leaf := ins.Leaf
	leaf.Index, leaf.Sequenced = rc.LogIndex, true
	note, issued, err := n.signReceipt(leaf, rc.Received)
	if err != nil {
		return false, err
	}
	if !bytes.Equal(note, receipt) {
		return false, fmt.Errorf("the receipt issued again for %s differs from the one the peer holds", id)
	}
	return false, n.recordReceipt(ctx, leaf, issued)
}
