package refusal

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/internal/store"
)

type peerRefusal struct{ code string }

func (p *peerRefusal) Error() string     { return "peer refused: " + p.code }
func (p *peerRefusal) ErrorCode() string { return p.code }

func TestCode(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want string
	}{
		{hotline.Errorf(hotline.ErrBadSignature, "no"), "bad_signature"},
		{fmt.Errorf("delivering: %w", &peerRefusal{"rate_limited"}), "rate_limited"},
		{fmt.Errorf("reading: %w", store.ErrNotFound), "not_found"},
		{fmt.Errorf("writing: %w", store.ErrConflict), "conflict"},
		{fmt.Errorf("listing: %w", store.ErrInvalid), "invalid_request"},
		{fmt.Errorf("writing: %w", store.ErrClosed), "unavailable"},
		{fmt.Errorf("storing envelope: %w", fmt.Errorf("%w: committing: disk I/O", store.ErrStorageFull)), "storage_full"},
		// A refusal wrapping a store error keeps its own code.
		{fmt.Errorf("listing: %w", errors.Join(hotline.Errorf(hotline.ErrMalformed, "cursor"), store.ErrInvalid)), "malformed"},
		{errors.New("disk on fire"), Internal},
	} {
		if got := Code(tt.err); got != tt.want {
			t.Errorf("Code(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}

func TestNewStatusesRefusesTwoStatuses(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("a code given two statuses did not panic")
		}
	}()
	NewStatuses(map[int][]*hotline.Error{400: {hotline.ErrMalformed}, 422: {hotline.ErrMalformed}})
}

// TestWrite: a refusal is answered with its code, message and status; an
// internal error with "internal error" and a request id only.
func TestWrite(t *testing.T) {
	st := NewStatuses(map[int][]*hotline.Error{http.StatusForbidden: {hotline.ErrBadSignature}})
	for _, tt := range []struct {
		err    error
		status int
		code   string
		msg    string
	}{
		{hotline.Errorf(hotline.ErrBadSignature, "header signature does not verify"), 403, "bad_signature", "header signature does not verify"},
		{errors.New("secret detail"), 500, Internal, "internal error"},
	} {
		rec := httptest.NewRecorder()
		Write(rec, httptest.NewRequest("POST", "/v1/envelopes", nil), tt.err, st.Status, slog.New(slog.DiscardHandler), "peer")
		var ref Refusal
		if err := json.Unmarshal(rec.Body.Bytes(), &ref); err != nil {
			t.Fatal(err)
		}
		if rec.Code != tt.status || ref.Code != tt.code || ref.Message != tt.msg {
			t.Errorf("%v: %d %+v", tt.err, rec.Code, ref)
		}
		if (tt.status == 500) != (ref.Request != "") {
			t.Errorf("%v: request id %q", tt.err, ref.Request)
		}
	}
}

// TestWriteStorageFull: a write the storage could not take is answered
// 503 with Retry-After and the code storage_full, in the usual body; no
// other refusal carries Retry-After from here.
func TestWriteStorageFull(t *testing.T) {
	st := NewStatuses(map[int][]*hotline.Error{http.StatusServiceUnavailable: {ErrStorageFull}, http.StatusNotFound: {ErrNotFound}})
	rec := httptest.NewRecorder()
	err := fmt.Errorf("storing envelope: %w", fmt.Errorf("%w: beginning transaction: no space left on device", store.ErrStorageFull))
	Write(rec, httptest.NewRequest("POST", "/v1/envelopes", nil), err, st.Status, slog.New(slog.DiscardHandler), "peer")
	var ref Refusal
	if err := json.Unmarshal(rec.Body.Bytes(), &ref); err != nil {
		t.Fatal(err)
	}
	if rec.Code != http.StatusServiceUnavailable || ref.Code != "storage_full" || rec.Header().Get("Retry-After") != "30" {
		t.Errorf("%d %q Retry-After %q, want 503 storage_full 30", rec.Code, ref.Code, rec.Header().Get("Retry-After"))
	}
	rec = httptest.NewRecorder()
	Write(rec, httptest.NewRequest("GET", "/x", nil), store.ErrNotFound, st.Status, slog.New(slog.DiscardHandler), "peer")
	if rec.Header().Get("Retry-After") != "" {
		t.Errorf("not_found carries Retry-After %q", rec.Header().Get("Retry-After"))
	}
}
