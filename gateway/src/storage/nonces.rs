//! Request-signature nonces seen within the signature window (Redis).

use std::time::Duration;

use super::{Storage, StorageError};

/// Records a nonce for `ttl`; returns `false` if it was already recorded (a replay).
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
