// Package opapi is the operator REST API of a hotline node, under /api/v1/:
// what the CLI, the web UI and a CERT's own tools use to send messages and
// read the inbox.
//
// # Endpoints
//
//	GET  /api/v1/status                  the node: party, agreement, log, counts
//	POST /api/v1/messages                send a message            → {"id": ...}
//	GET  /api/v1/messages                list messages (?direction=received|sent&party=&kind=&thread=&cursor=&limit=)
//	GET  /api/v1/messages/{id}           one message with its body and deliveries
//	POST /api/v1/messages/{id}/reply     acknowledge or respond    → {"id": ...}
//	GET  /api/v1/obligations             obligations and their events (?direction=received|sent&state=due|<state>&party=)
//	GET  /api/v1/threads/{id}            a thread: its state, messages and obligations
//	GET  /api/v1/compliance              the compliance report (?party=&since=&until=; officer, auditor)
//	GET  /api/v1/peers[?probe=1]         each peer's channel health and sequence gaps (probed first)
//	GET  /api/v1/equivocations           proofs that a log showed two histories
//
// # Authentication
//
// Every request carries "Authorization: Bearer <token>". A token has a role;
// each endpoint names the roles it admits (officer, approver, auditor,
// admin). The node folder's admin token has the admin role, which admits
// everything.
//
// # Errors
//
// A refusal is a JSON object {"code": "...", "message": "..."} with the
// status [Status] chooses for its code: the one place where this API maps
// codes to statuses, a table of the refusals of this API and the node
// (status.go), which a test holds to every code they declare. Internal
// errors reach the caller as "internal" with a request id; the details
// stay in the node's log.
package opapi

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/internal/gossip"
	"github.com/hotline-net/hotline/internal/node"
	"github.com/hotline-net/hotline/internal/refusal"
)

// Role is what a token may do.
type Role string

// The roles of docs/DESIGN.md §12.
const (
	Officer  Role = "officer"  // reads and sends messages
	Approver Role = "approver" // approves four-eyes messages
	Auditor  Role = "auditor"  // reads everything, sends nothing
	Admin    Role = "admin"    // everything
)

// Refusals of the operator API.
var (
	ErrUnauthorized = hotline.NewError("unauthorized", "missing or unknown token")
	ErrForbidden    = hotline.NewError("forbidden", "role not allowed")
	ErrBadRequest   = hotline.NewError("bad_request", "bad request")
)

// Config configures the operator API. Node and Tokens are required.
type Config struct {
	Node *node.Node
	// Tokens maps each bearer token to its role.
	Tokens map[string]Role
	// MaxBody bounds a request body. Zero means 17 MiB.
	MaxBody int64
	// Peers reports the channels to peers; nil serves no /peers.
	Peers PeerReporter
	// Watch lists what the node's watch acted on; nil serves no
	// /escalations.
	Watch Watch
}

// PeerReporter reports the health of the channels to every peer, and
// probes them on demand.
type PeerReporter interface {
	Peers(ctx context.Context) ([]gossip.PeerStatus, error)
	// Probe exchanges heartbeats with every peer now, each bounded by
	// timeout, and records what it finds.
	Probe(ctx context.Context, timeout time.Duration)
}

type api struct {
	peers   PeerReporter
	watch   Watch
	node    *node.Node
	tokens  map[string]Role
	maxBody int64
	logger  *slog.Logger
}

// Handler returns the operator API, serving absolute paths under /api/v1/.
func Handler(cfg Config) http.Handler {
	a := &api{node: cfg.Node, tokens: cfg.Tokens, maxBody: cfg.MaxBody, logger: cfg.Node.Logger(), peers: cfg.Peers, watch: cfg.Watch}
	if a.maxBody <= 0 {
		a.maxBody = 17 << 20
	}
	read := []Role{Officer, Approver, Auditor, Admin}
	write := []Role{Officer, Admin}
	mux := http.NewServeMux()
	mux.Handle("GET /api/v1/status", a.handle(read, a.settled(a.status)))
	mux.Handle("POST /api/v1/messages", a.handle(write, a.send))
	mux.Handle("GET /api/v1/messages", a.handle(read, a.settled(a.list)))
	mux.Handle("GET /api/v1/messages/{id}", a.handle(read, a.settled(a.withObligations(a.show))))
	mux.Handle("POST /api/v1/messages/{id}/reply", a.handle(write, a.reply))
	mux.Handle("GET /api/v1/equivocations", a.handle(read, a.equivocations))
	mux.Handle("GET /api/v1/obligations", a.handle(read, a.settled(a.obligationsList)))
	mux.Handle("GET /api/v1/threads/{id}", a.handle(read, a.settled(a.thread)))
	mux.Handle("GET /api/v1/compliance", a.handle([]Role{Officer, Auditor, Admin}, a.settled(a.compliance)))
	if a.peers != nil {
		mux.Handle("GET /api/v1/peers", a.handle(read, a.listPeers))
	}
	if a.watch != nil {
		mux.Handle("GET /api/v1/escalations", a.handle(read, a.escalations))
	}
	mux.Handle("/api/v1/", a.handle(read, func(*http.Request) (any, error) {
		return nil, hotline.Errorf(node.ErrNotFound, "no such endpoint")
	}))
	return mux
}

// settled runs fn once the receipts the node has answered with are
// recorded (node.Settle), so that what it reads of the store lists every
// envelope a sender holds a receipt for.
func (a *api) settled(fn func(*http.Request) (any, error)) func(*http.Request) (any, error) {
	return func(r *http.Request) (any, error) {
		if err := a.node.Settle(r.Context()); err != nil {
			return nil, err
		}
		return fn(r)
	}
}

// handle checks the token's role, bounds the body, calls fn and writes its
// value as JSON, or the refusal: the only place that writes a response.
func (a *api) handle(roles []Role, fn func(r *http.Request) (any, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		role, ok := a.role(r)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="hotline"`)
			a.writeError(w, r, hotline.Errorf(ErrUnauthorized, "a valid bearer token is required"))
			return
		}
		allowed := false
		for _, x := range roles {
			allowed = allowed || x == role
		}
		if !allowed {
			a.writeError(w, r, hotline.Errorf(ErrForbidden, "the %s role may not %s %s", role, r.Method, r.URL.Path))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, a.maxBody)
		v, err := fn(r)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(v)
	})
}

func (a *api) role(r *http.Request) (Role, bool) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || tok == "" {
		return "", false
	}
	// Compare against every token in constant time, so that timing does
	// not reveal how much of a token matched.
	var found Role
	for t, role := range a.tokens {
		if subtle.ConstantTimeCompare([]byte(t), []byte(tok)) == 1 {
			found = role
		}
	}
	return found, found != ""
}

// Refusal is the JSON body of every refused request.
type Refusal = refusal.Refusal

func (a *api) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		err = hotline.Errorf(ErrBadRequest, "request body over %d bytes", mbe.Limit)
	}
	refusal.Write(w, r, err, Status, a.logger, "operator")
}
