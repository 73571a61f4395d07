//! Partner signing keys: registration, rotation and revocation.
//!
//! A partner may hold several active keys at once, so it can roll a new key out
//! to its tills before revoking the old one. Revocation is final.

use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use ed25519_dalek::VerifyingKey;
use partners::jwk::PublicKey;

use super::partners::{Code, PartnerId, PartnerStatus};
use crate::storage::{self, Storage, StorageError};

/// Whether a key may still sign requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyStatus {
    Active,
    Revoked,
}

impl KeyStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Revoked => "revoked",
        }
    }
}

/// A registered partner key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartnerKey {
    pub kid: String,
    pub partner_id: PartnerId,
    pub public_key: VerifyingKey,
    pub status: KeyStatus,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A key together with what authentication needs to know about its partner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyOwner {
    pub key: PartnerKey,
    pub partner_code: Code,
    pub partner_status: PartnerStatus,
}

/// Why a key operation failed.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("key id {0:?} is already registered")]
    KeyIdTaken(String),
    #[error("this public key is already registered under another key id")]
    PublicKeyTaken,
    #[error("no partner {0:?}")]
    PartnerNotFound(String),
    #[error("no key {0:?}")]
    NotFound(String),
    #[error("key {0:?} is already revoked")]
    AlreadyRevoked(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Registers `key` for `partner_id` on the caller's connection (and transaction).
#[tracing::instrument(skip_all, fields(partner.id = %partner_id, key.id = %key.kid))]
pub async fn register(
    conn: &mut AsyncPgConnection,
    partner_id: PartnerId,
    key: &PublicKey,
) -> Result<PartnerKey, KeyError> {
    let new = PartnerKey {
        kid: key.kid.clone(),
        partner_id,
        public_key: key.key,
        status: KeyStatus::Active,
        created_at: Utc::now(),
        revoked_at: None,
    };
    if let Some(inserted) = storage::partner_keys::insert(conn, &new).await? {
        tracing::info!("registered key {} for partner {partner_id}", inserted.kid);
        return Ok(inserted);
    }
    let kid_taken = storage::partner_keys::find_owner(conn, &key.kid)
        .await?
        .is_some()
        || storage::operator_keys::find(conn, &key.kid)
            .await?
            .is_some();
    if kid_taken {
        Err(KeyError::KeyIdTaken(key.kid.clone()))
    } else {
        Err(KeyError::PublicKeyTaken)
    }
}

/// Registers `key` for the partner with `partner_code` (operator CLI).
pub async fn register_for_code(
    storage: &Storage,
    partner_code: &str,
    key: &PublicKey,
) -> Result<PartnerKey, KeyError> {
    let mut conn = storage.db().await?;
    let partner = storage::partners::find_by_code(&mut conn, partner_code)
        .await?
        .ok_or_else(|| KeyError::PartnerNotFound(partner_code.to_owned()))?;
    register(&mut conn, partner.id, key).await
}

/// Revokes a key for good.
#[tracing::instrument(skip_all, fields(key.id = %kid))]
pub async fn revoke(storage: &Storage, kid: &str) -> Result<PartnerKey, KeyError> {
    let mut conn = storage.db().await?;
    match storage::partner_keys::revoke(&mut conn, kid, Utc::now()).await? {
        Some(key) => {
            tracing::info!("revoked key {kid}");
            Ok(key)
        }
        None => match storage::partner_keys::find_owner(&mut conn, kid).await? {
            Some(_) => Err(KeyError::AlreadyRevoked(kid.to_owned())),
            None => Err(KeyError::NotFound(kid.to_owned())),
        },
    }
}

/// A partner's keys, newest first.
pub async fn list(storage: &Storage, partner_code: &str) -> Result<Vec<PartnerKey>, KeyError> {
    let mut conn = storage.db().await?;
    let partner = storage::partners::find_by_code(&mut conn, partner_code)
        .await?
        .ok_or_else(|| KeyError::PartnerNotFound(partner_code.to_owned()))?;
    Ok(storage::partner_keys::list_for_partner(&mut conn, partner.id).await?)
}

/// The key with this id and its partner, whatever their status.
pub async fn find_owner(storage: &Storage, kid: &str) -> Result<Option<KeyOwner>, StorageError> {
    let mut conn = storage.db().await?;
    storage::partner_keys::find_owner(&mut conn, kid).await
}
