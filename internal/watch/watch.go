// Package watch acts on the obligations engine's events: the node's watch
// officer. A [Watcher] judges the obligations the node's store shows every
// Interval (on the node's clock) and acts on each warning, alert and
// escalation step once:
//
//   - warning (an open obligation due soon) and alert (one overdue): a log
//     line (warn, error) and hotline_obligation_events_total{event};
//   - resend_via_relay, for a message this node sent whose recipient has
//     not receipted it: the message is left with a relay of the agreement
//     again ([Config.Resend]); a message the recipient holds is not sent
//     again;
//   - notify_diplomatic_contact: the obliged party's diplomatic contacts,
//     from the agreement's directory, logged and listed — the node sends no
//     e-mail; the officer calls;
//   - propose_consultation: a proposal, listed with the command that sends
//     the consultation_request; never sent by the node.
//
// Escalation steps are the obliging party's: for an obligation this node
// owes, it raises the warning and the alert only.
//
// # Once, across restarts
//
// Each event acted on is recorded in the store under its own key
// ("watch/acted/<message>/<recipient>/<type>/<event>") before it is acted
// on, so that a restart never repeats it (a crash between the record and
// the act loses that one act, which the listing still shows). The recent
// actions, newest first, are kept under [RecentKey] for the operator API.
// Events that fell due before the watch first ran on this store
// ([SinceKey]) are history, shown by the compliance report, not acted on.
//
// # Cost
//
// The first pass after start judges every stored message; later passes
// judge only the threads still live — those with an obligation open, or
// missed and not yet through its escalation — and the threads of messages
// stored since the previous pass. A thread whose obligations are all
// decided and escalated leaves the watch. Judging a thread reads the store
// for it alone (about a millisecond), so with more than
// [Config.MaxScoped] live threads a pass judges every stored message at
// once instead, as the first does.
package watch

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/agreement"
	"github.com/hotline-net/hotline/internal/clock"
	"github.com/hotline-net/hotline/internal/obligations"
	"github.com/hotline-net/hotline/internal/outbox"
	"github.com/hotline-net/hotline/internal/store"
)

// The store values the watcher keeps.
const (
	// SinceKey holds the time (RFC 3339) the watch first ran on the store.
	SinceKey = "watch/since"
	// RecentKey holds the recent actions, newest first (a JSON array of
	// [Action], at most [MaxRecent]).
	RecentKey = "watch/recent"
	// ActedPrefix prefixes the key of each event acted on.
	ActedPrefix = "watch/acted/"
)

// MaxRecent bounds the actions kept under RecentKey.
const MaxRecent = 1000

// Source is what the watcher judges from: the node ([NodeSource]).
type Source interface {
	// Party is this node's party.
	Party() string
	// Judge judges the obligations of one thread, or of every stored
	// message for a zero thread, as of now.
	Judge(ctx context.Context, thread hotline.ID, now time.Time) (obligations.Result, error)
	// Threads returns the threads of the messages stored at or after
	// since.
	Threads(ctx context.Context, since time.Time) ([]hotline.ID, error)
	// Contacts returns a party's points of contact from the agreement's
	// directory.
	Contacts(party string) ([]agreement.Contact, error)
}

// Values is the part of the store the watcher records in.
type Values interface {
	Value(ctx context.Context, key string) ([]byte, error)
	SetValue(ctx context.Context, key string, value []byte) error
}

// Config configures a [Watcher]. Source and Values are required.
type Config struct {
	Source Source
	Values Values
	// Interval is how often Run judges. Zero means a minute.
	Interval time.Duration
	// Resend leaves a sent message for recipient with a relay again and
	// returns what it did in one sentence (its route). Nil: the agreement
	// names no relay this node can use, and the step says so.
	Resend func(ctx context.Context, id hotline.ID, recipient string) (string, error)
	// MaxScoped is the most live threads a pass judges one by one; with
	// more, it judges every stored message at once, which then costs
	// less (each thread's judging reads the store on its own, about a
	// millisecond). Zero means 64.
	MaxScoped int
	// Dir is the node folder, shown in the proposed commands ("DIR" if
	// empty).
	Dir string
	// Clock defaults to the system clock.
	Clock clock.Clock
	// Logger defaults to discarding.
	Logger *slog.Logger
	// Registerer, if set, registers the watcher's metrics.
	Registerer prometheus.Registerer
}

// Action is an event acted on, as the operator API lists it.
type Action struct {
	Event obligations.EventKind `json:"event"`
	// At is when the event fell due; Acted when the watcher acted.
	At    time.Time `json:"at"`
	Acted time.Time `json:"acted"`
	// The obligation: Message (of Kind, Severity, in Thread) obliges To
	// to answer From with a reply of Type, due Due; State as judged.
	Message  hotline.ID               `json:"message"`
	Thread   hotline.ID               `json:"thread"`
	Kind     string                   `json:"kind"`
	Severity hotline.Severity         `json:"severity"`
	Type     agreement.ObligationType `json:"obligation"`
	From     string                   `json:"from"`
	To       string                   `json:"to"`
	Due      time.Time                `json:"due"`
	State    obligations.State        `json:"state"`
	// Owed is "to_us" when another party owes this node, "by_us" when
	// this node owes.
	Owed string `json:"owed"`
	// Summary says in one sentence what the watcher did.
	Summary string `json:"summary"`
	// Contacts are the obliged party's diplomatic contacts
	// (notify_diplomatic_contact).
	Contacts []agreement.Contact `json:"contacts,omitempty"`
	// Command sends the proposed consultation_request
	// (propose_consultation).
	Command string `json:"command,omitempty"`
	// Error says why a step could not be taken (a resend that failed).
	Error string `json:"error,omitempty"`
}

// Watcher acts on obligation events. It is safe for concurrent use; run
// it once.
type Watcher struct {
	cfg    Config
	clock  clock.Clock
	logger *slog.Logger
	events *prometheus.CounterVec
	live   prometheus.Gauge

	mu       sync.Mutex // one pass at a time
	primed   bool
	since    time.Time
	lastScan time.Time
	watched  map[hotline.ID]bool
	acted    map[string]bool
}

// New returns a watcher for cfg.
func New(cfg Config) (*Watcher, error) {
	if cfg.Source == nil || cfg.Values == nil {
		return nil, errors.New("watch: Source and Values are required")
	}
	if cfg.Interval <= 0 {
		cfg.Interval = time.Minute
	}
	if cfg.Dir == "" {
		cfg.Dir = "DIR"
	}
	if cfg.MaxScoped <= 0 {
		cfg.MaxScoped = 64
	}
	w := &Watcher{
		cfg: cfg, clock: clock.Or(cfg.Clock), logger: cfg.Logger,
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hotline_obligation_events_total",
			Help: "Obligation events acted on, by event (warning, alert, resend_via_relay, notify_diplomatic_contact, propose_consultation).",
		}, []string{"event"}),
		live: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "hotline_obligation_threads_watched",
			Help: "Threads with an obligation open, or missed and not yet through its escalation.",
		}),
		watched: map[hotline.ID]bool{},
		acted:   map[string]bool{},
	}
	if w.logger == nil {
		w.logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Registerer != nil {
		if err := cfg.Registerer.Register(w.events); err != nil {
			return nil, err
		}
		if err := cfg.Registerer.Register(w.live); err != nil {
			return nil, err
		}
	}
	return w, nil
}

// Run judges every Interval until ctx ends.
func (w *Watcher) Run(ctx context.Context) {
	t := time.NewTicker(w.cfg.Interval)
	defer t.Stop()
	for {
		if _, err := w.Check(ctx); err != nil && ctx.Err() == nil {
			w.logger.Error("watching obligations", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Check judges once, as of the clock's time, and acts on every event not
// acted on before. It returns the actions taken.
func (w *Watcher) Check(ctx context.Context) ([]Action, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := w.clock.Now()
	if w.since.IsZero() {
		since, err := w.loadSince(ctx, now)
		if err != nil {
			return nil, err
		}
		w.since = since
	}
	var results []obligations.Result
	if !w.primed || len(w.watched) > w.cfg.MaxScoped {
		res, err := w.cfg.Source.Judge(ctx, hotline.ID{}, now)
		if err != nil {
			return nil, fmt.Errorf("judging every obligation: %w", err)
		}
		results = append(results, res)
	} else {
		// Messages stored since the last scan (a second's overlap: the
		// store's times and the clock's need not agree to the nanosecond).
		threads, err := w.cfg.Source.Threads(ctx, w.lastScan.Add(-time.Second))
		if err != nil {
			return nil, fmt.Errorf("listing new messages: %w", err)
		}
		for _, t := range threads {
			w.watched[t] = true
		}
		for t := range w.watched {
			res, err := w.cfg.Source.Judge(ctx, t, now)
			if err != nil {
				return nil, fmt.Errorf("judging thread %s: %w", t, err)
			}
			results = append(results, res)
		}
	}
	w.primed, w.lastScan = true, now

	// Which threads stay live; the obligations by key, for the actions.
	live := map[hotline.ID]bool{}
	byKey := map[string]*obligations.Obligation{}
	var evs []obligations.Event
	for _, res := range results {
		for i := range res.Obligations {
			o := &res.Obligations[i]
			byKey[obligationKey(o.Message, o.To, o.Type)] = o
			if stillLive(o, now) {
				live[o.Thread] = true
			}
		}
		evs = append(evs, res.Events...)
	}
	// In time order, and in one order whatever the order of the threads.
	slices.SortStableFunc(evs, func(a, b obligations.Event) int {
		return cmp.Or(a.At.Compare(b.At), bytes.Compare(a.Message[:], b.Message[:]), cmp.Compare(a.To, b.To),
			cmp.Compare(a.Type, b.Type), cmp.Compare(stepOrder[a.Kind], stepOrder[b.Kind]))
	})
	var done []Action
	var errs []error
	for _, ev := range evs {
		if ev.At.Before(w.since) {
			continue // history: before the watch began
		}
		if ev.To != w.cfg.Source.Party() && ev.From != w.cfg.Source.Party() {
			continue
		}
		owedByUs := ev.To == w.cfg.Source.Party()
		if owedByUs && ev.Kind != obligations.Warning && ev.Kind != obligations.Alert {
			continue // the obliging party's steps
		}
		key := ActedPrefix + obligationKey(ev.Message, ev.To, ev.Type) + "/" + string(ev.Kind)
		if len(key) > store.MaxShortText {
			continue
		}
		seen, err := w.wasActed(ctx, key)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if seen {
			continue
		}
		o := byKey[obligationKey(ev.Message, ev.To, ev.Type)]
		if o == nil {
			continue
		}
		a := w.action(ev, o, now)
		// Recorded first: once, even if the act fails or the node stops.
		if err := w.record(ctx, key, &a); err != nil {
			errs = append(errs, err)
			continue
		}
		w.act(ctx, &a)
		if err := w.record(ctx, key, &a); err != nil {
			errs = append(errs, err)
		}
		done = append(done, a)
	}
	if len(done) > 0 {
		if err := w.remember(ctx, done); err != nil {
			errs = append(errs, err)
		}
	}
	w.watched = live
	w.live.Set(float64(len(live)))
	return done, errors.Join(errs...)
}

// stepOrder orders the events of one obligation due at one time.
var stepOrder = map[obligations.EventKind]int{
	obligations.Warning: 0, obligations.Alert: 1, obligations.ResendViaRelay: 2,
	obligations.NotifyContact: 3, obligations.ProposeConsultation: 4,
}

// stillLive reports whether an obligation may raise events later: open,
// or missed (or unprovable) and not yet through its escalation, whose last
// step falls a whole deadline after the due time.
func stillLive(o *obligations.Obligation, now time.Time) bool {
	switch o.State {
	case obligations.Open:
		return true
	case obligations.Missed, obligations.Unprovable:
		return !now.After(o.Due.Add(o.Deadline))
	}
	return false
}

func obligationKey(m hotline.ID, to string, t agreement.ObligationType) string {
	return m.String() + "/" + to + "/" + string(t)
}

// loadSince returns when the watch first ran on the store, recording now
// if it never did.
func (w *Watcher) loadSince(ctx context.Context, now time.Time) (time.Time, error) {
	b, err := w.cfg.Values.Value(ctx, SinceKey)
	if err == nil {
		t, perr := time.Parse(time.RFC3339Nano, string(b))
		if perr == nil {
			return t, nil
		}
		w.logger.Warn("the watch's start time does not parse; starting the watch now", "value", string(b), "err", perr)
	} else if !errors.Is(err, store.ErrNotFound) {
		return time.Time{}, fmt.Errorf("reading when the watch began: %w", err)
	}
	if err := w.cfg.Values.SetValue(ctx, SinceKey, []byte(now.UTC().Format(time.RFC3339Nano))); err != nil {
		return time.Time{}, fmt.Errorf("recording when the watch began: %w", err)
	}
	return now, nil
}

func (w *Watcher) wasActed(ctx context.Context, key string) (bool, error) {
	if w.acted[key] {
		return true, nil
	}
	_, err := w.cfg.Values.Value(ctx, key)
	switch {
	case err == nil:
		w.acted[key] = true
		return true, nil
	case errors.Is(err, store.ErrNotFound):
		return false, nil
	}
	return false, fmt.Errorf("reading %s: %w", key, err)
}

func (w *Watcher) record(ctx context.Context, key string, a *Action) error {
	b, err := json.Marshal(a)
	if err != nil {
		return err
	}
	if err := w.cfg.Values.SetValue(ctx, key, b); err != nil {
		return fmt.Errorf("recording %s: %w", key, err)
	}
	w.acted[key] = true
	return nil
}

// remember puts actions at the head of the recent list.
func (w *Watcher) remember(ctx context.Context, done []Action) error {
	old, err := w.recent(ctx)
	if err != nil {
		return err
	}
	list := make([]Action, 0, len(done)+len(old))
	for i := len(done) - 1; i >= 0; i-- {
		list = append(list, done[i])
	}
	list = append(list, old...)
	if len(list) > MaxRecent {
		list = list[:MaxRecent]
	}
	b, err := json.Marshal(list)
	if err != nil {
		return err
	}
	return w.cfg.Values.SetValue(ctx, RecentKey, b)
}

func (w *Watcher) recent(ctx context.Context) ([]Action, error) {
	b, err := w.cfg.Values.Value(ctx, RecentKey)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the recent actions: %w", err)
	}
	var list []Action
	if err := json.Unmarshal(b, &list); err != nil {
		return nil, fmt.Errorf("reading the recent actions: %w", err)
	}
	return list, nil
}

// Watched returns how many threads the watch keeps judging: those with an
// obligation open, or overdue and not yet through its escalation.
func (w *Watcher) Watched() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.watched)
}

// Filter selects actions to list. Zero fields select everything.
type Filter struct {
	// Event selects one event kind.
	Event obligations.EventKind
	// Thread selects one thread.
	Thread hotline.ID
}

// Actions lists the recent actions that f selects, newest first.
func (w *Watcher) Actions(ctx context.Context, f Filter) ([]Action, error) {
	list, err := w.recent(ctx)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(list, func(a Action) bool {
		return (f.Event != "" && a.Event != f.Event) || (!f.Thread.IsZero() && a.Thread != f.Thread)
	}), nil
}

// action describes ev before it is acted on.
func (w *Watcher) action(ev obligations.Event, o *obligations.Obligation, now time.Time) Action {
	a := Action{
		Event: ev.Kind, At: ev.At, Acted: now, Message: ev.Message, Thread: o.Thread, Kind: o.Kind,
		Severity: o.Severity, Type: ev.Type, From: ev.From, To: ev.To, Due: o.Due, State: o.State, Owed: "to_us",
	}
	if ev.To == w.cfg.Source.Party() {
		a.Owed = "by_us"
	}
	return a
}

// act takes the step a describes and fills in what it did.
func (w *Watcher) act(ctx context.Context, a *Action) {
	w.events.WithLabelValues(string(a.Event)).Inc()
	attrs := []any{"message", a.Message.String(), "thread", a.Thread.String(), "kind", a.Kind, "severity", a.Severity,
		"obligation", a.Type, "from", a.From, "to", a.To, "due", a.Due.UTC().Format(time.RFC3339)}
	due := a.Due.UTC().Format(time.RFC3339)
	switch a.Event {
	case obligations.Warning:
		if a.Owed == "by_us" {
			a.Summary = fmt.Sprintf("%s must %s %s's %s %s by %s", a.To, a.Type, a.From, a.Kind, short(a.Message), due)
		} else {
			a.Summary = fmt.Sprintf("%s owes a reply (%s) to this node's %s %s by %s", a.To, a.Type, a.Kind, short(a.Message), due)
		}
		w.logger.Warn("obligation due soon: "+a.Summary, attrs...)
	case obligations.Alert:
		if a.Owed == "by_us" {
			a.Summary = fmt.Sprintf("OVERDUE: this node (%s) has not %s %s's %s %s, due %s", a.To, pastTense(a.Type), a.From, a.Kind, short(a.Message), due)
		} else {
			a.Summary = fmt.Sprintf("OVERDUE: %s has not %s this node's %s %s, due %s", a.To, pastTense(a.Type), a.Kind, short(a.Message), due)
		}
		w.logger.Error("obligation overdue: "+a.Summary, attrs...)
	case obligations.ResendViaRelay:
		if w.cfg.Resend == nil {
			a.Summary = "not resent: this node has no relay to resend through"
			break
		}
		route, err := w.cfg.Resend(ctx, a.Message, a.To)
		if errors.Is(err, outbox.ErrNoRelay) {
			a.Summary = "not resent: " + err.Error()
			w.logger.Warn("escalation: "+a.Summary, attrs...)
			break
		}
		if err != nil {
			a.Summary = "resending through a relay failed"
			a.Error = err.Error()
			w.logger.Error("escalation: resending through a relay failed", append(attrs, "err", err)...)
			break
		}
		a.Summary = route
		w.logger.Warn("escalation: "+route, attrs...)
	case obligations.NotifyContact:
		cs, err := w.cfg.Source.Contacts(a.To)
		if err != nil {
			a.Error = err.Error()
		}
		var who []string
		for _, c := range cs {
			if c.Role == agreement.Diplomatic {
				a.Contacts = append(a.Contacts, c)
				who = append(who, contactLine(c))
			}
		}
		if len(who) == 0 {
			a.Summary = fmt.Sprintf("notify %s's diplomatic contact: the agreement's directory names none", a.To)
		} else {
			a.Summary = fmt.Sprintf("notify %s's diplomatic contact: %s", a.To, strings.Join(who, "; "))
		}
		w.logger.Error("escalation: "+a.Summary, attrs...)
	case obligations.ProposeConsultation:
		a.Command = fmt.Sprintf("hotline send --dir %s --to %s --kind consultation_request --severity %s --thread %s --ref %s --title %s --summary %s",
			quote(w.cfg.Dir), a.To, a.Severity, a.Thread, a.Message,
			quote("Consultation: "+a.Kind+" "+short(a.Message)+" unanswered"),
			quote(fmt.Sprintf("Our %s %s of this thread was due an answer (%s) by %s and has none. We request consultations.", a.Kind, short(a.Message), a.Type, due)))
		a.Summary = fmt.Sprintf("proposed: send %s a consultation_request (not sent; the officer decides)", a.To)
		w.logger.Warn("escalation: "+a.Summary, append(attrs, "command", a.Command)...)
	}
}

func contactLine(c agreement.Contact) string {
	parts := []string{c.Name}
	if c.Phone != "" {
		parts = append(parts, c.Phone)
	}
	if c.Email != "" {
		parts = append(parts, c.Email)
	}
	if c.Hours != "" {
		parts = append(parts, c.Hours+" "+c.TimeZone)
	}
	if len(c.Languages) > 0 {
		parts = append(parts, strings.Join(c.Languages, ","))
	}
	return strings.Join(parts, ", ")
}

func pastTense(t agreement.ObligationType) string {
	switch t {
	case agreement.Acknowledge:
		return "acknowledged"
	case agreement.Respond:
		return "responded to"
	}
	return "answered (" + string(t) + ")"
}

func short(id hotline.ID) string { return id.String()[:12] }

// quote quotes s for a POSIX shell when it needs it.
func quote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=,+@", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
