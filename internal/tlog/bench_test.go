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
		WithBatching(DefaultBatchMaxSize, DefaultBatchMaxAge).
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

// BenchmarkAppend measures appends per second with 1 and 256 concurrent
// callers, for this package's Log and, in the same run, for bare Tessera
// POSIX with the same batching. It also reports the median latency of one
// append (with one caller, the latency a lone receipt waits).
func BenchmarkAppend(b *testing.B) {
	for _, callers := range []int{1, 256} {
		for _, impl := range []string{"tessera", "hotline"} {
			b.Run(fmt.Sprintf("impl=%s/callers=%d", impl, callers), func(b *testing.B) {
				key := newTestKey(b, "example.net/hotline/bench")
				open := openOurs
				if impl == "tessera" {
					open = openBare
				}
				add, closeFn := open(b, key)
				defer closeFn()
				var next atomic.Int64
				lat := make([][]time.Duration, callers)
				var wg sync.WaitGroup
				b.ResetTimer()
				start := time.Now()
				for c := 0; c < callers; c++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for {
							i := next.Add(1) - 1
							if i >= int64(b.N) {
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
				elapsed := time.Since(start)
				b.StopTimer()
				all := slices.Concat(lat...)
				slices.Sort(all)
				b.ReportMetric(float64(b.N)/elapsed.Seconds(), "appends/s")
				b.ReportMetric(float64(all[len(all)/2].Microseconds())/1000, "ms-median")
				b.ReportMetric(float64(all[len(all)*99/100].Microseconds())/1000, "ms-p99")
			})
		}
	}
}
