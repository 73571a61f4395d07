-- One row per (partner, Idempotency-Key): claimed while the request is in flight, then
-- completed with the exact answer in the same transaction as the work it guards.
-- A lease lets another instance take over a claim whose holder died before committing.
CREATE TABLE idempotency_records (
    partner_id           uuid NOT NULL REFERENCES partners (id),
    idempotency_key      text NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 255),
    request_fingerprint  bytea NOT NULL CHECK (length(request_fingerprint) = 32),
    state                text NOT NULL CHECK (state IN ('in_flight', 'completed')),
    lease_token          uuid,
    lease_expires_at     timestamptz,
    response_status      smallint,
    response_body        bytea,
    created_at           timestamptz NOT NULL DEFAULT now(),
    completed_at         timestamptz,
    PRIMARY KEY (partner_id, idempotency_key),
    CHECK ((state = 'completed') = (response_status IS NOT NULL AND response_body IS NOT NULL
                                    AND completed_at IS NOT NULL)),
    CHECK ((state = 'in_flight') = (lease_token IS NOT NULL AND lease_expires_at IS NOT NULL))
);
CREATE INDEX idempotency_records_created_at_idx ON idempotency_records (created_at);
