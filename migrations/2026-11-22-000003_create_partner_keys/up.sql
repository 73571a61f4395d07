-- Partner signing keys (Ed25519 public keys). A partner may hold several active keys so it
-- can rotate without downtime; a revoked key stays on record and is never reactivated.
CREATE TABLE partner_keys (
    kid         text PRIMARY KEY CHECK (kid ~ '^[A-Za-z0-9._-]{1,128}$'),
    partner_id  uuid NOT NULL REFERENCES partners (id),
    public_key  bytea NOT NULL UNIQUE CHECK (length(public_key) = 32),
    status      text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'revoked')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz,
    CHECK ((status = 'revoked') = (revoked_at IS NOT NULL))
);
CREATE INDEX partner_keys_partner_id_idx ON partner_keys (partner_id);
