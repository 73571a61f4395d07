//! Idempotent partner writes: a retry gets the first answer, byte for byte.
//!
//! A request first *claims* its `(partner, Idempotency-Key)` with a lease (its
//! own short transaction, so a concurrent retry sees it and gets 409). The work
//! and the recording of its answer then commit in one transaction: an answer is
//! never stored for work that did not commit, and committed work always has its
//! answer stored. Business refusals are stored too (a failed request stays
//! failed for its key); transient failures release the claim so a retry can run.
//! If the holder dies, its lease expires and a retry with the same payload takes over;
//! should the old holder wake up, its commit finds the lease gone and rolls back.

use std::time::Duration;

use diesel_async::{AsyncConnection as _, AsyncPgConnection};
use futures_util::future::BoxFuture;
use sha2::{Digest as _, Sha256};
use uuid::Uuid;

use super::partners::PartnerId;
use crate::storage::idempotency::{Claim, ClaimedRecord};
use crate::storage::{self, Storage, StorageError};

/// A partner's `Idempotency-Key`: 1 to 255 printable ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

/// Why an `Idempotency-Key` header value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the Idempotency-Key must be 1 to 255 printable ASCII characters")]
pub struct InvalidIdempotencyKey;

impl IdempotencyKey {
    /// Checks a header value.
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

/// What identifies "the same request" for one idempotency key.
#[derive(Debug, Clone)]
pub struct IdempotentRequest {
    pub partner_id: PartnerId,
    pub key: IdempotencyKey,
    pub fingerprint: [u8; 32],
}

impl IdempotentRequest {
    /// Fingerprints the method, path, query and body: any difference is "another payload".
    pub fn new(
        partner_id: PartnerId,
        key: IdempotencyKey,
        method: &str,
        path: &str,
        query: Option<&str>,
        body: &[u8],
    ) -> Self {
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
        Self {
            partner_id,
            key,
            fingerprint: hash.finalize().into(),
        }
    }
}

/// The answer stored for a key: status and exact body bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedAnswer {
    pub status: u16,
    pub body: Vec<u8>,
}

/// The answer to give, and whether it is a replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Fresh(RecordedAnswer),
    Replayed(RecordedAnswer),
}

/// Why a request could not run under its idempotency key.
#[derive(Debug, thiserror::Error)]
pub enum IdempotencyError {
    #[error("this Idempotency-Key was used with another request")]
    PayloadMismatch,
    #[error("a request with this Idempotency-Key is still being processed")]
    InFlight,
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// An error that is the request's final answer (stored), or a transient one (not stored).
pub trait FinalOutcome {
    /// `true` for business refusals, `false` for failures a retry might not meet.
    fn is_final(&self) -> bool;
}

/// Why [`execute`] produced no answer.
#[derive(Debug, thiserror::Error)]
pub enum ExecuteError<E> {
    #[error(transparent)]
    Idempotency(#[from] IdempotencyError),
    /// A transient failure of the work itself; the claim was released.
    #[error(transparent)]
    Work(E),
}

enum TxError<E> {
    Work(E),
    Storage(StorageError),
    LeaseLost,
}

impl<E> From<diesel::result::Error> for TxError<E> {
    fn from(err: diesel::result::Error) -> Self {
        Self::Storage(err.into())
    }
}

/// Settings of the idempotency claim.
#[derive(Debug, Clone, Copy)]
pub struct IdempotencySettings {
    /// How long a claim holds before another attempt may take it over.
    pub lease: Duration,
}

/// The answer a request gets from an existing record of its key.
pub(crate) fn replay(
    record: ClaimedRecord,
    request: &IdempotentRequest,
) -> Result<Answer, IdempotencyError> {
    if record.fingerprint != request.fingerprint {
        return Err(IdempotencyError::PayloadMismatch);
    }
    match record.answer {
        Some(answer) => Ok(Answer::Replayed(answer)),
        None => Err(IdempotencyError::InFlight),
    }
}

/// Runs `work` once for the request's key and records its answer with it.
///
/// `render_ok` turns a success into the stored answer inside the transaction;
/// `render_err` does the same for a final refusal after the rollback.
#[tracing::instrument(skip_all, fields(partner.id = %request.partner_id, idempotency.key = %request.key.as_str()))]
pub async fn execute<T, E, W, R, RE>(
    storage: &Storage,
    settings: IdempotencySettings,
    request: &IdempotentRequest,
    work: W,
    render_ok: R,
    render_err: RE,
) -> Result<Answer, ExecuteError<E>>
where
    T: Send + 'static,
    E: FinalOutcome + Send + 'static,
    W: for<'c> FnOnce(&'c mut AsyncPgConnection) -> BoxFuture<'c, Result<T, E>> + Send + 'static,
    R: FnOnce(&T) -> RecordedAnswer + Send + 'static,
    RE: FnOnce(E) -> RecordedAnswer,
{
    let mut conn = storage.db().await.map_err(IdempotencyError::from)?;
    let lease_token = Uuid::new_v4();
    let claim = Claim {
        partner_id: request.partner_id.0,
        key: request.key.as_str().to_owned(),
        fingerprint: request.fingerprint.to_vec(),
        lease_token,
    };
    if let Some(existing) = storage::idempotency::claim(&mut conn, &claim, settings.lease)
        .await
        .map_err(IdempotencyError::from)?
    {
        let answer = replay(existing, request)?;
        metrics::counter!("idempotency_replays_total").increment(1);
        tracing::debug!("replaying the first answer");
        return Ok(answer);
    }

    let in_tx = claim.clone();
    let outcome = conn
        .transaction::<RecordedAnswer, TxError<E>, _>(async move |conn| {
            let value = work(conn).await.map_err(TxError::Work)?;
            let answer = render_ok(&value);
            let is_completed = storage::idempotency::complete(conn, &in_tx, &answer)
                .await
                .map_err(TxError::Storage)?;
            if is_completed {
                Ok(answer)
            } else {
                Err(TxError::LeaseLost)
            }
        })
        .await;

    match outcome {
        Ok(answer) => Ok(Answer::Fresh(answer)),
        Err(TxError::Work(err)) if err.is_final() => {
            let answer = render_err(err);
            let is_completed = storage::idempotency::complete(&mut conn, &claim, &answer)
                .await
                .map_err(IdempotencyError::from)?;
            if is_completed {
                Ok(Answer::Fresh(answer))
            } else {
                Err(IdempotencyError::InFlight.into())
            }
        }
        Err(TxError::Work(err)) => {
            release(&mut conn, &claim).await;
            Err(ExecuteError::Work(err))
        }
        Err(TxError::Storage(err)) => {
            release(&mut conn, &claim).await;
            Err(IdempotencyError::Storage(err).into())
        }
        Err(TxError::LeaseLost) => Err(IdempotencyError::InFlight.into()),
    }
}

async fn release(conn: &mut AsyncPgConnection, claim: &Claim) {
    // If this fails too, the lease expiry frees the key instead.
    if let Err(err) = storage::idempotency::release(conn, claim).await {
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
            IdempotentRequest::new(partner, key.clone(), m, p, q, b).fingerprint
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
}
