-- The first schema of a hotline node, in the schema the store was opened
-- with (search_path). The same layout as the SQLite store: times are
-- nanoseconds since 1970 (UTC); ids, hashes and entries are 32-byte bytea;
-- "seq" columns are the order rows were inserted, which listings and
-- cursors use. A leaf row lives in the row of what it stands for.

CREATE TABLE envelopes (
	seq              bigint   GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	dir              smallint NOT NULL CHECK (dir IN (1, 2)),
	id               bytea    NOT NULL,
	from_party       text     NOT NULL,
	recipients       text     NOT NULL, -- JSON array, in the header's order
	group_label      text     NOT NULL,
	created          bigint   NOT NULL,
	agreement        bytea    NOT NULL,
	exercise         boolean  NOT NULL,
	kind             text     NOT NULL,
	severity         text     NOT NULL,
	marking          text     NOT NULL,
	thread           bytea    NOT NULL, -- the thread id: the envelope's own id for a first message
	refs             bytea    NOT NULL, -- concatenated ids
	pair_seq         bigint   NOT NULL, -- received: the sender's sequence number for this node
	pair_prev        bytea    NOT NULL,
	at               bigint   NOT NULL,
	entry            bytea    NOT NULL, -- the leaf's log entry
	leaf_idx         bigint,            -- the leaf's log index; NULL while pending
	leaf_after       bigint   NOT NULL, -- the high-water mark when the row was inserted
	receipt_party    text,              -- received: the receipt this node issued
	receipt_received bigint,
	receipt_note     bytea,
	raw              bytea    NOT NULL,
	body             bytea    NOT NULL
);
CREATE UNIQUE INDEX envelopes_id ON envelopes (id, dir);
CREATE INDEX envelopes_from ON envelopes (from_party, pair_seq) WHERE dir = 2;
CREATE INDEX envelopes_thread ON envelopes (thread, seq) WHERE thread <> id;
CREATE INDEX envelopes_pending ON envelopes (leaf_after) WHERE leaf_idx IS NULL;
CREATE UNIQUE INDEX envelopes_leaf ON envelopes (leaf_idx) WHERE leaf_idx IS NOT NULL;

-- The log's high-water mark is not stored: it is one more than the
-- highest index in envelopes_leaf and outbox_leaf, which only grow. So
-- concurrent writers never queue on one row.

-- state: 1 pending, 2 delivered, 3 failed.
CREATE TABLE outbox (
	seq              bigint   GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	id               bytea    NOT NULL,
	recipient        text     NOT NULL,
	pair_seq         bigint   NOT NULL,
	pair_prev        bytea    NOT NULL,
	kind             text     NOT NULL,
	exercise         boolean  NOT NULL,
	ready            boolean  NOT NULL DEFAULT false,
	state            smallint NOT NULL DEFAULT 1 CHECK (state IN (1, 2, 3)),
	queued           bigint   NOT NULL,
	attempts         integer  NOT NULL DEFAULT 0,
	next_attempt     bigint   NOT NULL,
	first_attempt    bigint,
	last_attempt     bigint,
	last_error       text     NOT NULL DEFAULT '',
	route            text     NOT NULL DEFAULT '',
	delivered        bigint,
	alerted          bigint,
	receipt_received bigint,
	receipt_idx      bigint,
	receipt_note     bytea,
	receipt_id       bytea,
	rleaf_entry      bytea,
	rleaf_idx        bigint,
	rleaf_after      bigint
);
CREATE UNIQUE INDEX outbox_id ON outbox (id, recipient);
CREATE INDEX outbox_recipient ON outbox (recipient, seq);
CREATE INDEX outbox_due ON outbox (next_attempt, seq) WHERE state = 1 AND ready;
CREATE INDEX outbox_undelivered ON outbox (queued, seq) WHERE state <> 2;
CREATE UNIQUE INDEX outbox_receipt ON outbox (receipt_id) WHERE receipt_id IS NOT NULL;
CREATE INDEX outbox_pending ON outbox (rleaf_after) WHERE receipt_id IS NOT NULL AND rleaf_idx IS NULL;
CREATE UNIQUE INDEX outbox_leaf ON outbox (rleaf_idx) WHERE rleaf_idx IS NOT NULL;

CREATE TABLE pair_out (
	party    text   PRIMARY KEY,
	last_seq bigint NOT NULL,
	last_id  bytea  NOT NULL
);

CREATE TABLE agreements (
	version bigint PRIMARY KEY,
	hash    bytea  NOT NULL UNIQUE,
	raw     bytea  NOT NULL,
	at      bigint NOT NULL
);

CREATE TABLE checkpoints (
	origin text   PRIMARY KEY,
	size   bigint NOT NULL,
	note   bytea  NOT NULL,
	at     bigint NOT NULL
);

CREATE TABLE kv (
	key   text  PRIMARY KEY,
	value bytea NOT NULL
);
