//! Integration tests of the gateway: one binary, one module per feature.
//! They run against real PostgreSQL and Redis (`TEST_DATABASE_URL`, `TEST_REDIS_URL`).

mod cache;
mod committer;
mod demo;
mod errors;
mod health;
mod idempotency;
mod interop;
mod ledger;
mod ledger_model;
mod migrations;
mod openapi;
mod partner;
mod reconciliation;
mod redis_outage;
mod replays;
mod settlement;
mod settlement_periods;
mod signatures;
mod time;
