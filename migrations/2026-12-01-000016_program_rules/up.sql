-- The programme's rules as data (docs/program.md): per kind and code, a sequence of versions,
-- each in force from `effective_from` until the next; a version without a definition retires
-- the rule. Append-only: a change is a new version, and each records who made it.
CREATE TABLE program_rules (
    kind            text NOT NULL CHECK (kind IN ('category', 'tier', 'earn_rule', 'bonus', 'campaign')),
    code            text NOT NULL CHECK (code ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    version         integer NOT NULL CHECK (version > 0),
    effective_from  timestamptz NOT NULL,
    definition      jsonb,
    created_by      text NOT NULL,
    created_at      timestamptz NOT NULL,
    PRIMARY KEY (kind, code, version)
);

CREATE FUNCTION program_rules_are_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'program rules are append-only: a change is a new version';
END $$;
CREATE TRIGGER program_rules_append_only BEFORE UPDATE OR DELETE ON program_rules
    FOR EACH STATEMENT EXECUTE FUNCTION program_rules_are_immutable();
