package fedapi_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/internal/fedapi"
)

// TestAuthenticateTargetAsReceived (issue 18 finding 8): the signature
// covers the request target exactly as received (PROTOCOL §11.1), not Go's
// re-encoding of it: a target that re-encodes differently ("{" becomes
// "%7B") still authenticates, and a signature over the re-encoded target
// does not.
func TestAuthenticateTargetAsReceived(t *testing.T) {
	ks, err := hotline.GenerateKeySet("BER", "")
	if err != nil {
		t.Fatal(err)
	}
	v, err := ks.Message.Verifier()
	if err != nil {
		t.Fatal(err)
	}
	keys := func(string, time.Time) (note.Verifier, error) { return v, nil }
	now := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	body := []byte("hello")
	for _, tt := range []struct {
		name, signed string
		ok           bool
	}{
		{"signed as sent", "/v1/relay/envelopes{x}?after=a%2Fb", true},
		{"signed over the re-encoding", "/v1/relay/envelopes%7Bx%7D?after=a%2Fb", false},
		{"signed over another query", "/v1/relay/envelopes{x}?after=a/b", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out := &http.Request{Method: http.MethodPost, URL: &url.URL{Scheme: "http", Host: "cri.example", Opaque: tt.signed}, Header: http.Header{}}
			if err := fedapi.SignRequest(out, body, "CRI", ks.Message, now); err != nil {
				t.Fatal(err)
			}
			in := httptest.NewRequest(http.MethodPost, "/v1/relay/envelopes{x}?after=a%2Fb", bytes.NewReader(body))
			in.Header = out.Header
			signed, err := fedapi.Authenticate(in, "CRI", keys, now)
			if err == nil {
				err = signed.CheckBody(body)
			}
			if tt.ok && (err != nil || signed.From != "BER") {
				t.Errorf("Authenticate: %v, %v; want BER", signed, err)
			}
			if !tt.ok && err == nil {
				t.Error("a signature over another target authenticated")
			}
		})
	}
}
