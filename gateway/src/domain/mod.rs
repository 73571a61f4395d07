//! Business types and operations: partners and their keys, who is calling,
//! idempotent writes, members and cards, point rules, the points ledger and settlement. No actix here; storage is reached through `crate::storage`.

pub mod authentication;
pub mod cards;
pub mod idempotency;
pub mod ledger;
pub mod member_data;
pub mod members;
pub mod operators;
pub mod partner_keys;
pub mod partners;
pub mod rules;
pub mod settlement;
