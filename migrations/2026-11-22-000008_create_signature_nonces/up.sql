-- Request-signature nonces, kept here only while Redis is unreachable (and for one signature
-- window after it returns), so the gateway keeps refusing replays when its cache is down.
CREATE TABLE signature_nonces (
    key_id      text NOT NULL,
    nonce       text NOT NULL,
    expires_at  timestamptz NOT NULL,
    PRIMARY KEY (key_id, nonce)
);
CREATE INDEX signature_nonces_expires_at_idx ON signature_nonces (expires_at);
