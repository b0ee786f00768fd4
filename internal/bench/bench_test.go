package bench_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/internal/bench"
	"github.com/hotline-net/hotline/internal/server"
	"github.com/hotline-net/hotline/internal/sim"
	"github.com/hotline-net/hotline/internal/store"
	"github.com/hotline-net/hotline/internal/testnode"
)

// testNet is a testnet in a temporary folder whose target node runs in
// this process (SQLite, its own log) until the test ends.
type testNet struct {
	*testnode.Net
	target *server.Server
}

// newTestNet makes a testnet of BER, CRI and ELM (ELM has not ratified the
// agreement) and serves CRI's node, its per-peer rate limit off.
func newTestNet(tb testing.TB) *testNet {
	tb.Helper()
	// The bench measures the node, not its per-peer rate limit.
	return newTestNetWith(tb, server.RateLimitConfig{PerSecond: -1})
}

// newTestNetWith is newTestNet with the given per-peer rate limit.
func newTestNetWith(tb testing.TB, rl server.RateLimitConfig) *testNet {
	tb.Helper()
	nw := testnode.Start(tb, testnode.Config{
		Testnet: sim.TestnetConfig{
			Parties:    []string{"BER", "CRI", "ELM"},
			Unratified: []string{"ELM"},
			Node:       func(_ string, c *server.Config) { c.RateLimit = rl },
		},
		Run: []string{"CRI"}, // only CRI runs
	})
	return &testNet{Net: nw, target: nw.Servers["CRI"]}
}

func (tn *testNet) folder(party string) string { return tn.Folder(party) }

// config is a run from BER to CRI, sized for a test.
func (tn *testNet) config(tb testing.TB, messages int) bench.Config {
	tb.Helper()
	c, err := bench.FromFolders(tn.folder("CRI"), tn.folder("BER"))
	if err != nil {
		tb.Fatal(err)
	}
	c.Messages, c.Concurrency = messages, 16
	c.LimitSample, c.LimitTime = 20, time.Millisecond
	return c
}

func (tn *testNet) received(tb testing.TB) int64 {
	tb.Helper()
	n, err := tn.target.Node().Store().CountMessages(context.Background(), store.MessageFilter{Direction: hotline.Received, IncludePending: true})
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

// TestRun sends 200 envelopes to a running node and checks that every
// receipt verified, the node stored each one, and the figures are sane.
func TestRun(t *testing.T) {
	tn := newTestNet(t)
	c := tn.config(t, 200)
	if c.URL != tn.target.URL() {
		t.Errorf("URL from the folder = %s, the node serves on %s", c.URL, tn.target.URL())
	}
	var bar bytes.Buffer
	c.Progress = &bar
	res, err := bench.Run(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if res.Verified != 200 || res.Failed() != 0 {
		t.Fatalf("verified %d, errors %v %v", res.Verified, res.Errors, res.ErrorExamples)
	}
	if got := tn.received(t); got != 200 {
		t.Errorf("the node holds %d received envelopes, want 200", got)
	}
	l := res.Latency
	if !(0 < l.P50 && l.P50 <= l.P90 && l.P90 <= l.P99 && l.P99 <= l.Max && l.Max <= res.Elapsed) {
		t.Errorf("latencies out of order: %+v, elapsed %v", l, res.Elapsed)
	}
	if res.Rate <= 0 || res.Sender != "BER" || res.Target != "CRI" || res.Resigned != 0 {
		t.Errorf("result %+v", res)
	}
	if res.BodyBytes < 200 || res.BodyBytes > 1000 || res.EnvelopeBytes < res.BodyBytes+hotline.StanzaSize {
		t.Errorf("body %d bytes, envelope %d bytes: not a realistic notification", res.BodyBytes, res.EnvelopeBytes)
	}
	if res.Limit == nil {
		t.Fatalf("no crypto limit: %s", res.LimitUnavailable)
	}
	if res.Limit.Sample != 20 || res.Limit.Processed < 20 || res.Limit.Rate <= 0 || res.Ratio <= 0 {
		t.Errorf("limit %+v, ratio %v", res.Limit, res.Ratio)
	}
	for _, phase := range []string{"prepare", "send", "verify", "limit"} {
		if !strings.Contains(bar.String(), "\r"+phase) {
			t.Errorf("no progress bar for %s in %q", phase, bar.String())
		}
	}

	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Verified  int                   `json:"verified"`
		Failed    int                   `json:"failed"`
		PerSecond float64               `json:"messages_per_second"`
		Errors    map[string]int        `json:"errors"`
		Latency   struct{ P50 float64 } `json:"latency_ms"`
		Limit     *struct {
			PerSecond float64 `json:"messages_per_second"`
		} `json:"crypto_limit"`
		Ratio float64 `json:"ratio"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Verified != 200 || doc.Failed != 0 || doc.PerSecond <= 0 || doc.Errors == nil || doc.Latency.P50 <= 0 ||
		doc.Limit == nil || doc.Limit.PerSecond <= 0 || doc.Ratio <= 0 {
		t.Errorf("JSON result %s", b)
	}

	// A second run sends new envelopes: nothing is a duplicate.
	c.Progress = nil
	if res, err = bench.Run(context.Background(), c); err != nil || res.Verified != 200 {
		t.Fatalf("second run: %v, %+v", err, res)
	}
	if got := tn.received(t); got != 400 {
		t.Errorf("after two runs the node holds %d received envelopes, want 400", got)
	}
}

// tamperer is a fault-injecting transport: it changes the answers of the
// requests whose number (from 0) change picks.
type tamperer struct {
	n      atomic.Int64
	first  atomic.Pointer[[]byte]
	change func(i int, first, answer []byte) []byte
}

func (tp *tamperer) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil || resp.StatusCode != 200 {
		return resp, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	first := b
	tp.first.CompareAndSwap(nil, &first)
	i := int(tp.n.Add(1)) - 1
	if c := tp.change(i, *tp.first.Load(), b); c != nil {
		b = c
	}
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return resp, nil
}

// TestErrorsByCode checks that what goes wrong is counted by code: the
// node's refusals, and receipts that do not verify or do not name what
// they must.
func TestErrorsByCode(t *testing.T) {
	tn := newTestNet(t)
	const n = 12
	everyThird := func(i int) bool { return i%3 == 0 }
	tests := []struct {
		name   string
		change func(c *bench.Config)
		want   map[string]int
	}{
		{"sender has not ratified", func(c *bench.Config) {
			ks, err := hotline.LoadKeySet(filepath.Join(tn.folder("ELM"), server.KeysDir))
			if err != nil {
				t.Fatal(err)
			}
			c.Key = ks.Message
		}, map[string]int{"not_ratified": n}},
		{"receipt signature broken", func(c *bench.Config) {
			c.HTTP = &http.Client{Transport: &tamperer{change: func(i int, _, b []byte) []byte {
				if !everyThird(i) {
					return nil
				}
				// A base64 digit in the middle of the signature.
				b = bytes.Clone(b)
				j := len(b) - 20
				if b[j] == 'A' {
					b[j] = 'B'
				} else {
					b[j] = 'A'
				}
				return b
			}}}
		}, map[string]int{"receipt_bad_signature": n / 3}},
		{"receipt for another message", func(c *bench.Config) {
			c.Concurrency = 1 // the first answer is the first envelope's
			c.HTTP = &http.Client{Transport: &tamperer{change: func(i int, first, _ []byte) []byte {
				if i == 0 || !everyThird(i) {
					return nil
				}
				return first
			}}}
		}, map[string]int{"receipt_wrong_message": n/3 - 1}},
		{"not a receipt", func(c *bench.Config) {
			c.HTTP = &http.Client{Transport: &tamperer{change: func(i int, _, _ []byte) []byte {
				if everyThird(i) {
					return []byte("<html>proxy</html>\n")
				}
				return nil
			}}}
		}, map[string]int{"receipt_wrong_tag": n / 3}},
		{"node unreachable", func(c *bench.Config) {
			c.URL = "http://127.0.0.1:1"
		}, map[string]int{"transport": n}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tn.config(t, n)
			tt.change(&c)
			res, err := bench.Run(context.Background(), c)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, res.Errors); diff != "" {
				t.Errorf("errors (-want +got):\n%s\nexamples: %v", diff, res.ErrorExamples)
			}
			if res.Verified != n-res.Failed() {
				t.Errorf("verified %d of %d with %d failed", res.Verified, n, res.Failed())
			}
			for code := range res.Errors {
				if res.ErrorExamples[code] == "" {
					t.Errorf("no example message for %s", code)
				}
			}
		})
	}
}

// TestRateLimited: a node that limits each peer's requests refuses what is
// over the limit, and the bench counts it by its code.
func TestRateLimited(t *testing.T) {
	tn := newTestNetWith(t, server.RateLimitConfig{PerSecond: 0.001, Burst: 5})
	c := tn.config(t, 12)
	res, err := bench.Run(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]int{"rate_limited": 7}, res.Errors); diff != "" || res.Verified != 5 {
		t.Errorf("verified %d, errors (-want +got):\n%s", res.Verified, diff)
	}
}

// TestLimitUnavailable: without the target's private keys the run still
// measures the node, and says why there is no limit.
func TestLimitUnavailable(t *testing.T) {
	tn := newTestNet(t)
	// A private key file others can read is refused by LoadKeySet.
	if err := os.Chmod(filepath.Join(tn.folder("CRI"), server.KeysDir, "encryption.key"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := tn.config(t, 10)
	if c.TargetKeys != nil || !strings.Contains(c.LimitUnavailable, "cannot be read") {
		t.Fatalf("target keys %v, limit unavailable %q", c.TargetKeys, c.LimitUnavailable)
	}
	res, err := bench.Run(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if res.Verified != 10 || res.Limit != nil || res.Ratio != 0 || res.LimitUnavailable != c.LimitUnavailable {
		t.Errorf("result %+v", res)
	}
	b, _ := json.Marshal(res)
	if !bytes.Contains(b, []byte(`"crypto_limit_unavailable":`)) || bytes.Contains(b, []byte(`"crypto_limit":`)) {
		t.Errorf("JSON result %s", b)
	}
}

// BenchmarkAccept runs b.N envelopes from BER through a node served in
// this process, with 64 senders, and reports the run's own figures: the
// messages per second on the clock, the crypto limit measured in the same
// run and their ratio. It is the in-process equivalent of "hotline bench"
// against "hotline serve", for profiling both halves in one process
// (-cpuprofile); docs/PERFORMANCE.md quotes the real processes.
func BenchmarkAccept(b *testing.B) {
	tn := newTestNet(b)
	c := tn.config(b, b.N)
	c.Concurrency = 64
	c.LimitSample, c.LimitTime = 0, 250*time.Millisecond
	b.ResetTimer()
	res, err := bench.Run(context.Background(), c)
	if err != nil {
		b.Fatal(err)
	}
	if res.Failed() != 0 {
		b.Fatalf("%d failed: %v %v", res.Failed(), res.Errors, res.ErrorExamples)
	}
	b.ReportMetric(float64(res.Elapsed.Nanoseconds())/float64(b.N), "ns/op")
	b.ReportMetric(res.Rate, "msgs/s")
	b.ReportMetric(res.Limit.Rate, "limit-msgs/s")
	b.ReportMetric(res.Ratio, "ratio")
	b.ReportMetric(float64(res.Latency.P50.Microseconds())/1000, "p50-ms")
}
