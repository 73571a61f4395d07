-- Settlement between the operator and its partners: terms, operator keys, statements, the
-- partners' answers to them, and the adjustments that resolve disputes.
-- See docs/settlement.md.

-- Partner terms, versioned. A version applies from `effective_from` (the start of a period in
-- the terms' own time zone) until the next version's `effective_from`.
CREATE TABLE partner_terms (
    id                       uuid PRIMARY KEY,
    partner_id               uuid NOT NULL REFERENCES partners (id),
    version                  integer NOT NULL CHECK (version >= 1),
    effective_from           timestamptz NOT NULL,
    currency                 text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    -- Money (minor units) per point: exact decimals, never floats.
    price_per_point          numeric(24, 8) NOT NULL CHECK (price_per_point >= 0),
    reimbursement_per_point  numeric(24, 8) NOT NULL CHECK (reimbursement_per_point >= 0),
    period                   text NOT NULL CHECK (period IN ('daily', 'weekly', 'monthly')),
    time_zone                text NOT NULL CHECK (length(time_zone) BETWEEN 1 AND 64),
    created_at               timestamptz NOT NULL DEFAULT now(),
    UNIQUE (partner_id, version),
    UNIQUE (partner_id, effective_from)
);

-- Operator staff keys: finance and admin callers sign like partners, each key bound to a role.
CREATE TABLE operator_keys (
    kid         text PRIMARY KEY CHECK (kid ~ '^[A-Za-z0-9._-]{1,128}$'),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    role        text NOT NULL CHECK (role IN ('admin', 'finance')),
    public_key  bytea NOT NULL UNIQUE CHECK (length(public_key) = 32),
    status      text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'revoked')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz,
    CHECK ((status = 'revoked') = (revoked_at IS NOT NULL))
);

-- Signed settlement statements: one per partner and period, gap-free per partner, chained by
-- the SHA-256 of the previous statement's payload. Never updated or deleted.
CREATE TABLE statements (
    id                 uuid PRIMARY KEY,
    partner_id         uuid NOT NULL REFERENCES partners (id),
    sequence           integer NOT NULL CHECK (sequence >= 1),
    period_start       timestamptz NOT NULL,
    period_end         timestamptz NOT NULL CHECK (period_end > period_start),
    terms_id           uuid NOT NULL REFERENCES partner_terms (id),
    closed_at          timestamptz NOT NULL,
    net_minor          bigint NOT NULL,
    closing_minor      bigint NOT NULL,
    payload            bytea NOT NULL,
    payload_sha256     bytea NOT NULL UNIQUE CHECK (length(payload_sha256) = 32),
    previous_sha256    bytea CHECK (length(previous_sha256) = 32),
    lines_sha256       bytea NOT NULL CHECK (length(lines_sha256) = 32),
    jws                text NOT NULL,
    UNIQUE (partner_id, sequence),
    UNIQUE (partner_id, period_start),
    CHECK ((sequence = 1) = (previous_sha256 IS NULL))
);

-- Which transfers each statement settles, with the money of each line. A transfer is settled
-- at most once: anything committed after its period closed lands in the next statement.
CREATE TABLE statement_lines (
    transfer_id   uuid PRIMARY KEY REFERENCES transfers (id),
    statement_id  uuid NOT NULL REFERENCES statements (id),
    money_minor   bigint NOT NULL
);
CREATE INDEX statement_lines_statement_idx ON statement_lines (statement_id, transfer_id);

-- Acknowledgements, disputes (both signed by the partner, kept with the signed request) and
-- the operator's resolutions of disputes.
CREATE TABLE statement_responses (
    id                uuid PRIMARY KEY,
    statement_id      uuid NOT NULL REFERENCES statements (id),
    kind              text NOT NULL CHECK (kind IN ('acknowledgement', 'dispute', 'resolution')),
    statement_sha256  bytea NOT NULL CHECK (length(statement_sha256) = 32),
    disputed_lines    uuid[] NOT NULL DEFAULT '{}',
    accepted_lines    uuid[] NOT NULL DEFAULT '{}',
    reason            text CHECK (length(reason) BETWEEN 1 AND 2000),
    key_id            text NOT NULL,
    signed_request    jsonb NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now()
);
-- A statement is answered once by its partner and resolved at most once.
CREATE UNIQUE INDEX statement_responses_answer_idx ON statement_responses (statement_id)
    WHERE kind IN ('acknowledgement', 'dispute');
CREATE UNIQUE INDEX statement_responses_resolution_idx ON statement_responses (statement_id)
    WHERE kind = 'resolution';

-- Adjustment transfers posted by resolutions, each correcting one settled line.
CREATE TABLE settlement_adjustments (
    transfer_id           uuid PRIMARY KEY REFERENCES transfers (id),
    resolution_id         uuid NOT NULL REFERENCES statement_responses (id),
    corrects_transfer_id  uuid NOT NULL UNIQUE REFERENCES transfers (id),
    money_minor           bigint NOT NULL
);

CREATE FUNCTION settlement_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: a closed period never changes', TG_TABLE_NAME;
END $$;
CREATE TRIGGER statements_append_only BEFORE UPDATE OR DELETE ON statements
    FOR EACH STATEMENT EXECUTE FUNCTION settlement_is_append_only();
CREATE TRIGGER statement_lines_append_only BEFORE UPDATE OR DELETE ON statement_lines
    FOR EACH STATEMENT EXECUTE FUNCTION settlement_is_append_only();
CREATE TRIGGER statement_responses_append_only BEFORE UPDATE OR DELETE ON statement_responses
    FOR EACH STATEMENT EXECUTE FUNCTION settlement_is_append_only();
