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

	"github.com/hotline-net/hotline"
)

// Internal is the code of an error that is not a refusal.
const Internal = "internal"

// Code returns the stable code of a refusal from any layer (protocol,
// agreement and templates share [hotline.Error]; a peer's refusal carries
// its own through an ErrorCode method), or [Internal] for an error that is
// not a refusal.
func Code(err error) string {
	if c := hotline.ErrorCode(err); c != "" {
		return c
	}
	var e interface{ ErrorCode() string }
	if errors.As(err, &e) {
		return e.ErrorCode()
	}
	return Internal
}

// Refusal is the JSON body of every refused request.
type Refusal struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Request string `json:"request,omitempty"` // the request id of an internal error
}

// Write answers r with err as a refusal. status maps the refusal's code to
// the HTTP status (each API has its own mapping); what names the API in
// the log line of an internal error.
func Write(w http.ResponseWriter, r *http.Request, err error, status func(code string) int, logger *slog.Logger, what string) {
	code := Code(err)
	ref := Refusal{Code: code, Message: err.Error()}
	st := status(code)
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
