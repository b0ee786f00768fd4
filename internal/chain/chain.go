// Package chain keeps a running node's agreement chain up to date: it takes
// in a signed document (a version of the terms, a ratification, a directory
// entry, a root statement) that extends the chain the node holds and puts
// it in force at once, without a restart; it offers what the node holds to
// its peers and fetches what they hold.
//
// # Taking a document in
//
// [Holder.Add] checks that the document extends the chain (agreement
// package: [agreement.Agreement.With] and [agreement.Agreement.Extends]),
// writes the longer chain to the store (the value [ChainKey]) and only then
// swaps it into the node, so that a node that crashes in between restarts on
// it. At the depositary, every document's hash is then appended to the log
// as a 0x04 entry ([LogDocuments]). A document that does not extend the
// chain is refused with the agreement's stable code and changes nothing;
// when a party's root key signed it, it is an alarm. Two different entries
// (or root statements, or versions) validly signed for one place of a chain
// are a fork: both are kept in the store's equivocations as proof
// ([ForkProof]), under the origin "agreement:" and the party.
//
// # Gossip
//
// Every heartbeat carries the digest of the chain its sender holds
// ([agreement.Agreement.Digest]). When a peer's differs, [Holder.Sync]
// fetches the peer's list of document hashes (GET /v1/agreement), then the
// documents this node lacks (GET /v1/agreement/{hash}), and posts to the
// peer the ones it lacks (POST /v1/agreement) — hashes first, documents on
// request. One heartbeat round of the node that holds a document brings it
// to every reachable peer; a peer's own round fetches it too.
package chain

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/agreement"
	"github.com/hotline-net/hotline/internal/clock"
	"github.com/hotline-net/hotline/internal/store"
)

// ChainKey is the store value under which a node keeps the whole agreement
// chain it holds (every version, ratification, entry and root statement),
// as an agreement file: a node refuses to start on a file that drops any of
// it, and takes in at runtime only what extends it.
const ChainKey = "agreement.chain"

// Node is what a Holder needs of the node: the agreement in force, and the
// swap of a newer one that extends it.
type Node interface {
	Agreement() *agreement.Agreement
	SetAgreement(*agreement.Agreement) error
}

// Log is the depositary's own log, where it appends each agreement
// document's hash.
type Log interface {
	Origin() string
	Append(ctx context.Context, entry [32]byte) (uint64, error)
}

// Config configures a [Holder]. Self, Node and Store are required.
type Config struct {
	// Self is this node's party.
	Self  string
	Node  Node
	Store store.Store
	// Log is the node's log: the depositary appends every document to it.
	// Nil logs nothing.
	Log Log
	// Transport calls peers (Sync); nil syncs with nobody.
	Transport Transport
	Clock     clock.Clock
	Logger    *slog.Logger
	// OnAlarm, if set, is called once for each refused document a party
	// signed and each new fork proof.
	OnAlarm func(kind string)
}

// Holder takes documents into the node's chain. It is safe for concurrent
// use: documents are taken in one at a time.
type Holder struct {
	cfg    Config
	clock  clock.Clock
	logger *slog.Logger

	mu sync.Mutex
	// refused remembers the latest refusals of documents a party signed,
	// for status (newest last, at most maxRefused).
	refusedMu sync.Mutex
	refused   []Refused
	// tried remembers, for a sync, the documents a peer offered that this
	// node refused and the peers' refusals of its own, each with the
	// digests the two chains had then: while neither changed, the same
	// exchange would be refused again, so it is not repeated every round.
	tried map[tryKey]bool
}

// tryKey is one refused transfer of a document between two chains.
type tryKey struct {
	doc, mine, theirs hotline.ID
	peer              string
}

const maxTried = 4096

// Refused is a document this node refused although a party signed it.
type Refused struct {
	Hash  hotline.ID
	Tag   string
	Party string
	// Sequence is the entry's, statement's or version's number.
	Sequence uint64
	From     string
	Code     string
	Reason   string
	At       time.Time
}

const maxRefused = 64

// New returns a Holder.
func New(cfg Config) (*Holder, error) {
	if cfg.Self == "" || cfg.Node == nil || cfg.Store == nil {
		return nil, errors.New("chain: Self, Node and Store are required")
	}
	h := &Holder{cfg: cfg, clock: clock.Or(cfg.Clock), logger: cfg.Logger}
	if h.logger == nil {
		h.logger = slog.New(slog.DiscardHandler)
	}
	return h, nil
}

// Added is what taking a document in did.
type Added struct {
	agreement.Document
	// New is false when the node held the document already.
	New bool
}

// Add takes one signed document into the chain. from names who handed it
// over: a peer's party id, or "operator". A document the node holds
// already is not an error (New is false). A refusal carries the
// agreement's code (bad_chain, fork, bad_signature, ...) and changes
// nothing, except that a fork's proof is kept.
func (h *Holder) Add(ctx context.Context, from string, msg []byte) (Added, error) {
	d, err := agreement.Describe(msg)
	if err != nil {
		return Added{}, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	held := h.cfg.Node.Agreement()
	if held.Holds(d.Hash) {
		return Added{Document: d}, nil
	}
	next, err := held.With(msg)
	if err == nil {
		err = next.Extends(held)
	}
	if err != nil {
		h.refuse(ctx, held, d, from, msg, err)
		return Added{}, err
	}
	if err := h.record(ctx, held, next); err != nil {
		return Added{}, err
	}
	if err := h.cfg.Node.SetAgreement(next); err != nil {
		// The store holds the longer chain; the next start takes it.
		return Added{}, fmt.Errorf("putting the agreement in force: %w", err)
	}
	h.logger.Info("agreement document taken in", "tag", d.Tag, "party", d.Party, "sequence", d.Sequence, "hash", d.Hash, "from", from)
	if h.cfg.Log != nil && next.Latest().Depositary().ID == h.cfg.Self {
		if err := LogDocuments(ctx, h.cfg.Store, h.cfg.Log, next, h.logger); err != nil {
			// In force already; the next document or start logs it.
			return Added{Document: d, New: true}, fmt.Errorf("logging the document: %w", err)
		}
	}
	return Added{Document: d, New: true}, nil
}

// record writes the longer chain to the store, and the latest version when
// it is new.
func (h *Holder) record(ctx context.Context, held, next *agreement.Agreement) error {
	raw := next.Marshal()
	if l := next.Latest(); l != nil && (held.Latest() == nil || l.Number() > held.Latest().Number()) {
		if err := h.cfg.Store.SetAgreement(ctx, &store.Agreement{Version: l.Number(), Hash: l.Hash(), Raw: raw, At: h.clock.Now()}); err != nil {
			return fmt.Errorf("recording the agreement: %w", err)
		}
	}
	if err := h.cfg.Store.SetValue(ctx, ChainKey, raw); err != nil {
		return fmt.Errorf("recording the agreement chain: %w", err)
	}
	return nil
}

// refuse keeps a fork's proof and raises the alarm for a refused document
// a party signed.
func (h *Holder) refuse(ctx context.Context, held *agreement.Agreement, d agreement.Document, from string, msg []byte, cause error) {
	if other, ok := held.Equivocation(msg); ok {
		proof := ForkProof(other, msg)
		existed, err := h.cfg.Store.AddEquivocation(ctx, &store.EquivocationRecord{Origin: "agreement:" + d.Party, Proof: proof, At: h.clock.Now()})
		if err != nil {
			h.logger.Error("storing a fork proof", "party", d.Party, "err", err)
		} else if !existed {
			h.logger.Error("EQUIVOCATION: a party signed two documents for one place of the agreement chain",
				"party", d.Party, "tag", d.Tag, "sequence", d.Sequence, "from", from)
			h.alarm("fork")
		}
	}
	signer, ok := held.SignedBy(msg)
	if !ok {
		h.logger.Info("refused an agreement document nobody's root signed", "tag", d.Tag, "party", d.Party, "from", from, "err", cause)
		return
	}
	h.logger.Error("ALARM: refused an agreement document a party signed", "signer", signer, "tag", d.Tag, "party", d.Party,
		"sequence", d.Sequence, "hash", d.Hash, "from", from, "code", agreement.ErrorCode(cause), "err", cause)
	h.refusedMu.Lock()
	h.refused = append(h.refused, Refused{Hash: d.Hash, Tag: d.Tag, Party: d.Party, Sequence: d.Sequence, From: from,
		Code: agreement.ErrorCode(cause), Reason: cause.Error(), At: h.clock.Now()})
	if len(h.refused) > maxRefused {
		h.refused = slices.Delete(h.refused, 0, len(h.refused)-maxRefused)
	}
	h.refusedMu.Unlock()
	h.alarm("refused")
}

func (h *Holder) alarm(kind string) {
	if h.cfg.OnAlarm != nil {
		h.cfg.OnAlarm(kind)
	}
}

// Refusals returns the latest refusals of documents a party signed, oldest
// first.
func (h *Holder) Refusals() []Refused {
	h.refusedMu.Lock()
	defer h.refusedMu.Unlock()
	return slices.Clone(h.refused)
}

// AddAll takes in several documents in whatever order they come: a
// document whose predecessor is among them is retried after it, until a
// pass takes in nothing more. It returns how many were new and the
// refusals of the ones left.
func (h *Holder) AddAll(ctx context.Context, from string, notes [][]byte) (int, error) {
	added := 0
	left := notes
	for len(left) > 0 {
		var again [][]byte
		var errs []error
		for _, n := range left {
			a, err := h.Add(ctx, from, n)
			if err != nil {
				again, errs = append(again, n), append(errs, err)
				continue
			}
			if a.New {
				added++
			}
		}
		if len(again) == len(left) {
			return added, errors.Join(errs...)
		}
		left = again
	}
	return added, nil
}

// ForkTag is the first line of a fork proof.
const ForkTag = "hotline-agreement-fork/v1"

// ForkProof is the text form of a fork: the tag line, then the two signed
// documents that claim one place of a chain, each base64-encoded on its own
// line, in ascending byte order — so the same fork found twice is the same
// proof.
func ForkProof(a, b []byte) []byte {
	if bytes.Compare(a, b) > 0 {
		a, b = b, a
	}
	var buf bytes.Buffer
	buf.WriteString(ForkTag + "\n")
	buf.WriteString(base64.StdEncoding.EncodeToString(a) + "\n")
	buf.WriteString(base64.StdEncoding.EncodeToString(b) + "\n")
	return buf.Bytes()
}

// ParseForkProof returns the two documents of a fork proof. It checks the
// form, not the signatures.
func ParseForkProof(p []byte) ([2][]byte, error) {
	var out [2][]byte
	lines := bytes.Split(p, []byte("\n"))
	if len(lines) != 4 || string(lines[0]) != ForkTag || len(lines[3]) != 0 {
		return out, hotline.Errorf(hotline.ErrMalformed, "not a %s proof", ForkTag)
	}
	for i := range 2 {
		b, err := base64.StdEncoding.Strict().DecodeString(string(lines[1+i]))
		if err != nil || len(b) == 0 {
			return out, hotline.Errorf(hotline.ErrMalformed, "fork proof: document %d is not base64", i+1)
		}
		out[i] = b
	}
	if !bytes.Equal(ForkProof(out[0], out[1]), p) {
		return out, hotline.Errorf(hotline.ErrMalformed, "fork proof: documents out of order")
	}
	return out, nil
}

// HashList is the answer of GET /v1/agreement: the digest of the chain a
// node holds and the hash of each document, in the order of its file.
type HashList struct {
	Digest    string   `json:"digest"`
	Documents []string `json:"documents"`
}

// Hashes returns the node's hash list.
func (h *Holder) Hashes() HashList {
	agr := h.cfg.Node.Agreement()
	l := HashList{Digest: agr.Digest().String(), Documents: []string{}}
	for _, x := range agr.DocumentHashes() {
		l.Documents = append(l.Documents, x.String())
	}
	return l
}

// HashesJSON is [Holder.Hashes] as the peer API answers it.
func (h *Holder) HashesJSON() []byte {
	b, _ := json.Marshal(h.Hashes())
	return append(b, '\n')
}

// Document returns the signed document with the given hash (hex), or a
// not_found refusal.
func (h *Holder) Document(hash string) ([]byte, error) {
	id, err := hotline.ParseID(hash)
	if err != nil {
		return nil, hotline.Errorf(hotline.ErrMalformed, "document hash: %v", err)
	}
	b, ok := h.cfg.Node.Agreement().Document(id)
	if !ok {
		return nil, hotline.Errorf(ErrUnknownDocument, "this node holds no agreement document %s", id)
	}
	return b, nil
}

// ErrUnknownDocument: the node holds no document with that hash.
var ErrUnknownDocument = hotline.NewError("unknown_document", "no such agreement document")
