//! Signing keys: partners' (registration, rotation, revocation) and operators'.
//!
//! A partner may hold several active keys at once, so it can roll a new key out
//! to its tills before revoking the old one. Revocation is final. Partner and
//! operator keys share one namespace of key ids.

use domain::ids::PartnerId;
use domain::keys::{KeyError, KeyStatus, OperatorKey, OperatorRole, PartnerKey, ReservedKeys};
use partners::jwk::PublicKey;
use storage::{Connection, Storage, StorageError};

use crate::Club;
use crate::error::OperationError;
use crate::idempotency::{self, Answered, IdempotencyError, Scope};

type Result<T> = std::result::Result<T, OperationError<KeyError>>;

/// Registers the calling partner's next key (key rotation), under the request's idempotency key.
pub async fn register_own(
    club: &Club,
    scope: &Scope,
    key: PublicKey,
) -> std::result::Result<Answered<PartnerKey, KeyError>, IdempotencyError> {
    let partner_id = scope.partner_id;
    let reserved = club.reserved_keys.clone();
    idempotency::execute(&club.storage, club.idempotency, scope, move |conn| {
        Box::pin(async move { register_in(conn, &reserved, partner_id, &key).await })
    })
    .await
}

/// Registers `key` for `partner_id` on the caller's connection (and transaction).
#[tracing::instrument(skip_all, fields(partner.id = %partner_id, key.id = %key.kid))]
async fn register_in(
    conn: &mut Connection,
    reserved: &ReservedKeys,
    partner_id: PartnerId,
    key: &PublicKey,
) -> Result<PartnerKey> {
    reserved.check(&key.kid, &key.key)?;
    let new = PartnerKey {
        kid: key.kid.clone(),
        partner_id,
        public_key: key.key,
        status: KeyStatus::Active,
        created_at: domain::time::now(),
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
        Err(KeyError::KeyIdTaken(key.kid.clone()).into())
    } else {
        Err(KeyError::PublicKeyTaken.into())
    }
}

/// Registers `key` for the partner with `partner_code` (operator CLI).
pub async fn register(
    storage: &Storage,
    reserved: &ReservedKeys,
    partner_code: &str,
    key: &PublicKey,
) -> Result<PartnerKey> {
    let mut conn = storage.db().await?;
    let partner = storage::partners::find_by_code(&mut conn, partner_code)
        .await?
        .ok_or_else(|| KeyError::PartnerNotFound(partner_code.to_owned()))?;
    register_in(&mut conn, reserved, partner.id, key).await
}

/// Revokes a partner key for good.
#[tracing::instrument(skip_all, fields(key.id = %kid))]
pub async fn revoke(storage: &Storage, kid: &str) -> Result<PartnerKey> {
    let mut conn = storage.db().await?;
    match storage::partner_keys::revoke(&mut conn, kid, domain::time::now()).await? {
        Some(key) => {
            tracing::info!("revoked key {kid}");
            Ok(key)
        }
        None => match storage::partner_keys::find_owner(&mut conn, kid).await? {
            Some(_) => Err(KeyError::AlreadyRevoked(kid.to_owned()).into()),
            None => Err(KeyError::NotFound(kid.to_owned()).into()),
        },
    }
}

/// A partner's keys, newest first.
pub async fn list(storage: &Storage, partner_code: &str) -> Result<Vec<PartnerKey>> {
    let mut conn = storage.db().await?;
    let partner = storage::partners::find_by_code(&mut conn, partner_code)
        .await?
        .ok_or_else(|| KeyError::PartnerNotFound(partner_code.to_owned()))?;
    Ok(storage::partner_keys::list_for_partner(&mut conn, partner.id).await?)
}

/// Registers an operator key with its role.
#[tracing::instrument(skip_all, fields(key.id = %key.kid, role = role.as_str()))]
pub async fn register_operator(
    storage: &Storage,
    reserved: &ReservedKeys,
    name: &str,
    role: OperatorRole,
    key: &PublicKey,
) -> Result<OperatorKey> {
    reserved.check(&key.kid, &key.key)?;
    let name = domain::text::name("name", name, 200).map_err(|_| KeyError::InvalidName)?;
    let new = OperatorKey {
        kid: key.kid.clone(),
        name,
        role,
        public_key: key.key,
        status: KeyStatus::Active,
        created_at: domain::time::now(),
        revoked_at: None,
    };
    let mut conn = storage.db().await?;
    let inserted = storage::operator_keys::insert(&mut conn, &new)
        .await?
        .ok_or_else(|| KeyError::KeyIdTaken(key.kid.clone()))?;
    tracing::info!(
        "registered operator key {} ({})",
        inserted.kid,
        inserted.name
    );
    Ok(inserted)
}

/// Every operator key, newest first.
pub async fn list_operators(
    storage: &Storage,
) -> std::result::Result<Vec<OperatorKey>, StorageError> {
    storage::operator_keys::list(&mut *storage.db().await?).await
}

/// Revokes an operator key for good.
#[tracing::instrument(skip_all, fields(key.id = %kid))]
pub async fn revoke_operator(storage: &Storage, kid: &str) -> Result<OperatorKey> {
    let mut conn = storage.db().await?;
    Ok(
        storage::operator_keys::revoke(&mut conn, kid, domain::time::now())
            .await?
            .ok_or_else(|| KeyError::NotFound(kid.to_owned()))?,
    )
}
