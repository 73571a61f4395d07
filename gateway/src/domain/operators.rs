//! Operator staff keys: finance and admin callers sign their requests like
//! partners (same RFC 9421 profile), each key bound to one role.
//!
//! Roles are disjoint, least privilege: `finance` reads statements, resolves
//! disputes and reconciles; `admin` runs the programme (terms, the period close).
//! A partner key never reaches an operator endpoint, an operator key never a
//! partner one.

use chrono::{DateTime, Utc};
use ed25519_dalek::VerifyingKey;
use partners::jwk::PublicKey;

use super::partner_keys::KeyStatus;
use crate::storage::{self, Storage, StorageError};

/// What an operator key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OperatorRole {
    Admin,
    Finance,
}

impl OperatorRole {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Finance => "finance",
        }
    }
}

impl std::str::FromStr for OperatorRole {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value {
            "admin" => Ok(Self::Admin),
            "finance" => Ok(Self::Finance),
            other => Err(format!("role {other:?} is not admin or finance")),
        }
    }
}

/// A registered operator key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorKey {
    pub kid: String,
    /// Who holds the key (a person or a finance system).
    pub name: String,
    pub role: OperatorRole,
    pub public_key: VerifyingKey,
    pub status: KeyStatus,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Why an operator key operation failed.
#[derive(Debug, thiserror::Error)]
pub enum OperatorKeyError {
    #[error(
        "key id {0:?} or its public key is already registered (operator and partner keys share one namespace)"
    )]
    Taken(String),
    #[error("name must be 1 to 200 characters")]
    InvalidName,
    #[error("no active operator key {0:?}")]
    NotFound(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Registers an operator key.
#[tracing::instrument(skip_all, fields(key.id = %key.kid, role = role.as_str()))]
pub async fn register(
    storage: &Storage,
    name: &str,
    role: OperatorRole,
    key: &PublicKey,
) -> Result<OperatorKey, OperatorKeyError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(OperatorKeyError::InvalidName);
    }
    let new = OperatorKey {
        kid: key.kid.clone(),
        name: name.to_owned(),
        role,
        public_key: key.key,
        status: KeyStatus::Active,
        created_at: Utc::now(),
        revoked_at: None,
    };
    let mut conn = storage.db().await?;
    let inserted = storage::operator_keys::insert(&mut conn, &new)
        .await?
        .ok_or_else(|| OperatorKeyError::Taken(key.kid.clone()))?;
    tracing::info!(
        "registered operator key {} ({})",
        inserted.kid,
        inserted.name
    );
    Ok(inserted)
}

/// Every operator key, newest first.
pub async fn list(storage: &Storage) -> Result<Vec<OperatorKey>, StorageError> {
    storage::operator_keys::list(&mut *storage.db().await?).await
}

/// Revokes an operator key for good.
#[tracing::instrument(skip_all, fields(key.id = %kid))]
pub async fn revoke(storage: &Storage, kid: &str) -> Result<OperatorKey, OperatorKeyError> {
    let mut conn = storage.db().await?;
    storage::operator_keys::revoke(&mut conn, kid, Utc::now())
        .await?
        .ok_or_else(|| OperatorKeyError::NotFound(kid.to_owned()))
}
