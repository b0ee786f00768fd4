package watch

import (
	"context"
	"time"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/agreement"
	"github.com/hotline-net/hotline/internal/node"
	"github.com/hotline-net/hotline/internal/obligations"
	"github.com/hotline-net/hotline/internal/store"
)

// NodeSource is the [Source] of a node: its store, its party and the
// agreement it holds ([node.Node.Agreement]), judged as [node.Evidence]
// judges.
type NodeSource struct {
	Store     store.Store
	Self      string
	Agreement func() *agreement.Agreement
}

var _ Source = NodeSource{}

// Party returns the node's party.
func (s NodeSource) Party() string { return s.Self }

// Judge judges the obligations of thread (every stored message's for a
// zero thread) on the node's evidence, as of now.
func (s NodeSource) Judge(ctx context.Context, thread hotline.ID, now time.Time) (obligations.Result, error) {
	e := &node.Evidence{Store: s.Store, Party: s.Self, Agreement: s.Agreement(), Now: now}
	res, _, err := e.Judge(ctx, node.ObligationScope{Thread: thread})
	return res, err
}

// Threads returns the threads of the messages the node stored at or after
// since, newest first: the store lists newest first, so the listing stops
// at the first older message (pages of 50: a pass usually finds a few).
func (s NodeSource) Threads(ctx context.Context, since time.Time) ([]hotline.ID, error) {
	seen := map[hotline.ID]bool{}
	var out []hotline.ID
	q := store.MessageQuery{MessageFilter: store.MessageFilter{IncludePending: true}, Limit: 50}
	for {
		page, err := s.Store.Messages(ctx, q)
		if err != nil {
			return nil, err
		}
		for _, e := range page.Envelopes {
			if e.At.Before(since) {
				return out, nil
			}
			if t := e.ThreadID(); !seen[t] {
				seen[t] = true
				out = append(out, t)
			}
		}
		if page.Next == "" {
			return out, nil
		}
		q.Cursor = page.Next
	}
}

// Contacts returns party's contacts from the agreement's directory.
func (s NodeSource) Contacts(party string) ([]agreement.Contact, error) {
	return s.Agreement().Contacts(party)
}
