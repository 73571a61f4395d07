-- Points each capped earn rule gave each member per local day: what its caps per day and per
-- month are counted against. Written by the ledger's batches under the member's lock (so the
-- read-then-add in one batch is never raced), and never taken back: a reversed earn's points
-- stay counted (docs/program.md, "Earn rules at work").
CREATE TABLE earn_rule_points (
    member_id  uuid   NOT NULL REFERENCES members (id),
    rule       text   NOT NULL,
    day        date   NOT NULL,
    points     bigint NOT NULL CHECK (points > 0),
    PRIMARY KEY (member_id, rule, day)
);
