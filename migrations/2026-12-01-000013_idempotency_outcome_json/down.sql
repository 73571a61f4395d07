ALTER TABLE idempotency_records ALTER COLUMN outcome TYPE jsonb USING outcome::jsonb;
