package obligations

import (
	"cmp"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/agreement"
)

// ErrNothingOwed is the refusal of an ack or a response, at send, to a
// received message that obliges nothing such a reply could meet. Only an
// operator meets it: nothing on the wire carries it.
var ErrNothingOwed = hotline.NewError("nothing_owed", "the message obliges no such reply")

// Message is a message as the engine needs it: the header fields that say
// who obliges whom to what, and for pings and acknowledgements the
// challenge code.
type Message struct {
	ID       hotline.ID
	From     string
	To       []string
	Kind     string
	Severity hotline.Severity
	// Thread is the thread's id; zero for a thread's first message.
	Thread hotline.ID
	Refs   []hotline.ID
	// Agreement is the hash of the agreement version the message names.
	Agreement hotline.ID
	// Created is the header's creation time: the sender's claim, used only
	// to order messages and to date a retraction (whose sender is the
	// party it would favour only if it came after the due time).
	Created time.Time
	// Challenge is a ping's challenge code, or the code an acknowledgement
	// of a ping carries.
	Challenge string
}

// ThreadID returns the message's thread: Thread, or its own id.
func (m *Message) ThreadID() hotline.ID {
	if m.Thread.IsZero() {
		return m.ID
	}
	return m.Thread
}

// Leaf names a log entry: the party whose log holds it and its index. A
// zero Log means the entry is not known.
type Leaf struct {
	Log   string
	Index uint64
}

// Delivery is what is known of one message's delivery to one recipient.
// Zero times mean "not known".
type Delivery struct {
	Message   hotline.ID
	Recipient string
	// Receipt is the time the recipient's signed receipt states, and
	// ReceiptLeaf the entry of the message in the recipient's log that the
	// receipt names.
	Receipt     time.Time
	ReceiptLeaf Leaf
	// Relayed is the time a relay's receipt states: it took the message
	// for the recipient.
	Relayed time.Time
	// BackLeaf is the sender's log entry of the recipient's receipt (a
	// "receipt received" entry), if known.
	BackLeaf Leaf
	// Tendered lists the times the sender handed the message on again
	// after a refusal (a resend, directly or through a relay).
	Tendered []time.Time
}

// Refusal is a recipient's refusal of a message, with the refusal's stable
// code.
type Refusal struct {
	Message   hotline.ID
	Recipient string
	Code      string
	At        time.Time
}

// Cosignature is a witness's cosignature of a checkpoint of a party's log:
// the log held Size entries when the witness saw it at Time.
type Cosignature struct {
	Log     string
	Witness string
	Size    uint64
	Time    time.Time
}

// Input is everything the engine judges from. The slices need no order.
type Input struct {
	Messages     []Message
	Deliveries   []Delivery
	Refusals     []Refusal
	Cosignatures []Cosignature
}

// Quorum says whether a set of witnesses meets a version's witness quorum
// (agreement's *Policy). Satisfied must not count a witness for which
// cosigned returns false.
type Quorum interface {
	Satisfied(cosigned func(witness string) bool) bool
	None() bool
}

var _ Quorum = (*agreement.Policy)(nil)

// Terms is what the engine needs of the agreement: the kinds, quorum and
// grace of the version a message names. It is safe for concurrent use if
// its implementation is; [FromAgreement] adapts an agreement.
type Terms interface {
	// Kind returns the kind name as the version with that hash defines
	// it, and false if the version or the kind is unknown.
	Kind(version hotline.ID, name string) (*agreement.Kind, bool)
	// Quorum returns the version's witness quorum (nil if unknown).
	Quorum(version hotline.ID) Quorum
	// Grace returns the version's grace added to a relay's receipt time.
	Grace(version hotline.ID) time.Duration
}

// State is the state of an obligation.
type State string

// The states of an obligation.
const (
	// Open: not yet met; due in the future, or not yet started (the
	// recipient has not received the message), or paused by a refusal.
	Open State = "open"
	// MetOnTime: a reply that meets it was tendered by the due time.
	MetOnTime State = "met_on_time"
	// MetLate: the first reply that meets it was tendered after the due
	// time.
	MetLate State = "met_late"
	// Missed: due, no reply tendered, and a neutral time after the due
	// time shows it.
	Missed State = "missed"
	// Refused: the recipient refused the message with a code a third
	// party can check; the sender is at fault and nothing is owed.
	Refused State = "refused"
	// Withdrawn: the sender retracted the message before it was due.
	Withdrawn State = "withdrawn"
	// Unprovable: due and not met on the evidence, but no neutral time
	// after the due time can be established.
	Unprovable State = "unprovable"
	// Disputed: the recipient refused the message, and again after the
	// sender resent it, with a code only the recipient can vouch for.
	Disputed State = "disputed"
)

// States lists the states in the order reports show them.
func States() []State {
	return []State{MetOnTime, MetLate, Missed, Refused, Unprovable, Disputed, Withdrawn, Open}
}

// Final reports whether the state can no longer change.
func (s State) Final() bool {
	return s != Open && s != Unprovable
}

// Obligation is one recipient's obligation of one type created by one
// message, as judged at a time.
type Obligation struct {
	Message  hotline.ID
	Thread   hotline.ID
	Kind     string
	Severity hotline.Severity
	Type     agreement.ObligationType
	// Version is the agreement version the message names, whose deadline
	// governs.
	Version hotline.ID
	// From is the obliging party (the message's sender), To the obliged
	// one (a recipient).
	From, To string
	// Deadline is the period the version sets; Start and Due are zero
	// until the clock starts.
	Deadline time.Duration
	Start    time.Time
	Due      time.Time
	State    State
	// Reply is the reply that met the obligation and Tendered when it was
	// tendered; zero unless met.
	Reply    hotline.ID
	Tendered time.Time
	// Paused reports that a refusal only the recipient can vouch for
	// stopped the clock until the sender resends.
	Paused bool
	// Refusal is the code of the refusal that decided or paused it.
	Refusal string
	// Retraction is the sender's retraction that withdrew it.
	Retraction hotline.ID
	// Ignored lists replies that refer to the message but do not meet the
	// obligation, with why.
	Ignored []Ignored
	// Why says in one sentence how the state was reached.
	Why string
}

// Ignored is a reply that does not meet an obligation.
type Ignored struct {
	Reply  hotline.ID
	Reason string
}

// Elapsed returns how long the obliged party took to answer (Tendered −
// Start), for obligations met on time or late.
func (o *Obligation) Elapsed() (time.Duration, bool) {
	if (o.State != MetOnTime && o.State != MetLate) || o.Start.IsZero() {
		return 0, false
	}
	return max(o.Tendered.Sub(o.Start), 0), true
}

// EventKind is what an [Event] asks of the node.
type EventKind string

// The event kinds, in the order escalation takes them.
const (
	// Warning: an open obligation is due within the warning period.
	Warning EventKind = "warning"
	// Alert: an obligation is overdue.
	Alert EventKind = "alert"
	// ResendViaRelay: hand the message to a relay again, in case the
	// recipient's node lost the direct route.
	ResendViaRelay EventKind = "resend_via_relay"
	// NotifyContact: notify the obliged party's diplomatic contact.
	NotifyContact EventKind = "notify_diplomatic_contact"
	// ProposeConsultation: propose that the officer send a
	// consultation_request.
	ProposeConsultation EventKind = "propose_consultation"
)

// Event is something the node acts on or records for an obligation: when
// it became due (At) and the obligation it is about.
type Event struct {
	Kind EventKind
	At   time.Time
	// Message, Type, From and To identify the obligation.
	Message  hotline.ID
	Type     agreement.ObligationType
	From, To string
}

// Config holds the engine's settings; zero values are the defaults.
type Config struct {
	// WarnBefore is how long before the due time an open obligation
	// raises a warning. Zero means a quarter of its deadline.
	WarnBefore time.Duration
	// SkipEvents leaves Result.Events empty: a report needs only the
	// states, and a year of missed obligations carries four events each.
	SkipEvents bool
}

// refusal classes.
const (
	refusalOther = iota
	refusalCheckable
	refusalRecipientOnly
)

// classify says who a refusal code puts at fault. Codes a third party can
// check from the envelope and the agreement alone put the sender at fault;
// codes that depend on the recipient's private key or its decryption can
// only be vouched for by the recipient; others (rate limits, unknown
// agreement versions the sender may fix) decide nothing.
func classify(code string) int {
	switch code {
	case "invalid_body", "sequence_conflict", "unknown_kind", "bad_signature",
		"not_a_recipient", "future_created", "key_not_valid", "unknown_sender", "not_ratified":
		return refusalCheckable
	case "decrypt_failed", "bad_stanza", "bad_commitment", "bad_payload", "no_matching_key":
		return refusalRecipientOnly
	}
	return refusalOther
}

// RecipientOnly reports whether a refusal code is one only the recipient
// can vouch for (the clock pauses until the sender resends).
func RecipientOnly(code string) bool { return classify(code) == refusalRecipientOnly }

// Checkable reports whether a refusal code is one a third party can check
// (the obligation is refused, the sender at fault).
func Checkable(code string) bool { return classify(code) == refusalCheckable }

// Result is what [Evaluate] returns.
type Result struct {
	// Obligations are ordered by message (as Input listed them), then
	// recipient, then type.
	Obligations []Obligation
	// Events are the warnings, alerts and escalation steps due at or
	// before now, in time order.
	Events []Event
}

type pairKey struct {
	id    hotline.ID
	party string
}

// neutral answers W(x, P) from the cosignatures.
type neutral struct {
	// bylog holds each log's cosignatures, earliest first.
	bylog map[string][]Cosignature
}

func newNeutral(cs []Cosignature) *neutral {
	n := &neutral{bylog: make(map[string][]Cosignature)}
	for _, c := range cs {
		n.bylog[c.Log] = append(n.bylog[c.Log], c)
	}
	for _, l := range n.bylog {
		slices.SortFunc(l, func(a, b Cosignature) int { return a.Time.Compare(b.Time) })
	}
	return n
}

// at returns W(x, favoured): the earliest time at which the witnesses other
// than x's log owner and favoured that cosigned a checkpoint containing x
// meet q. It returns false when they never do, or when q needs no
// witnesses (no neutral time exists).
func (n *neutral) at(x Leaf, favoured string, q Quorum) (time.Time, bool) {
	if x.Log == "" || q == nil || q.None() {
		return time.Time{}, false
	}
	seen := map[string]bool{}
	for _, c := range n.bylog[x.Log] {
		if c.Size <= x.Index || c.Witness == x.Log || c.Witness == favoured || seen[c.Witness] {
			continue
		}
		seen[c.Witness] = true
		if q.Satisfied(func(w string) bool { return seen[w] }) {
			return c.Time, true
		}
	}
	return time.Time{}, false
}

// after reports whether a checkpoint of log was cosigned after t by a
// quorum of witnesses other than the log's owner and favoured: a neutral
// time after t.
func (n *neutral) after(log string, t time.Time, favoured string, q Quorum) bool {
	seen := map[string]bool{}
	for _, c := range n.bylog[log] {
		if !c.Time.After(t) || c.Witness == log || c.Witness == favoured {
			continue
		}
		seen[c.Witness] = true
		if q.Satisfied(func(w string) bool { return seen[w] }) {
			return true
		}
	}
	return false
}

func earliest(ts ...time.Time) time.Time {
	var e time.Time
	for _, t := range ts {
		if !t.IsZero() && (e.IsZero() || t.Before(e)) {
			e = t
		}
	}
	return e
}

// Evaluate judges every obligation the messages of in create, as of now.
// A large input is judged in parallel, in chunks of messages, each
// obligation in its place: the result is the same as judged in order.
func Evaluate(terms Terms, cfg Config, in *Input, now time.Time) Result {
	// The indexes: deliveries and refusals by message and recipient on
	// one goroutine, replies and retractions by the message they refer
	// to, and the messages' kinds, on another.
	var (
		deliveries map[pairKey]*Delivery
		refusals   map[pairKey][]Refusal
		wg         sync.WaitGroup
	)
	wg.Go(func() {
		deliveries = make(map[pairKey]*Delivery, len(in.Deliveries))
		for i := range in.Deliveries {
			d := &in.Deliveries[i]
			deliveries[pairKey{d.Message, d.Recipient}] = d
		}
		refusals = make(map[pairKey][]Refusal)
		for _, r := range in.Refusals {
			k := pairKey{r.Message, r.Recipient}
			refusals[k] = append(refusals[k], r)
		}
	})
	refs := 0
	for i := range in.Messages {
		refs += len(in.Messages[i].Refs)
	}
	replies := make(map[hotline.ID][]*Message, refs)
	for i := range in.Messages {
		m := &in.Messages[i]
		for _, ref := range m.Refs {
			if ref != m.ID {
				replies[ref] = append(replies[ref], m)
			}
		}
	}
	// Count first: the obligations are large values, and growing the
	// slice by appending would copy them over and over. at[i] is where
	// message i's obligations go.
	kinds := make([]*agreement.Kind, len(in.Messages))
	at := make([]int, len(in.Messages)+1)
	for i := range in.Messages {
		m := &in.Messages[i]
		at[i+1] = at[i]
		if kind, ok := terms.Kind(m.Agreement, m.Kind); ok && len(kind.Obligations) > 0 {
			kinds[i] = kind
			for _, to := range m.To {
				if to != m.From {
					at[i+1] += len(kind.Obligations)
				}
			}
		}
	}
	w := newNeutral(in.Cosignatures)
	wg.Wait()

	res := Result{Obligations: make([]Obligation, at[len(in.Messages)])}
	// judgeRange judges the obligations of messages [from, until) and
	// returns their events.
	judgeRange := func(from, until int) []Event {
		var out []Event
		for i := from; i < until; i++ {
			m := &in.Messages[i]
			kind := kinds[i]
			if kind == nil {
				continue
			}
			q := terms.Quorum(m.Agreement)
			k := at[i]
			for _, to := range m.To {
				if to == m.From {
					continue
				}
				d, refs := deliveries[pairKey{m.ID, to}], refusals[pairKey{m.ID, to}]
				for j := range kind.Obligations {
					o := &res.Obligations[k]
					k++
					judge(o, terms, w, q, m, to, &kind.Obligations[j], d, refs, replies[m.ID], deliveries, now)
					if !cfg.SkipEvents {
						out = append(out, events(cfg, o, now)...)
					}
				}
			}
		}
		return out
	}
	// Chunks of at least parallelChunk messages, one goroutine each,
	// their events joined in the chunks' order.
	chunks := min(runtime.GOMAXPROCS(0), max(len(in.Messages)/parallelChunk, 1))
	evs := make([][]Event, chunks)
	for c := range chunks {
		from, until := c*len(in.Messages)/chunks, (c+1)*len(in.Messages)/chunks
		if c == chunks-1 {
			evs[c] = judgeRange(from, until)
			continue
		}
		wg.Go(func() { evs[c] = judgeRange(from, until) })
	}
	wg.Wait()
	for _, e := range evs {
		res.Events = append(res.Events, e...)
	}
	slices.SortStableFunc(res.Events, func(a, b Event) int { return a.At.Compare(b.At) })
	return res
}

// parallelChunk is the fewest messages [Evaluate] gives a goroutine of
// its own.
var parallelChunk = 20000

// judge decides one obligation, in place: obligations are large values.
func judge(o *Obligation, terms Terms, w *neutral, q Quorum, m *Message, to string, ob *agreement.Obligation,
	d *Delivery, refs []Refusal, replies []*Message, deliveries map[pairKey]*Delivery, now time.Time) {
	*o = Obligation{
		Message: m.ID, Thread: m.ThreadID(), Kind: m.Kind, Severity: m.Severity, Type: ob.Type,
		Version: m.Agreement, From: m.From, To: to,
		Deadline: ob.Deadlines.For(m.Severity), State: Open,
	}

	// Replies: the earliest tender of one that meets it.
	var retraction *Message
	for _, r := range replies {
		if r.Kind == "retraction" {
			if r.From == m.From && (retraction == nil || r.Created.Before(retraction.Created)) {
				retraction = r
			}
			continue
		}
		if why := unfit(m, to, ob, r); why != "" {
			if r.From == to || slices.Contains(r.To, m.From) {
				o.Ignored = append(o.Ignored, Ignored{Reply: r.ID, Reason: why})
			}
			continue
		}
		var rd *Delivery
		if x := deliveries[pairKey{r.ID, m.From}]; x != nil {
			rd = x
		}
		tau := tender(w, q, rd, to)
		if tau.IsZero() {
			o.Ignored = append(o.Ignored, Ignored{Reply: r.ID, Reason: "no receipt of it by " + m.From + " is known: it was not yet tendered"})
			continue
		}
		if o.Tendered.IsZero() || tau.Before(o.Tendered) {
			o.Reply, o.Tendered = r.ID, tau
		}
	}

	// The start: the recipient's receipt or the neutral time of its
	// entry; failing both, the relay's receipt plus grace.
	var received time.Time
	if d != nil {
		nt, _ := w.at(d.ReceiptLeaf, m.From, q)
		received = earliest(d.Receipt, nt)
	}
	// Refusals decide while the recipient holds no readable copy.
	if received.IsZero() && len(refs) > 0 {
		st, code, paused := refused(refs, d)
		switch {
		case st == Refused:
			o.State, o.Refusal = st, code
			o.Why = to + " refused the message (" + code + "), a refusal anyone can check: the sender is at fault"
			return
		case st == Disputed:
			o.State, o.Refusal = st, code
			o.Why = to + " refused the message as unreadable (" + code + ") again after it was resent: only " + to + " can vouch for that"
			return
		case paused:
			o.Paused, o.Refusal = true, code
			o.Why = to + " refused the message as unreadable (" + code + "): the clock is paused until the sender resends it"
			return
		}
	}
	o.Start = received
	if o.Start.IsZero() && d != nil && !d.Relayed.IsZero() {
		o.Start = d.Relayed.Add(terms.Grace(m.Agreement))
	}
	if o.Start.IsZero() {
		if o.Reply != (hotline.ID{}) {
			// Answered before any receipt is known here: met, timed from
			// the tender.
			o.Start, o.Due = o.Tendered, o.Tendered.Add(o.Deadline)
			o.State = MetOnTime
			o.Why = to + " answered before its receipt reached this node"
			return
		}
		o.Why = to + " has not received the message yet: the clock has not started"
		if retraction != nil {
			o.State, o.Retraction = Withdrawn, retraction.ID
			o.Why = m.From + " retracted the message before it was received"
		}
		return
	}
	o.Due = o.Start.Add(o.Deadline)

	if !o.Tendered.IsZero() && (retraction == nil || !o.Tendered.After(retractionTime(retraction, deliveries, to))) {
		if !o.Tendered.After(o.Due) {
			o.State, o.Why = MetOnTime, "answered "+o.Tendered.Sub(o.Start).Round(time.Second).String()+" after the clock started, within "+agreement.Duration(o.Deadline).String()
		} else {
			o.State, o.Why = MetLate, "answered "+o.Tendered.Sub(o.Due).Round(time.Second).String()+" after the due time"
		}
		return
	}
	if retraction != nil {
		rt := retractionTime(retraction, deliveries, to)
		if !rt.After(o.Due) {
			o.State, o.Retraction = Withdrawn, retraction.ID
			o.Why = m.From + " retracted the message before it was due"
			return
		}
	}
	if !now.After(o.Due) {
		o.Why = "due " + o.Due.UTC().Format(time.RFC3339)
		return
	}
	if q != nil && !q.None() && !w.after(m.From, o.Due, m.From, q) {
		o.State = Unprovable
		o.Why = "overdue on " + m.From + "'s records, but no checkpoint of " + m.From + "'s log cosigned after the due time by enough witnesses other than " + m.From + " shows it"
		return
	}
	o.State = Missed
	o.Why = "no answer tendered by the due time"
}

// retractionTime is when a retraction counts as given: the earliest
// evidence that the obliged party could see it, else its creation time.
func retractionTime(r *Message, deliveries map[pairKey]*Delivery, to string) time.Time {
	if d := deliveries[pairKey{r.ID, to}]; d != nil {
		if t := earliest(d.Receipt, d.Relayed); !t.IsZero() {
			return t
		}
	}
	return r.Created
}

// unfit says why reply r does not meet obligation ob of recipient to for
// message m, or "" if it does.
func unfit(m *Message, to string, ob *agreement.Obligation, r *Message) string {
	switch {
	case r.From != to:
		return "sent by " + r.From + ", not by the obliged party " + to
	case !slices.Contains(r.To, m.From):
		return "not addressed to " + m.From
	case !ob.Meets(r.Kind):
		return "a " + r.Kind + " does not meet the obligation to " + string(ob.Type)
	case m.Challenge != "" && ob.Type == agreement.Acknowledge && r.Kind == "ack" && r.Challenge != m.Challenge:
		if r.Challenge == "" {
			return "the acknowledgement carries no challenge code"
		}
		return "the acknowledgement carries the wrong challenge code"
	}
	return ""
}

// tender returns τ for a reply delivered as rd from its sender (the obliged
// party): the earliest of the receipt, the relay's receipt and the neutral
// times of both log entries, not counting the obliged party's witnessing.
func tender(w *neutral, q Quorum, rd *Delivery, obliged string) time.Time {
	if rd == nil {
		return time.Time{}
	}
	w1, _ := w.at(rd.ReceiptLeaf, obliged, q)
	w2, _ := w.at(rd.BackLeaf, obliged, q)
	return earliest(rd.Receipt, rd.Relayed, w1, w2)
}

// refused applies the refusal rules: a checkable code → Refused; a
// recipient-only code → paused, or Disputed if refused again after a
// resend.
func refused(refs []Refusal, d *Delivery) (State, string, bool) {
	refs = slices.Clone(refs)
	slices.SortFunc(refs, func(a, b Refusal) int { return cmp.Compare(a.At.UnixNano(), b.At.UnixNano()) })
	var resends []time.Time
	if d != nil {
		resends = d.Tendered
	}
	var first, last *Refusal
	for i := range refs {
		r := &refs[i]
		switch classify(r.Code) {
		case refusalCheckable:
			return Refused, r.Code, false
		case refusalRecipientOnly:
			last = r
			if first == nil {
				first = r
				continue
			}
			// A second refusal counts when the sender resent in between.
			for _, t := range resends {
				if t.After(first.At) && !t.After(r.At) {
					return Disputed, r.Code, false
				}
			}
		}
	}
	if last == nil {
		return "", "", false
	}
	for _, t := range resends {
		if t.After(last.At) {
			return "", last.Code, false // resent since: waiting for its receipt
		}
	}
	return "", last.Code, true
}

// events returns the warnings, alerts and escalation steps of o due at or
// before now. The steps are spread over the deadline once more: the resend
// at the due time, the diplomatic contact at half a deadline past it, the
// consultation proposal at a whole deadline past it.
func events(cfg Config, o *Obligation, now time.Time) []Event {
	if o.Due.IsZero() || (o.State != Open && o.State != Missed && o.State != Unprovable) {
		return nil
	}
	ev := func(k EventKind, at time.Time) Event {
		return Event{Kind: k, At: at, Message: o.Message, Type: o.Type, From: o.From, To: o.To}
	}
	warn := cfg.WarnBefore
	if warn == 0 {
		warn = o.Deadline / 4
	}
	var out []Event
	if w := o.Due.Add(-warn); !now.Before(w) && !now.After(o.Due) {
		out = append(out, ev(Warning, w))
	}
	if !now.After(o.Due) {
		return out
	}
	out = append(out, ev(Alert, o.Due), ev(ResendViaRelay, o.Due))
	if t := o.Due.Add(o.Deadline / 2); !now.Before(t) {
		out = append(out, ev(NotifyContact, t))
	}
	if t := o.Due.Add(o.Deadline); !now.Before(t) && o.Kind != "consultation_request" {
		out = append(out, ev(ProposeConsultation, t))
	}
	return out
}
