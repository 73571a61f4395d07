DROP INDEX pending_transfers_member_idx;
ALTER TABLE pending_transfers DROP COLUMN member_id;
