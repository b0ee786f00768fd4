package storetest

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/internal/store"
)

// EnvelopeSize is the size of the envelopes the benchmarks insert.
const EnvelopeSize = 1024

// benchEnvelope returns the i-th received envelope of a benchmark run: 1
// KiB of raw bytes, a distinct id, from one of 192 parties.
func benchEnvelope(run string, i uint64) *store.Received {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], i)
	id := hotline.ID(sha256.Sum256(append([]byte(run), b[:]...)))
	raw := make([]byte, EnvelopeSize)
	for j := 0; j < len(raw); j += len(id) {
		copy(raw[j:], id[:])
	}
	from := fmt.Sprintf("P%03d", i%192)
	return &store.Received{
		Envelope: store.Envelope{
			Direction: hotline.Received, ID: id, From: from, To: []string{Self},
			Created: base, AgreementHash: ID("agreement 1"), Kind: "notification",
			Severity: hotline.SeverityHigh, Marking: hotline.TLPAmber, Raw: raw,
			Body: raw[:256], At: base, PairSeq: i/192 + 1,
		},
		Entry: hotline.LeafEntry(Self, hotline.Received, id),
	}
}

// Parallel runs fn b.N times in total on the given number of goroutines
// and reports the rate as name per second.
func Parallel(b *testing.B, writers int, name string, fn func(i uint64) error) {
	b.Helper()
	var next atomic.Uint64
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	n := uint64(b.N)
	b.ResetTimer()
	cpu0 := cpuTime()
	start := time.Now()
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= n {
					return
				}
				if err := fn(i); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu := cpuTime() - cpu0
	b.StopTimer()
	if firstErr != nil {
		b.Fatal(firstErr)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), name+"/s")
	if cpu > 0 {
		// CPU time per operation (this process, user and system) moves
		// much less than wall time on a machine shared with others.
		b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/op")
	}
}

// BenchmarkInsertReceived measures [store.Store.InsertReceived] of 1 KiB
// envelopes (the envelope row and its pending leaf, one transaction each,
// durable on return) with the given number of concurrent writers.
func BenchmarkInsertReceived(b *testing.B, open Opener, writers int) {
	s, err := open(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	run := fmt.Sprint(time.Now().UnixNano())
	ctx := context.Background()
	b.SetBytes(EnvelopeSize)
	batches0, writes0 := batches(s)
	Parallel(b, writers, "envelopes", func(i uint64) error {
		_, err := s.InsertReceived(ctx, benchEnvelope(run, i))
		return err
	})
	reportBatches(b, s, batches0, writes0)
}

// batcher is implemented by stores that count their group commits.
type batcher interface {
	Batches() (batches, writes int64)
}

func batches(s store.Store) (int64, int64) {
	if b, ok := s.(batcher); ok {
		return b.Batches()
	}
	return 0, 0
}

// reportBatches reports how many writes shared each commit, on average.
func reportBatches(b *testing.B, s store.Store, batches0, writes0 int64) {
	batches1, writes1 := batches(s)
	if batches1 > batches0 {
		b.ReportMetric(float64(writes1-writes0)/float64(batches1-batches0), "writes/commit")
	}
}

// BenchmarkAccept measures the store's whole share of the accept path of
// 1 KiB envelopes: InsertReceived, then Sequenced with the receipt (two
// durable writes), with the given number of concurrent writers.
func BenchmarkAccept(b *testing.B, open Opener, writers int) {
	s, err := open(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	run := fmt.Sprint(time.Now().UnixNano())
	ctx := context.Background()
	hw, err := s.HighWater(ctx)
	if err != nil {
		b.Fatal(err)
	}
	var log Log
	log.next.Store(hw)
	b.SetBytes(EnvelopeSize)
	batches0, writes0 := batches(s)
	Parallel(b, writers, "envelopes", func(i uint64) error {
		_, err := Accept(ctx, s, &log, benchEnvelope(run, i))
		return err
	})
	reportBatches(b, s, batches0, writes0)
}
