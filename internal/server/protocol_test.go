package server_test

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/internal/fedapi"
	"github.com/hotline-net/hotline/internal/server"
	"github.com/hotline-net/hotline/internal/sim"
)

// countingListener counts the bytes the server reads from each
// connection, by the connection's remote address (the client's local one).
type countingListener struct {
	net.Listener
	read *sync.Map // string → *atomic.Int64
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	n, _ := l.read.LoadOrStore(c.RemoteAddr().String(), new(atomic.Int64))
	return countingConn{Conn: c, read: n.(*atomic.Int64)}, nil
}

type countingConn struct {
	net.Conn
	read *atomic.Int64
}

func (c countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.read.Add(int64(n))
	return n, err
}

// TestForgedRequestBodiesNotRead (issue 16 finding 4): 32 POSTs that
// announce 8 MB bodies each, with signatures that cannot verify — by a key
// named BER that is not BER's, garbage of the right shape, no signature at
// all, BER's signature of a request to another node — are refused 401 before the node
// reads a byte of their bodies: it never answers "100 Continue", and reads
// no more than the requests' headers from the connections.
func TestForgedRequestBodiesNotRead(t *testing.T) {
	var read sync.Map
	cfg := sim.TestnetConfig{
		Parties: []string{"BER", "CRI"},
		Node: func(_ string, c *server.Config) {
			c.HeartbeatInterval = server.Duration(time.Hour)
			c.RateLimit = server.RateLimitConfig{PerSecond: -1}
		},
	}
	tn := newTestNetWith(t, cfg, []string{"CRI"}, func(_ string, o *server.Options) {
		o.Listener = countingListener{Listener: o.Listener, read: &read}
	})
	s := tn.Servers["CRI"]
	addr := strings.TrimPrefix(s.URL(), "http://")
	ber := keysOf(t, tn, "BER")
	forger, err := hotline.GenerateSigningKey("BER", false)
	if err != nil {
		t.Fatal(err)
	}
	const size = 8 << 20
	body := bytes.Repeat([]byte("A"), size)
	// headers returns the signature headers of a POST of body, as signed
	// by key (none when key is nil), then changed by change.
	headers := func(key *hotline.SigningKey, change func(http.Header)) http.Header {
		req, _ := http.NewRequest(http.MethodPost, s.URL()+"/v1/envelopes", bytes.NewReader(body))
		if key != nil {
			if err := fedapi.SignRequest(req, body, "CRI", key, time.Now()); err != nil {
				t.Fatal(err)
			}
		}
		if change != nil {
			change(req.Header)
		}
		return req.Header
	}
	kinds := []struct {
		name string
		h    http.Header
	}{
		{"another key named BER", headers(forger, nil)},
		{"garbage signature", headers(ber.Message, func(h http.Header) {
			h.Set(fedapi.HeaderSignature, base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 68)))
		})},
		{"no signature", headers(nil, nil)},
		{"BER's signature for another node", func() http.Header {
			req, _ := http.NewRequest(http.MethodPost, s.URL()+"/v1/envelopes", bytes.NewReader(body))
			if err := fedapi.SignRequest(req, body, "DOR", ber.Message, time.Now()); err != nil {
				t.Fatal(err)
			}
			return req.Header
		}()},
	}
	var headerBytes atomic.Int64
	var clients sync.Map // the test's connections, by local address
	var wg sync.WaitGroup
	for i := range 32 {
		k := kinds[i%len(kinds)]
		wg.Go(func() {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Error(err)
				return
			}
			defer conn.Close()
			clients.Store(conn.LocalAddr().String(), true)
			conn.SetDeadline(time.Now().Add(time.Minute))
			var req bytes.Buffer
			fmt.Fprintf(&req, "POST /v1/envelopes HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\nExpect: 100-continue\r\nContent-Type: application/octet-stream\r\n", addr, size)
			for name, vs := range k.h {
				if name == "Content-Length" {
					continue
				}
				for _, v := range vs {
					fmt.Fprintf(&req, "%s: %s\r\n", name, v)
				}
			}
			req.WriteString("\r\n")
			headerBytes.Add(int64(req.Len()))
			if _, err := conn.Write(req.Bytes()); err != nil {
				t.Error(err)
				return
			}
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Errorf("%s: reading the answer: %v", k.name, err)
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusContinue {
				t.Errorf("%s: the node asked for the body (100 Continue) of a request it had not authenticated", k.name)
				return
			}
			var ref fedapi.Refusal
			json.Unmarshal(b, &ref)
			if resp.StatusCode != http.StatusUnauthorized || ref.Code != "unauthenticated" {
				t.Errorf("%s: %s %s, want 401 unauthenticated", k.name, resp.Status, b)
			}
		})
	}
	wg.Wait()
	var got int64
	clients.Range(func(a, _ any) bool {
		if n, ok := read.Load(a); ok {
			got += n.(*atomic.Int64).Load()
		}
		return true
	})
	if max := headerBytes.Load(); got > max {
		t.Errorf("the node read %d bytes from the connections, more than the %d bytes of the requests' headers", got, max)
	}
}
