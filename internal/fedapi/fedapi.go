// Package fedapi is the peer-facing HTTP API of a hotline node, and the
// client other nodes use to call it ([Client]).
//
// # Endpoints
//
//	POST /v1/envelopes              a recipient's view → the receipt (signed request)
//	POST /v1/heartbeats             a heartbeat note → this node's (package gossip)
//	POST /v1/redeliver              the envelopes sent to the requester that this node holds its receipts for (a restore)
//	POST /v1/relay/envelopes        a view left with a relay → its answer (package relay)
//	GET  /v1/relay/envelopes        the views a relay holds for the requester
//	POST /v1/relay/handed           the requester's receipt for a view it pulled
//	GET  /v1/agreement              the hashes of the agreement documents this node holds (package chain)
//	GET  /v1/agreement/{hash}       one of them, the signed note
//	POST /v1/agreement              a signed agreement document the node takes in if it extends its chain
//	GET  /log/checkpoint, /log/tile/...      the node's log (C2SP tlog-tiles)
//	POST /witness/add-checkpoint    the node's witness (C2SP tlog-witness)
//
// # Authentication
//
// Every request to /v1/ carries a hotline-request/v2 signature by the
// sending party's message key in headers (see [SignRequest]) that cover the
// body's length and hash; the receiver rebuilds the signed text from the
// request's headers and verifies it against the agreement's directory
// before it reads the body, then reads exactly the signed length. Each authenticated peer then has a
// token bucket of its own ([RateLimit], on golang.org/x/time/rate).
//
// # Errors
//
// A refusal is answered with a JSON object {"code": "...", "message": "..."}
// and the HTTP status that [Status] chooses for its code: the one place
// where codes meet statuses, a table of the refusals of every package
// behind this API (status.go), which a test holds to every code they
// declare. Internal errors reach the peer as "internal" with a request id;
// the details stay in the node's log.
package fedapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"slices"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/agreement"
	"github.com/hotline-net/hotline/internal/node"
	"github.com/hotline-net/hotline/internal/refusal"
)

// ErrTooLarge: the request body is over the limit.
var ErrTooLarge = hotline.NewError("too_large", "request body too large")

// Config configures the peer API. Node is required.
type Config struct {
	Node *node.Node
	// Log serves the node's log under /log/ (tlog-tiles, relative paths);
	// nil serves no log.
	Log http.Handler
	// Witness serves the node's witness under /witness/; nil serves none.
	Witness http.Handler
	// Mirror serves the node's copies of its peers' logs under /mirror/
	// (tlog.Mirror's handler, which checks who asks); nil serves none.
	Mirror http.Handler
	// MaxBody bounds a request body. Zero means the node's envelope limit
	// plus 64 KiB.
	MaxBody int64
	// Heartbeats answers POST /v1/heartbeats; nil serves none.
	Heartbeats HeartbeatReceiver
	// Relay answers /v1/relay/; nil serves none.
	Relay Relay
	// RateLimit bounds each peer's requests; zero fields are its defaults.
	RateLimit RateLimit
	// Admission bounds what requests may make the node hold before they
	// are authenticated; zero fields are its defaults.
	Admission Admission
	// Agreement answers /v1/agreement; nil serves none.
	Agreement AgreementDocuments
}

// AgreementDocuments is the agreement chain a node holds, offered to its
// peers (package chain).
type AgreementDocuments interface {
	// HashesJSON returns the digest and the hash of every document held.
	HashesJSON() []byte
	// Document returns the signed note of one document, by its hash.
	Document(hash string) ([]byte, error)
	// Offer takes in a document a peer posted and returns the JSON answer.
	Offer(ctx context.Context, from string, note []byte) ([]byte, error)
}

// Relay is the relay side of a node (package relay).
type Relay interface {
	Put(ctx context.Context, from string, view []byte) ([]byte, error)
	List(ctx context.Context, to, cursor string) ([]byte, error)
	Handed(ctx context.Context, to string, body []byte) error
}

// HeartbeatReceiver processes a peer's heartbeat note and returns this
// node's heartbeat to it.
type HeartbeatReceiver interface {
	Receive(ctx context.Context, peer string, note []byte) ([]byte, error)
}

// StaleHeartbeatReceiver is a HeartbeatReceiver that also measures the
// sender's clock from a heartbeat whose request is stale (PROTOCOL §11.3,
// "Clock skew"): the request's signature, parties and body verified, only
// its time beyond MaxSkew. ReceiveStale never accepts the heartbeat: it
// returns its refusal, or nil when the heartbeat's own time is within the
// window (the request is then refused stale_request).
type StaleHeartbeatReceiver interface {
	ReceiveStale(ctx context.Context, peer string, note []byte) error
}

type api struct {
	node       *node.Node
	maxBody    int64
	logger     *slog.Logger
	heartbeats HeartbeatReceiver
	relay      Relay
	limit      *limiter
	admit      *admitter
}

// Handler returns the peer API.
func Handler(cfg Config) http.Handler {
	a := &api{node: cfg.Node, maxBody: cfg.MaxBody, logger: cfg.Node.Logger(), heartbeats: cfg.Heartbeats, relay: cfg.Relay, limit: newLimiter(cfg.RateLimit), admit: newAdmitter(cfg.Admission)}
	if a.maxBody <= 0 {
		lim := cfg.Node.Limits().MaxEnvelope
		if lim <= 0 {
			lim = hotline.DefaultMaxEnvelope
		}
		a.maxBody = lim + 64<<10
	}
	mux := http.NewServeMux()
	// Each endpoint's body cap: an envelope's for views, less for the
	// rest, nothing for a pull.
	mux.HandleFunc("POST /v1/envelopes", a.handle(a.maxBody, a.postEnvelope))
	mux.HandleFunc("POST /v1/redeliver", a.handle(SmallBody, func(r *http.Request, from string, body []byte) (response, error) {
		b, err := a.node.Redeliver(r.Context(), from, body)
		return response{contentType: "application/json", body: b}, err
	}))
	if a.heartbeats != nil {
		stale, _ := a.heartbeats.(StaleHeartbeatReceiver)
		mux.HandleFunc("POST /v1/heartbeats", a.handleStale(SmallBody, stale, a.postHeartbeat))
	}
	if a.relay != nil {
		mux.HandleFunc("POST /v1/relay/envelopes", a.handle(a.maxBody, func(r *http.Request, from string, body []byte) (response, error) {
			b, err := a.relay.Put(r.Context(), from, body)
			return response{contentType: "application/json", body: b}, err
		}))
		mux.HandleFunc("GET /v1/relay/envelopes", a.handle(0, func(r *http.Request, from string, _ []byte) (response, error) {
			b, err := a.relay.List(r.Context(), from, r.URL.Query().Get("after"))
			return response{contentType: "application/json", body: b}, err
		}))
		mux.HandleFunc("POST /v1/relay/handed", a.handle(64<<10, func(r *http.Request, from string, body []byte) (response, error) {
			return response{contentType: "application/json", body: []byte("{}\n")}, a.relay.Handed(r.Context(), from, body)
		}))
	}
	if docs := cfg.Agreement; docs != nil {
		mux.HandleFunc("GET /v1/agreement", a.handle(0, func(r *http.Request, from string, _ []byte) (response, error) {
			return response{contentType: "application/json", body: docs.HashesJSON()}, nil
		}))
		mux.HandleFunc("GET /v1/agreement/{hash}", a.handle(0, func(r *http.Request, from string, _ []byte) (response, error) {
			b, err := docs.Document(r.PathValue("hash"))
			return response{contentType: ReceiptContentType, body: b}, err
		}))
		mux.HandleFunc("POST /v1/agreement", a.handle(SmallBody, func(r *http.Request, from string, body []byte) (response, error) {
			b, err := docs.Offer(r.Context(), from, body)
			return response{contentType: "application/json", body: b}, err
		}))
	}
	if cfg.Log != nil {
		mux.Handle("/log/", http.StripPrefix("/log", cfg.Log))
	}
	if cfg.Witness != nil {
		mux.Handle("/witness/", http.StripPrefix("/witness", cfg.Witness))
	}
	if cfg.Mirror != nil {
		mux.Handle("/mirror/", http.StripPrefix("/mirror", cfg.Mirror))
	}
	return mux
}

// response is what an endpoint returns: a body and its content type.
type response struct {
	contentType string
	body        []byte
}

// handle adapts an endpoint whose bodies are at most limit bytes: it
// authenticates the request from its headers alone (the signature covers
// the body's length and hash), checks the peer's rate and the declared
// length, admits the request (see [Admission]), reads exactly the signed
// length, checks the body's hash, calls fn, and writes the response or
// the refusal — the only place that writes. A request that is not
// authenticated costs the node no byte of its body.
func (a *api) handle(limit int64, fn func(r *http.Request, from string, body []byte) (response, error)) http.HandlerFunc {
	return a.handleStale(limit, nil, fn)
}

// handleStale is handle for POST /v1/heartbeats: a request whose only
// fault is its time (stale_request) is authenticated all the same, its
// body read and checked, and handed to stale, which measures the sender's
// clock and refuses it (PROTOCOL §11.3, "Clock skew"). Nil stale: handle.
func (a *api) handleStale(limit int64, stale StaleHeartbeatReceiver, fn func(r *http.Request, from string, body []byte) (response, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if v, _ := RequestVersion(r); v == 1 && (a.speaksOnlyV1(r.Header.Get(HeaderFrom)) || a.speaksOnlyV1(a.node.Party())) {
			a.handleV1(w, r, limit, fn)
			return
		}
		now := a.node.Clock().Now()
		signed, err := Authenticate(r, a.node.Party(), a.keyLookup, now)
		var staleErr error
		if stale != nil && hotline.ErrorCode(err) == ErrStaleRequest.Code {
			staleErr = err
			if signed, err = authenticate(r, a.node.Party(), a.keyLookup, now, true); err != nil {
				err = staleErr // the time is checked first (§11.1): its refusal stands
			}
		}
		if err != nil {
			a.node.Metrics().Refused.WithLabelValues(refusal.Code(err)).Inc()
			a.writeError(w, r, err)
			return
		}
		from := signed.From
		if ok, wait := a.limit.allow(from); !ok {
			a.node.Metrics().Refused.WithLabelValues(ErrRateLimited.Code).Inc()
			w.Header().Set("Retry-After", fmt.Sprint(int(math.Ceil(wait.Seconds()))))
			a.writeError(w, r, hotline.Errorf(ErrRateLimited, "%s sent more than its rate allows; retry in %v", from, wait.Round(time.Millisecond)))
			return
		}
		n := r.ContentLength // the signed length, never negative here
		if n > limit {
			a.writeError(w, r, hotline.Errorf(ErrTooLarge, "request body of %d bytes, over %d", n, limit))
			return
		}
		release, retry, err := a.admit.admit(r, n)
		if err != nil {
			a.node.Metrics().Refused.WithLabelValues(refusal.Code(err)).Inc()
			w.Header().Set("Retry-After", fmt.Sprint(int(math.Ceil(retry.Seconds()))))
			a.writeError(w, r, err)
			return
		}
		defer release()
		body, err := a.admit.readBody(w, r, n)
		if err != nil {
			a.writeError(w, r, hotline.Errorf(hotline.ErrMalformed, "reading request body: %v", err))
			return
		}
		if err := signed.CheckBody(body); err != nil {
			if staleErr != nil {
				err = staleErr
			}
			a.node.Metrics().Refused.WithLabelValues(refusal.Code(err)).Inc()
			a.writeError(w, r, err)
			return
		}
		if staleErr != nil {
			if err := stale.ReceiveStale(r.Context(), from, body); err != nil {
				staleErr = err
			}
			a.node.Metrics().Refused.WithLabelValues(refusal.Code(staleErr)).Inc()
			a.writeError(w, r, staleErr)
			return
		}
		resp, err := fn(r, from, body)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		w.Header().Set("Content-Type", resp.contentType)
		w.Header().Set("Cache-Control", "no-store")
		w.Write(resp.body)
	}
}

// speaksOnlyV1 reports whether party's directory entry lists protocol
// version 1 and not 2. A node takes version 1 requests from a party that
// lists only 1 (a node not yet upgraded), and from anyone while it lists
// only 1 itself (senders speak version 1 to it): rolling upgrades. Once
// both list 2, requests in the sender's name must be of version 2, and a
// request that does not authenticate costs no body.
func (a *api) speaksOnlyV1(party string) bool {
	ps, err := a.node.Agreement().Protocols(party)
	return err == nil && slices.Contains(ps, 1) && !slices.Contains(ps, 2)
}

// handleV1 is handle for a version 1 request: its signature covers the
// hash of the body the receiver reads, so the body is read (within the
// admission budgets) before the signature is checked.
func (a *api) handleV1(w http.ResponseWriter, r *http.Request, limit int64, fn func(r *http.Request, from string, body []byte) (response, error)) {
	refuse := func(err error) {
		a.node.Metrics().Refused.WithLabelValues(refusal.Code(err)).Inc()
		a.writeError(w, r, err)
	}
	if _, _, _, _, err := checkHeaders(r, a.keyLookup, a.node.Clock().Now(), false); err != nil {
		refuse(err)
		return
	}
	n := r.ContentLength
	if n < 0 {
		refuse(hotline.Errorf(ErrUnauthenticated, "request without a Content-Length"))
		return
	}
	if n > limit {
		a.writeError(w, r, hotline.Errorf(ErrTooLarge, "request body of %d bytes, over %d", n, limit))
		return
	}
	release, retry, err := a.admit.admit(r, n)
	if err != nil {
		w.Header().Set("Retry-After", fmt.Sprint(int(math.Ceil(retry.Seconds()))))
		refuse(err)
		return
	}
	defer release()
	body, err := a.admit.readBody(w, r, n)
	if err != nil {
		a.writeError(w, r, hotline.Errorf(hotline.ErrMalformed, "reading request body: %v", err))
		return
	}
	from, err := AuthenticateV1(r, body, a.node.Party(), a.keyLookup, a.node.Clock().Now())
	if err != nil {
		refuse(err)
		return
	}
	if ok, wait := a.limit.allow(from); !ok {
		w.Header().Set("Retry-After", fmt.Sprint(int(math.Ceil(wait.Seconds()))))
		refuse(hotline.Errorf(ErrRateLimited, "%s sent more than its rate allows; retry in %v", from, wait.Round(time.Millisecond)))
		return
	}
	resp, err := fn(r, from, body)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", resp.contentType)
	w.Header().Set("Cache-Control", "no-store")
	w.Write(resp.body)
}

// keyLookup finds a peer's message key in the agreement.
func (a *api) keyLookup(party string, t time.Time) (note.Verifier, error) {
	agr := a.node.Agreement()
	if _, err := agr.Party(party); err != nil {
		return nil, hotline.Errorf(node.ErrUnknownSender, "%s is not a party to the agreement", party)
	}
	k, err := agr.MessageKey(party, t)
	if errors.Is(err, agreement.ErrUnknownParty) {
		return nil, hotline.Errorf(node.ErrUnknownSender, "%s has no directory entry", party)
	}
	if err != nil {
		return nil, hotline.Errorf(node.ErrKeyNotValid, "%s has no message key valid now", party)
	}
	return k, nil
}

func (a *api) postEnvelope(r *http.Request, from string, body []byte) (response, error) {
	receipt, err := a.node.Accept(r.Context(), body)
	if err != nil {
		return response{}, err
	}
	return response{contentType: ReceiptContentType, body: receipt}, nil
}

func (a *api) postHeartbeat(r *http.Request, from string, body []byte) (response, error) {
	answer, err := a.heartbeats.Receive(r.Context(), from, body)
	if err != nil {
		return response{}, err
	}
	return response{contentType: ReceiptContentType, body: answer}, nil
}

// ReceiptContentType is the content type of a receipt in a response.
const ReceiptContentType = "text/plain; charset=utf-8"

// Refusal is the JSON body of every refused request.
type Refusal = refusal.Refusal

func (a *api) writeError(w http.ResponseWriter, r *http.Request, err error) {
	refusal.Write(w, r, err, Status, a.logger, "peer")
}

// PeerError is a refusal a peer answered with.
type PeerError struct {
	Status  int
	Code    string
	Message string
	// Statement is the peer's signed refusal (hotline-refusal/v1), when it
	// signed one; unverified.
	Statement []byte
}

func (e *PeerError) Error() string {
	return fmt.Sprintf("peer refused (%d %s): %s", e.Status, e.Code, e.Message)
}

// RefusalStatement returns the peer's signed refusal, if any.
func (e *PeerError) RefusalStatement() []byte { return e.Statement }

// ErrorCode returns the peer's refusal code.
func (e *PeerError) ErrorCode() string { return e.Code }

// Refused reports whether the peer refused the request itself (a 4xx other
// than a timeout or a rate limit), so that sending it again is pointless,
// rather than failing for the moment.
func (e *PeerError) Refused() bool {
	switch e.Status {
	case http.StatusRequestTimeout, http.StatusTooEarly, http.StatusTooManyRequests:
		return false
	}
	return e.Status/100 == 4
}
