//! The `idempotency_records` table: claims, leases and recorded outcomes.
//!
//! An outcome is stored as JSON the operations wrote (an operation's result or its refusal);
//! rows completed before outcomes were recorded hold an HTTP answer instead, replayed as it was.

use std::time::Duration;

use std::io::Write as _;

use diesel::deserialize::{self, FromSql, FromSqlRow};
use diesel::expression::AsExpression;
use diesel::pg::{Pg, PgValue};
use diesel::prelude::*;
use diesel::serialize::{self, IsNull, Output, ToSql};
use diesel::sql_types::{Array, Bytea, Double, Json, Nullable, SmallInt, Text, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use domain::ids::PartnerId;
use uuid::Uuid;

use super::StorageError;
use super::prepared::prepared;

/// One attempt's claim on a key.
#[derive(Debug, Clone)]
pub struct Claim {
    /// Whose key it is.
    pub partner_id: PartnerId,
    /// The key.
    pub key: String,
    /// What identifies the request.
    pub fingerprint: [u8; 32],
    /// This attempt's token.
    pub lease_token: Uuid,
}

/// An outcome as the operations serialized it: JSON text, stored as `json`.
///
/// Kept as text rather than a parsed `serde_json::Value`: a batch of hundreds of outcomes is
/// written straight from the serializer and read straight into its type.
#[derive(Debug, Clone, PartialEq, Eq, AsExpression, FromSqlRow)]
#[diesel(sql_type = Json)]
pub struct OutcomeJson(String);

impl OutcomeJson {
    /// Serializes an outcome.
    pub fn of<T: serde::Serialize>(outcome: &T) -> serde_json::Result<Self> {
        serde_json::to_string(outcome).map(Self)
    }

    /// The JSON text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

// `json` travels as its text, in either format.
impl ToSql<Json, Pg> for OutcomeJson {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        out.write_all(self.0.as_bytes())?;
        Ok(IsNull::No)
    }
}

impl FromSql<Json, Pg> for OutcomeJson {
    fn from_sql(value: PgValue<'_>) -> deserialize::Result<Self> {
        Ok(Self(String::from_utf8(value.as_bytes().to_vec())?))
    }
}

/// What a completed record holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    /// The operation's outcome, as the operations serialized it.
    Outcome(OutcomeJson),
    /// An HTTP answer recorded before outcomes were (status and exact body).
    Answer {
        /// The HTTP status.
        status: u16,
        /// The body bytes.
        body: Vec<u8>,
    },
}

/// A record someone else holds or completed.
#[derive(Debug, Clone)]
pub struct ClaimedRecord {
    /// The fingerprint of the request that made it.
    pub fingerprint: Vec<u8>,
    /// `None` while the first attempt is still in flight.
    pub recorded: Option<Recorded>,
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
    #[diesel(sql_type = Nullable<Json>)]
    outcome: Option<OutcomeJson>,
    #[diesel(sql_type = Nullable<SmallInt>)]
    response_status: Option<i16>,
    #[diesel(sql_type = Nullable<Bytea>)]
    response_body: Option<Vec<u8>>,
}

impl TryFrom<RecordRow> for ClaimedRecord {
    type Error = StorageError;

    fn try_from(row: RecordRow) -> Result<Self, StorageError> {
        let recorded = match (row.outcome, row.response_status, row.response_body) {
            (Some(outcome), _, _) => Some(Recorded::Outcome(outcome)),
            (None, Some(status), Some(body)) => Some(Recorded::Answer {
                status: u16::try_from(status).map_err(|_| {
                    StorageError::Corrupt(format!(
                        "idempotency_records.response_status holds {status}"
                    ))
                })?,
                body,
            }),
            _ => None,
        };
        Ok(Self {
            fingerprint: row.request_fingerprint,
            recorded,
        })
    }
}

/// The states of a record.
const IN_FLIGHT: &str = "in_flight";
const COMPLETED: &str = "completed";

const RECORD_COLUMNS: &str = "request_fingerprint, outcome, response_status, response_body";

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
        let claimed = prepared(diesel::sql_query(
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
        .bind::<SqlUuid, _>(claim.partner_id.0)
        .bind::<Text, _>(&claim.key)
        .bind::<Bytea, _>(claim.fingerprint.as_slice())
        .bind::<SqlUuid, _>(claim.lease_token)
        .bind::<Double, _>(lease.as_secs_f64()))
        .get_result::<LeaseRow>(conn)
        .await
        .optional()?;
        if claimed.is_some() {
            return Ok(None);
        }
        let existing = prepared(
            diesel::sql_query(format!(
                "SELECT {RECORD_COLUMNS} FROM idempotency_records \
              WHERE partner_id = $1 AND idempotency_key = $2"
            ))
            .bind::<SqlUuid, _>(claim.partner_id.0)
            .bind::<Text, _>(&claim.key),
        )
        .get_result::<RecordRow>(conn)
        .await
        .optional()?;
        if let Some(row) = existing {
            return Ok(Some(row.try_into()?));
        }
    }
    Err(StorageError::Contention)
}

/// Stores the outcome if this attempt still holds the claim; `false` if its lease was lost.
pub async fn complete(
    conn: &mut AsyncPgConnection,
    claim: &Claim,
    outcome: &OutcomeJson,
) -> Result<bool, StorageError> {
    use super::schema::idempotency_records as records;
    let updated = diesel::update(
        records::table
            .filter(records::partner_id.eq(claim.partner_id.0))
            .filter(records::idempotency_key.eq(&claim.key))
            .filter(records::lease_token.eq(claim.lease_token))
            .filter(records::state.eq(IN_FLIGHT)),
    )
    .set((
        records::state.eq(COMPLETED),
        records::outcome.eq(outcome),
        records::completed_at.eq(diesel::dsl::now),
        records::lease_token.eq(None::<Uuid>),
        records::lease_expires_at.eq(None::<chrono::DateTime<chrono::Utc>>),
    ))
    .execute(conn)
    .await?;
    Ok(updated == 1)
}

/// Gives the key up after a transient failure, so a retry can run it.
pub async fn release(conn: &mut AsyncPgConnection, claim: &Claim) -> Result<(), StorageError> {
    use super::schema::idempotency_records as records;
    diesel::delete(
        records::table
            .filter(records::partner_id.eq(claim.partner_id.0))
            .filter(records::idempotency_key.eq(&claim.key))
            .filter(records::lease_token.eq(claim.lease_token))
            .filter(records::state.eq(IN_FLIGHT)),
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The records of these (partner, key) pairs that exist, completed or in flight.
pub async fn recorded(
    mut conn: &AsyncPgConnection,
    keys: &[(PartnerId, &str)],
) -> Result<Vec<(PartnerId, String, ClaimedRecord)>, StorageError> {
    #[derive(QueryableByName)]
    struct KeyedRecord {
        #[diesel(sql_type = SqlUuid)]
        partner_id: Uuid,
        #[diesel(sql_type = Text)]
        idempotency_key: String,
        #[diesel(embed)]
        record: RecordRow,
    }
    let partners: Vec<Uuid> = keys.iter().map(|k| k.0.0).collect();
    let names: Vec<&str> = keys.iter().map(|k| k.1).collect();
    let rows: Vec<KeyedRecord> = prepared(
        diesel::sql_query(
            "SELECT r.partner_id, r.idempotency_key, r.request_fingerprint, r.outcome, \
                r.response_status, r.response_body \
           FROM idempotency_records r \
           JOIN UNNEST($1::uuid[], $2::text[]) AS k(partner_id, idempotency_key) \
             ON r.partner_id = k.partner_id AND r.idempotency_key = k.idempotency_key",
        )
        .bind::<Array<SqlUuid>, _>(&partners)
        .bind::<Array<Text>, _>(&names),
    )
    .load(&mut conn)
    .await?;
    rows.into_iter()
        .map(|r| {
            Ok((
                PartnerId(r.partner_id),
                r.idempotency_key,
                r.record.try_into()?,
            ))
        })
        .collect()
}

/// One completed record to insert: (partner, key, fingerprint, outcome).
pub type CompletedRecord<'a> = (PartnerId, &'a str, &'a [u8; 32], OutcomeJson);

/// Stores completed outcomes for keys nobody holds (the batch checked with [`recorded`] under
/// the same transaction; a concurrent writer of the same key makes this fail with a unique violation).
pub async fn insert_completed(
    mut conn: &AsyncPgConnection,
    records: &[CompletedRecord<'_>],
) -> Result<(), StorageError> {
    if records.is_empty() {
        return Ok(());
    }
    prepared(
        diesel::sql_query(
            "INSERT INTO idempotency_records \
             (partner_id, idempotency_key, request_fingerprint, state, outcome, completed_at) \
         SELECT partner_id, idempotency_key, fingerprint, 'completed', outcome, now() \
           FROM UNNEST($1::uuid[], $2::text[], $3::bytea[], $4::json[]) \
                AS r(partner_id, idempotency_key, fingerprint, outcome)",
        )
        .bind::<Array<SqlUuid>, _>(records.iter().map(|r| r.0.0).collect::<Vec<_>>())
        .bind::<Array<Text>, _>(records.iter().map(|r| r.1).collect::<Vec<_>>())
        .bind::<Array<Bytea>, _>(records.iter().map(|r| r.2.as_slice()).collect::<Vec<_>>())
        .bind::<Array<Json>, _>(records.iter().map(|r| &r.3).collect::<Vec<_>>()),
    )
    .execute(&mut conn)
    .await?;
    Ok(())
}

/// Tries to take, for the rest of the transaction, the locks that mark these keys as being
/// worked on; returns the keys another transaction holds (a request still in flight there).
///
/// A transaction-scoped advisory lock per (partner, key), in the two-key space (apart from the
/// settlement's per-partner locks): taken without waiting, released at commit or rollback.
pub async fn lock_in_flight(
    mut conn: &AsyncPgConnection,
    keys: &[(PartnerId, &str)],
) -> Result<Vec<(PartnerId, String)>, StorageError> {
    #[derive(QueryableByName)]
    struct Busy {
        #[diesel(sql_type = SqlUuid)]
        partner_id: Uuid,
        #[diesel(sql_type = Text)]
        idempotency_key: String,
    }
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let partners: Vec<Uuid> = keys.iter().map(|k| k.0.0).collect();
    let names: Vec<&str> = keys.iter().map(|k| k.1).collect();
    let busy: Vec<Busy> = prepared(
        diesel::sql_query(
            "SELECT k.partner_id, k.idempotency_key \
           FROM UNNEST($1::uuid[], $2::text[]) AS k(partner_id, idempotency_key) \
          WHERE NOT pg_try_advisory_xact_lock( \
                    hashtext(k.partner_id::text), hashtext(k.idempotency_key))",
        )
        .bind::<Array<SqlUuid>, _>(&partners)
        .bind::<Array<Text>, _>(&names),
    )
    .load(&mut conn)
    .await?;
    Ok(busy
        .into_iter()
        .map(|b| (PartnerId(b.partner_id), b.idempotency_key))
        .collect())
}
