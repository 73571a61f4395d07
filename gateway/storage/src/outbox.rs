//! `sms_outbox`: text messages written with what asks for them, sent by the dispatcher.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use domain::ids::MemberId;
use uuid::Uuid;

use super::StorageError;
use super::schema::sms_outbox;

/// A message to send, or sent.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = sms_outbox, check_for_backend(diesel::pg::Pg))]
pub struct OutboxMessage {
    pub id: Uuid,
    pub member_id: Uuid,
    pub purpose: String,
    /// The recipient and the text, sealed (`MemberDataKeys::seal_message`).
    pub sealed: Vec<u8>,
    pub created_at: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub sent_at: Option<DateTime<Utc>>,
    pub provider: Option<String>,
    pub provider_message_id: Option<String>,
}

/// Writes a message to send.
pub async fn insert(
    conn: &mut AsyncPgConnection,
    message: &OutboxMessage,
) -> Result<(), StorageError> {
    diesel::insert_into(sms_outbox::table)
        .values(message)
        .execute(conn)
        .await?;
    Ok(())
}

/// Up to `limit` messages due to be sent (unsent, still worth sending), oldest first, locked for
/// this transaction; another dispatcher skips them.
pub async fn lock_due(
    conn: &mut AsyncPgConnection,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<OutboxMessage>, StorageError> {
    Ok(sms_outbox::table
        .filter(sms_outbox::sent_at.is_null())
        .filter(sms_outbox::not_after.gt(now))
        .order(sms_outbox::created_at)
        .limit(limit)
        .for_update()
        .skip_locked()
        .select(OutboxMessage::as_select())
        .load(conn)
        .await?)
}

/// Records that a message was handed to `provider`.
pub async fn mark_sent(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    provider: &str,
    provider_message_id: &str,
    at: DateTime<Utc>,
) -> Result<(), StorageError> {
    diesel::update(sms_outbox::table.find(id))
        .set((
            sms_outbox::sent_at.eq(at),
            sms_outbox::provider.eq(provider),
            sms_outbox::provider_message_id.eq(provider_message_id),
            sms_outbox::attempts.eq(sms_outbox::attempts + 1),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// Records a failed attempt (it is tried again while it is worth sending).
pub async fn mark_failed(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    error: &str,
) -> Result<(), StorageError> {
    diesel::update(sms_outbox::table.find(id))
        .set((
            sms_outbox::attempts.eq(sms_outbox::attempts + 1),
            sms_outbox::last_error.eq(error),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// The latest `limit` messages, newest first (the development provider's page).
pub async fn latest(
    conn: &mut AsyncPgConnection,
    limit: i64,
) -> Result<Vec<OutboxMessage>, StorageError> {
    Ok(sms_outbox::table
        .order(sms_outbox::id.desc())
        .limit(limit)
        .select(OutboxMessage::as_select())
        .load(conn)
        .await?)
}

/// A member's messages, oldest first (their data, downloaded).
pub async fn of_member(
    conn: &mut AsyncPgConnection,
    member_id: MemberId,
) -> Result<Vec<OutboxMessage>, StorageError> {
    Ok(sms_outbox::table
        .filter(sms_outbox::member_id.eq(member_id.0))
        .order(sms_outbox::id)
        .select(OutboxMessage::as_select())
        .load(conn)
        .await?)
}

/// Messages waiting to be sent and still worth sending (a queue depth for the metrics).
pub async fn unsent(conn: &mut AsyncPgConnection, now: DateTime<Utc>) -> Result<i64, StorageError> {
    Ok(sms_outbox::table
        .filter(sms_outbox::sent_at.is_null())
        .filter(sms_outbox::not_after.gt(now))
        .count()
        .get_result(conn)
        .await?)
}
