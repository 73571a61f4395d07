-- For each earn posted while tiers were in force: its base points (under the earn rules and their
-- caps, before the tier's multiplier) and the tier the member held. A campaign's dry run replays
-- past earns with them exactly as the books decided (a multiplier campaign gives base points ×
-- (multiplier − 1); an audience may name tiers). An earn without a row had no tier: its base is
-- its amount. Written by the earn's batch; append-only like the ledger.
CREATE TABLE earn_tiers (
    transfer_id  uuid PRIMARY KEY REFERENCES transfers (id),
    base_points  bigint NOT NULL CHECK (base_points > 0),
    tier         text NOT NULL
);

CREATE FUNCTION earn_tiers_are_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'earn_tiers are append-only, like the transfers they describe';
END $$;
CREATE TRIGGER earn_tiers_append_only BEFORE UPDATE OR DELETE ON earn_tiers
    FOR EACH STATEMENT EXECUTE FUNCTION earn_tiers_are_immutable();
