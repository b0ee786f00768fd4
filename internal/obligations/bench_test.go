package obligations

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/hotline-net/hotline"
)

// BenchmarkEvaluate judges and reports 100,000 messages held in memory:
// requests from 26 parties, each acknowledged by three in four. The
// store-backed figure is node's BenchmarkComplianceReport; it reports the
// CPU time per run (cpu-s/op) too.
func BenchmarkEvaluate(b *testing.B) {
	terms := newTestTerms(b)
	const n = 100_000
	var in Input
	id := func(i int, k byte) hotline.ID {
		var x hotline.ID
		binary.BigEndian.PutUint64(x[:], uint64(i))
		x[8] = k
		return x
	}
	for i := range n / 2 {
		peer := string(rune('A'+i%26)) + "X"
		at := t0.Add(time.Duration(i) * time.Second)
		in.Messages = append(in.Messages, Message{ID: id(i, 0), From: peer, To: []string{"BER"}, Kind: "mitigation_request", Severity: hotline.SeverityHigh, Agreement: v1, Created: at})
		in.Deliveries = append(in.Deliveries, Delivery{Message: id(i, 0), Recipient: "BER", Receipt: at})
		if i%4 != 3 {
			in.Messages = append(in.Messages, Message{ID: id(i, 1), From: "BER", To: []string{peer}, Kind: "ack", Agreement: v1, Refs: []hotline.ID{id(i, 0)}, Thread: id(i, 0), Created: at.Add(time.Hour)})
			in.Deliveries = append(in.Deliveries, Delivery{Message: id(i, 1), Recipient: peer, Receipt: at.Add(time.Hour)})
		}
	}
	now := t0.Add(60 * 24 * time.Hour)
	var cpu time.Duration
	for b.Loop() {
		cpu0 := cpuTime()
		res := Evaluate(terms, Config{SkipEvents: true}, &in, now)
		Report(res.Obligations, Filter{}, now)
		cpu += cpuTime() - cpu0
	}
	if cpu > 0 {
		// Evaluate judges on several goroutines: the CPU time is the
		// figure a shared machine stretches less.
		b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/op")
	}
}
