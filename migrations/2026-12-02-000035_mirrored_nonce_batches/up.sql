-- Nonces accepted in Redis, mirrored here as one row of digests per mirror write instead of one
-- row per nonce (docs/architecture.md, "Replay protection"). A row and an index entry per nonce
-- cost PostgreSQL more CPU per signed request than anything else the nonce needed
-- (docs/BENCHMARKS.md), to serve a lookup made only while signatures are checked in PostgreSQL
-- (after a Redis loss, or while an instance cannot reach Redis). Then each gateway instance reads
-- the digests into memory, once per nonce epoch. Rows past their nonces' lifetime are deleted
-- with the expired nonces of signature_nonces.
DROP FUNCTION keep_mirrored_nonce_partitions(interval);
DROP TABLE mirrored_nonces;

CREATE TABLE mirrored_nonces (
    expires_at timestamptz NOT NULL,
    digests bigint[] NOT NULL
);
CREATE INDEX mirrored_nonces_expires_at_idx ON mirrored_nonces (expires_at);
