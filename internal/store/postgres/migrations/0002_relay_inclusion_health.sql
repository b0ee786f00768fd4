-- What a node keeps after delivery and about its peers, as in the SQLite
-- store: the proof of a delivered receipt's inclusion and the relay that
-- took an envelope (on outbox rows), the relay queue, equivocation proofs,
-- and channel health.

ALTER TABLE outbox ADD COLUMN included      bigint;
ALTER TABLE outbox ADD COLUMN included_size bigint;
ALTER TABLE outbox ADD COLUMN relayed       bigint;
ALTER TABLE outbox ADD COLUMN relayed_via   text NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN relay_receipt bytea;
CREATE INDEX outbox_unproven ON outbox (receipt_idx, seq) WHERE state = 2 AND included IS NULL;
CREATE INDEX outbox_unproven_to ON outbox (recipient, receipt_idx, seq) WHERE state = 2 AND included IS NULL;

-- An identity column never hands out a value twice, so cursors stay right
-- when rows are purged.
CREATE TABLE relay (
	seq               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	id                bytea  NOT NULL,
	from_party        text   NOT NULL,
	to_party          text   NOT NULL,
	received          bigint NOT NULL,
	receipt           bytea  NOT NULL,
	handed_on         bigint,
	recipient_receipt bytea,
	raw               bytea  NOT NULL
);
CREATE UNIQUE INDEX relay_id ON relay (id, to_party);
CREATE INDEX relay_to ON relay (to_party, seq);
CREATE INDEX relay_pending ON relay (seq) WHERE handed_on IS NULL;
CREATE INDEX relay_pending_to ON relay (to_party, seq) WHERE handed_on IS NULL;
CREATE INDEX relay_handed_on ON relay (handed_on) WHERE handed_on IS NOT NULL;

CREATE TABLE equivocations (
	seq    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	hash   bytea  NOT NULL UNIQUE,
	origin text   NOT NULL,
	at     bigint NOT NULL,
	proof  bytea  NOT NULL
);

CREATE TABLE probe_buckets (
	peer    text    NOT NULL,
	bucket  bigint  NOT NULL,
	probes  integer NOT NULL,
	ok      integer NOT NULL,
	latency bigint  NOT NULL,
	PRIMARY KEY (peer, bucket)
);
CREATE INDEX probe_buckets_bucket ON probe_buckets (bucket);

CREATE TABLE peer_health (
	peer         text   PRIMARY KEY,
	last_probe   bigint NOT NULL,
	last_ok      bigint,
	last_latency bigint,
	last_failure bigint,
	last_error   text   NOT NULL DEFAULT ''
);
