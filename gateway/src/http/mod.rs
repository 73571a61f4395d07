//! The HTTP layer (actix-web only): parse, authenticate, call one domain
//! operation, shape the answer. No SQL and no business rules live here.

pub mod answers;
pub mod error;
pub mod health;
pub mod jwks;
pub mod openapi;
pub mod partner;
pub mod receipts;
pub mod request_span;
pub mod routes;
pub mod verified;
