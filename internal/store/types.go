package store

import (
	"fmt"
	"math"
	"time"
	"unicode/utf8"

	"github.com/hotline-net/hotline"
)

// Envelope is a stored envelope: its raw bytes, the header fields queries
// need, and what its recipient decrypted. Times keep nanosecond precision
// and are returned in UTC.
type Envelope struct {
	// Direction is hotline.Sent for an envelope this node sent and
	// hotline.Received for one it received.
	Direction hotline.Direction
	// ID is the message id.
	ID hotline.ID
	// From is the sending party.
	From string
	// To lists the recipients, in the header's order.
	To []string
	// Group is the group label the sender addressed, if any.
	Group string
	// Created is the header's creation time (for display).
	Created time.Time
	// AgreementHash names the agreement version the envelope was sent under.
	AgreementHash [32]byte
	// Exercise marks drill traffic.
	Exercise bool

	// Kind, Severity, Marking, Thread and Refs come from the inner header.
	Kind     string
	Severity hotline.Severity
	Marking  hotline.Marking
	// Thread is the thread's id; zero for the first message of a thread,
	// whose own id is the thread id (see [Envelope.ThreadID]).
	Thread hotline.ID
	Refs   []hotline.ID

	// Raw is the envelope as stored: the recipient view as received, or
	// the whole envelope as sent. Listings leave it nil unless asked.
	Raw []byte
	// Body is the decrypted body. Listings leave it nil unless asked.
	Body []byte

	// At is when this node received the envelope, or stored it to send.
	At time.Time

	// PairSeq and PairPrev are, for a received envelope, the sequence
	// number the sender gave this node and the id of the envelope the
	// sender says it sent before. Zero for a sent envelope (its numbers are
	// on its outbox rows).
	PairSeq  uint64
	PairPrev hotline.ID

	// Stored is set by the store: the envelope's leaf is sequenced in the
	// log. Until then the envelope is pending.
	Stored bool
}

// ThreadID returns the id of the envelope's thread: Thread, or the
// envelope's own id for the first message of a thread.
func (e *Envelope) ThreadID() hotline.ID {
	if e.Thread.IsZero() {
		return e.ID
	}
	return e.Thread
}

// Received is what [Store.InsertReceived] stores.
type Received struct {
	// Envelope is the envelope as received; its Direction must be
	// hotline.Received or zero, and PairSeq must be set.
	Envelope Envelope
	// Entry is the envelope's log entry:
	// hotline.LeafEntry(origin, hotline.Received, id).
	Entry [hotline.EntrySize]byte
}

// SequenceConflictError is [Store.InsertReceived]'s refusal of an envelope
// that breaks the sequence rule against one already received from the same
// sender: the stored one has the same sequence number, or is the one before
// it and is not the envelope it names as previous, or is the one after it
// and names another envelope as previous. Stored is that envelope's raw
// bytes, from which the caller makes the proof. It matches ErrConflict.
type SequenceConflictError struct {
	StoredID hotline.ID
	Stored   []byte
}

func (e *SequenceConflictError) Error() string {
	return fmt.Sprintf("conflict: envelope %v already received breaks the sequence rule with this one", e.StoredID)
}

// Is reports whether target is ErrConflict.
func (e *SequenceConflictError) Is(target error) bool { return target == ErrConflict }

// Sent is what [Store.InsertSent] stores.
type Sent struct {
	// Envelope is the whole envelope as sent; its Direction must be
	// hotline.Sent or zero.
	Envelope Envelope
	// Seqs holds, for each recipient in Envelope.To and in the same order,
	// the sequence number and previous id the envelope carries for it, as
	// [Store.NextSequences] returned them.
	Seqs []PairSeq
	// Entry is the envelope's log entry:
	// hotline.LeafEntry(origin, hotline.Sent, id).
	Entry [hotline.EntrySize]byte
}

// Inserted reports the outcome of an insert.
type Inserted struct {
	// Existed means the same envelope was already stored; nothing was
	// written.
	Existed bool
	// Leaf is the envelope's leaf as it is now: pending (a crash between
	// the two steps of the package documentation), or sequenced.
	Leaf Leaf
}

// PairSeq is a per-pair sequence number: an envelope to Party carries Seq,
// and Prev, the id of the previous envelope to Party (zero for the first).
type PairSeq struct {
	Party string
	Seq   uint64
	Prev  hotline.ID
}

// Leaf is a pending leaf row: an entry this node appends, or appended, to
// its log. There is one per (Direction, Object).
type Leaf struct {
	// Entry is the 32-byte log entry (see hotline.LeafEntry).
	Entry [hotline.EntrySize]byte
	// Direction and Object say what the entry stands for: the envelope with
	// that id sent or received, or the receipt whose note text has that id.
	Direction hotline.Direction
	Object    hotline.ID
	// Sequenced reports whether Index is known.
	Sequenced bool
	// Index is the entry's index in the log, once sequenced.
	Index uint64
	// After is the log's high-water mark when the row was inserted, before
	// the entry was appended: if the entry was ever appended, it is at an
	// index at or above After. A node resolving pending leaves at start-up
	// scans the log from the lowest After.
	After uint64
}

// Receipt is a signed receipt: party's statement that it received,
// opened and durably stored message id, at the given index of its log.
type Receipt struct {
	MessageID hotline.ID
	// Party is the receiving party that issued the receipt.
	Party string
	// Received is the time the receipt states.
	Received time.Time
	// LogIndex is the index of the envelope's leaf in the issuer's log.
	LogIndex uint64
	// Note is the signed note, as issued.
	Note []byte
}

// OutboxState is the delivery state of an outbox row.
type OutboxState int

// The outbox states.
const (
	// OutboxPending rows are retried until delivered.
	OutboxPending OutboxState = iota + 1
	// OutboxDelivered rows have the recipient's receipt.
	OutboxDelivered
	// OutboxFailed rows are no longer retried; an operator can requeue
	// them, and a receipt arriving late still delivers them.
	OutboxFailed
)

func (s OutboxState) String() string {
	switch s {
	case OutboxPending:
		return "pending"
	case OutboxDelivered:
		return "delivered"
	case OutboxFailed:
		return "failed"
	}
	return fmt.Sprintf("OutboxState(%d)", int(s))
}

// OutboxRow is the delivery of one sent envelope to one recipient. Zero
// times mean "not yet".
type OutboxRow struct {
	ID        hotline.ID
	Recipient string
	// Seq and Prev are the per-pair sequence number and previous id the
	// envelope carries for Recipient.
	Seq  uint64
	Prev hotline.ID
	// Kind and Exercise are copied from the envelope, for alerts.
	Kind     string
	Exercise bool

	State        OutboxState
	Queued       time.Time
	Attempts     int
	NextAttempt  time.Time
	FirstAttempt time.Time
	LastAttempt  time.Time
	LastError    string
	// Route is the route of the last attempt or of the delivery, such as
	// "direct https://hotline.example/" or "relay DEP".
	Route     string
	Delivered time.Time
	Alerted   time.Time
	// Receipt is the recipient's receipt, once delivered.
	Receipt *Receipt

	// Included is when this node proved that the recipient's log holds
	// the leaf the receipt names ([Store.MarkIncluded]), and IncludedSize
	// the size of the recipient's checkpoint the inclusion proof was
	// checked against. Zero until proven; only a delivered row is proven.
	Included     time.Time
	IncludedSize uint64

	// Relayed is when a relay took the envelope for the recipient
	// ([Store.MarkRelayed]), RelayedVia the relay's party and RelayReceipt
	// the hotline-relay-receipt/v1 note it issued: the first relay to do
	// so. A relayed row stays pending until the recipient's own receipt
	// arrives.
	Relayed      time.Time
	RelayedVia   string
	RelayReceipt []byte
}

// Attempt is a failed delivery attempt, for [Store.RecordAttempt].
type Attempt struct {
	ID        hotline.ID
	Recipient string
	At        time.Time
	Route     string
	Error     string
	// Next is when the row is due again.
	Next time.Time
}

// Delivered is a delivery, for [Store.MarkDelivered].
type Delivered struct {
	ID        hotline.ID
	Recipient string
	At        time.Time
	Route     string
	// Receipt is the recipient's receipt; its MessageID and Party must be
	// ID and Recipient.
	Receipt Receipt
	// ReceiptID is hotline.NoteID of the receipt's note text, and Entry
	// the receipt's log entry:
	// hotline.LeafEntry(origin, hotline.ReceiptReceived, ReceiptID).
	ReceiptID hotline.ID
	Entry     [hotline.EntrySize]byte
}

// UndeliveredQuery selects outbox rows for [Store.Undelivered].
type UndeliveredQuery struct {
	// QueuedBefore selects rows queued strictly before it (now minus the
	// alert age).
	QueuedBefore time.Time
	// Unalerted selects only rows not yet marked alerted.
	Unalerted bool
	// Limit is the most rows returned; 0 means 100.
	Limit int
}

// OutboxFilter selects outbox rows. Zero fields select everything.
type OutboxFilter struct {
	// ID selects the rows of one envelope.
	ID hotline.ID
	// Recipient selects the rows to one party.
	Recipient string
	// State selects one state.
	State OutboxState
	// Unproven selects delivered rows whose receipt's inclusion is not yet
	// proven (see [Store.Unproven]).
	Unproven bool
	// Relayed selects rows a relay took (see [Store.MarkRelayed]); with
	// State OutboxPending, the envelopes held by a relay whose recipient
	// has not yet receipted them.
	Relayed bool
}

// OutboxQuery is a page request for [Store.Outbox].
type OutboxQuery struct {
	OutboxFilter
	// Cursor continues from a previous page's Next; empty starts at the
	// newest row.
	Cursor Cursor
	// Limit is the most rows on a page; 0 means 50, at most 1000.
	Limit int
}

// OutboxPage is a page of outbox rows.
type OutboxPage struct {
	Rows []OutboxRow
	// Next continues the listing; empty when this is the last page.
	Next Cursor
}

// MessageFilter selects envelopes. Zero fields select everything stored.
type MessageFilter struct {
	// Direction selects sent (hotline.Sent) or received (hotline.Received)
	// envelopes; zero selects both.
	Direction hotline.Direction
	// Party selects envelopes exchanged with a party: received from it, or
	// sent to it.
	Party string
	// Kind selects one message kind.
	Kind string
	// Thread selects the messages of one thread, its first message
	// included.
	Thread hotline.ID
	// IncludePending also selects envelopes whose leaf is not yet
	// sequenced.
	IncludePending bool
}

// EvidenceQuery selects what [Store.MessageEvidence] and
// [Store.OutboxEvidence] list.
type EvidenceQuery struct {
	// Thread selects the messages of one thread, its first message
	// included; zero selects every message.
	Thread hotline.ID
}

// MessageFacts is what [Store.MessageEvidence] returns of one envelope:
// the fields of [Envelope] of the same names. The value passed to the
// callback is valid during the call only; its slices may be kept but
// not modified (To is shared between envelopes with the same
// recipients).
type MessageFacts struct {
	Direction     hotline.Direction
	ID            hotline.ID
	From          string
	To            []string
	Kind          string
	Severity      hotline.Severity
	Thread        hotline.ID // zero for a thread's first message
	Refs          []hotline.ID
	AgreementHash hotline.ID
	Created       time.Time
	At            time.Time
	// Challenge is the challenge code a ping's body carries, or the one an
	// ack's body repeats (the body's "challenge" member); empty for other
	// kinds and for bodies without one.
	Challenge string
}

// DeliveryFacts is what [Store.OutboxEvidence] returns of one outbox row:
// the fields of [OutboxRow] of the same names — Attempts, FirstAttempt,
// LastAttempt and LastError only for a row not delivered, zero for a
// delivered one — and the recipient's receipt's time and log index if it
// arrived. The value passed to the callback is valid during the call
// only.
type DeliveryFacts struct {
	ID           hotline.ID
	Recipient    string
	State        OutboxState
	Attempts     int
	FirstAttempt time.Time
	LastAttempt  time.Time
	LastError    string
	Relayed      time.Time
	// Receipted reports that the recipient's receipt arrived: it states
	// the time Received and the index LogIndex of the envelope's leaf in
	// the recipient's log.
	Receipted bool
	Received  time.Time
	LogIndex  uint64
}

// MessageQuery is a page request for [Store.Messages].
type MessageQuery struct {
	MessageFilter
	// Oldest lists oldest first instead of newest first (a thread, in the
	// order this node learned of its messages).
	Oldest bool
	// Content fills Raw and Body.
	Content bool
	// Cursor continues from a previous page's Next (of a query with the
	// same Oldest); empty starts at the beginning.
	Cursor Cursor
	// Limit is the most envelopes on a page; 0 means 50, at most 1000.
	Limit int
}

// MessagePage is a page of envelopes.
type MessagePage struct {
	Envelopes []Envelope
	// Next continues the listing; empty when this is the last page.
	Next Cursor
}

// Cursor is an opaque position in a listing. Listings are ordered by the
// order rows were inserted, not by timestamps, so paging stays correct while
// rows are added: every row that existed when the first page was read is
// listed exactly once, and no row is listed twice.
type Cursor string

// SeqRange is an inclusive range of sequence numbers.
type SeqRange struct {
	From, To uint64
}

// MaxGaps is the most ranges [InboundSeqs.Gaps] holds.
const MaxGaps = 256

// InboundSeqs summarises the sequence numbers of the envelopes received
// from one peer.
type InboundSeqs struct {
	Peer string
	// Highest is the highest sequence number received.
	Highest uint64
	// Count is how many distinct sequence numbers were received.
	Count uint64
	// Missing is how many numbers between 1 and Highest were not received.
	Missing uint64
	// Gaps lists the missing numbers as ranges, lowest first, at most
	// MaxGaps of them.
	Gaps []SeqRange
}

// Agreement is one version of the agreement.
type Agreement struct {
	Version uint64
	Hash    [32]byte
	// Raw is the signed agreement document.
	Raw []byte
	// At is when this node recorded it.
	At time.Time
}

// Checkpoint is the last seen checkpoint of a peer's log.
type Checkpoint struct {
	Origin string
	Size   uint64
	// Note is the signed checkpoint note, with its cosignatures.
	Note []byte
	// At is when this node recorded it.
	At time.Time
}

// Limits on what a store accepts.
const (
	// MaxPartyLen is the longest party id, in bytes.
	MaxPartyLen = 255
	// MaxRecipients is the most recipients of one envelope.
	MaxRecipients = 1024
	// MaxShortText is the longest kind, group label, route, key or origin,
	// in bytes.
	MaxShortText = 1024
	// MaxErrorText is the longest error text kept on an outbox row, in
	// bytes; longer texts are cut.
	MaxErrorText = 4096
)

// minTime and maxTime bound the times a store keeps: nanoseconds since 1970
// in a signed 64-bit integer.
var (
	minTime = time.Unix(0, math.MinInt64)
	maxTime = time.Unix(0, math.MaxInt64)
)

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// CheckParty returns ErrInvalid unless p can be stored as a party id.
func CheckParty(what, p string) error {
	if p == "" {
		return invalid("%s: empty party", what)
	}
	return checkText(what, p, MaxPartyLen)
}

func checkText(what, s string, max int) error {
	if len(s) > max {
		return invalid("%s: longer than %d bytes", what, max)
	}
	if !utf8.ValidString(s) {
		return invalid("%s: not UTF-8", what)
	}
	for _, r := range s {
		if r == 0 {
			return invalid("%s: contains NUL", what)
		}
	}
	return nil
}

// CheckTime returns ErrInvalid unless t is set and storable.
func CheckTime(what string, t time.Time) error {
	if t.IsZero() {
		return invalid("%s: zero time", what)
	}
	if t.Before(minTime) || t.After(maxTime) {
		return invalid("%s: %v out of range", what, t)
	}
	return nil
}

// CheckUint returns ErrInvalid unless v fits a signed 64-bit column.
func CheckUint(what string, v uint64) error {
	if v > math.MaxInt64 {
		return invalid("%s: %d out of range", what, v)
	}
	return nil
}

// Check returns ErrInvalid unless e can be stored in direction dir.
func (e *Envelope) Check(dir hotline.Direction) error {
	if e.Direction != dir && e.Direction != 0 {
		return invalid("envelope direction %v, want %v", e.Direction, dir)
	}
	if e.ID.IsZero() {
		return invalid("envelope: zero id")
	}
	if err := CheckParty("envelope from", e.From); err != nil {
		return err
	}
	if len(e.To) == 0 || len(e.To) > MaxRecipients {
		return invalid("envelope: %d recipients, want 1 to %d", len(e.To), MaxRecipients)
	}
	seen := make(map[string]bool, len(e.To))
	for _, p := range e.To {
		if err := CheckParty("envelope recipient", p); err != nil {
			return err
		}
		if seen[p] {
			return invalid("envelope: recipient %q twice", p)
		}
		seen[p] = true
	}
	if err := checkText("envelope group", e.Group, MaxShortText); err != nil {
		return err
	}
	if err := CheckTime("envelope created", e.Created); err != nil {
		return err
	}
	if e.Kind == "" {
		return invalid("envelope: empty kind")
	}
	if err := checkText("envelope kind", e.Kind, MaxShortText); err != nil {
		return err
	}
	if e.Severity != "" && !e.Severity.Valid() {
		return invalid("envelope: severity %q", e.Severity)
	}
	if e.Marking != "" && !e.Marking.Valid() {
		return invalid("envelope: marking %q", e.Marking)
	}
	if e.Thread == e.ID {
		return invalid("envelope: thread is its own id (leave it zero)")
	}
	if len(e.Raw) == 0 {
		return invalid("envelope: no raw bytes")
	}
	if err := CheckTime("envelope at", e.At); err != nil {
		return err
	}
	if err := CheckUint("envelope pair sequence", e.PairSeq); err != nil {
		return err
	}
	switch dir {
	case hotline.Received:
		if e.PairSeq == 0 {
			return invalid("received envelope: zero pair sequence")
		}
	case hotline.Sent:
		if e.PairSeq != 0 || !e.PairPrev.IsZero() {
			return invalid("sent envelope: pair sequence set (it belongs in Seqs)")
		}
	}
	return nil
}

// Check returns ErrInvalid unless r can be stored.
func (r *Received) Check() error {
	if err := r.Envelope.Check(hotline.Received); err != nil {
		return err
	}
	if r.Entry == ([hotline.EntrySize]byte{}) {
		return invalid("received: zero leaf entry")
	}
	return nil
}

// Check returns ErrInvalid unless s can be stored.
func (s *Sent) Check() error {
	if err := s.Envelope.Check(hotline.Sent); err != nil {
		return err
	}
	if s.Entry == ([hotline.EntrySize]byte{}) {
		return invalid("sent: zero leaf entry")
	}
	if len(s.Seqs) != len(s.Envelope.To) {
		return invalid("sent: %d sequence numbers for %d recipients", len(s.Seqs), len(s.Envelope.To))
	}
	for i, q := range s.Seqs {
		if q.Party != s.Envelope.To[i] {
			return invalid("sent: sequence number %d is for %q, recipient %d is %q", i, q.Party, i, s.Envelope.To[i])
		}
		if q.Seq == 0 {
			return invalid("sent: zero sequence number for %q", q.Party)
		}
		if err := CheckUint("sent sequence number", q.Seq); err != nil {
			return err
		}
		if q.Seq == 1 && !q.Prev.IsZero() {
			return invalid("sent: first envelope to %q has a previous id", q.Party)
		}
		if q.Seq > 1 && q.Prev.IsZero() {
			return invalid("sent: envelope %d to %q has no previous id", q.Seq, q.Party)
		}
	}
	return nil
}

// Check returns ErrInvalid unless r can be stored.
func (r *Receipt) Check() error {
	if r.MessageID.IsZero() {
		return invalid("receipt: zero message id")
	}
	if err := CheckParty("receipt party", r.Party); err != nil {
		return err
	}
	if err := CheckTime("receipt received", r.Received); err != nil {
		return err
	}
	if err := CheckUint("receipt log index", r.LogIndex); err != nil {
		return err
	}
	if len(r.Note) == 0 {
		return invalid("receipt: empty note")
	}
	return nil
}

// CheckSequenced returns ErrInvalid unless [Store.Sequenced] can record
// that the leaf of the object id in direction dir is at index, with the
// receipt issued (for a received envelope only, naming that leaf) or nil.
func CheckSequenced(dir hotline.Direction, id hotline.ID, index uint64, issued *Receipt) error {
	if err := CheckUint("log index", index); err != nil {
		return err
	}
	switch {
	case dir != hotline.Sent && dir != hotline.Received && dir != hotline.ReceiptReceived:
		return invalid("direction %v", dir)
	case issued == nil:
		return nil
	case dir != hotline.Received:
		return invalid("a receipt is issued only for a received envelope")
	case issued.LogIndex != index || issued.MessageID != id:
		return invalid("receipt for %v at %d on the leaf of %v at %d", issued.MessageID, issued.LogIndex, id, index)
	}
	return issued.Check()
}

// Check returns ErrInvalid unless a can be recorded.
func (a *Attempt) Check() error {
	if a.ID.IsZero() {
		return invalid("attempt: zero id")
	}
	if err := CheckParty("attempt recipient", a.Recipient); err != nil {
		return err
	}
	if err := CheckTime("attempt at", a.At); err != nil {
		return err
	}
	if err := CheckTime("attempt next", a.Next); err != nil {
		return err
	}
	if err := checkText("attempt route", a.Route, MaxShortText); err != nil {
		return err
	}
	if !utf8.ValidString(a.Error) {
		return invalid("attempt error: not UTF-8")
	}
	return nil
}

// Check returns ErrInvalid unless d can be recorded.
func (d *Delivered) Check() error {
	if d.ID.IsZero() {
		return invalid("delivered: zero id")
	}
	if err := CheckParty("delivered recipient", d.Recipient); err != nil {
		return err
	}
	if err := CheckTime("delivered at", d.At); err != nil {
		return err
	}
	if err := checkText("delivered route", d.Route, MaxShortText); err != nil {
		return err
	}
	if err := d.Receipt.Check(); err != nil {
		return err
	}
	if d.Receipt.MessageID != d.ID || d.Receipt.Party != d.Recipient {
		return invalid("delivered: receipt is for %v from %q, not %v from %q", d.Receipt.MessageID, d.Receipt.Party, d.ID, d.Recipient)
	}
	if d.ReceiptID.IsZero() {
		return invalid("delivered: zero receipt id")
	}
	if d.Entry == ([hotline.EntrySize]byte{}) {
		return invalid("delivered: zero leaf entry")
	}
	return nil
}

// Check returns ErrInvalid unless a can be recorded.
func (a *Agreement) Check() error {
	if a.Version == 0 {
		return invalid("agreement: zero version")
	}
	if err := CheckUint("agreement version", a.Version); err != nil {
		return err
	}
	if a.Hash == ([32]byte{}) {
		return invalid("agreement: zero hash")
	}
	if len(a.Raw) == 0 {
		return invalid("agreement: empty document")
	}
	return CheckTime("agreement at", a.At)
}

// Check returns ErrInvalid unless c can be recorded.
func (c *Checkpoint) Check() error {
	if c.Origin == "" {
		return invalid("checkpoint: empty origin")
	}
	if err := checkText("checkpoint origin", c.Origin, MaxShortText); err != nil {
		return err
	}
	if err := CheckUint("checkpoint size", c.Size); err != nil {
		return err
	}
	if len(c.Note) == 0 {
		return invalid("checkpoint: empty note")
	}
	return CheckTime("checkpoint at", c.At)
}

// CheckKey returns ErrInvalid unless key can name a value.
func CheckKey(key string) error {
	if key == "" {
		return invalid("empty key")
	}
	return checkText("key", key, MaxShortText)
}

// CheckDirection returns ErrInvalid unless dir is Sent or Received.
func CheckDirection(dir hotline.Direction) error {
	if dir != hotline.Sent && dir != hotline.Received {
		return invalid("direction %v: want sent or received", dir)
	}
	return nil
}

// Check returns ErrInvalid unless f is a valid filter.
func (f *MessageFilter) Check() error {
	if f.Direction != 0 {
		if err := CheckDirection(f.Direction); err != nil {
			return err
		}
	}
	if err := checkText("party", f.Party, MaxPartyLen); err != nil {
		return err
	}
	return checkText("kind", f.Kind, MaxShortText)
}

// Check returns ErrInvalid unless f is a valid filter.
func (f *OutboxFilter) Check() error {
	switch f.State {
	case 0, OutboxPending, OutboxDelivered, OutboxFailed:
	default:
		return invalid("outbox state %d", int(f.State))
	}
	return checkText("recipient", f.Recipient, MaxPartyLen)
}
