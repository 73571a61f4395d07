//! The partner side of the clubgate protocol (v1).
//!
//! - [`signatures`]: RFC 9421 HTTP Message Signatures (`ed25519`), used by both
//!   sides: partners sign requests, the gateway signs receipts.
//! - [`digest`]: RFC 9530 `Content-Digest`.
//! - [`jwk`]: Ed25519 keys as RFC 8037 JWKs and JWK sets.
//! - [`cards`]: club card numbers (Luhn check digit).
//! - [`protocol`]: the wire types and the signature profile both sides follow.
//! - [`receipts`]: the check that a gateway answer is signed and answers our request.
//! - [`jws`]: compact JWS with Ed25519, the envelope of settlement statements.
//! - [`settlement`]: statements, their lines file and the checks that verify them.
//! - [`amounts`]: money and points written for people (`7,650,506.96 IRR`).
//! - `client` (feature `client`, on by default): a typed async client that signs
//!   every request and verifies every receipt, and the `partner` CLI.
//!
//! Everything but `client` is pure: no HTTP client, no async runtime, no TLS.
//! A crate that only needs the protocol (the gateway's domain types, say)
//! depends on this one with `default-features = false` and so keeps reqwest,
//! tokio, rustls, url, clap and anyhow out of its dependency tree.
//!
//! This crate never depends on the gateway; the gateway uses its protocol types.

pub mod amounts;
pub mod cards;
#[cfg(feature = "client")]
pub mod client;
pub mod digest;
pub mod jwk;
pub mod jws;
pub mod protocol;
pub mod receipts;
pub mod settlement;
pub mod signatures;
