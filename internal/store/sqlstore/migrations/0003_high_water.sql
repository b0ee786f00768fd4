-- The log's high-water mark is derived from envelopes_leaf and outbox_leaf,
-- which only grow: the row that kept it in the first SQLite schema goes.
DROP TABLE IF EXISTS log_state;
