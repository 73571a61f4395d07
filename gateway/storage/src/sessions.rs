//! Page sessions, failed sign-ins and members' sign-in codes, in Redis: a session is an opaque document under the hash
//! of its cookie's secret that lapses after its idle time; failures are counters that lapse
//! after their window.

use std::time::Duration;

use super::{Storage, StorageError};

/// The session under `secret_hash`, its idle time started again; `None` when there is none (it
/// lapsed, was ended, or never was).
pub async fn load(
    storage: &Storage,
    secret_hash: &str,
    idle: Duration,
) -> Result<Option<String>, StorageError> {
    let mut redis = storage.redis();
    Ok(redis::cmd("GETEX")
        .arg(storage.keys.session(secret_hash))
        .arg("EX")
        .arg(idle.as_secs().max(1))
        .query_async(&mut redis)
        .await?)
}

/// Stores the session under `secret_hash` for `idle`.
pub async fn save(
    storage: &Storage,
    secret_hash: &str,
    document: &str,
    idle: Duration,
) -> Result<(), StorageError> {
    let mut redis = storage.redis();
    let () = redis::cmd("SET")
        .arg(storage.keys.session(secret_hash))
        .arg(document)
        .arg("EX")
        .arg(idle.as_secs().max(1))
        .query_async(&mut redis)
        .await?;
    Ok(())
}

/// Ends the session under `secret_hash`.
pub async fn delete(storage: &Storage, secret_hash: &str) -> Result<(), StorageError> {
    let mut redis = storage.redis();
    let _: i64 = redis::cmd("DEL")
        .arg(storage.keys.session(secret_hash))
        .query_async(&mut redis)
        .await?;
    Ok(())
}

/// The failed sign-ins counted against `subject` within the window still running.
pub async fn failures(storage: &Storage, subject: &str) -> Result<u64, StorageError> {
    let mut redis = storage.redis();
    let count: Option<u64> = redis::cmd("GET")
        .arg(storage.keys.sign_in_failures(subject))
        .query_async(&mut redis)
        .await?;
    Ok(count.unwrap_or(0))
}

/// Counts one more failed sign-in against `subject`; the count lapses `window` after its first
/// failure. Returns the count.
pub async fn count_failure(
    storage: &Storage,
    subject: &str,
    window: Duration,
) -> Result<u64, StorageError> {
    let key = storage.keys.sign_in_failures(subject);
    let mut redis = storage.redis();
    let (count, _): (u64, i64) = redis::pipe()
        .atomic()
        .cmd("INCR")
        .arg(&key)
        .cmd("EXPIRE")
        .arg(&key)
        .arg(window.as_secs().max(1))
        .arg("NX")
        .query_async(&mut redis)
        .await?;
    Ok(count)
}

/// Forgets `subject`'s failed sign-ins (after a successful one).
pub async fn clear_failures(storage: &Storage, subject: &str) -> Result<(), StorageError> {
    let mut redis = storage.redis();
    let _: i64 = redis::cmd("DEL")
        .arg(storage.keys.sign_in_failures(subject))
        .query_async(&mut redis)
        .await?;
    Ok(())
}

/// Keeps the sign-in code document for a phone (by its keyed lookup, hex) for `ttl`, in place
/// of any before.
pub async fn save_sign_in_code(
    storage: &Storage,
    phone_lookup: &str,
    document: &str,
    ttl: Duration,
) -> Result<(), StorageError> {
    let mut redis = storage.redis();
    let () = redis::cmd("SET")
        .arg(storage.keys.sign_in_code(phone_lookup))
        .arg(document)
        .arg("EX")
        .arg(ttl.as_secs().max(1))
        .query_async(&mut redis)
        .await?;
    Ok(())
}

/// The sign-in code document for a phone, if one is waiting.
pub async fn sign_in_code(
    storage: &Storage,
    phone_lookup: &str,
) -> Result<Option<String>, StorageError> {
    let mut redis = storage.redis();
    Ok(redis::cmd("GET")
        .arg(storage.keys.sign_in_code(phone_lookup))
        .query_async(&mut redis)
        .await?)
}

/// Takes the sign-in code document for a phone away; `true` when this call took it (so a code
/// is used at most once, even by two sign-ins at the same moment).
pub async fn take_sign_in_code(
    storage: &Storage,
    phone_lookup: &str,
) -> Result<bool, StorageError> {
    let mut redis = storage.redis();
    let removed: i64 = redis::cmd("DEL")
        .arg(storage.keys.sign_in_code(phone_lookup))
        .query_async(&mut redis)
        .await?;
    Ok(removed == 1)
}
