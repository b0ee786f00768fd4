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
// KiB of raw bytes and a 256-byte body, a distinct id, from one of 192
// parties, each party's envelopes numbered and linked in turn.
func benchEnvelope(run string, i uint64) *store.Received {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], i)
	id := hotline.ID(sha256.Sum256(append([]byte(run), b[:]...)))
	raw := make([]byte, EnvelopeSize)
	for j := 0; j < len(raw); j += len(id) {
		copy(raw[j:], id[:])
	}
	from := fmt.Sprintf("P%03d", i%192)
	var prev hotline.ID // the sender's previous envelope, as the sequence rule wants
	if i >= 192 {
		binary.BigEndian.PutUint64(b[:], i-192)
		prev = hotline.ID(sha256.Sum256(append([]byte(run), b[:]...)))
	}
	return &store.Received{
		Envelope: store.Envelope{
			Direction: hotline.Received, ID: id, From: from, To: []string{Self},
			Created: base, AgreementHash: ID("agreement 1"), Kind: "notification",
			Severity: hotline.SeverityHigh, Marking: hotline.TLPAmber, Raw: raw,
			Body: raw[:256], At: base, PairSeq: i/192 + 1, PairPrev: prev,
		},
		Entry: hotline.LeafEntry(Self, hotline.Received, id),
	}
}

// Parallel runs fn(i) for every i in [from, to) on the given number of
// goroutines, and returns the first error.
func Parallel(writers int, from, to uint64, fn func(i uint64) error) error {
	var next atomic.Uint64
	next.Store(from)
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= to {
					return
				}
				if err := fn(i); err != nil {
					once.Do(func() { first = err })
					next.Store(to)
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}

// Contender is one side of a benchmark comparison.
type Contender struct {
	// Name names the contender's metrics.
	Name string
	// Run performs the operations numbered from to to-1, with whatever
	// concurrency the contender stands for.
	Run func(from, to uint64) error
}

// contendRounds is how many turns each contender takes.
const contendRounds = 10

// Contend runs b.N operations of each contender, in turns of b.N/10, so
// that the load other processes put on a shared machine falls on all of
// them alike. It reports each contender's rate (Name-unit/s), its CPU time
// per operation (Name-cpu-µs/op: this process, user and system), and the
// ratio of the first contender's rate to each other's (first/Name).
func Contend(b *testing.B, unit string, cs ...Contender) {
	b.Helper()
	n := uint64(b.N)
	step := max(n/contendRounds, 1)
	elapsed := make([]time.Duration, len(cs))
	cpu := make([]time.Duration, len(cs))
	b.ResetTimer()
	for from := uint64(0); from < n; from += step {
		to := min(from+step, n)
		for i, c := range cs {
			cpu0, start := cpuTime(), time.Now()
			if err := c.Run(from, to); err != nil {
				b.Fatalf("%s: %v", c.Name, err)
			}
			elapsed[i] += time.Since(start)
			cpu[i] += cpuTime() - cpu0
		}
	}
	b.StopTimer()
	rate := make([]float64, len(cs))
	for i, c := range cs {
		rate[i] = float64(n) / elapsed[i].Seconds()
		b.ReportMetric(rate[i], c.Name+"-"+unit+"/s")
		if cpu[i] > 0 {
			b.ReportMetric(float64(cpu[i].Microseconds())/float64(n), c.Name+"-cpu-µs/op")
		}
		if i > 0 {
			b.ReportMetric(rate[0]/rate[i], cs[0].Name+"/"+c.Name)
		}
	}
}

// InsertReceived is the contender that calls [store.Store.InsertReceived]
// with 1 KiB envelopes (the envelope row and its pending leaf, durable on
// return) from the given number of goroutines.
func InsertReceived(s store.Store, writers int) Contender {
	run := fmt.Sprint(time.Now().UnixNano())
	return Contender{Name: "store", Run: func(from, to uint64) error {
		return Parallel(writers, from, to, func(i uint64) error {
			_, err := s.InsertReceived(context.Background(), benchEnvelope(run, i))
			return err
		})
	}}
}

// AcceptPath is the contender that runs the store's share of the accept
// path with 1 KiB envelopes — InsertReceived, then Sequenced with the
// receipt: two durable writes — from the given number of goroutines.
func AcceptPath(s store.Store, writers int) Contender {
	run := fmt.Sprint(time.Now().UnixNano())
	var log Log
	return Contender{Name: "accept", Run: func(from, to uint64) error {
		return Parallel(writers, from, to, func(i uint64) error {
			_, err := Accept(context.Background(), s, &log, benchEnvelope(run, i))
			return err
		})
	}}
}

// batcher is implemented by stores that count their group commits.
type batcher interface {
	Batches() (batches, writes int64)
}

// ReportBatches runs fn and reports how many of s's writes shared each
// commit meanwhile, on average (writes/commit), if s counts them.
func ReportBatches(b *testing.B, s store.Store, fn func()) {
	bs, ok := s.(batcher)
	if !ok {
		fn()
		return
	}
	batches0, writes0 := bs.Batches()
	fn()
	batches1, writes1 := bs.Batches()
	if batches1 > batches0 {
		b.ReportMetric(float64(writes1-writes0)/float64(batches1-batches0), "writes/commit")
	}
}

// Bare returns what a benchmark compares the store with for a number of
// writers: the engine's own inserts of rows as large, without the store.
type Bare func(b *testing.B, writers int) []Contender

// BenchInsert is an engine's BenchmarkInsert: the store's durable inserts
// of 1 KiB envelopes (InsertReceived) against bare, in turns within one
// run, with 1 and 64 writers.
func BenchInsert(b *testing.B, newBackend NewBackend, bare Bare) {
	benchWriters(b, newBackend, InsertReceived, bare)
}

// BenchAccept is an engine's BenchmarkAccept: the store's share of the
// accept path (AcceptPath: two durable writes per envelope) against bare,
// in turns within one run, with 1 and 64 writers.
func BenchAccept(b *testing.B, newBackend NewBackend, bare Bare) {
	benchWriters(b, newBackend, AcceptPath, bare)
}

func benchWriters(b *testing.B, newBackend NewBackend, contender func(store.Store, int) Contender, bare Bare) {
	for _, writers := range []int{1, 64} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			s := MustOpenBench(b, newBackend(b))
			cs := append([]Contender{contender(s, writers)}, bare(b, writers)...)
			ReportBatches(b, s, func() { Contend(b, "envelopes", cs...) })
		})
	}
}

// MustOpenBench opens a store for a benchmark and closes it at the end.
func MustOpenBench(b *testing.B, open Opener) store.Store {
	b.Helper()
	s, err := open(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}
