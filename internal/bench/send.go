package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/internal/fedapi"
)

// maxAnswer bounds what the node may answer, as fedapi.Client does.
const maxAnswer = 1 << 20

// outcome is what one send came back with.
type outcome struct {
	took    time.Duration
	receipt []byte // the answer of a 2xx, unverified
	code    string // the refusal code otherwise
	msg     string
}

// send posts every prepared envelope with c.Concurrency senders and returns
// each outcome, the time on the clock, and how many requests were signed
// again.
func send(ctx context.Context, c *Config, client *http.Client, envs []envelope, prog *progress) ([]outcome, time.Duration, int, error) {
	outs := make([]outcome, len(envs))
	url := c.URL + "/v1/envelopes"
	var (
		next     atomic.Int64
		resigned atomic.Int64
		wg       sync.WaitGroup
	)
	// Without a client of the caller's, each sender writes requests
	// serialized before the clock starts on a connection of its own (see
	// wire).
	var reqs [][]byte
	if c.HTTP == nil {
		if w := newWire(c.URL, c.TLS, c.Timeout); w != nil {
			reqs = make([][]byte, len(envs))
			for i := range envs {
				b, err := w.request(&envs[i])
				if err != nil {
					return nil, 0, 0, fmt.Errorf("bench: serializing a request: %w", err)
				}
				reqs[i] = b
			}
		}
	}
	prog.start("send", len(envs))
	start := time.Now()
	for range c.Concurrency {
		wg.Go(func() {
			var w *wire
			if reqs != nil {
				w = newWire(c.URL, c.TLS, c.Timeout)
				defer w.close()
			}
			for {
				i := int(next.Add(1)) - 1
				if i >= len(envs) || ctx.Err() != nil {
					return
				}
				if w != nil {
					outs[i] = postWire(ctx, c, w, &envs[i], &reqs[i], &resigned)
				} else {
					outs[i] = post(ctx, c, client, url, &envs[i], &resigned)
				}
				prog.add(1)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	prog.finish()
	if err := ctx.Err(); err != nil {
		return nil, 0, 0, err
	}
	return outs, elapsed, int(resigned.Load()), nil
}

// post sends one envelope; the time it takes runs from just before the
// request is built to the last byte of the answer.
func post(ctx context.Context, c *Config, client *http.Client, url string, e *envelope, resigned *atomic.Int64) outcome {
	start := time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(e.view))
	if err != nil {
		return outcome{code: "transport", msg: err.Error()}
	}
	if c.Now().Sub(e.signed) > ResignAfter {
		if err := e.sign(c, req); err != nil {
			return outcome{code: "transport", msg: err.Error()}
		}
		resigned.Add(1)
	}
	setHeaders(req, e)
	resp, err := client.Do(req)
	if err != nil {
		return outcome{took: time.Since(start), code: "transport", msg: err.Error()}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	took := time.Since(start)
	if err != nil {
		return outcome{took: took, code: "transport", msg: fmt.Sprintf("reading the answer: %v", err)}
	}
	o := answer(resp.StatusCode, b)
	o.took = took
	return o
}

// postWire is post over a wire: req holds e's request, serialized before
// the clock started (again, if its signature had to be made again).
func postWire(ctx context.Context, c *Config, w *wire, e *envelope, req *[]byte, resigned *atomic.Int64) outcome {
	start := time.Now()
	if c.Now().Sub(e.signed) > ResignAfter {
		r, err := http.NewRequest(http.MethodPost, c.URL+"/v1/envelopes", bytes.NewReader(e.view))
		if err == nil {
			err = e.sign(c, r)
		}
		if err == nil {
			*req, err = w.request(e)
		}
		if err != nil {
			return outcome{code: "transport", msg: err.Error()}
		}
		resigned.Add(1)
	}
	status, b, err := w.roundTrip(ctx, *req)
	took := time.Since(start)
	if err != nil {
		return outcome{took: took, code: "transport", msg: err.Error()}
	}
	o := answer(status, b)
	o.took = took
	return o
}

// answer classifies the node's answer: a receipt (unverified yet) for a
// 2xx, else the refusal code of its JSON body, or "http_<status>" when the
// body is not a refusal.
func answer(status int, b []byte) outcome {
	switch {
	case len(b) > maxAnswer:
		return outcome{code: "transport", msg: fmt.Sprintf("answer over %d bytes", maxAnswer)}
	case status/100 != 2:
		code, msg := "http_"+strconv.Itoa(status), http.StatusText(status)
		var ref fedapi.Refusal
		if json.Unmarshal(b, &ref) == nil && validCode(ref.Code) {
			code, msg = ref.Code, printable(ref.Message)
		}
		return outcome{code: code, msg: msg}
	case b == nil:
		b = []byte{}
	}
	return outcome{receipt: b}
}

// validCode reports whether a peer's refusal code looks like one: the
// codes are printed and keyed on, so a node answering anything else is
// counted under its HTTP status instead.
func validCode(c string) bool {
	if c == "" || len(c) > 64 {
		return false
	}
	for _, r := range c {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '_' {
			return false
		}
	}
	return true
}

// printable returns at most 200 runes of s with control characters
// replaced: a node's message reaches the operator's terminal.
func printable(s string) string {
	var b strings.Builder
	n := 0
	for _, r := range s {
		if n == 200 {
			b.WriteString("…")
			break
		}
		if unicode.IsControl(r) || r == utf8.RuneError {
			r = '?'
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}

// Codes of receipts that came back but are not what they must be.
const (
	codeReceiptMessage = "receipt_wrong_message"
	codeReceiptParty   = "receipt_wrong_party"
	codeReceiptLog     = "receipt_wrong_log"
	codeReceiptIndex   = "receipt_duplicate_index"
)

// tally verifies every receipt, after the clock stopped, and fills in the
// counts, the rate and the latencies of res.
func tally(res *Result, t *target, envs []envelope, outs []outcome, prog *progress) {
	res.Errors, res.ErrorExamples = map[string]int{}, map[string]string{}
	fail := func(code, msg string) {
		if res.Errors[code] == 0 {
			res.ErrorExamples[code] = msg
		}
		res.Errors[code]++
	}
	prog.start("verify", len(envs))
	defer prog.finish()
	indexes := make(map[uint64]hotline.ID, len(envs))
	var took []time.Duration
	for i, o := range outs {
		prog.add(1)
		if o.receipt == nil {
			fail(o.code, o.msg)
			continue
		}
		took = append(took, o.took)
		r, _, err := hotline.OpenReceipt(o.receipt, t.receiptKey)
		id := envs[i].id
		switch {
		case err != nil:
			code := hotline.ErrorCode(err)
			if code == "" {
				code = hotline.ErrMalformed.Code
			}
			fail("receipt_"+code, fmt.Sprintf("receipt for %s: %v", id, err))
		case r.Message != id:
			fail(codeReceiptMessage, fmt.Sprintf("receipt for %s names message %s", id, r.Message))
		case r.Party != res.Target:
			fail(codeReceiptParty, fmt.Sprintf("receipt for %s is by %s, not %s", id, r.Party, res.Target))
		case r.LogOrigin != t.origin:
			fail(codeReceiptLog, fmt.Sprintf("receipt for %s names log %q, the agreement says %q", id, r.LogOrigin, t.origin))
		default:
			if other, dup := indexes[r.LogIndex]; dup {
				fail(codeReceiptIndex, fmt.Sprintf("receipts for %s and %s both name log index %d", other, id, r.LogIndex))
				continue
			}
			indexes[r.LogIndex] = id
			res.Verified++
		}
	}
	res.Latency = percentiles(took)
	if res.Elapsed > 0 {
		res.Rate = float64(res.Verified) / res.Elapsed.Seconds()
	}
}
