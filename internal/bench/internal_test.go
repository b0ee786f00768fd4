package bench

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

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
