-- Idempotent writes record their typed outcome (the operation's result, or its refusal, as JSON)
-- instead of one door's HTTP answer, so every door (the partner API, pages, the CLI) can render a
-- replay. Rows completed before this migration keep their HTTP answer and replay it as it was.
ALTER TABLE idempotency_records ADD COLUMN outcome jsonb;
ALTER TABLE idempotency_records DROP CONSTRAINT idempotency_records_check;
ALTER TABLE idempotency_records ADD CONSTRAINT idempotency_records_completed_check
    CHECK ((state = 'completed') = (completed_at IS NOT NULL
                                    AND (outcome IS NOT NULL
                                         OR (response_status IS NOT NULL AND response_body IS NOT NULL))));
