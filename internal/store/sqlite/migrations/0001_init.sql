-- The first schema of a hotline node. Times are nanoseconds since 1970
-- (UTC); ids, hashes and entries are 32-byte blobs; "seq" columns are the
-- order rows were inserted, which listings and cursors use.
--
-- A leaf row lives in the row of what it stands for: an envelope's leaf
-- (directions 1 and 2) in the envelope's row, a received receipt's leaf
-- (direction 3) in the outbox row the receipt delivered. So the accept path
-- writes one row, and touches as few indexes as the queries need.

-- Envelopes received (dir 2, the recipient view as received) and sent
-- (dir 1, the whole envelope). The content columns come last so that
-- listings never read their overflow pages.
CREATE TABLE envelopes (
	seq              INTEGER PRIMARY KEY,
	dir              INTEGER NOT NULL CHECK (dir IN (1, 2)),
	id               BLOB    NOT NULL,
	from_party       TEXT    NOT NULL,
	recipients       TEXT    NOT NULL, -- JSON array, in the header's order
	group_label      TEXT    NOT NULL,
	created          INTEGER NOT NULL,
	agreement        BLOB    NOT NULL,
	exercise         INTEGER NOT NULL,
	kind             TEXT    NOT NULL,
	severity         TEXT    NOT NULL,
	marking          TEXT    NOT NULL,
	thread           BLOB    NOT NULL, -- the thread id: the envelope's own id for a first message
	refs             BLOB    NOT NULL, -- concatenated ids
	pair_seq         INTEGER NOT NULL, -- received: the sender's sequence number for this node
	pair_prev        BLOB    NOT NULL,
	at               INTEGER NOT NULL,
	entry            BLOB    NOT NULL, -- the leaf's log entry
	leaf_idx         INTEGER,          -- the leaf's log index; NULL while pending
	leaf_after       INTEGER NOT NULL, -- the high-water mark when the row was inserted
	receipt_party    TEXT,             -- received: the receipt this node issued
	receipt_received INTEGER,
	receipt_note     BLOB,
	raw              BLOB    NOT NULL,
	body             BLOB    NOT NULL
);
CREATE UNIQUE INDEX envelopes_id ON envelopes (id, dir);
CREATE INDEX envelopes_from ON envelopes (from_party, pair_seq) WHERE dir = 2;
CREATE INDEX envelopes_thread ON envelopes (thread, seq) WHERE thread <> id;
CREATE INDEX envelopes_pending ON envelopes (leaf_after) WHERE leaf_idx IS NULL;
CREATE UNIQUE INDEX envelopes_leaf ON envelopes (leaf_idx) WHERE leaf_idx IS NOT NULL;

-- The log's high-water mark: one more than the highest index recorded.
CREATE TABLE log_state (
	id         INTEGER PRIMARY KEY CHECK (id = 1),
	high_water INTEGER NOT NULL
);
INSERT INTO log_state (id, high_water) VALUES (1, 0);

-- One row per recipient of each sent envelope. state: 1 pending,
-- 2 delivered, 3 failed. ready: the envelope's leaf is sequenced, so the
-- row may leave the node. Once delivered, the row holds the recipient's
-- receipt and the receipt's leaf (direction 3, object receipt_id).
CREATE TABLE outbox (
	seq              INTEGER PRIMARY KEY,
	id               BLOB    NOT NULL,
	recipient        TEXT    NOT NULL,
	pair_seq         INTEGER NOT NULL,
	pair_prev        BLOB    NOT NULL,
	kind             TEXT    NOT NULL,
	exercise         INTEGER NOT NULL,
	ready            INTEGER NOT NULL DEFAULT 0,
	state            INTEGER NOT NULL DEFAULT 1 CHECK (state IN (1, 2, 3)),
	queued           INTEGER NOT NULL,
	attempts         INTEGER NOT NULL DEFAULT 0,
	next_attempt     INTEGER NOT NULL,
	first_attempt    INTEGER,
	last_attempt     INTEGER,
	last_error       TEXT    NOT NULL DEFAULT '',
	route            TEXT    NOT NULL DEFAULT '',
	delivered        INTEGER,
	alerted          INTEGER,
	receipt_received INTEGER,
	receipt_idx      INTEGER,
	receipt_note     BLOB,
	receipt_id       BLOB,
	rleaf_entry      BLOB,
	rleaf_idx        INTEGER,
	rleaf_after      INTEGER
);
CREATE UNIQUE INDEX outbox_id ON outbox (id, recipient);
CREATE INDEX outbox_recipient ON outbox (recipient, seq);
CREATE INDEX outbox_due ON outbox (next_attempt, seq) WHERE state = 1 AND ready = 1;
CREATE INDEX outbox_undelivered ON outbox (queued, seq) WHERE state <> 2;
CREATE UNIQUE INDEX outbox_receipt ON outbox (receipt_id) WHERE receipt_id IS NOT NULL;
CREATE INDEX outbox_pending ON outbox (rleaf_after) WHERE receipt_id IS NOT NULL AND rleaf_idx IS NULL;
CREATE UNIQUE INDEX outbox_leaf ON outbox (rleaf_idx) WHERE rleaf_idx IS NOT NULL;

-- Per-pair counters of the envelopes this node sent.
CREATE TABLE pair_out (
	party    TEXT    PRIMARY KEY,
	last_seq INTEGER NOT NULL,
	last_id  BLOB    NOT NULL
) WITHOUT ROWID;

-- Every agreement version recorded; the highest is in force.
CREATE TABLE agreements (
	version INTEGER PRIMARY KEY,
	hash    BLOB    NOT NULL UNIQUE,
	raw     BLOB    NOT NULL,
	at      INTEGER NOT NULL
);

-- The last seen checkpoint of each peer's log.
CREATE TABLE checkpoints (
	origin TEXT    PRIMARY KEY,
	size   INTEGER NOT NULL,
	note   BLOB    NOT NULL,
	at     INTEGER NOT NULL
) WITHOUT ROWID;

-- Other singletons.
CREATE TABLE kv (
	key   TEXT PRIMARY KEY,
	value BLOB NOT NULL
) WITHOUT ROWID;
