package bench

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/body"
)

func TestPercentiles(t *testing.T) {
	ms := func(ns ...int) []time.Duration {
		var ds []time.Duration
		for _, n := range ns {
			ds = append(ds, time.Duration(n)*time.Millisecond)
		}
		return ds
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = 100 - i // reversed: percentiles sorts
	}
	tests := []struct {
		name string
		in   []time.Duration
		want Latency
	}{
		{"none", nil, Latency{}},
		{"one", ms(7), Latency{P50: 7 * time.Millisecond, P90: 7 * time.Millisecond, P99: 7 * time.Millisecond, Max: 7 * time.Millisecond}},
		{"ten", ms(10, 9, 8, 7, 6, 5, 4, 3, 2, 1), Latency{P50: 5 * time.Millisecond, P90: 9 * time.Millisecond, P99: 10 * time.Millisecond, Max: 10 * time.Millisecond}},
		{"hundred", ms(hundred...), Latency{P50: 50 * time.Millisecond, P90: 90 * time.Millisecond, P99: 99 * time.Millisecond, Max: 100 * time.Millisecond}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, percentiles(tt.in)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestNotification: the benchmark's body is a valid notification of a few
// hundred bytes, distinct per message.
func TestNotification(t *testing.T) {
	now := time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)
	a, err := notification(0, 2000, now)
	if err != nil {
		t.Fatal(err)
	}
	b, err := notification(1999, 2000, now)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(a, b) {
		t.Error("two messages have the same body")
	}
	if len(a) < 200 || len(a) > 1000 {
		t.Errorf("body of %d bytes, want a few hundred", len(a))
	}
	if _, err := body.Parse("notification", b); err != nil {
		t.Error(err)
	}
}

// TestProgress: each phase ends its line, complete, and the last draw
// shows the whole count.
func TestProgress(t *testing.T) {
	var w bytes.Buffer
	p := newProgress(&w)
	p.start("send", 40)
	p.add(40)
	p.finish()
	p.startTimed("limit", 10*time.Millisecond)
	p.set(10)
	p.finish()
	p.close() // nothing left open: draws nothing more
	lines := strings.Split(strings.TrimSuffix(w.String(), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines, want 2: %q", len(lines), w.String())
	}
	if !strings.Contains(lines[0], "\rsend     ["+strings.Repeat("=", barWidth)+"] 40/40") {
		t.Errorf("send line %q", lines[0])
	}
	if !strings.HasPrefix(lines[1], "\rlimit    ["+strings.Repeat("=", barWidth)+"]") {
		t.Errorf("limit line %q", lines[1])
	}
	var none *progress = newProgress(nil)
	none.start("send", 1) // a nil progress draws nothing and does not panic
	none.add(1)
	none.finish()
}

// answerSeeds are the answers in testdata/answers: a receipt signed by the
// key in testdata/receipt.key, refusals, and what a proxy or a hostile
// node might answer.
func answerSeeds(tb testing.TB) map[string][]byte {
	tb.Helper()
	files, err := filepath.Glob("testdata/answers/*")
	if err != nil || len(files) == 0 {
		tb.Fatalf("no seeds in testdata/answers: %v", err)
	}
	seeds := map[string][]byte{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		seeds[filepath.Base(f)] = b
	}
	return seeds
}

// receiptTarget is the target that testdata/answers/receipt is a valid
// receipt of, and the envelope it names.
func receiptTarget(tb testing.TB) (*target, []envelope) {
	tb.Helper()
	b, err := os.ReadFile("testdata/receipt.key")
	if err != nil {
		tb.Fatal(err)
	}
	k, err := hotline.ParseSigningKey(strings.TrimSpace(string(b)))
	if err != nil {
		tb.Fatal(err)
	}
	v, err := k.Verifier()
	if err != nil {
		tb.Fatal(err)
	}
	id, err := hotline.ParseID("5d0092c55f744287964233f4c354e56d8e2e2d2b17d44cbf938f98ee46b3cd3f")
	if err != nil {
		tb.Fatal(err)
	}
	return &target{origin: "hotline/CRI", receiptKey: v}, []envelope{{id: id}}
}

func TestAnswer(t *testing.T) {
	seeds := answerSeeds(t)
	tests := []struct {
		file   string
		status int
		code   string // "" for a receipt
		msg    string
	}{
		{"receipt", 200, "", ""},
		{"refusal.json", 403, "not_ratified", "ELM has not ratified agreement version 1"},
		{"internal.json", 500, "internal", "internal error"},
		{"proxy.html", 502, "http_502", "Bad Gateway"},
		{"escape.json", 400, "http_400", "Bad Request"}, // not a code: counted by status
		{"refusal.json", 200, "", ""},                   // a 2xx is a receipt to verify, whatever it holds
		{"receipt", 404, "http_404", "Not Found"},       // a receipt with an error status is not one
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.file, " ", tt.status), func(t *testing.T) {
			o := answer(tt.status, seeds[tt.file])
			if o.code != tt.code || o.msg != tt.msg {
				t.Errorf("code %q message %q, want %q %q", o.code, o.msg, tt.code, tt.msg)
			}
			if (tt.code == "") != bytes.Equal(o.receipt, seeds[tt.file]) {
				t.Errorf("receipt %q", o.receipt)
			}
		})
	}
	if got := printable("\x1b[31mred\n" + strings.Repeat("x", 300)); strings.ContainsAny(got, "\x1b\n") || utf8.RuneCountInString(got) != 201 {
		t.Errorf("printable left %q", got)
	}
}

// TestTallyReceipt checks the receipt from testdata against what it must
// name.
func TestTallyReceipt(t *testing.T) {
	rc := answerSeeds(t)["receipt"]
	tests := []struct {
		name   string
		change func(t *target, envs []envelope)
		target string
		want   map[string]int
	}{
		{"good", nil, "CRI", map[string]int{}},
		{"another message", func(_ *target, envs []envelope) { envs[0].id[0] ^= 1 }, "CRI", map[string]int{codeReceiptMessage: 1}},
		{"another party", nil, "DOR", map[string]int{codeReceiptParty: 1}},
		{"another log", func(t *target, _ []envelope) { t.origin = "hotline/elsewhere" }, "CRI", map[string]int{codeReceiptLog: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tg, envs := receiptTarget(t)
			if tt.change != nil {
				tt.change(tg, envs)
			}
			res := &Result{Target: tt.target, Elapsed: time.Second}
			tally(res, tg, envs, []outcome{{took: time.Millisecond, receipt: rc}}, nil)
			if diff := cmp.Diff(tt.want, res.Errors); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
			if want := 1 - len(tt.want); res.Verified != want || res.Rate != float64(want) {
				t.Errorf("verified %d at %v/s", res.Verified, res.Rate)
			}
		})
	}
	// Two receipts naming one log index: the second is an error.
	tg, envs := receiptTarget(t)
	envs = append(envs, envs[0])
	res := &Result{Target: "CRI", Elapsed: time.Second}
	tally(res, tg, envs, []outcome{{receipt: rc}, {receipt: rc}}, nil)
	if res.Verified != 1 || res.Errors[codeReceiptIndex] != 1 {
		t.Errorf("verified %d, errors %v", res.Verified, res.Errors)
	}
}

// FuzzAnswer: whatever a node answers, the bench classifies it without
// panicking, counts the message exactly once, prints nothing but a
// well-formed code and printable text, and verifies only a receipt that
// does verify and names the envelope.
func FuzzAnswer(f *testing.F) {
	for _, b := range answerSeeds(f) {
		for _, status := range []int{200, 400, 500} {
			f.Add(status, b)
		}
	}
	tg, envs := receiptTarget(f)
	f.Fuzz(func(t *testing.T, status int, b []byte) {
		status = 100 + (status%500+500)%500
		o := answer(status, b)
		if status/100 == 2 {
			if o.code != "" || !bytes.Equal(o.receipt, b) || o.receipt == nil {
				t.Fatalf("2xx answer classified as %+v", o)
			}
		} else {
			if o.receipt != nil || !validCode(o.code) {
				t.Fatalf("refusal classified as %+v", o)
			}
			for _, r := range o.msg {
				if unicode.IsControl(r) {
					t.Fatalf("message %q holds a control character", o.msg)
				}
			}
		}
		res := &Result{Target: "CRI", Elapsed: time.Second}
		tally(res, tg, envs, []outcome{o}, nil)
		if res.Verified+res.Failed() != 1 {
			t.Fatalf("counted %d verified and %v failed", res.Verified, res.Errors)
		}
		if res.Verified == 1 {
			r, _, err := hotline.OpenReceipt(b, tg.receiptKey)
			if err != nil || r.Message != envs[0].id {
				t.Fatalf("verified an answer that is not a receipt for the envelope: %v", err)
			}
		}
	})
}
