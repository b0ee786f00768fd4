package cleanroom

import (
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"math/big"
	"math/bits"
)

// ChaCha20-Poly1305 (RFC 8439), written here because the standard library
// does not export it: the payload AEAD of PROTOCOL.md §4 step 5.

func quarter(s *[16]uint32, a, b, c, d int) {
	s[a] += s[b]
	s[d] = bits.RotateLeft32(s[d]^s[a], 16)
	s[c] += s[d]
	s[b] = bits.RotateLeft32(s[b]^s[c], 12)
	s[a] += s[b]
	s[d] = bits.RotateLeft32(s[d]^s[a], 8)
	s[c] += s[d]
	s[b] = bits.RotateLeft32(s[b]^s[c], 7)
}

func chachaBlock(key []byte, counter uint32, nonce []byte) []byte {
	var s, x [16]uint32
	s[0], s[1], s[2], s[3] = 0x61707865, 0x3320646e, 0x79622d32, 0x6b206574
	for i := 0; i < 8; i++ {
		s[4+i] = binary.LittleEndian.Uint32(key[4*i:])
	}
	s[12] = counter
	for i := 0; i < 3; i++ {
		s[13+i] = binary.LittleEndian.Uint32(nonce[4*i:])
	}
	x = s
	for i := 0; i < 10; i++ {
		quarter(&x, 0, 4, 8, 12)
		quarter(&x, 1, 5, 9, 13)
		quarter(&x, 2, 6, 10, 14)
		quarter(&x, 3, 7, 11, 15)
		quarter(&x, 0, 5, 10, 15)
		quarter(&x, 1, 6, 11, 12)
		quarter(&x, 2, 7, 8, 13)
		quarter(&x, 3, 4, 9, 14)
	}
	out := make([]byte, 64)
	for i := range x {
		binary.LittleEndian.PutUint32(out[4*i:], x[i]+s[i])
	}
	return out
}

func poly1305(key, msg []byte) []byte {
	rb := make([]byte, 16)
	copy(rb, key[:16])
	rb[3] &= 15
	rb[7] &= 15
	rb[11] &= 15
	rb[15] &= 15
	rb[4] &= 252
	rb[8] &= 252
	rb[12] &= 252
	le := func(b []byte) *big.Int {
		r := make([]byte, len(b))
		for i := range b {
			r[len(b)-1-i] = b[i]
		}
		return new(big.Int).SetBytes(r)
	}
	r, sk := le(rb), le(key[16:32])
	p := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 130), big.NewInt(5))
	acc := new(big.Int)
	for i := 0; i < len(msg); i += 16 {
		end := min(i+16, len(msg))
		n := le(append(append([]byte{}, msg[i:end]...), 1))
		acc.Add(acc, n)
		acc.Mul(acc, r)
		acc.Mod(acc, p)
	}
	acc.Add(acc, sk)
	b := acc.Bytes()
	tag := make([]byte, 16)
	for i := 0; i < 16 && i < len(b); i++ {
		tag[i] = b[len(b)-1-i]
	}
	return tag
}

func chachaPolyOpen(key, nonce, ct, aad []byte) ([]byte, error) {
	if len(ct) < 16 {
		return nil, errors.New("short ciphertext")
	}
	body, tag := ct[:len(ct)-16], ct[len(ct)-16:]
	otk := chachaBlock(key, 0, nonce)[:32]
	pad := func(b []byte) []byte { return append(b, make([]byte, (16-len(b)%16)%16)...) }
	mac := pad(append([]byte{}, aad...))
	mac = append(mac, pad(append([]byte{}, body...))...)
	mac = binary.LittleEndian.AppendUint64(mac, uint64(len(aad)))
	mac = binary.LittleEndian.AppendUint64(mac, uint64(len(body)))
	if subtle.ConstantTimeCompare(poly1305(otk, mac), tag) != 1 {
		return nil, errors.New("poly1305 tag mismatch")
	}
	out := make([]byte, len(body))
	for i := 0; i < len(body); i += 64 {
		ks := chachaBlock(key, uint32(1+i/64), nonce)
		for j := i; j < len(body) && j < i+64; j++ {
			out[j] = body[j] ^ ks[j-i]
		}
	}
	return out, nil
}
