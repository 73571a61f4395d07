-- Whose each open pending transfer is, so a member's open holds are found through this small
-- table's index rather than by walking the member's whole history of transfers (a card check
-- asks for them on every cache miss).
ALTER TABLE pending_transfers ADD COLUMN member_id uuid REFERENCES members (id);
UPDATE pending_transfers o SET member_id = t.member_id FROM transfers t WHERE t.id = o.transfer_id;
ALTER TABLE pending_transfers ALTER COLUMN member_id SET NOT NULL;
CREATE INDEX pending_transfers_member_idx ON pending_transfers (member_id, timeout_at);
