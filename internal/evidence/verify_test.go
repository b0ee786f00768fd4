package evidence

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/merkle/testonly"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/agreement"
	"github.com/hotline-net/hotline/internal/obligations"
)

const h = time.Hour

// story is ARV's mitigation request to ESK (acknowledge within 12 h),
// received by ESK a minute later; if ackAt is not zero, ESK acknowledges
// it then and ARV receives the ack a minute later. Both logs are cosigned
// by every other witness at 14 h, after the acknowledgement's due time,
// and again at 20 h.
type story struct {
	w       *world
	m       *hotline.Envelope
	ack     *hotline.Envelope
	ackNote []byte // ARV's receipt of the ack
}

func newStory(tb testing.TB, ackAt time.Duration) *story {
	tb.Helper()
	w := newWorld(tb)
	s := &story{w: w}
	s.m = w.send("ARV", "ESK", "mitigation_request", hotline.SeverityHigh, 0)
	w.receive(s.m, "ESK", time.Minute)
	if ackAt != 0 {
		s.ack = w.send("ESK", "ARV", "ack", hotline.SeverityHigh, ackAt, s.m.ID())
		s.ackNote = w.receive(s.ack, "ARV", ackAt+time.Minute)
	}
	for _, p := range []string{"ARV", "ESK"} {
		w.checkpoint(p, all(p, 14*h))
	}
	w.grow("ARV", 1)
	w.grow("ESK", 2)
	for _, p := range []string{"ARV", "ESK"} {
		w.checkpoint(p, all(p, 20*h))
	}
	return s
}

// ackOf returns the verdict on ESK's acknowledgement of m.
func ackOf(tb testing.TB, rep *Report, m hotline.ID) obligations.Obligation {
	tb.Helper()
	for _, o := range rep.Obligations {
		if o.Message == m && o.Type == agreement.Acknowledge {
			return o
		}
	}
	tb.Fatalf("no acknowledgement obligation of %s among %d", m, len(rep.Obligations))
	return obligations.Obligation{}
}

func mustVerify(tb testing.TB, w *world, bs ...*Bundle) *Report {
	tb.Helper()
	rep, err := Verify(bs, w.pin(), w.at(100*h))
	if err != nil {
		tb.Fatal(err)
	}
	return rep
}

// withoutAck is ARV's bundle hiding ESK's acknowledgement: the ack, ARV's
// receipt of it and the proof of its log entry, re-signed by ARV.
func (s *story) withoutAck(b *Body) {
	id := s.ack.ID()
	var envs []Envelope
	for _, e := range b.Envelopes {
		if env, err := hotline.Parse(e.Envelope); err == nil && env.ID() != id {
			envs = append(envs, e)
		}
	}
	b.Envelopes = envs
	var rs [][]byte
	for _, r := range b.Receipts {
		if !bytes.Equal(r, s.ackNote) {
			rs = append(rs, r)
		}
	}
	b.Receipts = rs
	var ps [][]byte
	for _, p := range b.Inclusion {
		if !bytes.Contains(p, []byte("extra ")) || !strings.Contains(string(p), b64(append([]byte{byte(hotline.Received)}, id[:]...))) {
			ps = append(ps, p)
		}
	}
	b.Inclusion = ps
}

// TestMerge is the table of merge cases: each side alone, both, the two
// in conflict, and one side's log equivocating.
func TestMerge(t *testing.T) {
	for _, tc := range []struct {
		name  string
		ackAt time.Duration
		// bundles returns the bundles verified together.
		bundles func(s *story) []*Bundle
		want    obligations.State
		why     string
	}{
		{"ARV alone, no ack", 0, func(s *story) []*Bundle { return []*Bundle{s.w.bundle("ARV", "ESK", nil)} },
			obligations.Missed, "no answer tendered"},
		{"ESK alone, no ack", 0, func(s *story) []*Bundle { return []*Bundle{s.w.bundle("ESK", "ARV", nil)} },
			obligations.Unprovable, "no checkpoint of ARV's log"},
		{"both, no ack", 0, func(s *story) []*Bundle {
			return []*Bundle{s.w.bundle("ARV", "ESK", nil), s.w.bundle("ESK", "ARV", nil)}
		}, obligations.Missed, "no answer tendered"},
		{"ARV alone, ack at 2h", 2 * h, func(s *story) []*Bundle { return []*Bundle{s.w.bundle("ARV", "ESK", nil)} },
			obligations.MetOnTime, "answered"},
		{"ESK alone, ack at 2h", 2 * h, func(s *story) []*Bundle { return []*Bundle{s.w.bundle("ESK", "ARV", nil)} },
			obligations.MetOnTime, "answered"},
		{"both, ack at 2h", 2 * h, func(s *story) []*Bundle {
			return []*Bundle{s.w.bundle("ARV", "ESK", nil), s.w.bundle("ESK", "ARV", nil)}
		}, obligations.MetOnTime, "answered"},
		{"ARV hides the ack, alone", 2 * h, func(s *story) []*Bundle { return []*Bundle{s.w.bundle("ARV", "ESK", s.withoutAck)} },
			obligations.Missed, "no answer tendered"},
		{"conflicting: ARV hides the ack, ESK shows ARV's receipt", 2 * h, func(s *story) []*Bundle {
			return []*Bundle{s.w.bundle("ARV", "ESK", s.withoutAck), s.w.bundle("ESK", "ARV", nil)}
		}, obligations.MetOnTime, "answered"},
		{"conflicting, late: ESK shows an ack tendered after the due time", 13 * h, func(s *story) []*Bundle {
			return []*Bundle{s.w.bundle("ARV", "ESK", s.withoutAck), s.w.bundle("ESK", "ARV", nil)}
		}, obligations.MetLate, "after the due time"},
		{"ARV's log equivocating", 0, func(s *story) []*Bundle {
			fork := s.w.forkedCheckpoint("ARV")
			return []*Bundle{s.w.bundle("ARV", "ESK", nil), s.w.bundle("ESK", "ARV", func(b *Body) {
				b.Checkpoints = append(b.Checkpoints, fork)
			})}
		}, obligations.Disputed, "equivocated"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStory(t, tc.ackAt)
			rep := mustVerify(t, s.w, tc.bundles(s)...)
			o := ackOf(t, rep, s.m.ID())
			if o.State != tc.want || !strings.Contains(o.Why, tc.why) {
				t.Errorf("acknowledgement: %s (%s), want %s (…%s…)", o.State, o.Why, tc.want, tc.why)
			}
		})
	}
}

// cloneTree returns a tree of the first n leaves of t.
func cloneTree(t *testonly.Tree, n uint64) *testonly.Tree {
	c := testonly.New(rfc6962.DefaultHasher)
	for i := range n {
		c.Append(t.LeafHash(i))
	}
	return c
}

// forkedCheckpoint returns a checkpoint of party's log at the size of its
// latest one with another root, signed by its checkpoint key and cosigned
// by every other witness: a split view the witnesses were shown.
func (w *world) forkedCheckpoint(party string) []byte {
	w.tb.Helper()
	l := w.logs[party]
	real := l.tree
	defer func() { l.tree = real }()
	l.tree = cloneTree(real, real.Size()-1)
	l.tree.AppendData([]byte("another entry"))
	cps := l.cps
	defer func() { l.cps = cps }()
	w.checkpoint(party, all(party, 20*h))
	return l.cps[len(l.cps)-1].note
}

// TestNeutralTime: ESK's receipt states it received ARV's request at 10 h,
// but its log's entry of the request was cosigned by ARV at 5 min, by DEP
// at 6 h and by CRI at 7 h. The clock starts at the neutral time that ARV,
// whom an early start favours, has no part in: 7 h, not 6 h — so ESK's ack,
// received at 18 h 30, is on time (due 19 h), where counting ARV's
// cosignature would make it late (due 18 h).
func TestNeutralTime(t *testing.T) {
	w := newWorld(t)
	m := w.send("ARV", "ESK", "mitigation_request", hotline.SeverityHigh, 0)
	w.receive(m, "ESK", 10*h)
	w.checkpoint("ESK", map[string]time.Duration{"ARV": 5 * time.Minute, "DEP": 6 * h, "CRI": 7 * h})
	ack := w.send("ESK", "ARV", "ack", hotline.SeverityHigh, 18*h, m.ID())
	w.receive(ack, "ARV", 18*h+30*time.Minute)
	w.checkpoint("ESK", all("ESK", 20*h))
	w.checkpoint("ARV", all("ARV", 20*h))

	rep := mustVerify(t, w, w.bundle("ESK", "ARV", nil))
	o := ackOf(t, rep, m.ID())
	if want := w.at(7 * h); !o.Start.Equal(want) {
		t.Errorf("the clock started at %s, want %s (ARV's own cosignature must not count)", o.Start, want)
	}
	if o.State != obligations.MetOnTime {
		t.Errorf("acknowledgement: %s (%s), want met on time", o.State, o.Why)
	}
}

// TestTamper: every way of altering a bundle is refused, naming what
// failed.
func TestTamper(t *testing.T) {
	s := newStory(t, 2*h)
	w := s.w
	other := newWorld(t)
	verify := func(pin Pin, bs ...*Bundle) error {
		_, err := Verify(bs, pin, w.at(100*h))
		return err
	}
	// later has ARV's log grow and be cosigned again, at times given.
	later := func(cosigned map[string]time.Duration) error {
		w2 := newStory(t, 0).w
		w2.grow("ARV", 3)
		w2.checkpoint("ARV", cosigned)
		_, err := Verify([]*Bundle{w2.bundle("ARV", "ESK", nil)}, w2.pin(), w2.at(100*h))
		return err
	}
	for _, tc := range []struct {
		name string
		run  func() error
		want string
	}{
		{"a receipt removed, the bundle not re-signed", func() error {
			b := w.bundle("ARV", "ESK", nil)
			b.raw = bytes.Replace(b.raw, []byte(b64(s.ackNote)), nil, 1)
			_, err := Parse(reassemble(b))
			return err
		}, "not the one the exporter's statement names"},
		{"a receipt removed by the exporter, re-signed", func() error {
			return verify(w.pin(), w.bundle("ARV", "ESK", func(b *Body) { b.Receipts = b.Receipts[1:] }))
		}, "which the bundle does not carry (removed?)"},
		{"an envelope removed by the exporter, re-signed", func() error {
			return verify(w.pin(), w.bundle("ARV", "ESK", func(b *Body) { b.Envelopes = b.Envelopes[1:] }))
		}, "which the bundle does not carry (removed?)"},
		{"a checkpoint without its quorum", func() error {
			return later(map[string]time.Duration{"DEP": 30 * h})
		}, "does not carry the witness quorum"},
		{"a receipt's time moved", func() error {
			moved := bytes.Replace(s.ackNote, []byte("received "+hotline.FormatTime(w.at(2*h+time.Minute))), []byte("received "+hotline.FormatTime(w.at(1*h))), 1)
			return verify(w.pin(), w.bundle("ARV", "ESK", func(b *Body) { b.Receipts[1] = moved }))
		}, "receipts[1]: hotline-receipt/v1"},
		{"a cosignature's time moved back", func() error {
			return later(map[string]time.Duration{"DEP": 10 * h, "CRI": 30 * h, "ESK": 30 * h})
		}, "witness DEP's timestamps go down as ARV's log grows"},
		{"a proof from another log", func() error {
			foreign := w.bundle("ESK", "ARV", nil).Body.Inclusion[0]
			return verify(w.pin(), w.bundle("ARV", "ESK", func(b *Body) { b.Inclusion[0] = foreign }))
		}, "is not among the bundle's checkpoints"},
		{"a proof's hashes from another entry", func() error {
			return verify(w.pin(), w.bundle("ARV", "ESK", func(b *Body) {
				b.Inclusion[0], b.Inclusion[1] = b.Inclusion[1], b.Inclusion[0]
				p0, p1 := string(b.Inclusion[0]), string(b.Inclusion[1])
				e0, _, _ := strings.Cut(p0, "\nindex ")
				e1, _, _ := strings.Cut(p1, "\nindex ")
				b.Inclusion[0] = []byte(e1 + strings.TrimPrefix(p0, e0))
				b.Inclusion[1] = []byte(e0 + strings.TrimPrefix(p1, e1))
			}))
		}, "inclusion[0]: entry"},
		{"a chain not rooted at the pinned genesis", func() error {
			return verify(other.pin(), w.bundle("ARV", "ESK", nil))
		}, "not rooted at the pinned genesis"},
		{"the chain of another agreement", func() error {
			return verify(w.pin(), w.bundle("ARV", "ESK", func(b *Body) { b.Agreement = other.agr.Marshal() }))
		}, "not rooted at the pinned genesis"},
		{"no pin", func() error {
			return verify(Pin{}, w.bundle("ARV", "ESK", nil))
		}, "no genesis pinned"},
		{"another depositary key pinned", func() error {
			return verify(Pin{DepositaryKey: other.agr.Versions()[0].Depositary().Root}, w.bundle("ARV", "ESK", nil))
		}, "not issued under the pinned depositary key"},
		{"a refusal this version cannot check", func() error {
			return verify(w.pin(), w.bundle("ARV", "ESK", func(b *Body) { b.Refusals = [][]byte{[]byte("hotline-refusal/v1\n")} }))
		}, "refusals: 1 signed refusals"},
		{"signed by another party than it names", func() error {
			b := w.bundle("ARV", "ESK", nil)
			data, err := b.Marshal(w.keys["CRI"].Message)
			if err != nil {
				t.Fatal(err)
			}
			return verify(w.pin(), mustParse(t, data))
		}, "statement: not signed by ARV's message key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.run()
			if err == nil {
				t.Fatalf("verified; want an error saying %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
		})
	}
	if err := verify(Pin{DepositaryKey: w.agr.Versions()[0].Depositary().Root}, w.bundle("ARV", "ESK", nil)); err != nil {
		t.Errorf("pinned by the depositary's key: %v", err)
	}
}

// reassemble returns a parsed bundle's bytes: its statement and raw body.
func reassemble(b *Bundle) []byte {
	return append(append(append(bytes.Clone(b.signed), '\n'), b.raw...), '\n')
}

// TestFlipEveryByte flips each byte of a bundle in turn: each one is
// refused by Parse or Verify.
func TestFlipEveryByte(t *testing.T) {
	s := newStory(t, 2*h)
	data, err := s.w.bundle("ARV", "ESK", nil).Marshal(s.w.keys["ARV"].Message)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Verify([]*Bundle{mustParse(t, data)}, s.w.pin(), s.w.at(100*h)); err != nil {
		t.Fatal(err)
	}
	step := 1
	if testing.Short() {
		step = 97
	}
	for i := 0; i < len(data); i += step {
		c := bytes.Clone(data)
		c[i] ^= 0x01
		b, err := Parse(c)
		if err == nil {
			_, err = Verify([]*Bundle{b}, s.w.pin(), s.w.at(100*h))
		}
		if err == nil {
			t.Fatalf("byte %d flipped (%q → %q): the bundle still verifies", i, data[i], c[i])
		}
		if hotline.ErrorCode(err) != ErrMalformed.Code && hotline.ErrorCode(err) != ErrUnverified.Code {
			t.Fatalf("byte %d flipped: error %q has code %q", i, err, hotline.ErrorCode(err))
		}
	}
}

func mustParse(tb testing.TB, data []byte) *Bundle {
	tb.Helper()
	b, err := Parse(data)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// TestRoundTrip: a bundle marshals, parses and marshals to the same bytes.
func TestRoundTrip(t *testing.T) {
	s := newStory(t, 2*h)
	data, err := s.w.bundle("ESK", "ARV", nil).Marshal(s.w.keys["ESK"].Message)
	if err != nil {
		t.Fatal(err)
	}
	b := mustParse(t, data)
	if got := reassemble(b); !bytes.Equal(got, data) {
		t.Error("the bundle does not reassemble to its bytes")
	}
	again, err := b.Marshal(s.w.keys["ESK"].Message)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, data) {
		t.Error("the parsed bundle does not marshal to the same bytes")
	}
}

// TestRelayTender: ESK's acknowledgement never reached ARV's node, but the
// depositary's relay took it for ARV at 3 h: ESK's bundle alone shows it
// tendered then, signed by the relay.
func TestRelayTender(t *testing.T) {
	w := newWorld(t)
	m := w.send("ARV", "ESK", "mitigation_request", hotline.SeverityHigh, 0)
	w.receive(m, "ESK", time.Minute)
	ack := w.send("ESK", "ARV", "ack", hotline.SeverityHigh, 3*h, m.ID())
	w.relay(ack, "ARV", 3*h)
	w.checkpoint("ESK", all("ESK", 20*h))
	w.checkpoint("ARV", all("ARV", 20*h))

	o := ackOf(t, mustVerify(t, w, w.bundle("ESK", "ARV", nil)), m.ID())
	if o.State != obligations.MetOnTime || !o.Tendered.Equal(w.at(3*h)) {
		t.Errorf("acknowledgement: %s, tendered %s (%s); want met on time, tendered at the relay's receipt", o.State, o.Tendered, o.Why)
	}
	o = ackOf(t, mustVerify(t, w, w.bundle("ARV", "ESK", nil)), m.ID())
	if o.State != obligations.Missed {
		t.Errorf("by ARV's bundle alone: %s (%s), want missed", o.State, o.Why)
	}
}
