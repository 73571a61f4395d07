-- The month and day of a member's birthday ('MM-DD'), in clear beside the sealed personal data:
-- the birthday bonus and birthday-month campaigns find members by it every day, which the sealed
-- data (one key per member) cannot serve. The year and everything else stays sealed
-- (docs/program.md, "Birthdays and anniversaries").
ALTER TABLE members ADD COLUMN birthday text
    CHECK (birthday ~ '^(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$');
CREATE INDEX members_birthday ON members (birthday) WHERE birthday IS NOT NULL;
