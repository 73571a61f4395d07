DROP INDEX members_birthday;
ALTER TABLE members DROP COLUMN birthday;
