package tlog

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/transparency-dev/tessera"
	"github.com/transparency-dev/tessera/storage/posix"
)

// appendFunc appends one entry and returns when it is durable.
type appendFunc func(ctx context.Context, e [32]byte) error

// openBare opens bare Tessera POSIX with the options Open uses by default,
// as the reference.
func openBare(b *testing.B, key testKey) (appendFunc, func()) {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	d, err := posix.New(ctx, posix.Config{Path: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	app, shut, _, err := tessera.NewAppender(ctx, d, tessera.NewAppendOptions().
		WithCheckpointSigner(key.signer).
		// Bare Tessera as its authors tune it for throughput: batches of 256
		// or 2 ms, whichever comes first (our Log batches in front of it,
		// see gate.go, and so uses a shorter age).
		WithBatching(256, 2*time.Millisecond).
		WithCheckpointInterval(DefaultCheckpointInterval))
	if err != nil {
		b.Fatal(err)
	}
	return func(ctx context.Context, e [32]byte) error {
			_, err := app.Add(ctx, tessera.NewEntry(e[:]))()
			return err
		}, func() {
			shut(context.Background())
			cancel()
		}
}

func openOurs(b *testing.B, key testKey) (appendFunc, func()) {
	b.Helper()
	l, err := Open(context.Background(), Config{Dir: b.TempDir(), Signer: key.signer, Verifier: key.verifier})
	if err != nil {
		b.Fatal(err)
	}
	return func(ctx context.Context, e [32]byte) error {
		_, err := l.Append(ctx, e)
		return err
	}, func() { l.Close() }
}

// runAppends makes n appends from the given number of concurrent callers
// and returns the elapsed time and each append's latency.
func runAppends(b *testing.B, add appendFunc, callers int, first, n int64) (time.Duration, []time.Duration) {
	var next atomic.Int64
	next.Store(first)
	lat := make([][]time.Duration, callers)
	var wg sync.WaitGroup
	start := time.Now()
	for c := 0; c < callers; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= first+n {
					return
				}
				t0 := time.Now()
				if err := add(context.Background(), entryFor("bench", int(i))); err != nil {
					b.Error(err)
					return
				}
				lat[c] = append(lat[c], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	return time.Since(start), slices.Concat(lat...)
}

// BenchmarkAppend measures appends per second with 1 and 256 concurrent
// callers, for this package's Log and for bare Tessera POSIX with the same
// batching, in the same run: the two alternate in rounds (of 10 appends per
// caller), so that load from other processes on a shared machine falls on
// both alike. b.N appends go to each. It reports both rates, their ratio,
// and the median and 99th-percentile latency of one append (with one
// caller, what a lone receipt waits).
func BenchmarkAppend(b *testing.B) {
	for _, callers := range []int{1, 256} {
		b.Run(fmt.Sprintf("callers=%d", callers), func(b *testing.B) {
			key := newTestKey(b, "example.net/hotline/bench")
			ours, closeOurs := openOurs(b, key)
			defer closeOurs()
			bare, closeBare := openBare(b, key)
			defer closeBare()
			round := int64(10 * callers)
			var tOurs, tBare time.Duration
			var lOurs, lBare []time.Duration
			b.ResetTimer()
			for done := int64(0); done < int64(b.N); done += round {
				n := min(round, int64(b.N)-done)
				d, l := runAppends(b, bare, callers, done, n)
				tBare, lBare = tBare+d, append(lBare, l...)
				d, l = runAppends(b, ours, callers, done, n)
				tOurs, lOurs = tOurs+d, append(lOurs, l...)
			}
			b.StopTimer()
			slices.Sort(lOurs)
			slices.Sort(lBare)
			ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
			b.ReportMetric(float64(b.N)/tOurs.Seconds(), "appends/s")
			b.ReportMetric(float64(b.N)/tBare.Seconds(), "tessera-appends/s")
			b.ReportMetric(tBare.Seconds()/tOurs.Seconds(), "ratio")
			b.ReportMetric(ms(lOurs[len(lOurs)/2]), "ms-median")
			b.ReportMetric(ms(lOurs[len(lOurs)*99/100]), "ms-p99")
			b.ReportMetric(ms(lBare[len(lBare)/2]), "tessera-ms-median")
			b.ReportMetric(0, "ns/op")
		})
	}
}
