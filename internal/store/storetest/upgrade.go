package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/internal/store"
)

// UpgradeRow is the outbox row [CheckUpgrade] expects a backend's test to
// have written with its first schema (migration 0001 only), before opening
// the store: envelope UpgradeID delivered to PAR, with a receipt that names
// index UpgradeIndex.
var (
	UpgradeID    = ID("envelope sent before the upgrade")
	UpgradeIndex = uint64(41)
	UpgradeRow   = store.OutboxRow{
		ID: UpgradeID, Recipient: "PAR", Seq: 1, Kind: "notification", State: store.OutboxDelivered,
		Queued: base, NextAttempt: base, FirstAttempt: base, LastAttempt: base, Delivered: base,
		Route: "direct https://par.example/",
		Receipt: &store.Receipt{MessageID: UpgradeID, Party: "PAR", Received: base, LogIndex: UpgradeIndex,
			Note: []byte("receipt before the upgrade")},
	}
)

// UpgradeEnvelope is the envelope [CheckUpgrade] expects a backend's test
// to have written with its first schema too: a ping received, sequenced,
// whose body carries a challenge code.
var UpgradeEnvelope = store.Envelope{
	Direction: hotline.Received, ID: ID("ping before the upgrade"), From: "PAR", To: []string{Self},
	Created: base, AgreementHash: ID("agreement 1"), Kind: "ping", Severity: hotline.SeverityLow,
	Marking: hotline.TLPAmber, Raw: []byte("ping"), Body: []byte(`{"challenge":"4711-OLD"}`),
	At: base.Add(time.Second),
}

// UpgradeEnvelopeColumns names the first schema's envelope columns
// UpgradeEnvelopeArgs fills.
const UpgradeEnvelopeColumns = `dir, id, from_party, recipients, group_label, created, agreement, exercise, kind,
	severity, marking, thread, refs, pair_seq, pair_prev, at, entry, leaf_idx, leaf_after, raw, body`

// UpgradeEnvelopeArgs returns the column values of UpgradeEnvelope for the
// first schema's envelopes table, in the order of UpgradeEnvelopeColumns.
func UpgradeEnvelopeArgs() []any {
	e := UpgradeEnvelope
	entry := hotline.LeafEntry(Self, hotline.Received, e.ID)
	var none hotline.ID
	return []any{int64(e.Direction), e.ID[:], e.From, `["` + Self + `"]`, "", e.Created.UnixNano(), e.AgreementHash[:],
		false, e.Kind, string(e.Severity), string(e.Marking), e.ID[:], []byte{}, int64(1), none[:], e.At.UnixNano(),
		entry[:], int64(UpgradeIndex - 1), int64(0), e.Raw, e.Body}
}

// CheckUpgrade checks a store opened over a database that held UpgradeRow
// and UpgradeEnvelope under the first schema: the row reads back the same,
// with nothing proven or relayed, is listed as unproven, and takes the
// writes of the later schema; the envelope's facts, challenge code
// included, were filled in.
func CheckUpgrade(t *testing.T, s store.Store) {
	ctx := context.Background()
	facts := []store.MessageFacts{factsOf(&UpgradeEnvelope, "4711-OLD")}
	if diff := cmp.Diff(facts, messageEvidence(t, s, store.EvidenceQuery{}), cmpOpts...); diff != "" {
		t.Errorf("MessageEvidence after the upgrade (-want +got):\n%s", diff)
	}
	row, err := s.OutboxEntry(ctx, UpgradeID, "PAR")
	mustNoErr(t, err, "OutboxEntry")
	if diff := cmp.Diff(UpgradeRow, row); diff != "" {
		t.Errorf("row written before the upgrade (-want +got):\n%s", diff)
	}
	rows, err := s.Unproven(ctx, store.UnprovenQuery{Recipient: "PAR"})
	mustNoErr(t, err, "Unproven")
	if len(rows) != 1 || rows[0].ID != UpgradeID {
		t.Errorf("Unproven after the upgrade = %+v, want the row", rows)
	}
	mustNoErr(t, s.MarkRelayed(ctx, &store.RelayedDelivery{ID: UpgradeID, Recipient: "PAR", Relay: "DEP",
		At: base.Add(time.Minute), Receipt: []byte("relay receipt")}), "MarkRelayed")
	mustNoErr(t, s.MarkIncluded(ctx, UpgradeID, "PAR", base.Add(time.Hour), UpgradeIndex+1), "MarkIncluded")
	row, err = s.OutboxEntry(ctx, UpgradeID, "PAR")
	mustNoErr(t, err, "OutboxEntry")
	want := UpgradeRow
	want.Included, want.IncludedSize = base.Add(time.Hour), UpgradeIndex+1
	want.Relayed, want.RelayedVia, want.RelayReceipt = base.Add(time.Minute), "DEP", []byte("relay receipt")
	if diff := cmp.Diff(want, row); diff != "" {
		t.Errorf("row proven and relayed after the upgrade (-want +got):\n%s", diff)
	}
	_, err = s.RelayPut(ctx, RelayItem("after the upgrade", "PAR", "ROM", 64))
	mustNoErr(t, err, "RelayPut")
	mustNoErr(t, s.RecordProbe(ctx, &store.Probe{Peer: "PAR", At: base, OK: true}), "RecordProbe")
	_, err = s.AddEquivocation(ctx, &store.EquivocationRecord{Origin: "o", Proof: []byte("p"), At: base})
	mustNoErr(t, err, "AddEquivocation")
}

// UpgradeRowArgs returns the column values of UpgradeRow for the first
// schema's outbox table, in the order of UpgradeColumns.
func UpgradeRowArgs() []any {
	r := UpgradeRow
	at := r.Queued.UnixNano()
	rid := ID("receipt before the upgrade id")
	entry := hotline.LeafEntry(Self, hotline.ReceiptReceived, rid)
	return []any{r.ID[:], r.Recipient, int64(r.Seq), r.Prev[:], r.Kind, false, true, int64(r.State), at, at, at, at,
		r.Route, at, at, int64(r.Receipt.LogIndex), r.Receipt.Note, rid[:], entry[:], int64(0)}
}

// UpgradeColumns names the first schema's outbox columns UpgradeRowArgs
// fills.
const UpgradeColumns = `id, recipient, pair_seq, pair_prev, kind, exercise, ready, state, queued, next_attempt,
	first_attempt, last_attempt, route, delivered, receipt_received, receipt_idx, receipt_note, receipt_id,
	rleaf_entry, rleaf_after`
