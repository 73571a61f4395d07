//! Receipts: the gateway's signature over its answer, and the check that ties it to a request.
//!
//! Pure: it takes the response's status, headers and body as [`MessageParts`] and bytes, so the
//! typed client, a test harness or a crate built without the `client` feature run the same check.
//! It never talks to the network and never fetches keys; the caller passes the JWKS it trusts.

use crate::digest;
use crate::jwk::KeyLookup;
use crate::protocol;
use crate::signatures::{self, MessageParts};

/// Why a receipt (the gateway's response signature) was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReceiptError {
    #[error("the response carries no signature")]
    Unsigned,
    #[error("the response signature headers are malformed: {0}")]
    Malformed(String),
    #[error("the response is signed with key {0:?}, which the gateway does not publish")]
    UnknownKey(String),
    #[error("the response signature does not cover {0}")]
    NotCovered(String),
    #[error("the response signature does not verify")]
    Invalid,
    #[error("the response body does not match its Content-Digest")]
    DigestMismatch,
    #[error("the receipt answers another request: {0} differs")]
    NotOurs(&'static str),
}

/// What the receipt must be tied to: the request's idempotency key and nonce.
#[derive(Debug, Clone, Default)]
pub struct ExpectedReceipt<'a> {
    /// The request's `Idempotency-Key`, which the receipt must echo and cover.
    pub idempotency_key: Option<&'a str>,
    /// The request signature's `nonce`, which the receipt must echo as `Request-Nonce` and cover.
    pub request_nonce: Option<&'a str>,
}

/// Verifies a gateway receipt and returns the key id that signed it.
///
/// `response` must hold the status and every response header (including
/// `Signature-Input` and `Signature`).
pub fn verify_receipt(
    response: &MessageParts,
    body: &[u8],
    gateway_keys: &(impl KeyLookup + ?Sized),
    expected: &ExpectedReceipt<'_>,
) -> Result<String, ReceiptError> {
    let (Some(input), Some(signature)) = (
        response.header("signature-input"),
        response.header("signature"),
    ) else {
        return Err(ReceiptError::Unsigned);
    };
    let parsed = signatures::parse(&input, &signature)
        .map_err(|e| ReceiptError::Malformed(e.to_string()))?;
    let receipt = parsed
        .iter()
        .find(|s| s.label == protocol::RECEIPT_LABEL)
        .or(parsed.first())
        .ok_or(ReceiptError::Unsigned)?;
    let kid = receipt.params.keyid.clone().unwrap_or_default();
    let key = gateway_keys
        .public_key(&kid)
        .ok_or_else(|| ReceiptError::UnknownKey(kid.clone()))?;
    for component in protocol::receipt_components(
        expected.idempotency_key.is_some(),
        expected.request_nonce.is_some(),
    ) {
        if !receipt.covers(&component) {
            return Err(ReceiptError::NotCovered(component.name().to_owned()));
        }
    }
    receipt
        .verify(response, &key)
        .map_err(|_| ReceiptError::Invalid)?;
    let content_digest = response
        .header("content-digest")
        .ok_or(ReceiptError::DigestMismatch)?;
    digest::verify(&content_digest, body).map_err(|_| ReceiptError::DigestMismatch)?;
    if expected.idempotency_key.is_some()
        && response.header(protocol::IDEMPOTENCY_KEY).as_deref() != expected.idempotency_key
    {
        return Err(ReceiptError::NotOurs("idempotency-key"));
    }
    if expected.request_nonce.is_some()
        && response.header(protocol::REQUEST_NONCE).as_deref() != expected.request_nonce
    {
        return Err(ReceiptError::NotOurs("request-nonce"));
    }
    Ok(kid)
}
