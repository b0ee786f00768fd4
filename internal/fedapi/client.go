package fedapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/internal/node"
	"github.com/hotline-net/hotline/internal/relay"
)

// Client calls other nodes' peer APIs, signing every request with this
// party's message key. It is safe for concurrent use.
type Client struct {
	// Key is this party's message key; its name is the party id.
	Key *hotline.SigningKey
	// HTTP sends the requests. Nil means a client on [NewTransport]
	// with room for ConnsPerPeer connections to each peer, and a 2 min
	// timeout per request (callers bound attempts with their context).
	HTTP *http.Client
	// ConnsPerPeer is how many connections to one peer are kept open for
	// reuse: at least the deliveries that run at once. Zero means 64.
	ConnsPerPeer int
	// Now tells the time for signatures. Nil means time.Now.
	Now func() time.Time
	// Protocols returns the protocol versions a party's node speaks (its
	// directory entry's); the client signs a request to it in the highest
	// version both speak. Nil, or nil for a party, means version 2.
	Protocols func(party string) []uint64

	once sync.Once
	def  *http.Client
}

// maxResponse bounds what a peer may answer.
const maxResponse = 1 << 20

// NewTransport returns the transport for node-to-node requests: up to
// perPeer idle connections kept to each peer (http.DefaultTransport keeps
// 2, so 16 delivery workers kept opening connections and TLS sessions), and
// timeouts on every phase a silent peer could hold: dialling, the TLS
// handshake, the answer's headers.
func NewTransport(perPeer int) *http.Transport {
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           d.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          0, // no bound across peers; each has its own
		MaxIdleConnsPerHost:   perPeer,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: time.Minute, // a receipt takes a store and a log append
		ExpectContinueTimeout: time.Second,
	}
}

// Sign signs req, whose body is body, for party to, in the highest
// protocol version both this node and to speak.
func (c *Client) Sign(req *http.Request, body []byte, to string) error {
	if c.Protocols != nil {
		switch ps := c.Protocols(to); {
		case ps == nil: // unknown: the current version
		case slices.Contains(ps, 2):
		case slices.Contains(ps, 1):
			return SignRequestV1(req, body, to, c.Key, c.now())
		default:
			return hotline.Errorf(ErrUnsupportedVersion, "%s speaks protocol versions %v, none of this node's (1, 2)", to, ps)
		}
	}
	return SignRequest(req, body, to, c.Key, c.now())
}

// CloseIdleConnections closes the client's idle keep-alive connections.
func (c *Client) CloseIdleConnections() { c.httpClient().CloseIdleConnections() }

func (c *Client) httpClient() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	c.once.Do(func() {
		n := c.ConnsPerPeer
		if n <= 0 {
			n = 64
		}
		c.def = &http.Client{Transport: NewTransport(n), Timeout: 2 * time.Minute}
	})
	return c.def
}

func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// Do sends a signed request to party to at base (the party's endpoint, a
// base URL) and returns the response body of a 2xx answer, or a
// [*PeerError] for a refusal.
func (c *Client) Do(ctx context.Context, to, base, method, path string, body []byte) ([]byte, error) {
	return c.do(ctx, to, base, method, path, body, maxResponse)
}

// do is Do taking answers up to limit bytes.
func (c *Client) do(ctx context.Context, to, base, method, path string, body []byte, limit int64) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(base, "/")+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if err := c.Sign(req, body, to); err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/octet-stream")
	}
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading answer of %s: %w", base, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("answer of %s over %d bytes", base, limit)
	}
	if resp.StatusCode/100 != 2 {
		pe := &PeerError{Status: resp.StatusCode, Code: "http_" + fmt.Sprint(resp.StatusCode), Message: http.StatusText(resp.StatusCode)}
		var ref Refusal
		if json.Unmarshal(b, &ref) == nil && ref.Code != "" {
			pe.Code, pe.Message, pe.Statement = ref.Code, ref.Message, ref.Statement
		}
		return nil, pe
	}
	return b, nil
}

// Redeliver asks party to at base for the envelopes it sent this party and
// holds this party's receipts for (body: a node.RedeliverRequest) and
// returns the node.RedeliverPage it answered.
func (c *Client) Redeliver(ctx context.Context, to, base string, body []byte) ([]byte, error) {
	return c.do(ctx, to, base, http.MethodPost, "/v1/redeliver", body, node.RedeliverMaxAnswer)
}

// PostEnvelope delivers a recipient's view to party to at base and returns
// the receipt it answered with (unverified: the caller verifies it).
func (c *Client) PostEnvelope(ctx context.Context, to, base string, view []byte) ([]byte, error) {
	return c.Do(ctx, to, base, http.MethodPost, "/v1/envelopes", view)
}

// PostHeartbeat sends a heartbeat note to party to at base and returns the
// peer's heartbeat in answer (unverified: the caller verifies it).
func (c *Client) PostHeartbeat(ctx context.Context, to, base string, note []byte) ([]byte, error) {
	return c.Do(ctx, to, base, http.MethodPost, "/v1/heartbeats", note)
}

// PostRelay leaves a recipient's view with relay at base and returns the
// relay's answer (JSON: the relay receipt, and the recipient's receipt once
// handed on).
func (c *Client) PostRelay(ctx context.Context, relay, base string, view []byte) ([]byte, error) {
	return c.Do(ctx, relay, base, http.MethodPost, "/v1/relay/envelopes", view)
}

// PullRelay asks relay at base for the views it holds for this party after
// cursor (JSON). It takes answers up to [relay.MaxPageAnswer], the most a
// relay's page can be.
func (c *Client) PullRelay(ctx context.Context, relayParty, base, cursor string) ([]byte, error) {
	path := "/v1/relay/envelopes"
	if cursor != "" {
		path += "?after=" + url.QueryEscape(cursor)
	}
	return c.do(ctx, relayParty, base, http.MethodGet, path, nil, relay.MaxPageAnswer)
}

// PostHanded returns to relay at base this party's receipt for a view it
// pulled.
func (c *Client) PostHanded(ctx context.Context, relay, base string, body []byte) error {
	_, err := c.Do(ctx, relay, base, http.MethodPost, "/v1/relay/handed", body)
	return err
}
