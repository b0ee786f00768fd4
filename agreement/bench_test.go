package agreement

import (
	"crypto/ed25519"
	"fmt"
	"testing"
	"time"

	"github.com/hotline-net/hotline"
)

// benchAgreement returns a signed, ratified agreement of n parties and a
// depositary, all witnesses.
func benchAgreement(b *testing.B, n int) *Agreement {
	b.Helper()
	sp := func(id string) SampleParty {
		return SampleParty{Keys: mustKeys(b, id), Endpoints: []string{"https://" + id + ".example/"}}
	}
	cfg := SampleConfig{Depositary: sp("DEP"), Time: t0}
	for i := range n {
		cfg.Parties = append(cfg.Parties, sp(fmt.Sprintf("P%03d", i)))
	}
	a, err := Sample(cfg)
	if err != nil {
		b.Fatal(err)
	}
	return a
}

// BenchmarkLoad193 parses and verifies the agreement of the 193 UN member
// states and a depositary: what a node does at start and on every update.
func BenchmarkLoad193(b *testing.B) {
	data := benchAgreement(b, 193).Marshal()
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for b.Loop() {
		a, err := Parse(data)
		if err != nil {
			b.Fatal(err)
		}
		if err := a.Verify(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMessageKey is the lookup a node makes for every envelope it
// receives.
func BenchmarkMessageKey(b *testing.B) {
	a := benchAgreement(b, 193)
	at := t0.Add(time.Hour)
	for b.Loop() {
		if _, err := a.MessageKey("P100", at); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReferenceEd25519Verify is the reference for the two above: one
// bare Ed25519 verification, measured in the same run.
func BenchmarkReferenceEd25519Verify(b *testing.B) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	msg := []byte(hotline.RatificationTag + "\nparty BER\n")
	sig := ed25519.Sign(priv, msg)
	for b.Loop() {
		if !ed25519.Verify(pub, msg, sig) {
			b.Fatal("bad signature")
		}
	}
}
