package tlog

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"
)

// Collector timing: the first retry after a failure, the longest wait
// between retries, and how many pending checkpoints with some cosignatures
// are kept while none meets the quorum.
const (
	retryMin    = time.Second
	retryMax    = 5 * time.Minute
	maxPending  = 16
	maxRespSize = 64 << 10
)

// WitnessStatus is what the collector knows of one witness of the policy.
type WitnessStatus struct {
	Name string
	URL  string
	// Size is the size of the latest checkpoint of this log the witness
	// cosigned (or said it had, in a 409 answer).
	Size uint64
	// Cosigned is the witness's timestamp on its latest cosignature, zero if
	// none this run.
	Cosigned time.Time
	// LastAttempt and LastSuccess are when the collector last asked the
	// witness and last got a cosignature, by the log's Clock.
	LastAttempt time.Time
	LastSuccess time.Time
	// LastError is the last failure, empty after a success.
	LastError string
	// Failures counts consecutive failures.
	Failures int
}

// witnessing is the collector: one goroutine per witness sends each new
// checkpoint with its consistency proof, keeps the cosignatures, and
// assembles the latest checkpoint that meets the quorum.
type witnessing struct {
	l       *Log
	policy  *Policy
	self    string
	store   CosignatureStore
	clients []*witnessClient
	wg      sync.WaitGroup

	mu      sync.Mutex
	pending map[string]*pendingCP // by checkpoint text
	best    *Checkpoint
	equivs  []*Equivocation
	seen    map[[32]byte]bool
}

type pendingCP struct {
	cp   Checkpoint        // signed by the log only
	sigs map[string]string // witness name -> cosignature line
}

type witnessClient struct {
	name string
	url  string
	v    note.Verifier

	// Owned by the witness's goroutine.
	size   uint64    // the old size to send
	text   []byte    // text of the checkpoint it last cosigned, if known
	lastOK time.Time // when it last cosigned (real time, for republishing)

	mu     sync.Mutex
	status WitnessStatus
}

func newWitnessing(l *Log, state CosignatureState) *witnessing {
	w := &witnessing{
		l:       l,
		policy:  l.cfg.Policy,
		self:    l.cfg.Self,
		store:   l.cfg.Cosignatures,
		pending: map[string]*pendingCP{},
		seen:    map[[32]byte]bool{},
	}
	for _, pw := range w.policy.Witnesses {
		if pw.Name == w.self {
			continue
		}
		if pw.URL == "" {
			l.logger.Warn("witness has no URL in the policy; not asking it", "witness", pw.Name)
			continue
		}
		v, err := NewCosignatureVerifier(pw.Key)
		if err != nil { // Validate checked it already
			continue
		}
		c := &witnessClient{name: pw.Name, url: strings.TrimSuffix(pw.URL, "/"), v: v}
		c.status = WitnessStatus{Name: pw.Name, URL: pw.URL}
		if signed, ok := state.Witnesses[pw.Name]; ok {
			if cp, _, err := OpenCheckpoint(signed, l.verifier, v); err == nil {
				c.size, c.text, c.status.Size = cp.Size, cp.Text(), cp.Size
			}
		}
		w.clients = append(w.clients, c)
	}
	if state.Quorum != nil {
		if cp, _, err := w.policy.VerifyCheckpoint(state.Quorum, w.self); err == nil && cp.Origin == l.origin {
			w.best = &cp
		}
	}
	return w
}

func (w *witnessing) start() {
	for _, c := range w.clients {
		w.wg.Add(1)
		go w.run(c)
	}
}

func (w *witnessing) wait() { w.wg.Wait() }

// errResync marks a 409 answer after which the request is sent again at
// once with the witness's size.
var errResync = errors.New("witness holds another size")

func (w *witnessing) run(c *witnessClient) {
	defer w.wg.Done()
	ctx := w.l.ctx
	republish := w.l.cfg.RepublishInterval
	failures, resyncs := 0, 0
	for {
		cp, changed := w.l.current()
		due, wait := false, time.Duration(-1)
		if cp != nil {
			switch {
			case cp.Size > c.size:
				due = true
			case cp.Size == c.size && !bytes.Equal(c.text, cp.Text()):
				due = true
			case cp.Size == c.size:
				wait = republish - time.Since(c.lastOK)
				due = wait <= 0
			default:
				// The witness is ahead of the log: nothing to send until
				// the log grows past it.
			}
		}
		if due {
			now := w.l.clock.Now()
			w.setStatus(c, func(s *WitnessStatus) { s.LastAttempt = now })
			err := w.submit(ctx, c, *cp)
			if ctx.Err() != nil {
				return
			}
			if err == nil {
				failures, resyncs = 0, 0
				w.setStatus(c, func(s *WitnessStatus) { s.LastError, s.Failures = "", 0 })
				continue
			}
			if errors.Is(err, errResync) && resyncs < 3 {
				resyncs++
				continue
			}
			failures++
			resyncs = 0
			w.setStatus(c, func(s *WitnessStatus) { s.LastError, s.Failures = err.Error(), failures })
			w.l.logger.Warn("witness did not cosign", "witness", c.name, "size", cp.Size, "failures", failures, "err", err)
			if !sleep(ctx, backoff(failures)) {
				return
			}
			continue
		}
		var timer *time.Timer
		var fired <-chan time.Time
		if wait > 0 {
			timer = time.NewTimer(wait)
			fired = timer.C
		}
		select {
		case <-ctx.Done():
		case <-changed:
		case <-fired:
		}
		if timer != nil {
			timer.Stop()
		}
		if ctx.Err() != nil {
			return
		}
	}
}

// backoff returns the wait after n consecutive failures: exponential from
// retryMin to retryMax, with ±20% jitter.
func backoff(n int) time.Duration {
	d := retryMin
	for i := 1; i < n && d < retryMax; i++ {
		d *= 2
	}
	d = min(d, retryMax)
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func (w *witnessing) setStatus(c *witnessClient, f func(*WitnessStatus)) {
	c.mu.Lock()
	f(&c.status)
	c.mu.Unlock()
}

// submit asks one witness to cosign cp.
func (w *witnessing) submit(ctx context.Context, c *witnessClient, cp Checkpoint) error {
	old := c.size
	prf, err := w.l.consistency(ctx, old, cp.Size)
	if err != nil {
		return fmt.Errorf("consistency proof: %w", err)
	}
	status, ctype, body, err := w.post(ctx, c.url+"/add-checkpoint", FormatAddCheckpoint(old, prf, cp.Note))
	if err != nil {
		return err
	}
	switch status {
	case http.StatusOK:
		return w.accept(ctx, c, cp, body)
	case http.StatusConflict:
		if !strings.HasPrefix(ctype, "text/x.tlog.size") {
			return fmt.Errorf("409 answer of type %q", ctype)
		}
		size, err := parseSizeBody(body)
		if err != nil {
			return fmt.Errorf("409 answer: %w", err)
		}
		c.size, c.text = size, nil
		w.setStatus(c, func(s *WitnessStatus) { s.Size = size })
		if size > cp.Size {
			return w.ahead(ctx, c, cp, size)
		}
		return errResync
	case http.StatusUnprocessableEntity:
		return w.inconsistent(ctx, c, cp)
	default:
		return fmt.Errorf("witness answered %d: %s", status, truncate(strings.TrimSpace(string(body))))
	}
}

func (w *witnessing) post(ctx context.Context, url string, body []byte) (int, string, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, w.l.cfg.WitnessTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, "", nil, err
	}
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	return w.do(req)
}

func (w *witnessing) do(req *http.Request) (int, string, []byte, error) {
	resp, err := w.l.cfg.HTTPClient.Do(req)
	if err != nil {
		return 0, "", nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxRespSize+1))
	if err != nil {
		return 0, "", nil, fmt.Errorf("reading the answer: %w", err)
	}
	if len(b) > maxRespSize {
		return 0, "", nil, errors.New("answer too large")
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), b, nil
}

// accept checks a 200 answer and records the cosignature.
func (w *witnessing) accept(ctx context.Context, c *witnessClient, cp Checkpoint, body []byte) error {
	if len(body) == 0 || body[len(body)-1] != '\n' {
		return errors.New("cosignature answer does not end in a newline")
	}
	n, err := note.Open(append(bytes.Clone(cp.Note), body...), note.VerifierList(w.l.verifier, c.v))
	if err != nil {
		return fmt.Errorf("cosignature answer: %w", err)
	}
	var line, logLine string
	var ts time.Time
	for _, s := range n.Sigs {
		switch {
		case s.Name == c.v.Name() && s.Hash == c.v.KeyHash():
			line = sigLine(s)
			ts, _ = fnote.CoSigV1Timestamp(s)
		case s.Name == w.l.verifier.Name() && s.Hash == w.l.verifier.KeyHash():
			logLine = sigLine(s)
		}
	}
	if line == "" {
		return errors.New("no valid cosignature by the witness key in the answer")
	}
	text := cp.Text()
	stored := joinNote(text, []string{logLine, line})
	c.size, c.text, c.lastOK = cp.Size, text, time.Now()
	if err := w.store.PutWitness(ctx, c.name, stored); err != nil {
		w.l.logger.Error("storing a cosignature", "witness", c.name, "err", err)
	}
	w.l.guard.raise(cp)
	w.record(ctx, c.name, cp, line)
	now := w.l.clock.Now()
	w.setStatus(c, func(s *WitnessStatus) { s.Size, s.Cosigned, s.LastSuccess = cp.Size, ts, now })
	return nil
}

// record adds a cosignature to the checkpoint's set and updates the quorum
// checkpoint.
func (w *witnessing) record(ctx context.Context, witness string, cp Checkpoint, line string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	key := string(cp.Text())
	p := w.pending[key]
	if p == nil {
		p = &pendingCP{cp: cp, sigs: map[string]string{}}
		w.pending[key] = p
	}
	p.sigs[witness] = line
	if w.policy.Satisfied(func(name string) bool { return name != w.self && p.sigs[name] != "" }) &&
		(w.best == nil || cp.Size >= w.best.Size) {
		best := cp
		best.Note = w.assemble(p)
		w.best = &best
		if err := w.store.PutQuorum(ctx, best.Note); err != nil {
			w.l.logger.Error("storing the quorum checkpoint", "err", err)
		}
	}
	// Forget checkpoints older than the quorum one, and keep a bounded
	// number while no quorum is reached.
	var sizes []uint64
	for k, q := range w.pending {
		if w.best != nil && q.cp.Size < w.best.Size {
			delete(w.pending, k)
			continue
		}
		sizes = append(sizes, q.cp.Size)
	}
	if len(sizes) > maxPending {
		slices.Sort(sizes)
		cut := sizes[len(sizes)-maxPending]
		for k, q := range w.pending {
			if q.cp.Size < cut {
				delete(w.pending, k)
			}
		}
	}
}

// assemble returns the checkpoint with the log's signature and the
// collected cosignatures, in policy order.
func (w *witnessing) assemble(p *pendingCP) []byte {
	text, sigs, _ := splitNote(p.cp.Note)
	for _, pw := range w.policy.Witnesses {
		if s, ok := p.sigs[pw.Name]; ok {
			sigs = append(sigs, s)
		}
	}
	return joinNote(text, sigs)
}

// cosigned returns cp with the cosignatures collected so far for it.
func (w *witnessing) cosigned(cp Checkpoint) []byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	if p, ok := w.pending[string(cp.Text())]; ok {
		return w.assemble(p)
	}
	if w.best != nil && bytes.Equal(w.best.Text(), cp.Text()) {
		return w.best.Note
	}
	return cp.Note
}

func (w *witnessing) witnessed() (Checkpoint, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.best == nil {
		return Checkpoint{}, false
	}
	return *w.best, true
}

// view fetches the witness's latest cosigned checkpoint of this log (C2SP
// tlog-witness monitor retrieval) and verifies the log's signature and the
// witness's cosignature.
func (w *witnessing) view(ctx context.Context, c *witnessClient) (Checkpoint, error) {
	ctx, cancel := context.WithTimeout(ctx, w.l.cfg.WitnessTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url+"/"+originHash(w.l.origin)+"/checkpoint", nil)
	if err != nil {
		return Checkpoint{}, err
	}
	status, _, body, err := w.do(req)
	if err != nil {
		return Checkpoint{}, err
	}
	if status != http.StatusOK {
		return Checkpoint{}, fmt.Errorf("witness answered %d to the monitoring request", status)
	}
	cp, n, err := OpenCheckpoint(body, w.l.verifier, c.v)
	if err != nil {
		return Checkpoint{}, err
	}
	for _, s := range n.Sigs {
		if s.Name == c.v.Name() && s.Hash == c.v.KeyHash() {
			return cp, nil
		}
	}
	return Checkpoint{}, errors.New("the witness's checkpoint lacks its cosignature")
}

// ahead handles a witness that cosigned a larger checkpoint than the log
// has: if it shows one signed by the log, the log was rewound; it stops
// appending and raises its floor so that it refuses to restart below it.
func (w *witnessing) ahead(ctx context.Context, c *witnessClient, cp Checkpoint, size uint64) error {
	view, err := w.view(ctx, c)
	if err != nil || view.Size <= cp.Size {
		return fmt.Errorf("witness claims size %d above the log's %d but shows no such cosigned checkpoint: %v", size, cp.Size, err)
	}
	w.l.guard.raise(view)
	if err := w.store.PutWitness(ctx, c.name, view.Note); err != nil {
		w.l.logger.Error("storing a cosignature", "witness", c.name, "err", err)
	}
	rew := fmt.Errorf("witness %q cosigned size %d of %s but the log has %d: %w", c.name, view.Size, w.l.origin, cp.Size, ErrRewound)
	w.l.halt.Store(&rew)
	w.l.logger.Error("log rewound: appends stopped", "witness", c.name, "cosigned", view.Size, "size", cp.Size)
	return rew
}

// inconsistent handles a 422: the witness holds a checkpoint our tree does
// not extend. Its view, signed by the log, makes an equivocation proof.
func (w *witnessing) inconsistent(ctx context.Context, c *witnessClient, cp Checkpoint) error {
	view, err := w.view(ctx, c)
	if err != nil {
		return fmt.Errorf("witness found the checkpoint inconsistent with what it cosigned, and its view is unavailable: %w", err)
	}
	if view.Size > cp.Size {
		return w.ahead(ctx, c, cp, view.Size)
	}
	e, err := proveEquivocation(ctx, w.l.verifier, view.Note, cp.Note, w.l.reader.ReadTile)
	if err != nil {
		return fmt.Errorf("witness found the checkpoint inconsistent (422) but no equivocation could be shown: %w", err)
	}
	w.addEquivocation(e)
	return fmt.Errorf("witness %q holds checkpoint %d of a different history: %w", c.name, view.Size, &EquivocationError{Proof: e})
}

func (w *witnessing) addEquivocation(e *Equivocation) {
	id := sha256.Sum256(e.Marshal())
	w.mu.Lock()
	if w.seen[id] {
		w.mu.Unlock()
		return
	}
	w.seen[id] = true
	w.equivs = append(w.equivs, e)
	w.mu.Unlock()
	w.l.logger.Error("equivocation: the log signed two checkpoints that cannot both be true", "proof", string(e.Marshal()))
	if f := w.l.cfg.OnEquivocation; f != nil {
		f(e)
	}
}

// WitnessStatus returns what the collector knows of each witness it asks.
func (l *Log) WitnessStatus() []WitnessStatus {
	if l.wit == nil {
		return nil
	}
	out := make([]WitnessStatus, 0, len(l.wit.clients))
	for _, c := range l.wit.clients {
		c.mu.Lock()
		out = append(out, c.status)
		c.mu.Unlock()
	}
	return out
}

// Equivocations returns the equivocation proofs the collector built, oldest
// first.
func (l *Log) Equivocations() []*Equivocation {
	if l.wit == nil {
		return nil
	}
	l.wit.mu.Lock()
	defer l.wit.mu.Unlock()
	return slices.Clone(l.wit.equivs)
}
