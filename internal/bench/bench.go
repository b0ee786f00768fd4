// Package bench measures how fast a running node accepts envelopes, and how
// that compares with what its cryptography alone would allow.
//
// [Run] acts as one party of the agreement sending to one running node over
// its peer API, without going through the sending party's own node:
//
//  1. Prepare, before the clock starts: seal, sign and cut the recipient's
//     view of every envelope (exercise notifications with a realistic body
//     of a few hundred bytes), and sign every HTTP request
//     (hotline-request/v2).
//  2. Send, on the clock: Concurrency senders post the views and keep each
//     answer and how long it took.
//  3. Verify, after the clock stops: every receipt must verify against the
//     target's message key in the agreement, name the envelope and the
//     target and its log, and no two receipts may name the same log index.
//  4. The crypto limit, in the same run: on GOMAXPROCS goroutines, what the
//     node's cryptography alone allows per second — parse and verify a view,
//     open it, sign a receipt — over a sample of the same envelopes, half
//     of the time just before the clock starts and half just after it
//     stops. It needs the target's private keys (a testnet's operator has
//     them).
//
// The ratio of the messages per second achieved to that limit is the figure
// to compare between machines: both halves are measured on the same cores in
// the same minute.
//
// # Request signatures
//
// A signed request is good for [fedapi.MaxSkew] either way of the node's
// clock, so requests are signed while preparing, off the clock. A request
// whose signature is more than [ResignAfter] old when its turn comes (a run
// of several minutes) is signed again at send time, on the clock, and
// counted in [Result.Resigned].
//
// [FromFolders] reads what a run needs from node folders, as "hotline bench"
// does.
package bench

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"runtime"
	"slices"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/agreement"
	"github.com/hotline-net/hotline/internal/fedapi"
)

// Defaults of [Config].
const (
	DefaultMessages    = 1000
	DefaultConcurrency = 64
	DefaultLimitSample = 1000
	DefaultLimitTime   = time.Second
	DefaultTimeout     = time.Minute
)

// ResignAfter is the age past which a request signature made while
// preparing is made again at send time: a minute inside [fedapi.MaxSkew].
const ResignAfter = fedapi.MaxSkew - time.Minute

// Config configures [Run]. URL, Target, Agreement and Key are required;
// every other zero value is a documented default.
type Config struct {
	// URL is the target node's base URL, e.g. "http://127.0.0.1:7102".
	URL string
	// Target is the party whose node serves at URL.
	Target string
	// Agreement is the agreement both parties are bound by. Envelopes name
	// its latest version; the target's keys and log origin come from it.
	Agreement *agreement.Agreement
	// Key is the sending party's message key; its name is the party.
	// Run does not check that the sender may send: what the node refuses
	// is counted in [Result.Errors] by code.
	Key *hotline.SigningKey
	// TargetKeys are the target's private keys, used only to measure the
	// crypto limit. Nil: the limit is not measured, and LimitUnavailable
	// says why.
	TargetKeys *hotline.KeySet
	// LimitUnavailable says why TargetKeys is nil, for the report.
	LimitUnavailable string

	// Messages is how many envelopes to send. Zero means
	// DefaultMessages.
	Messages int
	// Concurrency is how many senders post at once. Zero means
	// DefaultConcurrency.
	Concurrency int
	// LimitSample is how many of the prepared envelopes the crypto limit
	// is measured on (fewer if fewer are sent). Zero means
	// DefaultLimitSample.
	LimitSample int
	// LimitTime is how long at least the crypto limit is measured, half
	// just before the clock starts and half just after it stops: the
	// sample is processed again until each half has passed. Zero means
	// DefaultLimitTime.
	LimitTime time.Duration

	// HTTP sends the requests. Nil means a client of its own whose
	// transport keeps Concurrency connections open, with TLS trusting
	// RootCAs, and a Timeout per request.
	HTTP *http.Client
	// TLS configures the client's TLS when HTTP is nil (a node's
	// self-signed certificate among its roots). Nil means Go's defaults.
	TLS *tls.Config
	// Timeout bounds one request when HTTP is nil. Zero means
	// DefaultTimeout.
	Timeout time.Duration
	// Now tells the time for the envelopes' created field and the
	// requests' signatures. Nil means time.Now. Durations are always
	// measured on the monotonic clock.
	Now func() time.Time
	// Progress, if set, receives a progress bar for each phase (a
	// terminal: it redraws lines with carriage returns).
	Progress io.Writer
}

func (c *Config) withDefaults() (Config, error) {
	d := *c
	switch {
	case d.URL == "":
		return d, errors.New("bench: URL is required")
	case d.Target == "":
		return d, errors.New("bench: Target is required")
	case d.Agreement == nil || d.Agreement.Latest() == nil:
		return d, errors.New("bench: an agreement with a signed version is required")
	case d.Key == nil:
		return d, errors.New("bench: the sender's message Key is required")
	case d.Messages < 0, d.Concurrency < 0, d.LimitSample < 0, d.LimitTime < 0, d.Timeout < 0:
		return d, errors.New("bench: counts and durations must not be negative")
	}
	if d.Key.Name() == d.Target {
		return d, fmt.Errorf("bench: %s cannot send to itself", d.Target)
	}
	if d.Messages == 0 {
		d.Messages = DefaultMessages
	}
	if d.Concurrency == 0 {
		d.Concurrency = DefaultConcurrency
	}
	if d.LimitSample == 0 {
		d.LimitSample = DefaultLimitSample
	}
	d.LimitSample = min(d.LimitSample, d.Messages)
	if d.LimitTime == 0 {
		d.LimitTime = DefaultLimitTime
	}
	if d.Timeout == 0 {
		d.Timeout = DefaultTimeout
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	return d, nil
}

// Result is what a run measured.
type Result struct {
	Target, Sender string
	URL            string
	Messages       int
	Concurrency    int
	// EnvelopeBytes is the mean size of a view as sent (the request
	// body); BodyBytes the mean size of the notification body inside.
	EnvelopeBytes, BodyBytes int
	// Prepare is how long sealing, signing and request signing took, off
	// the clock.
	Prepare time.Duration
	// Elapsed is the time on the clock: from the first send to the last
	// answer.
	Elapsed time.Duration
	// Verified counts the receipts that verified after the clock stopped.
	Verified int
	// Rate is Verified per second of Elapsed.
	Rate float64
	// Latency is measured from send to receipt (the answer read whole),
	// over the requests the node answered with a receipt.
	Latency Latency
	// Errors counts the messages that did not end in a verified receipt,
	// by code: the node's refusal code (see fedapi.PeerError), "transport"
	// when no answer came, or "receipt_<code>" when the receipt did not
	// verify or did not name what it must.
	Errors map[string]int
	// ErrorExamples holds one message per code in Errors.
	ErrorExamples map[string]string
	// Resigned counts requests signed again at send time (see
	// [ResignAfter]).
	Resigned int
	// Limit is the node-side crypto limit measured in the same run; nil
	// when it could not be, and LimitUnavailable says why.
	Limit            *Limit
	LimitUnavailable string
	// Ratio is Rate divided by Limit.Rate; zero without a limit.
	Ratio float64
}

// Failed returns how many messages did not end in a verified receipt.
func (r *Result) Failed() int {
	n := 0
	for _, c := range r.Errors {
		n += c
	}
	return n
}

// Latency holds percentiles of a set of durations (nearest rank).
type Latency struct {
	P50, P90, P99, Max time.Duration
}

// Limit is the node-side crypto limit: how many envelopes per second
// parsing and verifying a view, opening it and signing a receipt allow on
// Workers goroutines (GOMAXPROCS).
type Limit struct {
	Workers   int
	Sample    int // distinct envelopes
	Processed int // envelopes processed, the sample repeated
	Elapsed   time.Duration
	Rate      float64 // Processed per second of Elapsed
}

// MarshalJSON writes the result with durations in milliseconds.
func (r *Result) MarshalJSON() ([]byte, error) {
	type latency struct {
		P50 float64 `json:"p50"`
		P90 float64 `json:"p90"`
		P99 float64 `json:"p99"`
		Max float64 `json:"max"`
	}
	type limit struct {
		Workers    int     `json:"workers"`
		Sample     int     `json:"sample"`
		Processed  int     `json:"processed"`
		ElapsedMS  float64 `json:"elapsed_ms"`
		PerSecond  float64 `json:"messages_per_second"`
		Operations string  `json:"operations"`
	}
	out := struct {
		Target           string            `json:"target"`
		Sender           string            `json:"sender"`
		URL              string            `json:"url"`
		Messages         int               `json:"messages"`
		Concurrency      int               `json:"concurrency"`
		EnvelopeBytes    int               `json:"envelope_bytes"`
		BodyBytes        int               `json:"body_bytes"`
		PrepareMS        float64           `json:"prepare_ms"`
		ElapsedMS        float64           `json:"elapsed_ms"`
		Verified         int               `json:"verified"`
		Failed           int               `json:"failed"`
		PerSecond        float64           `json:"messages_per_second"`
		LatencyMS        latency           `json:"latency_ms"`
		Errors           map[string]int    `json:"errors"`
		ErrorExamples    map[string]string `json:"error_examples,omitempty"`
		Resigned         int               `json:"requests_resigned"`
		Limit            *limit            `json:"crypto_limit,omitempty"`
		LimitUnavailable string            `json:"crypto_limit_unavailable,omitempty"`
		Ratio            float64           `json:"ratio"`
	}{
		Target: r.Target, Sender: r.Sender, URL: r.URL,
		Messages: r.Messages, Concurrency: r.Concurrency,
		EnvelopeBytes: r.EnvelopeBytes, BodyBytes: r.BodyBytes,
		PrepareMS: ms(r.Prepare), ElapsedMS: ms(r.Elapsed),
		Verified: r.Verified, Failed: r.Failed(), PerSecond: round(r.Rate, 1),
		LatencyMS:     latency{ms(r.Latency.P50), ms(r.Latency.P90), ms(r.Latency.P99), ms(r.Latency.Max)},
		Errors:        r.Errors,
		ErrorExamples: r.ErrorExamples,
		Resigned:      r.Resigned, LimitUnavailable: r.LimitUnavailable,
		Ratio: round(r.Ratio, 3),
	}
	if out.Errors == nil {
		out.Errors = map[string]int{}
	}
	if l := r.Limit; l != nil {
		out.Limit = &limit{l.Workers, l.Sample, l.Processed, ms(l.Elapsed), round(l.Rate, 1), LimitOperations}
	}
	return json.Marshal(out)
}

// LimitOperations says what the crypto limit times per envelope.
const LimitOperations = "parse + verify the view, open it, sign a receipt"

func ms(d time.Duration) float64 { return round(float64(d)/float64(time.Millisecond), 3) }

func round(x float64, places int) float64 {
	p := math.Pow(10, float64(places))
	return math.Round(x*p) / p
}

// Run prepares cfg.Messages envelopes, sends them to the node at cfg.URL
// with cfg.Concurrency senders, verifies every receipt and measures the
// crypto limit. It returns an error only when it cannot measure (bad
// configuration, nothing to seal to, ctx ended); messages that fail are
// counted in the result.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	t, err := newTarget(&c)
	if err != nil {
		return nil, err
	}
	prog := newProgress(c.Progress)
	defer prog.close()

	res := &Result{
		Target: c.Target, Sender: c.Key.Name(), URL: c.URL,
		Messages: c.Messages, Concurrency: c.Concurrency,
	}
	start := time.Now()
	envs, err := prepare(ctx, &c, t, prog)
	if err != nil {
		return nil, err
	}
	res.Prepare = time.Since(start)
	for i := range envs {
		res.EnvelopeBytes += len(envs[i].view)
		res.BodyBytes += envs[i].bodySize
	}
	res.EnvelopeBytes /= len(envs)
	res.BodyBytes /= len(envs)

	// The crypto limit is measured in two windows around the clock.
	var lim *limiter
	if c.TargetKeys == nil {
		res.LimitUnavailable = c.LimitUnavailable
		if res.LimitUnavailable == "" {
			res.LimitUnavailable = "the target's private keys were not given"
		}
	} else if lim, err = newLimiter(&c, t, envs[:c.LimitSample]); err != nil {
		res.LimitUnavailable = err.Error()
	}
	measure := func(d time.Duration) error {
		if lim == nil {
			return nil
		}
		err := lim.measure(ctx, d, prog)
		if err != nil && ctx.Err() == nil {
			res.LimitUnavailable, lim = err.Error(), nil
			return nil
		}
		return err
	}
	if err := measure(c.LimitTime / 2); err != nil {
		return nil, err
	}

	client, closeClient := c.client()
	defer closeClient()
	outs, elapsed, resigned, err := send(ctx, &c, client, envs, prog)
	if err != nil {
		return nil, err
	}
	res.Elapsed, res.Resigned = elapsed, resigned
	tally(res, t, envs, outs, prog)

	if err := measure(c.LimitTime - c.LimitTime/2); err != nil {
		return nil, err
	}
	if lim != nil {
		res.Limit = lim.result()
		res.Ratio = res.Rate / res.Limit.Rate
	}
	return res, nil
}

// target is what the agreement says about the target.
type target struct {
	version    *agreement.Version
	enc        *hotline.EncryptionPublicKey // what envelopes are sealed to
	envelope   int                          // envelope version: 2 if the target speaks protocol 2, as a node would seal
	origin     string                       // the target's log
	receiptKey note.Verifier                // the target's message key
	senderKey  note.Verifier                // the sender's, as the target sees it
}

func newTarget(c *Config) (*target, error) {
	now := c.Now()
	enc, err := c.Agreement.EncryptionKey(c.Target, now)
	if err != nil {
		return nil, fmt.Errorf("bench: the target's encryption key: %w", err)
	}
	origin, err := c.Agreement.LogOrigin(c.Target)
	if err != nil {
		return nil, fmt.Errorf("bench: the target's log: %w", err)
	}
	rk, err := c.Agreement.MessageKey(c.Target, now)
	if err != nil {
		return nil, fmt.Errorf("bench: the target's message key, which signs its receipts: %w", err)
	}
	// The crypto limit verifies with the sender's key as the agreement
	// lists it, as the node does; if it lists none, the node will refuse
	// every envelope and the bench counts the refusals.
	sk, err := c.Agreement.MessageKey(c.Key.Name(), now)
	if err != nil {
		sk = nil
	}
	envelope := 1
	if ps, err := c.Agreement.Protocols(c.Target); err == nil && slices.Contains(ps, 2) {
		envelope = 2
	}
	return &target{version: c.Agreement.Latest(), enc: enc, envelope: envelope, origin: origin, receiptKey: rk, senderKey: sk}, nil
}

func (c *Config) client() (*http.Client, func()) {
	if c.HTTP != nil {
		return c.HTTP, func() {}
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	// Every sender keeps its connection: the default of two idle
	// connections per host would open and close one per request.
	tr.MaxIdleConns = c.Concurrency
	tr.MaxIdleConnsPerHost = c.Concurrency
	if c.TLS != nil {
		tr.TLSClientConfig = c.TLS.Clone()
	}
	return &http.Client{Transport: tr, Timeout: c.Timeout}, tr.CloseIdleConnections
}

// percentiles returns the nearest-rank percentiles of ds, which it sorts.
func percentiles(ds []time.Duration) Latency {
	if len(ds) == 0 {
		return Latency{}
	}
	slices.Sort(ds)
	at := func(p float64) time.Duration {
		i := int(math.Ceil(p*float64(len(ds)))) - 1
		return ds[max(i, 0)]
	}
	return Latency{P50: at(0.50), P90: at(0.90), P99: at(0.99), Max: ds[len(ds)-1]}
}

// ErrorCodes returns the codes of r.Errors, most frequent first.
func (r *Result) ErrorCodes() []string {
	codes := slices.Collect(maps.Keys(r.Errors))
	slices.SortFunc(codes, func(a, b string) int {
		if d := r.Errors[b] - r.Errors[a]; d != 0 {
			return d
		}
		if a < b {
			return -1
		}
		return 1
	})
	return codes
}

// workers is how many goroutines CPU-bound phases use: all cores.
func workers() int { return runtime.GOMAXPROCS(0) }
