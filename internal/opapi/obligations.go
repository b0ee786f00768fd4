package opapi

import (
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/agreement"
	"github.com/hotline-net/hotline/internal/node"
	"github.com/hotline-net/hotline/internal/obligations"
	"github.com/hotline-net/hotline/internal/store"
)

// Obligation is one obligation as the API shows it (package obligations
// says what each field means). Times are RFC 3339, empty when not known.
type Obligation struct {
	Message  string `json:"message"`
	Thread   string `json:"thread"`
	Kind     string `json:"kind"`
	Severity string `json:"severity"`
	Type     string `json:"type"`
	Version  string `json:"version"`
	From     string `json:"from"`
	To       string `json:"to"`
	Deadline string `json:"deadline"`
	Start    string `json:"start,omitempty"`
	Due      string `json:"due,omitempty"`
	State    string `json:"state"`
	// Overdue: open or unproven past its due time. DueSoon: open and due
	// within the warning period.
	Overdue    bool      `json:"overdue,omitempty"`
	DueSoon    bool      `json:"due_soon,omitempty"`
	Reply      string    `json:"reply,omitempty"`
	Tendered   string    `json:"tendered,omitempty"`
	Paused     bool      `json:"paused,omitempty"`
	Refusal    string    `json:"refusal,omitempty"`
	Retraction string    `json:"retraction,omitempty"`
	Ignored    []Ignored `json:"ignored,omitempty"`
	Why        string    `json:"why"`
}

// Ignored is a reply that does not meet an obligation, with why.
type Ignored struct {
	Reply  string `json:"reply"`
	Reason string `json:"reason"`
}

// Event is a warning, alert or escalation step due for an obligation.
type Event struct {
	Kind    string `json:"kind"`
	At      string `json:"at"`
	Message string `json:"message"`
	Type    string `json:"type"`
	From    string `json:"from"`
	To      string `json:"to"`
}

// ObligationList is the answer of GET /api/v1/obligations.
type ObligationList struct {
	At          string       `json:"at"`
	Obligations []Obligation `json:"obligations"`
	Events      []Event      `json:"events"`
}

// ThreadResponse is the answer of GET /api/v1/threads/{id}: the thread's
// state, its messages oldest first, and their obligations.
type ThreadResponse struct {
	Thread      string       `json:"thread"`
	State       string       `json:"state"`
	At          string       `json:"at"`
	Messages    []Message    `json:"messages"`
	Obligations []Obligation `json:"obligations"`
	Events      []Event      `json:"events"`
}

func toObligation(o *obligations.Obligation, soon map[[2]string]bool, now time.Time) Obligation {
	out := Obligation{
		Message: o.Message.String(), Thread: o.Thread.String(), Kind: o.Kind, Severity: string(o.Severity),
		Type: string(o.Type), Version: o.Version.String(), From: o.From, To: o.To,
		Deadline: agreement.Duration(o.Deadline).String(), Start: fmtTime(o.Start), Due: fmtTime(o.Due),
		State: string(o.State), Tendered: fmtTime(o.Tendered), Paused: o.Paused, Refusal: o.Refusal, Why: o.Why,
	}
	if !o.Reply.IsZero() {
		out.Reply = o.Reply.String()
	}
	if !o.Retraction.IsZero() {
		out.Retraction = o.Retraction.String()
	}
	for _, ig := range o.Ignored {
		out.Ignored = append(out.Ignored, Ignored{Reply: ig.Reply.String(), Reason: ig.Reason})
	}
	if !o.Due.IsZero() && now.After(o.Due) && (o.State == obligations.Open || o.State == obligations.Missed || o.State == obligations.Unprovable) {
		out.Overdue = true
	}
	out.DueSoon = o.State == obligations.Open && !out.Overdue && soon[[2]string{o.Message.String() + "/" + o.To, string(o.Type)}]
	return out
}

// convert converts a result, keeping the obligations keep selects.
func convert(res *obligations.Result, now time.Time, keep func(*obligations.Obligation) bool) ([]Obligation, []Event) {
	soon := map[[2]string]bool{}
	for _, e := range res.Events {
		if e.Kind == obligations.Warning {
			soon[[2]string{e.Message.String() + "/" + e.To, string(e.Type)}] = true
		}
	}
	obs, evs := []Obligation{}, []Event{}
	kept := map[[2]string]bool{}
	for i := range res.Obligations {
		o := &res.Obligations[i]
		if keep(o) {
			obs = append(obs, toObligation(o, soon, now))
			kept[[2]string{o.Message.String() + "/" + o.To, string(o.Type)}] = true
		}
	}
	for _, e := range res.Events {
		if kept[[2]string{e.Message.String() + "/" + e.To, string(e.Type)}] {
			evs = append(evs, Event{Kind: string(e.Kind), At: fmtTime(e.At), Message: e.Message.String(), Type: string(e.Type), From: e.From, To: e.To})
		}
	}
	return obs, evs
}

// obligationsList serves GET /api/v1/obligations: ?direction=received
// (what this party owes), sent (what others owe it) or all; ?state= one
// state, or "due" for open and overdue ones; ?party= the other party.
func (a *api) obligationsList(r *http.Request) (any, error) {
	q := r.URL.Query()
	self := a.node.Party()
	dir := q.Get("direction")
	switch dir {
	case "", "all", "received", "sent":
	default:
		return nil, hotline.Errorf(ErrBadRequest, "direction: received, sent or all")
	}
	state := q.Get("state")
	if state != "" && state != "due" && !slices.Contains(obligations.States(), obligations.State(state)) {
		return nil, hotline.Errorf(ErrBadRequest, "state: due or one of %v", obligations.States())
	}
	party := q.Get("party")
	res, _, err := a.node.Obligations(r.Context(), node.ObligationScope{})
	if err != nil {
		return nil, err
	}
	now := a.node.Clock().Now()
	obs, evs := convert(&res, now, func(o *obligations.Obligation) bool {
		switch {
		case dir == "received" && o.To != self, dir == "sent" && o.From != self:
			return false
		case party != "" && o.To != party && o.From != party:
			return false
		case state == "due":
			return o.State == obligations.Open || o.State == obligations.Missed || o.State == obligations.Unprovable
		case state != "":
			return o.State == obligations.State(state)
		}
		return true
	})
	return ObligationList{At: fmtTime(now), Obligations: obs, Events: evs}, nil
}

// thread serves GET /api/v1/threads/{id}.
func (a *api) thread(r *http.Request) (any, error) {
	id, err := hotline.ParseID(r.PathValue("id"))
	if err != nil {
		return nil, hotline.Errorf(ErrBadRequest, "thread id: %v", err)
	}
	if id.IsZero() {
		// The zero id names no message (and would select every thread).
		return nil, hotline.Errorf(node.ErrNotFound, "no thread %s", id)
	}
	ctx := r.Context()
	res, in, err := a.node.Obligations(ctx, node.ObligationScope{Thread: id})
	if err != nil {
		return nil, err
	}
	if len(in.Messages) == 0 {
		return nil, hotline.Errorf(node.ErrNotFound, "no thread %s", id)
	}
	now := a.node.Clock().Now()
	out := ThreadResponse{Thread: id.String(), State: string(obligations.StateOf(id, in.Messages)), At: fmtTime(now), Messages: []Message{}}
	out.Obligations, out.Events = convert(&res, now, func(*obligations.Obligation) bool { return true })
	q := store.MessageQuery{MessageFilter: store.MessageFilter{Thread: id}, Oldest: true, Limit: 1000}
	for {
		page, err := a.node.Store().Messages(ctx, q)
		if err != nil {
			return nil, err
		}
		for i := range page.Envelopes {
			out.Messages = append(out.Messages, toMessage(&page.Envelopes[i]))
		}
		if page.Next == "" {
			break
		}
		q.Cursor = page.Next
	}
	return out, nil
}

// withObligations adds a message's obligations to what show returns.
func (a *api) withObligations(show func(*http.Request) (any, error)) func(*http.Request) (any, error) {
	return func(r *http.Request) (any, error) {
		v, err := show(r)
		if err != nil {
			return nil, err
		}
		m, ok := v.(Message)
		if !ok {
			return v, nil
		}
		id, _ := hotline.ParseID(m.ID)
		thread, err := hotline.ParseID(m.Thread)
		if err != nil {
			return m, nil
		}
		res, _, err := a.node.Obligations(r.Context(), node.ObligationScope{Thread: thread})
		if err != nil {
			return nil, err
		}
		m.Obligations, _ = convert(&res, a.node.Clock().Now(), func(o *obligations.Obligation) bool { return o.Message == id })
		if len(m.Obligations) == 0 {
			m.Obligations = nil
		}
		return m, nil
	}
}

// compliance serves GET /api/v1/compliance?party=&since=&until=: the
// compliance report over every obligation this node's store shows.
func (a *api) compliance(r *http.Request) (any, error) {
	q := r.URL.Query()
	var f obligations.Filter
	f.Party = q.Get("party")
	if f.Party != "" {
		if _, err := a.node.Agreement().Party(f.Party); err != nil {
			return nil, hotline.Errorf(ErrBadRequest, "party %q is not a party to the agreement", f.Party)
		}
	}
	for _, p := range []struct {
		name string
		t    *time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		if s := q.Get(p.name); s != "" {
			t, err := time.Parse(time.RFC3339, s)
			if err != nil {
				return nil, hotline.Errorf(ErrBadRequest, "%s: want an RFC 3339 time, like 2026-03-01T00:00:00Z", p.name)
			}
			*p.t = t
		}
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		return nil, hotline.Errorf(ErrBadRequest, "since must be before until")
	}
	rep, err := a.node.Compliance(r.Context(), f)
	if errors.Is(err, store.ErrInvalid) {
		return nil, hotline.Errorf(ErrBadRequest, "%v", err)
	}
	return rep, err
}
