-- Outcomes are written once per request and only ever read back whole, by the gateway; `json`
-- keeps them checked as JSON without `jsonb`'s parse into a tree on every insert, which cost the
-- ledger committer about 5 µs of PostgreSQL's time an operation (docs/BENCHMARKS.md, 2026-12-01).
ALTER TABLE idempotency_records ALTER COLUMN outcome TYPE json USING outcome::json;
