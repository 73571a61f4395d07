//! The HTTP layer (actix-web only): parse, authenticate, call one domain
//! operation, shape the answer. No SQL and no business rules live here.

pub mod answers;
pub mod earns;
pub mod error;
pub mod health;
pub mod jwks;
pub mod ledger_answers;
pub mod members;
pub mod metrics;
pub mod openapi;
pub mod operator;
pub mod partner;
pub mod quote;
pub mod receipts;
pub mod redemptions;
pub mod request_span;
pub mod reversals;
pub mod routes;
pub mod statements;
pub mod transactions;
pub mod upload;
pub mod verified;
