-- Points each campaign has given, kept by the batches that give them: a batch locks the rows of
-- its campaigns with a budget (after its members' accounts) and adds what it gave, so a budget is
-- never overspent whatever runs at once (docs/program.md, "Campaigns at work").
CREATE TABLE campaign_spend (
    code    text PRIMARY KEY,
    points  bigint NOT NULL CHECK (points >= 0)
);
