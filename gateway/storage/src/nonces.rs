//! Request-signature nonces seen within the signature window: in Redis, and in
//! PostgreSQL while Redis is unreachable (see `domain::authentication`).

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::sql_types::{Text, Timestamptz};
use diesel_async::RunQueryDsl as _;

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
    let mut conn = storage.db().await?;
    let inserted = diesel::sql_query(
        "INSERT INTO signature_nonces (key_id, nonce, expires_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
    )
    .bind::<Text, _>(key_id)
    .bind::<Text, _>(nonce)
    .bind::<Timestamptz, _>(expires_at)
    .execute(&mut conn)
    .await?;
    Ok(inserted == 1)
}

/// Whether PostgreSQL holds this nonce (recorded during a Redis outage).
pub async fn seen_in_database(
    storage: &Storage,
    key_id: &str,
    nonce: &str,
) -> Result<bool, StorageError> {
    #[derive(diesel::QueryableByName)]
    struct Found {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        found: bool,
    }
    let mut conn = storage.db().await?;
    let found: Found = diesel::sql_query(
        "SELECT EXISTS (SELECT 1 FROM signature_nonces WHERE key_id = $1 AND nonce = $2 AND expires_at > now()) AS found",
    )
    .bind::<Text, _>(key_id)
    .bind::<Text, _>(nonce)
    .get_result(&mut conn)
    .await?;
    Ok(found.found)
}

/// Deletes nonces whose window has passed.
pub async fn forget_expired(storage: &Storage) -> Result<usize, StorageError> {
    let mut conn = storage.db().await?;
    Ok(
        diesel::sql_query("DELETE FROM signature_nonces WHERE expires_at <= now()")
            .execute(&mut conn)
            .await?,
    )
}
