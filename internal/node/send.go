package node

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/agreement"
	"github.com/hotline-net/hotline/internal/store"
)

// Draft is a message an operator sends.
type Draft struct {
	// To names the recipients; Group names a group of the agreement,
	// expanded now. At least one of them; both add up.
	To       []string
	Group    string
	Kind     string
	Severity hotline.Severity
	Marking  hotline.Marking
	// Thread and Refs place the message in a thread and name the messages
	// it answers; see [Node.Reply] for the usual case.
	Thread   hotline.ID
	Refs     []hotline.ID
	Exercise bool
	Body     []byte
}

// maxSealRetries bounds how often Send seals again when a concurrent send
// took a sequence number first. Within one process sends take sequence
// numbers one at a time (Node.seqMu), so this only happens between
// processes sharing a store.
const maxSealRetries = 16

// Send checks d, seals it to each recipient, and stores the envelope, its
// log entry and one outbox row per recipient before anything leaves the
// node. It returns the message id once the entry is sequenced in the log;
// delivery starts once its index is recorded (at once; or, if the store
// fails to record it, as soon as the store takes writes again).
func (n *Node) Send(ctx context.Context, d Draft) (hotline.ID, error) {
	id, err := n.send(ctx, d)
	if err != nil {
		return hotline.ID{}, err
	}
	n.metrics.Sent.Inc()
	n.kick()
	return id, nil
}

func (n *Node) send(ctx context.Context, d Draft) (hotline.ID, error) {
	now := n.clock.Now()
	agr := n.agr.Load()
	// Groups expand under the newest version this node is bound by.
	mine, err := agr.InForce(now, n.party)
	if err != nil {
		return hotline.ID{}, fmt.Errorf("no agreement version in force: %w", err)
	}
	if !d.Severity.Valid() || !d.Marking.Valid() {
		return hotline.ID{}, hotline.Errorf(ErrInvalidRequest, "severity %q or marking %q is not valid", d.Severity, d.Marking)
	}
	to := slices.Clone(d.To)
	if d.Group != "" {
		members, err := mine.Expand(d.Group)
		if err != nil {
			return hotline.ID{}, hotline.Errorf(ErrUnknownRecipient, "group %q: %v", d.Group, err)
		}
		to = append(to, members...)
	}
	slices.Sort(to)
	to = slices.Compact(to)
	to = slices.DeleteFunc(to, func(p string) bool { return p == n.party })
	if len(to) == 0 {
		return hotline.ID{}, hotline.Errorf(ErrUnknownRecipient, "no recipients other than %s", n.party)
	}
	for _, p := range to {
		if _, err := mine.Party(p); err != nil {
			return hotline.ID{}, hotline.Errorf(ErrUnknownRecipient, "%s is not a party to agreement version %d", p, mine.Number())
		}
	}
	// The message is governed by the highest version the sender and every
	// recipient have ratified.
	v, err := agr.InForce(now, append([]string{n.party}, to...)...)
	if err != nil {
		return hotline.ID{}, hotline.Errorf(ErrNotRatified, "no version of the agreement is ratified by %s and all of %s", n.party, strings.Join(to, ", "))
	}
	kind, err := v.Kind(d.Kind)
	if err != nil {
		return hotline.ID{}, hotline.Errorf(ErrUnknownKind, "kind %q is not in agreement version %d", d.Kind, v.Number())
	}
	if kind.RequiresRef && len(d.Refs) == 0 {
		return hotline.ID{}, hotline.Errorf(ErrInvalidBody, "a %s must refer to the message it answers", kind.Name)
	}
	if err := n.bodies.CheckBody(d.Kind, d.Marking, d.Body); err != nil {
		return hotline.ID{}, invalidBody(d.Kind, err)
	}
	keys := make([]*hotline.EncryptionPublicKey, len(to))
	for i, p := range to {
		if keys[i], err = agr.EncryptionKey(p, now); err != nil {
			return hotline.ID{}, hotline.Errorf(ErrKeyNotValid, "%s has no encryption key valid now: %v", p, err)
		}
	}

	version := envelopeVersion(agr, to)
	for range maxSealRetries {
		id, entry, err := n.seal(ctx, d, v, version, to, keys, now)
		if errors.Is(err, store.ErrConflict) {
			continue // another process took a sequence number: seal again
		}
		if err != nil {
			return hotline.ID{}, err
		}
		if n.before != nil {
			n.before(hotline.Sent, id)
		}
		// The envelope is stored: from here the send completes even if
		// the operator's request goes away, or its outbox rows would not
		// be due until the next start-up.
		ctx := context.WithoutCancel(ctx)
		index, err := n.log.Append(ctx, entry)
		if err != nil {
			return hotline.ID{}, fmt.Errorf("appending %s to the log: %w", id, err)
		}
		if err := n.store.Sequenced(ctx, hotline.Sent, id, index, nil); err != nil {
			// The envelope and its entry are durable: the message is
			// sent, its outbox rows due once the index is recorded —
			// tried again until the store takes it (a full disk), or at
			// the next start-up. Left as it is, its sequence number
			// would hold every later message to its recipients back.
			done, ok := n.retries.start()
			if !ok {
				return hotline.ID{}, fmt.Errorf("recording log index of %s: %w", id, err)
			}
			n.logger.Error("recording the log index of a message sent (tried again until the store takes it, or at the next start-up)",
				"message", id.String(), "index", index, "err", err)
			go func() {
				defer done()
				n.tryAgain(func() error {
					if err := n.store.Sequenced(ctx, hotline.Sent, id, index, nil); err != nil {
						return err
					}
					n.kick()
					return nil
				}, "recorded the log index of a message sent, the store taking writes again", "message", id.String(), "index", index)
			}()
		}
		return id, nil
	}
	return hotline.ID{}, fmt.Errorf("sending: sequence numbers kept changing under %d attempts", maxSealRetries)
}

// SentInnerKey is the store value under which a node keeps the inner
// header (salt included) of an envelope it sent, as [hotline.Envelope.SealedInner]
// returned it: the sender cannot decrypt its own envelope, and an evidence
// bundle reveals the inner header so that a third party can check it
// against the header's inner commitment.
func SentInnerKey(id hotline.ID) string { return "inner/" + id.String() }

// SentOpeningsKey is the store value under which a node keeps, for a
// version 2 envelope it sent, each recipient's sequence opening
// ([hotline.Envelope.SealedOpening]), one "party base64" line each: with
// it the sender can show a third party the numbers it committed to.
func SentOpeningsKey(id hotline.ID) string { return "openings/" + id.String() }

// SentOpening returns the opening of party's sequence commitment in the
// version 2 envelope id this node sent, as [SentOpeningsKey] keeps it;
// nil for a version 1 envelope. With it, [hotline.Header.Sequence] gives
// the sequence number and previous id the envelope carries to party.
func (n *Node) SentOpening(ctx context.Context, id hotline.ID, party string) ([]byte, error) {
	v, err := n.store.Value(ctx, SentOpeningsKey(id))
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the sequence openings of %s: %w", id, err)
	}
	for line := range strings.Lines(string(v)) {
		if p, o, ok := strings.Cut(strings.TrimSuffix(line, "\n"), " "); ok && p == party {
			return base64.StdEncoding.DecodeString(o)
		}
	}
	return nil, fmt.Errorf("no sequence opening of %s for %s", id, party)
}

// envelopeVersion returns the envelope version to seal to recipients to:
// 2 (hotline-envelope/v2, whose header shows no recipient another's
// sequence) when every recipient's directory entry lists protocol 2, and
// 1 otherwise, since a node that speaks only protocol 1 cannot read
// version 2. One envelope has one header, so a single recipient still on
// version 1 makes the whole group's header version 1.
func envelopeVersion(agr *agreement.Agreement, to []string) int {
	for _, p := range to {
		ps, err := agr.Protocols(p)
		if err != nil || !slices.Contains(ps, 2) {
			return 1
		}
	}
	return 2
}

// seal takes the next sequence number to each recipient, seals d with
// them and stores the envelope with its outbox rows. Sends of this node
// do it one at a time: concurrent sends sealing with the same numbers
// would all but one be refused by the store and seal again, and under
// load could exhaust their retries (a 500 to the operator).
func (n *Node) seal(ctx context.Context, d Draft, v *agreement.Version, version int, to []string, keys []*hotline.EncryptionPublicKey, now time.Time) (hotline.ID, [hotline.EntrySize]byte, error) {
	n.seqMu.Lock()
	defer n.seqMu.Unlock()
	seqs, err := n.store.NextSequences(ctx, to)
	if err != nil {
		return hotline.ID{}, [hotline.EntrySize]byte{}, fmt.Errorf("allocating sequence numbers: %w", err)
	}
	hd := &hotline.Draft{
		Version:   version,
		Agreement: v.Hash(),
		From:      n.party,
		Group:     d.Group,
		Created:   now,
		Exercise:  d.Exercise,
		Inner: hotline.Inner{
			Kind: d.Kind, Severity: d.Severity, Marking: d.Marking,
			Thread: d.Thread, Refs: d.Refs,
		},
		Body: d.Body,
	}
	for i, p := range to {
		hd.To = append(hd.To, hotline.Addressee{Party: p, Key: keys[i], Seq: seqs[i].Seq, Prev: seqs[i].Prev})
	}
	e, err := hotline.Seal(hd, n.keys.Message)
	if err != nil {
		return hotline.ID{}, [hotline.EntrySize]byte{}, err
	}
	id := e.ID()
	// The inner header and its salt, kept before the envelope is stored:
	// only with them can this party later reveal to a third party (an
	// evidence bundle) the kind, severity and refs it committed to.
	if err := n.store.SetValue(ctx, SentInnerKey(id), e.SealedInner()); err != nil {
		return hotline.ID{}, [hotline.EntrySize]byte{}, fmt.Errorf("storing the inner header of %s: %w", id, err)
	}
	if e.Header.Version == 2 {
		var ob strings.Builder
		for _, p := range to {
			fmt.Fprintf(&ob, "%s %s\n", p, base64.StdEncoding.EncodeToString(e.SealedOpening(p)))
		}
		if err := n.store.SetValue(ctx, SentOpeningsKey(id), []byte(ob.String())); err != nil {
			return hotline.ID{}, [hotline.EntrySize]byte{}, fmt.Errorf("storing the sequence openings of %s: %w", id, err)
		}
	}
	entry := hotline.LeafEntry(n.log.Origin(), hotline.Sent, id)
	_, err = n.store.InsertSent(ctx, &store.Sent{
		Envelope: store.Envelope{
			Direction:     hotline.Sent,
			ID:            id,
			From:          n.party,
			To:            to,
			Group:         d.Group,
			Created:       e.Header.Created,
			AgreementHash: v.Hash(),
			Exercise:      d.Exercise,
			Kind:          d.Kind,
			Severity:      d.Severity,
			Marking:       d.Marking,
			Thread:        d.Thread,
			Refs:          d.Refs,
			Raw:           e.Marshal(),
			Body:          d.Body,
			At:            now,
		},
		Seqs:  seqs,
		Entry: entry,
	})
	if errors.Is(err, store.ErrConflict) {
		return hotline.ID{}, [hotline.EntrySize]byte{}, err
	}
	if err != nil {
		return hotline.ID{}, [hotline.EntrySize]byte{}, fmt.Errorf("storing sent envelope: %w", err)
	}
	return id, entry, nil
}

// Reply sends a message of the given kind that answers message id (which
// this node received): to its sender, in its thread, referring to it, under
// the same marking. It is how an officer acknowledges and responds. An ack
// or a response to a message that obliges nothing it could meet is refused
// with obligations.ErrNothingOwed; a second ack of the same message returns the first
// one's id and sends nothing.
func (n *Node) Reply(ctx context.Context, id hotline.ID, kind string, body []byte) (hotline.ID, error) {
	orig, err := n.store.Envelope(ctx, hotline.Received, id)
	if errors.Is(err, store.ErrNotFound) {
		return hotline.ID{}, hotline.Errorf(ErrNotFound, "no received message %s", id)
	}
	if err != nil {
		return hotline.ID{}, err
	}
	if err := n.checkOwed(&orig, kind); err != nil {
		return hotline.ID{}, err
	}
	if kind == "ack" {
		// One ack per message: a second is the first again, so that an
		// officer's double click does not send two.
		defer n.locks.lock(id)()
		if prev, ok, err := n.sentAck(ctx, &orig); err != nil {
			return hotline.ID{}, err
		} else if ok {
			return prev, nil
		}
	}
	return n.Send(ctx, Draft{
		To:       []string{orig.From},
		Kind:     kind,
		Severity: orig.Severity,
		Marking:  orig.Marking,
		Thread:   orig.ThreadID(),
		Refs:     []hotline.ID{id},
		Exercise: orig.Exercise,
		Body:     body,
	})
}
