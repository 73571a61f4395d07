-- The textbook baseline of issue 4: one transaction per redemption, no batching, no HTTP,
-- no signatures. 1,000,000 members and 10 partners. Lives in its own database.
DROP TABLE IF EXISTS entries, members, partners;
CREATE TABLE members (id integer PRIMARY KEY, balance bigint NOT NULL);
CREATE TABLE partners (id integer PRIMARY KEY, balance bigint NOT NULL);
CREATE TABLE entries (
    id bigserial PRIMARY KEY,
    member_id integer NOT NULL,
    partner_id integer NOT NULL,
    amount bigint NOT NULL
);
INSERT INTO members SELECT g, 1000000000 FROM generate_series(1, 1000000) g;
INSERT INTO partners SELECT g, 0 FROM generate_series(1, 10) g;
VACUUM ANALYZE;
