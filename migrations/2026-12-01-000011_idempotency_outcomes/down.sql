-- Outcomes have no HTTP answer to fall back to: those records go (their keys can be used again).
DELETE FROM idempotency_records WHERE outcome IS NOT NULL;
ALTER TABLE idempotency_records DROP CONSTRAINT idempotency_records_completed_check;
ALTER TABLE idempotency_records ADD CONSTRAINT idempotency_records_check
    CHECK ((state = 'completed') = (response_status IS NOT NULL AND response_body IS NOT NULL
                                    AND completed_at IS NOT NULL));
ALTER TABLE idempotency_records DROP COLUMN outcome;
