package hotline

import (
	"crypto/ed25519"
	"crypto/hpke"
	"crypto/rand"
	"fmt"
	"testing"
)

// The references: bare Ed25519 and bare HPKE, measured in the same run as
// the envelope operations built on them (docs/PERFORMANCE.md).

func BenchmarkRefEd25519Sign(b *testing.B) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	msg := make([]byte, 1024)
	for b.Loop() {
		ed25519.Sign(priv, msg)
	}
}

func BenchmarkRefEd25519Verify(b *testing.B) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	msg := make([]byte, 1024)
	sig := ed25519.Sign(priv, msg)
	for b.Loop() {
		if !ed25519.Verify(pub, msg, sig) {
			b.Fatal("verify failed")
		}
	}
}

func BenchmarkRefHPKESeal(b *testing.B) {
	k, _ := hpke.MLKEM768X25519().GenerateKey()
	key := make([]byte, 32)
	for b.Loop() {
		if _, err := hpke.Seal(k.PublicKey(), hpke.HKDFSHA256(), hpke.ChaCha20Poly1305(), []byte("info"), key); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRefHPKEOpen(b *testing.B) {
	k, _ := hpke.MLKEM768X25519().GenerateKey()
	ct, _ := hpke.Seal(k.PublicKey(), hpke.HKDFSHA256(), hpke.ChaCha20Poly1305(), []byte("info"), make([]byte, 32))
	for b.Loop() {
		if _, err := hpke.Open(k, hpke.HKDFSHA256(), hpke.ChaCha20Poly1305(), []byte("info"), ct); err != nil {
			b.Fatal(err)
		}
	}
}

// benchParties returns n recipient ids and their key sets (keys are shared
// between recipients past the first few: generating 192 ML-KEM keys would
// dominate the setup, and sealing cost does not depend on which key).
func benchParties(b *testing.B, n int) (map[string]*KeySet, []string) {
	b.Helper()
	keys := newTestKeySets(b, "BER", "CRI", "DOR")
	var to []string
	for i := range n {
		p := fmt.Sprintf("P%03d", i)
		keys[p] = keys[[]string{"CRI", "DOR"}[i%2]]
		to = append(to, p)
	}
	return keys, to
}

func benchDraft(b *testing.B, n int) (*Draft, map[string]*KeySet) {
	keys, to := benchParties(b, n)
	d := newTestDraft(keys, "BER", to...)
	d.Body = make([]byte, 4096)
	return d, keys
}

// BenchmarkSeal seals and signs a 4 KiB body to 1 and to 192 recipients.
// Target: ≤ 50 ms for 192 recipients.
func BenchmarkSeal(b *testing.B) {
	for _, n := range []int{1, 192} {
		b.Run(fmt.Sprintf("recipients=%d", n), func(b *testing.B) {
			d, keys := benchDraft(b, n)
			for b.Loop() {
				if _, err := Seal(d, keys["BER"].Message); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkVerify verifies the signature and commitments of a recipient's
// view of a 192-recipient envelope, as a recipient does.
func BenchmarkVerify(b *testing.B) {
	d, keys := benchDraft(b, 192)
	e := mustSeal(b, keys, d)
	v, _ := e.View("P000")
	wire := v.Marshal()
	ver := mustVerifier(b, keys["BER"].Message)
	for b.Loop() {
		p, err := Parse(wire)
		if err != nil {
			b.Fatal(err)
		}
		if err := p.Verify(ver); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOpen opens a recipient's view of a 192-recipient envelope.
func BenchmarkOpen(b *testing.B) {
	d, keys := benchDraft(b, 192)
	e := mustSeal(b, keys, d)
	v, _ := e.View("P000")
	k := keys["P000"].Encryption
	for b.Loop() {
		if _, err := v.Open("P000", k); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReceipt signs a receipt and opens it, as the two ends do.
func BenchmarkReceipt(b *testing.B) {
	keys := newTestKeySets(b, "CRI")
	r := &Receipt{Message: ID{1}, Party: "CRI", Received: testTime, LogOrigin: "hotline/CRI", LogIndex: 12345}
	v := mustVerifier(b, keys["CRI"].Message)
	for b.Loop() {
		s, err := Sign(r, keys["CRI"].Message)
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := OpenReceipt(s, v); err != nil {
			b.Fatal(err)
		}
	}
}
