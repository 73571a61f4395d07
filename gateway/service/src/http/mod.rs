//! The partner and operator API (actix-web): parse, authenticate, call one
//! operation, render its outcome. No SQL, no transactions and no business rules
//! live here.

pub mod answers;
pub mod earns;
pub mod error;
pub mod health;
pub mod jwks;
pub mod members;
pub mod metrics;
pub mod openapi;
pub mod operator;
pub mod partner;
pub mod quote;
pub mod receipts;
pub mod redemptions;
pub mod render;
pub mod request_span;
pub mod reversals;
pub mod routes;
pub mod statements;
pub mod transactions;
pub mod upload;
pub mod verified;
