-- Signed refusals (hotline-refusal/v1): issued by this node for a peer's
-- envelope (dir 5, peer the sender) or received from a recipient for an
-- envelope this node sent (dir 6, peer the recipient). One per envelope and
-- peer: the same envelope gets the same refusal. leaf_idx is the index of
-- the refusal's log entry (direction dir, object refusal_id); NULL until
-- appended.
CREATE TABLE refusals (
	seq        $SEQ,
	dir        $SMALLINT NOT NULL CHECK (dir IN (5, 6)),
	message    $BYTES    NOT NULL,
	peer       TEXT      NOT NULL,
	code       TEXT      NOT NULL,
	at         $BIGINT   NOT NULL,
	note       $BYTES    NOT NULL,
	refusal_id $BYTES    NOT NULL,
	entry      $BYTES    NOT NULL,
	leaf_idx   $BIGINT
);
CREATE UNIQUE INDEX refusals_message ON refusals (dir, message, peer);
CREATE INDEX refusals_peer ON refusals (dir, peer);
