package server_test

import (
	"bytes"
	"context"
	"crypto/hkdf"
	"crypto/hpke"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/mod/sumdb/note"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/agreement"
	"github.com/hotline-net/hotline/internal/fedapi"
	"github.com/hotline-net/hotline/internal/server"
	"github.com/hotline-net/hotline/internal/sim"
	"github.com/hotline-net/hotline/internal/store"
)

// refusalNet is CRI's node, running, and the keys of the other parties,
// whose requests the test forges.
type refusalNet struct {
	tn   *testNet
	url  string
	agr  *agreement.Agreement
	keys map[string]*hotline.KeySet
}

func newRefusalNet(t *testing.T) *refusalNet {
	tn := newTestNetWith(t, sim.TestnetConfig{Parties: []string{"BER", "CRI", "DOR", "ELM"}, Unratified: []string{"ELM"}}, []string{"CRI"}, nil)
	rn := &refusalNet{tn: tn, url: tn.Servers["CRI"].URL(), keys: map[string]*hotline.KeySet{}}
	var err error
	if rn.agr, err = agreement.Load(filepath.Join(tn.Dir, "agreement.json")); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"BER", "CRI", "DOR", "ELM"} {
		if rn.keys[p], err = hotline.LoadKeySet(filepath.Join(tn.Dir, p, "keys")); err != nil {
			t.Fatal(err)
		}
	}
	return rn
}

const validNotice = `{"language":"en","title":"Scanning","summary":"Scanning of control networks.","incident":{"start":"2026-11-26T22:00:00Z"}}`

// seal seals a notification from "from" to the parties in to, under the
// agreement in force, changed by change.
func (rn *refusalNet) seal(t *testing.T, from string, to []string, change func(d *hotline.Draft)) *hotline.Envelope {
	t.Helper()
	d := &hotline.Draft{
		Agreement: rn.agr.Latest().Hash(),
		From:      from,
		Created:   time.Now(),
		Inner:     hotline.Inner{Kind: "notification", Severity: hotline.SeverityHigh, Marking: hotline.TLPAmber},
		Body:      []byte(validNotice),
	}
	for _, p := range to {
		d.To = append(d.To, hotline.Addressee{Party: p, Key: rn.keys[p].Encryption.Public(), Seq: 1})
	}
	if change != nil {
		change(d)
	}
	e, err := hotline.Seal(d, rn.keys[from].Message)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func (rn *refusalNet) view(t *testing.T, e *hotline.Envelope, party string) []byte {
	t.Helper()
	v, err := e.View(party)
	if err != nil {
		t.Fatal(err)
	}
	return v.Marshal()
}

// post sends body to CRI's /v1/envelopes, signed as "as" (or not at all
// when as is ""), and returns the status and the parsed refusal.
func (rn *refusalNet) post(t *testing.T, as string, body []byte, sign func(*http.Request)) (int, fedapi.Refusal, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, rn.url+"/v1/envelopes", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if as != "" {
		if err := fedapi.SignRequest(req, body, "CRI", rn.keys[as].Message, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if sign != nil {
		sign(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var ref fedapi.Refusal
	if resp.StatusCode != 200 {
		if err := json.Unmarshal(b, &ref); err != nil {
			t.Fatalf("refusal is not JSON: %s", b)
		}
	}
	return resp.StatusCode, ref, b
}

// snapshot is what a refusal must not change.
type snapshot struct {
	messages  int64
	highWater uint64
}

func (rn *refusalNet) snapshot(t *testing.T) snapshot {
	t.Helper()
	st := rn.tn.Servers["CRI"].Node().Store()
	ctx := context.Background()
	n, err := st.CountMessages(ctx, store.MessageFilter{IncludePending: true})
	if err != nil {
		t.Fatal(err)
	}
	hw, err := st.HighWater(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return snapshot{messages: n, highWater: hw}
}

// refusedCount reads CRI's refusal counter for code from /metrics.
func (rn *refusalNet) refusedCount(t *testing.T, code string) int {
	t.Helper()
	op := rn.tn.Servers["CRI"].Operator()
	resp, err := op.Client.Get(op.Base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	prefix := fmt.Sprintf(`hotline_envelopes_refused_total{code=%q} `, code)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, prefix); ok {
			var n int
			fmt.Sscan(v, &n)
			return n
		}
	}
	return 0
}

// TestRefusals sends each kind of bad request to a node over HTTP and
// checks the refusal's code and status, that it is counted, and that
// nothing changed.
func TestRefusals(t *testing.T) {
	rn := newRefusalNet(t)
	toCRI := []string{"CRI"}
	good := func(t *testing.T) []byte { return rn.view(t, rn.seal(t, "BER", toCRI, nil), "CRI") }

	tests := []struct {
		name   string
		as     string // who signs the request
		body   func(t *testing.T) []byte
		sign   func(*http.Request)
		code   string
		status int
	}{
		{"malformed", "BER", func(*testing.T) []byte { return []byte("hotline-envelope/v1\nnonsense\n") }, nil, "malformed", 400},
		{"wrong tag", "BER", func(*testing.T) []byte { return []byte("GET / HTTP/1.1\n") }, nil, "wrong_tag", 400},
		{"trailing data", "BER", func(t *testing.T) []byte { return append(good(t), 0) }, nil, "trailing_data", 400},
		{"too large", "BER", func(*testing.T) []byte { return make([]byte, hotline.DefaultMaxEnvelope+128<<10) }, nil, "too_large", 413},
		{"header too large", "BER", func(*testing.T) []byte {
			return append([]byte(hotline.EnvelopeTag+"\nnonce "), bytes.Repeat([]byte("A"), hotline.DefaultMaxHeader)...)
		}, nil, "header_too_large", 413},
		{"too many recipients", "BER", func(t *testing.T) []byte {
			lines := strings.SplitAfter(string(good(t)), "\n")
			var b strings.Builder
			for _, l := range lines[:10] {
				b.WriteString(l)
			}
			for i := range hotline.DefaultMaxRecipients + 1 {
				fmt.Fprintf(&b, "to P%04d 1 - AAAA\n", i)
			}
			return []byte(b.String())
		}, nil, "too_many_recipients", 413},
		{"envelope too large", "BER", func(t *testing.T) []byte {
			e := rn.seal(t, "BER", toCRI, nil)
			b := rn.view(t, e, "CRI")
			return bytes.Replace(b, fmt.Appendf(nil, "payload %d ", e.Header.PayloadSize), []byte("payload 99999999999 "), 1)
		}, nil, "envelope_too_large", 413},
		{"unsigned request", "", good, nil, "unauthenticated", 401},
		{"request signed by another key", "BER", good, func(r *http.Request) {
			other, _ := hotline.GenerateSigningKey("BER", false)
			b, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(b))
			fedapi.SignRequest(r, b, "CRI", other, time.Now())
		}, "unauthenticated", 401},
		{"request for another body", "BER", good, func(r *http.Request) {
			// Of the same length: the signature verifies, the body read
			// does not match its signed hash.
			b, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(b))
			fedapi.SignRequest(r, bytes.Repeat([]byte("x"), len(b)), "CRI", rn.keys["BER"].Message, time.Now())
		}, "unauthenticated", 401},
		{"request for another length", "BER", good, func(r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			fedapi.SignRequest(r, b[:10], "CRI", rn.keys["BER"].Message, time.Now())
			r.ContentLength = int64(len(b))
			r.Body = io.NopCloser(bytes.NewReader(b))
		}, "unauthenticated", 401},
		{"request of protocol version 1", "BER", good, func(r *http.Request) {
			r.Header.Del(fedapi.HeaderVersion)
		}, "unsupported_version", 400},
		{"stale request", "BER", good, func(r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(b))
			fedapi.SignRequest(r, b, "CRI", rn.keys["BER"].Message, time.Now().Add(-10*time.Minute))
		}, "stale_request", 401},
		{"request from an unknown party", "BER", good, func(r *http.Request) {
			zz, _ := hotline.GenerateSigningKey("ZZZ", false)
			b, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(b))
			fedapi.SignRequest(r, b, "CRI", zz, time.Now())
		}, "unknown_sender", 403},
		{"envelope from an unknown party", "BER", func(t *testing.T) []byte {
			zz, _ := hotline.GenerateKeySet("ZZZ", "")
			d := &hotline.Draft{Agreement: rn.agr.Latest().Hash(), From: "ZZZ", Created: time.Now(),
				Inner: hotline.Inner{Kind: "notification", Severity: hotline.SeverityHigh, Marking: hotline.TLPAmber},
				Body:  []byte(validNotice),
				To:    []hotline.Addressee{{Party: "CRI", Key: rn.keys["CRI"].Encryption.Public(), Seq: 1}}}
			e, err := hotline.Seal(d, zz.Message)
			if err != nil {
				t.Fatal(err)
			}
			return rn.view(t, e, "CRI")
		}, nil, "unknown_sender", 403},
		{"sender has not ratified", "BER", func(t *testing.T) []byte { return rn.view(t, rn.seal(t, "ELM", toCRI, nil), "CRI") }, nil, "not_ratified", 403},
		{"header signed by another key", "BER", func(t *testing.T) []byte {
			e := rn.seal(t, "BER", toCRI, nil)
			other, _ := hotline.GenerateSigningKey("BER", false)
			signed, _ := note.Sign(&note.Note{Text: string(e.HeaderText())}, other)
			b := rn.view(t, e, "CRI")
			return append(signed, b[len(e.SignedHeader()):]...)
		}, nil, "bad_signature", 403},
		{"unknown agreement", "BER", func(t *testing.T) []byte {
			return rn.view(t, rn.seal(t, "BER", toCRI, func(d *hotline.Draft) { d.Agreement = hotline.NoteID([]byte("another agreement")) }), "CRI")
		}, nil, "unknown_agreement", 422},
		{"not a recipient", "BER", func(t *testing.T) []byte { return rn.view(t, rn.seal(t, "BER", []string{"DOR"}, nil), "DOR") }, nil, "not_a_recipient", 421},
		{"another recipient's view", "BER", func(t *testing.T) []byte {
			return rn.view(t, rn.seal(t, "BER", []string{"CRI", "DOR"}, nil), "DOR")
		}, nil, "not_a_recipient", 421},
		{"created in the future", "BER", func(t *testing.T) []byte {
			return rn.view(t, rn.seal(t, "BER", toCRI, func(d *hotline.Draft) { d.Created = time.Now().Add(time.Hour) }), "CRI")
		}, nil, "future_created", 422},
		{"stanza flipped", "BER", func(t *testing.T) []byte {
			e := rn.seal(t, "BER", toCRI, nil)
			b := rn.view(t, e, "CRI")
			b[len(b)-len(e.Ciphertext())-100] ^= 1
			return b
		}, nil, "bad_stanza", 422},
		{"ciphertext flipped", "BER", func(t *testing.T) []byte {
			b := good(t)
			b[len(b)-1] ^= 1
			return b
		}, nil, "bad_payload", 422},
		{"sealed to another key", "BER", func(t *testing.T) []byte {
			return rn.view(t, rn.seal(t, "BER", toCRI, func(d *hotline.Draft) { d.To[0].Key = rn.keys["DOR"].Encryption.Public() }), "CRI")
		}, nil, "no_matching_key", 422},
		{"inner header not what the header commits to", "BER", func(t *testing.T) []byte {
			return rn.handBuilt(t, "BER", "CRI", true)
		}, nil, "bad_commitment", 422},
		{"unknown kind", "BER", func(t *testing.T) []byte {
			return rn.view(t, rn.seal(t, "BER", toCRI, func(d *hotline.Draft) { d.Inner.Kind = "gossip" }), "CRI")
		}, nil, "unknown_kind", 422},
		{"body not in its template", "BER", func(t *testing.T) []byte {
			return rn.view(t, rn.seal(t, "BER", toCRI, func(d *hotline.Draft) { d.Body = []byte(`{"language":"en","title":"no summary"}`) }), "CRI")
		}, nil, "invalid_body", 422},
		{"STIX content stricter than the envelope", "BER", func(t *testing.T) []byte {
			return rn.view(t, rn.seal(t, "BER", toCRI, func(d *hotline.Draft) {
				d.Inner.Marking = hotline.TLPClear
				d.Body = []byte(`{"language":"en","title":"t","summary":"s","incident":{"start":"2026-11-26T22:00:00Z"},"stix":` + redBundle + `}`)
			}), "CRI")
		}, nil, "invalid_body", 422},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := rn.snapshot(t)
			counted := rn.refusedCount(t, tt.code)
			status, ref, raw := rn.post(t, tt.as, tt.body(t), tt.sign)
			if status != tt.status || ref.Code != tt.code {
				t.Fatalf("got %d %q (%s), want %d %q", status, ref.Code, raw, tt.status, tt.code)
			}
			if ref.Message == "" {
				t.Error("refusal without a message")
			}
			if after := rn.snapshot(t); after != before {
				t.Errorf("the refusal changed the store: %+v → %+v", before, after)
			}
			if tt.code != "too_large" {
				if got := rn.refusedCount(t, tt.code); got != counted+1 {
					t.Errorf("refusals counted under %q: %d → %d, want +1", tt.code, counted, got)
				}
			}
		})
	}

	// The hand-built envelope, with the right commitment, is accepted: the
	// format of docs/PROTOCOL.md is the one the node speaks.
	hand := rn.handBuilt(t, "BER", "CRI", false)
	status, ref, raw := rn.post(t, "BER", hand, nil)
	if status != 200 {
		t.Fatalf("a hand-built envelope following docs/PROTOCOL.md was refused: %d %s", status, ref.Code)
	}
	if _, _, err := hotline.OpenReceipt(raw, mustVerifier(t, rn.keys["CRI"].Message)); err != nil {
		t.Errorf("receipt: %v", err)
	}
	// The same envelope again: the same receipt, 200. (The next in BER's
	// sequence after the hand-built one.)
	handEnv, err := hotline.Parse(hand)
	if err != nil {
		t.Fatal(err)
	}
	b := rn.view(t, rn.seal(t, "BER", toCRI, func(d *hotline.Draft) { d.To[0].Seq, d.To[0].Prev = 2, handEnv.ID() }), "CRI")
	_, _, first := rn.post(t, "BER", b, nil)
	status, _, again := rn.post(t, "BER", b, nil)
	if status != 200 || !bytes.Equal(first, again) {
		t.Errorf("the same envelope again: %d, same receipt %v", status, bytes.Equal(first, again))
	}
}

func mustVerifier(tb testing.TB, k *hotline.SigningKey) note.Verifier {
	tb.Helper()
	v, err := k.Verifier()
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

const redBundle = `{"type":"bundle","id":"bundle--5d0092c5-5f74-4287-9642-33f4c354e56d","objects":[{"type":"indicator","spec_version":"2.1","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","created":"2016-04-06T20:03:48.000Z","modified":"2016-04-06T20:03:48.000Z","indicator_types":["malicious-activity"],"name":"C2","pattern":"[ipv4-addr:value = '198.51.100.3']","pattern_type":"stix","valid_from":"2016-01-01T00:00:00Z","object_marking_refs":["marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"]}]}`

// handBuilt builds a recipient's view by hand, from docs/PROTOCOL.md and
// the standard library alone, without package hotline's Seal. With
// wrongInner, the header's inner commitment is computed over another salt.
func (rn *refusalNet) handBuilt(t *testing.T, from, to string, wrongInner bool) []byte {
	t.Helper()
	b64 := base64.StdEncoding.EncodeToString
	random := func(n int) []byte {
		b := make([]byte, n)
		rand.Read(b)
		return b
	}
	nonce, contentKey, salt := random(16), random(32), random(32)

	inner := "hotline-inner/v1\nkind notification\nseverity high\nmarking AMBER\nsalt " + b64(salt) + "\n"
	commitSalt := salt
	if wrongInner {
		commitSalt = random(32)
	}
	innerCommit := sha256.Sum256(append(append([]byte(nil), commitSalt...), inner...))

	payloadKey, _ := hkdf.Key(sha256.New, contentKey, nonce, "hotline-envelope/v1 payload key", 32)
	keyCommit, _ := hkdf.Key(sha256.New, contentKey, nonce, "hotline-envelope/v1 key commitment", 32)
	aead, _ := chacha20poly1305.New(payloadKey)
	ct := aead.Seal(nil, make([]byte, 12), []byte(inner+"\n"+validNotice), nil)

	// The recipient's encryption key, from its public text form.
	pubText := rn.keys[to].Encryption.Public().String()
	parts := strings.SplitN(pubText, "+", 3)
	keyID, _ := hex.DecodeString(parts[1])
	raw, _ := base64.StdEncoding.DecodeString(parts[2])
	if binary.BigEndian.Uint16(raw) != 0x647a {
		t.Fatal("not an MLKEM768-X25519 key")
	}
	pub, err := hpke.MLKEM768X25519().NewPublicKey(raw[2:])
	if err != nil {
		t.Fatal(err)
	}
	info := append([]byte("hotline-envelope/v1\n"+from+"\n"+to+"\n"), nonce...)
	wrapped, err := hpke.Seal(pub, hpke.HKDFSHA256(), hpke.ChaCha20Poly1305(), info, contentKey)
	if err != nil {
		t.Fatal(err)
	}
	stanza := append(append([]byte(nil), keyID...), wrapped...)
	stanzaHash := sha256.Sum256(stanza)
	payloadHash := sha256.Sum256(ct)

	header := fmt.Sprintf("hotline-envelope/v1\nnonce %s\nagreement %s\nfrom %s\ncreated %s\nexercise false\npayload %d %s\nkey %s\ninner %s\nto %s 1 - %s\n",
		b64(nonce), rn.agr.Latest().Hash(), from, time.Now().UTC().Format("2006-01-02T15:04:05Z"),
		len(ct), b64(payloadHash[:]), b64(keyCommit), b64(innerCommit[:]), to, b64(stanzaHash[:]))
	signed, err := note.Sign(&note.Note{Text: header}, rn.keys[from].Message)
	if err != nil {
		t.Fatal(err)
	}
	out := append(signed, "--- "+to+"\n"...)
	out = append(out, stanza...)
	return append(out, ct...)
}

// offsetClock is the system clock moved by a fixed offset.
type offsetClock time.Duration

func (o offsetClock) Now() time.Time { return time.Now().Add(time.Duration(o)) }

// TestRefusalKeyNotValid: at the receiving node's time, the sender has no
// message key valid yet (its keys take effect with the agreement, later):
// key_not_valid, 403, nothing stored.
func TestRefusalKeyNotValid(t *testing.T) {
	const early = -2 * time.Hour
	tn := newTestNetWith(t, sim.TestnetConfig{Parties: []string{"BER", "CRI"}}, []string{"CRI"}, func(_ string, o *server.Options) {
		o.Clock = offsetClock(early)
	})
	rn := &refusalNet{tn: tn, url: tn.Servers["CRI"].URL(), keys: map[string]*hotline.KeySet{"BER": keysOf(t, tn, "BER"), "CRI": keysOf(t, tn, "CRI")}}
	rn.agr = mustAgreement(t, tn)
	body := rn.view(t, rn.seal(t, "BER", []string{"CRI"}, func(d *hotline.Draft) { d.Created = time.Now().Add(early) }), "CRI")
	before := rn.snapshot(t)
	status, ref, raw := rn.post(t, "", body, func(r *http.Request) {
		// Signed at the receiver's time, so that only the key is at issue.
		fedapi.SignRequest(r, body, "CRI", rn.keys["BER"].Message, time.Now().Add(early))
	})
	if status != http.StatusForbidden || ref.Code != "key_not_valid" {
		t.Fatalf("got %d %q (%s), want 403 key_not_valid", status, ref.Code, raw)
	}
	if after := rn.snapshot(t); after != before {
		t.Errorf("the refusal changed the store: %+v → %+v", before, after)
	}
}
