//! The partner and operator API (actix-web): parse, authenticate, call one
//! operation, render its outcome. No SQL, no transactions and no business rules
//! live here.

pub(crate) mod answers;
pub(crate) mod earns;
pub(crate) mod error;
pub(crate) mod events;
pub(crate) mod health;
pub(crate) mod jwks;
pub(crate) mod members;
pub(crate) mod metrics;
pub(crate) mod openapi;
pub(crate) mod operator;
pub(crate) mod partner;
pub(crate) mod program;
pub(crate) mod quote;
pub(crate) mod receipts;
pub(crate) mod redemptions;
pub(crate) mod render;
pub(crate) mod request_span;
pub(crate) mod reversals;
pub(crate) mod routes;
pub(crate) mod statements;
pub(crate) mod transactions;
pub(crate) mod upload;
pub(crate) mod verified;
