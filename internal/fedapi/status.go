package fedapi

import (
	"net/http"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/agreement"
	"github.com/hotline-net/hotline/internal/chain"
	"github.com/hotline-net/hotline/internal/gossip"
	"github.com/hotline-net/hotline/internal/node"
	"github.com/hotline-net/hotline/internal/refusal"
	"github.com/hotline-net/hotline/internal/relay"
)

// statuses is the peer API's one map from refusals to HTTP statuses
// (docs/PROTOCOL.md §11.5 lists it). Every refusal the protocol, the node,
// the relay and heartbeats declare is in it; a test keeps it so.
var statuses = refusal.NewStatuses(map[int][]*hotline.Error{
	http.StatusBadRequest: {hotline.ErrMalformed, hotline.ErrWrongTag, hotline.ErrTrailingData,
		node.ErrInvalidRequest, refusal.ErrInvalid, ErrUnsupportedVersion},
	http.StatusUnauthorized: {ErrUnauthenticated, ErrStaleRequest},
	http.StatusForbidden: {hotline.ErrBadSignature, node.ErrUnknownSender, node.ErrKeyNotValid, node.ErrNotRatified,
		agreement.ErrNoValidKey, relay.ErrNotRelay, relay.ErrRelayForbidden},
	http.StatusNotFound:              {node.ErrNotFound, refusal.ErrNotFound, chain.ErrUnknownDocument},
	http.StatusConflict:              {gossip.ErrHeartbeatReplay, refusal.ErrConflict, agreement.ErrFork, node.ErrSequenceConflict},
	http.StatusMisdirectedRequest:    {hotline.ErrNotRecipient},
	http.StatusRequestEntityTooLarge: {ErrTooLarge, hotline.ErrHeaderTooLarge, hotline.ErrEnvelopeTooLarge, hotline.ErrTooManyRecipients},
	http.StatusTooManyRequests:       {ErrRateLimited},
	http.StatusUnprocessableEntity: {hotline.ErrBadStanza, hotline.ErrBadPayload, hotline.ErrBadCommitment, hotline.ErrDecrypt,
		hotline.ErrNoKey, hotline.ErrFutureCreated, node.ErrUnknownAgreement, node.ErrUnknownKind, node.ErrInvalidBody,
		node.ErrUnknownRecipient, node.ErrWrongReceipt, node.ErrWrongRefusal, node.ErrReceiptTime, agreement.ErrUnknownParty,
		gossip.ErrHeartbeatStale, gossip.ErrHeartbeatPeer, relay.ErrRelaySender, relay.ErrRelayNoView,
		// An agreement document that does not extend the chain (POST /v1/agreement).
		agreement.ErrUnknownField, agreement.ErrDuplicateKey, agreement.ErrNotCanonical, agreement.ErrMissing,
		agreement.ErrInvalid, agreement.ErrDuplicateID, agreement.ErrUnknownKind, agreement.ErrUnknownGroup,
		agreement.ErrZeroDeadline, agreement.ErrBadKey, agreement.ErrKeyOverlap, agreement.ErrKeyHistory,
		agreement.ErrBadChain, agreement.ErrBadPolicy, agreement.ErrBadRatification, agreement.ErrRootChanged,
		agreement.ErrBadRotation, agreement.ErrNoVersion},
	http.StatusServiceUnavailable:  {refusal.ErrUnavailable, ErrBusy, refusal.ErrStorageFull},
	http.StatusInsufficientStorage: {relay.ErrRelayFull},
})

// Status returns the HTTP status for a refusal code: the one place where
// the peer API maps codes to statuses. A code it does not know is an
// internal error, 500.
func Status(code string) int { return statuses.Status(code) }
