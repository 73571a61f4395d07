-- Earns reported after the fact (`occurred_at`, within `program.late_report_days`): when the
-- purchase happened. The transfer itself is made when it is reported (its `created_at` settles
-- it); the member's activity counts it on the local day it happened (`clubgate check`
-- invariant 9 reads this table). Written by the earn's batch; append-only like the ledger.
CREATE TABLE late_earns (
    transfer_id  uuid PRIMARY KEY REFERENCES transfers (id),
    occurred_at  timestamptz NOT NULL
);

CREATE FUNCTION late_earns_are_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'late_earns are append-only, like the transfers they describe';
END $$;
CREATE TRIGGER late_earns_append_only BEFORE UPDATE OR DELETE ON late_earns
    FOR EACH STATEMENT EXECUTE FUNCTION late_earns_are_immutable();
