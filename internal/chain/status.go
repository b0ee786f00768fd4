package chain

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/agreement"
)

// Status is the chain a node holds, as `hotline agreement status` shows
// it. Times are RFC 3339 in UTC.
type Status struct {
	Party  string `json:"party"`
	Digest string `json:"digest"`
	// InForce is the number of the version in force now (0 before any).
	InForce  uint64          `json:"in_force"`
	Versions []VersionStatus `json:"versions"`
	// Peers gives, for each other party, the version that governs between
	// it and this node: the highest in force both ratified.
	Peers   []PeerStatus  `json:"peers"`
	Parties []PartyStatus `json:"parties"`
	// Pending lists what is not yet complete: versions not yet in effect,
	// parties that have not ratified a version, stale contacts.
	Pending []string `json:"pending"`
	// Refused lists the latest documents a party signed that this node
	// refused (alarms); Forks the fork proofs kept.
	Refused []RefusedStatus `json:"refused"`
	Forks   []ForkStatus    `json:"forks"`
}

// VersionStatus is one version of the terms.
type VersionStatus struct {
	Version    uint64   `json:"version"`
	Hash       string   `json:"hash"`
	Issued     string   `json:"issued"`
	Effective  string   `json:"effective"`
	Depositary string   `json:"depositary"`
	RatifiedBy []string `json:"ratified_by"`
	// NotRatifiedBy lists the parties of the version (the depositary
	// aside) that have not ratified it.
	NotRatifiedBy []string `json:"not_ratified_by"`
}

// PeerStatus is the version that governs with one peer.
type PeerStatus struct {
	Party   string `json:"party"`
	Version uint64 `json:"version"`
	Hash    string `json:"hash,omitempty"`
	// Error says why no version governs (none both ratified).
	Error string `json:"error,omitempty"`
}

// PartyStatus is one party's latest entry and root.
type PartyStatus struct {
	Party string `json:"party"`
	// Sequence is the party's latest entry's, 0 without one.
	Sequence  uint64   `json:"sequence"`
	Hash      string   `json:"hash,omitempty"`
	Issued    string   `json:"issued,omitempty"`
	Endpoints []string `json:"endpoints,omitempty"`
	// Root is the party's root key in force; RootStatements the number of
	// root statements it made.
	Root           string          `json:"root"`
	RootStatements []RootStatus    `json:"root_statements,omitempty"`
	Contacts       []ContactStatus `json:"contacts,omitempty"`
}

// RootStatus is one root statement.
type RootStatus struct {
	Sequence uint64 `json:"sequence"`
	Method   string `json:"method"`
	Issued   string `json:"issued"`
	Hash     string `json:"hash"`
}

// ContactStatus is one contact and whether it is stale: reconfirmed longer
// ago than the terms' contact_reconfirmation.
type ContactStatus struct {
	ID          string `json:"id"`
	Role        string `json:"role"`
	Name        string `json:"name"`
	Reconfirmed string `json:"reconfirmed"`
	Stale       bool   `json:"stale"`
}

// RefusedStatus is one refused document a party signed.
type RefusedStatus struct {
	Tag      string `json:"tag"`
	Party    string `json:"party"`
	Sequence uint64 `json:"sequence"`
	Hash     string `json:"hash"`
	From     string `json:"from"`
	Code     string `json:"code"`
	Reason   string `json:"reason"`
	At       string `json:"at"`
}

// ForkStatus is one fork proof kept.
type ForkStatus struct {
	Party string `json:"party"`
	At    string `json:"at"`
	Proof string `json:"proof"`
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return hotline.FormatTime(t)
}

// Status returns the chain the node holds.
func (h *Holder) Status(ctx context.Context) (*Status, error) {
	agr := h.cfg.Node.Agreement()
	now := h.clock.Now()
	st := &Status{Party: h.cfg.Self, Digest: agr.Digest().String(), Versions: []VersionStatus{}, Peers: []PeerStatus{},
		Parties: []PartyStatus{}, Pending: []string{}, Refused: []RefusedStatus{}, Forks: []ForkStatus{}}
	if v, err := agr.Current(now); err == nil {
		st.InForce = v.Number()
	}
	for _, v := range agr.Versions() {
		vs := VersionStatus{Version: v.Number(), Hash: v.Hash().String(), Issued: fmtTime(v.Issued()), Effective: fmtTime(v.Effective()),
			Depositary: v.Depositary().ID, RatifiedBy: []string{}, NotRatifiedBy: []string{}}
		for _, p := range v.Parties() {
			if p.ID == vs.Depositary {
				continue
			}
			if agr.Ratified(p.ID, v.Hash()) {
				vs.RatifiedBy = append(vs.RatifiedBy, p.ID)
			} else {
				vs.NotRatifiedBy = append(vs.NotRatifiedBy, p.ID)
			}
		}
		if v.Effective().After(now) {
			st.Pending = append(st.Pending, "version "+itoa(v.Number())+" takes effect "+fmtTime(v.Effective()))
		}
		if len(vs.NotRatifiedBy) > 0 {
			st.Pending = append(st.Pending, "version "+itoa(v.Number())+" not ratified by "+strings.Join(vs.NotRatifiedBy, ", "))
		}
		st.Versions = append(st.Versions, vs)
	}
	var reconfirm time.Duration
	if v := agr.Latest(); v != nil {
		reconfirm = v.Reconfirmation()
	}
	for _, p := range agr.Parties() {
		if p.ID != h.cfg.Self {
			ps := PeerStatus{Party: p.ID}
			if v, err := agr.InForce(now, h.cfg.Self, p.ID); err == nil {
				ps.Version, ps.Hash = v.Number(), v.Hash().String()
			} else {
				ps.Error = err.Error()
			}
			st.Peers = append(st.Peers, ps)
		}
		ps := PartyStatus{Party: p.ID}
		if root, _, err := agr.Root(p.ID); err == nil {
			ps.Root = root
		}
		for _, r := range agr.Roots(p.ID) {
			ps.RootStatements = append(ps.RootStatements, RootStatus{Sequence: r.Sequence, Method: string(r.Method), Issued: fmtTime(r.Issued), Hash: r.Hash.String()})
		}
		if e, err := agr.Entry(p.ID); err == nil {
			ps.Sequence, ps.Hash, ps.Issued, ps.Endpoints = e.Sequence, e.Hash.String(), fmtTime(e.Issued), e.Endpoints
			for _, c := range e.Contacts {
				cs := ContactStatus{ID: c.ID, Role: string(c.Role), Name: c.Name, Reconfirmed: fmtTime(c.Reconfirmed)}
				cs.Stale = reconfirm > 0 && now.Sub(c.Reconfirmed) > reconfirm
				if cs.Stale {
					st.Pending = append(st.Pending, p.ID+"'s contact "+c.ID+" is stale: reconfirmed "+cs.Reconfirmed)
				}
				ps.Contacts = append(ps.Contacts, cs)
			}
		} else if p.Kind != agreement.KindDepositary {
			st.Pending = append(st.Pending, p.ID+" has no directory entry")
		}
		st.Parties = append(st.Parties, ps)
	}
	for _, r := range h.Refusals() {
		st.Refused = append(st.Refused, RefusedStatus{Tag: r.Tag, Party: r.Party, Sequence: r.Sequence, Hash: r.Hash.String(),
			From: r.From, Code: r.Code, Reason: r.Reason, At: fmtTime(r.At)})
	}
	eqs, err := h.cfg.Store.Equivocations(ctx)
	if err != nil {
		return nil, err
	}
	for _, e := range eqs {
		if party, ok := strings.CutPrefix(e.Origin, "agreement:"); ok {
			st.Forks = append(st.Forks, ForkStatus{Party: party, At: fmtTime(e.At), Proof: string(e.Proof)})
		}
	}
	return st, nil
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }
