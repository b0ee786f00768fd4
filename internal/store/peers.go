package store

import (
	"time"
	"unicode/utf8"

	"github.com/hotline-net/hotline"
)

// EquivocationRecord is a proof that a log showed two inconsistent
// checkpoints: both signed notes and the hashes showing that their roots
// cannot both be right, in text form.
type EquivocationRecord struct {
	// Origin is the log origin that equivocated.
	Origin string
	// Proof is the proof's text form; a record is identified by the
	// SHA-256 of these bytes.
	Proof []byte
	// At is when this node found it.
	At time.Time
}

// Check returns ErrInvalid unless e can be recorded.
func (e *EquivocationRecord) Check() error {
	if e.Origin == "" {
		return invalid("equivocation: empty origin")
	}
	if err := checkText("equivocation origin", e.Origin, MaxShortText); err != nil {
		return err
	}
	if len(e.Proof) == 0 {
		return invalid("equivocation: empty proof")
	}
	return CheckTime("equivocation at", e.At)
}

// Refusal is a signed refusal (hotline-refusal/v1) this node issued
// (Direction hotline.RefusalIssued; Peer the envelope's sender) or
// received (hotline.RefusalReceived; Peer the refusing recipient).
type Refusal struct {
	Direction hotline.Direction
	Message   hotline.ID // the refused envelope
	Peer      string
	Code      string
	At        time.Time
	Note      []byte     // the signed note
	ID        hotline.ID // hotline.NoteID of the note's text
	// Entry is the refusal's log entry:
	// hotline.LeafEntry(origin, Direction, ID).
	Entry [hotline.EntrySize]byte
	// Index is the entry's log index once Sequenced.
	Index     uint64
	Sequenced bool
}

// Check returns ErrInvalid unless r can be stored.
func (r *Refusal) Check() error {
	if r.Direction != hotline.RefusalIssued && r.Direction != hotline.RefusalReceived {
		return invalid("refusal: direction %v", r.Direction)
	}
	if err := CheckParty("refusal peer", r.Peer); err != nil {
		return err
	}
	if err := checkText("refusal code", r.Code, MaxShortText); err != nil {
		return err
	}
	if r.Code == "" || len(r.Note) == 0 || r.ID.IsZero() || r.Message.IsZero() || r.Entry == ([hotline.EntrySize]byte{}) {
		return invalid("refusal: empty code, note, id, message or entry")
	}
	return CheckTime("refusal at", r.At)
}

// ProbeBucket is the width of the time buckets a store counts probes in.
//
// A heartbeat every 60 s to each of 200 peers is 288,000 probes a day.
// Stored one row each, for one number per peer ("% up over 24 h"), they
// took 19.7 MB a day in SQLite (rows and the indexes for reading by peer
// and purging by time), and reading every peer's last 24 hours took 0.32 s.
// A store instead adds each probe to its peer's bucket — (peer, start of
// the 5-minute slot): probes, successes, summed latency — and keeps the
// last values per peer in one row: at most one bucket row per peer per 5
// minutes whatever the heartbeat interval, 57,600 a day at 200 peers, which
// took 2.6 MB and 9 ms to read the same way. Each probe is one write of
// two small upserts through the group-commit writer. The price is
// resolution: a window starts on a bucket boundary, so [Store.PeerHealth]
// over 24 hours may count up to 5 minutes more (0.35%). At 2.6 MB a day,
// the caller purges old buckets ([Store.PurgeProbes]) on its retention.
const ProbeBucket = 5 * time.Minute

// BucketOf returns the start of the ProbeBucket that holds t: t rounded
// down to a multiple of ProbeBucket since the zero time (so, in UTC, on the
// hour and every 5 minutes after), but never before the earliest time a
// store keeps.
func BucketOf(t time.Time) time.Time {
	b := t.Truncate(ProbeBucket)
	if b.Before(minTime) {
		return minTime
	}
	return b
}

// BucketsBefore returns the start of the last ProbeBucket that ends at or
// before t, and false if there is none a store could hold.
func BucketsBefore(t time.Time) (time.Time, bool) {
	last := t.Add(-ProbeBucket)
	if last.Before(minTime) {
		return time.Time{}, false
	}
	return last, true
}

// MaxLatency is the longest latency a probe may report.
const MaxLatency = 24 * time.Hour

// Probe is the outcome of one heartbeat to a peer.
type Probe struct {
	Peer string
	// At is when the probe was made.
	At time.Time
	// OK is whether the peer answered correctly.
	OK bool
	// Latency is how long a successful probe took; it is ignored for a
	// failed one.
	Latency time.Duration
	// Error says why a failed probe failed; it is ignored for a successful
	// one and cut to MaxErrorText bytes.
	Error string
}

// Check returns ErrInvalid unless p can be recorded.
func (p *Probe) Check() error {
	if err := CheckParty("probe peer", p.Peer); err != nil {
		return err
	}
	if err := CheckTime("probe at", p.At); err != nil {
		return err
	}
	if p.Latency < 0 || p.Latency > MaxLatency {
		return invalid("probe latency %v out of range", p.Latency)
	}
	if !utf8.ValidString(p.Error) {
		return invalid("probe error: not UTF-8")
	}
	return nil
}

// Health is a peer's channel health, for [Store.PeerHealth].
type Health struct {
	Peer string
	// Probes counts the probes made since the window's start (rounded down
	// to a ProbeBucket boundary), OK those that succeeded: OK/Probes is
	// the share of time up.
	Probes, OK int
	// MeanLatency is the mean latency of the successful probes counted.
	MeanLatency time.Duration

	// The last values are those of every probe ever recorded for the
	// peer, whatever the window and PurgeProbes: when the last successful
	// probe was made and its latency, and when the last failed one was
	// made and its error. Zero for never.
	LastOK      time.Time
	LastLatency time.Duration
	LastFailure time.Time
	LastError   string
}

// WitnessedCheckpoint is a checkpoint of a log that met the agreement's
// witness quorum, as this node first recorded it, with every cosignature it
// holds for it.
type WitnessedCheckpoint struct {
	Origin string
	Size   uint64
	// Hash is the checkpoint's root hash.
	Hash [32]byte
	// Note is the signed checkpoint note as first recorded.
	Note []byte
	// At is when this node first recorded it.
	At time.Time
	// Cosignatures are its cosignatures; Origin and Size in each are the
	// checkpoint's.
	Cosignatures []CosignatureRecord
}

// CosignatureRecord is one witness's cosignature of a checkpoint.
type CosignatureRecord struct {
	Origin string
	Size   uint64
	// Witness is the witness's party id.
	Witness string
	// Time is the cosignature's timestamp (C2SP tlog-cosignature): when
	// the witness says it cosigned.
	Time time.Time
	// Signature is the note signature line, without its newline.
	Signature string
	// At is when this node received it.
	At time.Time
}

// Check returns ErrInvalid unless c can be recorded.
func (c *WitnessedCheckpoint) Check() error {
	if c.Origin == "" {
		return invalid("witnessed checkpoint: empty origin")
	}
	if err := checkText("witnessed checkpoint origin", c.Origin, MaxShortText); err != nil {
		return err
	}
	if err := CheckUint("witnessed checkpoint size", c.Size); err != nil {
		return err
	}
	if len(c.Note) == 0 {
		return invalid("witnessed checkpoint: empty note")
	}
	if err := CheckTime("witnessed checkpoint at", c.At); err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, s := range c.Cosignatures {
		if s.Origin != c.Origin || s.Size != c.Size {
			return invalid("cosignature of %q size %d on the checkpoint of %q size %d", s.Origin, s.Size, c.Origin, c.Size)
		}
		if s.Witness == "" || seen[s.Witness] {
			return invalid("cosignature: empty or repeated witness %q", s.Witness)
		}
		seen[s.Witness] = true
		if err := checkText("cosignature witness", s.Witness, MaxPartyLen); err != nil {
			return err
		}
		if s.Signature == "" || !utf8.ValidString(s.Signature) || len(s.Signature) > MaxShortText {
			return invalid("cosignature of %q: empty, invalid or too long signature line", s.Witness)
		}
		if err := CheckTime("cosignature time", s.Time); err != nil {
			return err
		}
		if err := CheckTime("cosignature at", s.At); err != nil {
			return err
		}
	}
	return nil
}
