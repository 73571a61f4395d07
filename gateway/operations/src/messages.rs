//! Text messages to members: written to the outbox in the transaction of what asks for them,
//! sent by [`dispatch`] through the configured [`SmsProvider`], retried while still worth
//! sending. The recipient and text are sealed in the outbox; nothing of them is logged.

use chrono::{DateTime, Utc};
use diesel_async::AsyncConnection as _;
use domain::ids::MemberId;
use domain::member_data::TextMessage;
use serde::Deserialize;
use storage::outbox::OutboxMessage;
use storage::{Connection, StorageError};

use crate::Club;

/// Who sends the club's text messages.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum SmsProvider {
    /// Nobody: the messages stay in the outbox, marked sent, and the development page
    /// (`/dev/messages`) shows them, so `make run` needs no SMS account. Never in production.
    #[default]
    Development,
}

impl SmsProvider {
    /// Its name, as the outbox records it.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Development => "development",
        }
    }

    /// Hands `message` to the provider: its id for the message, or why it failed.
    async fn send(&self, id: uuid::Uuid, _message: &TextMessage) -> Result<String, String> {
        match self {
            Self::Development => Ok(format!("dev-{id}")),
        }
    }
}

/// Writes a text message to `member` into the outbox, on the caller's transaction; it is sent
/// only if it can be by `not_after`.
pub(crate) async fn enqueue(
    club: &Club,
    conn: &mut Connection,
    (member_id, purpose): (MemberId, &str),
    message: &TextMessage,
    (now, not_after): (DateTime<Utc>, DateTime<Utc>),
) -> Result<(), StorageError> {
    let id = uuid::Uuid::now_v7();
    let sealed = club
        .member_data_keys
        .seal_message(id, message)
        .map_err(|e| StorageError::Corrupt(format!("a message cannot be sealed: {e}")))?;
    storage::outbox::insert(
        conn,
        &OutboxMessage {
            id,
            member_id: member_id.0,
            purpose: purpose.to_owned(),
            sealed,
            created_at: now,
            not_after,
            attempts: 0,
            last_error: None,
            sent_at: None,
            provider: None,
            provider_message_id: None,
        },
    )
    .await
}

/// The most messages one dispatch sends.
const DISPATCH_BATCH: i64 = 50;

/// Sends the messages due (each once: they are locked while sent, and another instance skips
/// them); returns how many were sent.
pub async fn dispatch(
    club: &Club,
    provider: &SmsProvider,
    now: DateTime<Utc>,
) -> Result<usize, StorageError> {
    let mut conn = club.storage.db().await?;
    let keys = &club.member_data_keys;
    let sent = conn
        .transaction::<_, StorageError, _>(async |conn| {
            let due = storage::outbox::lock_due(conn, now, DISPATCH_BATCH).await?;
            let mut sent = 0;
            for message in due {
                let opened = keys.open_message(message.id, &message.sealed).map_err(|e| {
                    StorageError::Corrupt(format!("outbox message {}: {e}", message.id))
                })?;
                match provider.send(message.id, &opened).await {
                    Ok(provider_id) => {
                        storage::outbox::mark_sent(conn, message.id, provider.name(), &provider_id, now)
                            .await?;
                        metrics::counter!("messages_sent_total", "purpose" => message.purpose.clone())
                            .increment(1);
                        sent += 1;
                    }
                    Err(error) => {
                        tracing::warn!(message.id = %message.id, %error, "a text message could not be sent; it is tried again");
                        storage::outbox::mark_failed(conn, message.id, &error).await?;
                    }
                }
            }
            Ok(sent)
        })
        .await?;
    let waiting = storage::outbox::unsent(&mut conn, now).await?;
    #[expect(clippy::cast_precision_loss, reason = "a gauge")]
    metrics::gauge!("messages_outbox_unsent").set(waiting as f64);
    Ok(sent)
}

/// A message as the development page shows it.
#[derive(Debug, Clone)]
pub struct ShownMessage {
    /// When it was written.
    pub created_at: DateTime<Utc>,
    /// When it was sent, if it was.
    pub sent_at: Option<DateTime<Utc>>,
    /// To whom, and what it says.
    pub message: TextMessage,
}

/// The latest messages, opened, for the development provider's page.
pub async fn latest(club: &Club, limit: i64) -> Result<Vec<ShownMessage>, StorageError> {
    let rows = storage::outbox::latest(&mut *club.storage.db().await?, limit).await?;
    rows.into_iter()
        .map(|row| {
            let message = club
                .member_data_keys
                .open_message(row.id, &row.sealed)
                .map_err(|e| StorageError::Corrupt(format!("outbox message {}: {e}", row.id)))?;
            Ok(ShownMessage {
                created_at: row.created_at,
                sent_at: row.sent_at,
                message,
            })
        })
        .collect()
}
