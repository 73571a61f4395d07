-- A keyed hash of the city a member gives (HMAC with the member-data lookup key, like the phone's):
-- campaigns aimed at a city compare it in the ledger's batch, while the city itself stays in the
-- sealed personal data (docs/program.md, "Campaigns at work").
ALTER TABLE members ADD COLUMN city_lookup bytea CHECK (octet_length(city_lookup) = 32);
