//! Request-signature nonces seen within the signature window, in PostgreSQL (see
//! `operations::authentication`): the record that survives a Redis loss, so no signature is
//! accepted twice.

use std::collections::HashSet;
use std::time::Duration;

use diesel::sql_types::{Array, Double, Text};
use diesel::{ExpressionMethods as _, QueryDsl as _};
use diesel_async::RunQueryDsl as _;

use super::prepared::prepared;
use super::schema::signature_nonces;
use super::{Connection, Storage, StorageError};

#[derive(diesel::QueryableByName)]
struct Recorded {
    #[diesel(sql_type = Text)]
    key_id: String,
    #[diesel(sql_type = Text)]
    nonce: String,
}

/// Records each (key, nonce) for `ttl` in one statement; returns the ones that were new.
///
/// A nonce whose row has expired (its window passed, the row not yet deleted) counts as new again,
/// as it would have in a store that forgets on time. `pairs` must not repeat a pair: PostgreSQL
/// refuses to touch one row twice in a statement.
pub async fn record(
    conn: &mut Connection,
    pairs: &[(&str, &str)],
    ttl: Duration,
) -> Result<HashSet<(String, String)>, StorageError> {
    let (key_ids, nonces): (Vec<&str>, Vec<&str>) = pairs.iter().copied().unzip();
    let recorded: Vec<Recorded> = prepared(
        diesel::sql_query(
            "INSERT INTO signature_nonces (key_id, nonce, expires_at) \
         SELECT key_id, nonce, now() + make_interval(secs => $3) \
         FROM unnest($1::text[], $2::text[]) AS n(key_id, nonce) \
         ON CONFLICT (key_id, nonce) DO UPDATE SET expires_at = EXCLUDED.expires_at \
             WHERE signature_nonces.expires_at <= now() \
         RETURNING key_id, nonce",
        )
        .bind::<Array<Text>, _>(key_ids)
        .bind::<Array<Text>, _>(nonces)
        .bind::<Double, _>(ttl.as_secs_f64()),
    )
    .load(conn)
    .await?;
    Ok(recorded.into_iter().map(|r| (r.key_id, r.nonce)).collect())
}

/// Deletes nonces whose window has passed.
pub async fn forget_expired(storage: &Storage) -> Result<usize, StorageError> {
    Ok(diesel::delete(
        signature_nonces::table.filter(signature_nonces::expires_at.le(diesel::dsl::now)),
    )
    .execute(&mut *storage.db().await?)
    .await?)
}
