ALTER TABLE accounts DROP COLUMN lifetime_earned;
