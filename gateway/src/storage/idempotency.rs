//! The `idempotency_records` table: claims, leases and recorded answers.

use std::time::Duration;

use diesel::prelude::*;
use diesel::sql_types::{Array, Bytea, Double, Nullable, SmallInt, Text, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::StorageError;
use crate::domain::idempotency::RecordedAnswer;

/// One attempt's claim on a key.
#[derive(Debug, Clone)]
pub struct Claim {
    pub partner_id: Uuid,
    pub key: String,
    pub fingerprint: Vec<u8>,
    pub lease_token: Uuid,
}

/// A record someone else holds or completed.
#[derive(Debug, Clone)]
pub struct ClaimedRecord {
    pub fingerprint: Vec<u8>,
    /// `None` while the first attempt is still in flight.
    pub answer: Option<RecordedAnswer>,
}

#[derive(QueryableByName)]
struct LeaseRow {
    #[diesel(sql_type = SqlUuid)]
    #[expect(
        dead_code,
        reason = "RETURNING needs a column; only the row's presence matters"
    )]
    lease_token: Uuid,
}

#[derive(QueryableByName)]
struct RecordRow {
    #[diesel(sql_type = Bytea)]
    request_fingerprint: Vec<u8>,
    #[diesel(sql_type = Nullable<SmallInt>)]
    response_status: Option<i16>,
    #[diesel(sql_type = Nullable<Bytea>)]
    response_body: Option<Vec<u8>>,
}

impl RecordRow {
    fn into_claimed(self) -> ClaimedRecord {
        let answer = match (self.response_status, self.response_body) {
            (Some(status), Some(body)) => Some(RecordedAnswer {
                status: u16::try_from(status).unwrap_or(500),
                body,
            }),
            _ => None,
        };
        ClaimedRecord {
            fingerprint: self.request_fingerprint,
            answer,
        }
    }
}

/// Claims the key for this attempt; returns the existing record if someone else holds or
/// completed it.
///
/// An in-flight record whose lease expired is taken over, but only by the same payload.
pub async fn claim(
    conn: &mut AsyncPgConnection,
    claim: &Claim,
    lease: Duration,
) -> Result<Option<ClaimedRecord>, StorageError> {
    // The existing row can vanish between the two statements (its holder released it);
    // then the claim is simply tried again.
    for _ in 0..3 {
        let claimed = diesel::sql_query(
            "INSERT INTO idempotency_records \
                 (partner_id, idempotency_key, request_fingerprint, state, lease_token, lease_expires_at) \
             VALUES ($1, $2, $3, 'in_flight', $4, now() + make_interval(secs => $5)) \
             ON CONFLICT (partner_id, idempotency_key) DO UPDATE \
                 SET lease_token = EXCLUDED.lease_token, lease_expires_at = EXCLUDED.lease_expires_at \
               WHERE idempotency_records.state = 'in_flight' \
                 AND idempotency_records.lease_expires_at < now() \
                 AND idempotency_records.request_fingerprint = EXCLUDED.request_fingerprint \
             RETURNING lease_token",
        )
        .bind::<SqlUuid, _>(claim.partner_id)
        .bind::<Text, _>(&claim.key)
        .bind::<Bytea, _>(&claim.fingerprint)
        .bind::<SqlUuid, _>(claim.lease_token)
        .bind::<Double, _>(lease.as_secs_f64())
        .get_result::<LeaseRow>(conn)
        .await
        .optional()?;
        if claimed.is_some() {
            return Ok(None);
        }
        let existing = diesel::sql_query(
            "SELECT request_fingerprint, response_status, response_body \
               FROM idempotency_records WHERE partner_id = $1 AND idempotency_key = $2",
        )
        .bind::<SqlUuid, _>(claim.partner_id)
        .bind::<Text, _>(&claim.key)
        .get_result::<RecordRow>(conn)
        .await
        .optional()?;
        if let Some(row) = existing {
            return Ok(Some(row.into_claimed()));
        }
    }
    Err(StorageError::Contention)
}

/// Stores the answer if this attempt still holds the claim; `false` if its lease was lost.
pub async fn complete(
    conn: &mut AsyncPgConnection,
    claim: &Claim,
    answer: &RecordedAnswer,
) -> Result<bool, StorageError> {
    let status = i16::try_from(answer.status).unwrap_or(i16::MAX);
    let updated = diesel::sql_query(
        "UPDATE idempotency_records \
            SET state = 'completed', response_status = $4, response_body = $5, \
                completed_at = now(), lease_token = NULL, lease_expires_at = NULL \
          WHERE partner_id = $1 AND idempotency_key = $2 AND lease_token = $3 \
            AND state = 'in_flight'",
    )
    .bind::<SqlUuid, _>(claim.partner_id)
    .bind::<Text, _>(&claim.key)
    .bind::<SqlUuid, _>(claim.lease_token)
    .bind::<SmallInt, _>(status)
    .bind::<Bytea, _>(&answer.body)
    .execute(conn)
    .await?;
    Ok(updated == 1)
}

/// Gives the key up after a transient failure, so a retry can run it.
pub async fn release(conn: &mut AsyncPgConnection, claim: &Claim) -> Result<(), StorageError> {
    diesel::sql_query(
        "DELETE FROM idempotency_records \
          WHERE partner_id = $1 AND idempotency_key = $2 AND lease_token = $3 \
            AND state = 'in_flight'",
    )
    .bind::<SqlUuid, _>(claim.partner_id)
    .bind::<Text, _>(&claim.key)
    .bind::<SqlUuid, _>(claim.lease_token)
    .execute(conn)
    .await?;
    Ok(())
}

/// The records of these (partner, key) pairs that exist, completed or in flight.
pub async fn recorded(
    mut conn: &AsyncPgConnection,
    keys: &[(Uuid, &str)],
) -> Result<Vec<(Uuid, String, ClaimedRecord)>, StorageError> {
    #[derive(QueryableByName)]
    struct KeyedRecord {
        #[diesel(sql_type = SqlUuid)]
        partner_id: Uuid,
        #[diesel(sql_type = Text)]
        idempotency_key: String,
        #[diesel(embed)]
        record: RecordRow,
    }
    let partners: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
    let names: Vec<&str> = keys.iter().map(|k| k.1).collect();
    let rows: Vec<KeyedRecord> = diesel::sql_query(
        "SELECT r.partner_id, r.idempotency_key, r.request_fingerprint, r.response_status, r.response_body \
           FROM idempotency_records r \
           JOIN UNNEST($1::uuid[], $2::text[]) AS k(partner_id, idempotency_key) \
             ON r.partner_id = k.partner_id AND r.idempotency_key = k.idempotency_key",
    )
    .bind::<Array<SqlUuid>, _>(&partners)
    .bind::<Array<Text>, _>(&names)
    .load(&mut conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.partner_id, r.idempotency_key, r.record.into_claimed()))
        .collect())
}

/// Stores completed answers for keys nobody holds (the batch checked with [`recorded`] under
/// the same transaction; a concurrent writer of the same key makes this fail with a unique violation).
pub async fn insert_completed(
    mut conn: &AsyncPgConnection,
    records: &[(Uuid, &str, &[u8], &RecordedAnswer)],
) -> Result<(), StorageError> {
    if records.is_empty() {
        return Ok(());
    }
    let status: Vec<i16> = records
        .iter()
        .map(|r| i16::try_from(r.3.status).unwrap_or(i16::MAX))
        .collect();
    diesel::sql_query(
        "INSERT INTO idempotency_records \
             (partner_id, idempotency_key, request_fingerprint, state, response_status, response_body, completed_at) \
         SELECT partner_id, idempotency_key, fingerprint, 'completed', status, body, now() \
           FROM UNNEST($1::uuid[], $2::text[], $3::bytea[], $4::int2[], $5::bytea[]) \
                AS r(partner_id, idempotency_key, fingerprint, status, body)",
    )
    .bind::<Array<SqlUuid>, _>(records.iter().map(|r| r.0).collect::<Vec<_>>())
    .bind::<Array<Text>, _>(records.iter().map(|r| r.1).collect::<Vec<_>>())
    .bind::<Array<Bytea>, _>(records.iter().map(|r| r.2).collect::<Vec<_>>())
    .bind::<Array<SmallInt>, _>(status)
    .bind::<Array<Bytea>, _>(records.iter().map(|r| r.3.body.as_slice()).collect::<Vec<_>>())
    .execute(&mut conn)
    .await?;
    Ok(())
}
