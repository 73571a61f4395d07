//! Ed25519 keys as RFC 8037 JSON Web Keys (`kty: "OKP"`, `crv: "Ed25519"`).
//!
//! Keys travel between partners and the gateway as JWKs so that any JOSE
//! library can read them. This module only reads and writes the format; it
//! never decides whether a key is trusted.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

/// The member a development key file carries so nobody mistakes it for a real one.
pub const DEVELOPMENT_KEY_NOTE: &str =
    "DEVELOPMENT KEY: published in the clubgate repository, never use it in production";

/// Why a JWK could not be used.
#[derive(Debug, thiserror::Error)]
pub enum JwkError {
    #[error("not a JSON Web Key: {0}")]
    Json(#[from] serde_json::Error),
    #[error("unsupported key: kty must be \"OKP\" and crv \"Ed25519\"")]
    NotEd25519,
    #[error("the key has no \"kid\"")]
    MissingKid,
    #[error("the \"kid\" must be 1 to 128 characters of letters, digits, '.', '_' or '-'")]
    InvalidKid,
    #[error("\"{0}\" is not base64url of 32 bytes")]
    InvalidKeyBytes(&'static str),
    #[error("the private key \"d\" does not match the public key \"x\"")]
    KeyMismatch,
    #[error("the JWK holds no private key \"d\"")]
    NotPrivate,
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

/// An Ed25519 JWK as it appears on the wire or on disk.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Jwk {
    pub kty: String,
    pub crv: String,
    pub x: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub d: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    #[serde(rename = "use", default, skip_serializing_if = "Option::is_none")]
    pub key_use: Option<String>,
    /// Free text; development keys say so here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A public key with its key id, ready to verify signatures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    pub kid: String,
    pub key: VerifyingKey,
}

/// A private key with its key id, ready to sign.
#[derive(Clone)]
pub struct PrivateKey {
    pub kid: String,
    pub key: SigningKey,
}

impl std::fmt::Debug for PrivateKey {
    // Never print key material, not even in debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrivateKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// Checks a key id: printable, short, and safe in a header or a file name.
pub fn validate_kid(kid: &str) -> Result<(), JwkError> {
    let is_valid = (1..=128).contains(&kid.len())
        && kid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if is_valid {
        Ok(())
    } else {
        Err(JwkError::InvalidKid)
    }
}

fn decode_32(value: &str, member: &'static str) -> Result<[u8; 32], JwkError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(value)
        .map_err(|_| JwkError::InvalidKeyBytes(member))?;
    bytes
        .try_into()
        .map_err(|_| JwkError::InvalidKeyBytes(member))
}

impl Jwk {
    /// Parses a JWK from JSON text.
    pub fn from_json(text: &str) -> Result<Self, JwkError> {
        Ok(serde_json::from_str(text)?)
    }

    /// Reads a JWK file.
    pub fn read(path: &std::path::Path) -> Result<Self, JwkError> {
        let text = std::fs::read_to_string(path).map_err(|source| JwkError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_json(&text)
    }

    fn check_type(&self) -> Result<String, JwkError> {
        if self.kty != "OKP" || self.crv != "Ed25519" {
            return Err(JwkError::NotEd25519);
        }
        let kid = self.kid.clone().ok_or(JwkError::MissingKid)?;
        validate_kid(&kid)?;
        Ok(kid)
    }

    /// The public half; a private JWK also yields its public key.
    pub fn public_key(&self) -> Result<PublicKey, JwkError> {
        let kid = self.check_type()?;
        let key = VerifyingKey::from_bytes(&decode_32(&self.x, "x")?)
            .map_err(|_| JwkError::InvalidKeyBytes("x"))?;
        Ok(PublicKey { kid, key })
    }

    /// The private key; refuses a JWK whose `d` and `x` disagree.
    pub fn private_key(&self) -> Result<PrivateKey, JwkError> {
        let public = self.public_key()?;
        let d = self.d.as_deref().ok_or(JwkError::NotPrivate)?;
        let key = SigningKey::from_bytes(&decode_32(d, "d")?);
        if key.verifying_key() != public.key {
            return Err(JwkError::KeyMismatch);
        }
        Ok(PrivateKey {
            kid: public.kid,
            key,
        })
    }

    /// Whether this JWK carries a private key.
    pub fn is_private(&self) -> bool {
        self.d.is_some()
    }
}

impl PublicKey {
    /// The public JWK (no private member).
    pub fn to_jwk(&self) -> Jwk {
        Jwk {
            kty: "OKP".into(),
            crv: "Ed25519".into(),
            x: URL_SAFE_NO_PAD.encode(self.key.as_bytes()),
            d: None,
            kid: Some(self.kid.clone()),
            alg: None,
            key_use: Some("sig".into()),
            note: None,
        }
    }
}

impl PrivateKey {
    /// Generates a fresh key from the operating system's random source.
    pub fn generate(kid: &str) -> Result<Self, JwkError> {
        validate_kid(kid)?;
        let mut seed = [0u8; 32];
        // The OS random source failing is not recoverable for key generation.
        getrandom::fill(&mut seed).map_err(|e| JwkError::Io {
            path: "os random source".into(),
            source: std::io::Error::other(e.to_string()),
        })?;
        Ok(Self {
            kid: kid.to_owned(),
            key: SigningKey::from_bytes(&seed),
        })
    }

    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        PublicKey {
            kid: self.kid.clone(),
            key: self.key.verifying_key(),
        }
    }

    /// The private JWK, including `d`.
    pub fn to_jwk(&self) -> Jwk {
        Jwk {
            d: Some(URL_SAFE_NO_PAD.encode(self.key.to_bytes())),
            ..self.public_key().to_jwk()
        }
    }
}

/// Where a verifier finds the public key a signature's `kid` names.
pub trait KeyLookup {
    /// The public key with this key id.
    fn public_key(&self, kid: &str) -> Option<VerifyingKey>;
}

/// A key set's Ed25519 keys, decoded once: decoding a key (decompressing its point) costs about
/// as much as a verification, so a client checking many receipts keeps them decoded.
#[derive(Debug, Clone, Default)]
pub struct DecodedKeys(Vec<PublicKey>);

impl From<&JwkSet> for DecodedKeys {
    fn from(set: &JwkSet) -> Self {
        Self(set.public_keys().collect())
    }
}

impl KeyLookup for DecodedKeys {
    fn public_key(&self, kid: &str) -> Option<VerifyingKey> {
        self.0.iter().find(|key| key.kid == kid).map(|key| key.key)
    }
}

impl KeyLookup for JwkSet {
    fn public_key(&self, kid: &str) -> Option<VerifyingKey> {
        self.find(kid).map(|key| key.key)
    }
}

/// A JSON Web Key Set, as published at `/.well-known/jwks.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct JwkSet {
    pub keys: Vec<Jwk>,
}

impl JwkSet {
    /// Finds the public key with this key id; entries that are not Ed25519 are ignored.
    pub fn find(&self, kid: &str) -> Option<PublicKey> {
        self.public_keys().find(|key| key.kid == kid)
    }

    /// Its Ed25519 keys, decoded as they are reached; other entries are skipped.
    fn public_keys(&self) -> impl Iterator<Item = PublicKey> + '_ {
        self.keys.iter().filter_map(|jwk| jwk.public_key().ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 8037 Appendix A.1/A.2: the RFC 8032 test 1 key as a JWK.
    const RFC8037_D: &str = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A";
    const RFC8037_X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";

    fn rfc8037_jwk() -> Jwk {
        Jwk::from_json(&format!(
            r#"{{"kty":"OKP","crv":"Ed25519","d":"{RFC8037_D}","x":"{RFC8037_X}","kid":"rfc8037"}}"#
        ))
        .unwrap()
    }

    #[test]
    fn rfc8037_private_key_derives_its_public_key() {
        let private = rfc8037_jwk().private_key().unwrap();
        assert_eq!(private.public_key().to_jwk().x, RFC8037_X);
    }

    #[test]
    fn mismatched_private_key_is_refused() {
        let mut jwk = rfc8037_jwk();
        jwk.x = PrivateKey::generate("other")
            .unwrap()
            .public_key()
            .to_jwk()
            .x;
        assert!(matches!(jwk.private_key(), Err(JwkError::KeyMismatch)));
    }

    #[test]
    fn other_key_types_are_refused() {
        let mut jwk = rfc8037_jwk();
        jwk.crv = "X25519".into();
        assert!(matches!(jwk.public_key(), Err(JwkError::NotEd25519)));
    }

    #[test]
    fn kid_must_be_header_safe() {
        assert!(validate_kid("hotel-2026.1_a").is_ok());
        assert!(validate_kid("").is_err());
        assert!(validate_kid("a\"b").is_err());
        assert!(validate_kid(&"k".repeat(129)).is_err());
    }

    #[test]
    fn generated_key_round_trips_through_jwk() {
        let key = PrivateKey::generate("round-trip").unwrap();
        let jwk = Jwk::from_json(&serde_json::to_string(&key.to_jwk()).unwrap()).unwrap();
        assert_eq!(
            jwk.private_key().unwrap().key.to_bytes(),
            key.key.to_bytes()
        );
        assert!(!key.public_key().to_jwk().is_private());
    }
}
