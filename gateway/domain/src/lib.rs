//! The clubgate domain: what the loyalty club is made of, and the decisions that
//! need no I/O. Every door (the partner API, pages, the CLI, background jobs)
//! and every operation speaks these types; storage converts its rows into them
//! and refuses a value this crate does not know.
//!
//! No actix, diesel, redis or tokio-postgres may enter this crate's dependency
//! tree (`scripts/check-deps.sh` checks it in CI).
//!
//! - [`ids`]: one newtype per kind of id; [`points`]: points, currencies, money;
//!   [`time`]: instants at the precision the ledger keeps.
//! - [`partners`], [`keys`]: the coalition's partners, branches and signing keys.
//! - [`cards`], [`members`], [`member_data`]: cards and their states, enrolment,
//!   personal data and its encryption at rest.
//! - [`program`]: the programme's settings and tiers; [`pricing`]: point rules.
//! - [`ledger`]: transfers, accounts, lots, balances, and the books that decide a batch.
//! - [`settlement`]: terms, periods, statement money and documents, reconciliation.
//!
//! Each area has one error enum whose variants carry a stable `code()`.
#![warn(missing_docs)]

pub mod cards;
pub mod ids;
pub mod keys;
pub mod ledger;
pub mod member_data;
pub mod members;
pub mod partners;
pub mod points;
pub mod pricing;
pub mod program;
pub mod settlement;
pub mod staff;
pub mod text;
pub mod time;
