-- What a node keeps after delivery and about its peers: the proof of a
-- delivered receipt's inclusion and the relay that took an envelope (on
-- outbox rows), the relay queue, equivocation proofs, and channel health.

-- included: when the inclusion of the receipt's leaf was proven, against a
-- checkpoint of the recipient's log of included_size. relayed: when a
-- relay (relayed_via) took the envelope, with its relay receipt.
ALTER TABLE outbox ADD COLUMN included      $BIGINT;
ALTER TABLE outbox ADD COLUMN included_size $BIGINT;
ALTER TABLE outbox ADD COLUMN relayed       $BIGINT;
ALTER TABLE outbox ADD COLUMN relayed_via   TEXT NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN relay_receipt $BYTES;
-- Delivered rows waiting for their inclusion proof, by receipt log index:
-- for every recipient, and for one. A row enters on delivery and leaves
-- when proven, so both stay small.
CREATE INDEX outbox_unproven ON outbox (receipt_idx, seq) WHERE state = 2 AND included IS NULL;
CREATE INDEX outbox_unproven_to ON outbox (recipient, receipt_idx, seq) WHERE state = 2 AND included IS NULL;

-- Envelopes this node holds as a relay: the recipient's view as received,
-- the relay receipt it issued, and, once handed on, the recipient's
-- receipt. Rows are deleted by retention, so seq never hands out a purged
-- position again, and cursors stay right.
CREATE TABLE relay (
	seq               $UNIQUE_SEQ,
	id                $BYTES      NOT NULL,
	from_party        TEXT        NOT NULL,
	to_party          TEXT        NOT NULL,
	received          $BIGINT     NOT NULL,
	receipt           $BYTES      NOT NULL,
	handed_on         $BIGINT,
	recipient_receipt $BYTES,
	raw               $BYTES      NOT NULL
);
CREATE UNIQUE INDEX relay_id ON relay (id, to_party);
CREATE INDEX relay_to ON relay (to_party, seq);
CREATE INDEX relay_pending ON relay (seq) WHERE handed_on IS NULL;
CREATE INDEX relay_pending_to ON relay (to_party, seq) WHERE handed_on IS NULL;
CREATE INDEX relay_handed_on ON relay (handed_on) WHERE handed_on IS NOT NULL;

-- Equivocation proofs, identified by the SHA-256 of the proof.
CREATE TABLE equivocations (
	seq    $SEQ,
	hash   $BYTES  NOT NULL UNIQUE,
	origin TEXT    NOT NULL,
	at     $BIGINT NOT NULL,
	proof  $BYTES  NOT NULL
);

-- Channel health: probes counted per peer in 5-minute buckets (bucket is
-- the bucket's start; latency the sum over the successful probes), and
-- each peer's last values.
CREATE TABLE probe_buckets (
	peer    TEXT     NOT NULL,
	bucket  $BIGINT  NOT NULL,
	probes  $INTEGER NOT NULL,
	ok      $INTEGER NOT NULL,
	latency $BIGINT  NOT NULL,
	PRIMARY KEY (peer, bucket)
) $WITHOUT_ROWID;
CREATE INDEX probe_buckets_bucket ON probe_buckets (bucket);

CREATE TABLE peer_health (
	peer         TEXT    PRIMARY KEY,
	last_probe   $BIGINT NOT NULL,
	last_ok      $BIGINT,
	last_latency $BIGINT,
	last_failure $BIGINT,
	last_error   TEXT    NOT NULL DEFAULT ''
) $WITHOUT_ROWID;
