//! Business types and operations: partners, their keys, who is calling, and
//! idempotent writes. No actix here; storage is reached through `crate::storage`.

pub mod authentication;
pub mod idempotency;
pub mod partner_keys;
pub mod partners;
