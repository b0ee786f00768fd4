// Package cleanroom is an independent verifier of the test vectors, written
// from docs/PROTOCOL.md and agreement/FORMAT.md alone (and the C2SP specs
// they cite), without reading the Go implementation. It imports no package
// of this module, only the standard library, so that CI keeps the spec and
// the vectors honest: a change to either that the other does not follow
// fails here.
package cleanroom

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/hpke"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

const (
	vectors     = "../../testdata/vectors"
	agreement   = "../../agreement/testdata/vectors"
	stanzaLen   = 1172
	stanzaLenV2 = 1244 // §3.2: the sealed plaintext carries the 72-byte opening too
)

var b64 = base64.StdEncoding

func read(t *testing.T, dir, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sum(parts ...[]byte) []byte {
	h := sha256.New()
	for _, p := range parts {
		h.Write(p)
	}
	return h.Sum(nil)
}

// canonB64 decodes standard padded base64 and refuses any other encoding of
// the same bytes.
func canonB64(s string, n int) ([]byte, error) {
	b, err := b64.DecodeString(s)
	if err != nil {
		return nil, err
	}
	if b64.EncodeToString(b) != s {
		return nil, fmt.Errorf("non-canonical base64 %q", s)
	}
	if n >= 0 && len(b) != n {
		return nil, fmt.Errorf("base64 of %d bytes, want %d", len(b), n)
	}
	return b, nil
}

// A note key: the C2SP vkey form of §2.
type noteKey struct {
	name string
	hash []byte
	alg  byte
	pub  []byte
	text string
}

func keyHash(name string, alg byte, pub []byte) []byte {
	return sum([]byte(name), []byte("\n"), []byte{alg}, pub)[:4]
}

func parseVKey(s string) (noteKey, error) {
	p := strings.SplitN(s, "+", 3)
	if len(p) != 3 {
		return noteKey{}, fmt.Errorf("vkey %q", s)
	}
	h, err := hex.DecodeString(p[1])
	if err != nil || len(h) != 4 || hex.EncodeToString(h) != p[1] {
		return noteKey{}, fmt.Errorf("vkey hash %q", p[1])
	}
	raw, err := canonB64(p[2], -1)
	if err != nil || len(raw) < 2 {
		return noteKey{}, fmt.Errorf("vkey key: %v", err)
	}
	k := noteKey{name: p[0], hash: h, text: s}
	if raw[0] == 0x64 && len(raw) > 1 && raw[1] == 0x7a {
		k.alg, k.pub = 0x64, raw[2:]
		if !bytes.Equal(sum([]byte(k.name), []byte("\n"), raw)[:4], h) {
			return k, fmt.Errorf("encryption key id of %s does not match", k.name)
		}
		return k, nil
	}
	k.alg, k.pub = raw[0], raw[1:]
	if len(k.pub) != 32 {
		return k, fmt.Errorf("key %s: %d bytes", k.name, len(k.pub))
	}
	if !bytes.Equal(keyHash(k.name, k.alg, k.pub), h) {
		return k, fmt.Errorf("key hash of %s does not match", k.name)
	}
	return k, nil
}

// note splits a signed note into its text and signature lines (§1).
type sigLine struct {
	name string
	hash []byte
	sig  []byte
}

func splitNote(b []byte) (text []byte, sigs []sigLine, err error) {
	i := bytes.Index(b, []byte("\n\n"))
	if i < 0 {
		return nil, nil, fmt.Errorf("no blank line")
	}
	text = b[:i+1]
	rest := string(b[i+2:])
	if !strings.HasSuffix(rest, "\n") {
		return nil, nil, fmt.Errorf("signature lines do not end in newline")
	}
	for _, l := range strings.Split(strings.TrimSuffix(rest, "\n"), "\n") {
		f := strings.Split(l, " ")
		if len(f) != 3 || f[0] != "\u2014" {
			return nil, nil, fmt.Errorf("signature line %q", l)
		}
		raw, err := canonB64(f[2], -1)
		if err != nil || len(raw) < 5 {
			return nil, nil, fmt.Errorf("signature line %q: %v", l, err)
		}
		sigs = append(sigs, sigLine{f[1], raw[:4], raw[4:]})
	}
	return text, sigs, nil
}

// verifyOne checks that a statement or header carries exactly one signature
// line, by key k, and that it verifies (§1 "One signature line").
func verifyOne(text []byte, sigs []sigLine, k noteKey) error {
	if len(sigs) != 1 {
		return fmt.Errorf("%d signature lines, want 1", len(sigs))
	}
	s := sigs[0]
	if s.name != k.name || !bytes.Equal(s.hash, k.hash) {
		return fmt.Errorf("signed by %s %x, want %s %x", s.name, s.hash, k.name, k.hash)
	}
	if k.alg != 0x01 || !ed25519.Verify(k.pub, text, s.sig) {
		return fmt.Errorf("signature by %s does not verify", k.name)
	}
	return nil
}

// keys.txt (§10)
type party struct {
	pub  map[string]noteKey
	priv map[string][]byte
}

func loadKeys(t *testing.T, c *checker) map[string]*party {
	ps := map[string]*party{}
	roles := []string{"root", "message", "encryption", "checkpoint", "witness"}
	lines := strings.Split(strings.TrimSuffix(string(read(t, vectors, "keys.txt")), "\n"), "\n")
	var order []string
	var deferred []func()
	for _, l := range lines {
		if strings.HasPrefix(l, "#") {
			continue
		}
		f := strings.Split(l, " ")
		if len(f) != 4 {
			t.Fatalf("keys.txt line %q", l)
		}
		p := ps[f[0]]
		if p == nil {
			p = &party{pub: map[string]noteKey{}, priv: map[string][]byte{}}
			ps[f[0]] = p
		}
		order = append(order, f[1])
		role, kind, text := f[1], f[2], f[3]
		if kind == "public" {
			c.check("keys.txt "+f[0]+" "+role+" public key form and hash", func() error {
				k, err := parseVKey(text)
				if err != nil {
					return err
				}
				want := map[string]string{"root": f[0] + "/root", "message": f[0], "encryption": f[0] + "/encryption", "checkpoint": "hotline/" + f[0], "witness": f[0] + "/witness"}[role]
				if k.name != want {
					return fmt.Errorf("name %q, want %q", k.name, want)
				}
				alg := map[string]byte{"root": 1, "message": 1, "encryption": 0x64, "checkpoint": 1, "witness": 4}[role]
				if k.alg != alg {
					return fmt.Errorf("algorithm %#x, want %#x", k.alg, alg)
				}
				if role == "encryption" && len(k.pub) != 1216 {
					return fmt.Errorf("encryption key %d bytes", len(k.pub))
				}
				p.pub[role] = k
				return nil
			})
			continue
		}
		deferred = append(deferred, func() {
			c.check("keys.txt "+f[0]+" "+role+" private key matches public", func() error {
				var raw []byte
				var name, hash string
				if role == "encryption" {
					q := strings.SplitN(text, "+", 5)
					if len(q) != 5 || q[0] != "PRIVATE" || q[1] != "HPKE" {
						return fmt.Errorf("form %q", text)
					}
					name, hash = q[2], q[3]
					var err error
					if raw, err = canonB64(q[4], 34); err != nil || raw[0] != 0x64 || raw[1] != 0x7a {
						return fmt.Errorf("key bytes: %v", err)
					}
					sk, err := hpke.MLKEM768X25519().NewPrivateKey(raw[2:])
					if err != nil {
						return err
					}
					p.priv[role] = raw[2:]
					pk := p.pub[role]
					if !bytes.Equal(sk.PublicKey().Bytes(), pk.pub) {
						return fmt.Errorf("public key does not match the private seed")
					}
				} else {
					q := strings.SplitN(text, "+", 5)
					if len(q) != 5 || q[0] != "PRIVATE" || q[1] != "KEY" {
						return fmt.Errorf("form %q", text)
					}
					name, hash = q[2], q[3]
					var err error
					if raw, err = canonB64(q[4], 33); err != nil {
						return err
					}
					pk := p.pub[role]
					if raw[0] != pk.alg {
						return fmt.Errorf("algorithm %#x, public %#x", raw[0], pk.alg)
					}
					if !bytes.Equal(ed25519.NewKeyFromSeed(raw[1:]).Public().(ed25519.PublicKey), pk.pub) {
						return fmt.Errorf("public key does not match the private seed")
					}
					p.priv[role] = raw[1:]
				}
				pk := p.pub[role]
				if name != pk.name || hash != hex.EncodeToString(pk.hash) {
					return fmt.Errorf("private %s+%s, public %s+%x", name, hash, pk.name, pk.hash)
				}
				return nil
			})
		})
	}
	for _, f := range deferred {
		f()
	}
	c.check("keys.txt order: roles root..witness, private then public, per party", func() error {
		for i := 0; i < len(order); i++ {
			if order[i] != roles[(i/2)%5] {
				return fmt.Errorf("line %d role %s", i, order[i])
			}
		}
		return nil
	})
	return ps
}

// The envelope (§3).
type toLine struct {
	party  string
	seq    uint64 // v1 only
	prev   string // v1 only
	commit []byte // v2 only: the sequence commitment (§3.3)
	stanza []byte
}

type envelope struct {
	header, signed []byte
	sigs           []sigLine
	marker         string
	stanzas        [][]byte
	ciphertext     []byte
	h              hdr
}

type hdr struct {
	nonce     []byte
	agreement string
	from      string
	group     string
	created   string
	exercise  string
	v2        bool
	size      int
	payload   []byte
	key       []byte
	inner     []byte
	to        []toLine
}

var (
	partyRE = regexp.MustCompile(`^[A-Z][A-Z0-9-]{1,15}$`)
	idRE    = regexp.MustCompile(`^[0-9a-f]{64}$`)
	tokenRE = regexp.MustCompile(`^[A-Za-z0-9._:/-]{1,64}$`)
	kindRE  = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)
)

func parseTime(s string) error {
	tm, err := time.Parse(time.RFC3339, s)
	if err != nil || tm.UTC().Format("2006-01-02T15:04:05Z") != s {
		return fmt.Errorf("time %q", s)
	}
	return nil
}

func parseNumber(s string) (uint64, error) {
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || strconv.FormatUint(n, 10) != s || n > 1<<63-1 {
		return 0, fmt.Errorf("number %q", s)
	}
	return n, nil
}

func parseID(s string, dashOK bool) error {
	if dashOK && s == "-" {
		return nil
	}
	if !idRE.MatchString(s) || s == strings.Repeat("0", 64) {
		return fmt.Errorf("id %q", s)
	}
	return nil
}

func parseHeader(text []byte) (hdr, error) {
	var h hdr
	lines := strings.Split(strings.TrimSuffix(string(text), "\n"), "\n")
	if len(lines) == 0 || (lines[0] != "hotline-envelope/v1" && lines[0] != "hotline-envelope/v2") {
		return h, fmt.Errorf("wrong tag")
	}
	h.v2 = lines[0] == "hotline-envelope/v2"

	i := 1
	next := func(key string, optional bool) (string, bool, error) {
		if i < len(lines) && strings.HasPrefix(lines[i], key+" ") {
			v := lines[i][len(key)+1:]
			i++
			return v, true, nil
		}
		if optional {
			return "", false, nil
		}
		return "", false, fmt.Errorf("missing %s line", key)
	}
	var err error
	var v string
	if v, _, err = next("nonce", false); err != nil {
		return h, err
	}
	if h.nonce, err = canonB64(v, 16); err != nil {
		return h, err
	}
	if h.agreement, _, err = next("agreement", false); err != nil {
		return h, err
	}
	if err = parseID(h.agreement, false); err != nil {
		return h, err
	}
	if h.from, _, err = next("from", false); err != nil || !partyRE.MatchString(h.from) {
		return h, fmt.Errorf("from: %v", err)
	}
	if g, ok, _ := next("group", true); ok {
		if !tokenRE.MatchString(g) {
			return h, fmt.Errorf("group %q", g)
		}
		h.group = g
	}
	if h.created, _, err = next("created", false); err != nil {
		return h, err
	}
	if err = parseTime(h.created); err != nil {
		return h, err
	}
	if h.exercise, _, err = next("exercise", false); err != nil || (h.exercise != "true" && h.exercise != "false") {
		return h, fmt.Errorf("exercise: %v", err)
	}
	if v, _, err = next("payload", false); err != nil {
		return h, err
	}
	f := strings.Split(v, " ")
	if len(f) != 2 {
		return h, fmt.Errorf("payload %q", v)
	}
	n, err := parseNumber(f[0])
	if err != nil || n < 16 {
		return h, fmt.Errorf("payload size %q", f[0])
	}
	h.size = int(n)
	if h.payload, err = canonB64(f[1], 32); err != nil {
		return h, err
	}
	if v, _, err = next("key", false); err != nil {
		return h, err
	}
	if h.key, err = canonB64(v, 32); err != nil {
		return h, err
	}
	if v, _, err = next("inner", false); err != nil {
		return h, err
	}
	if h.inner, err = canonB64(v, 32); err != nil {
		return h, err
	}
	for i < len(lines) {
		v, _, err := next("to", false)
		if err != nil {
			return h, fmt.Errorf("line %q", lines[i])
		}
		f := strings.Split(v, " ")
		if h.v2 {
			// §3.3: to <party> <commitment> <stanza hash>
			if len(f) != 3 || !partyRE.MatchString(f[0]) {
				return h, fmt.Errorf("v2 to %q", v)
			}
			cm, err := canonB64(f[1], 32)
			if err != nil {
				return h, err
			}
			st, err := canonB64(f[2], 32)
			if err != nil {
				return h, err
			}
			if len(h.to) > 0 && h.to[len(h.to)-1].party >= f[0] {
				return h, fmt.Errorf("recipients not strictly ascending")
			}
			if f[0] == h.from {
				return h, fmt.Errorf("sender is a recipient")
			}
			h.to = append(h.to, toLine{party: f[0], commit: cm, stanza: st})
			continue
		}
		if len(f) != 4 || !partyRE.MatchString(f[0]) {
			return h, fmt.Errorf("to %q", v)
		}
		seq, err := parseNumber(f[1])
		if err != nil || seq == 0 {
			return h, fmt.Errorf("seq %q", f[1])
		}
		if err := parseID(f[2], true); err != nil || (f[2] == "-") != (seq == 1) {
			return h, fmt.Errorf("previous id %q at seq %d", f[2], seq)
		}
		st, err := canonB64(f[3], 32)
		if err != nil {
			return h, err
		}
		if len(h.to) > 0 && h.to[len(h.to)-1].party >= f[0] {
			return h, fmt.Errorf("recipients not strictly ascending")
		}
		if f[0] == h.from {
			return h, fmt.Errorf("sender is a recipient")
		}
		h.to = append(h.to, toLine{party: f[0], seq: seq, prev: f[2], stanza: st})
	}
	if len(h.to) == 0 {
		return h, fmt.Errorf("no to line")
	}
	return h, nil
}

func parseEnvelope(b []byte) (*envelope, error) {
	i := bytes.Index(b, []byte("\n\n"))
	if i < 0 {
		return nil, fmt.Errorf("no blank line")
	}
	e := &envelope{header: b[:i+1]}
	rest := b[i+2:]
	j := bytes.IndexByte(rest, '\n')
	if j < 0 {
		return nil, fmt.Errorf("no signature line")
	}
	e.signed = b[:i+2+j+1]
	var err error
	if _, e.sigs, err = splitNote(e.signed); err != nil {
		return nil, err
	}
	rest = rest[j+1:]
	j = bytes.IndexByte(rest, '\n')
	if j < 0 || !bytes.HasPrefix(rest, []byte("--- ")) {
		return nil, fmt.Errorf("no marker line")
	}
	e.marker = string(rest[4:j])
	rest = rest[j+1:]
	if e.h, err = parseHeader(e.header); err != nil {
		return nil, err
	}
	n := len(e.h.to)
	if e.marker != "all" {
		n = -1
		for k, to := range e.h.to {
			if to.party == e.marker {
				n = 1
				_ = k
			}
		}
		if n < 0 {
			return nil, fmt.Errorf("marker %q names no recipient", e.marker)
		}
	}
	sl := stanzaLen
	if e.h.v2 {
		sl = stanzaLenV2
	}
	if len(rest) != n*sl+e.h.size {
		return nil, fmt.Errorf("%d bytes after the marker, want %d", len(rest), n*sl+e.h.size)
	}
	for k := 0; k < n; k++ {
		e.stanzas = append(e.stanzas, rest[k*sl:(k+1)*sl])
	}
	e.ciphertext = rest[n*sl:]
	return e, nil
}

func (e *envelope) id() string {
	return hex.EncodeToString(sum([]byte("hotline/v1 id\n"), e.header))
}

// stanzaFor returns the stanza of recipient r in e.
func (e *envelope) stanzaFor(r string) []byte {
	if e.marker != "all" {
		if e.marker == r {
			return e.stanzas[0]
		}
		return nil
	}
	for k, to := range e.h.to {
		if to.party == r {
			return e.stanzas[k]
		}
	}
	return nil
}

type inner struct {
	kind, severity, marking, thread string
	refs                            []string
	salt                            []byte
	opening                         []byte // v2: the recipient's opening from its stanza
	text                            []byte // the inner header's bytes
}

func (h *hdr) toLine(r string) *toLine {
	for i := range h.to {
		if h.to[i].party == r {
			return &h.to[i]
		}
	}
	return nil
}

// checkOpening checks a v2 opening against party's commitment (§3.3) and
// returns the seq and previous id (hex, "-" for none) it holds.
func checkOpening(party string, opening, commit []byte) (uint64, string, error) {
	if len(opening) != 72 {
		return 0, "", fmt.Errorf("malformed: opening of %d bytes", len(opening))
	}
	seq := binary.BigEndian.Uint64(opening[:8])
	prev := opening[8:40]
	zero := bytes.Equal(prev, make([]byte, 32))
	if seq == 0 || seq > 1<<63-1 || zero != (seq == 1) {
		return 0, "", fmt.Errorf("malformed: opening seq %d previous %x", seq, prev)
	}
	if !bytes.Equal(sum([]byte("hotline-envelope/v2 sequence\n"+party+"\n"), opening), commit) {
		return 0, "", fmt.Errorf("bad_commitment: sequence commitment of %s", party)
	}
	p := "-"
	if !zero {
		p = hex.EncodeToString(prev)
	}
	return seq, p, nil
}

func parseInner(text string) (inner, error) {
	var in inner
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if !strings.HasSuffix(text, "\n") || len(lines) < 5 || lines[0] != "hotline-inner/v1" {
		return in, fmt.Errorf("inner header %q", text)
	}
	kv := func(l, key string) (string, bool) {
		if strings.HasPrefix(l, key+" ") {
			return l[len(key)+1:], true
		}
		return "", false
	}
	var ok bool
	if in.kind, ok = kv(lines[1], "kind"); !ok || !kindRE.MatchString(in.kind) {
		return in, fmt.Errorf("kind line %q", lines[1])
	}
	if in.severity, ok = kv(lines[2], "severity"); !ok || !regexp.MustCompile(`^(low|medium|high|critical)$`).MatchString(in.severity) {
		return in, fmt.Errorf("severity line %q", lines[2])
	}
	if in.marking, ok = kv(lines[3], "marking"); !ok || !regexp.MustCompile(`^(CLEAR|GREEN|AMBER|AMBER\+STRICT|RED)$`).MatchString(in.marking) {
		return in, fmt.Errorf("marking line %q", lines[3])
	}
	k := 4
	if v, ok := kv(lines[k], "thread"); ok {
		if err := parseID(v, false); err != nil {
			return in, err
		}
		in.thread = v
		k++
	}
	seen := map[string]bool{}
	for ; k < len(lines)-1; k++ {
		v, ok := kv(lines[k], "ref")
		if !ok || parseID(v, false) != nil || seen[v] {
			return in, fmt.Errorf("line %q", lines[k])
		}
		seen[v] = true
		in.refs = append(in.refs, v)
	}
	v, ok := kv(lines[k], "salt")
	if !ok {
		return in, fmt.Errorf("salt line %q", lines[k])
	}
	var err error
	in.salt, err = canonB64(v, 32)
	return in, err
}

// open opens e as recipient r (§4 "Opening"), returning the inner header and
// the body.
func open(e *envelope, r string, ps map[string]*party) (inner, []byte, error) {
	var in inner
	st := e.stanzaFor(r)
	if st == nil {
		return in, nil, fmt.Errorf("not_a_recipient")
	}
	ek := ps[r].pub["encryption"]
	if !bytes.Equal(st[:4], ek.hash) {
		return in, nil, fmt.Errorf("no_matching_key")
	}
	sk, err := hpke.MLKEM768X25519().NewPrivateKey(ps[r].priv["encryption"])
	if err != nil {
		return in, nil, err
	}
	tag, want := "hotline-envelope/v1", 32
	if e.h.v2 {
		tag, want = "hotline-envelope/v2", 32+72
	}
	info := []byte(tag + "\n" + e.h.from + "\n" + r + "\n")
	info = append(info, e.h.nonce...)
	k, err := hpke.Open(sk, hpke.HKDFSHA256(), hpke.ChaCha20Poly1305(), info, st[4:])
	if err != nil || len(k) != want {
		return in, nil, fmt.Errorf("decrypt_failed: hpke: %v (%d bytes)", err, len(k))
	}
	var opening []byte
	if e.h.v2 {
		k, opening = k[:32], k[32:]
	}
	pkey, _ := hkdf.Key(sha256.New, k, e.h.nonce, "hotline-envelope/v1 payload key", 32)
	commit, _ := hkdf.Key(sha256.New, k, e.h.nonce, "hotline-envelope/v1 key commitment", 32)
	if subtle.ConstantTimeCompare(commit, e.h.key) != 1 {
		return in, nil, fmt.Errorf("bad_commitment: key")
	}
	if e.h.v2 {
		to := e.h.toLine(r)
		if _, _, err := checkOpening(r, opening, to.commit); err != nil {
			return in, nil, err
		}
	}
	pt, err := chachaPolyOpen(pkey, make([]byte, 12), e.ciphertext, nil)
	if err != nil {
		return in, nil, fmt.Errorf("decrypt_failed: %v", err)
	}
	i := bytes.Index(pt, []byte("\n\n"))
	if i < 0 {
		return in, nil, fmt.Errorf("malformed: no blank line in plaintext")
	}
	text := pt[:i+1]
	if in, err = parseInner(string(text)); err != nil {
		return in, nil, err
	}
	if !bytes.Equal(sum(in.salt, text), e.h.inner) {
		return in, nil, fmt.Errorf("bad_commitment: inner")
	}
	in.opening = opening
	in.text = text
	return in, pt[i+2:], nil
}

// checker counts and reports named checks.
type checker struct {
	t      *testing.T
	n, bad int
}

func (c *checker) check(name string, f func() error) {
	c.t.Helper()
	c.n++
	if err := f(); err != nil {
		c.bad++
		c.t.Errorf("%s: %v", name, err)
	}
}

// statement parses a hotline statement (§6): the tag, then the given keys in
// order (a key ending in "?" optional, in "*" zero or more), and verifies its
// one signature by k.
func statement(b []byte, tag string, keys []string, k noteKey) (map[string][]string, []byte, error) {
	text, sigs, err := splitNote(b)
	if err != nil {
		return nil, nil, err
	}
	if err := verifyOne(text, sigs, k); err != nil {
		return nil, nil, err
	}
	lines := strings.Split(strings.TrimSuffix(string(text), "\n"), "\n")
	if lines[0] != tag {
		return nil, nil, fmt.Errorf("wrong_tag %q", lines[0])
	}
	m := map[string][]string{}
	i := 1
	for _, key := range keys {
		name := strings.TrimRight(key, "?*")
		for i < len(lines) && strings.HasPrefix(lines[i], name+" ") {
			v := lines[i][len(name)+1:]
			if v == "" || strings.TrimSpace(v) != v {
				return nil, nil, fmt.Errorf("value of %s", name)
			}
			m[name] = append(m[name], v)
			i++
			if !strings.HasSuffix(key, "*") {
				break
			}
		}
		if len(m[name]) == 0 && !strings.HasSuffix(key, "?") && !strings.HasSuffix(key, "*") {
			return nil, nil, fmt.Errorf("missing %s", name)
		}
	}
	if i != len(lines) {
		return nil, nil, fmt.Errorf("extra line %q", lines[i])
	}
	return m, text, nil
}

func TestVectors(t *testing.T) {
	c := &checker{t: t}
	ps := loadKeys(t, c)
	if t.Failed() {
		t.FailNow()
	}
	msg := func(p string) noteKey { return ps[p].pub["message"] }

	// Envelopes and views (§3, §4, §5).
	envs := map[string]*envelope{}
	names, _ := filepath.Glob(filepath.Join(vectors, "envelope-*.bin"))
	sort.Strings(names)
	for _, path := range names {
		name := filepath.Base(path)
		b := read(t, vectors, name)
		var e *envelope
		c.check(name+" parses (§3)", func() (err error) {
			e, err = parseEnvelope(b)
			return err
		})
		if e == nil {
			continue
		}
		envs[name] = e
		c.check(name+" header signature by the sender's message key", func() error {
			return verifyOne(e.header, e.sigs, msg(e.h.from))
		})
		c.check(name+" payload size and hash", func() error {
			if len(e.ciphertext) != e.h.size || !bytes.Equal(sum(e.ciphertext), e.h.payload) {
				return fmt.Errorf("ciphertext does not match payload")
			}
			return nil
		})
		c.check(name+" stanzas hash to their to lines", func() error {
			for _, to := range e.h.to {
				if st := e.stanzaFor(to.party); st != nil && !bytes.Equal(sum(st), to.stanza) {
					return fmt.Errorf("stanza of %s", to.party)
				}
			}
			return nil
		})
		wantMarker := "all"
		if m := regexp.MustCompile(`view-([A-Z]+)\.bin$`).FindStringSubmatch(name); m != nil {
			wantMarker = m[1]
		}
		c.check(name+" marker", func() error {
			if e.marker != wantMarker {
				return fmt.Errorf("marker %q, want %q", e.marker, wantMarker)
			}
			return nil
		})
		for _, to := range e.h.to {
			if e.stanzaFor(to.party) == nil {
				continue
			}
			c.check(name+" opens for "+to.party+" (§4)", func() error {
				in, body, err := open(e, to.party, ps)
				if err != nil {
					return err
				}
				if !json.Valid(body) {
					return fmt.Errorf("body is not JSON: %q", body)
				}
				// §10: the vectors' bodies are stand-ins, one JSON object
				// each, that do not follow their kind's template (§12).
				var obj map[string]any
				if err := json.Unmarshal(body, &obj); err != nil {
					return fmt.Errorf("body is not a JSON object: %s", body)
				}
				if in.kind == "" {
					return fmt.Errorf("no kind")
				}
				return nil
			})
		}
	}
	e1, e3 := envs["envelope-1.bin"], envs["envelope-3.bin"]
	if e1 == nil || e3 == nil {
		t.Fatal("envelope-1.bin or envelope-3.bin missing")
	}
	id1, id3 := e1.id(), e3.id()
	for name, e := range envs {
		base := e1
		if strings.HasPrefix(name, "envelope-3") {
			base = e3
		}
		c.check(name+" has its envelope's header, signature and ciphertext, hence id", func() error {
			if !bytes.Equal(e.signed, base.signed) || !bytes.Equal(e.ciphertext, base.ciphertext) || e.id() != base.id() {
				return fmt.Errorf("differs from the full envelope")
			}
			return nil
		})
	}
	c.check("envelope-1: BER → CRI, critical TLP:AMBER clarification_request, seq 1", func() error {
		in, _, err := open(e1, "CRI", ps)
		if err != nil {
			return err
		}
		if e1.h.from != "BER" || len(e1.h.to) != 1 || e1.h.to[0].party != "CRI" || e1.h.to[0].seq != 1 ||
			in.kind != "clarification_request" || in.severity != "critical" || in.marking != "AMBER" || in.thread != "" {
			return fmt.Errorf("header %+v inner %+v", e1.h, in)
		}
		return nil
	})
	c.check("envelope-3: group all, exercise advisory in envelope-1's thread, CRI at seq 2 after envelope-1", func() error {
		in, _, err := open(e3, "DOR", ps)
		if err != nil {
			return err
		}
		if e3.h.group != "all" || e3.h.exercise != "true" || in.kind != "advisory" || in.thread != id1 {
			return fmt.Errorf("inner %+v", in)
		}
		if e3.h.to[0].party != "CRI" || e3.h.to[0].seq != 2 || e3.h.to[0].prev != id1 {
			return fmt.Errorf("CRI's to line %+v", e3.h.to[0])
		}
		return nil
	})

	c.check("refusals the vectors must draw (§3, §4): trailing byte, short input, another's view, a swapped stanza", func() error {
		full := read(t, vectors, "envelope-3.bin")
		if _, err := parseEnvelope(append(append([]byte{}, full...), 0)); err == nil {
			return fmt.Errorf("a trailing byte was accepted")
		}
		if _, err := parseEnvelope(full[:len(full)-1]); err == nil {
			return fmt.Errorf("a short envelope was accepted")
		}
		if _, _, err := open(envs["envelope-3.view-CRI.bin"], "DOR", ps); err == nil {
			return fmt.Errorf("DOR opened CRI's view")
		}
		// CRI's stanza put in DOR's view: the stanza no longer hashes to
		// DOR's to line, and DOR's key id does not name it.
		v := *envs["envelope-3.view-DOR.bin"]
		v.stanzas = [][]byte{e3.stanzaFor("CRI")}
		if bytes.Equal(sum(v.stanzas[0]), v.h.to[1].stanza) {
			return fmt.Errorf("CRI's stanza hashes to DOR's to line")
		}
		if _, _, err := open(&v, "DOR", ps); err == nil || !strings.HasPrefix(err.Error(), "no_matching_key") {
			return fmt.Errorf("CRI's stanza as DOR's: %v", err)
		}
		return nil
	})

	// Statements (§6).
	var receiptID []byte
	c.check("receipt.note (§6)", func() error {
		m, text, err := statement(read(t, vectors, "receipt.note"), "hotline-receipt/v1",
			[]string{"message", "party", "received", "log", "index"}, msg("CRI"))
		if err != nil {
			return err
		}
		receiptID = sum(text)
		if m["message"][0] != id1 || m["party"][0] != "CRI" || m["log"][0] != ps["CRI"].pub["checkpoint"].name {
			return fmt.Errorf("%v", m)
		}
		if _, err := parseNumber(m["index"][0]); err != nil {
			return err
		}
		return parseTime(m["received"][0])
	})
	c.check("heartbeat.note (§6)", func() error {
		m, _, err := statement(read(t, vectors, "heartbeat.note"), "hotline-heartbeat/v1",
			[]string{"from", "to", "time", "counter", "sent", "received", "agreement?", "checkpoint?", "gossip*"}, msg("BER"))
		if err != nil {
			return err
		}
		// BER's last envelope to CRI is envelope-3, at seq 2.
		if m["from"][0] != "BER" || m["to"][0] != "CRI" || m["sent"][0] != "2" {
			return fmt.Errorf("%v", m)
		}
		for _, k := range []string{"counter", "sent", "received"} {
			if _, err := parseNumber(m[k][0]); err != nil {
				return err
			}
		}
		return parseTime(m["time"][0])
	})
	c.check("ratification.note (§6)", func() error {
		m, _, err := statement(read(t, vectors, "ratification.note"), "hotline-ratification/v1",
			[]string{"party", "agreement", "version", "time"}, ps["DOR"].pub["root"])
		if err != nil {
			return err
		}
		if m["party"][0] != "DOR" || m["agreement"][0] != e1.h.agreement {
			return fmt.Errorf("%v", m)
		}
		return parseTime(m["time"][0])
	})
	c.check("request.note (§6, §11.1): POST of envelope-1's view to CRI", func() error {
		m, _, err := statement(read(t, vectors, "request.note"), "hotline-request/v2",
			[]string{"from", "to", "time", "method", "path", "length", "body"}, msg("BER"))
		if err != nil {
			return err
		}
		view := read(t, vectors, "envelope-1.view-CRI.bin")
		if m["from"][0] != "BER" || m["to"][0] != "CRI" || m["method"][0] != "POST" || m["path"][0] != "/v1/envelopes" ||
			m["length"][0] != strconv.Itoa(len(view)) || m["body"][0] != b64.EncodeToString(sum(view)) {
			return fmt.Errorf("%v", m)
		}
		return parseTime(m["time"][0])
	})
	c.check("relay-receipt.note (§6)", func() error {
		m, _, err := statement(read(t, vectors, "relay-receipt.note"), "hotline-relay-receipt/v1",
			[]string{"message", "from", "to", "relay", "received"}, msg("ELM"))
		if err != nil {
			return err
		}
		if m["message"][0] != id1 || m["from"][0] != "BER" || m["to"][0] != "CRI" || m["relay"][0] != "ELM" {
			return fmt.Errorf("%v", m)
		}
		return parseTime(m["received"][0])
	})
	var refusalID []byte
	c.check("refusal.note (§6): CRI refuses envelope-3, naming its signed header", func() error {
		m, text, err := statement(read(t, vectors, "refusal.note"), "hotline-refusal/v1",
			[]string{"message", "party", "header", "code", "time"}, msg("CRI"))
		if err != nil {
			return err
		}
		refusalID = sum(text)
		if m["message"][0] != id3 || m["party"][0] != "CRI" || m["code"][0] != "invalid_body" ||
			m["header"][0] != b64.EncodeToString(sum(e3.signed)) {
			return fmt.Errorf("%v", m)
		}
		return parseTime(m["time"][0])
	})
	c.check("refusal.note's invalid_body is borne out by envelope-3's body (§6 table, §12 required fields)", func() error {
		in, body, err := open(e3, "CRI", ps)
		if err != nil {
			return err
		}
		required := map[string][]string{"advisory": {"language", "title", "summary"}}[in.kind]
		var obj map[string]any
		if err := json.Unmarshal(body, &obj); err != nil {
			return err
		}
		for _, f := range required {
			if obj[f] == nil || obj[f] == "" {
				return nil // missing: the body does not fit its template
			}
		}
		return fmt.Errorf("kind %s body %s has every required field", in.kind, body)
	})
	c.check("a statement with a second signature line is refused (§1)", func() error {
		b := read(t, vectors, "receipt.note")
		extra := append(append([]byte{}, b...), bytes.SplitAfter(read(t, vectors, "heartbeat.note"), []byte("\n\n"))[1]...)
		if _, _, err := statement(extra, "hotline-receipt/v1", []string{"message", "party", "received", "log", "index"}, msg("CRI")); err == nil {
			return fmt.Errorf("accepted")
		}
		return nil
	})

	// Log entries (§7), exactly those §10 lists.
	ids := map[string]bool{id1: true, id3: true, hex.EncodeToString(receiptID): true, hex.EncodeToString(refusalID): true}
	zero := strings.Repeat("0", 64)
	wantLeaves := []string{"hotline/BER 01 " + id1, "hotline/CRI 02 " + id1, "hotline/BER 03 " + hex.EncodeToString(receiptID),
		"hotline/BER 01 " + id3, "hotline/CRI 02 " + id3, "hotline/DOR 02 " + id3, "hotline/ELM 02 " + id3, "example.org/log 02 " + zero}
	var gotLeaves []string
	for _, l := range strings.Split(strings.TrimSuffix(string(read(t, vectors, "leaves.txt")), "\n"), "\n") {
		if f := strings.Split(l, " "); !strings.HasPrefix(l, "#") && len(f) == 4 {
			gotLeaves = append(gotLeaves, strings.Join(f[:3], " "))
		}
	}
	c.check("leaves.txt holds the entries §10 lists, in that order", func() error {
		if strings.Join(gotLeaves, "\n") != strings.Join(wantLeaves, "\n") {
			return fmt.Errorf("entries\n%s\nwant\n%s", strings.Join(gotLeaves, "\n"), strings.Join(wantLeaves, "\n"))
		}
		return nil
	})
	for _, l := range strings.Split(strings.TrimSuffix(string(read(t, vectors, "leaves.txt")), "\n"), "\n") {
		if strings.HasPrefix(l, "#") {
			continue
		}
		c.check("leaves.txt "+l[:min(len(l), 40)], func() error {
			f := strings.Split(l, " ")
			if len(f) != 4 {
				return fmt.Errorf("line %q", l)
			}
			dir, err := hex.DecodeString(f[1])
			if err != nil || len(dir) != 1 {
				return fmt.Errorf("dir %q", f[1])
			}
			id, err := hex.DecodeString(f[2])
			if err != nil || len(id) != 32 {
				return fmt.Errorf("id %q", f[2])
			}
			got := hex.EncodeToString(sum([]byte("hotline-leaf/v1\n"+f[0]+"\n"), dir, id))
			if got != f[3] {
				return fmt.Errorf("entry %s, file says %s", got, f[3])
			}
			if f[0] != "example.org/log" && !ids[f[2]] {
				return fmt.Errorf("id %s is no vector's", f[2])
			}
			return nil
		})
	}

	// The sequence-conflict proof (§3.1).
	c.check("sequence-conflict.txt (§3.1)", func() error {
		return checkConflict(read(t, vectors, "sequence-conflict.txt"), msg("BER"), e1)
	})

	v1 := checkAgreement(t, c, ps)
	c.check("the envelopes and ratification.note name one agreement, not agreement.json's version 1 (§10)", func() error {
		rat := regexp.MustCompile(`(?m)^agreement (\S+)$`).FindStringSubmatch(string(read(t, vectors, "ratification.note")))
		if e3.h.agreement != e1.h.agreement || rat == nil || rat[1] != e1.h.agreement {
			return fmt.Errorf("the vectors name different agreements")
		}
		if e1.h.agreement == v1 {
			return fmt.Errorf("they name agreement.json's version 1: §10 says otherwise")
		}
		return nil
	})
	t.Logf("%d checks, %d failed", c.n, c.bad)
}

func checkConflict(b []byte, k noteKey, e1 *envelope) error {
	hs, err := verifyConflict(b, k)
	if err != nil {
		return err
	}
	if !bytes.Equal(hs[0].signed, e1.signed) && !bytes.Equal(hs[1].signed, e1.signed) {
		return fmt.Errorf("neither header is envelope-1's")
	}
	return nil
}

// verifyConflict verifies a sequence-conflict proof (§3.1) with the sender's
// message key k alone and returns its two headers, A then B.
func verifyConflict(b []byte, k noteKey) ([2]*envelope, error) {
	var hs [2]*envelope
	if !bytes.HasSuffix(b, []byte("\n")) {
		return hs, fmt.Errorf("malformed: no final newline")
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) < 5 || lines[0] != "hotline-sequence-conflict/v1" ||
		!strings.HasPrefix(lines[1], "from ") || !strings.HasPrefix(lines[2], "to ") {
		return hs, fmt.Errorf("malformed proof")
	}
	from, to := lines[1][5:], lines[2][3:]
	rest := lines[3:]
	var seqs [2]uint64
	var prevs [2]string
	for i, key := range []string{"a", "b"} {
		if len(rest) == 0 || !strings.HasPrefix(rest[0], key+" ") {
			return hs, fmt.Errorf("malformed: missing %s line", key)
		}
		raw, err := canonB64(rest[0][len(key)+1:], -1)
		if err != nil {
			return hs, err
		}
		rest = rest[1:]
		text, sigs, err := splitNote(raw)
		if err != nil {
			return hs, err
		}
		h, err := parseHeader(text)
		if err != nil {
			return hs, err
		}
		if h.from != from {
			return hs, fmt.Errorf("header %s from %s", key, h.from)
		}
		if err := verifyOne(text, sigs, k); err != nil {
			return hs, err
		}
		hs[i] = &envelope{header: text, signed: raw, sigs: sigs, h: h}
		tl := h.toLine(to)
		if tl == nil {
			return hs, fmt.Errorf("header %s does not list %s", key, to)
		}
		hasOpening := len(rest) > 0 && strings.HasPrefix(rest[0], key+"-opening ")
		if hasOpening != h.v2 {
			return hs, fmt.Errorf("malformed: %s-opening present %v, header v2 %v", key, hasOpening, h.v2)
		}
		if !h.v2 {
			seqs[i], prevs[i] = tl.seq, tl.prev
			continue
		}
		op, err := canonB64(rest[0][len(key)+len("-opening "):], 72)
		if err != nil {
			return hs, fmt.Errorf("malformed: %s-opening: %v", key, err)
		}
		rest = rest[1:]
		if seqs[i], prevs[i], err = checkOpening(to, op, tl.commit); err != nil {
			return hs, err
		}
	}
	if len(rest) != 0 {
		return hs, fmt.Errorf("malformed: extra line %q", rest[0])
	}
	idA, idB := hs[0].id(), hs[1].id()
	switch {
	case seqs[1] == seqs[0] && idA < idB:
	case seqs[1] == seqs[0]+1 && prevs[1] != idA:
	default:
		return hs, fmt.Errorf("no conflict: seq %d %d", seqs[0], seqs[1])
	}
	return hs, nil
}

// The agreement (agreement/FORMAT.md).
func checkAgreement(t *testing.T, c *checker, ps map[string]*party) (v1 string) {
	var file struct {
		Format        string   `json:"format"`
		Terms         []string `json:"terms"`
		Ratifications []string `json:"ratifications"`
		Entries       []string `json:"entries"`
		Roots         []string `json:"roots"`
	}
	dec := json.NewDecoder(bytes.NewReader(read(t, agreement, "agreement.json")))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&file); err != nil || file.Format != "hotline-agreement/v1" || len(file.Terms) == 0 {
		t.Fatalf("agreement.json: %v", err)
	}
	type partyT struct{ ID, Kind, Root string }
	var terms struct {
		Version    int
		Depositary string
		Parties    []partyT
	}
	roots := map[string]noteKey{}
	c.check("agreement.json terms version 1 signed by its depositary's root", func() error {
		text, sigs, err := splitNote([]byte(file.Terms[0]))
		if err != nil {
			return err
		}
		body, ok := bytes.CutPrefix(text, []byte("hotline-terms/v1\n"))
		if !ok {
			return fmt.Errorf("tag")
		}
		if err := json.Unmarshal(body, &terms); err != nil {
			return err
		}
		for _, p := range terms.Parties {
			k, err := parseVKey(p.Root)
			if err != nil {
				return err
			}
			if k.name != p.ID+"/root" || !bytes.Equal(k.pub, ps[p.ID].pub["root"].pub) {
				return fmt.Errorf("root of %s is not keys.txt's", p.ID)
			}
			roots[p.ID] = k
		}
		v1 = hex.EncodeToString(sum(text))
		return verifyOne(text, sigs, roots[terms.Depositary])
	})
	c.check("agreement-id.txt is SHA-256 of version 1's note text", func() error {
		want := "version 1 " + v1
		for _, l := range strings.Split(string(read(t, agreement, "agreement-id.txt")), "\n") {
			if l == want {
				return nil
			}
		}
		return fmt.Errorf("agreement-id.txt does not say %q", want)
	})
	for i, r := range file.Ratifications {
		c.check(fmt.Sprintf("agreement.json ratification %d", i), func() error {
			text, _, err := splitNote([]byte(r))
			if err != nil {
				return err
			}
			p := regexp.MustCompile(`(?m)^party (\S+)$`).FindStringSubmatch(string(text))
			if p == nil {
				return fmt.Errorf("no party")
			}
			m, _, err := statement([]byte(r), "hotline-ratification/v1", []string{"party", "agreement", "version", "time"}, roots[p[1]])
			if err != nil {
				return err
			}
			if m["agreement"][0] != v1 || m["version"][0] != "1" || p[1] == terms.Depositary {
				return fmt.Errorf("%v", m)
			}
			return nil
		})
	}
	type keyT struct {
		Role, Key string
		VF        string `json:"valid_from"`
		VU        string `json:"valid_until"`
		RV        string `json:"revoked"`
	}
	ratified := map[string]bool{}
	for _, r := range file.Ratifications {
		if p := regexp.MustCompile(`(?m)^party (\S+)$`).FindStringSubmatch(r); p != nil {
			ratified[p[1]] = true
		}
	}
	c.check("agreement.json: every party but the depositary ratified version 1", func() error {
		for _, p := range terms.Parties {
			if ratified[p.ID] == (p.ID == terms.Depositary) {
				return fmt.Errorf("party %s ratified %v", p.ID, ratified[p.ID])
			}
		}
		return nil
	})
	lastHash := map[string]string{}
	latest := map[string][]keyT{}
	latestSeq := map[string]int{}
	for i, en := range file.Entries {
		c.check(fmt.Sprintf("agreement.json entry %d signed by its party's root", i), func() error {
			text, sigs, err := splitNote([]byte(en))
			if err != nil {
				return err
			}
			body, ok := bytes.CutPrefix(text, []byte("hotline-entry/v1\n"))
			if !ok {
				return fmt.Errorf("tag")
			}
			var e struct {
				Party    string
				Sequence int
				Previous string
				Keys     []keyT
			}
			if err := json.Unmarshal(body, &e); err != nil {
				return err
			}
			// Entries are in the file by party then sequence; entry n
			// names entry n-1's hash (FORMAT.md "Directory entries").
			if e.Sequence != latestSeq[e.Party]+1 || e.Previous != lastHash[e.Party] {
				return fmt.Errorf("entry %s %d: previous %q, want %q", e.Party, e.Sequence, e.Previous, lastHash[e.Party])
			}
			lastHash[e.Party] = hex.EncodeToString(sum(text))
			if err := verifyOne(text, sigs, roots[e.Party]); err != nil {
				return err
			}
			if e.Sequence > latestSeq[e.Party] {
				latestSeq[e.Party], latest[e.Party] = e.Sequence, e.Keys
			}
			return nil
		})
	}
	for _, l := range strings.Split(strings.TrimSuffix(string(read(t, agreement, "key-validity.txt")), "\n"), "\n") {
		if strings.HasPrefix(l, "#") {
			continue
		}
		c.check("key-validity.txt "+l, func() error {
			f := strings.Split(l, " ")
			if len(f) != 4 {
				return fmt.Errorf("line")
			}
			at, err := time.Parse(time.RFC3339, f[2])
			if err != nil {
				return err
			}
			got := "none"
			for _, k := range latest[f[0]] {
				if k.Role != f[1] {
					continue
				}
				ok := !at.Before(mustTime(k.VF))
				if k.VU != "" && !at.Before(mustTime(k.VU)) {
					ok = false
				}
				if k.RV != "" && !at.Before(mustTime(k.RV)) {
					ok = false
				}
				if ok {
					vk, err := parseVKey(k.Key)
					if err != nil {
						return err
					}
					got = vk.name + "+" + hex.EncodeToString(vk.hash)
				}
			}
			if got != f[3] {
				return fmt.Errorf("valid key %s", got)
			}
			return nil
		})
	}
	return v1
}

func mustTime(s string) time.Time {
	tm, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return tm
}
