package hotline

import (
	"crypto/ed25519"
	"crypto/hpke"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"unicode"
	"unicode/utf8"

	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"
)

// Algorithm bytes of the C2SP signed-note key formats.
const (
	algEd25519        = 0x01 // plain Ed25519 note signatures
	algCosignatureV1  = 0x04 // C2SP tlog-cosignature, timestamped Ed25519
	kemMLKEM768X25519 = 0x647a
)

// KeyRole names one of the five keys of a party.
type KeyRole string

// The key roles of docs/DESIGN.md §4.
const (
	RoleRoot       KeyRole = "root"       // signs the party's directory entry; kept offline
	RoleMessage    KeyRole = "message"    // signs envelopes, receipts, heartbeats, requests
	RoleEncryption KeyRole = "encryption" // HPKE MLKEM768X25519; opens key stanzas
	RoleCheckpoint KeyRole = "checkpoint" // signs the party's log checkpoints
	RoleWitness    KeyRole = "witness"    // cosigns other parties' checkpoints (cosignature/v1)
)

// KeyRoles lists the roles in the order key sets are written.
func KeyRoles() []KeyRole {
	return []KeyRole{RoleRoot, RoleMessage, RoleEncryption, RoleCheckpoint, RoleWitness}
}

// KeyName returns the signed-note key name of a party's key in role r: the
// party id for the message key (it is what signature lines show next to
// "from"), "<party>/root" and "<party>/witness" for the root and witness
// keys. The checkpoint key is named for the log's origin instead, as C2SP
// tlog-checkpoint requires.
func KeyName(party string, r KeyRole) string {
	if r == RoleMessage {
		return party
	}
	return party + "/" + string(r)
}

// DefaultOrigin returns the log origin a party's keys are generated with
// when none is given.
func DefaultOrigin(party string) string { return "hotline/" + party }

// SigningKey is an Ed25519 key that signs C2SP signed notes: plain note
// signatures for root, message and checkpoint keys, timestamped
// cosignature/v1 signatures for witness keys. It implements [note.Signer]
// (for witness keys, use [SigningKey.CosignatureSigner] instead).
type SigningKey struct {
	name string
	alg  byte
	priv ed25519.PrivateKey
	hash uint32
}

var _ note.Signer = (*SigningKey)(nil)

// GenerateSigningKey returns a new Ed25519 note key named name; cosignature
// selects the C2SP cosignature/v1 algorithm (witness keys).
func GenerateSigningKey(name string, cosignature bool) (*SigningKey, error) {
	if !validKeyName(name) {
		return nil, fmt.Errorf("key name %q: must be non-empty UTF-8 without spaces or '+'", truncate(name))
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	alg := byte(algEd25519)
	if cosignature {
		alg = algCosignatureV1
	}
	return newSigningKey(name, alg, priv), nil
}

func newSigningKey(name string, alg byte, priv ed25519.PrivateKey) *SigningKey {
	k := &SigningKey{name: name, alg: alg, priv: priv}
	k.hash = keyHash(name, append([]byte{alg}, k.PublicKey()...))
	return k
}

// ParseSigningKey parses a private key in the C2SP signed-note form
// "PRIVATE+KEY+<name>+<hash>+<base64(alg ‖ seed)>" for algorithm 0x01
// (Ed25519) or 0x04 (cosignature/v1).
func ParseSigningKey(s string) (*SigningKey, error) {
	parts := strings.SplitN(strings.TrimSpace(s), "+", 5)
	if len(parts) != 5 || parts[0] != "PRIVATE" || parts[1] != "KEY" {
		return nil, errors.New("signing key: not of the form PRIVATE+KEY+<name>+<hash>+<key>")
	}
	name, hash8, b64 := parts[2], parts[3], parts[4]
	raw, err := base64.StdEncoding.Strict().DecodeString(b64)
	if err != nil || len(raw) != 1+ed25519.SeedSize {
		return nil, fmt.Errorf("signing key %s: key data is not base64 of an algorithm byte and a 32-byte seed", truncate(name))
	}
	if raw[0] != algEd25519 && raw[0] != algCosignatureV1 {
		return nil, fmt.Errorf("signing key %s: unknown algorithm %#02x", truncate(name), raw[0])
	}
	if !validKeyName(name) {
		return nil, fmt.Errorf("signing key %q: bad key name", truncate(name))
	}
	k := newSigningKey(name, raw[0], ed25519.NewKeyFromSeed(raw[1:]))
	if want := fmt.Sprintf("%08x", k.hash); hash8 != want {
		return nil, fmt.Errorf("signing key %s: key hash %s does not match the key (want %s)", name, truncate(hash8), want)
	}
	return k, nil
}

// Name returns the key's signed-note name.
func (k *SigningKey) Name() string { return k.name }

// KeyHash returns the 32-bit key hash that signature lines carry.
func (k *SigningKey) KeyHash() uint32 { return k.hash }

// Sign signs msg. For a cosignature/v1 key it refuses: those signatures
// carry a timestamp, see [SigningKey.CosignatureSigner].
func (k *SigningKey) Sign(msg []byte) ([]byte, error) {
	if k.alg != algEd25519 {
		return nil, errors.New("signing key " + k.name + ": a cosignature/v1 key signs only through a cosignature signer")
	}
	return ed25519.Sign(k.priv, msg), nil
}

// IsCosignature reports whether k is a C2SP cosignature/v1 (witness) key.
func (k *SigningKey) IsCosignature() bool { return k.alg == algCosignatureV1 }

// PublicKey returns the raw Ed25519 public key.
func (k *SigningKey) PublicKey() ed25519.PublicKey { return k.priv.Public().(ed25519.PublicKey) }

// PrivateKey returns the raw Ed25519 private key, for code that implements a
// signature scheme of its own over it (C2SP cosignature/v1 with an injected
// clock).
func (k *SigningKey) PrivateKey() ed25519.PrivateKey { return k.priv }

// VerifierKey returns the public key in C2SP vkey form,
// "<name>+<hash>+<base64(alg ‖ public key)>".
func (k *SigningKey) VerifierKey() string {
	return fmt.Sprintf("%s+%08x+%s", k.name, k.hash, base64.StdEncoding.EncodeToString(append([]byte{k.alg}, k.PublicKey()...)))
}

// Verifier returns a [note.Verifier] for k's signatures: plain note
// signatures, or timestamped cosignatures for a cosignature/v1 key.
func (k *SigningKey) Verifier() (note.Verifier, error) {
	if k.alg == algCosignatureV1 {
		return fnote.NewVerifierForCosignatureV1(k.VerifierKey())
	}
	return NewVerifier(k.VerifierKey())
}

// CosignatureSigner returns a signer producing C2SP cosignature/v1
// signatures (timestamped with the current time) for a witness key.
func (k *SigningKey) CosignatureSigner() (note.Signer, error) {
	if k.alg != algCosignatureV1 {
		return nil, errors.New("signing key " + k.name + ": not a cosignature/v1 key")
	}
	return fnote.NewSignerForCosignatureV1(k.String())
}

// String returns the private key in C2SP signed-note form. It is the only
// way the private key leaves the value: never log it.
func (k *SigningKey) String() string {
	return fmt.Sprintf("PRIVATE+KEY+%s+%08x+%s", k.name, k.hash, base64.StdEncoding.EncodeToString(append([]byte{k.alg}, k.priv.Seed()...)))
}

// NewVerifier parses a C2SP vkey for plain Ed25519 note signatures
// (algorithm 0x01). Cosignature/v1 vkeys are verified with
// github.com/transparency-dev/formats/note.
func NewVerifier(vkey string) (note.Verifier, error) {
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, fmt.Errorf("verifier key %q: %w", truncate(vkey), err)
	}
	return v, nil
}

func keyHash(name string, algAndKey []byte) uint32 {
	h := sha256.New()
	h.Write([]byte(name))
	h.Write([]byte("\n"))
	h.Write(algAndKey)
	return binary.BigEndian.Uint32(h.Sum(nil))
}

func validKeyName(name string) bool {
	if name == "" || strings.ContainsAny(name, "+") {
		return false
	}
	if !utf8.ValidString(name) {
		return false
	}
	for _, r := range name {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// EncryptionKey is a party's HPKE private key (KEM MLKEM768-X25519, the
// post-quantum hybrid: diplomatic traffic is recorded today to be decrypted
// later). It opens the key stanzas addressed to it.
type EncryptionKey struct {
	name string
	priv hpke.PrivateKey
	pub  *EncryptionPublicKey
}

// EncryptionPublicKey is the public half of an [EncryptionKey], as the
// directory lists it.
type EncryptionPublicKey struct {
	name string
	pub  hpke.PublicKey
	id   [4]byte
}

// GenerateEncryptionKey returns a new MLKEM768-X25519 key named name.
func GenerateEncryptionKey(name string) (*EncryptionKey, error) {
	if !validKeyName(name) {
		return nil, fmt.Errorf("key name %q: must be non-empty UTF-8 without spaces or '+'", truncate(name))
	}
	priv, err := hpke.MLKEM768X25519().GenerateKey()
	if err != nil {
		return nil, err
	}
	return newEncryptionKey(name, priv)
}

func newEncryptionKey(name string, priv hpke.PrivateKey) (*EncryptionKey, error) {
	pub, err := newEncryptionPublicKey(name, priv.PublicKey().Bytes())
	if err != nil {
		return nil, err
	}
	return &EncryptionKey{name: name, priv: priv, pub: pub}, nil
}

func newEncryptionPublicKey(name string, raw []byte) (*EncryptionPublicKey, error) {
	pub, err := hpke.MLKEM768X25519().NewPublicKey(raw)
	if err != nil {
		return nil, fmt.Errorf("encryption key %s: %w", truncate(name), err)
	}
	k := &EncryptionPublicKey{name: name, pub: pub}
	binary.BigEndian.PutUint32(k.id[:], keyHash(name, k.keyData()))
	return k, nil
}

// ParseEncryptionKey parses the private text form
// "PRIVATE+HPKE+<name>+<hash>+<base64(KEM id ‖ private key)>".
func ParseEncryptionKey(s string) (*EncryptionKey, error) {
	parts := strings.SplitN(strings.TrimSpace(s), "+", 5)
	if len(parts) != 5 || parts[0] != "PRIVATE" || parts[1] != "HPKE" {
		return nil, errors.New("encryption key: not of the form PRIVATE+HPKE+<name>+<hash>+<key>")
	}
	name, hash8, b64 := parts[2], parts[3], parts[4]
	raw, err := base64.StdEncoding.Strict().DecodeString(b64)
	if err != nil || len(raw) < 3 || binary.BigEndian.Uint16(raw) != kemMLKEM768X25519 {
		return nil, fmt.Errorf("encryption key %s: key data is not base64 of KEM id 0x647a and a private key", truncate(name))
	}
	if !validKeyName(name) {
		return nil, fmt.Errorf("encryption key %q: bad key name", truncate(name))
	}
	priv, err := hpke.MLKEM768X25519().NewPrivateKey(raw[2:])
	if err != nil {
		return nil, fmt.Errorf("encryption key %s: %w", name, err)
	}
	k, err := newEncryptionKey(name, priv)
	if err != nil {
		return nil, err
	}
	if hash8 != hex.EncodeToString(k.pub.id[:]) {
		return nil, fmt.Errorf("encryption key %s: key hash %s does not match the key", name, truncate(hash8))
	}
	return k, nil
}

// Public returns the public half of k.
func (k *EncryptionKey) Public() *EncryptionPublicKey { return k.pub }

// String returns the private key in text form. Never log it.
func (k *EncryptionKey) String() string {
	b, err := k.priv.Bytes()
	if err != nil {
		panic("hotline: serializing an HPKE private key: " + err.Error())
	}
	data := binary.BigEndian.AppendUint16(nil, kemMLKEM768X25519)
	return fmt.Sprintf("PRIVATE+HPKE+%s+%s+%s", k.name, hex.EncodeToString(k.pub.id[:]), base64.StdEncoding.EncodeToString(append(data, b...)))
}

// ParseEncryptionPublicKey parses the public text form
// "<name>+<hash>+<base64(KEM id ‖ public key)>", the form of a C2SP vkey with
// the two-byte HPKE KEM id (0x647a) in place of the algorithm byte.
func ParseEncryptionPublicKey(s string) (*EncryptionPublicKey, error) {
	parts := strings.SplitN(s, "+", 3)
	if len(parts) != 3 {
		return nil, errors.New("encryption public key: not of the form <name>+<hash>+<key>")
	}
	name, hash8, b64 := parts[0], parts[1], parts[2]
	raw, err := base64.StdEncoding.Strict().DecodeString(b64)
	if err != nil || len(raw) < 3 || binary.BigEndian.Uint16(raw) != kemMLKEM768X25519 {
		return nil, fmt.Errorf("encryption public key %s: key data is not base64 of KEM id 0x647a and a public key", truncate(name))
	}
	if !validKeyName(name) {
		return nil, fmt.Errorf("encryption public key %q: bad key name", truncate(name))
	}
	k, err := newEncryptionPublicKey(name, raw[2:])
	if err != nil {
		return nil, err
	}
	if hash8 != hex.EncodeToString(k.id[:]) {
		return nil, fmt.Errorf("encryption public key %s: key hash %s does not match the key", name, truncate(hash8))
	}
	return k, nil
}

// Name returns the key's name.
func (k *EncryptionPublicKey) Name() string { return k.name }

// ID returns the four bytes that identify the key in a key stanza.
func (k *EncryptionPublicKey) ID() [4]byte { return k.id }

// Equal reports whether k and o are the same key under the same name.
func (k *EncryptionPublicKey) Equal(o *EncryptionPublicKey) bool {
	return o != nil && k.name == o.name && string(k.pub.Bytes()) == string(o.pub.Bytes())
}

func (k *EncryptionPublicKey) keyData() []byte {
	return append(binary.BigEndian.AppendUint16(nil, kemMLKEM768X25519), k.pub.Bytes()...)
}

// String returns the public text form.
func (k *EncryptionPublicKey) String() string {
	return fmt.Sprintf("%s+%s+%s", k.name, hex.EncodeToString(k.id[:]), base64.StdEncoding.EncodeToString(k.keyData()))
}

// KeySet is one party's keys. Root may be nil on a node: the root key signs
// the party's directory entry and is meant to be kept offline. NextRoot,
// also optional and also kept offline (apart from Root, so that losing one
// does not lose both), is the pre-rotation key: the party's next root key,
// committed to by [RootCommitment] in the agreement, which replaces a lost
// root.
type KeySet struct {
	Party      string
	Root       *SigningKey
	NextRoot   *SigningKey
	Message    *SigningKey
	Encryption *EncryptionKey
	Checkpoint *SigningKey // named for the log origin
	Witness    *SigningKey // cosignature/v1
}

// GenerateKeySet returns a fresh key set for party, with the checkpoint key
// named origin ([DefaultOrigin] if empty).
func GenerateKeySet(party, origin string) (*KeySet, error) {
	if err := CheckPartyID(party); err != nil {
		return nil, err
	}
	if origin == "" {
		origin = DefaultOrigin(party)
	}
	ks := &KeySet{Party: party}
	var err error
	if ks.Root, err = GenerateSigningKey(KeyName(party, RoleRoot), false); err != nil {
		return nil, err
	}
	if ks.Message, err = GenerateSigningKey(KeyName(party, RoleMessage), false); err != nil {
		return nil, err
	}
	if ks.Encryption, err = GenerateEncryptionKey(KeyName(party, RoleEncryption)); err != nil {
		return nil, err
	}
	if ks.Checkpoint, err = GenerateSigningKey(origin, false); err != nil {
		return nil, err
	}
	if ks.Witness, err = GenerateSigningKey(KeyName(party, RoleWitness), true); err != nil {
		return nil, err
	}
	return ks, nil
}

// PublicKeys is the public half of a [KeySet] in text form: C2SP vkeys for
// the note keys, the public HPKE form for the encryption key.
type PublicKeys struct {
	Party string `json:"party"`
	Root  string `json:"root,omitempty"`
	// NextRoot is the commitment to the next root key (hex SHA-256 of its
	// vkey, see [RootCommitment]), not the key itself.
	NextRoot   string `json:"next_root,omitempty"`
	Message    string `json:"message"`
	Encryption string `json:"encryption"`
	Checkpoint string `json:"checkpoint"`
	Witness    string `json:"witness"`
}

// Public returns the public keys of ks.
func (ks *KeySet) Public() PublicKeys {
	p := PublicKeys{
		Party:      ks.Party,
		Message:    ks.Message.VerifierKey(),
		Encryption: ks.Encryption.Public().String(),
		Checkpoint: ks.Checkpoint.VerifierKey(),
		Witness:    ks.Witness.VerifierKey(),
	}
	if ks.Root != nil {
		p.Root = ks.Root.VerifierKey()
	}
	if ks.NextRoot != nil {
		c := RootCommitment(ks.NextRoot.VerifierKey())
		p.NextRoot = hex.EncodeToString(c[:])
	}
	return p
}

// RootCommitment is what a party publishes of its next root key before
// using it: SHA-256 of the key's vkey string. Revealing a key with that
// hash later proves the party made it.
func RootCommitment(vkey string) [32]byte { return sha256.Sum256([]byte(vkey)) }

// GenerateNextRoot gives ks a new pre-rotation key ([KeySet.NextRoot]),
// replacing any it had: what "hotline keygen" does for a new party, and
// after each root rotation.
func (ks *KeySet) GenerateNextRoot() error {
	k, err := GenerateSigningKey(KeyName(ks.Party, RoleRoot), false)
	if err != nil {
		return err
	}
	ks.NextRoot = k
	return nil
}

// nextRootFile is the file of the pre-rotation key, next to root.key.
const nextRootFile = "next-root.key"

// Origin returns the log origin: the checkpoint key's name.
func (ks *KeySet) Origin() string { return ks.Checkpoint.Name() }

// keyFile is the file name of the private key in role r.
func keyFile(r KeyRole) string { return string(r) + ".key" }

// PublicKeysFile is the file, next to the private keys, that lists the
// public keys one per line as "<role> <text form>".
const PublicKeysFile = "public.keys"

// Save writes the key set into dir, creating it (mode 0700) if needed: one
// file per private key, mode 0600, and PublicKeysFile, mode 0644. It refuses
// to overwrite existing key files.
func (ks *KeySet) Save(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	priv := map[KeyRole]string{
		RoleMessage:    ks.Message.String(),
		RoleEncryption: ks.Encryption.String(),
		RoleCheckpoint: ks.Checkpoint.String(),
		RoleWitness:    ks.Witness.String(),
	}
	if ks.Root != nil {
		priv[RoleRoot] = ks.Root.String()
	}
	if ks.NextRoot != nil {
		if _, err := os.Stat(filepath.Join(dir, nextRootFile)); err == nil {
			return fmt.Errorf("saving keys: %s already exists; refusing to overwrite a key", filepath.Join(dir, nextRootFile))
		}
	}
	for _, r := range KeyRoles() {
		if _, ok := priv[r]; !ok {
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, keyFile(r))); err == nil {
			return fmt.Errorf("saving keys: %s already exists; refusing to overwrite a key", filepath.Join(dir, keyFile(r)))
		}
	}
	for _, r := range KeyRoles() {
		s, ok := priv[r]
		if !ok {
			continue
		}
		if err := writeFileSync(filepath.Join(dir, keyFile(r)), []byte(s+"\n"), 0o600); err != nil {
			return fmt.Errorf("saving %s key: %w", r, err)
		}
	}
	if ks.NextRoot != nil {
		if err := writeFileSync(filepath.Join(dir, nextRootFile), []byte(ks.NextRoot.String()+"\n"), 0o600); err != nil {
			return fmt.Errorf("saving next root key: %w", err)
		}
	}
	pub := ks.Public()
	var b strings.Builder
	fmt.Fprintf(&b, "party %s\n", ks.Party)
	if pub.Root != "" {
		fmt.Fprintf(&b, "root %s\n", pub.Root)
	}
	if pub.NextRoot != "" {
		fmt.Fprintf(&b, "next_root %s\n", pub.NextRoot)
	}
	fmt.Fprintf(&b, "message %s\nencryption %s\ncheckpoint %s\nwitness %s\n", pub.Message, pub.Encryption, pub.Checkpoint, pub.Witness)
	return writeFileSync(filepath.Join(dir, PublicKeysFile), []byte(b.String()), 0o644)
}

func writeFileSync(name string, data []byte, perm fs.FileMode) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// ErrKeyFilePermissions is returned when a private key file can be read or
// written by users other than its owner.
var ErrKeyFilePermissions = errors.New("private key file is accessible to other users")

// readPrivateFile reads a private key file, refusing one that others can
// read or write.
func readPrivateFile(name string) (string, error) {
	f, err := os.Open(name)
	if err != nil {
		return "", err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", err
	}
	if !st.Mode().IsRegular() {
		return "", fmt.Errorf("%s: not a regular file", name)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("%s (mode %#o): %w; run chmod 600 on it", name, st.Mode().Perm(), ErrKeyFilePermissions)
	}
	const max = 8192
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return "", fmt.Errorf("%s: %w", name, err)
	}
	if len(b) > max {
		return "", fmt.Errorf("%s: too large for a key file", name)
	}
	return strings.TrimSpace(string(b)), nil
}

// LoadKeySet reads the key set saved in dir by [KeySet.Save]. The root key
// is optional (it is meant to be kept offline); every other key is required.
// Private key files that other users can read are refused with
// [ErrKeyFilePermissions].
func LoadKeySet(dir string) (*KeySet, error) {
	ks := &KeySet{}
	load := func(r KeyRole, optional bool) (string, error) {
		s, err := readPrivateFile(filepath.Join(dir, keyFile(r)))
		if optional && errors.Is(err, fs.ErrNotExist) {
			return "", nil
		}
		if err != nil {
			return "", fmt.Errorf("loading %s key: %w", r, err)
		}
		return s, nil
	}
	signing := func(r KeyRole, optional, cosig bool) (*SigningKey, error) {
		s, err := load(r, optional)
		if err != nil || s == "" {
			return nil, err
		}
		k, err := ParseSigningKey(s)
		if err != nil {
			return nil, fmt.Errorf("loading %s key: %w", r, err)
		}
		if k.IsCosignature() != cosig {
			return nil, fmt.Errorf("loading %s key: wrong algorithm for this role", r)
		}
		return k, nil
	}
	var err error
	if ks.Root, err = signing(RoleRoot, true, false); err != nil {
		return nil, err
	}
	switch s, err := readPrivateFile(filepath.Join(dir, nextRootFile)); {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("loading next root key: %w", err)
	default:
		if ks.NextRoot, err = ParseSigningKey(s); err != nil || ks.NextRoot.IsCosignature() {
			return nil, fmt.Errorf("loading next root key: not an Ed25519 note key: %v", err)
		}
	}
	if ks.Message, err = signing(RoleMessage, false, false); err != nil {
		return nil, err
	}
	if ks.Checkpoint, err = signing(RoleCheckpoint, false, false); err != nil {
		return nil, err
	}
	if ks.Witness, err = signing(RoleWitness, false, true); err != nil {
		return nil, err
	}
	s, err := load(RoleEncryption, false)
	if err != nil {
		return nil, err
	}
	if ks.Encryption, err = ParseEncryptionKey(s); err != nil {
		return nil, fmt.Errorf("loading encryption key: %w", err)
	}
	ks.Party = ks.Message.Name()
	if err := CheckPartyID(ks.Party); err != nil {
		return nil, fmt.Errorf("loading keys: message key name: %w", err)
	}
	for _, k := range []struct {
		r    KeyRole
		name string
	}{{RoleRoot, ""}, {RoleEncryption, ks.Encryption.name}, {RoleWitness, ks.Witness.name}} {
		if k.r == RoleRoot {
			if ks.Root != nil && ks.Root.name != KeyName(ks.Party, RoleRoot) {
				return nil, fmt.Errorf("loading keys: root key is named %q, want %q", ks.Root.name, KeyName(ks.Party, RoleRoot))
			}
			if ks.NextRoot != nil && ks.NextRoot.name != KeyName(ks.Party, RoleRoot) {
				return nil, fmt.Errorf("loading keys: next root key is named %q, want %q", ks.NextRoot.name, KeyName(ks.Party, RoleRoot))
			}
			continue
		}
		if want := KeyName(ks.Party, k.r); k.name != want {
			return nil, fmt.Errorf("loading keys: %s key is named %q, want %q", k.r, k.name, want)
		}
	}
	return ks, nil
}

// CheckPartyID reports whether id is a well-formed party id: 2 to 16
// characters, an upper-case ASCII letter first, then upper-case letters,
// digits or '-'. ("BER", "UNODA", "EU-CERT").
func CheckPartyID(id string) error {
	if len(id) < 2 || len(id) > 16 {
		return fmt.Errorf("party id %q: must be 2 to 16 characters", truncate(id))
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case 'A' <= c && c <= 'Z':
		case i > 0 && ('0' <= c && c <= '9' || c == '-'):
		default:
			return fmt.Errorf("party id %q: only upper-case letters, digits and '-' (a letter first)", truncate(id))
		}
	}
	return nil
}
