-- Replay protection with Redis in front (docs/architecture.md, "Replay protection"): each gateway
-- instance accepts a signature's nonce in Redis and mirrors it here a moment later. Its row says
-- how far the mirror has come: every nonce it accepted under an epoch before `epoch` is in
-- signature_nonces. An epoch is a number drawn from `nonce_epochs` whenever Redis may have
-- forgotten (restarted empty, unreachable from some instance); the current one is also kept in
-- Redis, where its absence tells that Redis lost its memory.
CREATE SEQUENCE nonce_epochs;

CREATE TABLE nonce_mirrors (
    instance_id text PRIMARY KEY,
    epoch bigint NOT NULL,
    -- The instance cannot reach Redis and accepts nonces in PostgreSQL only; while any instance
    -- does, every other one checks PostgreSQL too.
    redis_unreachable boolean NOT NULL,
    -- Signatures created before this (UNIX seconds) are checked in PostgreSQL: their nonce may
    -- have been accepted where Redis does not know it.
    check_before bigint NOT NULL,
    updated_at timestamptz NOT NULL
);
