package server_test

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/agreement"
	"github.com/hotline-net/hotline/internal/fedapi"
	"github.com/hotline-net/hotline/internal/poll"
	"github.com/hotline-net/hotline/internal/server"
	"github.com/hotline-net/hotline/internal/sim"
)

// TestRateLimit: a peer over its rate gets 429 with Retry-After; another
// peer is not affected.
func TestRateLimit(t *testing.T) {
	cfg := sim.TestnetConfig{
		Parties: []string{"BER", "CRI", "DOR"},
		Node: func(_ string, c *server.Config) {
			c.RateLimit = server.RateLimitConfig{PerSecond: 0.5, Burst: 3}
			c.HeartbeatInterval = server.Duration(time.Hour)
		},
	}
	tn := newTestNetWith(t, cfg, []string{"CRI"}, nil)
	url := tn.Servers["CRI"].URL()
	post := func(as string) *http.Response {
		ks := keysOf(t, tn, as)
		body := []byte("not an envelope")
		req, _ := http.NewRequest(http.MethodPost, url+"/v1/envelopes", bytes.NewReader(body))
		if err := fedapi.SignRequest(req, body, "CRI", ks.Message, time.Now()); err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	for i := range 3 {
		if resp := post("BER"); resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("request %d within the burst: %s, want 400 (refused as malformed)", i+1, resp.Status)
		}
	}
	resp := post("BER")
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("request over the burst: %s, want 429", resp.Status)
	}
	if ra := resp.Header.Get("Retry-After"); ra == "" || ra == "0" {
		t.Errorf("429 without a useful Retry-After (%q)", ra)
	}
	if resp := post("DOR"); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("another peer: %s, want 400: one peer's limit is its own", resp.Status)
	}
}

// TestHostileRequests sends huge, deeply nested, truncated and slow
// requests: each is refused with a 4xx or cut off by a timeout, the node
// keeps serving others meanwhile, and no goroutines or memory are left
// behind.
func TestHostileRequests(t *testing.T) {
	cfg := sim.TestnetConfig{
		Parties: []string{"BER", "CRI"},
		Node: func(_ string, c *server.Config) {
			c.HeartbeatInterval = server.Duration(time.Hour)
			c.RateLimit = server.RateLimitConfig{PerSecond: -1}
		},
	}
	tn := newTestNetWith(t, cfg, []string{"CRI"}, func(_ string, o *server.Options) {
		o.Timeouts = server.Timeouts{ReadHeader: 300 * time.Millisecond, Read: time.Second}
	})
	s := tn.Servers["CRI"]
	addr := strings.TrimPrefix(s.URL(), "http://")
	ber := keysOf(t, tn, "BER")
	token, err := server.AdminToken(filepath.Join(tn.Dir, "CRI"))
	if err != nil {
		t.Fatal(err)
	}

	signedPost := func(path string, body []byte) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, s.URL()+path, bytes.NewReader(body))
		if err := fedapi.SignRequest(req, body, "CRI", ber.Message, time.Now()); err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	operatorPost := func(body []byte) int {
		op := s.Operator()
		defer op.Client.CloseIdleConnections()
		req, _ := http.NewRequest(http.MethodPost, op.Base+"/api/v1/messages", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := op.Client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	healthy := func() bool {
		c := &http.Client{Timeout: 2 * time.Second}
		resp, err := c.Get(s.URL() + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	}
	// cutOff reports whether the server closes conn (reads EOF or an
	// error) before the deadline.
	cutOff := func(conn net.Conn) bool {
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, err := io.ReadAll(conn)
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			return false
		}
		return true
	}
	deep := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }

	// Warm up, then take the baseline.
	for range 3 {
		signedPost("/v1/envelopes", []byte("warm up"))
	}
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	goroutines := runtime.NumGoroutine()

	for round := range 3 {
		// Huge: a body over the limit, refused before it is read whole.
		big := bytes.Repeat([]byte("A"), hotline.DefaultMaxEnvelope+256<<10)
		if code, _ := signedPost("/v1/envelopes", big); code != http.StatusRequestEntityTooLarge {
			t.Errorf("round %d: huge body: %d, want 413", round, code)
		}
		// Deeply nested JSON to the operator API and inside a body.
		if code := operatorPost([]byte(`{"body":` + deep(100000) + `}`)); code != http.StatusBadRequest {
			t.Errorf("round %d: deeply nested operator request: %d, want 400", round, code)
		}
		rn := &refusalNet{tn: tn, url: s.URL(), keys: map[string]*hotline.KeySet{"BER": ber, "CRI": keysOf(t, tn, "CRI")}}
		rn.agr = mustAgreement(t, tn)
		nested := rn.view(t, rn.seal(t, "BER", []string{"CRI"}, func(d *hotline.Draft) {
			d.Body = []byte(`{"language":"en","title":"t","summary":"s","incident":{"start":"2026-11-26T22:00:00Z"},"text":` + deep(5000) + `}`)
		}), "CRI")
		if code, body := signedPost("/v1/envelopes", nested); code != http.StatusUnprocessableEntity || !strings.Contains(body, "invalid_body") {
			t.Errorf("round %d: deeply nested body: %d %s, want 422 invalid_body", round, code, body)
		}
		// Truncated envelopes.
		good := rn.view(t, rn.seal(t, "BER", []string{"CRI"}, nil), "CRI")
		for _, cut := range []int{10, len(good) / 2, len(good) - 1} {
			if code, _ := signedPost("/v1/envelopes", good[:cut]); code != http.StatusBadRequest {
				t.Errorf("round %d: envelope cut at %d: %d, want 400", round, cut, code)
			}
		}
		// A body shorter than its Content-Length, then the connection closes.
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "POST /v1/envelopes HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nhotline-envelope/v1\n")
		conn.Close()

		// Slow headers (slowloris) and a slow body: cut off by the
		// timeouts, while others are served.
		var wg sync.WaitGroup
		slow := func(name string, write func(net.Conn)) {
			wg.Go(func() {
				conn, err := net.Dial("tcp", addr)
				if err != nil {
					t.Error(err)
					return
				}
				defer conn.Close()
				write(conn)
				if !cutOff(conn) {
					t.Errorf("round %d: %s: the connection was not cut off", round, name)
				}
			})
		}
		slow("slow headers", func(c net.Conn) {
			fmt.Fprintf(c, "POST /v1/envelopes HTTP/1.1\r\nHost: x\r\n")
		})
		slow("slow body", func(c net.Conn) {
			fmt.Fprintf(c, "POST /v1/envelopes HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nhot")
		})
		if !healthy() {
			t.Errorf("round %d: the node did not answer others while slow clients held connections", round)
		}
		wg.Wait()
	}

	// Nothing left behind: the goroutine count comes back, the heap does
	// not grow by the size of what was sent.
	poll.Must(t, "goroutines back to the baseline", func() (bool, error) {
		// The node's own idle keep-alive connections (its log's and
		// gossip's fetches from peers and from itself, on the default
		// transport) are not left behind by the hostile requests.
		http.DefaultTransport.(*http.Transport).CloseIdleConnections()
		s.CloseIdleConnections()
		return runtime.NumGoroutine() <= goroutines+5, nil
	})
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if grow := int64(after.HeapInuse) - int64(before.HeapInuse); grow > 32<<20 {
		t.Errorf("heap in use grew by %d MiB", grow>>20)
	}
	if !healthy() {
		t.Error("the node is not ready after the hostile requests")
	}
}

func mustAgreement(tb testing.TB, tn *testNet) *agreement.Agreement {
	tb.Helper()
	a, err := agreement.Load(filepath.Join(tn.Dir, "agreement.json"))
	if err != nil {
		tb.Fatal(err)
	}
	return a
}
