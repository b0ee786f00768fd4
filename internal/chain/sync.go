package chain

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/agreement"
)

// Transport sends a signed request to a peer's peer API (fedapi.Client.Do).
type Transport interface {
	Do(ctx context.Context, to, base, method, path string, body []byte) ([]byte, error)
}

// maxFetch bounds how many documents one sync fetches from a peer.
const maxFetch = 1024

// Sync exchanges documents with peer: it fetches the peer's hash list,
// takes in the documents this node lacks, and posts to the peer the ones it
// lacks. It returns how many documents it took in and how many the peer
// took. Refusals on either side are logged (and, for documents a party
// signed, alarms here); Sync fails only when the peer cannot be reached.
func (h *Holder) Sync(ctx context.Context, peer string) (got, gave int, err error) {
	if h.cfg.Transport == nil {
		return 0, 0, nil
	}
	eps, err := h.cfg.Node.Agreement().Endpoints(peer)
	if err != nil || len(eps) == 0 {
		return 0, 0, fmt.Errorf("no endpoint for %s", peer)
	}
	var list HashList
	var base string
	for _, ep := range eps {
		var b []byte
		if b, err = h.cfg.Transport.Do(ctx, peer, ep, http.MethodGet, "/v1/agreement", nil); err == nil {
			if err = json.Unmarshal(b, &list); err == nil {
				base = ep
				break
			}
		}
	}
	if base == "" {
		return 0, 0, fmt.Errorf("the hash list of %s: %w", peer, err)
	}
	agr := h.cfg.Node.Agreement()
	mine := agr.Digest()
	them, err := hotline.ParseID(list.Digest)
	if err != nil {
		return 0, 0, fmt.Errorf("the hash list of %s: %w", peer, err)
	}
	theirs := map[hotline.ID]bool{}
	var fetched [][]byte
	for _, s := range list.Documents {
		id, err := hotline.ParseID(s)
		if err != nil {
			return 0, 0, fmt.Errorf("the hash list of %s: %w", peer, err)
		}
		theirs[id] = true
		if agr.Holds(id) || len(fetched) >= maxFetch || h.triedBefore(tryKey{id, mine, them, peer}) {
			continue
		}
		b, err := h.cfg.Transport.Do(ctx, peer, base, http.MethodGet, "/v1/agreement/"+id.String(), nil)
		if err != nil {
			h.logger.Info("fetching an agreement document", "peer", peer, "hash", id, "err", err)
			continue
		}
		if d, err := agreement.Describe(b); err != nil || d.Hash != id {
			h.logger.Warn("a peer answered a document request with another document", "peer", peer, "hash", id)
			continue
		}
		fetched = append(fetched, b)
	}
	got, err = h.AddAll(ctx, peer, fetched)
	if err != nil {
		h.logger.Warn("documents from a peer refused", "peer", peer, "err", err)
		now := h.cfg.Node.Agreement()
		for _, b := range fetched {
			// Only a refusal of the document itself is remembered, not a
			// failing store.
			if d, err := agreement.Describe(b); err == nil && !now.Holds(d.Hash) {
				if _, err := now.With(b); agreement.ErrorCode(err) != "" {
					h.remember(tryKey{d.Hash, mine, them, peer})
				}
			}
		}
	}
	gave = h.push(ctx, peer, base, theirs, them)
	return got, gave, nil
}

// triedBefore reports whether the same transfer between the same two
// chains was refused before.
func (h *Holder) triedBefore(k tryKey) bool {
	h.refusedMu.Lock()
	defer h.refusedMu.Unlock()
	return h.tried[k]
}

func (h *Holder) remember(k tryKey) {
	h.refusedMu.Lock()
	defer h.refusedMu.Unlock()
	if h.tried == nil || len(h.tried) >= maxTried {
		h.tried = map[tryKey]bool{}
	}
	h.tried[k] = true
}

// push posts to peer, in the order of the file, every document it lacks,
// retrying those it refused after the others until a pass gets nothing
// more taken (a document can need one posted after it).
func (h *Holder) push(ctx context.Context, peer, base string, theirs map[hotline.ID]bool, them hotline.ID) int {
	agr := h.cfg.Node.Agreement()
	mine := agr.Digest()
	var left [][]byte
	for _, id := range agr.DocumentHashes() {
		if !theirs[id] && !h.triedBefore(tryKey{id, mine, them, "to " + peer}) {
			if b, ok := agr.Document(id); ok {
				left = append(left, b)
			}
		}
	}
	gave := 0
	for len(left) > 0 {
		var again [][]byte
		var errs []error
		for _, b := range left {
			if _, err := h.cfg.Transport.Do(ctx, peer, base, http.MethodPost, "/v1/agreement", b); err != nil {
				if !refusedDocument(err) {
					// Unreachable, overloaded, failing: the next round tries again.
					h.logger.Info("offering an agreement document", "peer", peer, "err", err)
					return gave
				}
				again, errs = append(again, b), append(errs, err)
				continue
			}
			gave++
		}
		if len(again) == len(left) {
			h.logger.Warn("a peer refused agreement documents", "peer", peer, "n", len(again), "err", errors.Join(errs...))
			for _, b := range again {
				if d, err := agreement.Describe(b); err == nil {
					h.remember(tryKey{d.Hash, mine, them, "to " + peer})
				}
			}
			break
		}
		left = again
	}
	return gave
}

// refusedDocument reports whether a peer's answer refused the document
// itself (a code of the agreement's), rather than failing to take it.
func refusedDocument(err error) bool {
	var coded interface{ ErrorCode() string }
	if !errors.As(err, &coded) {
		return false
	}
	switch c := coded.ErrorCode(); {
	case c == "", strings.HasPrefix(c, "http_"), c == "internal", c == "unavailable", c == "rate_limited",
		c == "stale_request", c == "unauthenticated", c == "too_large":
		return false
	}
	return true
}
