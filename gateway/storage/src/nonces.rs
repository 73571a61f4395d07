//! Request-signature nonces (see `operations::replays`): marked in Redis when accepted, and
//! kept in PostgreSQL, the record that survives a Redis loss, so no signature is accepted twice.

use std::collections::HashSet;
use std::time::Duration;

use diesel::sql_types::{Array, BigInt, Bool, Double, Text};
use diesel::{ExpressionMethods as _, QueryDsl as _};
use diesel_async::RunQueryDsl as _;
use sha2::{Digest as _, Sha256};

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

/// The nonce's digest, by which PostgreSQL keeps nonces accepted in Redis: the first 8 bytes of
/// SHA-256(key_id, 0x00, nonce), big-endian (the `nonce_digest` SQL function computes the same).
pub fn digest(key_id: &str, nonce: &str) -> i64 {
    let hash = Sha256::new()
        .chain_update(key_id)
        .chain_update([0])
        .chain_update(nonce)
        .finalize();
    let mut first = [0; 8];
    first.copy_from_slice(&hash[..8]);
    i64::from_be_bytes(first)
}

/// Records each (key, nonce) for `ttl` in one statement; returns the ones that were new here (the
/// caller looks for them among the mirrored digests, [`mirrored`]).
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

/// Keeps the digests of nonces accepted in Redis (see [`digest`]) for `ttl`, as one row; returns
/// how many of them were recorded here before (by [`record`]), each a replay accepted.
pub async fn mirror(
    conn: &mut Connection,
    digests: &[i64],
    ttl: Duration,
) -> Result<usize, StorageError> {
    #[derive(diesel::QueryableByName)]
    struct Seen {
        #[diesel(sql_type = BigInt)]
        seen: i64,
    }
    let seen: Seen = prepared(
        diesel::sql_query(
            "WITH mirrored AS ( \
                 INSERT INTO mirrored_nonces (expires_at, digests) \
                 VALUES (now() + make_interval(secs => $2), $1)) \
             SELECT count(*) AS seen FROM signature_nonces \
             WHERE digest = ANY($1) AND expires_at > now()",
        )
        .bind::<Array<BigInt>, _>(digests)
        .bind::<Double, _>(ttl.as_secs_f64()),
    )
    .get_result(conn)
    .await?;
    Ok(usize::try_from(seen.seen).unwrap_or(0))
}

/// The digests of every nonce mirrored and not yet expired.
pub async fn mirrored(conn: &mut Connection) -> Result<HashSet<i64>, StorageError> {
    #[derive(diesel::QueryableByName)]
    struct Mirrored {
        #[diesel(sql_type = Array<BigInt>)]
        digests: Vec<i64>,
    }
    let rows: Vec<Mirrored> =
        diesel::sql_query("SELECT digests FROM mirrored_nonces WHERE expires_at > now()")
            .load(conn)
            .await?;
    let mut digests = HashSet::with_capacity(rows.iter().map(|row| row.digests.len()).sum());
    digests.extend(rows.into_iter().flat_map(|row| row.digests));
    Ok(digests)
}

/// Deletes nonces whose window has passed, recorded or mirrored.
pub async fn forget_expired(storage: &Storage) -> Result<usize, StorageError> {
    let mut conn = storage.db().await?;
    let recorded = diesel::delete(
        signature_nonces::table.filter(signature_nonces::expires_at.le(diesel::dsl::now)),
    )
    .execute(&mut conn)
    .await?;
    diesel::sql_query("DELETE FROM mirrored_nonces WHERE expires_at <= now()")
        .execute(&mut conn)
        .await?;
    Ok(recorded)
}

/// Marks a nonce in Redis for `ttl` and reads the nonce epoch in the same round trip: whether the
/// nonce was new there, and the epoch Redis holds (none if it lost its memory).
pub async fn claim_in_redis(
    storage: &Storage,
    key_id: &str,
    nonce: &str,
    ttl: Duration,
) -> Result<(bool, Option<i64>), StorageError> {
    let (claimed, epoch): (Option<String>, Option<i64>) = redis::pipe()
        .cmd("SET")
        .arg(storage.keys.signature_nonce(key_id, nonce))
        .arg(1)
        .arg("NX")
        .arg("EX")
        .arg(ttl.as_secs().max(1))
        .cmd("GET")
        .arg(storage.keys.nonce_epoch())
        .query_async(&mut storage.redis())
        .await?;
    Ok((claimed.is_some(), epoch))
}

/// The nonce epoch Redis holds, if any.
pub async fn redis_epoch(storage: &Storage) -> Result<Option<i64>, StorageError> {
    Ok(redis::cmd("GET")
        .arg(storage.keys.nonce_epoch())
        .query_async(&mut storage.redis())
        .await?)
}

/// Raises Redis's nonce epoch to `epoch` unless it holds a later one; returns the one it holds.
pub async fn raise_redis_epoch(storage: &Storage, epoch: i64) -> Result<i64, StorageError> {
    static RAISE: std::sync::LazyLock<redis::Script> = std::sync::LazyLock::new(|| {
        redis::Script::new(
            "local held = tonumber(redis.call('GET', KEYS[1]))
             local wanted = tonumber(ARGV[1])
             if held == nil or held < wanted then
                 redis.call('SET', KEYS[1], ARGV[1])
                 return wanted
             end
             return held",
        )
    });
    Ok(RAISE
        .key(storage.keys.nonce_epoch())
        .arg(epoch)
        .invoke_async(&mut storage.redis())
        .await?)
}

/// Draws a new nonce epoch for `instance_id`, publishing in the same statement that signatures
/// created before `check_before` must be checked in PostgreSQL (so no instance can find the new
/// epoch in Redis without that). The instance's row must exist.
pub async fn draw_epoch(
    conn: &mut Connection,
    instance_id: &str,
    check_before: i64,
) -> Result<i64, StorageError> {
    #[derive(diesel::QueryableByName)]
    struct Drawn {
        #[diesel(sql_type = BigInt)]
        epoch: i64,
    }
    let drawn: Drawn = diesel::sql_query(
        "WITH published AS ( \
             UPDATE nonce_mirrors SET check_before = GREATEST(check_before, $2) \
             WHERE instance_id = $1 RETURNING 1) \
         SELECT nextval('nonce_epochs') AS epoch FROM published",
    )
    .bind::<Text, _>(instance_id)
    .bind::<BigInt, _>(check_before)
    .get_result(conn)
    .await?;
    Ok(drawn.epoch)
}

/// What one gateway instance says of its nonce mirror (see the `nonce_mirrors` table).
#[derive(Debug, Clone, PartialEq, diesel::QueryableByName)]
pub struct MirrorRow {
    /// The instance.
    #[diesel(sql_type = Text)]
    pub instance_id: String,
    /// Every nonce it accepted under an earlier epoch is in `signature_nonces`.
    #[diesel(sql_type = BigInt)]
    pub epoch: i64,
    /// It cannot reach Redis.
    #[diesel(sql_type = Bool)]
    pub redis_unreachable: bool,
    /// Signatures created before this (UNIX seconds) are checked in PostgreSQL.
    #[diesel(sql_type = BigInt)]
    pub check_before: i64,
    /// When it last wrote its row (UNIX seconds, PostgreSQL's clock).
    #[diesel(sql_type = Double)]
    pub updated_at: f64,
    /// PostgreSQL's clock when this was read (UNIX seconds).
    #[diesel(sql_type = Double)]
    pub read_at: f64,
}

/// Writes `row` (its `updated_at` and `read_at` are ignored: now), deletes rows not written for
/// `forget_after` (but those naming the newest epoch: the newest drawn is told by them), and reads
/// every instance's row, in one statement.
pub async fn write_mirror_row(
    conn: &mut Connection,
    row: &MirrorRow,
    forget_after: Duration,
) -> Result<Vec<MirrorRow>, StorageError> {
    Ok(prepared(
        diesel::sql_query(
            "WITH forgotten AS ( \
                 DELETE FROM nonce_mirrors \
                 WHERE updated_at < now() - make_interval(secs => $5) AND instance_id <> $1 \
                     AND epoch < (SELECT max(epoch) FROM nonce_mirrors)), \
             mine AS ( \
                 INSERT INTO nonce_mirrors \
                     (instance_id, epoch, redis_unreachable, check_before, updated_at) \
                 VALUES ($1, $2, $3, $4, now()) \
                 ON CONFLICT (instance_id) DO UPDATE SET epoch = EXCLUDED.epoch, \
                     redis_unreachable = EXCLUDED.redis_unreachable, \
                     check_before = GREATEST(nonce_mirrors.check_before, EXCLUDED.check_before), \
                     updated_at = EXCLUDED.updated_at \
                 RETURNING instance_id, epoch, redis_unreachable, check_before, updated_at) \
             SELECT instance_id, epoch, redis_unreachable, check_before, \
                 extract(epoch FROM updated_at)::float8 AS updated_at, \
                 extract(epoch FROM now())::float8 AS read_at \
             FROM (SELECT instance_id, epoch, redis_unreachable, check_before, updated_at \
                   FROM nonce_mirrors WHERE instance_id <> $1 \
                   UNION ALL SELECT * FROM mine) AS rows",
        )
        .bind::<Text, _>(&row.instance_id)
        .bind::<BigInt, _>(row.epoch)
        .bind::<Bool, _>(row.redis_unreachable)
        .bind::<BigInt, _>(row.check_before)
        .bind::<Double, _>(forget_after.as_secs_f64()),
    )
    .load(conn)
    .await?)
}
