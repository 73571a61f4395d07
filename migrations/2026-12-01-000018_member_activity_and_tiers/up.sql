-- What each member did at partners per local day of the programme (its zone: Asia/Tehran in the
-- demo), as tiers and repeat-visit bonuses count it: a projection of the ledger's earns and
-- their reversals (docs/program.md), written by the same batch as the transfers and checked by
-- `clubgate check`.
CREATE TABLE member_activity (
    member_id    uuid NOT NULL REFERENCES members (id),
    day          date NOT NULL,
    points       bigint NOT NULL,
    spend_minor  bigint NOT NULL,
    visits       bigint NOT NULL,
    PRIMARY KEY (member_id, day)
);

-- Members' moves between tiers, in the order they were found (`id`): append-only history,
-- written under the member's account lock, each move once.
CREATE TABLE member_tier_changes (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    member_id      uuid NOT NULL REFERENCES members (id),
    changed_at     timestamptz NOT NULL,
    tier           text NOT NULL,
    previous_tier  text
);
CREATE INDEX member_tier_changes_member ON member_tier_changes (member_id, id);

CREATE FUNCTION member_tier_changes_are_history() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'member_tier_changes is history: append only';
END $$;
CREATE TRIGGER member_tier_changes_append_only BEFORE UPDATE OR DELETE ON member_tier_changes
    FOR EACH STATEMENT EXECUTE FUNCTION member_tier_changes_are_history();

-- The projection of what the ledger holds already, by Tehran day (the default zone; `clubgate
-- check` reports any difference under another).
INSERT INTO member_activity (member_id, day, points, spend_minor, visits)
SELECT member_id,
       (created_at AT TIME ZONE 'Asia/Tehran')::date,
       sum(CASE WHEN code = 'earn' THEN amount ELSE -amount END),
       sum(CASE WHEN code = 'earn' THEN coalesce(money_minor, 0) ELSE -coalesce(money_minor, 0) END),
       count(*) FILTER (WHERE code = 'earn')
FROM transfers
WHERE member_id IS NOT NULL
  AND ((code = 'earn' AND phase IN ('single', 'post')) OR code = 'earn_reversal')
GROUP BY 1, 2;
