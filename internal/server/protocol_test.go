package server_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/internal/fedapi"
	"github.com/hotline-net/hotline/internal/node"
	"github.com/hotline-net/hotline/internal/poll"
	"github.com/hotline-net/hotline/internal/server"
	"github.com/hotline-net/hotline/internal/sim"
	"github.com/hotline-net/hotline/internal/store"
)

// countingListener counts the bytes the server reads from each
// connection, by the connection's remote address (the client's local one).
type countingListener struct {
	net.Listener
	read *sync.Map // string → *atomic.Int64
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	n, _ := l.read.LoadOrStore(c.RemoteAddr().String(), new(atomic.Int64))
	return countingConn{Conn: c, read: n.(*atomic.Int64)}, nil
}

type countingConn struct {
	net.Conn
	read *atomic.Int64
}

func (c countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.read.Add(int64(n))
	return n, err
}

// TestForgedRequestBodiesNotRead (issue 16 finding 4): 32 POSTs that
// announce 8 MB bodies each, with signatures that cannot verify — by a key
// named BER that is not BER's, garbage of the right shape, no signature at
// all, BER's signature of a request to another node — are refused 401 before the node
// reads a byte of their bodies: it never answers "100 Continue", and reads
// no more than the requests' headers from the connections.
func TestForgedRequestBodiesNotRead(t *testing.T) {
	var read sync.Map
	cfg := sim.TestnetConfig{
		Parties: []string{"BER", "CRI"},
		Node: func(_ string, c *server.Config) {
			c.HeartbeatInterval = server.Duration(time.Hour)
			c.RateLimit = server.RateLimitConfig{PerSecond: -1}
		},
	}
	tn := newTestNetWith(t, cfg, []string{"CRI"}, func(_ string, o *server.Options) {
		o.Listener = countingListener{Listener: o.Listener, read: &read}
	})
	s := tn.Servers["CRI"]
	addr := strings.TrimPrefix(s.URL(), "http://")
	ber := keysOf(t, tn, "BER")
	forger, err := hotline.GenerateSigningKey("BER", false)
	if err != nil {
		t.Fatal(err)
	}
	const size = 8 << 20
	body := bytes.Repeat([]byte("A"), size)
	// headers returns the signature headers of a POST of body, as signed
	// by key (none when key is nil), then changed by change.
	headers := func(key *hotline.SigningKey, change func(http.Header)) http.Header {
		req, _ := http.NewRequest(http.MethodPost, s.URL()+"/v1/envelopes", bytes.NewReader(body))
		if key != nil {
			if err := fedapi.SignRequest(req, body, "CRI", key, time.Now()); err != nil {
				t.Fatal(err)
			}
		}
		if change != nil {
			change(req.Header)
		}
		return req.Header
	}
	kinds := []struct {
		name string
		h    http.Header
	}{
		{"another key named BER", headers(forger, nil)},
		{"garbage signature", headers(ber.Message, func(h http.Header) {
			h.Set(fedapi.HeaderSignature, base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 68)))
		})},
		{"no signature", headers(nil, nil)},
		{"BER's signature for another node", func() http.Header {
			req, _ := http.NewRequest(http.MethodPost, s.URL()+"/v1/envelopes", bytes.NewReader(body))
			if err := fedapi.SignRequest(req, body, "DOR", ber.Message, time.Now()); err != nil {
				t.Fatal(err)
			}
			return req.Header
		}()},
	}
	var headerBytes atomic.Int64
	var clients sync.Map // the test's connections, by local address
	var wg sync.WaitGroup
	for i := range 32 {
		k := kinds[i%len(kinds)]
		wg.Go(func() {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Error(err)
				return
			}
			defer conn.Close()
			clients.Store(conn.LocalAddr().String(), true)
			conn.SetDeadline(time.Now().Add(time.Minute))
			var req bytes.Buffer
			fmt.Fprintf(&req, "POST /v1/envelopes HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\nExpect: 100-continue\r\nContent-Type: application/octet-stream\r\n", addr, size)
			for name, vs := range k.h {
				if name == "Content-Length" {
					continue
				}
				for _, v := range vs {
					fmt.Fprintf(&req, "%s: %s\r\n", name, v)
				}
			}
			req.WriteString("\r\n")
			headerBytes.Add(int64(req.Len()))
			if _, err := conn.Write(req.Bytes()); err != nil {
				t.Error(err)
				return
			}
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Errorf("%s: reading the answer: %v", k.name, err)
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusContinue {
				t.Errorf("%s: the node asked for the body (100 Continue) of a request it had not authenticated", k.name)
				return
			}
			var ref fedapi.Refusal
			json.Unmarshal(b, &ref)
			if resp.StatusCode != http.StatusUnauthorized || ref.Code != "unauthenticated" {
				t.Errorf("%s: %s %s, want 401 unauthenticated", k.name, resp.Status, b)
			}
		})
	}
	wg.Wait()
	var got int64
	clients.Range(func(a, _ any) bool {
		if n, ok := read.Load(a); ok {
			got += n.(*atomic.Int64).Load()
		}
		return true
	})
	if max := headerBytes.Load(); got > max {
		t.Errorf("the node read %d bytes from the connections, more than the %d bytes of the requests' headers", got, max)
	}
}

// TestSequenceConflict (issue 16 finding 1): per (sender, recipient), a
// second envelope with a sequence number another envelope already took, or
// whose previous id is not the id of the known envelope before it (or
// after it, not the id the known next one names), is refused
// sequence_conflict over HTTP, again the same way when sent again, and
// leaves a proof — both signed headers — that verifies with the sender's
// key alone. A number beyond 2^63−1 is malformed, never a 500.
func TestSequenceConflict(t *testing.T) {
	for _, version := range []int{1, 2} {
		t.Run(fmt.Sprintf("hotline-envelope/v%d", version), func(t *testing.T) { testSequenceConflict(t, version) })
	}
}

// testSequenceConflict runs TestSequenceConflict with envelopes of one
// version; in version 2 the stored proofs carry CRI's openings.
func testSequenceConflict(t *testing.T, version int) {
	rn := newRefusalNet(t)
	toCRI := []string{"CRI"}
	at := func(seq uint64, prev hotline.ID) func(*hotline.Draft) {
		return func(d *hotline.Draft) { d.Version, d.To[0].Seq, d.To[0].Prev = version, seq, prev }
	}
	var other hotline.ID
	other[0] = 7
	a := rn.seal(t, "BER", toCRI, at(1, hotline.ID{}))
	b := rn.seal(t, "BER", toCRI, at(1, hotline.ID{}))
	c := rn.seal(t, "BER", toCRI, at(2, a.ID()))
	d := rn.seal(t, "BER", toCRI, at(3, other))
	e := rn.seal(t, "BER", toCRI, at(5, other))
	f := rn.seal(t, "BER", toCRI, at(4, c.ID()))
	g := rn.seal(t, "BER", toCRI, at(1<<64-1, other))
	h := rn.seal(t, "BER", toCRI, at(1<<63, other))
	i := rn.seal(t, "BER", toCRI, at(1<<63-1, other))
	for _, tt := range []struct {
		name   string
		env    *hotline.Envelope
		status int
		code   string
	}{
		{"seq 1", a, 200, ""},
		{"another envelope at seq 1", b, 409, "sequence_conflict"},
		{"the same again: the same refusal", b, 409, "sequence_conflict"},
		{"the first again: its receipt", a, 200, ""},
		{"seq 2 after seq 1", c, 200, ""},
		{"seq 3 naming another envelope than seq 2", d, 409, "sequence_conflict"},
		{"seq 5 after a gap", e, 200, ""},
		{"seq 4, not the envelope seq 5 names", f, 409, "sequence_conflict"},
		{"seq 2^64-1", g, 400, "malformed"},
		{"seq 2^63", h, 400, "malformed"},
		{"seq 2^63-1", i, 200, ""},
	} {
		status, ref, body := rn.post(t, "BER", rn.view(t, tt.env, "CRI"), nil)
		if status != tt.status || ref.Code != tt.code {
			t.Errorf("%s: %d %s, want %d %s", tt.name, status, body, tt.status, tt.code)
		}
	}

	// Three proofs kept, each verifying with BER's message key alone.
	ctx := t.Context()
	recs, err := rn.tn.Servers["CRI"].Node().Equivocations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var proofs []*hotline.SequenceConflict
	for _, r := range recs {
		if r.Origin != "sequence:BER" {
			continue
		}
		p, err := hotline.ParseSequenceConflict(r.Proof)
		if err != nil {
			t.Fatalf("stored proof: %v\n%s", err, r.Proof)
		}
		v, err := rn.keys["BER"].Message.Verifier()
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Verify(v); err != nil {
			t.Errorf("stored proof does not verify: %v", err)
		}
		if (p.AOpening != nil) != (version == 2) || (p.BOpening != nil) != (version == 2) {
			t.Errorf("stored proof of version %d envelopes: openings %t %t", version, p.AOpening != nil, p.BOpening != nil)
		}
		proofs = append(proofs, p)
	}
	if len(proofs) != 3 {
		t.Errorf("%d sequence-conflict proofs stored, want 3 (one per conflicting envelope, once each)", len(proofs))
	}
}

// TestRollingUpgrade (issue 16, versions): DOR's directory entry lists
// protocol 1 only — a node not yet upgraded. BER's messages reach DOR and
// CRI (to DOR in version 1, to CRI in version 2, the highest each speaks),
// and back. CRI takes a version 1 request from DOR, refuses one in BER's
// name (BER lists 2) as unsupported_version without reading its body, and
// refuses a version it does not know.
func TestRollingUpgrade(t *testing.T) {
	tn := newTestNetWith(t, sim.TestnetConfig{
		Parties:   []string{"BER", "CRI", "DOR"},
		Protocols: map[string][]uint64{"DOR": {1}},
	}, nil, nil)
	ctx := context.Background()
	ber := tn.Servers["BER"].Node()
	id, err := ber.Send(ctx, node.Draft{
		To: []string{"CRI", "DOR"}, Kind: "clarification_request",
		Severity: hotline.SeverityCritical, Marking: hotline.TLPAmber,
		Body: []byte(clarificationBody),
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"CRI", "DOR"} {
		poll.Must(t, "delivery to "+p, func() (bool, error) {
			row, err := ber.Store().OutboxEntry(ctx, id, p)
			return row.State == store.OutboxDelivered, err
		})
	}
	ackID, err := tn.Servers["DOR"].Node().Reply(ctx, id, "ack", []byte(`{"language":"en","acknowledged_by":"Duty officer"}`))
	if err != nil {
		t.Fatal(err)
	}
	poll.Must(t, "DOR's ack at BER", func() (bool, error) {
		_, err := ber.Store().Envelope(ctx, hotline.Received, ackID)
		if errors.Is(err, store.ErrNotFound) {
			return false, nil
		}
		return err == nil, err
	})

	post := func(as string, v1 bool, change func(*http.Request)) (int, string) {
		body := []byte("not an envelope")
		req, _ := http.NewRequest(http.MethodPost, tn.Servers["CRI"].URL()+"/v1/heartbeats", bytes.NewReader(body))
		sign := fedapi.SignRequest
		if v1 {
			sign = fedapi.SignRequestV1
		}
		if err := sign(req, body, "CRI", keysOf(t, tn, as).Message, time.Now()); err != nil {
			t.Fatal(err)
		}
		if change != nil {
			change(req)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var ref fedapi.Refusal
		json.NewDecoder(resp.Body).Decode(&ref)
		return resp.StatusCode, ref.Code
	}
	for _, tt := range []struct {
		name   string
		as     string
		v1     bool
		change func(*http.Request)
		status int
		code   string
	}{
		// Authenticated, then refused as a heartbeat: the request got in.
		{"version 1 from DOR, which lists 1 only", "DOR", true, nil, 400, "wrong_tag"},
		{"version 2 from DOR", "DOR", false, nil, 400, "wrong_tag"},
		{"version 1 from BER, which lists 2", "BER", true, nil, 400, "unsupported_version"},
		{"version 3", "BER", false, func(r *http.Request) { r.Header.Set(fedapi.HeaderVersion, "3") }, 400, "unsupported_version"},
	} {
		status, code := post(tt.as, tt.v1, tt.change)
		if status != tt.status || code != tt.code {
			t.Errorf("%s: %d %s, want %d %s", tt.name, status, code, tt.status, tt.code)
		}
	}
}

// TestSignedRefusals (issue 16 finding 3): CRI refuses BER's envelope
// whose body breaks its template with a signed hotline-refusal/v1 naming
// the envelope, the hash of its signed header and the code; the same
// envelope again gets the same bytes; the refusal is stored and its id
// logged under direction 0x05. A refusal the sender did not cause (an
// unparseable envelope) is not signed.
func TestSignedRefusals(t *testing.T) {
	rn := newRefusalNet(t)
	e := rn.seal(t, "BER", []string{"CRI"}, func(d *hotline.Draft) { d.Body = []byte(`{"language":"en"}`) })
	view := rn.view(t, e, "CRI")
	status, ref, raw := rn.post(t, "BER", view, nil)
	if status != 422 || ref.Code != "invalid_body" || ref.Statement == nil {
		t.Fatalf("%d %s, want 422 invalid_body with a statement", status, raw)
	}
	v, err := rn.keys["CRI"].Message.Verifier()
	if err != nil {
		t.Fatal(err)
	}
	st, rid, err := hotline.OpenRefusal(ref.Statement, v)
	if err != nil {
		t.Fatal(err)
	}
	if st.Message != e.ID() || st.Header != sha256.Sum256(e.SignedHeader()) || st.Code != "invalid_body" || st.Party != "CRI" {
		t.Errorf("the refusal says %+v", st)
	}
	_, again, _ := rn.post(t, "BER", view, nil)
	if !bytes.Equal(again.Statement, ref.Statement) {
		t.Error("the same envelope again got another refusal")
	}
	ctx := t.Context()
	cri := rn.tn.Servers["CRI"].Node()
	rs, err := cri.Store().Refusals(ctx, hotline.RefusalIssued, "BER")
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 1 || rs[0].ID != rid || !bytes.Equal(rs[0].Note, ref.Statement) || !rs[0].Sequenced {
		t.Fatalf("stored refusals: %+v", rs)
	}
	origin, err := rn.agr.LogOrigin("CRI")
	if err != nil {
		t.Fatal(err)
	}
	if rs[0].Entry != hotline.LeafEntry(origin, hotline.RefusalIssued, rid) {
		t.Error("the logged entry is not the refusal's (direction 0x05)")
	}
	if _, ref, _ := rn.post(t, "BER", []byte("hotline-envelope/v1\nnonsense\n"), nil); ref.Code != "malformed" || ref.Statement != nil {
		t.Errorf("a malformed envelope: %s with statement %v, want an unsigned malformed", ref.Code, ref.Statement != nil)
	}
}

// strictBodies refuses every body: a recipient whose templates are
// stricter than the sender's.
type strictBodies struct{}

func (strictBodies) CheckBody(kind string, _ hotline.Marking, _ []byte) error {
	return fmt.Errorf("this node takes no %s", kind)
}

// TestSignedRefusalReachesSender (issue 16 finding 3): CRI refuses BER's
// envelope as invalid_body; BER's node gets CRI's signed refusal over
// HTTP, verifies it, stores it, logs its id under direction 0x06 and stops
// retrying — it holds the evidence of the refusal, with the same bytes
// CRI keeps and logged under 0x05.
func TestSignedRefusalReachesSender(t *testing.T) {
	tn := newTestNetWith(t, sim.TestnetConfig{
		Parties: []string{"BER", "CRI"},
		Node:    func(_ string, c *server.Config) { c.HeartbeatInterval = server.Duration(time.Hour) },
	}, nil, func(p string, o *server.Options) {
		if p == "CRI" {
			o.Bodies = strictBodies{}
		}
	})
	ctx := context.Background()
	ber, cri := tn.Servers["BER"].Node(), tn.Servers["CRI"].Node()
	id, err := ber.Send(ctx, node.Draft{
		To: []string{"CRI"}, Kind: "clarification_request",
		Severity: hotline.SeverityCritical, Marking: hotline.TLPAmber,
		Body: []byte(clarificationBody),
	})
	if err != nil {
		t.Fatal(err)
	}
	poll.Must(t, "BER's row failed, refused", func() (bool, error) {
		row, err := ber.Store().OutboxEntry(ctx, id, "CRI")
		return row.State == store.OutboxFailed, err
	})
	got, err := ber.Store().Refusals(ctx, hotline.RefusalReceived, "CRI")
	if err != nil {
		t.Fatal(err)
	}
	issued, err := cri.Store().Refusals(ctx, hotline.RefusalIssued, "BER")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || len(issued) != 1 || !bytes.Equal(got[0].Note, issued[0].Note) || got[0].Message != id || !got[0].Sequenced || !issued[0].Sequenced {
		t.Fatalf("BER holds %+v, CRI %+v: want the one same refusal, logged on both sides", got, issued)
	}
	v, err := keysOf(t, tn, "CRI").Message.Verifier()
	if err != nil {
		t.Fatal(err)
	}
	ref, rid, err := hotline.OpenRefusal(got[0].Note, v)
	if err != nil || ref.Code != "invalid_body" {
		t.Fatalf("BER's refusal: %+v, %v", ref, err)
	}
	origin, err := tn.Servers["BER"].Node().Agreement().LogOrigin("BER")
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Entry != hotline.LeafEntry(origin, hotline.RefusalReceived, rid) {
		t.Error("BER's logged entry is not the refusal's (direction 0x06)")
	}
}

// TestGroupHeaderPrivate (issue 16 finding 2): BER sends CRI two
// messages, then one to CRI and DOR. Every node speaks protocol 2, so the
// group message is a hotline-envelope/v2: the view DOR received over HTTP
// shows neither CRI's sequence number (3) nor its previous id, only a
// salted commitment; DOR's own stanza opened DOR's (1, none), and CRI,
// opening its stanza, took the envelope as its third from BER.
func TestGroupHeaderPrivate(t *testing.T) {
	tn := newTestNetWith(t, sim.TestnetConfig{Parties: []string{"BER", "CRI", "DOR"}}, nil, nil)
	ctx := context.Background()
	ber := tn.Servers["BER"].Node()
	send := func(to ...string) hotline.ID {
		id, err := ber.Send(ctx, node.Draft{
			To: to, Kind: "clarification_request",
			Severity: hotline.SeverityCritical, Marking: hotline.TLPAmber,
			Body: []byte(clarificationBody),
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range to {
			poll.Must(t, "delivery to "+p, func() (bool, error) {
				row, err := ber.Store().OutboxEntry(ctx, id, p)
				return row.State == store.OutboxDelivered, err
			})
		}
		return id
	}
	send("CRI")
	second := send("CRI")
	group := send("CRI", "DOR")

	got, err := tn.Servers["DOR"].Node().Store().Envelope(ctx, hotline.Received, group)
	if err != nil {
		t.Fatal(err)
	}
	view, err := hotline.Parse(got.Raw)
	if err != nil {
		t.Fatal(err)
	}
	head := string(view.HeaderText())
	for _, leak := range []string{second.String(), string(second[:]), base64.StdEncoding.EncodeToString(second[:])} {
		if strings.Contains(head, leak) {
			t.Errorf("DOR's view names CRI's previous envelope:\n%s", head)
		}
	}
	for _, line := range strings.Split(head, "\n") {
		if f := strings.Fields(line); len(f) > 2 && f[0] == "to" && f[1] == "CRI" && slices.Contains(f[2:], "3") {
			t.Errorf("DOR's view shows CRI's sequence number: %q", line)
		}
	}
	if got.PairSeq != 1 || !got.PairPrev.IsZero() {
		t.Errorf("DOR took the group message as %d after %v, want 1, first", got.PairSeq, got.PairPrev)
	}
	atCRI, err := tn.Servers["CRI"].Node().Store().Envelope(ctx, hotline.Received, group)
	if err != nil {
		t.Fatal(err)
	}
	if atCRI.PairSeq != 3 || atCRI.PairPrev != second {
		t.Errorf("CRI took the group message as %d after %v, want 3 after %v", atCRI.PairSeq, atCRI.PairPrev, second)
	}
}
