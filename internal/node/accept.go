package node

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/agreement"
	"github.com/hotline-net/hotline/internal/store"
)

// Accept takes a recipient's view of an envelope from a peer (or a relay)
// and returns this node's signed receipt for it. It issues the receipt only
// once the envelope verified, opened, passed its commitment and template
// checks, is durably stored and its log entry is sequenced. The same
// envelope again returns the same receipt, byte for byte.
//
// The receipt is recorded in the store after it is returned, in the
// background, with the envelope's lock held until then (so a duplicate
// waits for it), tried again while the store fails (recordAgain);
// [Node.Settle] waits for the records in flight, not for those tried
// again. That costs no durability: the row and the log entry are
// durable before the receipt is signed, and the receipt is a function of
// them (Ed25519 signatures are deterministic), so if the process dies
// before the record commits, start-up finds the pending row's entry in the
// log and issues the same bytes again; see reconcile.
//
// A refusal is a [*hotline.Error] with a stable code; it changes nothing
// but a refusal's record, and is counted. A refusal for a reason the
// sender caused, once the envelope's header verified (see signedCodes),
// comes as a [*RefusedError] carrying this node's signed refusal,
// hotline-refusal/v1: stored, logged (direction 0x05) and the same for the
// same envelope, at most MaxRefusals per sender. Other errors (the store or the log failing) leave at most
// a pending row, which a retry or the next start-up completes, at the log
// index its entry already has if it has one.
func (n *Node) Accept(ctx context.Context, raw []byte) ([]byte, error) {
	start := time.Now()
	receipt, dup, err := n.accept(ctx, raw)
	if err != nil && signedCodes[Code(err)] {
		err = n.signRefusal(ctx, raw, err)
	}
	switch {
	case err != nil:
		n.metrics.Refused.WithLabelValues(Code(err)).Inc()
		n.logger.Info("refused envelope", "code", Code(err), "err", err)
	case dup:
		n.metrics.Duplicate.Inc()
	default:
		n.metrics.Accepted.Inc()
		n.metrics.AcceptDur.Observe(time.Since(start).Seconds())
	}
	return receipt, err
}

func (n *Node) accept(ctx context.Context, raw []byte) (receipt []byte, dup bool, err error) {
	e, err := hotline.Read(bytes.NewReader(raw), n.limits)
	if err != nil {
		return nil, false, err
	}
	now := n.clock.Now()
	h := &e.Header
	agr := n.agr.Load()
	v, err := agr.Version(h.Agreement)
	if err != nil {
		return nil, false, hotline.Errorf(ErrUnknownAgreement, "agreement version %s is unknown to %s", h.Agreement, n.party)
	}
	if _, err := v.Party(h.From); err != nil {
		return nil, false, hotline.Errorf(ErrUnknownSender, "%s is not a party to agreement version %d", h.From, v.Number())
	}
	if !agr.Ratified(h.From, v.Hash()) {
		return nil, false, hotline.Errorf(ErrNotRatified, "%s has not ratified agreement version %d", h.From, v.Number())
	}
	// A version governs a message only if both ends are bound by it.
	if !agr.Ratified(n.party, v.Hash()) {
		return nil, false, hotline.Errorf(ErrNotRatified, "%s has not ratified agreement version %d", n.party, v.Number())
	}
	// The key valid when the envelope was created, as long as a retired key
	// is within its grace and a revoked one was not yet known to be.
	key, err := agr.SignedMessageKey(h.From, h.Created, now)
	if err != nil {
		if errors.Is(err, agreement.ErrUnknownParty) {
			return nil, false, hotline.Errorf(ErrUnknownSender, "%s has no directory entry", h.From)
		}
		return nil, false, hotline.Errorf(ErrKeyNotValid, "%s has no message key for an envelope created at %s and received at %s: %v", h.From, hotline.FormatTime(h.Created), hotline.FormatTime(now), err)
	}
	if err := h.CheckCreated(now); err != nil {
		return nil, false, err
	}
	if err := e.Verify(key); err != nil {
		return nil, false, err
	}
	if err := checkRecipients(agr, v, h); err != nil {
		return nil, false, err
	}
	if h.Index(n.party) < 0 {
		return nil, false, hotline.Errorf(hotline.ErrNotRecipient, "%s is not a recipient of %s", n.party, e.ID())
	}
	if e.Stanza(n.party) == nil {
		return nil, false, hotline.Errorf(hotline.ErrNotRecipient, "this is %s's view, not %s's", e.ViewFor(), n.party)
	}

	id := e.ID()
	unlock := n.locks.lock(id)
	defer func() {
		if unlock != nil {
			unlock()
		}
	}()

	// An envelope already receipted gets its stored receipt before it is
	// opened: this node's keys or the templates may have changed since,
	// and the sender must still get the receipt it is owed.
	if r, err := n.store.Receipt(ctx, id, n.party); err == nil {
		return r.Note, true, nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, false, fmt.Errorf("looking up receipt of %s: %w", id, err)
	}

	m, err := e.Open(n.party, n.encKeys...)
	if err != nil {
		return nil, false, err
	}
	kind, err := v.Kind(m.Inner.Kind)
	if err != nil {
		return nil, false, hotline.Errorf(ErrUnknownKind, "kind %q is not in agreement version %d", m.Inner.Kind, v.Number())
	}
	if kind.RequiresRef && len(m.Inner.Refs) == 0 {
		return nil, false, hotline.Errorf(ErrInvalidBody, "a %s must refer to the message it answers", kind.Name)
	}
	if err := n.bodies.CheckBody(m.Inner.Kind, m.Inner.Marking, m.Body); err != nil {
		return nil, false, invalidBody(m.Inner.Kind, err)
	}

	// The bytes received are canonical (Read refuses any other); only a
	// full envelope, sent where a view would do, is cut down to this
	// node's view before it is stored.
	stored := raw
	if e.ViewFor() != n.party {
		view, err := e.View(n.party)
		if err != nil {
			return nil, false, err
		}
		stored = view.Marshal()
	}
	entry := hotline.LeafEntry(n.log.Origin(), hotline.Received, id)
	rec := &store.Received{
		Envelope: store.Envelope{
			Direction:     hotline.Received,
			ID:            id,
			From:          h.From,
			To:            recipients(h),
			Group:         h.Group,
			Created:       h.Created,
			AgreementHash: h.Agreement,
			Exercise:      h.Exercise,
			Kind:          m.Inner.Kind,
			Severity:      m.Inner.Severity,
			Marking:       m.Inner.Marking,
			Thread:        m.Inner.Thread,
			Refs:          m.Inner.Refs,
			Raw:           stored,
			Body:          m.Body,
			At:            now,
			PairSeq:       m.Seq,
			PairPrev:      m.Prev,
		},
		Entry: entry,
	}
	ins, err := n.store.InsertReceived(ctx, rec)
	var sc *store.SequenceConflictError
	if errors.As(err, &sc) {
		return nil, false, n.sequenceConflict(ctx, e, m, sc)
	}
	if err != nil {
		return nil, false, fmt.Errorf("storing envelope %s: %w", id, err)
	}
	at := now
	leaf := ins.Leaf
	pending := false
	if ins.Existed {
		if ins.Leaf.Sequenced {
			// Stored and sequenced by another process sharing the store
			// since the lookup above: its receipt.
			r, err := n.store.Receipt(ctx, id, n.party)
			if err != nil {
				return nil, false, fmt.Errorf("looking up receipt of %s: %w", id, err)
			}
			return r.Note, true, nil
		}
		// A pending row from an attempt that failed after storing; its
		// receipt keeps the time the envelope was first received.
		stored, err := n.store.Envelope(ctx, hotline.Received, id)
		if err != nil {
			return nil, false, fmt.Errorf("reading envelope %s: %w", id, err)
		}
		at = stored.At
		pending = true
	}
	index, found := uint64(0), false
	if pending {
		// The attempt that stored the row may have appended the entry
		// before it failed: look for it rather than append it twice.
		if index, found, err = n.findEntry(ctx, leaf); err != nil {
			return nil, false, err
		}
	}
	if !found {
		if n.before != nil {
			n.before(hotline.Received, id)
		}
		if index, err = n.log.Append(ctx, entry); err != nil {
			return nil, false, fmt.Errorf("appending %s to the log: %w", id, err)
		}
	}
	leaf.Index, leaf.Sequenced = index, true
	note, issued, err := n.signReceipt(leaf, at)
	if err != nil {
		return nil, false, err
	}
	recorded, ok := n.records.start()
	if !ok {
		// The node is closing: record it before answering.
		if err := n.recordReceipt(ctx, leaf, issued); err != nil {
			return nil, false, err
		}
		return note, false, nil
	}
	held := unlock
	unlock = nil
	go func() {
		// The caller has its receipt: the record is not cut short by its
		// context.
		ctx := context.WithoutCancel(ctx)
		err := n.recordReceipt(ctx, leaf, issued)
		if err == nil {
			held()
			recorded()
			return
		}
		n.metrics.RecordFailed.Inc()
		n.logger.Error("recording a receipt issued (tried again until the store takes it, or at the next start-up)",
			"message", id.String(), "index", leaf.Index, "err", err)
		// Tried again apart from the records in flight: operator reads
		// (Settle) do not wait for a store that cannot write.
		retried, ok := n.retries.start()
		recorded()
		if !ok {
			held() // closing: start-up records it
			return
		}
		defer retried()
		defer held()
		n.recordAgain(ctx, leaf, issued)
	}()
	return note, false, nil
}

// recordAgain records a receipt issued whose record failed, trying again
// while the store fails (a full disk, a database away): the receipt is a
// function of the durable row and entry, so the node records the very
// bytes the sender holds as soon as the store takes writes again, with no
// peer's retry and no restart needed. It gives up when the node closes;
// start-up then finds the pending row and issues the same bytes
// (reconcile).
func (n *Node) recordAgain(ctx context.Context, leaf store.Leaf, issued *store.Receipt) {
	n.tryAgain(func() error { return n.recordReceipt(ctx, leaf, issued) },
		"recorded a receipt issued, the store taking writes again", "message", leaf.Object.String(), "index", leaf.Index)
}

// tryAgain calls f, waiting longer between tries, until it succeeds (then
// logs done with attrs) or the node closes.
func (n *Node) tryAgain(f func() error, done string, attrs ...any) {
	wait := recordRetryMin
	for tries := 2; ; tries++ {
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-n.retries.stopping():
			t.Stop()
			return
		}
		if err := f(); err == nil {
			n.logger.Info(done, append(attrs, "tries", tries)...)
			return
		}
		wait = min(2*wait, recordRetryMax)
	}
}

// The wait between tries to record a receipt issued.
const (
	recordRetryMin = 250 * time.Millisecond
	recordRetryMax = 5 * time.Second
)

// findEntry looks for a pending leaf's entry in the log, at or above the
// high-water mark recorded with it.
func (n *Node) findEntry(ctx context.Context, l store.Leaf) (uint64, bool, error) {
	for e, err := range n.log.EntriesFrom(ctx, l.After) {
		if err != nil {
			return 0, false, fmt.Errorf("reading the log from %d: %w", l.After, err)
		}
		if e.Data == l.Entry {
			return e.Index, true, nil
		}
	}
	return 0, false, nil
}

// signReceipt signs the receipt for a received envelope whose leaf is at
// leaf.Index. The same leaf and time always give the same bytes.
func (n *Node) signReceipt(leaf store.Leaf, received time.Time) ([]byte, *store.Receipt, error) {
	r := &hotline.Receipt{
		Message:   leaf.Object,
		Party:     n.party,
		Received:  received,
		LogOrigin: n.log.Origin(),
		LogIndex:  leaf.Index,
	}
	note, err := hotline.Sign(r, n.keys.Message)
	if err != nil {
		return nil, nil, err
	}
	return note, &store.Receipt{MessageID: leaf.Object, Party: n.party, Received: received.UTC().Truncate(time.Second), LogIndex: leaf.Index, Note: note}, nil
}

// recordReceipt records a leaf's index and the receipt issued for it in
// one transaction.
func (n *Node) recordReceipt(ctx context.Context, leaf store.Leaf, rec *store.Receipt) error {
	if err := n.store.Sequenced(ctx, hotline.Received, leaf.Object, leaf.Index, rec); err != nil {
		return fmt.Errorf("recording receipt for %s: %w", leaf.Object, err)
	}
	return nil
}

// issueReceipt signs the receipt for a received envelope whose leaf is at
// leaf.Index and records it with the index in one transaction.
func (n *Node) issueReceipt(ctx context.Context, leaf store.Leaf, received time.Time) ([]byte, error) {
	note, rec, err := n.signReceipt(leaf, received)
	if err != nil {
		return nil, err
	}
	return note, n.recordReceipt(ctx, leaf, rec)
}

func recipients(h *hotline.Header) []string {
	to := make([]string, len(h.Recipients))
	for i, r := range h.Recipients {
		to[i] = r.Party
	}
	return to
}

// sequenceConflict keeps the proof that e and the envelope the store holds
// break the sender's sequence towards this node, raises the alarm once per
// proof, and returns the refusal. The same envelope again makes the same
// proof (its two headers in a fixed order), so it is refused the same way
// and stored once.
//
// In a version 2 envelope the sequence number and previous id are this
// node's opening of the header's commitment (m.Opening); the proof carries
// the openings of both envelopes, the stored one's opened again from its
// stanza, so that it stays self-contained.
func (n *Node) sequenceConflict(ctx context.Context, e *hotline.Envelope, m *hotline.Message, sc *store.SequenceConflictError) error {
	h := &e.Header
	refuse := hotline.Errorf(ErrSequenceConflict, "envelope %d from %s to %s (previous %s) conflicts with envelope %s received before",
		m.Seq, h.From, n.party, prevString(m.Prev), sc.StoredID)
	stored, err := hotline.Parse(sc.Stored)
	if err != nil {
		return fmt.Errorf("parsing stored envelope %s: %w", sc.StoredID, err)
	}
	var storedOpening []byte
	if stored.Header.Version == 2 {
		sm, err := stored.Open(n.party, n.encKeys...)
		if err != nil {
			return fmt.Errorf("opening stored envelope %s for its sequence opening: %w", sc.StoredID, err)
		}
		storedOpening = sm.Opening
	}
	proof, err := hotline.NewSequenceConflict(n.party, e, m.Opening, stored, storedOpening)
	if err != nil {
		return fmt.Errorf("making the sequence-conflict proof of %s and %s: %w", e.ID(), sc.StoredID, err)
	}
	existed, err := n.store.AddEquivocation(ctx, &store.EquivocationRecord{Origin: SequenceOrigin(h.From), Proof: proof.Marshal(), At: n.clock.Now()})
	if err != nil {
		return fmt.Errorf("storing the sequence-conflict proof of %s: %w", e.ID(), err)
	}
	if !existed {
		n.logger.Error("SEQUENCE CONFLICT: a sender signed two envelopes that break its sequence to this node",
			"from", h.From, "seq", m.Seq, "id", e.ID(), "stored", sc.StoredID)
		if n.onSeq != nil {
			n.onSeq(proof)
		}
	}
	return refuse
}

// SequenceOrigin is the origin under which a sender's sequence-conflict
// proofs are kept among the equivocation proofs.
func SequenceOrigin(sender string) string { return "sequence:" + sender }

func prevString(id hotline.ID) string {
	if id.IsZero() {
		return "-"
	}
	return id.String()
}

// signedCodes are the refusals a node signs: the sender caused them, and
// each is checked only once the envelope's header signature verified, so
// the refusal names a header the sender signed. Of these, a third party
// can check invalid_body and unknown_kind given the content key (which
// opens the payload), bad_stanza and bad_payload with the view alone, and
// sequence_conflict from its proof; bad_commitment and decrypt_failed are
// the recipient's word (PROTOCOL.md §6, Refusal).
var signedCodes = map[string]bool{
	hotline.ErrBadStanza.Code:     true,
	hotline.ErrBadPayload.Code:    true,
	hotline.ErrBadCommitment.Code: true,
	hotline.ErrDecrypt.Code:       true,
	ErrInvalidBody.Code:           true,
	ErrUnknownKind.Code:           true,
	ErrSequenceConflict.Code:      true,
}

// DefaultMaxRefusals is how many signed refusals a node keeps per sender
// when Config.MaxRefusals is zero; over it, refusals go unsigned.
const DefaultMaxRefusals = 1000

// RefusedError is a refusal with this node's signed statement of it.
type RefusedError struct {
	Err error
	// Statement is the signed hotline-refusal/v1 note.
	Statement []byte
}

func (e *RefusedError) Error() string { return e.Err.Error() }

// Unwrap returns the refusal.
func (e *RefusedError) Unwrap() error { return e.Err }

// RefusalStatement returns the signed refusal (package refusal sends it).
func (e *RefusedError) RefusalStatement() []byte { return e.Statement }

// signRefusal signs, stores and logs this node's refusal of the envelope
// raw for cause, or returns the one stored for it before; it returns cause
// unchanged when it cannot (the sender's quota is full, or the store or
// the log fails: the refusal still goes out, unsigned).
func (n *Node) signRefusal(ctx context.Context, raw []byte, cause error) error {
	e, err := hotline.Read(bytes.NewReader(raw), n.limits)
	if err != nil {
		return cause
	}
	id := e.ID()
	st := &hotline.Refusal{Message: id, Party: n.party, Header: sha256.Sum256(e.SignedHeader()), Code: Code(cause), Time: n.clock.Now()}
	note, err := hotline.Sign(st, n.keys.Message)
	if err != nil {
		n.logger.Error("signing a refusal", "id", id, "err", err)
		return cause
	}
	rid := hotline.NoteID(st.Text())
	max := n.maxRefusals
	if max <= 0 {
		max = DefaultMaxRefusals
	}
	rec, existed, err := n.store.AddRefusal(ctx, &store.Refusal{Direction: hotline.RefusalIssued, Message: id, Peer: e.Header.From,
		Code: st.Code, At: st.Time, Note: note, ID: rid, Entry: hotline.LeafEntry(n.log.Origin(), hotline.RefusalIssued, rid)}, max)
	if errors.Is(err, store.ErrFull) {
		n.logger.Warn("refusing unsigned: the sender's signed refusals fill their quota", "from", e.Header.From, "max", max)
		return cause
	}
	if err != nil {
		n.logger.Error("storing a refusal", "id", id, "err", err)
		return cause
	}
	if existed {
		// The same envelope gets the same refusal.
		cause = hotline.Errorf(hotline.NewError(rec.Code, rec.Code), "refused before, at %s: %v", hotline.FormatTime(rec.At), cause)
	}
	if !rec.Sequenced {
		index, err := n.log.Append(ctx, rec.Entry)
		if err == nil {
			err = n.store.RefusalSequenced(ctx, hotline.RefusalIssued, rec.ID, index)
		}
		if err != nil {
			n.logger.Error("logging a refusal", "id", id, "err", err)
		}
	}
	return &RefusedError{Err: cause, Statement: rec.Note}
}
