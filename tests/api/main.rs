//! Integration tests of the gateway: one binary, one module per feature.
//! They run against real PostgreSQL and Redis (`TEST_DATABASE_URL`, `TEST_REDIS_URL`).

mod bonuses;
mod cache;
mod campaigns;
mod committer;
mod database_outage;
mod demo;
mod earn_rules;
mod earns;
mod enrolment;
mod errors;
mod health;
mod holds;
mod hostile_input;
mod idempotency;
mod interop;
mod ledger_model;
mod migrations;
mod openapi;
mod openapi_fuzz;
mod partner;
mod pending_earns;
mod program;
mod reconciliation;
mod redemptions;
mod redis_outage;
mod replays;
mod request_heads;
mod reversals;
mod settlement;
mod settlement_periods;
mod signatures;
mod staff;
mod tiers;
mod time;
mod transactions;
