-- Nonces accepted in Redis, mirrored here as one row of digests per mirror write instead of one
-- row per nonce (docs/architecture.md, "Replay protection"). A row and an index entry per nonce
-- cost PostgreSQL more CPU per signed request than anything else the nonce needed
-- (docs/BENCHMARKS.md), to serve a lookup made only while signatures are checked in PostgreSQL
-- (after a Redis loss, or while an instance cannot reach Redis). Then each gateway instance reads
-- the digests into memory, once per nonce epoch. Rows past their nonces' lifetime are deleted
-- with the expired nonces of signature_nonces.
--
-- The digests mirrored so far are carried over as one row, kept for an hour (longer than any
-- signature window: a longer life can only refuse a nonce reused with the same key), so a Redis
-- loss soon after the migration forgets none. Gateways of the previous version cannot mirror into
-- the new table: upgrade them together (docs/operations.md).
DROP FUNCTION keep_mirrored_nonce_partitions(interval);
ALTER TABLE mirrored_nonces RENAME TO mirrored_nonces_by_digest;

CREATE TABLE mirrored_nonces (
    expires_at timestamptz NOT NULL,
    digests bigint[] NOT NULL
);
CREATE INDEX mirrored_nonces_expires_at_idx ON mirrored_nonces (expires_at);

INSERT INTO mirrored_nonces (expires_at, digests)
SELECT now() + interval '1 hour', array_agg(digest) FROM mirrored_nonces_by_digest
HAVING count(*) > 0;
DROP TABLE mirrored_nonces_by_digest;
