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
// before — but for what protocol 2 makes a refusal keep (PROTOCOL.md §6,
// Refusal): a refusal the node signs is stored and logged (a 0x05 entry),
// and a sequence conflict keeps its proof. A case whose refusal is signed
// checks the statement (it verifies with the node's key and names the
// envelope, its signed header and the code), the stored row and the log
// entry, and that nothing else changed. Every envelope is sealed at a
// fresh sequence number that links to the one before (hostile.seal), so
// that only the cases that break the sequence rule do.

// hostile is the net the corpus attacks: CRI, a party, and DEP, the
// depositary (a relay), run; BER, DOR and ELM (which has not ratified)
// do not, and the test signs as them.
type hostile struct {
	rn     *refusalNet
	tn     *testNet
	client *http.Client
	// chain is, per "sender>recipient", the last sequence number sealed
	// and that envelope's id.
	chain map[string]link
}

type link struct {
	seq uint64
	id  hotline.ID
}

// answer is what a case got: the status (0 when the node cut the
// connection off), the body, and the body of the request (nil for raw
// connections).
type answer struct {
	status int
	body   []byte
	sent   []byte
}

// What a case's refusal is signed with.
const (
	unsigned    = iota
	signedNew   // a new signed refusal: stored and logged
	signedAgain // the refusal signed before, byte for byte: nothing changes
	// heartbeatStatement: a stale_heartbeat refusal carries the target's
	// own heartbeat to the sender (PROTOCOL.md §11.3, "Clock skew"):
	// nothing is stored.
	heartbeatStatement
)

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
	// signed: whether the target signs its refusal (unsigned, signedNew,
	// signedAgain); a signed refusal's statement is checked against the
	// envelope the case sent.
	signed int
	// proof: the refusal keeps a sequence-conflict proof (one more
	// equivocation record, under sequence:BER) and raises the alarm.
	proof bool
	// check, if set, checks the answer further.
	check func(t *testing.T, h *hostile, a answer)
}

// nodeState is what a hostile request must not change.
type nodeState struct {
	messages, outbox, relayAll, relayPending int64
	highWater, logEntries                    uint64
	equivocations                            int
	alarms                                   int // hotline_equivocations_total
	refusalsIssued, refusalsReceived         int
	lastEntry                                [hotline.EntrySize]byte // the log's last entry
	witnessBER                               string                  // the witness's latest cosigned checkpoint of BER's log
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
	for e, err := range s.Log().EntriesFrom(ctx, 0) {
		must(err)
		ns.logEntries++
		ns.lastEntry = e.Data
	}
	for _, p := range []string{"BER", "CRI", "DOR", "ELM", "DEP"} {
		in, e := st.Refusals(ctx, hotline.RefusalIssued, p)
		must(e)
		out, e := st.Refusals(ctx, hotline.RefusalReceived, p)
		must(e)
		ns.refusalsIssued += len(in)
		ns.refusalsReceived += len(out)
	}
	if err != nil {
		t.Fatal(err)
	}
	ns.agreement = s.Node().Agreement().Digest()
	ns.alarms = h.metric(t, party, "hotline_equivocations_total")
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
	return answer{status: resp.StatusCode, body: b}
}

// refused reads a node's refusal counter for code.
func (h *hostile) refused(t *testing.T, party, code string) int {
	t.Helper()
	return h.metric(t, party, fmt.Sprintf(`hotline_envelopes_refused_total{code=%q}`, code))
}

// metric reads the value of a node's metric series (name and labels as
// /metrics writes them), 0 if absent.
func (h *hostile) metric(t *testing.T, party, series string) int {
	t.Helper()
	op := h.tn.Servers[party].Operator()
	defer op.Client.CloseIdleConnections()
	resp, err := op.Client.Get(op.Base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	prefix := series + " "
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
	return answer{status: resp.StatusCode, body: b, sent: body}
}

// envelope posts a view to CRI, signed by BER.
func (h *hostile) envelope(t *testing.T, view []byte) answer {
	return h.request(t, "CRI", http.MethodPost, "/v1/envelopes", view, "BER", time.Now(), nil)
}

// seal seals an envelope from "from" to the parties in to, each at the
// next sequence number from "from" to it, naming the envelope sealed
// before as its previous one, then changed by change. The chain moves on
// to an envelope's number when it is higher (up to 2^62, far below the
// bound), whether or not the envelope is accepted: one refused leaves a
// gap, which the sequence rule allows.
func (h *hostile) seal(t *testing.T, from string, to []string, change func(*hotline.Draft)) *hotline.Envelope {
	t.Helper()
	e := h.rn.seal(t, from, to, func(d *hotline.Draft) {
		for i := range d.To {
			l := h.chain[from+">"+d.To[i].Party]
			d.To[i].Seq, d.To[i].Prev = l.seq+1, l.id
		}
		if change != nil {
			change(d)
		}
	})
	for _, r := range e.Header.Recipients {
		k := from + ">" + r.Party
		if r.Seq > h.chain[k].seq && r.Seq <= 1<<62 {
			h.chain[k] = link{r.Seq, e.ID()}
		}
	}
	return e
}

// sealed seals an envelope from BER to CRI, changed by change, and returns
// CRI's view.
func (h *hostile) sealed(t *testing.T, change func(*hotline.Draft)) []byte {
	return h.rn.view(t, h.seal(t, "BER", []string{"CRI"}, change), "CRI")
}

// at sets the sequence number and the previous id towards the first
// recipient.
func at(seq uint64, prev hotline.ID) func(*hotline.Draft) {
	return func(d *hotline.Draft) { d.To[0].Seq, d.To[0].Prev = seq, prev }
}

// randomID is an id no envelope has.
func randomID() hotline.ID {
	var id hotline.ID
	rand.Read(id[:])
	return id
}

// signedHeaders returns the hotline-request/v2 headers of a request to
// CRI's target path, by BER, declaring a body of length bytes hashing to
// hash: what a sender signs, whatever body it then sends.
func (h *hostile) signedHeaders(t *testing.T, method, path string, length uint64, hash [32]byte) http.Header {
	t.Helper()
	st := &hotline.Request{From: "BER", To: "CRI", Time: time.Now(), Method: method, Path: path, Length: length, BodyHash: hash}
	signed, err := hotline.Sign(st, h.rn.keys["BER"].Message)
	if err != nil {
		t.Fatal(err)
	}
	line := strings.TrimSuffix(string(signed[len(st.Text())+1:]), "\n")
	hd := http.Header{}
	hd.Set(fedapi.HeaderVersion, fedapi.ProtocolVersion)
	hd.Set(fedapi.HeaderFrom, "BER")
	hd.Set(fedapi.HeaderTime, hotline.FormatTime(st.Time))
	hd.Set(fedapi.HeaderBody, base64.StdEncoding.EncodeToString(hash[:]))
	hd.Set(fedapi.HeaderSignature, line[strings.LastIndexByte(line, ' ')+1:])
	return hd
}

// writeHeaders writes a request line, Host, the extra header lines (each
// ending in CRLF), the headers hd, and the blank line.
func writeHeaders(c net.Conn, method, path string, hd http.Header, extra string) {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: x\r\n%s", method, path, extra)
	for k, vs := range hd {
		for _, v := range vs {
			fmt.Fprintf(&b, "%s: %s\r\n", k, v)
		}
	}
	b.WriteString("\r\n")
	c.Write([]byte(b.String()))
}

// refusalBy signs party's refusal of the envelope id whose signed header
// hashes to header.
func (h *hostile) refusalBy(t *testing.T, party string, id hotline.ID, header [32]byte) []byte {
	t.Helper()
	b, err := hotline.Sign(&hotline.Refusal{Message: id, Party: party, Header: header, Code: "invalid_body", Time: time.Now()}, h.rn.keys[party].Message)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// handedRefusal posts BER's handed-on notice of a refusal to the relay.
func (h *hostile) handedRefusal(t *testing.T, id hotline.ID, refusal []byte) answer {
	t.Helper()
	b, err := json.Marshal(relay.HandedOn{ID: id.String(), Refusal: refusal})
	if err != nil {
		t.Fatal(err)
	}
	return h.request(t, "DEP", "POST", "/v1/relay/handed", b, "BER", time.Now(), nil)
}

// leaveWithRelay has CRI leave its view of an envelope to BER with the
// relay.
func (h *hostile) leaveWithRelay(t *testing.T) *hotline.Envelope {
	t.Helper()
	e := h.seal(t, "CRI", []string{"BER"}, nil)
	if a := h.request(t, "DEP", "POST", "/v1/relay/envelopes", h.rn.view(t, e, "BER"), "CRI", time.Now(), nil); a.status != 200 {
		t.Fatalf("leaving a view with the relay: %d %s", a.status, a.body)
	}
	return e
}

// toLine seals an envelope from BER to CRI and returns CRI's view with
// the sequence number and previous id of its "to CRI" line replaced by
// seqPrev, the header signed again by BER.
func (h *hostile) toLine(t *testing.T, seqPrev string) []byte {
	t.Helper()
	e := h.seal(t, "BER", []string{"CRI"}, nil)
	r := e.Header.Recipients[0]
	prev := "-"
	if !r.Prev.IsZero() {
		prev = r.Prev.String()
	}
	old := fmt.Sprintf("\nto CRI %d %s ", r.Seq, prev)
	text := string(e.HeaderText())
	if !strings.Contains(text, old) {
		t.Fatalf("no %q in the header:\n%s", old, text)
	}
	signed, err := note.Sign(&note.Note{Text: strings.Replace(text, old, "\nto CRI "+seqPrev+" ", 1)}, h.rn.keys["BER"].Message)
	if err != nil {
		t.Fatal(err)
	}
	return append(signed, h.rn.view(t, e, "CRI")[len(e.SignedHeader()):]...)
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
	return answer{status: resp.StatusCode, body: b}
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
	return answer{status: resp.StatusCode, body: b}
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
	h := &hostile{rn: rn, tn: tn, client: &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone(), Timeout: 30 * time.Second},
		chain: map[string]link{}}
	t.Cleanup(h.client.CloseIdleConnections)

	// CRI's witness holds a checkpoint of BER's log of size 5, so that
	// there is something to go back from.
	if a := h.witness(t, tlog.FormatAddCheckpoint(0, nil, h.berCheckpoint(t, 5, "five", nil))); a.status != 200 {
		t.Fatalf("cosigning a first checkpoint of BER's log: %d %s", a.status, a.body)
	}

	// One envelope accepted, replayed below.
	var accepted, acceptedReceipt []byte
	var acceptedEnv *hotline.Envelope
	// An envelope that breaks the sequence rule, sent again below, and
	// CRI's answer to it.
	var conflicting, conflictAnswer []byte
	// The number left free below an envelope accepted after a gap.
	var gap uint64
	// One view held by the relay for BER, that BER pulls and answers with
	// receipts below.
	var relayed *hotline.Envelope
	// One view BER refused, and its refusal handed to the relay.
	var refusedView *hotline.Envelope
	var refusedNote []byte

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
		// Version 2 signs the body's length and hash (Hotline-Body): a
		// signature over another body of the same length is refused once
		// the body is read, one over another length before.
		{name: "signature over another body", target: "CRI", status: 401, code: "unauthenticated", counted: true,
			do: func(t *testing.T, h *hostile) answer {
				b := h.sealed(t, nil)
				other := bytes.Clone(b)
				other[len(other)-1] ^= 1
				return h.request(t, "CRI", "POST", "/v1/envelopes", b, "", time.Time{}, resign(other, "CRI", "BER", h.rn.keys["BER"].Message, time.Now()))
			}},
		{name: "signed length other than the body's", target: "CRI", status: 401, code: "unauthenticated", counted: true,
			do: func(t *testing.T, h *hostile) answer {
				b := h.sealed(t, nil)
				return h.request(t, "CRI", "POST", "/v1/envelopes", b, "", time.Time{}, func(r *http.Request) {
					resign(b[:len(b)-1], "CRI", "BER", h.rn.keys["BER"].Message, time.Now())(r)
					r.ContentLength = int64(len(b))
				})
			}},
		{name: "body longer than its declared length", target: "CRI", status: 401, code: "unauthenticated", counted: true,
			do: func(t *testing.T, h *hostile) answer {
				// Signed for the whole body's hash, but declaring 10 bytes
				// less: the node reads the declared length and finds
				// another hash.
				b := h.sealed(t, nil)
				hd := h.signedHeaders(t, "POST", "/v1/envelopes", uint64(len(b)-10), sha256.Sum256(b))
				return h.raw(t, "CRI", func(c net.Conn) {
					writeHeaders(c, "POST", "/v1/envelopes", hd, fmt.Sprintf("Content-Length: %d\r\n", len(b)-10))
					c.Write(b)
				})
			}},
		{name: "declared length of a terabyte", target: "CRI", status: 413, code: "too_large",
			do: func(t *testing.T, h *hostile) answer {
				// Refused before a byte of the body is read: none is sent.
				hd := h.signedHeaders(t, "POST", "/v1/envelopes", 1<<40, sha256.Sum256(nil))
				return h.raw(t, "CRI", func(c net.Conn) {
					writeHeaders(c, "POST", "/v1/envelopes", hd, fmt.Sprintf("Content-Length: %d\r\n", 1<<40))
				})
			}},
		{name: "body shorter than its declared length", target: "CRI", status: 400, code: "malformed",
			do: func(t *testing.T, h *hostile) answer {
				// Signed for the whole body; 10 bytes short, then the
				// sender's end of the connection closes.
				b := h.sealed(t, nil)
				hd := h.signedHeaders(t, "POST", "/v1/envelopes", uint64(len(b)), sha256.Sum256(b))
				return h.raw(t, "CRI", func(c net.Conn) {
					writeHeaders(c, "POST", "/v1/envelopes", hd, fmt.Sprintf("Content-Length: %d\r\n", len(b)))
					c.Write(b[:len(b)-10])
					c.(*net.TCPConn).CloseWrite()
				})
			}},
		{name: "chunked body, no declared length", target: "CRI", status: 401, code: "unauthenticated", counted: true,
			do: func(t *testing.T, h *hostile) answer {
				b := h.sealed(t, nil)
				hd := h.signedHeaders(t, "POST", "/v1/envelopes", uint64(len(b)), sha256.Sum256(b))
				return h.raw(t, "CRI", func(c net.Conn) {
					writeHeaders(c, "POST", "/v1/envelopes", hd, "Transfer-Encoding: chunked\r\n")
					fmt.Fprintf(c, "%x\r\n%s\r\n0\r\n\r\n", len(b), b)
				})
			}},
		{name: "version 1 request from a party whose entry lists 2", target: "CRI", status: 400, code: "unsupported_version", counted: true,
			do: func(t *testing.T, h *hostile) answer {
				b := h.sealed(t, nil)
				return h.request(t, "CRI", "POST", "/v1/envelopes", b, "", time.Time{}, func(r *http.Request) {
					if err := fedapi.SignRequestV1(r, b, "CRI", h.rn.keys["BER"].Message, time.Now()); err != nil {
						t.Fatal(err)
					}
				})
			}},
		{name: "protocol version 3", target: "CRI", status: 400, code: "unsupported_version", counted: true,
			do: func(t *testing.T, h *hostile) answer {
				return h.request(t, "CRI", "POST", "/v1/envelopes", h.sealed(t, nil), "BER", time.Now(), func(r *http.Request) {
					r.Header.Set(fedapi.HeaderVersion, "3")
				})
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
				acceptedEnv = h.seal(t, "BER", []string{"CRI"}, nil)
				accepted = h.rn.view(t, acceptedEnv, "CRI")
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

		// The sequence rule (PROTOCOL.md §3.1): refused with a signed
		// refusal, and a proof kept.
		{name: "sequence conflict: another envelope at a number taken", target: "CRI", status: 409, code: "sequence_conflict", counted: true, signed: signedNew, proof: true,
			do: func(t *testing.T, h *hostile) answer {
				r := acceptedEnv.Header.Recipients[0]
				conflicting = h.sealed(t, at(r.Seq, r.Prev))
				a := h.envelope(t, conflicting)
				conflictAnswer = a.body
				return a
			}},
		{name: "sequence conflict sent again", target: "CRI", status: 409, code: "sequence_conflict", counted: true, signed: signedAgain,
			do: func(t *testing.T, h *hostile) answer { return h.envelope(t, conflicting) },
			check: func(t *testing.T, h *hostile, a answer) {
				var first, again fedapi.Refusal
				json.Unmarshal(conflictAnswer, &first)
				json.Unmarshal(a.body, &again)
				if first.Statement == nil || !bytes.Equal(again.Statement, first.Statement) {
					t.Error("the same envelope again got another signed refusal")
				}
			}},
		{name: "sequence conflict: previous id not the envelope before", target: "CRI", status: 409, code: "sequence_conflict", counted: true, signed: signedNew, proof: true,
			setup: func(t *testing.T, h *hostile) {
				if a := h.envelope(t, h.sealed(t, nil)); a.status != 200 {
					t.Fatalf("the envelope before: %d %s", a.status, a.body)
				}
			},
			do: func(t *testing.T, h *hostile) answer {
				return h.envelope(t, h.sealed(t, at(h.chain["BER>CRI"].seq+1, randomID())))
			}},
		{name: "sequence conflict: not the envelope the next one names", target: "CRI", status: 409, code: "sequence_conflict", counted: true, signed: signedNew, proof: true,
			setup: func(t *testing.T, h *hostile) {
				// An envelope after a gap, naming a previous one never sent.
				gap = h.chain["BER>CRI"].seq + 1
				if a := h.envelope(t, h.sealed(t, at(gap+1, randomID()))); a.status != 200 {
					t.Fatalf("the envelope after a gap: %d %s", a.status, a.body)
				}
			},
			do: func(t *testing.T, h *hostile) answer {
				return h.envelope(t, h.sealed(t, at(gap, randomID())))
			}},
		{name: "sequence number beyond the bound", target: "CRI", status: 400, code: "malformed", counted: true,
			do: func(t *testing.T, h *hostile) answer { return h.envelope(t, h.sealed(t, at(1<<63, randomID()))) }},
		{name: "sequence number 2^64-1", target: "CRI", status: 400, code: "malformed", counted: true,
			do: func(t *testing.T, h *hostile) answer { return h.envelope(t, h.sealed(t, at(1<<64-1, randomID()))) }},
		// hotline.Seal refuses these: the header is written by hand, and
		// signed by BER.
		{name: "sequence number 0", target: "CRI", status: 400, code: "malformed", counted: true,
			do: func(t *testing.T, h *hostile) answer { return h.envelope(t, h.toLine(t, "0 -")) }},
		{name: "sequence number 1 naming a previous envelope", target: "CRI", status: 400, code: "malformed", counted: true,
			do: func(t *testing.T, h *hostile) answer { return h.envelope(t, h.toLine(t, "1 "+randomID().String())) }},
		{name: "sequence number 2 naming no previous envelope", target: "CRI", status: 400, code: "malformed", counted: true,
			do: func(t *testing.T, h *hostile) answer { return h.envelope(t, h.toLine(t, "2 -")) }},
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
				return h.envelope(t, h.rn.view(t, h.seal(t, "ELM", []string{"CRI"}, nil), "CRI"))
			}},
		{name: "header signed by a forged key", target: "CRI", status: 403, code: "bad_signature", counted: true,
			do: func(t *testing.T, h *hostile) answer {
				e := h.seal(t, "BER", []string{"CRI"}, nil)
				signed, _ := note.Sign(&note.Note{Text: string(e.HeaderText())}, forgedKey(t, "BER"))
				b := h.rn.view(t, e, "CRI")
				return h.envelope(t, append(signed, b[len(e.SignedHeader()):]...))
			}},

		// Views and recipients.
		{name: "view for another party", target: "CRI", status: 421, code: "not_a_recipient", counted: true,
			do: func(t *testing.T, h *hostile) answer {
				return h.envelope(t, h.rn.view(t, h.seal(t, "BER", []string{"CRI", "DOR"}, nil), "DOR"))
			}},
		{name: "envelope not addressed to this node", target: "CRI", status: 421, code: "not_a_recipient", counted: true,
			do: func(t *testing.T, h *hostile) answer {
				return h.envelope(t, h.rn.view(t, h.seal(t, "BER", []string{"DOR"}, nil), "DOR"))
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
				e := h.seal(t, "BER", []string{"CRI"}, nil)
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
		{name: "stanza flipped", target: "CRI", status: 422, code: "bad_stanza", counted: true, signed: signedNew,
			do: func(t *testing.T, h *hostile) answer {
				e := h.seal(t, "BER", []string{"CRI"}, nil)
				b := h.rn.view(t, e, "CRI")
				b[len(b)-len(e.Ciphertext())-100] ^= 1
				return h.envelope(t, b)
			}},
		{name: "ciphertext flipped", target: "CRI", status: 422, code: "bad_payload", counted: true, signed: signedNew,
			do: func(t *testing.T, h *hostile) answer {
				b := h.sealed(t, nil)
				b[len(b)-1] ^= 1
				return h.envelope(t, b)
			}},
		{name: "sealed to another party's key", target: "CRI", status: 422, code: "no_matching_key", counted: true,
			do: func(t *testing.T, h *hostile) answer {
				return h.envelope(t, h.sealed(t, func(d *hotline.Draft) { d.To[0].Key = h.rn.keys["DOR"].Encryption.Public() }))
			}},
		{name: "inner header other than committed", target: "CRI", status: 422, code: "bad_commitment", counted: true, signed: signedNew,
			do: func(t *testing.T, h *hostile) answer { return h.envelope(t, h.rn.handBuilt(t, "BER", "CRI", true)) }},
		{name: "unknown kind", target: "CRI", status: 422, code: "unknown_kind", counted: true, signed: signedNew,
			do: func(t *testing.T, h *hostile) answer {
				return h.envelope(t, h.sealed(t, func(d *hotline.Draft) { d.Inner.Kind = "gossip" }))
			}},

		// Bodies.
		{name: "body nested 5,000 deep", target: "CRI", status: 422, code: "invalid_body", counted: true, signed: signedNew,
			do: withBody(`{"language":"en","title":"t","summary":"s","incident":{"start":"2026-11-26T22:00:00Z"},"text":` + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + `}`)},
		{name: "body with invalid UTF-8", target: "CRI", status: 422, code: "invalid_body", counted: true, signed: signedNew,
			do: withBody("{\"language\":\"en\",\"title\":\"Scan\xff\xfening\",\"summary\":\"s\",\"incident\":{\"start\":\"2026-11-26T22:00:00Z\"}}")},
		{name: "body with a lone surrogate", target: "CRI", status: 422, code: "invalid_body", counted: true, signed: signedNew,
			do: withBody(`{"language":"en","title":"Scan\ud800ning","summary":"s","incident":{"start":"2026-11-26T22:00:00Z"}}`)},
		{name: "body with a bidirectional override", target: "CRI", status: 422, code: "invalid_body", counted: true, signed: signedNew,
			do: withBody("{\"language\":\"en\",\"title\":\"Scanning from \u202eAIVENRA\u202c\",\"summary\":\"s\",\"incident\":{\"start\":\"2026-11-26T22:00:00Z\"}}")},
		{name: "body with an escaped bidirectional override", target: "CRI", status: 422, code: "invalid_body", counted: true, signed: signedNew,
			do: withBody(`{"language":"en","title":"Scanning","summary":"from \u202eAINEVRA","incident":{"start":"2026-11-26T22:00:00Z"}}`)},
		{name: "STIX bundle with a lone surrogate", target: "CRI", status: 422, code: "invalid_body", counted: true, signed: signedNew,
			do: withBody(`{"language":"en","title":"t","summary":"s","incident":{"start":"2026-11-26T22:00:00Z"},"stix":` + strings.Replace(redBundle, `"name":"C2"`, `"name":"C2\udfff"`, 1) + `}`)},
		{name: "body with a duplicate key", target: "CRI", status: 422, code: "invalid_body", counted: true, signed: signedNew,
			do: withBody(`{"language":"en","title":"t","title":"u","summary":"s","incident":{"start":"2026-11-26T22:00:00Z"}}`)},
		{name: "body not an object", target: "CRI", status: 422, code: "invalid_body", counted: true, signed: signedNew,
			do: withBody(`["language","en"]`)},
		{name: "body not in its template", target: "CRI", status: 422, code: "invalid_body", counted: true, signed: signedNew,
			do: withBody(`{"language":"en","title":"no summary"}`)},
		{name: "STIX content marked stricter than the envelope", target: "CRI", status: 422, code: "invalid_body", counted: true, signed: signedNew,
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
				if relayed == nil {
					relayed = h.leaveWithRelay(t)
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
		// Refusals carried back by the relay (PROTOCOL.md §11.4).
		{name: "refusal for a message never sent", target: "DEP", status: 404, code: "not_found",
			do: func(t *testing.T, h *hostile) answer {
				id := randomID()
				return h.handedRefusal(t, id, h.refusalBy(t, "BER", id, sha256.Sum256([]byte("a header"))))
			}},
		{name: "refusal signed by the wrong party", target: "DEP", status: 403, code: "bad_signature",
			do: func(t *testing.T, h *hostile) answer {
				return h.handedRefusal(t, relayed.ID(), h.refusalBy(t, "DOR", relayed.ID(), sha256.Sum256(relayed.SignedHeader())))
			}},
		{name: "refusal under BER's name signed by a forged key", target: "DEP", status: 403, code: "bad_signature",
			do: func(t *testing.T, h *hostile) answer {
				b, err := hotline.Sign(&hotline.Refusal{Message: relayed.ID(), Party: "BER", Header: sha256.Sum256(relayed.SignedHeader()), Code: "invalid_body", Time: time.Now()}, forgedKey(t, "BER"))
				if err != nil {
					t.Fatal(err)
				}
				return h.handedRefusal(t, relayed.ID(), b)
			}},
		{name: "refusal naming another header", target: "DEP", status: 403, code: "bad_signature",
			do: func(t *testing.T, h *hostile) answer {
				return h.handedRefusal(t, relayed.ID(), h.refusalBy(t, "BER", relayed.ID(), sha256.Sum256([]byte("another header"))))
			}},
		{name: "refusal of another message replayed for this one", target: "DEP", status: 403, code: "bad_signature",
			do: func(t *testing.T, h *hostile) answer {
				other := h.seal(t, "CRI", []string{"BER"}, nil)
				return h.handedRefusal(t, relayed.ID(), h.refusalBy(t, "BER", other.ID(), sha256.Sum256(other.SignedHeader())))
			}},
		{name: "refusal replayed", target: "DEP", status: 200,
			setup: func(t *testing.T, h *hostile) {
				refusedView = h.leaveWithRelay(t)
				refusedNote = h.refusalBy(t, "BER", refusedView.ID(), sha256.Sum256(refusedView.SignedHeader()))
				if a := h.handedRefusal(t, refusedView.ID(), refusedNote); a.status != 200 {
					t.Fatalf("handing a first refusal: %d %s", a.status, a.body)
				}
			},
			do: func(t *testing.T, h *hostile) answer { return h.handedRefusal(t, refusedView.ID(), refusedNote) }},
		{name: "refusal not a note", target: "DEP", status: 400, code: "malformed",
			do: func(t *testing.T, h *hostile) answer {
				return h.handedRefusal(t, relayed.ID(), []byte("hotline-refusal/v1\n"))
			}},
		{name: "receipt after a refusal", target: "DEP", status: 409, code: "conflict",
			do: func(t *testing.T, h *hostile) answer {
				return h.handed(t, refusedView.ID(), h.receipt(t, "BER", refusedView.ID()))
			}},
		{name: "handed-on notice not JSON", target: "DEP", status: 400, code: "malformed",
			do: func(t *testing.T, h *hostile) answer {
				return h.request(t, "DEP", "POST", "/v1/relay/handed", []byte("{\"id\":"), "BER", time.Now(), nil)
			}},
		{name: "relay handed an envelope from another party", target: "DEP", status: 422, code: "relay_sender",
			do: func(t *testing.T, h *hostile) answer {
				v := h.rn.view(t, h.seal(t, "DOR", []string{"BER"}, nil), "BER")
				return h.request(t, "DEP", "POST", "/v1/relay/envelopes", v, "CRI", time.Now(), nil)
			}},
		{name: "relay handed a full envelope", target: "DEP", status: 422, code: "relay_no_view",
			do: func(t *testing.T, h *hostile) answer {
				e := h.seal(t, "CRI", []string{"BER", "DOR"}, nil)
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
		{name: "heartbeat dated ten minutes ago", target: "CRI", status: 422, code: "stale_heartbeat", signed: heartbeatStatement,
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

		// Copies of peers' logs (GET /mirror/): to parties only, and only
		// what a copy holds.
		{name: "mirror: unsigned read of a copy", target: "CRI", status: 401,
			do: func(t *testing.T, h *hostile) answer {
				return h.request(t, "CRI", "GET", "/mirror/"+tlog.MirrorKey(h.rn.keys["BER"].Origin())+"/checkpoint", nil, "", time.Now(), nil)
			}},
		{name: "mirror: read signed by a forged key", target: "CRI", status: 401,
			do: func(t *testing.T, h *hostile) answer {
				return h.request(t, "CRI", "GET", "/mirror/"+tlog.MirrorKey(h.rn.keys["BER"].Origin())+"/checkpoint", nil, "", time.Time{}, resign(nil, "CRI", "BER", forgedKey(t, "BER"), time.Now()))
			}},
		{name: "mirror: a path out of the copies", target: "CRI", status: 404,
			do: func(t *testing.T, h *hostile) answer {
				return h.request(t, "CRI", "GET", "/mirror/"+tlog.MirrorKey(h.rn.keys["BER"].Origin())+"/tile/entries/../../../../config.json", nil, "BER", time.Now(), nil)
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
				// Headers signed for 1,000 bytes, so that the node reads on;
				// then 3 of them.
				hd := h.signedHeaders(t, "POST", "/v1/envelopes", 1000, sha256.Sum256(bytes.Repeat([]byte("hot"), 334)[:1000]))
				return h.raw(t, "CRI", func(c net.Conn) {
					writeHeaders(c, "POST", "/v1/envelopes", hd, "Content-Length: 1000\r\n")
					fmt.Fprintf(c, "hot")
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
			var ref fedapi.Refusal
			if c.code != "" {
				if err := json.Unmarshal(a.body, &ref); err != nil || ref.Code != c.code || ref.Message == "" {
					t.Errorf("answer %.300s, want a refusal with code %q and a message", a.body, c.code)
				}
			}
			if c.check != nil {
				c.check(t, h, a)
			}
			// What the refusal may change: a new signed refusal is stored
			// and logged (PROTOCOL.md §6, Refusal), a sequence conflict
			// keeps its proof; nothing else.
			want := before
			switch {
			case c.signed == unsigned && ref.Statement != nil:
				t.Errorf("the refusal is signed; want it unsigned (PROTOCOL.md §6, Refusal)")
			case c.signed == heartbeatStatement:
				v, err := keysOf(t, h.tn, c.target).Message.Verifier()
				if err != nil {
					t.Fatal(err)
				}
				if hb, err := hotline.OpenHeartbeat(ref.Statement, v); err != nil || hb.From != c.target || hb.To != "BER" {
					t.Errorf("the refusal's statement is not %s's heartbeat to BER: %+v, %v", c.target, hb, err)
				}
			case c.signed != unsigned:
				want = map[string]nodeState{"CRI": h.checkSigned(t, c, a, ref, before["CRI"]), "DEP": before["DEP"]}
			}
			for _, p := range []string{"CRI", "DEP"} {
				if after := h.state(t, p); after != want[p] {
					t.Errorf("%s: %+v → %+v, want %+v", p, before[p], after, want[p])
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
	group := h.rn.view(t, h.seal(t, "BER", []string{"CRI", "DOR", "ELM"}, func(d *hotline.Draft) { d.Group = "all" }), "CRI")
	if a := h.envelope(t, group); a.status != 200 {
		t.Errorf("an envelope to the group all: %d %s", a.status, a.body)
	}
}

// checkSigned checks CRI's signed refusal of the envelope a case sent:
// the statement verifies with CRI's message key and names the envelope,
// the hash of its signed header and the case's code; it is the one CRI
// stored, once, with its log entry (direction 0x05). It returns the state
// CRI must be in: before, with the refusal's row and entry if new, and a
// sequence-conflict proof that verifies with BER's key if the case keeps
// one.
func (h *hostile) checkSigned(t *testing.T, c hostileCase, a answer, ref fedapi.Refusal, before nodeState) nodeState {
	t.Helper()
	want := before
	e, err := hotline.Parse(a.sent)
	if err != nil {
		t.Errorf("the envelope sent does not parse: %v", err)
		return want
	}
	v, err := h.rn.keys["CRI"].Message.Verifier()
	if err != nil {
		t.Fatal(err)
	}
	st, rid, err := hotline.OpenRefusal(ref.Statement, v)
	if err != nil {
		t.Errorf("the refusal's statement (%d bytes) does not verify with CRI's message key: %v", len(ref.Statement), err)
		return want
	}
	if st.Message != e.ID() || st.Header != sha256.Sum256(e.SignedHeader()) || st.Code != c.code || st.Party != "CRI" {
		t.Errorf("the signed refusal says %+v; want envelope %s, its header's hash, code %s, party CRI", st, e.ID(), c.code)
	}
	ctx := context.Background()
	rs, err := h.tn.Servers["CRI"].Node().Store().Refusals(ctx, hotline.RefusalIssued, "BER")
	if err != nil {
		t.Fatal(err)
	}
	origin, err := h.rn.agr.LogOrigin("CRI")
	if err != nil {
		t.Fatal(err)
	}
	entry := hotline.LeafEntry(origin, hotline.RefusalIssued, rid)
	stored := 0
	for _, r := range rs {
		if r.Message != e.ID() {
			continue
		}
		stored++
		if r.ID != rid || !bytes.Equal(r.Note, ref.Statement) || r.Entry != entry || !r.Sequenced {
			t.Errorf("the stored refusal is not the one answered, or not logged: %+v", r)
		}
	}
	if stored != 1 {
		t.Errorf("%d refusals of %s stored, want 1", stored, e.ID())
	}
	if c.signed == signedNew {
		want.refusalsIssued++
		want.logEntries++
		want.lastEntry = entry
	}
	if c.proof {
		want.equivocations++
		want.alarms++
		recs, err := h.tn.Servers["CRI"].Node().Equivocations(ctx)
		if err != nil {
			t.Fatal(err)
		}
		bv, err := h.rn.keys["BER"].Message.Verifier()
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, r := range recs {
			p, err := hotline.ParseSequenceConflict(r.Proof)
			if r.Origin != node.SequenceOrigin("BER") || err != nil || (!bytes.Equal(p.A, e.SignedHeader()) && !bytes.Equal(p.B, e.SignedHeader())) {
				continue
			}
			found = true
			if err := p.Verify(bv); err != nil {
				t.Errorf("the sequence-conflict proof does not verify with BER's key: %v", err)
			}
		}
		if !found {
			t.Errorf("no sequence-conflict proof holds %s's header", e.ID())
		}
	}
	return want
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
