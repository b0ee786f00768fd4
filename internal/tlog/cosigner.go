package tlog

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"
)

// Clock tells the time. Witnesses timestamp their cosignatures with it.
type Clock interface {
	Now() time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// Signature type bytes of C2SP signed-note.
const (
	algEd25519       = 0x01
	algCosignatureV1 = 0x04
)

// NewCosigner returns a note.Signer that makes C2SP tlog-cosignature
// cosignature/v1 Ed25519 signatures over checkpoints, timestamped with
// clock (the system clock if nil). skey is a signed-note private key,
// PRIVATE+KEY+<name>+<key id>+base64(0x04 ‖ 32-byte seed). The key id must be
// the one the public key gives for signature type 0x04.
//
// The signatures verify with github.com/transparency-dev/formats/note's
// NewVerifierForCosignatureV1; this constructor exists so that the witness's
// own clock, not the process's, sets the timestamp.
func NewCosigner(skey string, clock Clock) (note.Signer, error) {
	if clock == nil {
		clock = systemClock{}
	}
	parts := strings.SplitN(skey, "+", 5)
	if len(parts) != 5 || parts[0] != "PRIVATE" || parts[1] != "KEY" {
		return nil, errors.New("cosigner key: not a PRIVATE+KEY+<name>+<id>+<key> string")
	}
	name, id16, key64 := parts[2], parts[3], parts[4]
	if !validName(name) {
		return nil, errors.New("cosigner key: invalid key name")
	}
	key, err := base64.StdEncoding.Strict().DecodeString(key64)
	if err != nil || len(key) != 1+ed25519.SeedSize {
		return nil, errors.New("cosigner key: malformed key material")
	}
	if key[0] != algCosignatureV1 {
		return nil, fmt.Errorf("cosigner key: signature type %#02x, want %#02x (cosignature/v1)", key[0], algCosignatureV1)
	}
	priv := ed25519.NewKeyFromSeed(key[1:])
	pub := priv.Public().(ed25519.PublicKey)
	hash := cosignerKeyHash(name, pub)
	if id, err := strconv.ParseUint(id16, 16, 32); err != nil || len(id16) != 8 || uint32(id) != hash {
		return nil, errors.New("cosigner key: key id does not match the key")
	}
	return &cosigner{name: name, hash: hash, priv: priv, clock: clock}, nil
}

// CosignerVerifierKey returns the vkey (signature type 0x04) of a cosigner
// public key.
func CosignerVerifierKey(name string, pub ed25519.PublicKey) (string, error) {
	if !validName(name) {
		return "", errors.New("invalid key name")
	}
	if len(pub) != ed25519.PublicKeySize {
		return "", errors.New("invalid Ed25519 public key")
	}
	return fmt.Sprintf("%s+%08x+%s", name, cosignerKeyHash(name, pub),
		base64.StdEncoding.EncodeToString(append([]byte{algCosignatureV1}, pub...))), nil
}

func cosignerKeyHash(name string, pub ed25519.PublicKey) uint32 {
	h := sha256.New()
	h.Write([]byte(name))
	h.Write([]byte{'\n', algCosignatureV1})
	h.Write(pub)
	return binary.BigEndian.Uint32(h.Sum(nil))
}

type cosigner struct {
	name  string
	hash  uint32
	priv  ed25519.PrivateKey
	clock Clock
}

func (c *cosigner) Name() string    { return c.name }
func (c *cosigner) KeyHash() uint32 { return c.hash }

// Sign signs "cosignature/v1\ntime <t>\n" ‖ msg and returns the 8-byte
// big-endian timestamp followed by the Ed25519 signature (C2SP
// tlog-cosignature, timestamped_signature).
func (c *cosigner) Sign(msg []byte) ([]byte, error) {
	if bytes.Count(msg, []byte("\n")) < 3 {
		return nil, errors.New("cosigning: not a checkpoint")
	}
	t := c.clock.Now().Unix()
	if t <= 0 {
		return nil, errors.New("cosigning: clock is before 1970")
	}
	m := fmt.Appendf(nil, "cosignature/v1\ntime %d\n%s", t, msg)
	sig := binary.BigEndian.AppendUint64(make([]byte, 0, 8+ed25519.SignatureSize), uint64(t))
	return append(sig, ed25519.Sign(c.priv, m)...), nil
}

// NewCosignatureVerifier returns a verifier of cosignature/v1 Ed25519
// cosignatures for a vkey of signature type 0x04. Unlike the underlying
// github.com/transparency-dev/formats/note verifier it refuses keys of any
// other type, so that a log key is never mistaken for a witness key.
func NewCosignatureVerifier(vkey string) (note.Verifier, error) {
	if err := checkVKeyType(vkey, algCosignatureV1); err != nil {
		return nil, err
	}
	v, err := fnote.NewVerifierForCosignatureV1(vkey)
	if err != nil {
		return nil, fmt.Errorf("witness key: %w", err)
	}
	return v, nil
}

// NewLogVerifier returns a verifier of a log's Ed25519 checkpoint signatures
// for a vkey of signature type 0x01.
func NewLogVerifier(vkey string) (note.Verifier, error) {
	if err := checkVKeyType(vkey, algEd25519); err != nil {
		return nil, err
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, fmt.Errorf("log key: %w", err)
	}
	return v, nil
}

func checkVKeyType(vkey string, alg byte) error {
	parts := strings.SplitN(vkey, "+", 3)
	if len(parts) != 3 {
		return errors.New("verifier key: not a <name>+<id>+<key> string")
	}
	key, err := base64.StdEncoding.Strict().DecodeString(parts[2])
	if err != nil || len(key) == 0 {
		return errors.New("verifier key: malformed key material")
	}
	if key[0] != alg {
		return fmt.Errorf("verifier key %q: signature type %#02x, want %#02x", parts[0], key[0], alg)
	}
	if len(key) != 1+ed25519.PublicKeySize {
		return fmt.Errorf("verifier key %q: not an Ed25519 key", parts[0])
	}
	h := sha256.New()
	h.Write([]byte(parts[0]))
	h.Write([]byte{'\n'})
	h.Write(key)
	if id, err := strconv.ParseUint(parts[1], 16, 32); err != nil || len(parts[1]) != 8 || uint32(id) != binary.BigEndian.Uint32(h.Sum(nil)) {
		return fmt.Errorf("verifier key %q: key id does not match the key", parts[0])
	}
	return nil
}

// vkeyPublicKey returns the key material of a vkey (signature type byte
// stripped), used to detect duplicate keys in a policy.
func vkeyPublicKey(vkey string) []byte {
	parts := strings.SplitN(vkey, "+", 3)
	if len(parts) != 3 {
		return nil
	}
	key, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil || len(key) < 2 {
		return nil
	}
	return key[1:]
}
