package server_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/internal/fedapi"
	"github.com/hotline-net/hotline/internal/node"
	"github.com/hotline-net/hotline/internal/relay"
	"github.com/hotline-net/hotline/internal/server"
	"github.com/hotline-net/hotline/internal/sim"
	"github.com/hotline-net/hotline/internal/store"
	"github.com/hotline-net/hotline/internal/tlog"
)

// The hostile-peer corpus: every case is one request (or one connection)
// a hostile peer, or anyone who reaches a node's port, sends to a live
// node over HTTP. Each case names the status and the refusal code the node
// must answer with and whether the refusal is counted; and for every case
// the node's state — its store's messages, high-water mark, outbox, relay
// items and equivocations, its log's entries, its witness's view of
// another log, its agreement chain — is the same after the case as
// before. A refusal changes nothing but its counter.

// hostile is the net the corpus attacks: CRI, a party, and DEP, the
// depositary (a relay), run; BER, DOR and ELM (which has not ratified)
// do not, and the test signs as them.
type hostile struct {
	rn     *refusalNet
	tn     *testNet
	client *http.Client
}

// answer is what a case got: the status (0 when the node cut the
// connection off) and the body.
type answer struct {
	status int
	body   []byte
}

type hostileCase struct {
	name   string
	target string // the node attacked: "CRI" or "DEP"
	// setup, if set, runs before the state is taken (what the attack
	// replays must exist first).
	setup func(t *testing.T, h *hostile)
	do    func(t *testing.T, h *hostile) answer
	// status is the HTTP status wanted; 0 means the connection is cut off.
	status int
	// code is the refusal code of the JSON answer; empty for answers that
	// are not the peer API's refusals (the witness's C2SP answers,
	// net/http's own) and for a 200.
	code string
	// counted: the refusal is counted in hotline_envelopes_refused_total.
	counted bool
	// check, if set, checks the answer further.
	check func(t *testing.T, h *hostile, a answer)
}

// nodeState is what a hostile request must not change.
type nodeState struct {
	messages, outbox, relayAll, relayPending int64
	highWater, logEntries                    uint64
	equivocations                            int
	witnessBER                               string // the witness's latest cosigned checkpoint of BER's log
	agreement                                hotline.ID
}

func (h *hostile) state(t *testing.T, party string) nodeState {
	t.Helper()
	s := h.tn.Servers[party]
	st := s.Node().Store()
	ctx := context.Background()
	// Receipts are recorded in the background after they are answered.
	if err := s.Node().Settle(ctx); err != nil {
		t.Fatal(err)
	}
	var ns nodeState
	var err error
	must := func(e error) {
		if e != nil && err == nil {
			err = e
		}
	}
	ns.messages, err = st.CountMessages(ctx, store.MessageFilter{IncludePending: true})
	var e error
	ns.outbox, e = st.CountOutbox(ctx, store.OutboxFilter{})
	must(e)
	ns.relayAll, e = st.RelayCount(ctx, "", false)
	must(e)
	ns.relayPending, e = st.RelayCount(ctx, "", true)
	must(e)
	ns.highWater, e = st.HighWater(ctx)
	must(e)
	eq, e := st.Equivocations(ctx)
	must(e)
	ns.equivocations = len(eq)
	for _, e := range s.Log().EntriesFrom(ctx, 0) {
		must(e)
		ns.logEntries++
	}
	if err != nil {
		t.Fatal(err)
	}
	ns.agreement = s.Node().Agreement().Digest()
	a := h.get(t, s.URL()+"/witness/"+originHash(h.rn.keys["BER"].Origin())+"/checkpoint")
	ns.witnessBER = fmt.Sprintf("%d %x", a.status, sha256.Sum256(a.body))
	return ns
}

func originHash(origin string) string {
	sum := sha256.Sum256([]byte(origin))
	return fmt.Sprintf("%x", sum)
}

func (h *hostile) get(t *testing.T, url string) answer {
	t.Helper()
	resp, err := h.client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, b}
}

// refused reads a node's refusal counter for code.
func (h *hostile) refused(t *testing.T, party, code string) int {
	t.Helper()
	op := h.tn.Servers[party].Operator()
	defer op.Client.CloseIdleConnections()
	resp, err := op.Client.Get(op.Base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	prefix := fmt.Sprintf(`hotline_envelopes_refused_total{code=%q} `, code)
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, prefix); ok {
			var n int
			fmt.Sscan(v, &n)
			return n
		}
	}
	return 0
}

// request sends a request to party's node, signed as "as" at time at
// (unless as is empty), changed by change before it is sent.
func (h *hostile) request(t *testing.T, party, method, path string, body []byte, as string, at time.Time, change func(*http.Request)) answer {
	t.Helper()
	req, err := http.NewRequest(method, h.tn.Servers[party].URL()+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if as != "" {
		if err := fedapi.SignRequest(req, body, party, h.rn.keys[as].Message, at); err != nil {
			t.Fatal(err)
		}
	}
	if change != nil {
		change(req)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, b}
}

// envelope posts a view to CRI, signed by BER.
func (h *hostile) envelope(t *testing.T, view []byte) answer {
	return h.request(t, "CRI", http.MethodPost, "/v1/envelopes", view, "BER", time.Now(), nil)
}

// sealed seals an envelope from BER to CRI (and to), changed by change, and
// returns CRI's view.
func (h *hostile) sealed(t *testing.T, change func(*hotline.Draft)) []byte {
	return h.rn.view(t, h.rn.seal(t, "BER", []string{"CRI"}, change), "CRI")
}

// withBody seals an envelope whose body is body.
func withBody(body string) func(t *testing.T, h *hostile) answer {
	return func(t *testing.T, h *hostile) answer {
		return h.envelope(t, h.sealed(t, func(d *hotline.Draft) { d.Body = []byte(body) }))
	}
}

// forgedKey is a fresh key under a party's name: what a forger holds.
func forgedKey(t *testing.T, name string) *hotline.SigningKey {
	t.Helper()
	k, err := hotline.GenerateSigningKey(name, false)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// resign signs r again as from with key, over body, at at.
func resign(body []byte, to, from string, key *hotline.SigningKey, at time.Time) func(*http.Request) {
	return func(r *http.Request) {
		fedapi.SignRequest(r, body, to, key, at)
		r.Header.Set(fedapi.HeaderFrom, from)
	}
}

// heartbeat signs a heartbeat as BER's node would, changed by change.
func (h *hostile) heartbeat(t *testing.T, counter uint64, change func(*hotline.Heartbeat)) []byte {
	t.Helper()
	hb := &hotline.Heartbeat{From: "BER", To: "CRI", Time: time.Now(), Counter: counter,
		Agreement: h.tn.Servers["CRI"].Node().Agreement().Digest()}
	if change != nil {
		change(hb)
	}
	b, err := hotline.Sign(hb, h.rn.keys["BER"].Message)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// berCheckpoint signs a checkpoint of BER's log, of size with a root drawn
// from seed, with key (BER's checkpoint key if nil).
func (h *hostile) berCheckpoint(t *testing.T, size uint64, seed string, key note.Signer) []byte {
	t.Helper()
	if key == nil {
		key = h.rn.keys["BER"].Checkpoint
	}
	root := sha256.Sum256([]byte(seed))
	text := fmt.Sprintf("%s\n%d\n%s\n", h.rn.keys["BER"].Origin(), size, base64.StdEncoding.EncodeToString(root[:]))
	b, err := note.Sign(&note.Note{Text: text}, key)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (h *hostile) witness(t *testing.T, body []byte) answer {
	t.Helper()
	resp, err := h.client.Post(h.tn.Servers["CRI"].URL()+"/witness/add-checkpoint", "text/plain", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, b}
}

// raw writes to a fresh connection to party's node and returns the answer,
// or status 0 if the node closed the connection without one (within 30 s).
func (h *hostile) raw(t *testing.T, party string, write func(net.Conn)) answer {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(h.tn.Servers[party].URL(), "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	go write(conn)
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatalf("the node neither answered nor closed the connection in 30 s")
		}
		return answer{}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, b}
}

// TestHostileCorpus runs the hostile-peer corpus against live nodes.
func TestHostileCorpus(t *testing.T) {
	cfg := sim.TestnetConfig{
		Parties:    []string{"BER", "CRI", "DOR", "ELM"},
		Unratified: []string{"ELM"},
		Node: func(_ string, c *server.Config) {
			c.HeartbeatInterval = server.Duration(time.Hour)
			c.RateLimit = server.RateLimitConfig{PerSecond: -1}
		},
	}
	tn := newTestNetWith(t, cfg, []string{"DEP", "CRI"}, func(_ string, o *server.Options) {
		o.Timeouts = server.Timeouts{ReadHeader: 300 * time.Millisecond, Read: time.Second}
	})
	rn := &refusalNet{tn: tn, url: tn.Servers["CRI"].URL(), agr: mustAgreement(t, tn), keys: map[string]*hotline.KeySet{}}
	for _, p := range []string{"BER", "CRI", "DOR", "ELM", "DEP"} {
		rn.keys[p] = keysOf(t, tn, p)
	}
	h := &hostile{rn: rn, tn: tn, client: &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone(), Timeout: 30 * time.Second}}
	t.Cleanup(h.client.CloseIdleConnections)

	// CRI's witness holds a checkpoint of BER's log of size 5, so that
	// there is something to go back from.
	if a := h.witness(t, tlog.FormatAddCheckpoint(0, nil, h.berCheckpoint(t, 5, "five", nil))); a.status != 200 {
		t.Fatalf("cosigning a first checkpoint of BER's log: %d %s", a.status, a.body)
	}

	// One envelope accepted, replayed below.
	var accepted, acceptedReceipt []byte
	// One view held by the relay for BER, that BER pulls and answers with
	// receipts below.
	var relayed *hotline.Envelope

	cases := []hostileCase{
		// Forged and replayed requests.
		{name: "unsigned request", target: "CRI", status: 401, code: "unauthenticated", counted: true,
			do: func(t *testing.T, h *hostile) answer {
				return h.request(t, "CRI", "POST", "/v1/envelopes", h.sealed(t, nil), "", time.Time{}, nil)
			}},
		{name: "request signed by a forged key", target: "CRI", status: 401, code: "unauthenticated", counted: true,
			do: func(t *testing.T, h *hostile) answer {
				b := h.sealed(t, nil)
				return h.request(t, "CRI", "POST", "/v1/envelopes", b, "", time.Time{}, resign(b, "CRI", "BER", forgedKey(t, "BER"), time.Now()))
			}},
		{name: "request signed by another party under BER's name", target: "CRI", status: 401, code: "unauthenticated", counted: true,
			do: func(t *testing.T, h *hostile) answer {
				b := h.sealed(t, nil)
				return h.request(t, "CRI", "POST", "/v1/envelopes", b, "", time.Time{}, resign(b, "CRI", "BER", h.rn.keys["DOR"].Message, time.Now()))
			}},
		{name: "signature over another body", target: "CRI", status: 401, code: "unauthenticated", counted: true,
			do: func(t *testing.T, h *hostile) answer {
				return h.request(t, "CRI", "POST", "/v1/envelopes", h.sealed(t, nil), "", time.Time{}, resign([]byte("another body"), "CRI", "BER", h.rn.keys["BER"].Message, time.Now()))
			}},
		{name: "request signed for another node", target: "CRI", status: 401, code: "unauthenticated", counted: true,
			do: func(t *testing.T, h *hostile) answer {
				b := h.sealed(t, nil)
				return h.request(t, "CRI", "POST", "/v1/envelopes", b, "", time.Time{}, resign(b, "DOR", "BER", h.rn.keys["BER"].Message, time.Now()))
			}},
		{name: "request replayed after the window", target: "CRI", status: 401, code: "stale_request", counted: true,
			do: func(t *testing.T, h *hostile) answer {
				return h.request(t, "CRI", "POST", "/v1/envelopes", h.sealed(t, nil), "BER", time.Now().Add(-10*time.Minute), nil)
			}},
		{name: "request dated ahead of the window", target: "CRI", status: 401, code: "stale_request", counted: true,
			do: func(t *testing.T, h *hostile) answer {
				return h.request(t, "CRI", "POST", "/v1/envelopes", h.sealed(t, nil), "BER", time.Now().Add(10*time.Minute), nil)
			}},
		{name: "request from a party outside the agreement", target: "CRI", status: 403, code: "unknown_sender", counted: true,
			do: func(t *testing.T, h *hostile) answer {
				b := h.sealed(t, nil)
				return h.request(t, "CRI", "POST", "/v1/envelopes", b, "", time.Time{}, resign(b, "CRI", "ZZZ", forgedKey(t, "ZZZ"), time.Now()))
			}},
		{name: "garbage in Hotline-From", target: "CRI", status: 401, code: "unauthenticated", counted: true,
			do: func(t *testing.T, h *hostile) answer {
				return h.request(t, "CRI", "POST", "/v1/envelopes", h.sealed(t, nil), "BER", time.Now(), func(r *http.Request) {
					r.Header.Set(fedapi.HeaderFrom, "BER\u202eREB")
				})
			}},
		{name: "garbage in Hotline-Time", target: "CRI", status: 401, code: "unauthenticated", counted: true,
			do: func(t *testing.T, h *hostile) answer {
				return h.request(t, "CRI", "POST", "/v1/envelopes", h.sealed(t, nil), "BER", time.Now(), func(r *http.Request) {
					r.Header.Set(fedapi.HeaderTime, "yesterday")
				})
			}},
		{name: "envelope replayed", target: "CRI", status: 200,
			setup: func(t *testing.T, h *hostile) {
				accepted = h.sealed(t, nil)
				a := h.envelope(t, accepted)
				if a.status != 200 {
					t.Fatalf("the envelope to replay was refused: %d %s", a.status, a.body)
				}
				acceptedReceipt = a.body
			},
			do: func(t *testing.T, h *hostile) answer { return h.envelope(t, accepted) },
			check: func(t *testing.T, h *hostile, a answer) {
				if !bytes.Equal(a.body, acceptedReceipt) {
					t.Errorf("the replay got another receipt:\n%s\nfirst:\n%s", a.body, acceptedReceipt)
				}
			}},
		{name: "envelope from a party outside the agreement", target: "CRI", status: 403, code: "unknown_sender", counted: true,
			do: func(t *testing.T, h *hostile) answer {
				zz, err := hotline.GenerateKeySet("ZZZ", "")
				if err != nil {
					t.Fatal(err)
				}
				e, err := hotline.Seal(&hotline.Draft{Agreement: h.rn.agr.Latest().Hash(), From: "ZZZ", Created: time.Now(),
					Inner: hotline.Inner{Kind: "notification", Severity: hotline.SeverityHigh, Marking: hotline.TLPAmber},
					Body:  []byte(validNotice),
					To:    []hotline.Addressee{{Party: "CRI", Key: h.rn.keys["CRI"].Encryption.Public(), Seq: 1}}}, zz.Message)
				if err != nil {
					t.Fatal(err)
				}
				return h.envelope(t, h.rn.view(t, e, "CRI"))
			}},
		{name: "envelope from a party that has not ratified", target: "CRI", status: 403, code: "not_ratified", counted: true,
			do: func(t *testing.T, h *hostile) answer {
				return h.envelope(t, h.rn.view(t, h.rn.seal(t, "ELM", []string{"CRI"}, nil), "CRI"))
			}},
		{name: "header signed by a forged key", target: "CRI", status: 403, code: "bad_signature", counted: true,
			do: func(t *testing.T, h *hostile) answer {
				e := h.rn.seal(t, "BER", []string{"CRI"}, nil)
				signed, _ := note.Sign(&note.Note{Text: string(e.HeaderText())}, forgedKey(t, "BER"))
				b := h.rn.view(t, e, "CRI")
				return h.envelope(t, append(signed, b[len(e.SignedHeader()):]...))
			}},

		// Views and recipients.
		{name: "view for another party", target: "CRI", status: 421, code: "not_a_recipient", counted: true,
			do: func(t *testing.T, h *hostile) answer {
				return h.envelope(t, h.rn.view(t, h.rn.seal(t, "BER", []string{"CRI", "DOR"}, nil), "DOR"))
			}},
		{name: "envelope not addressed to this node", target: "CRI", status: 421, code: "not_a_recipient", counted: true,
			do: func(t *testing.T, h *hostile) answer {
				return h.envelope(t, h.rn.view(t, h.rn.seal(t, "BER", []string{"DOR"}, nil), "DOR"))
			}},
		{name: "10,000 recipients", target: "CRI", status: 413, code: "too_many_recipients", counted: true,
			do: func(t *testing.T, h *hostile) answer {
				lines := strings.SplitAfter(string(h.sealed(t, nil)), "\n")
				var b strings.Builder
				for _, l := range lines[:10] {
					b.WriteString(l)
				}
				for i := range 10000 {
					fmt.Fprintf(&b, "to P%05d 1 - AAAA\n", i)
				}
				return h.envelope(t, []byte(b.String()))
			}},
		{name: "one recipient more than the limit", target: "CRI", status: 413, code: "too_many_recipients", counted: true,
			do: func(t *testing.T, h *hostile) answer {
				lines := strings.SplitAfter(string(h.sealed(t, nil)), "\n")
				var b strings.Builder
				for _, l := range lines[:10] {
					b.WriteString(l)
				}
				for i := range hotline.DefaultMaxRecipients + 1 {
					fmt.Fprintf(&b, "to P%04d 1 - AAAA\n", i)
				}
				return h.envelope(t, []byte(b.String()))
			}},

		{name: "recipient outside the agreement", target: "CRI", status: 422, code: "unknown_recipient", counted: true,
			do: func(t *testing.T, h *hostile) answer {
				zz, err := hotline.GenerateKeySet("ZZZ", "")
				if err != nil {
					t.Fatal(err)
				}
				return h.envelope(t, h.sealed(t, func(d *hotline.Draft) {
					d.To = append(d.To, hotline.Addressee{Party: "ZZZ", Key: zz.Encryption.Public(), Seq: 1})
				}))
			}},
		{name: "group label its recipients do not match", target: "CRI", status: 422, code: "unknown_recipient", counted: true,
			do: func(t *testing.T, h *hostile) answer {
				return h.envelope(t, h.sealed(t, func(d *hotline.Draft) { d.Group = "all" }))
			}},
		{name: "group the agreement does not define", target: "CRI", status: 422, code: "unknown_recipient", counted: true,
			do: func(t *testing.T, h *hostile) answer {
				return h.envelope(t, h.sealed(t, func(d *hotline.Draft) { d.Group = "nordic" }))
			}},

		// Sizes.
		{name: "10 MB of HTTP headers", target: "CRI", status: 431,
			do: func(t *testing.T, h *hostile) answer {
				return h.raw(t, "CRI", func(c net.Conn) {
					fmt.Fprintf(c, "POST /v1/envelopes HTTP/1.1\r\nHost: x\r\nX-Pad: ")
					chunk := bytes.Repeat([]byte("A"), 64<<10)
					for range 160 {
						if _, err := c.Write(chunk); err != nil {
							return
						}
					}
					fmt.Fprintf(c, "\r\n\r\n")
				})
			}},
		{name: "envelope header over the limit", target: "CRI", status: 413, code: "header_too_large", counted: true,
			do: func(t *testing.T, h *hostile) answer {
				return h.envelope(t, append([]byte(hotline.EnvelopeTag+"\nnonce "), bytes.Repeat([]byte("A"), hotline.DefaultMaxHeader)...))
			}},
		{name: "request body over the limit", target: "CRI", status: 413, code: "too_large",
			do: func(t *testing.T, h *hostile) answer {
				return h.envelope(t, make([]byte, hotline.DefaultMaxEnvelope+128<<10))
			}},
		{name: "payload size declared over the limit", target: "CRI", status: 413, code: "envelope_too_large", counted: true,
			do: func(t *testing.T, h *hostile) answer {
				e := h.rn.seal(t, "BER", []string{"CRI"}, nil)
				b := h.rn.view(t, e, "CRI")
				return h.envelope(t, bytes.Replace(b, fmt.Appendf(nil, "payload %d ", e.Header.PayloadSize), []byte("payload 99999999999 "), 1))
			}},

		// Malformed envelopes.
		{name: "truncated envelope", target: "CRI", status: 400, code: "malformed", counted: true,
			do: func(t *testing.T, h *hostile) answer {
				b := h.sealed(t, nil)
				return h.envelope(t, b[:len(b)/2])
			}},
		{name: "trailing data", target: "CRI", status: 400, code: "trailing_data", counted: true,
			do: func(t *testing.T, h *hostile) answer { return h.envelope(t, append(h.sealed(t, nil), 0)) }},
		{name: "not an envelope", target: "CRI", status: 400, code: "wrong_tag", counted: true,
			do: func(t *testing.T, h *hostile) answer { return h.envelope(t, []byte("GET / HTTP/1.1\n")) }},
		{name: "unknown agreement", target: "CRI", status: 422, code: "unknown_agreement", counted: true,
			do: func(t *testing.T, h *hostile) answer {
				return h.envelope(t, h.sealed(t, func(d *hotline.Draft) { d.Agreement = hotline.NoteID([]byte("another agreement")) }))
			}},
		{name: "created in the future", target: "CRI", status: 422, code: "future_created", counted: true,
			do: func(t *testing.T, h *hostile) answer {
				return h.envelope(t, h.sealed(t, func(d *hotline.Draft) { d.Created = time.Now().Add(time.Hour) }))
			}},
		{name: "stanza flipped", target: "CRI", status: 422, code: "bad_stanza", counted: true,
			do: func(t *testing.T, h *hostile) answer {
				e := h.rn.seal(t, "BER", []string{"CRI"}, nil)
				b := h.rn.view(t, e, "CRI")
				b[len(b)-len(e.Ciphertext())-100] ^= 1
				return h.envelope(t, b)
			}},
		{name: "ciphertext flipped", target: "CRI", status: 422, code: "bad_payload", counted: true,
			do: func(t *testing.T, h *hostile) answer {
				b := h.sealed(t, nil)
				b[len(b)-1] ^= 1
				return h.envelope(t, b)
			}},
		{name: "sealed to another party's key", target: "CRI", status: 422, code: "no_matching_key", counted: true,
			do: func(t *testing.T, h *hostile) answer {
				return h.envelope(t, h.sealed(t, func(d *hotline.Draft) { d.To[0].Key = h.rn.keys["DOR"].Encryption.Public() }))
			}},
		{name: "inner header other than committed", target: "CRI", status: 422, code: "bad_commitment", counted: true,
			do: func(t *testing.T, h *hostile) answer { return h.envelope(t, h.rn.handBuilt(t, "BER", "CRI", true)) }},
		{name: "unknown kind", target: "CRI", status: 422, code: "unknown_kind", counted: true,
			do: func(t *testing.T, h *hostile) answer {
				return h.envelope(t, h.sealed(t, func(d *hotline.Draft) { d.Inner.Kind = "gossip" }))
			}},

		// Bodies.
		{name: "body nested 5,000 deep", target: "CRI", status: 422, code: "invalid_body", counted: true,
			do: withBody(`{"language":"en","title":"t","summary":"s","incident":{"start":"2026-11-26T22:00:00Z"},"text":` + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + `}`)},
		{name: "body with invalid UTF-8", target: "CRI", status: 422, code: "invalid_body", counted: true,
			do: withBody("{\"language\":\"en\",\"title\":\"Scan\xff\xfening\",\"summary\":\"s\",\"incident\":{\"start\":\"2026-11-26T22:00:00Z\"}}")},
		{name: "body with a lone surrogate", target: "CRI", status: 422, code: "invalid_body", counted: true,
			do: withBody(`{"language":"en","title":"Scan\ud800ning","summary":"s","incident":{"start":"2026-11-26T22:00:00Z"}}`)},
		{name: "body with a bidirectional override", target: "CRI", status: 422, code: "invalid_body", counted: true,
			do: withBody("{\"language\":\"en\",\"title\":\"Scanning from \u202eAIVENRA\u202c\",\"summary\":\"s\",\"incident\":{\"start\":\"2026-11-26T22:00:00Z\"}}")},
		{name: "body with an escaped bidirectional override", target: "CRI", status: 422, code: "invalid_body", counted: true,
			do: withBody(`{"language":"en","title":"Scanning","summary":"from \u202eAINEVRA","incident":{"start":"2026-11-26T22:00:00Z"}}`)},
		{name: "STIX bundle with a lone surrogate", target: "CRI", status: 422, code: "invalid_body", counted: true,
			do: withBody(`{"language":"en","title":"t","summary":"s","incident":{"start":"2026-11-26T22:00:00Z"},"stix":` + strings.Replace(redBundle, `"name":"C2"`, `"name":"C2\udfff"`, 1) + `}`)},
		{name: "body with a duplicate key", target: "CRI", status: 422, code: "invalid_body", counted: true,
			do: withBody(`{"language":"en","title":"t","title":"u","summary":"s","incident":{"start":"2026-11-26T22:00:00Z"}}`)},
		{name: "body not an object", target: "CRI", status: 422, code: "invalid_body", counted: true,
			do: withBody(`["language","en"]`)},
		{name: "body not in its template", target: "CRI", status: 422, code: "invalid_body", counted: true,
			do: withBody(`{"language":"en","title":"no summary"}`)},
		{name: "STIX content marked stricter than the envelope", target: "CRI", status: 422, code: "invalid_body", counted: true,
			do: func(t *testing.T, h *hostile) answer {
				return h.envelope(t, h.sealed(t, func(d *hotline.Draft) {
					d.Inner.Marking = hotline.TLPClear
					d.Body = []byte(`{"language":"en","title":"t","summary":"s","incident":{"start":"2026-11-26T22:00:00Z"},"stix":` + redBundle + `}`)
				}))
			}},

		// The relay (the depositary's node).
		{name: "relay pull signed by another party", target: "DEP", status: 401, code: "unauthenticated", counted: true,
			do: func(t *testing.T, h *hostile) answer {
				return h.request(t, "DEP", "GET", "/v1/relay/envelopes", nil, "", time.Time{}, resign(nil, "DEP", "BER", h.rn.keys["DOR"].Message, time.Now()))
			}},
		{name: "relay pull with a cursor the relay did not issue", target: "DEP", status: 400, code: "invalid_request",
			do: func(t *testing.T, h *hostile) answer {
				return h.request(t, "DEP", "GET", "/v1/relay/envelopes?after=AAAAAAAAAAAA", nil, "BER", time.Now(), nil)
			}},
		{name: "receipt for a message never sent", target: "DEP", status: 404, code: "not_found",
			do: func(t *testing.T, h *hostile) answer {
				var id hotline.ID
				rand.Read(id[:])
				return h.handed(t, id, h.receipt(t, "BER", id))
			}},
		{name: "receipt signed by the wrong party", target: "DEP", status: 403, code: "bad_signature",
			setup: func(t *testing.T, h *hostile) {
				if relayed != nil {
					return
				}
				relayed = h.rn.seal(t, "CRI", []string{"BER"}, nil)
				v := h.rn.view(t, relayed, "BER")
				if a := h.request(t, "DEP", "POST", "/v1/relay/envelopes", v, "CRI", time.Now(), nil); a.status != 200 {
					t.Fatalf("leaving a view with the relay: %d %s", a.status, a.body)
				}
			},
			do: func(t *testing.T, h *hostile) answer {
				return h.handed(t, relayed.ID(), h.receipt(t, "DOR", relayed.ID()))
			}},
		{name: "receipt naming another message", target: "DEP", status: 403, code: "bad_signature",
			do: func(t *testing.T, h *hostile) answer {
				var other hotline.ID
				rand.Read(other[:])
				return h.handed(t, relayed.ID(), h.receipt(t, "BER", other))
			}},
		{name: "handed-on notice not JSON", target: "DEP", status: 400, code: "malformed",
			do: func(t *testing.T, h *hostile) answer {
				return h.request(t, "DEP", "POST", "/v1/relay/handed", []byte("{\"id\":"), "BER", time.Now(), nil)
			}},
		{name: "relay handed an envelope from another party", target: "DEP", status: 422, code: "relay_sender",
			do: func(t *testing.T, h *hostile) answer {
				v := h.rn.view(t, h.rn.seal(t, "DOR", []string{"BER"}, nil), "BER")
				return h.request(t, "DEP", "POST", "/v1/relay/envelopes", v, "CRI", time.Now(), nil)
			}},
		{name: "relay handed a full envelope", target: "DEP", status: 422, code: "relay_no_view",
			do: func(t *testing.T, h *hostile) answer {
				e := h.rn.seal(t, "CRI", []string{"BER", "DOR"}, nil)
				return h.request(t, "DEP", "POST", "/v1/relay/envelopes", e.Marshal(), "CRI", time.Now(), nil)
			}},

		// Heartbeats.
		{name: "heartbeat replayed", target: "CRI", status: 409, code: "heartbeat_replay",
			setup: func(t *testing.T, h *hostile) {
				if a := h.request(t, "CRI", "POST", "/v1/heartbeats", h.heartbeat(t, 1<<40, nil), "BER", time.Now(), nil); a.status != 200 {
					t.Fatalf("a first heartbeat: %d %s", a.status, a.body)
				}
			},
			do: func(t *testing.T, h *hostile) answer {
				return h.request(t, "CRI", "POST", "/v1/heartbeats", h.heartbeat(t, 1<<40, nil), "BER", time.Now(), nil)
			}},
		{name: "heartbeat between two other parties", target: "CRI", status: 422, code: "wrong_peer",
			do: func(t *testing.T, h *hostile) answer {
				hb := h.heartbeat(t, 1<<41, func(hb *hotline.Heartbeat) { hb.To = "DOR" })
				return h.request(t, "CRI", "POST", "/v1/heartbeats", hb, "BER", time.Now(), nil)
			}},
		{name: "heartbeat dated ten minutes ago", target: "CRI", status: 422, code: "stale_heartbeat",
			do: func(t *testing.T, h *hostile) answer {
				hb := h.heartbeat(t, 1<<41, func(hb *hotline.Heartbeat) { hb.Time = time.Now().Add(-10 * time.Minute) })
				return h.request(t, "CRI", "POST", "/v1/heartbeats", hb, "BER", time.Now(), nil)
			}},
		{name: "heartbeat signed by a forged key", target: "CRI", status: 403, code: "bad_signature",
			do: func(t *testing.T, h *hostile) answer {
				hb, err := hotline.Sign(&hotline.Heartbeat{From: "BER", To: "CRI", Time: time.Now(), Counter: 1 << 42}, forgedKey(t, "BER"))
				if err != nil {
					t.Fatal(err)
				}
				return h.request(t, "CRI", "POST", "/v1/heartbeats", hb, "BER", time.Now(), nil)
			}},
		{name: "heartbeat not a note", target: "CRI", status: 400, code: "malformed",
			do: func(t *testing.T, h *hostile) answer {
				return h.request(t, "CRI", "POST", "/v1/heartbeats", []byte("hotline-heartbeat/v1\n"), "BER", time.Now(), nil)
			}},

		// The witness (C2SP tlog-witness: plain-text answers).
		{name: "witness: checkpoint going backwards", target: "CRI", status: 400,
			do: func(t *testing.T, h *hostile) answer {
				return h.witness(t, tlog.FormatAddCheckpoint(5, nil, h.berCheckpoint(t, 3, "three", nil)))
			}},
		{name: "witness: old size it never cosigned", target: "CRI", status: 409,
			do: func(t *testing.T, h *hostile) answer {
				return h.witness(t, tlog.FormatAddCheckpoint(0, nil, h.berCheckpoint(t, 9, "nine", nil)))
			},
			check: func(t *testing.T, h *hostile, a answer) {
				if strings.TrimSpace(string(a.body)) != "5" {
					t.Errorf("409 answer %q, want the size cosigned, 5", a.body)
				}
			}},
		{name: "witness: bad consistency proof", target: "CRI", status: 422,
			do: func(t *testing.T, h *hostile) answer {
				bogus := [][]byte{bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32), bytes.Repeat([]byte{3}, 32)}
				return h.witness(t, tlog.FormatAddCheckpoint(5, bogus, h.berCheckpoint(t, 8, "eight", nil)))
			}},
		{name: "witness: the same size with another root", target: "CRI", status: 422,
			do: func(t *testing.T, h *hostile) answer {
				return h.witness(t, tlog.FormatAddCheckpoint(5, nil, h.berCheckpoint(t, 5, "another five", nil)))
			}},
		{name: "witness: forged oversized checkpoint", target: "CRI", status: 403,
			do: func(t *testing.T, h *hostile) answer {
				forged := forgedKeyNamed(t, h.rn.keys["BER"].Origin())
				return h.witness(t, tlog.FormatAddCheckpoint(5, nil, h.berCheckpoint(t, 1<<62, "huge", forged)))
			}},
		{name: "witness: unknown log", target: "CRI", status: 404,
			do: func(t *testing.T, h *hostile) answer {
				k := forgedKeyNamed(t, "example.org/unknown")
				b, _ := note.Sign(&note.Note{Text: "example.org/unknown\n1\n" + base64.StdEncoding.EncodeToString(make([]byte, 32)) + "\n"}, k)
				return h.witness(t, tlog.FormatAddCheckpoint(0, nil, b))
			}},
		{name: "witness: request over the limit", target: "CRI", status: 413,
			do: func(t *testing.T, h *hostile) answer {
				return h.witness(t, bytes.Repeat([]byte("old 0\n"), 1<<20))
			}},

		// Redelivery (to a node restored from a backup).
		{name: "redelivery request not JSON", target: "CRI", status: 400, code: "invalid_request",
			do: func(t *testing.T, h *hostile) answer {
				return h.request(t, "CRI", "POST", "/v1/redeliver", []byte("from 0"), "BER", time.Now(), nil)
			}},
		{name: "redelivery request with an unknown field", target: "CRI", status: 400, code: "invalid_request",
			do: func(t *testing.T, h *hostile) answer {
				return h.request(t, "CRI", "POST", "/v1/redeliver", []byte(`{"from_index":0,"to":"DOR"}`), "BER", time.Now(), nil)
			}},
		{name: "redelivery with a cursor the node did not issue", target: "CRI", status: 400, code: "invalid_request",
			do: func(t *testing.T, h *hostile) answer {
				return h.request(t, "CRI", "POST", "/v1/redeliver", []byte(`{"from_index":0,"after":"AAAAAAAAAAAA"}`), "BER", time.Now(), nil)
			}},
		{name: "redelivery request signed by another party", target: "CRI", status: 401, code: "unauthenticated", counted: true,
			do: func(t *testing.T, h *hostile) answer {
				b := []byte(`{"from_index":0}`)
				return h.request(t, "CRI", "POST", "/v1/redeliver", b, "", time.Time{}, resign(b, "CRI", "BER", h.rn.keys["DOR"].Message, time.Now()))
			}},
		{name: "redelivery of what was never sent", target: "CRI", status: 200,
			do: func(t *testing.T, h *hostile) answer {
				return h.request(t, "CRI", "POST", "/v1/redeliver", []byte(`{"from_index":0}`), "BER", time.Now(), nil)
			},
			check: func(t *testing.T, h *hostile, a answer) {
				var page node.RedeliverPage
				if err := json.Unmarshal(a.body, &page); err != nil || page.Items == nil || len(page.Items) != 0 || page.Next != "" {
					t.Errorf("answer %s, want no items", a.body)
				}
			}},

		// The agreement.
		{name: "agreement document not a note", target: "CRI", status: 400, code: "malformed",
			do: func(t *testing.T, h *hostile) answer {
				return h.request(t, "CRI", "POST", "/v1/agreement", []byte("{\"format\":\"hotline-agreement/v1\"}"), "BER", time.Now(), nil)
			}},

		// Slow clients: cut off by the timeouts.
		{name: "slowloris on headers", target: "CRI", status: 0,
			do: func(t *testing.T, h *hostile) answer {
				return h.raw(t, "CRI", func(c net.Conn) { fmt.Fprintf(c, "POST /v1/envelopes HTTP/1.1\r\nHost: x\r\n") })
			}},
		// Once the headers are signed, the node gives the body 10 s plus a
		// second per MinRate bytes (fedapi.Admission), then refuses it.
		{name: "slowloris on the body", target: "CRI", status: 400, code: "malformed",
			do: func(t *testing.T, h *hostile) answer {
				// Signed headers, so that the node reads on.
				req, _ := http.NewRequest("POST", "/v1/envelopes", nil)
				if err := fedapi.SignRequest(req, []byte("hot"), "CRI", h.rn.keys["BER"].Message, time.Now()); err != nil {
					t.Fatal(err)
				}
				return h.raw(t, "CRI", func(c net.Conn) {
					fmt.Fprintf(c, "POST /v1/envelopes HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n")
					for _, k := range []string{fedapi.HeaderFrom, fedapi.HeaderTime, fedapi.HeaderSignature} {
						fmt.Fprintf(c, "%s: %s\r\n", k, req.Header.Get(k))
					}
					fmt.Fprintf(c, "\r\nhot")
				})
			}},
	}
	if len(cases) < 40 {
		t.Fatalf("the corpus has %d cases, want at least 40", len(cases))
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.setup != nil {
				c.setup(t, h)
			}
			before := map[string]nodeState{"CRI": h.state(t, "CRI"), "DEP": h.state(t, "DEP")}
			counted := 0
			if c.counted {
				counted = h.refused(t, c.target, c.code)
			}
			a := c.do(t, h)
			if a.status != c.status {
				t.Errorf("status %d (%.300s), want %d", a.status, a.body, c.status)
			}
			if c.code != "" {
				var ref fedapi.Refusal
				if err := json.Unmarshal(a.body, &ref); err != nil || ref.Code != c.code || ref.Message == "" {
					t.Errorf("answer %.300s, want a refusal with code %q and a message", a.body, c.code)
				}
			}
			if c.check != nil {
				c.check(t, h, a)
			}
			for _, p := range []string{"CRI", "DEP"} {
				if after := h.state(t, p); after != before[p] {
					t.Errorf("%s changed: %+v → %+v", p, before[p], after)
				}
			}
			if c.counted {
				if got := h.refused(t, c.target, c.code); got != counted+1 {
					t.Errorf("refusals counted under %q: %d → %d, want +1", c.code, counted, got)
				}
			}
		})
	}
	// After all of it, the node still accepts a good envelope, and one
	// labelled with a group its recipients match.
	if a := h.envelope(t, h.sealed(t, nil)); a.status != 200 {
		t.Errorf("a good envelope after the corpus: %d %s", a.status, a.body)
	}
	group := h.rn.view(t, h.rn.seal(t, "BER", []string{"CRI", "DOR", "ELM"}, func(d *hotline.Draft) { d.Group = "all" }), "CRI")
	if a := h.envelope(t, group); a.status != 200 {
		t.Errorf("an envelope to the group all: %d %s", a.status, a.body)
	}
}

// forgedKeyNamed is a fresh Ed25519 note key named name.
func forgedKeyNamed(t *testing.T, name string) note.Signer {
	t.Helper()
	skey, _, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		t.Fatal(err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// receipt signs a receipt for id as party would.
func (h *hostile) receipt(t *testing.T, party string, id hotline.ID) []byte {
	t.Helper()
	b, err := hotline.Sign(&hotline.Receipt{Message: id, Party: party, Received: time.Now(), LogOrigin: h.rn.keys[party].Origin(), LogIndex: 7}, h.rn.keys[party].Message)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// handed posts BER's handed-on notice to the relay.
func (h *hostile) handed(t *testing.T, id hotline.ID, receipt []byte) answer {
	t.Helper()
	b, err := json.Marshal(relay.HandedOn{ID: id.String(), Receipt: receipt})
	if err != nil {
		t.Fatal(err)
	}
	return h.request(t, "DEP", "POST", "/v1/relay/handed", b, "BER", time.Now(), nil)
}
