package opapi

import (
	"context"
	"net/http"
	"slices"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/internal/obligations"
	"github.com/hotline-net/hotline/internal/watch"
)

// Watch lists what the node's watch acted on (package watch's *Watcher).
type Watch interface {
	Actions(ctx context.Context, f watch.Filter) ([]watch.Action, error)
}

var _ Watch = (*watch.Watcher)(nil)

// EscalationList is the answer of GET /api/v1/escalations: the warnings,
// alerts and escalation steps the node's watch acted on, newest first.
// Proposals lists the consultation_request proposals among them, each
// with the command that sends it.
type EscalationList struct {
	Actions   []watch.Action `json:"actions"`
	Proposals []watch.Action `json:"proposals"`
}

// escalations serves GET /api/v1/escalations[?event=E][&thread=ID].
func (a *api) escalations(r *http.Request) (any, error) {
	var f watch.Filter
	if e := r.URL.Query().Get("event"); e != "" {
		kinds := []obligations.EventKind{obligations.Warning, obligations.Alert, obligations.ResendViaRelay,
			obligations.NotifyContact, obligations.ProposeConsultation}
		if !slices.Contains(kinds, obligations.EventKind(e)) {
			return nil, hotline.Errorf(ErrBadRequest, "event %q: want one of %v", e, kinds)
		}
		f.Event = obligations.EventKind(e)
	}
	if t := r.URL.Query().Get("thread"); t != "" {
		id, err := hotline.ParseID(t)
		if err != nil {
			return nil, hotline.Errorf(ErrBadRequest, "thread: %v", err)
		}
		f.Thread = id
	}
	list, err := a.watch.Actions(r.Context(), f)
	if err != nil {
		return nil, err
	}
	out := EscalationList{Actions: list, Proposals: []watch.Action{}}
	if out.Actions == nil {
		out.Actions = []watch.Action{}
	}
	for _, x := range list {
		if x.Event == obligations.ProposeConsultation {
			out.Proposals = append(out.Proposals, x)
		}
	}
	return out, nil
}
