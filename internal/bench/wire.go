package bench

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"
)

// The load generator shares the machine with the node it measures, so it
// should take as little of the cores as it can. Through net/http's
// Transport, a request costs the client about 60 µs of CPU (a request
// object, a connection pool, and two goroutines per connection handing the
// request and the answer over channels) — a tenth of the node's time per
// message, taken from the same two cores. A wire instead writes each
// request, serialized by net/http before the clock starts, on its sender's
// own keep-alive connection, and reads the answer with http.ReadResponse.

// wire is one sender's connection to the node.
type wire struct {
	addr    string
	host    string
	tls     *tls.Config // nil for http
	timeout time.Duration

	conn net.Conn
	br   *bufio.Reader
	used bool // conn carried a request before
}

// newWire returns a wire to the node at base ("http://host:port" or
// "https://…"), or nil if base is not such a URL (the bench then uses an
// http.Client).
func newWire(base string, tc *tls.Config, timeout time.Duration) *wire {
	u, err := url.Parse(base)
	if err != nil || u.Host == "" || (u.Path != "" && u.Path != "/") || u.User != nil {
		return nil
	}
	w := &wire{host: u.Host, timeout: timeout}
	switch u.Scheme {
	case "http":
		w.addr = hostWithPort(u, "80")
	case "https":
		w.addr = hostWithPort(u, "443")
		w.tls = &tls.Config{}
		if tc != nil {
			w.tls = tc.Clone()
		}
		if w.tls.ServerName == "" {
			w.tls.ServerName = u.Hostname()
		}
	default:
		return nil
	}
	return w
}

func hostWithPort(u *url.URL, port string) string {
	if u.Port() != "" {
		return u.Host
	}
	return net.JoinHostPort(u.Hostname(), port)
}

// request serializes the POST of e's view, with its signature headers, as
// net/http would send it.
func (w *wire) request(e *envelope) ([]byte, error) {
	req, err := http.NewRequest(http.MethodPost, "http://"+w.host+"/v1/envelopes", bytes.NewReader(e.view))
	if err != nil {
		return nil, err
	}
	setHeaders(req, e)
	var b bytes.Buffer
	if err := req.Write(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func setHeaders(req *http.Request, e *envelope) {
	for h, v := range e.headers {
		req.Header[h] = v
	}
	req.Header.Set("Content-Type", "application/octet-stream")
}

// roundTrip writes req and reads the answer. A kept-alive connection the
// node closed meanwhile is dialled again once: posting an envelope twice
// is harmless (the node answers the same receipt).
func (w *wire) roundTrip(ctx context.Context, req []byte) (int, []byte, error) {
	for try := 0; ; try++ {
		reused := w.used
		status, body, err := w.try(ctx, req)
		if err == nil {
			return status, body, nil
		}
		w.close()
		if !reused || try > 0 || ctx.Err() != nil {
			return 0, nil, err
		}
	}
}

func (w *wire) try(ctx context.Context, req []byte) (int, []byte, error) {
	if w.conn == nil {
		d := net.Dialer{Timeout: w.timeout}
		var c net.Conn
		var err error
		if w.tls != nil {
			c, err = (&tls.Dialer{NetDialer: &d, Config: w.tls}).DialContext(ctx, "tcp", w.addr)
		} else {
			c, err = d.DialContext(ctx, "tcp", w.addr)
		}
		if err != nil {
			return 0, nil, err
		}
		w.conn, w.br, w.used = c, bufio.NewReader(c), false
	}
	stop := context.AfterFunc(ctx, func() { w.conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	w.conn.SetDeadline(time.Now().Add(w.timeout))
	w.used = true
	if _, err := w.conn.Write(req); err != nil {
		return 0, nil, err
	}
	resp, err := http.ReadResponse(w.br, nil)
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return 0, nil, fmt.Errorf("reading the answer: %w", err)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	resp.Body.Close()
	if err != nil {
		return 0, nil, fmt.Errorf("reading the answer: %w", err)
	}
	if resp.Close || len(b) > maxAnswer {
		w.close()
	}
	return resp.StatusCode, b, nil
}

func (w *wire) close() {
	if w.conn != nil {
		w.conn.Close()
		w.conn, w.br = nil, nil
	}
}
