package evidence

import (
	"crypto/ed25519"
	"crypto/rand"
	"sync"
	"testing"
	"time"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/merkle/testonly"

	"github.com/hotline-net/hotline"
)

// benchMessages is how many requests the benchmark's bundles show: each
// obliges an acknowledgement and a response, so twice as many obligations.
const benchMessages = 500

var (
	benchOnce sync.Once
	benchData [2][]byte
	benchPin  Pin
	benchAt   time.Time
)

// benchBundles returns the two sides' bundles of 500 mitigation requests
// from ARV to ESK, each receipted and acknowledged (1,000 obligations):
// each bundle carries 1,000 envelopes, 1,000 receipts and 1,500 inclusion
// proofs, and the two logs' checkpoints.
func benchBundles(b *testing.B) ([2][]byte, Pin, time.Time) {
	benchOnce.Do(func() {
		w := newWorld(b)
		for i := range benchMessages {
			at := time.Duration(i) * time.Minute
			m := w.send("ARV", "ESK", "mitigation_request", hotline.SeverityHigh, at)
			w.receive(m, "ESK", at+time.Second)
			ack := w.send("ESK", "ARV", "ack", hotline.SeverityHigh, at+time.Hour, m.ID())
			w.receive(ack, "ARV", at+time.Hour+time.Second)
		}
		for _, p := range []string{"ARV", "ESK"} {
			w.checkpoint(p, all(p, 20*24*h))
		}
		for i, p := range [][2]string{{"ARV", "ESK"}, {"ESK", "ARV"}} {
			data, err := w.bundle(p[0], p[1], nil).Marshal(w.keys[p[0]].Message)
			if err != nil {
				b.Fatal(err)
			}
			benchData[i] = data
		}
		benchPin, benchAt = w.pin(), w.at(30*24*h)
	})
	return benchData, benchPin, benchAt
}

// BenchmarkVerify parses and verifies both sides' bundles and judges their
// 1,000 obligations, reporting obligations verified per second. The two
// benchmarks below measure, in the same run, what one proof costs: an
// Ed25519 signature and an inclusion proof.
func BenchmarkVerify(b *testing.B) {
	data, pin, at := benchBundles(b)
	var obs int
	for b.Loop() {
		bs, err := ParseAll(data[:])
		if err != nil {
			b.Fatal(err)
		}
		rep, err := Verify(bs, pin, at)
		if err != nil {
			b.Fatal(err)
		}
		obs = len(rep.Obligations)
	}
	if obs != 2*benchMessages {
		b.Fatalf("%d obligations, want %d", obs, 2*benchMessages)
	}
	b.ReportMetric(float64(obs)*float64(b.N)/b.Elapsed().Seconds(), "obligations/s")
	b.ReportMetric(float64(len(data[0])+len(data[1]))/1e6, "MB")
}

// BenchmarkEd25519Verify is one signature check, the unit of most of a
// bundle's proofs (envelopes, receipts, checkpoints, cosignatures).
func BenchmarkEd25519Verify(b *testing.B) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	msg := make([]byte, 200)
	sig := ed25519.Sign(priv, msg)
	for b.Loop() {
		if !ed25519.Verify(pub, msg, sig) {
			b.Fatal("does not verify")
		}
	}
}

// BenchmarkInclusionVerify is one inclusion proof in a log of 4,000
// entries (the benchmark bundles' logs hold 3,000).
func BenchmarkInclusionVerify(b *testing.B) {
	t := testonly.New(rfc6962.DefaultHasher)
	for i := range 4000 {
		t.AppendData([]byte{byte(i), byte(i >> 8)})
	}
	p, err := t.InclusionProof(1234, t.Size())
	if err != nil {
		b.Fatal(err)
	}
	leaf, root := t.LeafHash(1234), t.Hash()
	for b.Loop() {
		if err := proof.VerifyInclusion(rfc6962.DefaultHasher, 1234, t.Size(), leaf, p, root); err != nil {
			b.Fatal(err)
		}
	}
}
