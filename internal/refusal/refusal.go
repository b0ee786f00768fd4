// Package refusal owns a node's refusals on the wire: the stable code of
// any error ([Code]), and the HTTP answer for it ([Write]), the same way
// for the peer API and the operator API — a JSON object with the refusal's
// stable code and its message, and the status the API chooses for the
// code. An error that is not a refusal reaches the caller as "internal
// error" with a request id; the details go to the node's log only.
package refusal

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/internal/store"
)

// Internal is the code of an error that is not a refusal.
const Internal = "internal"

// The codes of the store's sentinels ([store.ErrNotFound] and the
// others), so that a store's answer that reaches an API is a refusal with
// a status of its own, not an internal error by accident.
var (
	// ErrNotFound: the store has no such row.
	ErrNotFound = hotline.NewError("not_found", "not found")
	// ErrConflict: the request contradicts what is stored.
	ErrConflict = hotline.NewError("conflict", "conflicts with what is stored")
	// ErrInvalid: the store cannot carry out the request as asked (a
	// cursor it did not issue, a value out of range).
	ErrInvalid = hotline.NewError("invalid_request", "invalid request")
	// ErrUnavailable: the store is closed (the node is shutting down).
	ErrUnavailable = hotline.NewError("unavailable", "the node is shutting down")
	// ErrStorageFull: the node's storage cannot take writes now (its disk
	// is full); nothing was written. Reads are still served, and the
	// same request succeeds once the node can write again: both APIs
	// answer 503 with Retry-After ([StorageFullRetryAfter]).
	ErrStorageFull = hotline.NewError("storage_full", "the node's storage is full: retry later")
)

// StorageFullRetryAfter is the Retry-After of a storage_full refusal. A
// full disk is freed by an operator, or by whatever filled it, in
// minutes rather than seconds; meanwhile each envelope a peer sends again
// costs this node its verification and decryption before the write
// fails. Half a minute keeps that cost low and still takes the backlog
// soon after the disk has room. (hotline's own outbox retries with its
// exponential backoff, 1 s doubling to 5 min, whatever Retry-After says.)
const StorageFullRetryAfter = 30 * time.Second

// storeCodes maps each store sentinel to its refusal, in the order Code
// tries them.
var storeCodes = []struct {
	sentinel error
	refusal  *hotline.Error
}{
	{store.ErrStorageFull, ErrStorageFull},
	{store.ErrNotFound, ErrNotFound},
	{store.ErrConflict, ErrConflict},
	{store.ErrInvalid, ErrInvalid},
	{store.ErrClosed, ErrUnavailable},
}

// Code returns the stable code of a refusal from any layer (protocol,
// agreement and templates share [hotline.Error]; a peer's refusal carries
// its own through an ErrorCode method; the store's sentinels have theirs,
// [ErrNotFound] and the others), or [Internal] for an error that is not a
// refusal.
func Code(err error) string {
	if c := hotline.ErrorCode(err); c != "" {
		return c
	}
	var e interface{ ErrorCode() string }
	if errors.As(err, &e) {
		return e.ErrorCode()
	}
	for _, sc := range storeCodes {
		if errors.Is(err, sc.sentinel) {
			return sc.refusal.Code
		}
	}
	return Internal
}

// Statuses is one API's map from refusal codes to HTTP statuses, built
// from the refusals themselves (see [NewStatuses]). A code it lacks is an
// internal error: 500.
type Statuses map[string]int

// NewStatuses returns the map in which each refusal of each group has the
// group's status. A code given two different statuses is a mistake in
// the table, and panics at start-up.
func NewStatuses(groups map[int][]*hotline.Error) Statuses {
	m := Statuses{}
	for status, errs := range groups {
		for _, e := range errs {
			if old, ok := m[e.Code]; ok && old != status {
				panic("refusal: code " + e.Code + " given two statuses")
			}
			m[e.Code] = status
		}
	}
	return m
}

// Status returns the status for code: 500 for a code the map lacks.
func (s Statuses) Status(code string) int {
	if st, ok := s[code]; ok {
		return st
	}
	return http.StatusInternalServerError
}

// Refusal is the JSON body of every refused request.
type Refusal struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Request string `json:"request,omitempty"` // the request id of an internal error
	// Statement is the refusing node's signed hotline-refusal/v1, when it
	// signs this refusal (base64 in JSON).
	Statement []byte `json:"statement,omitempty"`
}

// Write answers r with err as a refusal. status maps the refusal's code to
// the HTTP status (each API has its own mapping); what names the API in
// the log line of an internal error.
func Write(w http.ResponseWriter, r *http.Request, err error, status func(code string) int, logger *slog.Logger, what string) {
	code := Code(err)
	ref := Refusal{Code: code, Message: err.Error()}
	var signed interface{ RefusalStatement() []byte }
	if errors.As(err, &signed) {
		ref.Statement = signed.RefusalStatement()
	}
	st := status(code)
	if code == ErrStorageFull.Code {
		w.Header().Set("Retry-After", strconv.Itoa(int(StorageFullRetryAfter/time.Second)))
	}
	if st == http.StatusInternalServerError {
		var id [8]byte
		rand.Read(id[:])
		ref.Request = hex.EncodeToString(id[:])
		ref.Message = "internal error"
		logger.Error(what+" request failed", "request", ref.Request, "method", r.Method, "path", r.URL.Path, "err", err)
	}
	b, _ := json.Marshal(ref)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(st)
	w.Write(append(b, '\n'))
}
