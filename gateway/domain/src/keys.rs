//! Signing keys: partners' (for their tills and systems) and operators' (finance and admin
//! staff and systems). Both kinds share one namespace of key ids, so a key id always names
//! one principal.

use chrono::{DateTime, Utc};
use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};

use crate::partners::{Code, PartnerId, PartnerStatus};

/// Whether a key may still sign requests.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::Display,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum KeyStatus {
    /// It may sign.
    Active,
    /// Revoked for good.
    Revoked,
}

impl KeyStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// A registered partner key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartnerKey {
    /// Its key id.
    pub kid: String,
    /// The partner holding it.
    pub partner_id: PartnerId,
    /// The public key.
    pub public_key: VerifyingKey,
    /// Whether it may sign.
    pub status: KeyStatus,
    /// When it was registered.
    pub created_at: DateTime<Utc>,
    /// When it was revoked.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A key together with what authentication needs to know about its partner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyOwner {
    /// The key.
    pub key: PartnerKey,
    /// Its partner's code.
    pub partner_code: Code,
    /// Whether its partner may transact.
    pub partner_status: PartnerStatus,
}

/// What an operator key may do. Roles are disjoint (least privilege): `finance` reads
/// statements, resolves disputes and reconciles; `admin` runs the programme (terms, the close).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::Display,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum OperatorRole {
    /// Runs the programme.
    Admin,
    /// Settles with the partners.
    Finance,
}

impl OperatorRole {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// A registered operator key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorKey {
    /// Its key id.
    pub kid: String,
    /// Who holds the key (a person or a finance system).
    pub name: String,
    /// What it may do.
    pub role: OperatorRole,
    /// The public key.
    pub public_key: VerifyingKey,
    /// Whether it may sign.
    pub status: KeyStatus,
    /// When it was registered.
    pub created_at: DateTime<Utc>,
    /// When it was revoked.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// The gateway's own keys (its receipt and statement signing keys, current and retired): no
/// partner or operator may register their key ids or public keys, so nothing signed by the
/// gateway can be passed off as signed by a caller, nor the reverse.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReservedKeys(Vec<(String, VerifyingKey)>);

impl ReservedKeys {
    /// The keys published as `(kid, public key)`.
    pub fn new(keys: impl IntoIterator<Item = (String, VerifyingKey)>) -> Self {
        Self(keys.into_iter().collect())
    }

    /// Refuses `kid` or `public_key` if the gateway holds either.
    pub fn check(&self, kid: &str, public_key: &VerifyingKey) -> Result<(), KeyError> {
        if self.0.iter().any(|(reserved, _)| reserved == kid) {
            return Err(KeyError::KeyIdTaken(kid.to_owned()));
        }
        if self.0.iter().any(|(_, reserved)| reserved == public_key) {
            return Err(KeyError::PublicKeyTaken);
        }
        Ok(())
    }
}

/// Why a key could not be registered, listed or revoked.
#[derive(
    Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize, strum::EnumIter,
)]
pub enum KeyError {
    /// The key id names another key (partner or operator).
    #[error("key id {0:?} is already registered")]
    KeyIdTaken(String),
    /// The public key is registered under another key id.
    #[error("this public key is already registered under another key id")]
    PublicKeyTaken,
    /// No partner has this code.
    #[error("no partner {0:?}")]
    PartnerNotFound(String),
    /// No key has this id.
    #[error("no key {0:?}")]
    NotFound(String),
    /// The key was revoked already.
    #[error("key {0:?} is already revoked")]
    AlreadyRevoked(String),
    /// The key holder's name is empty, too long, or not plain text with a letter.
    #[error("name must be 1 to 200 characters of plain text, with at least one letter")]
    InvalidName,
}

impl KeyError {
    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::KeyIdTaken(_) => "key_id_taken",
            Self::PublicKeyTaken => "public_key_taken",
            Self::PartnerNotFound(_) => "partner_not_found",
            Self::NotFound(_) => "key_not_found",
            Self::AlreadyRevoked(_) => "key_already_revoked",
            Self::InvalidName => "invalid_request",
        }
    }
}
