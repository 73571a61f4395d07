//! The integration-test harness: real PostgreSQL, real Redis, the real app over HTTPS.
//!
//! - [`db::TestDb`]: a fresh database per test, cloned from a migrated template.
//! - [`app::TestApp`]: the gateway on `127.0.0.1:0` with its own database, Redis
//!   prefix, CA and signing key; typed fixtures such as `seed_partner()`.
//! - [`requests::Draft`]: signed requests a test can break one rule at a time.
//!
//! If a service is missing the tests fail; they never skip.

pub mod app;
pub mod db;
pub mod requests;
pub mod till;

pub use app::{TestApp, TestAppOptions, TestPartner};
pub use db::TestDb;
pub use requests::{Draft, TestResponse, key_registration_body};
