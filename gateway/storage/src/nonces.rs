//! Request-signature nonces seen within the signature window: in Redis, and in
//! PostgreSQL while Redis is unreachable (see `operations::authentication`).

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::{ExpressionMethods as _, QueryDsl as _};
use diesel_async::RunQueryDsl as _;

use super::schema::signature_nonces;
use super::{Storage, StorageError};

/// Records a nonce in Redis for `ttl`; returns `false` if it was already recorded (a replay).
///
/// `SET NX EX` is atomic, so two instances racing on the same nonce cannot both win.
pub async fn remember(
    storage: &Storage,
    key_id: &str,
    nonce: &str,
    ttl: Duration,
) -> Result<bool, StorageError> {
    let mut redis = storage.redis();
    let reply: Option<String> = redis::cmd("SET")
        .arg(storage.keys.signature_nonce(key_id, nonce))
        .arg(1)
        .arg("NX")
        .arg("EX")
        .arg(ttl.as_secs().max(1))
        .query_async(&mut redis)
        .await?;
    Ok(reply.is_some())
}

/// Records a nonce in PostgreSQL until `expires_at`; returns `false` if it was already recorded.
pub async fn remember_in_database(
    storage: &Storage,
    key_id: &str,
    nonce: &str,
    expires_at: DateTime<Utc>,
) -> Result<bool, StorageError> {
    let inserted = diesel::insert_into(signature_nonces::table)
        .values((
            signature_nonces::key_id.eq(key_id),
            signature_nonces::nonce.eq(nonce),
            signature_nonces::expires_at.eq(expires_at),
        ))
        .on_conflict_do_nothing()
        .execute(&mut *storage.db().await?)
        .await?;
    Ok(inserted == 1)
}

/// Whether PostgreSQL holds this nonce (recorded during a Redis outage).
pub async fn seen_in_database(
    storage: &Storage,
    key_id: &str,
    nonce: &str,
) -> Result<bool, StorageError> {
    let unexpired = signature_nonces::table
        .filter(signature_nonces::key_id.eq(key_id))
        .filter(signature_nonces::nonce.eq(nonce))
        .filter(signature_nonces::expires_at.gt(diesel::dsl::now));
    Ok(diesel::select(diesel::dsl::exists(unexpired))
        .get_result(&mut *storage.db().await?)
        .await?)
}

/// Deletes nonces whose window has passed.
pub async fn forget_expired(storage: &Storage) -> Result<usize, StorageError> {
    Ok(diesel::delete(
        signature_nonces::table.filter(signature_nonces::expires_at.le(diesel::dsl::now)),
    )
    .execute(&mut *storage.db().await?)
    .await?)
}
