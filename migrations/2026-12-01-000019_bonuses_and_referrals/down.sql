DROP INDEX members_referred_by;
ALTER TABLE members DROP COLUMN referred_by, DROP COLUMN invite_code;
DROP TABLE bonus_awards;
