-- The facts of each envelope that the obligations engine judges by (who
-- sent it to whom, its kind, severity, thread, refs, agreement version and
-- times), in one column encoded by the store (sqlstore's encodeFacts),
-- keyed by the envelope's seq and written with it. A compliance report
-- reads every envelope: from this narrow table, one column a row, rather
-- than a dozen columns of the envelopes table, whose rows also hold the
-- envelopes' bytes. kind is repeated as a column so that a query can pick
-- the kinds whose bodies it needs. Envelopes stored before this table are
-- filled in by the migration (sqlstore's backfillFacts).
CREATE TABLE message_facts (
	seq   $BIGINT PRIMARY KEY,
	kind  TEXT    NOT NULL,
	facts $BYTES  NOT NULL
);
