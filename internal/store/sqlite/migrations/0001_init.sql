-- The first schema of a hotline node. Times are nanoseconds since 1970
-- (UTC); ids, hashes and entries are 32-byte blobs; "seq" columns are the
-- order rows were inserted, which listings and cursors use.

-- Envelopes received (dir 2, the recipient view as received) and sent
-- (dir 1, the whole envelope). The content columns come last so that
-- listings never read their overflow pages.
CREATE TABLE envelopes (
	seq         INTEGER PRIMARY KEY,
	dir         INTEGER NOT NULL CHECK (dir IN (1, 2)),
	id          BLOB    NOT NULL,
	from_party  TEXT    NOT NULL,
	recipients  TEXT    NOT NULL, -- JSON array, in the header's order
	group_label TEXT    NOT NULL,
	created     INTEGER NOT NULL,
	agreement   BLOB    NOT NULL,
	exercise    INTEGER NOT NULL,
	kind        TEXT    NOT NULL,
	severity    TEXT    NOT NULL,
	marking     TEXT    NOT NULL,
	thread      BLOB    NOT NULL, -- the thread id: the envelope's own id for a first message
	refs        BLOB    NOT NULL, -- concatenated ids
	pair_seq    INTEGER NOT NULL, -- received: the sender's sequence number for this node
	pair_prev   BLOB    NOT NULL,
	at          INTEGER NOT NULL,
	stored      INTEGER NOT NULL DEFAULT 0, -- 1 once the leaf is sequenced
	raw         BLOB    NOT NULL,
	body        BLOB    NOT NULL
);
CREATE UNIQUE INDEX envelopes_id ON envelopes (id, dir);
CREATE INDEX envelopes_from ON envelopes (from_party, seq);
CREATE INDEX envelopes_thread ON envelopes (thread, seq);
CREATE INDEX envelopes_pair ON envelopes (from_party, pair_seq) WHERE dir = 2;

-- Pending leaf rows: every entry the node appends to its log, before and
-- after it is sequenced.
CREATE TABLE leaves (
	entry  BLOB    PRIMARY KEY,
	dir    INTEGER NOT NULL CHECK (dir IN (1, 2, 3)),
	object BLOB    NOT NULL,
	idx    INTEGER UNIQUE,          -- NULL while pending
	after  INTEGER NOT NULL         -- the high-water mark when inserted
) WITHOUT ROWID;
CREATE UNIQUE INDEX leaves_object ON leaves (dir, object);
CREATE INDEX leaves_pending ON leaves (after) WHERE idx IS NULL;

-- The log's high-water mark: one more than the highest index recorded.
CREATE TABLE log_state (
	id         INTEGER PRIMARY KEY CHECK (id = 1),
	high_water INTEGER NOT NULL
);
INSERT INTO log_state (id, high_water) VALUES (1, 0);

-- Receipts this node issued (party = this node) and received (party = the
-- recipient of an envelope this node sent).
CREATE TABLE receipts (
	id       BLOB    NOT NULL,
	party    TEXT    NOT NULL,
	received INTEGER NOT NULL,
	idx      INTEGER NOT NULL,
	note     BLOB    NOT NULL,
	PRIMARY KEY (id, party)
) WITHOUT ROWID;

-- One row per recipient of each sent envelope. state: 1 pending,
-- 2 delivered, 3 failed. ready: the envelope's leaf is sequenced, so the
-- row may leave the node.
CREATE TABLE outbox (
	seq           INTEGER PRIMARY KEY,
	id            BLOB    NOT NULL,
	recipient     TEXT    NOT NULL,
	pair_seq      INTEGER NOT NULL,
	pair_prev     BLOB    NOT NULL,
	kind          TEXT    NOT NULL,
	exercise      INTEGER NOT NULL,
	ready         INTEGER NOT NULL DEFAULT 0,
	state         INTEGER NOT NULL DEFAULT 1 CHECK (state IN (1, 2, 3)),
	queued        INTEGER NOT NULL,
	attempts      INTEGER NOT NULL DEFAULT 0,
	next_attempt  INTEGER NOT NULL,
	first_attempt INTEGER,
	last_attempt  INTEGER,
	last_error    TEXT    NOT NULL DEFAULT '',
	route         TEXT    NOT NULL DEFAULT '',
	delivered     INTEGER,
	alerted       INTEGER
);
CREATE UNIQUE INDEX outbox_id ON outbox (id, recipient);
CREATE INDEX outbox_recipient ON outbox (recipient, seq);
CREATE INDEX outbox_due ON outbox (next_attempt, seq) WHERE state = 1 AND ready = 1;
CREATE INDEX outbox_undelivered ON outbox (queued, seq) WHERE state <> 2;

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
