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
    let mut verifier = DigestVerifier::new(header)?;
    verifier.update(body);
    verifier.finish()
}

/// A `Content-Digest` checked against a body that arrives in pieces (uploads too large
/// to hold): the same rules as [`verify`].
pub struct DigestVerifier {
    sha256: Option<(Sha256, Vec<u8>)>,
    sha512: Option<(Sha512, Vec<u8>)>,
}

impl DigestVerifier {
    /// Reads the expected digests from the header value.
    pub fn new(header: &str) -> Result<Self, DigestError> {
        let dict: Dictionary = Parser::new(header)
            .parse()
            .map_err(|_| DigestError::Malformed)?;
        let mut verifier = Self {
            sha256: None,
            sha512: None,
        };
        for (name, entry) in &dict {
            let ListEntry::Item(item) = entry else {
                return Err(DigestError::Malformed);
            };
            let BareItem::ByteSequence(expected) = &item.bare_item else {
                return Err(DigestError::Malformed);
            };
            match name.as_str() {
                "sha-256" => verifier.sha256 = Some((Sha256::new(), expected.clone())),
                "sha-512" => verifier.sha512 = Some((Sha512::new(), expected.clone())),
                _ => {}
            }
        }
        if verifier.sha256.is_none() && verifier.sha512.is_none() {
            return Err(DigestError::NoSupportedAlgorithm);
        }
        Ok(verifier)
    }

    /// Feeds the next piece of the body.
    pub fn update(&mut self, bytes: &[u8]) {
        if let Some((hasher, _)) = &mut self.sha256 {
            hasher.update(bytes);
        }
        if let Some((hasher, _)) = &mut self.sha512 {
            hasher.update(bytes);
        }
    }

    /// Whether the whole body matched every supported digest the header named.
    pub fn finish(self) -> Result<(), DigestError> {
        let matches256 = self
            .sha256
            .is_none_or(|(hasher, expected)| hasher.finalize().as_slice() == expected);
        let matches512 = self
            .sha512
            .is_none_or(|(hasher, expected)| hasher.finalize().as_slice() == expected);
        if matches256 && matches512 {
            Ok(())
        } else {
            Err(DigestError::Mismatch)
        }
    }
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

    #[test]
    fn a_body_in_pieces_verifies_like_the_whole() {
        let body = b"reference,type,points,amount,time\nR1,earn,10,1000,2026-11-22T10:00:00Z\n";
        let sha512 = format!("sha-512=:{}:", STANDARD.encode(Sha512::digest(body)));
        let header = format!("{}, {sha512}", content_digest(body));
        let mut verifier = DigestVerifier::new(&header).unwrap();
        for piece in body.chunks(7) {
            verifier.update(piece);
        }
        assert_eq!(verifier.finish(), Ok(()));

        let mut short = DigestVerifier::new(&header).unwrap();
        short.update(&body[..body.len() - 1]);
        assert_eq!(short.finish(), Err(DigestError::Mismatch));
    }
}
