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

// The HTTP headers that carry a hotline-request/v2 signature. The signed
// text is never sent: the receiver rebuilds it from the request's method,
// target, Content-Length and these headers, so it can check the signature
// before it reads the body.
const (
	HeaderVersion   = "Hotline-Version"
	HeaderFrom      = "Hotline-From"
	HeaderTime      = "Hotline-Time"
	HeaderBody      = "Hotline-Body"
	HeaderSignature = "Hotline-Signature"
)

// ProtocolVersion is the version of the peer protocol whose requests carry
// a Hotline-Version header (this value). A request without one is of
// version 1.
const ProtocolVersion = "2"

// MaxSkew is how far a signed request's time may be from the receiver's
// clock, either way.
const MaxSkew = 5 * time.Minute

// Refusals of request authentication.
var (
	// ErrUnauthenticated: the request carries no valid hotline-request/v2
	// signature, or its body is not the one signed.
	ErrUnauthenticated = hotline.NewError("unauthenticated", "request not authenticated")
	// ErrStaleRequest: the signed time is more than MaxSkew away.
	ErrStaleRequest = hotline.NewError("stale_request", "request time out of range")
	// ErrUnsupportedVersion: the request is of a protocol version this
	// node does not speak (a request without Hotline-Version is of
	// version 1).
	ErrUnsupportedVersion = hotline.NewError("unsupported_version", "protocol version not supported")
)

// SignRequest adds the headers that authenticate req, whose body is body,
// as sent by signer's party to party to. It sets req's ContentLength to
// the body's length, which the signature covers.
func SignRequest(req *http.Request, body []byte, to string, signer *hotline.SigningKey, now time.Time) error {
	st := &hotline.Request{
		From:     signer.Name(),
		To:       to,
		Time:     now,
		Method:   req.Method,
		Path:     req.URL.RequestURI(),
		Length:   uint64(len(body)),
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
	req.ContentLength = int64(len(body))
	req.Header.Set(HeaderVersion, ProtocolVersion)
	req.Header.Set(HeaderFrom, st.From)
	req.Header.Set(HeaderTime, hotline.FormatTime(now))
	req.Header.Set(HeaderBody, base64.StdEncoding.EncodeToString(st.BodyHash[:]))
	req.Header.Set(HeaderSignature, sig)
	return nil
}

// SignRequestV1 adds the headers of a version 1 request (hotline-request/v1,
// no Hotline-Version or Hotline-Body: the receiver hashes the body it
// reads). A node sends one only to a party whose directory entry does not
// list protocol 2.
func SignRequestV1(req *http.Request, body []byte, to string, signer *hotline.SigningKey, now time.Time) error {
	st := &hotline.Request{V1: true, From: signer.Name(), To: to, Time: now, Method: req.Method,
		Path: req.URL.RequestURI(), BodyHash: sha256.Sum256(body)}
	signed, err := hotline.Sign(st, signer)
	if err != nil {
		return err
	}
	line := strings.TrimSuffix(string(signed[len(st.Text())+1:]), "\n")
	req.ContentLength = int64(len(body))
	req.Header.Set(HeaderFrom, st.From)
	req.Header.Set(HeaderTime, hotline.FormatTime(now))
	req.Header.Set(HeaderSignature, line[strings.LastIndexByte(line, ' ')+1:])
	return nil
}

// RequestVersion returns the protocol version of r: 2 with Hotline-Version
// 2, 1 without one but with a signature (a version 1 node's request), 2
// without either (refused as unauthenticated), and unsupported_version for
// any other Hotline-Version.
func RequestVersion(r *http.Request) (int, error) {
	switch v := r.Header.Get(HeaderVersion); {
	case v == ProtocolVersion:
		return 2, nil
	case v == "" && r.Header.Get(HeaderSignature) != "":
		return 1, nil
	case v == "":
		return 2, nil
	default:
		return 0, hotline.Errorf(ErrUnsupportedVersion, "request of protocol version %.16q; this node speaks 1 and 2", v)
	}
}

// AuthenticateV1 checks the hotline-request/v1 signature of r, whose body
// (already read) is body, addressed to party self, and returns the sending
// party. Its caller has checked that the sender's directory entry does not
// list protocol 2: a version 1 request costs the receiver its body before
// the signature can be checked.
func AuthenticateV1(r *http.Request, body []byte, self string, keys KeyLookup, now time.Time) (string, error) {
	from, t, sig, key, err := checkHeaders(r, keys, now, false)
	if err != nil {
		return "", err
	}
	target := r.RequestURI
	if target == "" {
		target = r.URL.RequestURI()
	}
	st := &hotline.Request{V1: true, From: from, To: self, Time: t, Method: r.Method, Path: target, BodyHash: sha256.Sum256(body)}
	var msg bytes.Buffer
	msg.Write(st.Text())
	msg.WriteString("\n— " + from + " " + sig + "\n")
	if _, err := hotline.OpenRequest(msg.Bytes(), key); err != nil {
		return "", hotline.Errorf(ErrUnauthenticated, "version 1 request signature by %s does not verify", from)
	}
	return from, nil
}

// KeyLookup returns the message key a party's requests must be signed with
// at time t, or a refusal (unknown_sender, key_not_valid).
type KeyLookup func(party string, t time.Time) (note.Verifier, error)

// Signed is an authenticated request's signed statement: who sent it, and
// the length and hash its body must have.
type Signed struct {
	*hotline.Request
}

// CheckBody checks that body is the one the request's signature covers.
func (s *Signed) CheckBody(body []byte) error {
	if uint64(len(body)) != s.Length {
		return hotline.Errorf(ErrUnauthenticated, "body of %d bytes, signed for %d", len(body), s.Length)
	}
	if sha256.Sum256(body) != s.BodyHash {
		return hotline.Errorf(ErrUnauthenticated, "body does not match the signed %s", HeaderBody)
	}
	return nil
}

// Authenticate checks the hotline-request/v2 signature of r, addressed to
// party self, from its headers alone: it reads nothing of the body. The
// caller then reads exactly the signed length (r.ContentLength) and checks
// it with [Signed.CheckBody].
func Authenticate(r *http.Request, self string, keys KeyLookup, now time.Time) (*Signed, error) {
	return authenticate(r, self, keys, now, false)
}

// authenticate is Authenticate; anyTime skips the check of the signed
// time, for the one use of a stale request: measuring the sender's clock
// from a heartbeat (PROTOCOL §11.3), which is refused all the same.
func authenticate(r *http.Request, self string, keys KeyLookup, now time.Time, anyTime bool) (*Signed, error) {
	if v, err := RequestVersion(r); err != nil {
		return nil, err
	} else if v != 2 {
		return nil, hotline.Errorf(ErrUnsupportedVersion, "a version 1 request from %.16q, whose directory entry says it speaks protocol 2, or who is no party", r.Header.Get(HeaderFrom))
	}
	from, t, sig, key, err := checkHeaders(r, keys, now, anyTime)
	if err != nil {
		return nil, err
	}
	hash, err := base64.StdEncoding.Strict().DecodeString(r.Header.Get(HeaderBody))
	if err != nil || len(hash) != sha256.Size {
		return nil, hotline.Errorf(ErrUnauthenticated, "%s: not base64 of a SHA-256 hash", HeaderBody)
	}
	// The signed length is the Content-Length: a body without one (chunked)
	// cannot be checked before it is read.
	if r.ContentLength < 0 {
		return nil, hotline.Errorf(ErrUnauthenticated, "request without a Content-Length")
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
		Length:   uint64(r.ContentLength),
		BodyHash: [32]byte(hash),
	}
	var msg bytes.Buffer
	msg.Write(st.Text())
	msg.WriteString("\n— " + from + " " + sig + "\n")
	got, err := hotline.OpenRequest(msg.Bytes(), key)
	if err != nil {
		var he *hotline.Error
		if errors.As(err, &he) && he.Code == hotline.ErrMalformed.Code {
			return nil, hotline.Errorf(ErrUnauthenticated, "request cannot be authenticated: %v", err)
		}
		return nil, hotline.Errorf(ErrUnauthenticated, "request signature by %s does not verify", from)
	}
	return &Signed{Request: got}, nil
}

// checkHeaders checks the signature headers that need no key: they are
// there and well-formed, the time is within MaxSkew; then looks up the
// sender's message key valid now. anyTime skips the time's check.
func checkHeaders(r *http.Request, keys KeyLookup, now time.Time, anyTime bool) (from string, t time.Time, sig string, key note.Verifier, err error) {
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
	if d := now.Sub(t); !anyTime && (d > MaxSkew || d < -MaxSkew) {
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
