package node_test

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/hotline-net/hotline/agreement"
	"github.com/hotline-net/hotline/internal/clock"
	"github.com/hotline-net/hotline/internal/watch"
)

// BenchmarkWatchPass measures the watch's passes over the compliance
// report's fixture (see BenchmarkComplianceReport, whose environment
// variables it reads): "first" is the pass after a start, which judges
// every stored message; "scoped" a later pass, which judges only the live
// threads and lists the messages stored since the previous pass — "busy"
// at the fixture's last message, when most of its requests are open (more
// live threads than the watch judges one by one: it judges everything at
// once), "quiet" a month later, when every case is decided and escalated.
// It reports the threads the watch keeps (threads/op).
func BenchmarkWatchPass(b *testing.B) {
	n := 4000
	if s := os.Getenv("HOTLINE_OBLIGATIONS_MESSAGES"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 4 {
			b.Fatalf("HOTLINE_OBLIGATIONS_MESSAGES=%q: want a number of messages, at least 4", s)
		}
		n = v
	}
	dir := os.Getenv("HOTLINE_OBLIGATIONS_FIXTURE")
	if dir == "" {
		dir = b.TempDir()
	}
	ctx := context.Background()
	st, agr := mustFixture(b, dir, n)
	defer st.Close()
	clk := clock.NewFake(fixtureTime.Add(time.Duration(n/4) * time.Second))
	src := watch.NodeSource{Store: st, Self: "BER", Agreement: func() *agreement.Agreement { return agr }}
	newWatcher := func() *watch.Watcher {
		w, err := watch.New(watch.Config{Source: src, Values: st, Clock: clk})
		if err != nil {
			b.Fatal(err)
		}
		return w
	}
	b.Run("first", func(b *testing.B) {
		for b.Loop() {
			if _, err := newWatcher().Check(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, bb := range []struct {
		name  string
		after time.Duration
	}{{"busy", 0}, {"quiet", 30 * 24 * time.Hour}} {
		b.Run("scoped/"+bb.name, func(b *testing.B) {
			clk.Set(fixtureTime.Add(time.Duration(n/4)*time.Second + bb.after))
			scoped(b, newWatcher())
		})
	}
}

func scoped(b *testing.B, w *watch.Watcher) {
	ctx := context.Background()
	{
		if _, err := w.Check(ctx); err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		for b.Loop() {
			if _, err := w.Check(ctx); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(w.Watched()), "threads/op")
	}
}
