-- Every checkpoint of a log (this node's and each peer's) that met the
-- witness quorum, by origin and size, as first recorded; and every
-- cosignature of each, by witness, with the witness's timestamp (cosigned)
-- and when this node received it (at): the history neutral time is
-- computed from. Kept for the agreement's evidence period: never deleted.
CREATE TABLE witnessed (
	origin TEXT    NOT NULL,
	size   $BIGINT NOT NULL,
	hash   $BYTES  NOT NULL,
	note   $BYTES  NOT NULL,
	at     $BIGINT NOT NULL,
	PRIMARY KEY (origin, size)
);
CREATE TABLE cosignatures (
	origin    TEXT    NOT NULL,
	size      $BIGINT NOT NULL,
	witness   TEXT    NOT NULL,
	cosigned  $BIGINT NOT NULL,
	signature TEXT    NOT NULL,
	at        $BIGINT NOT NULL,
	PRIMARY KEY (origin, size, witness)
);
-- A witness's cosignatures of a log by time: its first of a checkpoint
-- containing an entry.
CREATE INDEX cosignatures_witness ON cosignatures (origin, witness, cosigned);
