//! RFC 9530 `Content-Digest` for message bodies.
//!
//! The signature covers this header, not the body, so the digest is what ties
//! the body to the signature. We emit `sha-256` and accept `sha-256` and
//! `sha-512`; any other algorithm alone is refused rather than trusted.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sfv::{BareItem, Dictionary, ListEntry, Parser};
use sha2::{Digest as _, Sha256, Sha512};

/// Why a `Content-Digest` header does not vouch for a body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigestError {
    #[error("Content-Digest is not a structured-field dictionary of byte sequences")]
    Malformed,
    #[error("Content-Digest names no supported algorithm (sha-256 or sha-512)")]
    NoSupportedAlgorithm,
    #[error("Content-Digest does not match the body")]
    Mismatch,
}

/// The `Content-Digest` header value for a body: `sha-256=:<base64>:`.
pub fn content_digest(body: &[u8]) -> String {
    format!("sha-256=:{}:", STANDARD.encode(Sha256::digest(body)))
}

/// Checks a `Content-Digest` header value against the body.
///
/// Every supported algorithm present must match; unknown ones are ignored, but
/// at least one supported algorithm must be present.
pub fn verify(header: &str, body: &[u8]) -> Result<(), DigestError> {
    let dict: Dictionary = Parser::new(header)
        .parse()
        .map_err(|_| DigestError::Malformed)?;
    let mut checked = 0;
    for (name, entry) in &dict {
        let ListEntry::Item(item) = entry else {
            return Err(DigestError::Malformed);
        };
        let BareItem::ByteSequence(expected) = &item.bare_item else {
            return Err(DigestError::Malformed);
        };
        let actual: Vec<u8> = match name.as_str() {
            "sha-256" => Sha256::digest(body).to_vec(),
            "sha-512" => Sha512::digest(body).to_vec(),
            _ => continue,
        };
        if &actual != expected {
            return Err(DigestError::Mismatch);
        }
        checked += 1;
    }
    if checked == 0 {
        return Err(DigestError::NoSupportedAlgorithm);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc9530_example_digest() {
        // RFC 9530 Section 2 example: {"hello": "world"} followed by a newline.
        assert_eq!(
            content_digest(b"{\"hello\": \"world\"}\n"),
            "sha-256=:RK/0qy18MlBSVnWgjwz6lZEWjP/lF5HF9bvEF8FabDg=:"
        );
    }

    #[test]
    fn own_digest_verifies_and_tampering_is_detected() {
        let header = content_digest(b"{\"points\":10}");
        assert_eq!(verify(&header, b"{\"points\":10}"), Ok(()));
        assert_eq!(
            verify(&header, b"{\"points\":11}"),
            Err(DigestError::Mismatch)
        );
    }

    #[test]
    fn unsupported_or_malformed_digests_are_refused() {
        assert_eq!(
            verify("md5=:AAAA:", b""),
            Err(DigestError::NoSupportedAlgorithm)
        );
        assert_eq!(verify("sha-256=abc", b""), Err(DigestError::Malformed));
        assert_eq!(
            verify("not a dictionary ((", b""),
            Err(DigestError::Malformed)
        );
    }
}
