-- The first schema of a hotline node, written once for every engine: the
-- words after a dollar sign are the engine's types and clauses (see
-- Dialect.Schema). Times are nanoseconds since 1970 (UTC); ids, hashes and
-- entries are 32-byte strings of bytes; "seq" columns are the order rows
-- were inserted, which listings and cursors use.
--
-- A leaf row lives in the row of what it stands for: an envelope's leaf
-- (directions 1 and 2) in the envelope's row, a received receipt's leaf
-- (direction 3) in the outbox row the receipt delivered. So the accept path
-- writes one row, and touches as few indexes as the queries need.

-- Envelopes received (dir 2, the recipient view as received) and sent
-- (dir 1, the whole envelope). The content columns come last so that
-- listings never read their overflow pages.
CREATE TABLE envelopes (
	seq              $SEQ,
	dir              $SMALLINT NOT NULL CHECK (dir IN (1, 2)),
	id               $BYTES    NOT NULL,
	from_party       TEXT      NOT NULL,
	recipients       TEXT      NOT NULL, -- JSON array, in the header's order
	group_label      TEXT      NOT NULL,
	created          $BIGINT   NOT NULL,
	agreement        $BYTES    NOT NULL,
	exercise         $BOOLEAN  NOT NULL,
	kind             TEXT      NOT NULL,
	severity         TEXT      NOT NULL,
	marking          TEXT      NOT NULL,
	thread           $BYTES    NOT NULL, -- the thread id: the envelope's own id for a first message
	refs             $BYTES    NOT NULL, -- concatenated ids
	pair_seq         $BIGINT   NOT NULL, -- received: the sender's sequence number for this node
	pair_prev        $BYTES    NOT NULL,
	at               $BIGINT   NOT NULL,
	entry            $BYTES    NOT NULL, -- the leaf's log entry
	leaf_idx         $BIGINT,            -- the leaf's log index; NULL while pending
	leaf_after       $BIGINT   NOT NULL, -- the high-water mark when the row was inserted
	receipt_party    TEXT,               -- received: the receipt this node issued
	receipt_received $BIGINT,
	receipt_note     $BYTES,
	raw              $BYTES    NOT NULL,
	body             $BYTES    NOT NULL
);
CREATE UNIQUE INDEX envelopes_id ON envelopes (id, dir);
CREATE INDEX envelopes_from ON envelopes (from_party, pair_seq) WHERE dir = 2;
CREATE INDEX envelopes_thread ON envelopes (thread, seq) WHERE thread <> id;
CREATE INDEX envelopes_pending ON envelopes (leaf_after) WHERE leaf_idx IS NULL;
CREATE UNIQUE INDEX envelopes_leaf ON envelopes (leaf_idx) WHERE leaf_idx IS NOT NULL;

-- The log's high-water mark, one more than the highest index recorded:
-- kept in a row where one writer raises it, derived from envelopes_leaf
-- and outbox_leaf (which only grow) where concurrent writers must not
-- queue on one row.
$HIGH_WATER_TABLE

-- One row per recipient of each sent envelope. state: 1 pending,
-- 2 delivered, 3 failed. ready: the envelope's leaf is sequenced, so the
-- row may leave the node. Once delivered, the row holds the recipient's
-- receipt and the receipt's leaf (direction 3, object receipt_id).
CREATE TABLE outbox (
	seq              $SEQ,
	id               $BYTES    NOT NULL,
	recipient        TEXT      NOT NULL,
	pair_seq         $BIGINT   NOT NULL,
	pair_prev        $BYTES    NOT NULL,
	kind             TEXT      NOT NULL,
	exercise         $BOOLEAN  NOT NULL,
	ready            $BOOLEAN  NOT NULL DEFAULT $FALSE,
	state            $SMALLINT NOT NULL DEFAULT 1 CHECK (state IN (1, 2, 3)),
	queued           $BIGINT   NOT NULL,
	attempts         $INTEGER  NOT NULL DEFAULT 0,
	next_attempt     $BIGINT   NOT NULL,
	first_attempt    $BIGINT,
	last_attempt     $BIGINT,
	last_error       TEXT      NOT NULL DEFAULT '',
	route            TEXT      NOT NULL DEFAULT '',
	delivered        $BIGINT,
	alerted          $BIGINT,
	receipt_received $BIGINT,
	receipt_idx      $BIGINT,
	receipt_note     $BYTES,
	receipt_id       $BYTES,
	rleaf_entry      $BYTES,
	rleaf_idx        $BIGINT,
	rleaf_after      $BIGINT
);
CREATE UNIQUE INDEX outbox_id ON outbox (id, recipient);
CREATE INDEX outbox_recipient ON outbox (recipient, seq);
CREATE INDEX outbox_due ON outbox (next_attempt, seq) WHERE state = 1 AND ready = $TRUE;
CREATE INDEX outbox_undelivered ON outbox (queued, seq) WHERE state <> 2;
CREATE UNIQUE INDEX outbox_receipt ON outbox (receipt_id) WHERE receipt_id IS NOT NULL;
CREATE INDEX outbox_pending ON outbox (rleaf_after) WHERE receipt_id IS NOT NULL AND rleaf_idx IS NULL;
CREATE UNIQUE INDEX outbox_leaf ON outbox (rleaf_idx) WHERE rleaf_idx IS NOT NULL;

-- Per-pair counters of the envelopes this node sent.
CREATE TABLE pair_out (
	party    TEXT    PRIMARY KEY,
	last_seq $BIGINT NOT NULL,
	last_id  $BYTES  NOT NULL
) $WITHOUT_ROWID;

-- Every agreement version recorded; the highest is in force.
CREATE TABLE agreements (
	version $BIGINT PRIMARY KEY,
	hash    $BYTES  NOT NULL UNIQUE,
	raw     $BYTES  NOT NULL,
	at      $BIGINT NOT NULL
);

-- The last seen checkpoint of each peer's log.
CREATE TABLE checkpoints (
	origin TEXT    PRIMARY KEY,
	size   $BIGINT NOT NULL,
	note   $BYTES  NOT NULL,
	at     $BIGINT NOT NULL
) $WITHOUT_ROWID;

-- Other singletons.
CREATE TABLE kv (
	key   TEXT   PRIMARY KEY,
	value $BYTES NOT NULL
) $WITHOUT_ROWID;
