package obligations

import (
	"crypto/sha256"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/agreement"
)

// fakeTerms holds versions of the sample terms by a made-up hash.
type fakeTerms struct {
	kinds  map[hotline.ID]map[string]*agreement.Kind
	quorum map[hotline.ID]Quorum
	grace  map[hotline.ID]time.Duration
}

func (f *fakeTerms) Kind(v hotline.ID, name string) (*agreement.Kind, bool) {
	k, ok := f.kinds[v][name]
	return k, ok
}
func (f *fakeTerms) Quorum(v hotline.ID) Quorum       { return f.quorum[v] }
func (f *fakeTerms) Grace(v hotline.ID) time.Duration { return f.grace[v] }

func (f *fakeTerms) add(tb testing.TB, v hotline.ID, t *agreement.Terms) {
	tb.Helper()
	f.kinds[v] = map[string]*agreement.Kind{}
	for _, k := range t.Kinds {
		f.kinds[v][k.Name] = &k
	}
	p, err := agreement.ParsePolicy(t.Witnesses.Policy, t.Witnesses.Parties)
	if err != nil {
		tb.Fatal(err)
	}
	f.quorum[v] = p
	f.grace[v] = time.Duration(t.Grace)
}

var (
	v1 = hotline.ID(sha256.Sum256([]byte("version 1")))
	v2 = hotline.ID(sha256.Sum256([]byte("version 2")))
	vw = hotline.ID(sha256.Sum256([]byte("witnessed version")))
	t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
)

// newTestTerms returns the sample terms as v1; v2 amends the notification
// deadlines to 4 hours (critical: 1 hour); vw is v1 witnessed by W1, W2
// and W3 with a quorum of 2.
func newTestTerms(tb testing.TB) *fakeTerms {
	tb.Helper()
	f := &fakeTerms{kinds: map[hotline.ID]map[string]*agreement.Kind{}, quorum: map[hotline.ID]Quorum{}, grace: map[hotline.ID]time.Duration{}}
	f.add(tb, v1, agreement.SampleTerms())
	amended := agreement.SampleTerms()
	for i := range amended.Kinds {
		if amended.Kinds[i].Name == "notification" {
			amended.Kinds[i].Obligations[0].Deadlines = agreement.Deadlines{
				Low: agreement.Duration(4 * time.Hour), Medium: agreement.Duration(4 * time.Hour),
				High: agreement.Duration(4 * time.Hour), Critical: agreement.Duration(time.Hour),
			}
		}
	}
	f.add(tb, v2, amended)
	w := agreement.SampleTerms()
	w.Witnesses.Parties = []string{"W1", "W2", "W3"}
	w.Witnesses.Policy = agreement.DefaultPolicy(w.Witnesses.Parties, 2)
	f.add(tb, vw, w)
	return f
}

func mid(s string) hotline.ID { return hotline.ID(sha256.Sum256([]byte(s))) }

func msg(id, from, to, kind string, sev hotline.Severity, v hotline.ID, refs ...string) Message {
	m := Message{ID: mid(id), From: from, To: []string{to}, Kind: kind, Severity: sev, Agreement: v, Created: t0}
	for _, r := range refs {
		m.Refs = append(m.Refs, mid(r))
		m.Thread = mid(refs[0])
	}
	return m
}

func received(id, to string, at time.Time) Delivery {
	return Delivery{Message: mid(id), Recipient: to, Receipt: at}
}

// TestDeadlines checks the deadline arithmetic over every kind and
// severity of the sample agreement: the due time is the receipt time plus
// the deadline the terms set, and a message of a kind that obliges nothing
// creates no obligation.
func TestDeadlines(t *testing.T) {
	terms := newTestTerms(t)
	sample := agreement.SampleTerms()
	severities := []hotline.Severity{hotline.SeverityLow, hotline.SeverityMedium, hotline.SeverityHigh, hotline.SeverityCritical}
	want := map[string]map[agreement.ObligationType]time.Duration{
		"notification":          {agreement.Acknowledge: 24 * time.Hour},
		"assistance_request":    {agreement.Acknowledge: 24 * time.Hour, agreement.Respond: 72 * time.Hour},
		"mitigation_request":    {agreement.Acknowledge: 12 * time.Hour, agreement.Respond: 72 * time.Hour},
		"clarification_request": {agreement.Acknowledge: 12 * time.Hour, agreement.Respond: 72 * time.Hour},
		"consultation_request":  {agreement.Respond: 7 * 24 * time.Hour},
		"complaint":             {agreement.FormalResponse: 30 * 24 * time.Hour},
		"ping":                  {agreement.Acknowledge: 24 * time.Hour},
	}
	recv := t0.Add(37 * time.Minute)
	for _, k := range sample.Kinds {
		for _, sev := range severities {
			t.Run(k.Name+"/"+string(sev), func(t *testing.T) {
				in := &Input{
					Messages:   []Message{msg("m", "BER", "CRI", k.Name, sev, v1)},
					Deliveries: []Delivery{received("m", "CRI", recv)},
				}
				res := Evaluate(terms, Config{}, in, recv)
				got := map[agreement.ObligationType]time.Duration{}
				for _, o := range res.Obligations {
					if o.From != "BER" || o.To != "CRI" || o.State != Open || !o.Start.Equal(recv) {
						t.Errorf("%s: from %s to %s, state %s, start %v", o.Type, o.From, o.To, o.State, o.Start)
					}
					if o.Due.Sub(o.Start) != o.Deadline {
						t.Errorf("%s: due %v, start %v, deadline %v", o.Type, o.Due, o.Start, o.Deadline)
					}
					got[o.Type] = o.Deadline
				}
				w := want[k.Name]
				if k.Name == "notification" && sev == hotline.SeverityCritical {
					w = map[agreement.ObligationType]time.Duration{agreement.Acknowledge: 2 * time.Hour}
				}
				if w == nil {
					w = map[agreement.ObligationType]time.Duration{}
				}
				if diff := cmp.Diff(w, got); diff != "" {
					t.Errorf("deadlines (-want +got):\n%s", diff)
				}
			})
		}
	}
}

// TestStates runs one thread per case through Evaluate and checks the
// state of each obligation it creates.
func TestStates(t *testing.T) {
	terms := newTestTerms(t)
	recv := t0.Add(time.Minute)
	h := time.Hour
	type want struct {
		typ   agreement.ObligationType
		to    string
		state State
		due   time.Time // zero: not checked
	}
	ping := msg("ping", "BER", "CRI", "ping", hotline.SeverityLow, v1)
	ping.Challenge = "KESTREL-7"
	ackRight := msg("ack", "CRI", "BER", "ack", hotline.SeverityLow, v1, "ping")
	ackRight.Challenge = "KESTREL-7"
	ackWrong := ackRight
	ackWrong.Challenge = "OSPREY-2"
	ackNone := ackRight
	ackNone.Challenge = ""
	group := msg("n", "BER", "CRI", "notification", hotline.SeverityHigh, v1)
	group.To = []string{"CRI", "DEP", "LUX"}

	tests := []struct {
		name string
		in   Input
		now  time.Time
		want []want
	}{{
		name: "acknowledged on time",
		in: Input{
			Messages:   []Message{msg("n", "BER", "CRI", "notification", hotline.SeverityHigh, v1), msg("a", "CRI", "BER", "ack", hotline.SeverityHigh, v1, "n")},
			Deliveries: []Delivery{received("n", "CRI", recv), received("a", "BER", recv.Add(3*h))},
		},
		now:  recv.Add(48 * h),
		want: []want{{agreement.Acknowledge, "CRI", MetOnTime, recv.Add(24 * h)}},
	}, {
		name: "acknowledged late",
		in: Input{
			Messages:   []Message{msg("n", "BER", "CRI", "notification", hotline.SeverityCritical, v1), msg("a", "CRI", "BER", "ack", hotline.SeverityCritical, v1, "n")},
			Deliveries: []Delivery{received("n", "CRI", recv), received("a", "BER", recv.Add(2*h+time.Second))},
		},
		now:  recv.Add(48 * h),
		want: []want{{agreement.Acknowledge, "CRI", MetLate, recv.Add(2 * h)}},
	}, {
		name: "answered exactly at the due time",
		in: Input{
			Messages:   []Message{msg("n", "BER", "CRI", "notification", hotline.SeverityCritical, v1), msg("a", "CRI", "BER", "ack", hotline.SeverityCritical, v1, "n")},
			Deliveries: []Delivery{received("n", "CRI", recv), received("a", "BER", recv.Add(2*h))},
		},
		now:  recv.Add(48 * h),
		want: []want{{agreement.Acknowledge, "CRI", MetOnTime, recv.Add(2 * h)}},
	}, {
		name: "never answered, no witnesses agreed: missed",
		in: Input{
			Messages:   []Message{msg("n", "BER", "CRI", "notification", hotline.SeverityHigh, v1)},
			Deliveries: []Delivery{received("n", "CRI", recv)},
		},
		now:  recv.Add(24*h + time.Second),
		want: []want{{agreement.Acknowledge, "CRI", Missed, recv.Add(24 * h)}},
	}, {
		name: "not yet due: open",
		in: Input{
			Messages:   []Message{msg("n", "BER", "CRI", "notification", hotline.SeverityHigh, v1)},
			Deliveries: []Delivery{received("n", "CRI", recv)},
		},
		now:  recv.Add(24 * h),
		want: []want{{agreement.Acknowledge, "CRI", Open, recv.Add(24 * h)}},
	}, {
		name: "a response meets both obligations of a request; an ack only one",
		in: Input{
			Messages: []Message{
				msg("r", "BER", "CRI", "assistance_request", hotline.SeverityHigh, v1),
				msg("a", "CRI", "BER", "ack", hotline.SeverityHigh, v1, "r"),
				msg("x", "CRI", "BER", "response", hotline.SeverityHigh, v1, "r"),
			},
			Deliveries: []Delivery{received("r", "CRI", recv), received("a", "BER", recv.Add(h)), received("x", "BER", recv.Add(80*h))},
		},
		now: recv.Add(100 * h),
		want: []want{
			{agreement.Acknowledge, "CRI", MetOnTime, recv.Add(24 * h)},
			{agreement.Respond, "CRI", MetLate, recv.Add(72 * h)},
		},
	}, {
		name: "a reply of the wrong kind: a status_update does not acknowledge",
		in: Input{
			Messages:   []Message{msg("n", "BER", "CRI", "notification", hotline.SeverityHigh, v1), msg("s", "CRI", "BER", "status_update", hotline.SeverityHigh, v1, "n")},
			Deliveries: []Delivery{received("n", "CRI", recv), received("s", "BER", recv.Add(h))},
		},
		now:  recv.Add(25 * h),
		want: []want{{agreement.Acknowledge, "CRI", Missed, recv.Add(24 * h)}},
	}, {
		name: "an ack does not meet the obligation to respond",
		in: Input{
			Messages:   []Message{msg("c", "BER", "CRI", "consultation_request", hotline.SeverityLow, v1), msg("a", "CRI", "BER", "ack", hotline.SeverityLow, v1, "c")},
			Deliveries: []Delivery{received("c", "CRI", recv), received("a", "BER", recv.Add(h))},
		},
		now:  recv.Add(8 * 24 * h),
		want: []want{{agreement.Respond, "CRI", Missed, recv.Add(7 * 24 * h)}},
	}, {
		name: "a reply by the wrong party: LUX's ack does not meet CRI's obligation",
		in: Input{
			Messages: []Message{group, msg("a", "LUX", "BER", "ack", hotline.SeverityHigh, v1, "n")},
			Deliveries: []Delivery{received("n", "CRI", recv), received("n", "DEP", recv), received("n", "LUX", recv),
				received("a", "BER", recv.Add(h))},
		},
		now: recv.Add(25 * h),
		want: []want{
			{agreement.Acknowledge, "CRI", Missed, recv.Add(24 * h)},
			{agreement.Acknowledge, "DEP", Missed, recv.Add(24 * h)},
			{agreement.Acknowledge, "LUX", MetOnTime, recv.Add(24 * h)},
		},
	}, {
		name: "a reply not addressed to the obliging party",
		in: Input{
			Messages:   []Message{msg("n", "BER", "CRI", "notification", hotline.SeverityHigh, v1), msg("a", "CRI", "LUX", "ack", hotline.SeverityHigh, v1, "n")},
			Deliveries: []Delivery{received("n", "CRI", recv), received("a", "LUX", recv.Add(h))},
		},
		now:  recv.Add(25 * h),
		want: []want{{agreement.Acknowledge, "CRI", Missed, recv.Add(24 * h)}},
	}, {
		name: "a ping acknowledged with the challenge code",
		in: Input{
			Messages:   []Message{ping, ackRight},
			Deliveries: []Delivery{received("ping", "CRI", recv), received("ack", "BER", recv.Add(h))},
		},
		now:  recv.Add(25 * h),
		want: []want{{agreement.Acknowledge, "CRI", MetOnTime, recv.Add(24 * h)}},
	}, {
		name: "a ping acknowledged with the wrong challenge code",
		in: Input{
			Messages:   []Message{ping, ackWrong},
			Deliveries: []Delivery{received("ping", "CRI", recv), received("ack", "BER", recv.Add(h))},
		},
		now:  recv.Add(25 * h),
		want: []want{{agreement.Acknowledge, "CRI", Missed, recv.Add(24 * h)}},
	}, {
		name: "a ping acknowledged without a challenge code",
		in: Input{
			Messages:   []Message{ping, ackNone},
			Deliveries: []Delivery{received("ping", "CRI", recv), received("ack", "BER", recv.Add(h))},
		},
		now:  recv.Add(25 * h),
		want: []want{{agreement.Acknowledge, "CRI", Missed, recv.Add(24 * h)}},
	}, {
		name: "an amendment mid-thread: each message is governed by the version it names",
		in: Input{
			Messages: []Message{
				msg("n1", "BER", "CRI", "notification", hotline.SeverityHigh, v1),
				msg("n2", "BER", "CRI", "notification", hotline.SeverityHigh, v2, "n1"),
				msg("a1", "CRI", "BER", "ack", hotline.SeverityHigh, v2, "n1"),
				msg("a2", "CRI", "BER", "ack", hotline.SeverityHigh, v2, "n2"),
			},
			Deliveries: []Delivery{received("n1", "CRI", recv), received("n2", "CRI", recv),
				received("a1", "BER", recv.Add(5*h)), received("a2", "BER", recv.Add(5*h))},
		},
		now: recv.Add(48 * h),
		want: []want{
			{agreement.Acknowledge, "CRI", MetOnTime, recv.Add(24 * h)}, // v1: 1 day
			{agreement.Acknowledge, "CRI", MetLate, recv.Add(4 * h)},    // v2: 4 hours
		},
	}, {
		name: "a retraction before the due time withdraws",
		in: Input{
			Messages: []Message{
				msg("r", "BER", "CRI", "mitigation_request", hotline.SeverityHigh, v1),
				msg("a", "CRI", "BER", "ack", hotline.SeverityHigh, v1, "r"),
				msg("x", "BER", "CRI", "retraction", hotline.SeverityHigh, v1, "r"),
			},
			Deliveries: []Delivery{received("r", "CRI", recv), received("a", "BER", recv.Add(h)), received("x", "CRI", recv.Add(2*h))},
		},
		now: recv.Add(10 * 24 * h),
		want: []want{
			{agreement.Acknowledge, "CRI", MetOnTime, recv.Add(12 * h)}, // met before the retraction: stays met
			{agreement.Respond, "CRI", Withdrawn, recv.Add(72 * h)},
		},
	}, {
		name: "a retraction after the due time withdraws nothing",
		in: Input{
			Messages: []Message{
				msg("n", "BER", "CRI", "notification", hotline.SeverityHigh, v1),
				msg("x", "BER", "CRI", "retraction", hotline.SeverityHigh, v1, "n"),
			},
			Deliveries: []Delivery{received("n", "CRI", recv), received("x", "CRI", recv.Add(30*h))},
		},
		now:  recv.Add(31 * h),
		want: []want{{agreement.Acknowledge, "CRI", Missed, recv.Add(24 * h)}},
	}, {
		name: "a retraction by someone else withdraws nothing",
		in: Input{
			Messages: []Message{
				msg("n", "BER", "CRI", "notification", hotline.SeverityHigh, v1),
				msg("x", "CRI", "BER", "retraction", hotline.SeverityHigh, v1, "n"),
			},
			Deliveries: []Delivery{received("n", "CRI", recv), received("x", "BER", recv.Add(h))},
		},
		now:  recv.Add(25 * h),
		want: []want{{agreement.Acknowledge, "CRI", Missed, recv.Add(24 * h)}},
	}, {
		name: "refused as invalid_body: refused, the sender at fault",
		in: Input{
			Messages: []Message{msg("n", "BER", "CRI", "notification", hotline.SeverityHigh, v1)},
			Refusals: []Refusal{{Message: mid("n"), Recipient: "CRI", Code: "invalid_body", At: recv}},
		},
		now:  recv.Add(48 * h),
		want: []want{{agreement.Acknowledge, "CRI", Refused, time.Time{}}},
	}, {
		name: "refused as sequence_conflict: refused",
		in: Input{
			Messages: []Message{msg("n", "BER", "CRI", "notification", hotline.SeverityHigh, v1)},
			Refusals: []Refusal{{Message: mid("n"), Recipient: "CRI", Code: "sequence_conflict", At: recv}},
		},
		now:  recv.Add(48 * h),
		want: []want{{agreement.Acknowledge, "CRI", Refused, time.Time{}}},
	}, {
		name: "refused as decrypt_failed once: the clock is paused",
		in: Input{
			Messages: []Message{msg("n", "BER", "CRI", "notification", hotline.SeverityHigh, v1)},
			Refusals: []Refusal{{Message: mid("n"), Recipient: "CRI", Code: "decrypt_failed", At: recv}},
		},
		now:  recv.Add(48 * h),
		want: []want{{agreement.Acknowledge, "CRI", Open, time.Time{}}},
	}, {
		name: "refused as bad_stanza, resent and received: the clock runs from the receipt",
		in: Input{
			Messages: []Message{msg("n", "BER", "CRI", "notification", hotline.SeverityHigh, v1)},
			Deliveries: []Delivery{{Message: mid("n"), Recipient: "CRI", Receipt: recv.Add(10 * h),
				Tendered: []time.Time{recv.Add(10 * h)}}},
			Refusals: []Refusal{{Message: mid("n"), Recipient: "CRI", Code: "bad_stanza", At: recv}},
		},
		now:  recv.Add(30 * h),
		want: []want{{agreement.Acknowledge, "CRI", Open, recv.Add(34 * h)}},
	}, {
		name: "refused as bad_commitment twice, resent in between: disputed",
		in: Input{
			Messages:   []Message{msg("n", "BER", "CRI", "notification", hotline.SeverityHigh, v1)},
			Deliveries: []Delivery{{Message: mid("n"), Recipient: "CRI", Tendered: []time.Time{recv.Add(h)}}},
			Refusals: []Refusal{
				{Message: mid("n"), Recipient: "CRI", Code: "bad_commitment", At: recv},
				{Message: mid("n"), Recipient: "CRI", Code: "decrypt_failed", At: recv.Add(h)},
			},
		},
		now:  recv.Add(48 * h),
		want: []want{{agreement.Acknowledge, "CRI", Disputed, time.Time{}}},
	}, {
		name: "refused as decrypt_failed twice without a resend: still paused",
		in: Input{
			Messages: []Message{msg("n", "BER", "CRI", "notification", hotline.SeverityHigh, v1)},
			Refusals: []Refusal{
				{Message: mid("n"), Recipient: "CRI", Code: "decrypt_failed", At: recv},
				{Message: mid("n"), Recipient: "CRI", Code: "decrypt_failed", At: recv.Add(h)},
			},
		},
		now:  recv.Add(48 * h),
		want: []want{{agreement.Acknowledge, "CRI", Open, time.Time{}}},
	}, {
		name: "left with a relay, never receipted: the clock starts at the relay's receipt plus grace",
		in: Input{
			Messages:   []Message{msg("n", "BER", "CRI", "notification", hotline.SeverityHigh, v1)},
			Deliveries: []Delivery{{Message: mid("n"), Recipient: "CRI", Relayed: recv}},
		},
		now:  recv.Add(31 * h),
		want: []want{{agreement.Acknowledge, "CRI", Missed, recv.Add(6*h + 24*h)}},
	}, {
		name: "not delivered at all: open, not started",
		in: Input{
			Messages: []Message{msg("n", "BER", "CRI", "notification", hotline.SeverityHigh, v1)},
		},
		now:  recv.Add(480 * h),
		want: []want{{agreement.Acknowledge, "CRI", Open, time.Time{}}},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := Evaluate(terms, Config{}, &tc.in, tc.now)
			var got []want
			for _, o := range res.Obligations {
				w := want{o.Type, o.To, o.State, o.Due}
				got = append(got, w)
			}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(want{})); diff != "" {
				for _, o := range res.Obligations {
					t.Logf("%s %s: %s — %s", o.To, o.Type, o.State, o.Why)
				}
				t.Errorf("obligations (-want +got):\n%s", diff)
			}
		})
	}
}

// TestNeutralTime checks the witness rule on a version witnessed by W1, W2
// and W3 with a quorum of 2: the start is the earlier of the receipt and
// the neutral time of the recipient's entry, a missed verdict needs a
// neutral time after the due time, and the parties' own cosignatures never
// count.
func TestNeutralTime(t *testing.T) {
	terms := newTestTerms(t)
	h := time.Hour
	recv := t0.Add(5 * h) // CRI claims it received late
	n := msg("n", "BER", "CRI", "notification", hotline.SeverityHigh, vw)
	n.To = []string{"CRI"}
	d := Delivery{Message: mid("n"), Recipient: "CRI", Receipt: recv, ReceiptLeaf: Leaf{Log: "CRI", Index: 7}}
	cos := func(log, w string, size uint64, at time.Time) Cosignature {
		return Cosignature{Log: log, Witness: w, Size: size, Time: at}
	}
	tests := []struct {
		name      string
		cosigs    []Cosignature
		now       time.Time
		wantState State
		wantStart time.Time
	}{{
		name: "CRI's entry witnessed by two others at t0+1h: the clock starts then",
		cosigs: []Cosignature{
			cos("CRI", "W1", 8, t0.Add(30*time.Minute)), cos("CRI", "W2", 8, t0.Add(h)),
			cos("BER", "W1", 100, t0.Add(40*h)), cos("BER", "W2", 100, t0.Add(40*h)),
		},
		now:       t0.Add(41 * h),
		wantState: Missed,
		wantStart: t0.Add(h),
	}, {
		name: "a checkpoint too small to hold the entry does not count",
		cosigs: []Cosignature{
			cos("CRI", "W1", 7, t0.Add(30*time.Minute)), cos("CRI", "W2", 7, t0.Add(h)),
			cos("BER", "W1", 100, t0.Add(40*h)), cos("BER", "W2", 100, t0.Add(40*h)),
		},
		now:       t0.Add(41 * h),
		wantState: Missed,
		wantStart: recv,
	}, {
		name: "too few neutral witnesses after the due time: unprovable, not missed",
		cosigs: []Cosignature{
			cos("BER", "W1", 100, t0.Add(40*h)),
			cos("BER", "BER", 100, t0.Add(40*h)), // the log's owner never counts
		},
		now:       t0.Add(41 * h),
		wantState: Unprovable,
		wantStart: recv,
	}, {
		name: "witnessed only before the due time: unprovable",
		cosigs: []Cosignature{
			cos("BER", "W1", 100, t0.Add(2*h)), cos("BER", "W2", 100, t0.Add(3*h)),
		},
		now:       t0.Add(41 * h),
		wantState: Unprovable,
		wantStart: recv,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := &Input{Messages: []Message{n}, Deliveries: []Delivery{d}, Cosignatures: tc.cosigs}
			res := Evaluate(terms, Config{}, in, tc.now)
			if len(res.Obligations) != 1 {
				t.Fatalf("%d obligations, want 1", len(res.Obligations))
			}
			o := res.Obligations[0]
			if o.State != tc.wantState || !o.Start.Equal(tc.wantStart) {
				t.Errorf("state %s start %v (%s), want %s start %v", o.State, o.Start, o.Why, tc.wantState, tc.wantStart)
			}
		})
	}

	// The obliged party witnessing its own reply does not count: CRI's
	// ack reached BER at 30h (late); W1 and CRI cosigned BER's entry of
	// it at 2h, which would make it on time if CRI counted.
	in := &Input{
		Messages:   []Message{n, msg("a", "CRI", "BER", "ack", hotline.SeverityHigh, vw, "n")},
		Deliveries: []Delivery{d, {Message: mid("a"), Recipient: "BER", Receipt: t0.Add(30 * h), ReceiptLeaf: Leaf{Log: "BER", Index: 3}}},
		Cosignatures: []Cosignature{
			cos("BER", "W1", 4, t0.Add(2*h)), cos("BER", "CRI", 4, t0.Add(2*h)), cos("BER", "W3", 4, t0.Add(31*h)),
		},
	}
	o := Evaluate(terms, Config{}, in, t0.Add(40*h)).Obligations[0]
	if o.State != MetLate || !o.Tendered.Equal(t0.Add(30*h)) {
		t.Errorf("state %s tendered %v, want met_late at 30h", o.State, o.Tendered.Sub(t0))
	}
}

// TestEvents checks warnings, alerts and the escalation steps.
func TestEvents(t *testing.T) {
	terms := newTestTerms(t)
	h := time.Hour
	in := &Input{
		Messages:   []Message{msg("r", "BER", "CRI", "mitigation_request", hotline.SeverityHigh, v1)},
		Deliveries: []Delivery{received("r", "CRI", t0)},
	}
	kinds := func(now time.Time) []string {
		var out []string
		for _, e := range Evaluate(terms, Config{}, in, now).Events {
			out = append(out, fmt.Sprintf("%s %s %v", e.Type, e.Kind, e.At.Sub(t0)))
		}
		return out
	}
	tests := []struct {
		at   time.Duration
		want []string
	}{
		{h, nil},
		{10 * h, []string{"acknowledge warning 9h0m0s"}},
		{13 * h, []string{"acknowledge alert 12h0m0s", "acknowledge resend_via_relay 12h0m0s"}},
		{25 * h, []string{"acknowledge alert 12h0m0s", "acknowledge resend_via_relay 12h0m0s", "acknowledge notify_diplomatic_contact 18h0m0s", "acknowledge propose_consultation 24h0m0s"}},
		{60 * h, []string{"acknowledge alert 12h0m0s", "acknowledge resend_via_relay 12h0m0s", "acknowledge notify_diplomatic_contact 18h0m0s", "acknowledge propose_consultation 24h0m0s", "respond warning 54h0m0s"}},
	}
	for _, tc := range tests {
		if diff := cmp.Diff(tc.want, kinds(t0.Add(tc.at))); diff != "" {
			t.Errorf("at %v (-want +got):\n%s", tc.at, diff)
		}
	}
}

// TestReport checks the counts and the times to answer.
func TestReport(t *testing.T) {
	terms := newTestTerms(t)
	h := time.Hour
	var in Input
	for i := range 10 {
		id := fmt.Sprint("n", i)
		in.Messages = append(in.Messages, msg(id, "BER", "CRI", "notification", hotline.SeverityHigh, v1))
		in.Deliveries = append(in.Deliveries, received(id, "CRI", t0))
		if i < 9 {
			a := fmt.Sprint("a", i)
			in.Messages = append(in.Messages, msg(a, "CRI", "BER", "ack", hotline.SeverityHigh, v1, id))
			in.Deliveries = append(in.Deliveries, received(a, "BER", t0.Add(time.Duration(i+1)*4*h))) // 4h … 36h
		}
	}
	in.Messages = append(in.Messages, msg("p", "CRI", "BER", "ping", hotline.SeverityLow, v1))
	in.Deliveries = append(in.Deliveries, received("p", "BER", t0))
	res := Evaluate(terms, Config{}, &in, t0.Add(100*h))
	rep := Report(res.Obligations, Filter{}, t0.Add(100*h))
	want := []PartyReport{{
		Party: "BER",
		Total: Counts{Missed: 1},
		Kinds: []KindCounts{{Kind: "ping", Type: agreement.Acknowledge, Counts: Counts{Missed: 1}}},
	}, {
		Party: "CRI",
		Total: Counts{MetOnTime: 6, MetLate: 3, Missed: 1},
		Kinds: []KindCounts{{Kind: "notification", Type: agreement.Acknowledge, Counts: Counts{MetOnTime: 6, MetLate: 3, Missed: 1}}},
		// nine answers at 4h … 36h: the median is the fifth, the p90
		// (nearest rank) the ninth
		Acknowledge: Times{N: 9, Median: 20 * h, P90: 36 * h},
	}}
	if diff := cmp.Diff(want, rep.Parties); diff != "" {
		t.Errorf("report (-want +got):\n%s", diff)
	}
	rep = Report(res.Obligations, Filter{Party: "BER"}, t0.Add(100*h))
	if len(rep.Parties) != 1 || rep.Parties[0].Party != "BER" {
		t.Errorf("party filter: %+v", rep.Parties)
	}
	rep = Report(res.Obligations, Filter{Since: t0.Add(h)}, t0.Add(100*h))
	if len(rep.Parties) != 0 {
		t.Errorf("since filter: %+v", rep.Parties)
	}
}

func TestStateOf(t *testing.T) {
	n := msg("n", "BER", "CRI", "notification", hotline.SeverityHigh, v1)
	tests := []struct {
		name string
		msgs []Message
		want ThreadState
	}{
		{"alone", []Message{n}, ThreadOpen},
		{"acknowledged", []Message{n, msg("a", "CRI", "BER", "ack", "", v1, "n")}, ThreadAcknowledged},
		{"responded", []Message{n, msg("r", "CRI", "BER", "response", "", v1, "n"), msg("a", "CRI", "BER", "ack", "", v1, "n")}, ThreadResponded},
		{"closed", []Message{n, msg("r", "CRI", "BER", "response", "", v1, "n"), msg("c", "BER", "CRI", "closure", "", v1, "n")}, ThreadClosed},
		{"retracted", []Message{n, msg("x", "BER", "CRI", "retraction", "", v1, "n")}, ThreadRetracted},
		{"a retraction by another party retracts nothing", []Message{n, msg("x", "CRI", "BER", "retraction", "", v1, "n")}, ThreadOpen},
	}
	for _, tc := range tests {
		if got := StateOf(mid("n"), tc.msgs); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}

// TestEvaluateInParallel checks that judging in chunks gives the result of
// judging in order: the obligations in their places, the events in the
// same order. Its input mixes kinds, replies on time, late and across
// chunks, refusals and messages never answered.
func TestEvaluateInParallel(t *testing.T) {
	terms := newTestTerms(t)
	var in Input
	id := func(i int, k byte) hotline.ID {
		return hotline.ID(sha256.Sum256(fmt.Appendf(nil, "%d/%d", i, k)))
	}
	kinds := []string{"notification", "assistance_request", "mitigation_request", "ping", "advisory"}
	const n = 2000
	for i := range n {
		peer := fmt.Sprintf("P%d", i%7)
		at := t0.Add(time.Duration(i) * time.Minute)
		m := Message{ID: id(i, 0), From: peer, To: []string{"BER", "ROM"}, Kind: kinds[i%len(kinds)],
			Severity: hotline.SeverityHigh, Agreement: v1, Created: at}
		in.Messages = append(in.Messages, m)
		in.Deliveries = append(in.Deliveries, Delivery{Message: m.ID, Recipient: "BER", Receipt: at})
		if i%5 == 4 {
			in.Refusals = append(in.Refusals, Refusal{Message: m.ID, Recipient: "ROM", Code: "invalid_body", At: at})
		}
		if i%3 != 2 {
			// BER's ack, late for one in four; the ack of an early
			// message comes late in the input, in another chunk.
			j := i
			if i%11 == 0 {
				j = n - 1 - i/11
			}
			late := time.Duration(i%4) * 12 * time.Hour
			ack := Message{ID: id(j, 1), From: "BER", To: []string{peer}, Kind: "ack", Agreement: v1,
				Refs: []hotline.ID{m.ID}, Thread: m.ID, Created: at.Add(late)}
			in.Messages = append(in.Messages, ack)
			in.Deliveries = append(in.Deliveries, Delivery{Message: ack.ID, Recipient: peer, Receipt: at.Add(late)})
		}
	}
	now := t0.Add(n*time.Minute + 48*time.Hour)
	defer func(c int) { parallelChunk = c }(parallelChunk)
	parallelChunk = len(in.Messages) + 1
	want := Evaluate(terms, Config{}, &in, now)
	if len(want.Events) == 0 || len(want.Obligations) < n {
		t.Fatalf("judged in order: %d obligations, %d events; want a test that has both", len(want.Obligations), len(want.Events))
	}
	for _, chunk := range []int{1, 100, 999} {
		parallelChunk = chunk
		// DeepEqual first: cmp.Diff takes seconds over this many values.
		if got := Evaluate(terms, Config{}, &in, now); !reflect.DeepEqual(want, got) {
			t.Errorf("judged in chunks of %d (-in order +in chunks):\n%s", chunk, cmp.Diff(want, got))
		}
	}
}
