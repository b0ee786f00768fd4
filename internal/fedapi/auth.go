package fedapi

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/hotline-net/hotline"
)

// The HTTP headers that carry a hotline-request/v1 signature. The signed
// text is never sent: the receiver rebuilds it from the request it got.
const (
	HeaderFrom      = "Hotline-From"
	HeaderTime      = "Hotline-Time"
	HeaderSignature = "Hotline-Signature"
)

// MaxSkew is how far a signed request's time may be from the receiver's
// clock, either way.
const MaxSkew = 5 * time.Minute

// Refusals of request authentication.
var (
	// ErrUnauthenticated: the request carries no valid hotline-request/v1
	// signature.
	ErrUnauthenticated = hotline.NewError("unauthenticated", "request not authenticated")
	// ErrStaleRequest: the signed time is more than MaxSkew away.
	ErrStaleRequest = hotline.NewError("stale_request", "request time out of range")
)

// SignRequest adds the headers that authenticate req, whose body is body,
// as sent by signer's party to party to.
func SignRequest(req *http.Request, body []byte, to string, signer *hotline.SigningKey, now time.Time) error {
	st := &hotline.Request{
		From:     signer.Name(),
		To:       to,
		Time:     now,
		Method:   req.Method,
		Path:     req.URL.RequestURI(),
		BodyHash: sha256.Sum256(body),
	}
	signed, err := hotline.Sign(st, signer)
	if err != nil {
		return err
	}
	// The signed note ends with its one signature line, "— <name> <sig>\n";
	// only <sig> travels.
	line := strings.TrimSuffix(string(signed[len(st.Text())+1:]), "\n")
	sig := line[strings.LastIndexByte(line, ' ')+1:]
	req.Header.Set(HeaderFrom, st.From)
	req.Header.Set(HeaderTime, hotline.FormatTime(now))
	req.Header.Set(HeaderSignature, sig)
	return nil
}

// KeyLookup returns the message key a party's requests must be signed with
// at time t, or a refusal (unknown_sender, key_not_valid).
type KeyLookup func(party string, t time.Time) (note.Verifier, error)

// Authenticate checks the hotline-request/v1 signature of r, whose body
// (already read) is body, addressed to party self, and returns the sending
// party.
func Authenticate(r *http.Request, body []byte, self string, keys KeyLookup, now time.Time) (string, error) {
	from, t, sig, key, err := checkHeaders(r, keys, now)
	if err != nil {
		return "", err
	}
	// The target as received (PROTOCOL §11.1), not Go's re-encoding of
	// the parsed URL, which may differ from what the sender signed. A
	// request built in-process (RequestURI empty) falls back to its URL.
	target := r.RequestURI
	if target == "" {
		target = r.URL.RequestURI()
	}
	st := &hotline.Request{
		From:     from,
		To:       self,
		Time:     t,
		Method:   r.Method,
		Path:     target,
		BodyHash: sha256.Sum256(body),
	}
	var msg bytes.Buffer
	msg.Write(st.Text())
	msg.WriteString("\n— " + from + " " + sig + "\n")
	if _, err := hotline.OpenRequest(msg.Bytes(), key); err != nil {
		var he *hotline.Error
		if errors.As(err, &he) && he.Code == hotline.ErrMalformed.Code {
			return "", hotline.Errorf(ErrUnauthenticated, "request cannot be authenticated: %v", err)
		}
		return "", hotline.Errorf(ErrUnauthenticated, "request signature by %s does not verify", from)
	}
	return from, nil
}

// checkHeaders checks everything of a request's signature that does not
// need its body: the headers are there and well-formed, the time is within
// MaxSkew, the sender is a party with a valid message key. The peer API
// calls it before reading a body, so that a request that cannot be signed
// costs the node no body.
func checkHeaders(r *http.Request, keys KeyLookup, now time.Time) (from string, t time.Time, sig string, key note.Verifier, err error) {
	from = r.Header.Get(HeaderFrom)
	ts := r.Header.Get(HeaderTime)
	sig = r.Header.Get(HeaderSignature)
	if from == "" || ts == "" || sig == "" {
		return "", t, "", nil, hotline.Errorf(ErrUnauthenticated, "missing %s, %s or %s header", HeaderFrom, HeaderTime, HeaderSignature)
	}
	if err := hotline.CheckPartyID(from); err != nil {
		return "", t, "", nil, hotline.Errorf(ErrUnauthenticated, "%s: %v", HeaderFrom, err)
	}
	t, err = time.Parse(hotline.TimeLayout, ts)
	if err != nil {
		return "", t, "", nil, hotline.Errorf(ErrUnauthenticated, "%s: not a time like 2006-01-02T15:04:05Z", HeaderTime)
	}
	if d := now.Sub(t); d > MaxSkew || d < -MaxSkew {
		return "", t, "", nil, hotline.Errorf(ErrStaleRequest, "request signed at %s, %v from this node's clock (at most %v)", ts, d.Round(time.Second), MaxSkew)
	}
	if raw, err := base64.StdEncoding.Strict().DecodeString(sig); err != nil || len(raw) != 68 {
		return "", t, "", nil, hotline.Errorf(ErrUnauthenticated, "%s: not base64 of a key hash and an Ed25519 signature", HeaderSignature)
	}
	key, err = keys(from, now)
	if err != nil {
		return "", t, "", nil, err
	}
	return from, t, sig, key, nil
}
