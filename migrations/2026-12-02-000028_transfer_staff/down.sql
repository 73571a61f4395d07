ALTER TABLE transfers DROP COLUMN staff_id;
