-- Each bonus once per member, bonus rule and occasion (docs/program.md): the key is kept with the
-- award's first transfer, written by the same batch; the primary key makes a second award of the
-- same key impossible whatever asks for it.
CREATE TABLE bonus_awards (
    member_id    uuid NOT NULL REFERENCES members (id),
    bonus        text NOT NULL,
    occasion     text NOT NULL,
    transfer_id  uuid NOT NULL REFERENCES transfers (id),
    awarded_at   timestamptz NOT NULL,
    PRIMARY KEY (member_id, bonus, occasion)
);

-- Referrals: every member has an invite code to give friends (8 characters from an alphabet
-- without 0/O and 1/I, read aloud and typed without mistakes); a member enrolled with one keeps
-- who referred them.
ALTER TABLE members
    ADD COLUMN invite_code text UNIQUE CHECK (invite_code ~ '^[A-HJ-NP-Z2-9]{8}$'),
    ADD COLUMN referred_by uuid REFERENCES members (id);
UPDATE members SET invite_code = (
    SELECT string_agg(substr('ABCDEFGHJKLMNPQRSTUVWXYZ23456789', 1 + floor(random() * 32)::int, 1), '')
      FROM generate_series(1, 8) WHERE members.id IS NOT NULL);
ALTER TABLE members ALTER COLUMN invite_code SET NOT NULL;
CREATE INDEX members_referred_by ON members (referred_by) WHERE referred_by IS NOT NULL;
