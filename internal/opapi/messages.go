package opapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/internal/node"
	"github.com/hotline-net/hotline/internal/store"
)

// Status is the node's state, for GET /api/v1/status.
type StatusResponse struct {
	Party            string `json:"party"`
	AgreementVersion uint64 `json:"agreement_version"`
	Agreement        string `json:"agreement"`
	Received         int64  `json:"received"`
	Sent             int64  `json:"sent"`
	Undelivered      int64  `json:"undelivered"`
	Time             string `json:"time"`
}

func (a *api) status(r *http.Request) (any, error) {
	s := StatusResponse{Party: a.node.Party(), Time: a.node.Clock().Now().UTC().Format(time.RFC3339)}
	if v, err := a.node.Agreement().Current(a.node.Clock().Now()); err == nil {
		s.AgreementVersion, s.Agreement = v.Number(), v.Hash().String()
	}
	c, err := a.node.Counts(r.Context())
	if err != nil {
		return nil, err
	}
	s.Received, s.Sent, s.Undelivered = c.Received, c.Sent, c.Undelivered
	return s, nil
}

// SendRequest is the body of POST /api/v1/messages.
type SendRequest struct {
	To       []string        `json:"to,omitempty"`
	Group    string          `json:"group,omitempty"`
	Kind     string          `json:"kind"`
	Severity string          `json:"severity"`
	Marking  string          `json:"marking"`
	Exercise bool            `json:"exercise,omitempty"`
	Thread   string          `json:"thread,omitempty"`
	Refs     []string        `json:"refs,omitempty"`
	Body     json.RawMessage `json:"body"`
}

// SentResponse names the message a send or reply created.
type SentResponse struct {
	ID string `json:"id"`
}

func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return hotline.Errorf(ErrBadRequest, "request body: %v", err)
	}
	return nil
}

func (a *api) send(r *http.Request) (any, error) {
	var req SendRequest
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	d := node.Draft{To: req.To, Group: req.Group, Kind: req.Kind, Exercise: req.Exercise, Body: req.Body}
	var err error
	if d.Severity, err = hotline.ParseSeverity(req.Severity); err != nil {
		return nil, hotline.Errorf(ErrBadRequest, "%v", err)
	}
	if d.Marking, err = hotline.ParseMarking(req.Marking); err != nil {
		return nil, hotline.Errorf(ErrBadRequest, "%v", err)
	}
	if req.Thread != "" {
		if d.Thread, err = hotline.ParseID(req.Thread); err != nil {
			return nil, hotline.Errorf(ErrBadRequest, "thread: %v", err)
		}
	}
	for _, s := range req.Refs {
		id, err := hotline.ParseID(s)
		if err != nil {
			return nil, hotline.Errorf(ErrBadRequest, "refs: %v", err)
		}
		d.Refs = append(d.Refs, id)
	}
	if len(req.Body) == 0 {
		return nil, hotline.Errorf(ErrBadRequest, "body: a JSON object is required")
	}
	id, err := a.node.Send(r.Context(), d)
	if err != nil {
		return nil, err
	}
	return SentResponse{ID: id.String()}, nil
}

// ReplyRequest is the body of POST /api/v1/messages/{id}/reply.
type ReplyRequest struct {
	Kind string          `json:"kind"`
	Body json.RawMessage `json:"body"`
}

func (a *api) reply(r *http.Request) (any, error) {
	id, err := hotline.ParseID(r.PathValue("id"))
	if err != nil {
		return nil, hotline.Errorf(ErrBadRequest, "message id: %v", err)
	}
	var req ReplyRequest
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	if len(req.Body) == 0 {
		return nil, hotline.Errorf(ErrBadRequest, "body: a JSON object is required")
	}
	nid, err := a.node.Reply(r.Context(), id, req.Kind, req.Body)
	if err != nil {
		return nil, err
	}
	return SentResponse{ID: nid.String()}, nil
}

// Message is one message as the API shows it.
type Message struct {
	ID        string          `json:"id"`
	Direction string          `json:"direction"`
	From      string          `json:"from"`
	To        []string        `json:"to"`
	Group     string          `json:"group,omitempty"`
	Created   string          `json:"created"`
	At        string          `json:"at"`
	Kind      string          `json:"kind"`
	Severity  string          `json:"severity"`
	Marking   string          `json:"marking"`
	Thread    string          `json:"thread"`
	Refs      []string        `json:"refs,omitempty"`
	Exercise  bool            `json:"exercise,omitempty"`
	Stored    bool            `json:"stored"`
	Body      json.RawMessage `json:"body,omitempty"`
	// Receipt is this node's receipt for a received message.
	Receipt *Receipt `json:"receipt,omitempty"`
	// Deliveries are the recipients' states for a sent message.
	Deliveries []Delivery `json:"deliveries,omitempty"`
	// Obligations are the message's obligations: what the recipients owe
	// its sender, judged now.
	Obligations []Obligation `json:"obligations,omitempty"`
}

// Receipt is a signed receipt.
type Receipt struct {
	Party    string `json:"party"`
	Received string `json:"received"`
	LogIndex uint64 `json:"log_index"`
	Note     string `json:"note"`
}

// Delivery is the state of a sent message at one recipient.
type Delivery struct {
	Recipient string   `json:"recipient"`
	Seq       uint64   `json:"seq"`
	State     string   `json:"state"`
	Attempts  int      `json:"attempts"`
	Route     string   `json:"route,omitempty"`
	Delivered string   `json:"delivered,omitempty"`
	LastError string   `json:"last_error,omitempty"`
	Receipt   *Receipt `json:"receipt,omitempty"`
}

// MessageList is a page of messages.
type MessageList struct {
	Messages []Message `json:"messages"`
	Next     string    `json:"next,omitempty"`
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func toMessage(e *store.Envelope) Message {
	m := Message{
		ID: e.ID.String(), From: e.From, To: e.To, Group: e.Group,
		Created: hotline.FormatTime(e.Created), At: fmtTime(e.At),
		Kind: e.Kind, Severity: string(e.Severity), Marking: string(e.Marking),
		Thread: e.ThreadID().String(), Exercise: e.Exercise, Stored: e.Stored,
		Direction: "received",
	}
	if e.Direction == hotline.Sent {
		m.Direction = "sent"
	}
	for _, r := range e.Refs {
		m.Refs = append(m.Refs, r.String())
	}
	if e.Body != nil {
		if json.Valid(e.Body) {
			m.Body = e.Body
		} else {
			m.Body, _ = json.Marshal(string(e.Body))
		}
	}
	return m
}

func toReceipt(r *store.Receipt) *Receipt {
	return &Receipt{Party: r.Party, Received: hotline.FormatTime(r.Received), LogIndex: r.LogIndex, Note: string(r.Note)}
}

func (a *api) list(r *http.Request) (any, error) {
	q := r.URL.Query()
	mq := store.MessageQuery{
		MessageFilter: store.MessageFilter{Party: q.Get("party"), Kind: q.Get("kind")},
		Cursor:        store.Cursor(q.Get("cursor")),
	}
	switch q.Get("direction") {
	case "", "all":
	case "received":
		mq.Direction = hotline.Received
	case "sent":
		mq.Direction = hotline.Sent
	default:
		return nil, hotline.Errorf(ErrBadRequest, "direction: received, sent or all")
	}
	if t := q.Get("thread"); t != "" {
		id, err := hotline.ParseID(t)
		if err != nil {
			return nil, hotline.Errorf(ErrBadRequest, "thread: %v", err)
		}
		mq.Thread, mq.Oldest = id, true
	}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 1000 {
			return nil, hotline.Errorf(ErrBadRequest, "limit: 1 to 1000")
		}
		mq.Limit = n
	}
	page, err := a.node.Messages(r.Context(), mq)
	if errors.Is(err, store.ErrInvalid) {
		return nil, hotline.Errorf(ErrBadRequest, "%v", err)
	}
	if err != nil {
		return nil, err
	}
	out := MessageList{Messages: []Message{}, Next: string(page.Next)}
	for i := range page.Envelopes {
		out.Messages = append(out.Messages, toMessage(&page.Envelopes[i]))
	}
	return out, nil
}

func (a *api) show(r *http.Request) (any, error) {
	id, err := hotline.ParseID(r.PathValue("id"))
	if err != nil {
		return nil, hotline.Errorf(ErrBadRequest, "message id: %v", err)
	}
	msg, err := a.node.Message(r.Context(), id)
	if err != nil {
		return nil, err
	}
	m := toMessage(&msg.Envelope)
	if msg.Receipt != nil {
		m.Receipt = toReceipt(msg.Receipt)
	}
	for _, row := range msg.Deliveries {
		d := Delivery{
			Recipient: row.Recipient, Seq: row.Seq, State: row.State.String(), Attempts: row.Attempts,
			Route: row.Route, Delivered: fmtTime(row.Delivered), LastError: row.LastError,
		}
		if row.Receipt != nil {
			d.Receipt = toReceipt(row.Receipt)
		}
		m.Deliveries = append(m.Deliveries, d)
	}
	return m, nil
}
