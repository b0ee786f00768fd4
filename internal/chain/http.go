package chain

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/agreement"
	"github.com/hotline-net/hotline/internal/refusal"
)

// maxDocument bounds a posted document: the agreement's limit on one note.
const maxDocument = 1 << 20

// Answer is the JSON answer to a posted document.
type Answer struct {
	Tag      string `json:"tag"`
	Party    string `json:"party"`
	Sequence uint64 `json:"sequence"`
	Hash     string `json:"hash"`
	// New is false when the node held the document already.
	New bool `json:"new"`
}

func answer(a Added) Answer {
	return Answer{Tag: a.Tag, Party: a.Party, Sequence: a.Sequence, Hash: a.Hash.String(), New: a.New}
}

// Offer takes in a document a peer posted (POST /v1/agreement) and returns
// the JSON answer.
func (h *Holder) Offer(ctx context.Context, from string, msg []byte) ([]byte, error) {
	a, err := h.Add(ctx, from, msg)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(answer(a))
	return append(b, '\n'), err
}

// statuses maps the refusals of the operator endpoints to HTTP statuses.
var statuses = refusal.NewStatuses(map[int][]*hotline.Error{
	http.StatusBadRequest: {hotline.ErrMalformed, agreement.ErrMalformed, agreement.ErrUnknownField, agreement.ErrDuplicateKey,
		agreement.ErrNotCanonical, agreement.ErrMissing, agreement.ErrInvalid},
	http.StatusNotFound:              {ErrUnknownDocument},
	http.StatusConflict:              {agreement.ErrFork},
	http.StatusRequestEntityTooLarge: {agreement.ErrTooLarge},
	http.StatusUnprocessableEntity: {agreement.ErrDuplicateID, agreement.ErrUnknownParty, agreement.ErrUnknownKind,
		agreement.ErrUnknownGroup, agreement.ErrZeroDeadline, agreement.ErrBadKey, agreement.ErrKeyOverlap, agreement.ErrNoValidKey,
		agreement.ErrKeyHistory, agreement.ErrBadChain, agreement.ErrBadPolicy, agreement.ErrBadSignature,
		agreement.ErrBadRatification, agreement.ErrRootChanged, agreement.ErrBadRotation},
	// The node's storage cannot take the document now (a full disk),
	// with Retry-After.
	http.StatusServiceUnavailable: {refusal.ErrStorageFull},
})

// OperatorHandler serves the operator's agreement endpoints (the caller
// admits admins only):
//
//	POST /api/v1/agreement/documents   a signed document → [Answer]; in force at once
//	GET  /api/v1/agreement             the chain the node holds → [Status]
func (h *Holder) OperatorHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/agreement/documents", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxDocument))
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			h.writeError(w, r, hotline.Errorf(agreement.ErrTooLarge, "document over %d bytes", mbe.Limit))
			return
		}
		if err != nil {
			h.writeError(w, r, hotline.Errorf(hotline.ErrMalformed, "reading the document: %v", err))
			return
		}
		a, err := h.Add(r.Context(), "operator", body)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		writeJSON(w, answer(a))
	})
	mux.HandleFunc("GET /api/v1/agreement", func(w http.ResponseWriter, r *http.Request) {
		st, err := h.Status(r.Context())
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		writeJSON(w, st)
	})
	return mux
}

func (h *Holder) writeError(w http.ResponseWriter, r *http.Request, err error) {
	refusal.Write(w, r, err, statuses.Status, h.logger, "operator")
}

func writeJSON(w http.ResponseWriter, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(append(b, '\n'))
}
