DROP INDEX program_rules_request;
ALTER TABLE program_rules
    DROP CONSTRAINT program_rules_request_complete,
    DROP COLUMN request_fingerprint,
    DROP COLUMN request_key;
