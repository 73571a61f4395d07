//! The partner side of the clubgate protocol (v1).
//!
//! - [`signatures`]: RFC 9421 HTTP Message Signatures (`ed25519`), used by both
//!   sides: partners sign requests, the gateway signs receipts.
//! - [`digest`]: RFC 9530 `Content-Digest`.
//! - [`jwk`]: Ed25519 keys as RFC 8037 JWKs and JWK sets.
//! - [`cards`]: club card numbers (Luhn check digit).
//! - [`protocol`]: the wire types and the signature profile both sides follow.
//! - [`jws`]: compact JWS with Ed25519, the envelope of settlement statements.
//! - [`settlement`]: statements, their lines file and the checks that verify them.
//! - [`client`]: a typed async client that signs every request and verifies
//!   every receipt.
//!
//! This crate never depends on the gateway; the gateway uses its protocol types.

pub mod cards;
pub mod client;
pub mod digest;
pub mod jwk;
pub mod jws;
pub mod protocol;
pub mod settlement;
pub mod signatures;
