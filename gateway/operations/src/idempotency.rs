//! Idempotent writes: a retry gets the first answer, and work is never done twice.
//!
//! A request's scope is its partner, its `Idempotency-Key` and a fingerprint of
//! the request (any difference is "another request"). The first attempt *claims*
//! the key with a lease (its own short transaction, so a concurrent retry sees it
//! and is told the first is in flight). The work and the recording of its outcome
//! then commit in one transaction: an outcome is never stored for work that did
//! not commit, and committed work always has its outcome stored. Refusals are
//! stored too (a failed request stays failed for its key); storage failures release
//! the claim so a retry can run. If the holder dies, its lease expires and a retry
//! with the same request takes over; should the old holder wake up, its commit
//! finds the lease gone and rolls back.
//!
//! What is stored is the operation's typed outcome (its result or its refusal, as
//! JSON), not one door's answer, so the partner API, a page or the CLI can each
//! render a replay; rendering is deterministic, so a replayed answer is
//! byte-identical to the first. Earns and redemptions take the same rule through
//! the ledger committer (`crate::ledger::committer`).

use std::time::Duration;

use diesel_async::AsyncConnection as _;
use domain::ids::{PartnerId, StaffId};
use futures_util::future::BoxFuture;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use storage::idempotency::{Claim, ClaimedRecord, OutcomeJson, Recorded};
use storage::{Connection, Storage, StorageError};
use uuid::Uuid;

use crate::error::OperationError;

/// An `Idempotency-Key`: 1 to 255 printable ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

/// Why an `Idempotency-Key` header value was refused.
#[derive(Debug, Clone, Default, PartialEq, Eq, thiserror::Error)]
#[error("the Idempotency-Key must be 1 to 255 printable ASCII characters")]
pub struct InvalidIdempotencyKey;

impl IdempotencyKey {
    /// Checks a key.
    pub fn parse(value: &str) -> Result<Self, InvalidIdempotencyKey> {
        let is_valid = (1..=partners::protocol::IDEMPOTENCY_KEY_MAX_LEN).contains(&value.len())
            && value.bytes().all(|b| (0x20..0x7f).contains(&b));
        if is_valid {
            Ok(Self(value.to_owned()))
        } else {
            Err(InvalidIdempotencyKey)
        }
    }

    /// The key as sent.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What identifies "the same request" for one idempotency key of one partner.
#[derive(Debug, Clone)]
pub struct Scope {
    /// Whose key it is.
    pub partner_id: PartnerId,
    /// The key.
    pub key: IdempotencyKey,
    /// A hash of everything the request says.
    pub fingerprint: [u8; 32],
    /// The member of staff who made it at a page (written on the ledger's transfers); `None`
    /// for a partner's system.
    pub staff_id: Option<StaffId>,
}

impl Scope {
    /// The scope of an HTTP request: the method, path, query and body are fingerprinted, so any
    /// difference makes another request.
    pub fn of_request(
        partner_id: PartnerId,
        key: IdempotencyKey,
        method: &str,
        path: &str,
        query: Option<&str>,
        body: &[u8],
    ) -> Self {
        Self {
            partner_id,
            key,
            fingerprint: fingerprint(method, path, query, body),
            staff_id: None,
        }
    }
}

/// A hash of everything an HTTP request says: its method, path, query and body.
pub fn fingerprint(method: &str, path: &str, query: Option<&str>, body: &[u8]) -> [u8; 32] {
    let mut hash = Sha256::new();
    for part in [
        method.as_bytes(),
        path.as_bytes(),
        query.unwrap_or("").as_bytes(),
    ] {
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part);
    }
    hash.update(Sha256::digest(body));
    hash.finalize().into()
}

/// What an idempotent write answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer<T, E> {
    /// Done: the operation's result.
    Done(T),
    /// Refused: the operation's refusal.
    Refused(E),
    /// An HTTP answer recorded before outcomes were (status and exact body), replayed as it was.
    Recorded {
        /// The HTTP status.
        status: u16,
        /// The body.
        body: Vec<u8>,
    },
}

/// An answer, and whether it replays an earlier request's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answered<T, E> {
    /// The answer.
    pub answer: Answer<T, E>,
    /// Whether it was recorded by an earlier request with the same key.
    pub is_replay: bool,
}

impl<T, E> Answered<T, E> {
    /// A fresh answer.
    pub fn fresh(answer: Answer<T, E>) -> Self {
        Self {
            answer,
            is_replay: false,
        }
    }
}

/// Why a request got no answer under its key (nothing was recorded; it may be retried).
#[derive(Debug, thiserror::Error, strum::EnumIter)]
pub enum IdempotencyError {
    /// The key was used with another request.
    #[error("this Idempotency-Key was used with another request")]
    PayloadMismatch,
    /// The first request with this key has no answer yet.
    #[error("a request with this Idempotency-Key is still being processed")]
    InFlight,
    /// Storage failed.
    #[strum(disabled)]
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl IdempotencyError {
    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::PayloadMismatch => "idempotency_key_reused",
            Self::InFlight => "idempotency_request_in_flight",
            Self::Storage(err) => crate::error::storage_code(err),
        }
    }
}

/// An outcome as stored under its key.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Stored<T, E> {
    Done(T),
    Refused(E),
}

/// The stored form of an outcome.
pub(crate) fn record<T: Serialize, E: Serialize>(
    outcome: Result<&T, &E>,
) -> Result<OutcomeJson, StorageError> {
    let stored = match outcome {
        Ok(done) => OutcomeJson::of(&Stored::<&T, &E>::Done(done)),
        Err(refused) => OutcomeJson::of(&Stored::<&T, &E>::Refused(refused)),
    };
    stored.map_err(|e| StorageError::Corrupt(format!("an outcome cannot be recorded: {e}")))
}

/// The answer a request gets from an existing record of its key.
pub(crate) fn replay<T: DeserializeOwned, E: DeserializeOwned>(
    record: &ClaimedRecord,
    fingerprint: &[u8; 32],
) -> Result<Answered<T, E>, IdempotencyError> {
    if record.fingerprint != fingerprint {
        return Err(IdempotencyError::PayloadMismatch);
    }
    let answer = match &record.recorded {
        None => return Err(IdempotencyError::InFlight),
        Some(Recorded::Outcome(outcome)) => {
            match serde_json::from_str::<Stored<T, E>>(outcome.as_str()) {
                Ok(Stored::Done(done)) => Answer::Done(done),
                Ok(Stored::Refused(refused)) => Answer::Refused(refused),
                Err(e) => {
                    return Err(StorageError::Corrupt(format!(
                        "a recorded outcome cannot be read: {e}"
                    ))
                    .into());
                }
            }
        }
        Some(Recorded::Answer { status, body }) => Answer::Recorded {
            status: *status,
            body: body.clone(),
        },
    };
    metrics::counter!("idempotency_replays_total").increment(1);
    Ok(Answered {
        answer,
        is_replay: true,
    })
}

/// Settings of the idempotency claim.
#[derive(Debug, Clone, Copy)]
pub struct IdempotencySettings {
    /// How long a claim holds before another attempt may take it over.
    pub lease: Duration,
}

enum TxError<E> {
    Work(OperationError<E>),
    LeaseLost,
}

impl<E> From<diesel::result::Error> for TxError<E> {
    fn from(err: diesel::result::Error) -> Self {
        Self::Work(err.into())
    }
}

/// Runs `work` once for the request's key, in one transaction with the recording of its
/// outcome, and answers; a retry gets the recorded answer.
#[tracing::instrument(skip_all, fields(partner.id = %scope.partner_id, idempotency.key = %scope.key.as_str()))]
pub async fn execute<T, E, W>(
    storage: &Storage,
    settings: IdempotencySettings,
    scope: &Scope,
    work: W,
) -> Result<Answered<T, E>, IdempotencyError>
where
    T: Serialize + DeserializeOwned + Send + 'static,
    E: Serialize + DeserializeOwned + Send + 'static,
    W: for<'c> FnOnce(&'c mut Connection) -> BoxFuture<'c, Result<T, OperationError<E>>>
        + Send
        + 'static,
{
    let mut conn = storage.db().await?;
    let claim = Claim {
        partner_id: scope.partner_id,
        key: scope.key.as_str().to_owned(),
        fingerprint: scope.fingerprint,
        lease_token: Uuid::new_v4(),
    };
    if let Some(existing) = storage::idempotency::claim(&mut conn, &claim, settings.lease).await? {
        tracing::debug!("replaying the first answer");
        return replay(&existing, &scope.fingerprint);
    }

    let in_tx = claim.clone();
    let outcome = conn
        .transaction::<T, TxError<E>, _>(async move |conn| {
            let done = work(conn).await.map_err(TxError::Work)?;
            let recorded = record::<T, E>(Ok(&done)).map_err(|e| TxError::Work(e.into()))?;
            if storage::idempotency::complete(conn, &in_tx, &recorded)
                .await
                .map_err(|e| TxError::Work(e.into()))?
            {
                Ok(done)
            } else {
                Err(TxError::LeaseLost)
            }
        })
        .await;

    match outcome {
        Ok(done) => Ok(Answered::fresh(Answer::Done(done))),
        Err(TxError::Work(OperationError::Refused(refused))) => {
            let recorded = record::<T, E>(Err(&refused))?;
            if storage::idempotency::complete(&mut conn, &claim, &recorded).await? {
                Ok(Answered::fresh(Answer::Refused(refused)))
            } else {
                Err(IdempotencyError::InFlight)
            }
        }
        Err(TxError::Work(OperationError::Storage(err))) => {
            release(storage, conn, &claim).await;
            Err(err.into())
        }
        Err(TxError::LeaseLost) => Err(IdempotencyError::InFlight),
    }
}

/// Frees the key of a request that failed, so its retry runs at once: on the request's
/// connection, or, when that is the connection that failed (PostgreSQL dropped it), on a fresh
/// one. If that fails too, the lease's expiry frees the key instead.
async fn release(storage: &Storage, mut conn: storage::DbConnection, claim: &Claim) {
    if storage::idempotency::release(&mut conn, claim)
        .await
        .is_ok()
    {
        return;
    }
    drop(conn);
    let released = match storage.db().await {
        Ok(mut fresh) => storage::idempotency::release(&mut fresh, claim).await,
        Err(err) => Err(err),
    };
    if let Err(err) = released {
        tracing::warn!(error = %err, "could not release an idempotency claim; it frees itself when its lease expires");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_printable_and_bounded() {
        assert!(IdempotencyKey::parse("order-42 retry").is_ok());
        assert!(IdempotencyKey::parse(&"k".repeat(255)).is_ok());
        assert!(IdempotencyKey::parse(&"k".repeat(256)).is_err());
        assert!(IdempotencyKey::parse("").is_err());
        assert!(IdempotencyKey::parse("tab\there").is_err());
        assert!(IdempotencyKey::parse("ключ").is_err());
    }

    #[test]
    fn fingerprint_separates_every_part() {
        let partner = PartnerId(Uuid::nil());
        let key = IdempotencyKey::parse("k").unwrap();
        let fp = |m: &str, p: &str, q: Option<&str>, b: &[u8]| {
            Scope::of_request(partner, key.clone(), m, p, q, b).fingerprint
        };
        let base = fp("POST", "/v1/a", None, b"{}");
        assert_eq!(base, fp("POST", "/v1/a", None, b"{}"));
        assert_ne!(base, fp("POST", "/v1/a", None, b"{ }"));
        assert_ne!(base, fp("POST", "/v1/b", None, b"{}"));
        assert_ne!(base, fp("POST", "/v1/a", Some("x=1"), b"{}"));
        // Moving bytes between parts must not collide.
        assert_ne!(
            fp("POST", "/v1/ab", None, b""),
            fp("POST", "/v1/a", Some("b"), b"")
        );
    }

    #[test]
    fn outcomes_replay_as_they_were_recorded() {
        let fingerprint = [7; 32];
        let stored = |outcome: Result<&u32, &String>| ClaimedRecord {
            fingerprint: fingerprint.to_vec(),
            recorded: Some(Recorded::Outcome(record(outcome).unwrap())),
        };
        let done = replay::<u32, String>(&stored(Ok(&5)), &fingerprint).unwrap();
        assert_eq!(done.answer, Answer::Done(5));
        assert!(done.is_replay);
        let refused = replay::<u32, String>(&stored(Err(&"no".into())), &fingerprint).unwrap();
        assert_eq!(refused.answer, Answer::Refused("no".into()));
        assert!(matches!(
            replay::<u32, String>(&stored(Ok(&5)), &[8; 32]),
            Err(IdempotencyError::PayloadMismatch)
        ));
        let in_flight = ClaimedRecord {
            fingerprint: fingerprint.to_vec(),
            recorded: None,
        };
        assert!(matches!(
            replay::<u32, String>(&in_flight, &fingerprint),
            Err(IdempotencyError::InFlight)
        ));
    }
}
