-- A version made through the admin API records the request that made it (the operator key's
-- Idempotency-Key and a fingerprint of the request), so a retry finds it and gets the same
-- answer instead of a second version.
ALTER TABLE program_rules
    ADD COLUMN request_key text,
    ADD COLUMN request_fingerprint bytea,
    ADD CONSTRAINT program_rules_request_complete
        CHECK ((request_key IS NULL) = (request_fingerprint IS NULL));
CREATE UNIQUE INDEX program_rules_request ON program_rules (created_by, request_key)
    WHERE request_key IS NOT NULL;
