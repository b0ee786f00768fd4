package opapi

import (
	"net/http"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/internal/node"
	"github.com/hotline-net/hotline/internal/obligations"
	"github.com/hotline-net/hotline/internal/refusal"
)

// statuses is the operator API's one map from refusals to HTTP statuses.
// Every refusal this API and the node declare is in it; a test keeps it
// so.
var statuses = refusal.NewStatuses(map[int][]*hotline.Error{
	http.StatusBadRequest:   {ErrBadRequest, node.ErrInvalidRequest, hotline.ErrMalformed, refusal.ErrInvalid},
	http.StatusUnauthorized: {ErrUnauthorized},
	http.StatusForbidden:    {ErrForbidden},
	http.StatusNotFound:     {node.ErrNotFound, refusal.ErrNotFound},
	http.StatusConflict:     {refusal.ErrConflict, obligations.ErrNothingOwed, node.ErrSequenceConflict},
	http.StatusUnprocessableEntity: {node.ErrInvalidBody, node.ErrUnknownKind, node.ErrUnknownRecipient, node.ErrKeyNotValid,
		node.ErrUnknownAgreement, node.ErrUnknownSender, node.ErrNotRatified, node.ErrWrongReceipt, node.ErrWrongRefusal, node.ErrReceiptTime},
	http.StatusServiceUnavailable: {refusal.ErrUnavailable, refusal.ErrStorageFull},
})

// Status returns the HTTP status for a refusal code: the one place where
// the operator API maps codes to statuses. A code it does not know is an
// internal error, 500.
func Status(code string) int { return statuses.Status(code) }
