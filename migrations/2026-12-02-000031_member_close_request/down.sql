ALTER TABLE members DROP COLUMN close_requested_at;
